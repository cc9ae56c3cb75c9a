//! The audit trail of a merchant's administration: every change is appended with its
//! actor (`merchant:<id>`, `operator` or `system:…`).
//!
//! The change and its audit row are two writes: when the second fails, the change (already
//! committed) is still answered as done and the lost audit row is logged as an error, so a
//! client never retries a change that happened.

use std::fmt;

use rabat_domain::clock::now_ms;
use rabat_store::{AuditRecord, Store};
use serde_json::Value;

/// Who made a change.
#[derive(Debug, Clone)]
pub enum Actor {
    Operator,
    Merchant(String),
}

impl fmt::Display for Actor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Actor::Operator => f.write_str("operator"),
            Actor::Merchant(id) => write!(f, "merchant:{id}"),
        }
    }
}

impl Actor {
    pub fn merchant(id: &str) -> Actor {
        Actor::Merchant(id.to_owned())
    }
}

/// Appends to merchants' audit trails.
#[derive(Debug, Clone)]
pub struct Audit {
    store: Store,
}

impl Audit {
    pub fn new(store: Store) -> Self {
        Audit { store }
    }

    /// Appends one action to the merchant's trail (see the module docs on failure).
    pub async fn record(&self, merchant: &str, actor: &Actor, action: &str, detail: Value) {
        let record = AuditRecord {
            at: now_ms(),
            actor: actor.to_string(),
            action: action.to_owned(),
            detail,
        };
        if let Err(error) = self.store.append_audit(merchant, &record).await {
            tracing::error!(%error, merchant, action, "the audit record could not be written");
        }
    }
}
