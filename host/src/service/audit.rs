//! The audit trail of a merchant's administration: every change is appended with its
//! actor (`merchant:<id>`, `operator`, `policy` or `system:…`).
//!
//! The audit row is written by the store in the change's own transaction (every changing
//! store method takes an [`rabat_store::AuditOf`]): a change never commits without its
//! row, and an audit row that cannot be written rolls the change back, answered as an
//! error (the client may retry: nothing happened).

use std::fmt;

use rabat_store::AuditRecord;
use serde_json::Value;

/// Who made a change.
#[derive(Debug, Clone)]
pub enum Actor {
    Operator,
    Merchant(String),
    /// The merchant's policy, changing a card from `accrue` when a bill completes.
    Policy,
    /// rabat itself acting on what a POS reported, e.g. `system:bifit`.
    System(&'static str),
}

impl fmt::Display for Actor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Actor::Operator => f.write_str("operator"),
            Actor::Merchant(id) => write!(f, "merchant:{id}"),
            Actor::Policy => f.write_str("policy"),
            Actor::System(what) => write!(f, "system:{what}"),
        }
    }
}

impl Actor {
    pub fn merchant(id: &str) -> Actor {
        Actor::Merchant(id.to_owned())
    }

    /// The audit row of an action this actor did now.
    pub fn did(&self, action: &str, detail: Value) -> AuditRecord {
        AuditRecord::now(self.to_string(), action, detail)
    }
}
