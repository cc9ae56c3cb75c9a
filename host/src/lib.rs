//! rabat: a loyalty rules engine for point-of-sale systems.
pub mod active;
pub mod admission;
pub mod cli;
pub mod config;
pub mod currency;
pub mod decide;
pub mod demo;
pub mod evaluation_log;
pub mod http;
pub mod logging;
pub mod model;
pub mod money;
pub mod papaya;
pub mod policy;
pub mod policy_config;
pub mod server;
pub mod store;
