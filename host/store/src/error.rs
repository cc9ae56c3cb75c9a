//! The store's one error type. The HTTP layer maps it once: `NotFound` → 404 (or Papaya's
//! error 3 for a card), `Conflict` → 409, `Invalid` → 400, everything else → an opaque 500.

use std::fmt;

/// What kind of thing a [`StoreError::NotFound`] or [`StoreError::Conflict`] is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Entity {
    Merchant,
    PosToken,
    Policy,
    Card,
    Order,
    Campaign,
    Evaluation,
    CouponBatch,
    Coupon,
    Return,
}

impl fmt::Display for Entity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Entity::Merchant => "merchant",
            Entity::PosToken => "POS token",
            Entity::Policy => "policy version",
            Entity::Card => "card",
            Entity::Order => "order",
            Entity::Campaign => "campaign",
            Entity::Evaluation => "evaluation",
            Entity::CouponBatch => "coupon batch",
            Entity::Coupon => "coupon",
            Entity::Return => "return",
        })
    }
}

/// Why a storage call failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The thing addressed does not exist for this merchant.
    #[error("{entity} '{id}' not found")]
    NotFound { entity: Entity, id: String },
    /// The write contradicts what is already stored (an existing id, or an order already
    /// recorded with a different request).
    #[error("{entity} '{id}': {reason}")]
    Conflict {
        entity: Entity,
        id: String,
        reason: &'static str,
    },
    /// The caller passed something the store cannot accept (a bad cursor, an overflowing
    /// balance, a non-object config). The message is safe to show to the caller.
    #[error("{0}")]
    Invalid(String),
    /// A write would take the merchant past a quota the operator set (its stored policy
    /// versions or bytes). The message names the limit and the setting.
    #[error("{0}")]
    QuotaExceeded(String),
    /// The database failed or returned something unreadable. Never shown to clients.
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    /// The schema could not be brought up to date at start.
    #[error("database migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

impl StoreError {
    /// True when the database answered and refused this write or read (a constraint, a
    /// value it cannot hold), false when it could not be reached or failed as a whole: a
    /// batch writer retries the records of a refused batch one by one only in the first case.
    pub fn is_refusal(&self) -> bool {
        match self {
            StoreError::Database(sqlx::Error::Database(_)) => true,
            StoreError::Database(_) | StoreError::Migrate(_) => false,
            StoreError::NotFound { .. }
            | StoreError::Conflict { .. }
            | StoreError::Invalid(_)
            | StoreError::QuotaExceeded(_) => true,
        }
    }

    pub(crate) fn not_found(entity: Entity, id: impl Into<String>) -> Self {
        StoreError::NotFound {
            entity,
            id: id.into(),
        }
    }

    /// A stored value that does not parse: the database was edited by hand or is corrupt.
    pub(crate) fn corrupt(what: impl fmt::Display) -> Self {
        StoreError::Database(sqlx::Error::Decode(
            format!("unreadable stored value: {what}").into(),
        ))
    }
}

/// A foreign-key failure on insert means the merchant the row belongs to does not exist.
pub(crate) fn merchant_or_db(err: sqlx::Error, merchant: &str) -> StoreError {
    match &err {
        sqlx::Error::Database(e) if e.is_foreign_key_violation() => {
            StoreError::not_found(Entity::Merchant, merchant)
        }
        _ => StoreError::Database(err),
    }
}
