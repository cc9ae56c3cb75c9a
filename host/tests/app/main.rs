//! The application's integration tests, one binary (so CI links the server once): the
//! HTTP surface on the real router, real `rabat serve` processes, real policies built to
//! `.wasm`, real SQLite files and PostgreSQL when `RABAT_TEST_POSTGRES_URL` is set.

#[macro_use]
mod common;

mod admin;
mod bifit;
mod budgets;
mod campaigns;
mod cli;
mod compiled_cache;
mod console;
mod console_campaigns;
mod console_coupons;
mod console_points;
mod console_returns;
mod contract_v0_1;
mod coupons;
mod crash;
mod data;
mod earn_burn;
mod fuzz;
mod input_bounds;
mod isolation;
mod layering;
mod openapi;
mod ops;
mod papaya;
mod points;
mod replica_processes;
mod replicas;
mod serving;
mod uploads;
mod ux;
