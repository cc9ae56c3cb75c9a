//! The services: what rabat does, below HTTP and beside the background tasks. Each takes
//! the few dependencies it uses (the store, the policy runner, metrics…), never the
//! server's whole state, and returns a [`ServiceError`] that says whether a failure is
//! permanent. Nothing here knows HTTP: the handlers in `http/` parse, call a service and
//! answer; the BIFIT follower calls [`BifitSync`] just like the sync endpoint.
//!
//! - [`till`]: endpoint 1 (the discount for a bill) and endpoint 2 (record a completed
//!   bill once), for every POS;
//! - [`bifit`]: BIFIT Kassa's discount and sync;
//! - [`policies`]: upload, activate, set config (write, invalidate, audit);
//! - [`campaigns`]: a merchant's campaigns (create, edit, pause, resume, end), and the
//!   till's clock; [`stacking`]: how several live campaigns' answers combine;
//! - [`whatif`]: dry-run and replay;
//! - [`audit`]: the audit trail's writer;
//! - [`pos_tokens`]: POS tokens checked from memory, revocations seen at once;
//! - [`runner`]: loading and running a policy off the async threads.

pub mod audit;
pub mod bifit;
pub mod campaign_set;
pub mod campaigns;
mod error;
pub mod points;
pub mod policies;
pub mod pos_tokens;
pub mod returns;
pub mod runner;
pub mod stacking;
pub mod till;
pub mod whatif;

pub use audit::Actor;
pub use bifit::{BifitSync, SyncOutcome, SyncReport};
pub use campaigns::{Campaigns, Clock};
pub use error::{ServiceError, ServiceResult};
pub use policies::PolicyChanges;
pub use pos_tokens::PosTokens;
pub use runner::PolicyRunner;
pub use till::{CompletedBill, DEFAULT_HOLD_TTL, Till};
pub use whatif::WhatIf;
