//! `rabat new`: a policy crate to start from — a small policy with unit tests, its
//! config, a sample bill and card, a README — registered where cargo needs it.
//!
//! Inside a workspace that provides `rabat-rules` (this repository, or a copy of it) the
//! crate becomes a member (`[workspace] members` edited in place with `toml_edit`, so
//! comments and layout stay) and takes its dependencies from the workspace. Inside
//! another workspace it becomes a member with its own dependencies. Outside any, it is a
//! workspace of its own with a path dependency on the SDK and the pinned toolchain.

use std::path::{Component, Path, PathBuf};

use anyhow::{Context, bail};
use toml_edit::{DocumentMut, Item, Value};

const LIB_RS: &str = include_str!("lib.rs.tmpl");
const CONFIG_JSON: &str = include_str!("config.json");
const CARGO_WORKSPACE: &str = include_str!("Cargo.workspace.toml.tmpl");
const CARGO_STANDALONE: &str = include_str!("Cargo.standalone.toml.tmpl");
const README: &str = include_str!("README.md.tmpl");
const GITIGNORE: &str = include_str!("gitignore");
const TOOLCHAIN: &str = include_str!("../../../rust-toolchain.toml");
const SAMPLE_BILL: &str = include_str!("../../../examples/data/bills/papaya-discount-request.json");
const SAMPLE_CARD: &str = include_str!("../../../examples/data/cards/gold.json");

/// Where the sample bill and card go in a new crate (`rabat build` looks for them there).
pub const SAMPLE_BILL_PATH: &str = "samples/bill.json";
pub const SAMPLE_CARD_PATH: &str = "samples/card.json";

/// What to create.
#[derive(Debug, Clone)]
pub struct NewOptions {
    /// The new crate's directory (must not exist).
    pub path: PathBuf,
    /// The package name; default: the directory's name.
    pub name: Option<String>,
    /// The `rabat-rules` crate to depend on outside a rabat workspace; default: this
    /// build's own `rules-guest/` when it is there.
    pub sdk: Option<PathBuf>,
}

/// How the new crate was registered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Registration {
    /// A member of a workspace that provides `rabat-rules` (its manifest).
    RabatWorkspace(PathBuf),
    /// A member of another workspace (its manifest).
    OtherWorkspace(PathBuf),
    /// A workspace of its own.
    Standalone,
}

/// A created crate.
#[derive(Debug, Clone)]
pub struct Created {
    pub name: String,
    pub dir: PathBuf,
    pub registration: Registration,
    pub files: Vec<&'static str>,
}

/// Checks a package name as cargo would, saying what is wrong.
pub fn validate_name(name: &str) -> anyhow::Result<()> {
    let fail = |why: &str| Err(anyhow::anyhow!("invalid policy name \"{name}\": {why}"));
    let Some(first) = name.chars().next() else {
        return fail("it is empty");
    };
    if name.len() > 64 {
        return fail("a crate name has at most 64 characters");
    }
    if let Some(bad) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || *c == '-' || *c == '_'))
    {
        return fail(&format!(
            "'{bad}' is not allowed (a crate name is ASCII letters, digits, '-' and '_')"
        ));
    }
    if !first.is_ascii_alphabetic() {
        return fail("a crate name starts with a letter");
    }
    let ident = name.replace('-', "_");
    if KEYWORDS.contains(&ident.as_str()) {
        return fail("it is a Rust keyword");
    }
    if RESERVED.contains(&ident.as_str()) {
        return fail("it is the name of a crate every policy uses (Rust's or the SDK's)");
    }
    Ok(())
}

const KEYWORDS: &[&str] = &[
    "as", "async", "await", "break", "const", "continue", "crate", "dyn", "else", "enum", "extern",
    "false", "fn", "for", "gen", "if", "impl", "in", "let", "loop", "match", "mod", "move", "mut",
    "pub", "ref", "return", "self", "static", "struct", "super", "trait", "true", "type", "unsafe",
    "use", "where", "while", "abstract", "become", "box", "do", "final", "macro", "override",
    "priv", "try", "typeof", "unsized", "virtual", "yield",
];

const RESERVED: &[&str] = &[
    "std",
    "core",
    "alloc",
    "proc_macro",
    "test",
    "rabat_rules",
    "serde",
    "rust_decimal",
    "wit_bindgen",
];

/// Names the policy's source already uses (the SDK's prelude, its own `Config`).
const TAKEN_TYPE_NAMES: &[&str] = &[
    "Accrual",
    "Amount",
    "Card",
    "Config",
    "Context",
    "Decimal",
    "Discount",
    "DiscountKind",
    "Evaluation",
    "Level",
    "Order",
    "OrderItem",
    "Percentage",
    "Policy",
    "RoundingStrategy",
    "Table",
    "TimeOfDay",
    "TimeZone",
    "Timestamp",
    "Weekday",
];

/// `my-policy` → `MyPolicy` (the policy's type).
fn type_name(name: &str) -> String {
    let mut out: String = name
        .split(['-', '_'])
        .filter(|part| !part.is_empty())
        .map(|part| {
            let mut chars = part.chars();
            chars.next().map_or_else(String::new, |c| {
                c.to_ascii_uppercase().to_string() + chars.as_str()
            })
        })
        .collect();
    if TAKEN_TYPE_NAMES.contains(&out.as_str()) {
        out.push_str("Policy");
    }
    out
}

/// `path` made absolute against the current directory, `.` and `..` resolved without
/// touching the file system (the path does not exist yet).
fn absolute(path: &Path) -> anyhow::Result<PathBuf> {
    let joined = std::env::current_dir()
        .context("could not read the current directory")?
        .join(path);
    let mut out = PathBuf::new();
    for part in joined.components() {
        match part {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            other => out.push(other),
        }
    }
    Ok(out)
}

/// The nearest `Cargo.toml` above `dir` with a `[workspace]` table, parsed.
fn enclosing_workspace(dir: &Path) -> anyhow::Result<Option<(PathBuf, DocumentMut)>> {
    for ancestor in dir.ancestors() {
        let manifest = ancestor.join("Cargo.toml");
        if !manifest.is_file() {
            continue;
        }
        let text = std::fs::read_to_string(&manifest)
            .with_context(|| format!("could not read {}", manifest.display()))?;
        let doc: DocumentMut = text
            .parse()
            .with_context(|| format!("{} is not valid TOML", manifest.display()))?;
        if doc.get("workspace").is_some_and(Item::is_table_like) {
            return Ok(Some((manifest, doc)));
        }
    }
    Ok(None)
}

/// The workspace's `members` and `exclude` entries (strings only).
fn workspace_list(doc: &DocumentMut, key: &str) -> Vec<String> {
    doc.get("workspace")
        .and_then(|w| w.get(key))
        .and_then(Item::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// Whether the workspace's `[workspace.dependencies]` names `dep`.
fn workspace_has_dependency(doc: &DocumentMut, dep: &str) -> bool {
    doc.get("workspace")
        .and_then(|w| w.get("dependencies"))
        .and_then(|d| d.get(dep))
        .is_some()
}

/// `members` with `member` appended, laid out like the entries before it (one per line
/// when they are), everything else in the file untouched.
pub fn add_member(manifest_text: &str, member: &str) -> anyhow::Result<String> {
    let mut doc: DocumentMut = manifest_text
        .parse()
        .context("the workspace's Cargo.toml is not valid TOML")?;
    let workspace = doc
        .get_mut("workspace")
        .and_then(Item::as_table_like_mut)
        .context("the Cargo.toml has no [workspace] table")?;
    if workspace.get("members").is_none() {
        workspace.insert("members", toml_edit::value(toml_edit::Array::new()));
    }
    let members = workspace
        .get_mut("members")
        .and_then(Item::as_array_mut)
        .context("[workspace] members is not an array")?;
    if members.iter().any(|m| m.as_str() == Some(member)) {
        return Ok(doc.to_string());
    }
    // One per line when the entries are (the last one's layout: a new line and four
    // spaces before it), else cargo's usual `["a", "b"]`.
    let one_per_line = members
        .iter()
        .last()
        .and_then(|v| v.decor().prefix())
        .and_then(|p| p.as_str())
        .filter(|p| p.contains('\n'))
        .map(str::to_owned);
    match one_per_line {
        Some(prefix) => {
            let mut value = Value::from(member);
            value.decor_mut().set_prefix(prefix);
            members.push_formatted(value);
        }
        None => members.push(member),
    }
    Ok(doc.to_string())
}

/// The manifest's `package.name`, if it has one.
fn package_name(manifest: &Path) -> Option<String> {
    let text = std::fs::read_to_string(manifest).ok()?;
    let doc: DocumentMut = text.parse().ok()?;
    doc.get("package")?.get("name")?.as_str().map(str::to_owned)
}

/// `path` relative to `base` with `/` separators, if it is under it.
fn relative_slash(path: &Path, base: &Path) -> Option<String> {
    let rel = path.strip_prefix(base).ok()?;
    let parts: Option<Vec<&str>> = rel.components().map(|c| c.as_os_str().to_str()).collect();
    Some(parts?.join("/"))
}

/// The SDK this binary was built with, when its sources are still there.
fn default_sdk() -> Option<PathBuf> {
    let dir = crate::policy::build::workspace_dir().join("rules-guest");
    dir.join("Cargo.toml")
        .is_file()
        .then(|| dir.canonicalize().ok())
        .flatten()
}

pub fn create(options: &NewOptions) -> anyhow::Result<Created> {
    let dir = absolute(&options.path)?;
    let name = match &options.name {
        Some(name) => name.clone(),
        None => dir
            .file_name()
            .and_then(|n| n.to_str())
            .with_context(|| {
                format!(
                    "{} does not end in a name to give the policy: pass --name",
                    options.path.display()
                )
            })?
            .to_owned(),
    };
    validate_name(&name)?;
    if dir.exists() || options.path.exists() {
        bail!(
            "{} already exists: `rabat new` only creates a new directory (choose another name, or remove it first)",
            options.path.display()
        );
    }
    let parent = dir
        .parent()
        .context("the policy needs a directory of its own, not the root")?;

    // Where it goes, checked before anything is written.
    let workspace = enclosing_workspace(parent)?;
    let mut registration = Registration::Standalone;
    let mut member = None;
    if let Some((manifest, doc)) = &workspace {
        let root = manifest.parent().unwrap_or(Path::new("/"));
        let rel = relative_slash(&dir, root)
            .with_context(|| format!("{} is not under {}", dir.display(), root.display()))?;
        let excluded = workspace_list(doc, "exclude")
            .iter()
            .any(|e| rel == *e || rel.starts_with(&format!("{}/", e.trim_end_matches('/'))));
        if !excluded {
            for m in workspace_list(doc, "members") {
                if m.contains('*') {
                    continue;
                }
                if package_name(&root.join(&m).join("Cargo.toml")).as_deref() == Some(&name) {
                    bail!(
                        "the workspace {} already has a package named \"{name}\" (in {m}): choose another name",
                        manifest.display()
                    );
                }
            }
            registration = if workspace_has_dependency(doc, "rabat-rules")
                && workspace_has_dependency(doc, "serde")
            {
                Registration::RabatWorkspace(manifest.clone())
            } else {
                Registration::OtherWorkspace(manifest.clone())
            };
            member = Some(rel);
        }
    }

    let cargo_toml = match &registration {
        Registration::RabatWorkspace(_) => CARGO_WORKSPACE.replace("{{name}}", &name),
        other => {
            let sdk = match options.sdk.clone().or_else(default_sdk) {
                Some(path) => {
                    let path = path
                        .to_str()
                        .with_context(|| format!("the SDK path {} is not UTF-8", path.display()))?;
                    format!("{{ path = {} }}", Value::from(path))
                }
                None => bail!(
                    "where is the rabat-rules SDK? Pass --sdk <path to rules-guest> (this rabat was built from a checkout that is gone)"
                ),
            };
            let own_workspace = if *other == Registration::Standalone {
                "\n# A workspace of its own: not a member of any enclosing one.\n[workspace]\n"
            } else {
                ""
            };
            CARGO_STANDALONE
                .replace("{{name}}", &name)
                .replace("{{sdk}}", &sdk)
                .replace("{{workspace}}", own_workspace)
        }
    };
    let type_name = type_name(&name);
    let mut files: Vec<(&'static str, String)> = vec![
        ("Cargo.toml", cargo_toml),
        (
            "src/lib.rs",
            LIB_RS
                .replace("{{name}}", &name)
                .replace("{{Type}}", &type_name),
        ),
        ("config.json", CONFIG_JSON.to_owned()),
        (SAMPLE_BILL_PATH, SAMPLE_BILL.to_owned()),
        (SAMPLE_CARD_PATH, SAMPLE_CARD.to_owned()),
        ("README.md", README.replace("{{name}}", &name)),
    ];
    if registration == Registration::Standalone {
        files.push((".gitignore", GITIGNORE.to_owned()));
        files.push(("rust-toolchain.toml", TOOLCHAIN.to_owned()));
    }

    let written = write_files(&dir, &files).and_then(|()| match (&workspace, &member) {
        (Some((manifest, _)), Some(member)) => {
            let text = std::fs::read_to_string(manifest)
                .with_context(|| format!("could not read {}", manifest.display()))?;
            let updated = add_member(&text, member)
                .with_context(|| format!("could not add {member} to {}", manifest.display()))?;
            std::fs::write(manifest, updated)
                .with_context(|| format!("could not write {}", manifest.display()))
        }
        _ => Ok(()),
    });
    if let Err(error) = written {
        // Leave nothing half-made behind.
        let _ = std::fs::remove_dir_all(&dir);
        return Err(error);
    }
    Ok(Created {
        name,
        dir,
        registration,
        files: files.iter().map(|(path, _)| *path).collect(),
    })
}

fn write_files(dir: &Path, files: &[(&str, String)]) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("could not create {}", dir.display()))?;
    for (path, text) in files {
        let path = dir.join(path);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("could not create {}", parent.display()))?;
        }
        std::fs::write(&path, text)
            .with_context(|| format!("could not write {}", path.display()))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_checked_like_crate_names() {
        for good in ["my-policy", "happy_hour2", "a"] {
            assert!(validate_name(good).is_ok(), "{good}");
        }
        for (bad, why) in [
            ("", "empty"),
            ("1policy", "starts with a letter"),
            ("-policy", "starts with a letter"),
            ("my policy", "' ' is not allowed"),
            ("my.policy", "'.' is not allowed"),
            ("café", "'é' is not allowed"),
            ("fn", "keyword"),
            ("self", "keyword"),
            ("test", "crate every policy uses"),
            ("rabat-rules", "crate every policy uses"),
            ("serde", "crate every policy uses"),
        ] {
            let err = validate_name(bad).unwrap_err().to_string();
            assert!(err.contains(&format!("\"{bad}\"")), "{err}");
            assert!(err.contains(why), "{bad}: {err}");
        }
        assert!(validate_name(&"a".repeat(65)).is_err());
    }

    #[test]
    fn type_names_avoid_the_preludes() {
        assert_eq!(type_name("my-policy"), "MyPolicy");
        assert_eq!(type_name("happy_hour"), "HappyHour");
        assert_eq!(type_name("order"), "OrderPolicy");
        assert_eq!(type_name("config"), "ConfigPolicy");
        assert_eq!(type_name("policy"), "PolicyPolicy");
    }

    #[test]
    fn a_member_is_added_in_place_keeping_comments_and_layout() {
        let root = include_str!("../../../Cargo.toml");
        let updated = add_member(root, "my-policy").unwrap();
        // Only the new line differs.
        let added: Vec<&str> = updated
            .lines()
            .filter(|l| !root.lines().any(|r| r == *l))
            .collect();
        assert_eq!(added, ["    \"my-policy\","]);
        assert_eq!(updated.lines().count(), root.lines().count() + 1);
        assert!(updated.contains("# Listed one by one"));
        let doc: DocumentMut = updated.parse().unwrap();
        assert!(workspace_list(&doc, "members").contains(&"my-policy".to_owned()));
        // Twice is once.
        assert_eq!(add_member(&updated, "my-policy").unwrap(), updated);
        // One line, and no members yet.
        let inline = add_member("[workspace]\nmembers = [\"a\"]\n", "b").unwrap();
        assert_eq!(inline, "[workspace]\nmembers = [\"a\", \"b\"]\n");
        let empty = add_member("[workspace]\n", "b").unwrap();
        assert_eq!(empty, "[workspace]\nmembers = [\"b\"]\n");
        assert!(add_member("[package]\nname = \"x\"\n", "b").is_err());
    }
}
