//! `rabat build`: compiles a policy crate to a component with one command. The same
//! function builds the examples for the tests, the demo and the benchmarks.
//!
//! The default target is `wasm32-unknown-unknown`: the module imports only rabat's host
//! interface, and `wit-component` wraps it into a component. That skips WASI entirely,
//! which makes each call's fresh instance cheaper (BENCHMARKS.md) and leaves nothing
//! ambient to sandbox. `--target wasm32-wasip2` is there for crates that need std I/O.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, bail};

/// Which Rust target a policy is built for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Target {
    /// No WASI: the smallest, fastest sandbox (the default).
    #[default]
    #[value(name = "wasm32-unknown-unknown")]
    Wasm32UnknownUnknown,
    /// WASI preview 2: std I/O, clocks and randomness, served deterministically.
    #[value(name = "wasm32-wasip2")]
    Wasm32Wasip2,
}

impl Target {
    pub fn triple(self) -> &'static str {
        match self {
            Target::Wasm32UnknownUnknown => "wasm32-unknown-unknown",
            Target::Wasm32Wasip2 => "wasm32-wasip2",
        }
    }
}

/// What to build and where.
#[derive(Debug, Clone)]
pub struct BuildOptions {
    /// The policy crate's directory (holding its Cargo.toml).
    pub crate_dir: PathBuf,
    pub target: Target,
    /// Cargo's target directory; default: the one cargo would use for the crate
    /// (`CARGO_TARGET_DIR` when set, else the workspace's `target/`).
    pub target_dir: Option<PathBuf>,
    /// Hide cargo's progress output.
    pub quiet: bool,
}

/// A built policy component.
#[derive(Debug, Clone)]
pub struct Built {
    pub name: String,
    pub path: PathBuf,
    pub size_bytes: usize,
}

/// Release settings that keep a policy small; set through the environment so that they
/// apply to a policy crate wherever it lives, without touching its Cargo.toml.
const SIZE_PROFILE: &[(&str, &str)] = &[
    ("CARGO_PROFILE_RELEASE_OPT_LEVEL", "s"),
    ("CARGO_PROFILE_RELEASE_LTO", "true"),
    ("CARGO_PROFILE_RELEASE_CODEGEN_UNITS", "1"),
    ("CARGO_PROFILE_RELEASE_STRIP", "true"),
    ("CARGO_PROFILE_RELEASE_PANIC", "abort"),
    ("CARGO_PROFILE_RELEASE_DEBUG", "false"),
    // A 64 KiB shadow stack instead of 1 MiB: less memory to set up per call, and a
    // runaway recursion traps sooner.
    (
        "CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUSTFLAGS",
        "-C link-arg=-zstack-size=65536",
    ),
    (
        "CARGO_TARGET_WASM32_WASIP2_RUSTFLAGS",
        "-C link-arg=-zstack-size=65536",
    ),
];

pub fn build_policy(options: &BuildOptions) -> anyhow::Result<Built> {
    let manifest = options.crate_dir.join("Cargo.toml");
    if !manifest.is_file() {
        bail!(
            "no Cargo.toml in {}: point `rabat build` at a policy crate (see examples/)",
            options.crate_dir.display()
        );
    }
    let meta = metadata(&manifest)?;
    let target_dir = options.target_dir.clone().unwrap_or(meta.target_dir);

    let mut cargo = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    cargo
        // `cargo rustc --crate-type cdylib` rather than `cargo build`: for a crate that is
        // both `cdylib` and `rlib` (so its tests run natively) cargo silently drops LTO,
        // which costs about 6 kB per policy.
        .args([
            "rustc",
            "--release",
            "--lib",
            "--crate-type",
            "cdylib",
            "--target",
            options.target.triple(),
        ])
        .arg("--manifest-path")
        .arg(&manifest)
        .arg("--target-dir")
        .arg(&target_dir)
        .envs(SIZE_PROFILE.iter().copied())
        // `--target-dir` above already says where (CARGO_TARGET_DIR, when set, is in
        // it: `cargo metadata` honours it); these would point the build elsewhere.
        .env_remove("CARGO_BUILD_TARGET")
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS");
    if options.quiet {
        cargo.arg("--quiet");
    }
    let output = cargo
        .output()
        .with_context(|| "could not run cargo: is the Rust toolchain installed?")?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let hint = if stderr.contains("target may not be installed")
            || stderr.contains("can't find crate for `core`")
        {
            format!(
                "\nhint: run `rustup target add {}`",
                options.target.triple()
            )
        } else {
            String::new()
        };
        bail!("cargo build of {} failed:\n{stderr}{hint}", meta.package);
    }

    let module_path = target_dir
        .join(options.target.triple())
        .join("release")
        .join(format!("{}.wasm", meta.lib_name));
    let module = std::fs::read(&module_path)
        .with_context(|| format!("cargo did not produce {}", module_path.display()))?;
    let component = match options.target {
        Target::Wasm32Wasip2 => module,
        Target::Wasm32UnknownUnknown => componentize(&module).with_context(|| {
            format!("could not turn {} into a component", module_path.display())
        })?,
    };
    let out_dir = target_dir.join("rabat");
    std::fs::create_dir_all(&out_dir)
        .with_context(|| format!("could not create {}", out_dir.display()))?;
    let path = out_dir.join(format!("{}.wasm", meta.package));
    std::fs::write(&path, &component)
        .with_context(|| format!("could not write {}", path.display()))?;
    Ok(Built {
        name: meta.package,
        path,
        size_bytes: component.len(),
    })
}

/// Wraps a core module built with the SDK (which embeds the world's type information)
/// into a component.
pub fn componentize(module: &[u8]) -> anyhow::Result<Vec<u8>> {
    if !exports_any_function(module) {
        bail!(NO_EXPORT);
    }
    wit_component::ComponentEncoder::default()
        .module(module)
        .context(
            "the module carries no rabat component type: is it built with the rabat-rules SDK?",
        )?
        .validate(true)
        .encode()
        .context(NO_EXPORT)
}

/// Whether a core module exports any function of a component's interface: without
/// `export_policy!` an SDK-built module exports none (only its memory and the canonical
/// ABI's helpers, `cabi_*`). A module of another world exports its own functions and is
/// left to the encoder and the upload's world check to describe; so is a module that
/// cannot be read.
fn exports_any_function(module: &[u8]) -> bool {
    use wasmparser::{ExternalKind, Parser, Payload};
    for payload in Parser::new(0).parse_all(module) {
        match payload {
            Ok(Payload::ExportSection(exports)) => {
                return exports.into_iter().any(|e| {
                    e.is_ok_and(|e| {
                        e.kind == ExternalKind::Func
                            && !e.name.starts_with("cabi_")
                            && !e.name.starts_with('_')
                    })
                });
            }
            Ok(_) => {}
            Err(_) => return true,
        }
    }
    false
}

/// Why an SDK-built module does not make a policy component, nearly always.
const NO_EXPORT: &str = "the module does not export a rabat policy: is `export_policy!(YourPolicy);` at the top level of the crate's src/lib.rs?";

struct Metadata {
    package: String,
    lib_name: String,
    target_dir: PathBuf,
}

fn metadata(manifest: &Path) -> anyhow::Result<Metadata> {
    let output = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
        .args([
            "metadata",
            "--no-deps",
            "--format-version",
            "1",
            "--manifest-path",
        ])
        .arg(manifest)
        .output()
        .context("could not run cargo metadata")?;
    if !output.status.success() {
        bail!(
            "cargo metadata failed for {}:\n{}",
            manifest.display(),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let meta: serde_json::Value =
        serde_json::from_slice(&output.stdout).context("cargo metadata printed no JSON")?;
    let manifest = manifest
        .canonicalize()
        .with_context(|| format!("{} is not readable", manifest.display()))?;
    let package = meta["packages"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|p| {
            p["manifest_path"]
                .as_str()
                .and_then(|m| Path::new(m).canonicalize().ok())
                .is_some_and(|m| m == manifest)
        })
        .with_context(|| format!("{} is not a package manifest", manifest.display()))?;
    let name = package["name"].as_str().unwrap_or_default().to_owned();
    let lib = package["targets"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|t| {
            t["crate_types"]
                .as_array()
                .is_some_and(|types| types.iter().any(|k| k == "cdylib"))
        })
        .with_context(|| {
            format!("package {name} has no cdylib library: add `[lib] crate-type = [\"cdylib\", \"rlib\"]` to its Cargo.toml")
        })?;
    Ok(Metadata {
        lib_name: lib["name"].as_str().unwrap_or(&name).replace('-', "_"),
        package: name,
        target_dir: PathBuf::from(meta["target_directory"].as_str().unwrap_or("target")),
    })
}

/// The repository's root (known at compile time: the demo, the tests and the benchmarks
/// build the examples from source).
pub fn workspace_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The repository's `examples/` directory.
pub fn examples_dir() -> PathBuf {
    workspace_dir().join("examples")
}

/// Where builds made on the host's behalf go (`target/policies` in the repository), so
/// they never wait on or disturb the host's own build directory.
pub fn policies_target_dir() -> PathBuf {
    workspace_dir().join("target/policies")
}

/// Builds one of the repository's example policies (e.g. `tier-discount`).
pub fn build_example(name: &str) -> anyhow::Result<Built> {
    build_policy(&BuildOptions {
        crate_dir: examples_dir().join(name),
        target: Target::default(),
        target_dir: Some(policies_target_dir()),
        quiet: true,
    })
}
