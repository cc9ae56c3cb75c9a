//! rabat: a loyalty rules engine for point-of-sale systems. This crate is the
//! application: the services (the till's flows, merchant changes, what-ifs, BIFIT sync),
//! the HTTP surface over them, background tasks, configuration and the CLI. The domain,
//! the sandbox and the store are crates of their own (see `ARCHITECTURE.md`).
pub mod active;
pub mod admission;
pub mod aging;
pub mod bifit;
pub mod cli;
pub mod config;
pub mod demo;
pub mod evaluation_log;
pub mod http;
pub mod logging;
pub mod metrics;
pub mod replay;
pub mod secrets;
pub mod server;
pub mod service;

pub use rabat_domain::{clock, currency, limits, model, money, papaya, policy_config};
pub use rabat_sandbox as policy;
pub use rabat_sandbox::decide;
pub use rabat_store as store;
