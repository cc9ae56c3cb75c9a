//! What the store's tests share: fresh databases.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

pub mod db;
