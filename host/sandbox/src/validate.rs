//! What an upload must be: a WebAssembly component of the `rabat:rules/policy` world
//! that imports nothing beyond the host's log and the deterministic part of WASI.

/// Why a module is refused at upload (or by `rabat check`). Each message says what is
/// wrong and what to do next.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum Rejection {
    #[error(
        "the module is {size} bytes; the limit is {limit} bytes (build with `rabat build`, which optimizes for size)"
    )]
    TooLarge { size: usize, limit: usize },
    #[error(
        "the file is not WebAssembly (it does not start with \\0asm); upload the .wasm that `rabat build` wrote"
    )]
    NotWasm,
    #[error(
        "the file is a core WebAssembly module, not a component; build the policy with `rabat build`, which turns it into a component"
    )]
    CoreModule,
    #[error(
        "the WebAssembly binary has an unknown version or layer ({0}); build it with `rabat build`"
    )]
    UnknownLayer(String),
    #[error("the component is invalid: {0}")]
    Invalid(String),
    #[error(
        "the component imports `{0}`, which policies may not use (allowed: rabat:rules/host and WASI stdio, clocks, random); remove the code that needs it (files, network, HTTP and environment are not available)"
    )]
    ForbiddenImport(String),
    #[error(
        "the component is not a rabat policy (world rabat:rules/policy@0.3.0, @0.2.0 or @0.1.0): {0}; build it against the rabat-rules SDK, exporting the policy with `export_policy!(YourPolicy);`"
    )]
    WrongWorld(String),
    /// More work for the compiler than any policy needs (checked before compiling).
    #[error(
        "the component has {what} {found}; the limit is {limit} (a policy needs far less: build it with `rabat build`, and split up very large functions)"
    )]
    OverLimit {
        what: &'static str,
        found: u64,
        limit: u64,
    },
}

/// Bounds on what a module may ask the compiler for, checked by reading the binary
/// before compiling it: compile time and memory grow with these, and a crafted upload
/// could otherwise take the server's memory for many seconds.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub struct ModuleLimits {
    /// Functions with a body, in all core modules together.
    pub max_functions: u64,
    /// Bytes of one function's body.
    pub max_function_bytes: u64,
    /// Locals of one function.
    pub max_locals: u64,
    /// Bytes of data segments, all together.
    pub max_data_bytes: u64,
    /// Core modules and components nested in the component.
    pub max_modules: u64,
}

impl Default for ModuleLimits {
    fn default() -> Self {
        ModuleLimits {
            max_functions: 20_000,
            max_function_bytes: 256 << 10,
            max_locals: 5_000,
            max_data_bytes: 2 << 20,
            max_modules: 32,
        }
    }
}

/// Reads `bytes` (a component) and refuses it when it exceeds `limits`. Malformed input
/// is left to the compiler, which names the problem.
pub fn bounds(bytes: &[u8], limits: &ModuleLimits) -> Result<(), Rejection> {
    use wasmparser::{Parser, Payload};
    let over = |what: &'static str, found: u64, limit: u64| {
        if found > limit {
            Err(Rejection::OverLimit { what, found, limit })
        } else {
            Ok(())
        }
    };
    let (mut functions, mut data, mut modules) = (0u64, 0u64, 0u64);
    for payload in Parser::new(0).parse_all(bytes) {
        let Ok(payload) = payload else {
            return Ok(());
        };
        match payload {
            Payload::ModuleSection { .. } | Payload::ComponentSection { .. } => {
                modules += 1;
                over("nested modules:", modules, limits.max_modules)?;
            }
            Payload::CodeSectionStart { count, .. } => {
                functions += u64::from(count);
                over("functions:", functions, limits.max_functions)?;
            }
            Payload::CodeSectionEntry(body) => {
                let size = body.range().len() as u64;
                over("a function of (bytes)", size, limits.max_function_bytes)?;
                let mut locals = 0u64;
                if let Ok(reader) = body.get_locals_reader() {
                    for entry in reader {
                        let Ok((count, _)) = entry else { break };
                        locals = locals.saturating_add(u64::from(count));
                        over("a function with locals:", locals, limits.max_locals)?;
                    }
                }
            }
            Payload::DataSection(reader) => {
                for segment in reader {
                    let Ok(segment) = segment else { break };
                    data = data.saturating_add(segment.data.len() as u64);
                    over("data segments of (bytes)", data, limits.max_data_bytes)?;
                }
            }
            _ => {}
        }
    }
    Ok(())
}

/// What the header says the bytes are.
#[derive(Debug, PartialEq, Eq)]
pub enum Kind {
    Component,
}

pub fn kind(bytes: &[u8]) -> Result<Kind, Rejection> {
    if bytes.len() < 8 || &bytes[..4] != b"\0asm" {
        return Err(Rejection::NotWasm);
    }
    match bytes[4..8] {
        [1, 0, 0, 0] => Err(Rejection::CoreModule),
        [0x0d, 0, 1, 0] => Ok(Kind::Component),
        ref other => Err(Rejection::UnknownLayer(format!("{other:02x?}"))),
    }
}

/// Interfaces a policy may import. `wasi:*` ones are served deterministically.
const ALLOWED_PREFIXES: &[&str] = &[
    "rabat:rules/host@",
    // Types only (the world `use`s them); no functions behind it.
    "rabat:rules/types@",
    "wasi:io/error@",
    "wasi:io/poll@",
    "wasi:io/streams@",
    "wasi:cli/environment@",
    "wasi:cli/exit@",
    "wasi:cli/stdin@",
    "wasi:cli/stdout@",
    "wasi:cli/stderr@",
    "wasi:cli/terminal-input@",
    "wasi:cli/terminal-output@",
    "wasi:cli/terminal-stdin@",
    "wasi:cli/terminal-stdout@",
    "wasi:cli/terminal-stderr@",
    "wasi:clocks/wall-clock@",
    "wasi:clocks/monotonic-clock@",
    "wasi:random/random@",
    "wasi:random/insecure@",
    "wasi:random/insecure-seed@",
];

pub fn check_import(name: &str) -> Result<(), Rejection> {
    if ALLOWED_PREFIXES.iter().any(|p| name.starts_with(p)) {
        Ok(())
    } else {
        Err(Rejection::ForbiddenImport(name.to_owned()))
    }
}

pub fn uses_wasi(name: &str) -> bool {
    name.starts_with("wasi:")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_are_told_apart() {
        assert_eq!(kind(b"hello world"), Err(Rejection::NotWasm));
        assert_eq!(kind(b"\0asm\x01\0\0\0"), Err(Rejection::CoreModule));
        assert_eq!(kind(b"\0asm\x0d\0\x01\0"), Ok(Kind::Component));
        assert!(matches!(
            kind(b"\0asm\x02\0\0\0"),
            Err(Rejection::UnknownLayer(_))
        ));
    }

    #[test]
    fn only_the_harmless_imports_pass() {
        assert!(check_import("rabat:rules/host@0.1.0").is_ok());
        assert!(check_import("rabat:rules/types@0.1.0").is_ok());
        assert!(check_import("wasi:cli/stdout@0.2.6").is_ok());
        assert!(check_import("wasi:clocks/wall-clock@0.2.6").is_ok());
        let err = check_import("wasi:filesystem/preopens@0.2.6").unwrap_err();
        assert!(err.to_string().contains("wasi:filesystem/preopens@0.2.6"));
        assert!(check_import("wasi:sockets/tcp@0.2.6").is_err());
        assert!(check_import("wasi:http/outgoing-handler@0.2.6").is_err());
        assert!(check_import("rabat:rules/hostile@0.1.0").is_err());
    }
}
