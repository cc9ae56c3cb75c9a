//! The direction of dependency, checked: domain ← sandbox, store ← services ← HTTP and
//! background tasks. Crate boundaries hold most of it by construction; this test holds
//! the crates' dependency lists (over `cargo metadata`, transitively) and the rules inside
//! the application crate that the compiler cannot see (over the source). See
//! ARCHITECTURE.md for the rules and why.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Package name → the names of every package it depends on for building its library,
/// directly or not (normal dependencies only: tests and benchmarks may use more).
fn normal_dependencies() -> BTreeMap<String, BTreeSet<String>> {
    // This machine's platform only: then every package is already downloaded (it was
    // built), and `--offline` needs no network.
    let rustc = Command::new("rustc").arg("-vV").output().unwrap();
    let rustc = String::from_utf8(rustc.stdout).unwrap();
    let host = rustc
        .lines()
        .find_map(|line| line.strip_prefix("host: "))
        .expect("rustc -vV names the host");
    let output = Command::new(env!("CARGO"))
        .args(["metadata", "--format-version", "1", "--offline"])
        .args(["--filter-platform", host, "--manifest-path"])
        .arg(workspace().join("Cargo.toml"))
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "cargo metadata failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let meta: Value = serde_json::from_slice(&output.stdout).unwrap();
    let name_of: BTreeMap<&str, &str> = meta["packages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["id"].as_str().unwrap(), p["name"].as_str().unwrap()))
        .collect();
    let mut direct: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for node in meta["resolve"]["nodes"].as_array().unwrap() {
        let deps = node["deps"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|dep| {
                dep["dep_kinds"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|kind| kind["kind"].is_null())
            })
            .map(|dep| dep["pkg"].as_str().unwrap())
            .collect();
        direct.insert(node["id"].as_str().unwrap(), deps);
    }
    let mut all = BTreeMap::new();
    for (id, name) in &name_of {
        let mut seen = BTreeSet::new();
        let mut todo = direct.get(id).cloned().unwrap_or_default();
        while let Some(next) = todo.pop() {
            if seen.insert(next) {
                todo.extend(direct.get(next).cloned().unwrap_or_default());
            }
        }
        let names = seen.iter().map(|id| name_of[id].to_owned()).collect();
        all.insert((*name).to_owned(), names);
    }
    all
}

fn assert_none_of(deps: &BTreeMap<String, BTreeSet<String>>, package: &str, banned: &[&str]) {
    let found: Vec<&&str> = banned
        .iter()
        .filter(|name| deps[package].contains(**name))
        .collect();
    assert!(
        found.is_empty(),
        "{package} must not depend on {found:?} (directly or through another crate)"
    );
}

#[test]
fn crates_depend_one_way() {
    let deps = normal_dependencies();
    // The domain is pure: no runtime, database, HTTP, sandbox, and no other rabat crate.
    assert_none_of(
        &deps,
        "rabat-domain",
        &[
            "tokio",
            "sqlx",
            "axum",
            "hyper",
            "tower",
            "wasmtime",
            "reqwest",
            "rabat-sandbox",
            "rabat-store",
            "rabat",
        ],
    );
    // The sandbox and the store know the domain and nothing of each other or above.
    assert_none_of(
        &deps,
        "rabat-sandbox",
        &["sqlx", "axum", "hyper", "reqwest", "rabat-store", "rabat"],
    );
    assert_none_of(
        &deps,
        "rabat-store",
        &[
            "wasmtime",
            "axum",
            "hyper",
            "reqwest",
            "rabat-sandbox",
            "rabat",
        ],
    );
    assert!(deps["rabat-sandbox"].contains("rabat-domain"));
    assert!(deps["rabat-store"].contains("rabat-domain"));
}

/// Every `.rs` file under `dir`, with its path relative to `dir` (`/`-separated).
fn sources(dir: &Path) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(next) = todo.pop() {
        for entry in std::fs::read_dir(&next).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                todo.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let relative = path.strip_prefix(dir).unwrap();
                let relative = relative.to_string_lossy().replace('\\', "/");
                out.push((relative, std::fs::read_to_string(&path).unwrap()));
            }
        }
    }
    out.sort();
    out
}

/// The code of a file without its comments (a doc comment may name anything).
fn code(text: &str) -> String {
    text.lines()
        .map(|line| match line.find("//") {
            Some(at) => &line[..at],
            None => line,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The rules inside the application crate, as (file, what it must not use, why).
fn violations(files: &[(String, String)]) -> Vec<String> {
    let mut found = Vec::new();
    for (path, text) in files {
        let code = code(text);
        let mentions = |needle: &str| code.contains(needle);
        let in_http = path.starts_with("http/");
        // The CLI is the top of the graph: it starts the server with `http::app`.
        let is_entry = path == "cli.rs" || path == "main.rs";
        if !in_http
            && !is_entry
            && (mentions(concat!("crate", "::http")) || mentions(concat!("super", "::http")))
        {
            found.push(format!("{path}: imports the HTTP layer from outside it"));
        }
        let below_http = path.starts_with("service/")
            || path.starts_with("bifit/")
            || path == "bifit.rs"
            || [
                "active.rs",
                "admission.rs",
                "evaluation_log.rs",
                "metrics.rs",
                "replay.rs",
            ]
            .contains(&path.as_str());
        if below_http && mentions("axum") {
            found.push(format!("{path}: uses axum below the HTTP layer"));
        }
        if below_http && mentions("AppState") {
            found.push(format!(
                "{path}: takes the whole AppState instead of the few dependencies it uses"
            ));
        }
        if path == "metrics.rs" && mentions("crate::") {
            found.push(format!(
                "{path}: metrics is a leaf and imports nothing of rabat"
            ));
        }
        if path == "bifit/follower.rs" && !mentions("crate::service") {
            found.push(format!(
                "{path}: the follower must sync through the service"
            ));
        }
    }
    found
}

#[test]
fn nothing_below_http_reaches_up() {
    let files = sources(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src"));
    assert!(files.len() > 20, "the application's sources were not found");
    let found = violations(&files);
    assert!(
        found.is_empty(),
        "layering violations:\n{}",
        found.join("\n")
    );
}

#[test]
fn the_rules_catch_a_violation() {
    // The same rules on a made-up tree that breaks each of them once.
    let bad = [
        (
            "service/till.rs",
            "use axum::Json;\nuse crate::server::AppState;",
        ),
        // Spelled in two pieces so that no line of this test itself reads as an import of
        // the HTTP layer to a scanner.
        (
            "bifit/follower.rs",
            concat!("use crate::", "http::bifit::sync_order;"),
        ),
        ("metrics.rs", "use crate::server::AppState;"),
        (
            "evaluation_log.rs",
            concat!("// crate", "::http in a comment is fine\nfn f() {}"),
        ),
    ];
    let files: Vec<(String, String)> = bad
        .iter()
        .map(|(p, t)| ((*p).to_owned(), (*t).to_owned()))
        .collect();
    let found = violations(&files);
    assert_eq!(found.len(), 6, "{found:#?}");
}

#[test]
fn domain_sandbox_and_store_stay_below_the_application() {
    for krate in ["domain", "sandbox", "store"] {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join(krate)
            .join("src");
        for (path, text) in sources(&dir) {
            let code = code(&text);
            // (That they do not depend on the `rabat` crate at all is checked above.)
            for banned in ["axum", "AppState"] {
                assert!(
                    !code.contains(banned),
                    "{krate}/src/{path} uses {banned}: it sits below the application"
                );
            }
        }
    }
}
