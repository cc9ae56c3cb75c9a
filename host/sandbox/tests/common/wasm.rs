//! Real policies for the tests: the repository's examples and the hostile fixtures in
//! `host/sandbox/tests/fixtures/`, built with the same code as `rabat build`, once per
//! process. Shared by the sandbox's tests and the application's (included by path).

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Mutex;

use rabat_sandbox::build::{
    BuildOptions, Target, build_example, build_policy, policies_target_dir,
};

static BUILT: Mutex<Option<HashMap<String, Vec<u8>>>> = Mutex::new(None);

fn cached(key: &str, build: impl FnOnce() -> Vec<u8>) -> Vec<u8> {
    // Holding the lock while building also keeps this process's builds one at a time.
    let mut guard = BUILT.lock().unwrap_or_else(|e| e.into_inner());
    let map = guard.get_or_insert_with(HashMap::new);
    if let Some(bytes) = map.get(key) {
        return bytes.clone();
    }
    let bytes = build();
    map.insert(key.to_owned(), bytes.clone());
    bytes
}

/// An example policy component, e.g. `example("tier-discount")`.
pub fn example(name: &str) -> Vec<u8> {
    cached(&format!("example:{name}"), || {
        let built =
            build_example(name).unwrap_or_else(|e| panic!("building example {name}: {e:#}"));
        std::fs::read(&built.path).unwrap()
    })
}

pub fn fixtures_dir() -> PathBuf {
    rabat_sandbox::build::workspace_dir().join("host/sandbox/tests/fixtures")
}

/// A hostile fixture component; names starting with `wasi-` are built for wasm32-wasip2.
pub fn fixture(name: &str) -> Vec<u8> {
    cached(&format!("fixture:{name}"), || {
        let target = if name.starts_with("wasi-") {
            Target::Wasm32Wasip2
        } else {
            Target::Wasm32UnknownUnknown
        };
        let built = build_policy(&BuildOptions {
            crate_dir: fixtures_dir().join(name),
            target,
            target_dir: Some(policies_target_dir()),
            quiet: true,
        })
        .unwrap_or_else(|e| panic!("building fixture {name}: {e:#}"));
        std::fs::read(&built.path).unwrap()
    })
}

/// The core module `cargo build` made for a wasm32-unknown-unknown fixture, before it was
/// turned into a component.
pub fn core_module(name: &str) -> Vec<u8> {
    fixture(name);
    let path = policies_target_dir()
        .join("wasm32-unknown-unknown/release")
        .join(format!("{}.wasm", name.replace('-', "_")));
    std::fs::read(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

/// A sample file from `examples/data/`.
pub fn data(path: &str) -> Vec<u8> {
    let path = rabat_sandbox::build::examples_dir().join("data").join(path);
    std::fs::read(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

/// The same component with a custom section appended: it runs exactly like `wasm` but
/// has its own SHA-256, as a different merchant's own build would.
pub fn distinct(wasm: &[u8], n: u64) -> Vec<u8> {
    fn leb(mut value: u64, out: &mut Vec<u8>) {
        loop {
            let byte = (value & 0x7f) as u8;
            value >>= 7;
            if value == 0 {
                out.push(byte);
                return;
            }
            out.push(byte | 0x80);
        }
    }
    let name = b"rabat-test-variant";
    let mut payload = Vec::new();
    leb(name.len() as u64, &mut payload);
    payload.extend_from_slice(name);
    payload.extend_from_slice(&n.to_le_bytes());
    let mut out = wasm.to_vec();
    out.push(0); // custom section id
    leb(payload.len() as u64, &mut out);
    out.extend_from_slice(&payload);
    out
}
