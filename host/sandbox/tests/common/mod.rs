//! What the sandbox's tests share: real policies built to `.wasm`.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

pub mod wasm;
