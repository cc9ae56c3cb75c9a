//! See `benches/zen.rs`.
