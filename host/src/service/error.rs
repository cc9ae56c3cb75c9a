//! The one error type of the services. The HTTP layer maps it once to its answers
//! (`From<ServiceError> for ApiError`); a background task asks [`ServiceError::is_permanent`]
//! whether trying again can help, never which HTTP status it would be.

use rabat_store::{Entity, StoreError};

use crate::bifit::BifitError;

#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// The card named on a bill is not one of the merchant's (Papaya's error 3).
    #[error("customer not found")]
    CustomerNotFound,
    /// The caller's input cannot be accepted; the message names what and why.
    #[error("{0}")]
    Invalid(String),
    /// What the request addresses does not exist.
    #[error("{0}")]
    NotFound(String),
    /// The request contradicts what is stored (a recorded order with other data, a card
    /// that cannot be chosen unambiguously).
    #[error("{0}")]
    Conflict(String),
    /// A policy module that cannot be run (refused at upload, or no longer loading).
    #[error("{0}")]
    InvalidPolicy(String),
    /// The POS vendor's API failed; the message names what failed, never a secret.
    #[error("{0}")]
    Upstream(String),
    /// A bound the operator set is reached (a merchant's stored policies): the message
    /// names it.
    #[error("{0}")]
    QuotaExceeded(String),
    /// The server or the merchant is at its bound for this kind of work (compiles, policy
    /// calls): try again shortly. The message says which bound.
    #[error("{0}")]
    Busy(String),
    /// The database is unreachable or failing: try again later.
    #[error("storage unavailable: {0}")]
    Unavailable(StoreError),
    /// A fault on our side (a corrupt stored value, a crashed worker thread): logged, never
    /// blamed on the caller.
    #[error("internal error: {0:#}")]
    Internal(anyhow::Error),
}

impl ServiceError {
    /// True when trying the same thing again cannot succeed until someone changes the data:
    /// the thing is gone, or it conflicts with what is recorded. Everything else (a POS
    /// vendor down, a card not created yet, storage failing, a fault on our side that an
    /// operator can fix) may succeed later.
    pub fn is_permanent(&self) -> bool {
        matches!(self, ServiceError::NotFound(_) | ServiceError::Conflict(_))
    }

    /// A fault on our side, from anything that can be turned into [`anyhow::Error`].
    pub fn internal(error: impl Into<anyhow::Error>) -> Self {
        ServiceError::Internal(error.into())
    }
}

impl From<StoreError> for ServiceError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::NotFound { entity, id } => {
                ServiceError::NotFound(format!("{entity} '{id}' not found"))
            }
            StoreError::Conflict {
                entity: Entity::Order,
                id,
                reason,
            } => ServiceError::Conflict(format!("order '{id}' {reason}")),
            StoreError::Conflict { entity, id, reason } => {
                ServiceError::Conflict(format!("{entity} '{id}': {reason}"))
            }
            StoreError::Invalid(why) => ServiceError::Invalid(why),
            StoreError::QuotaExceeded(why) => ServiceError::QuotaExceeded(why),
            other @ (StoreError::Database(_) | StoreError::Migrate(_)) => {
                ServiceError::Unavailable(other)
            }
        }
    }
}

impl From<BifitError> for ServiceError {
    fn from(error: BifitError) -> Self {
        match error {
            BifitError::NotConfigured | BifitError::OrderNotFound { .. } => {
                ServiceError::NotFound(error.to_string())
            }
            BifitError::Unauthorized { .. }
            | BifitError::Refresh { .. }
            | BifitError::Timeout { .. }
            | BifitError::Network { .. }
            | BifitError::Status { .. }
            | BifitError::Malformed(_) => ServiceError::Upstream(error.to_string()),
            BifitError::Secrets(_) | BifitError::Corrupt(_) => ServiceError::internal(error),
            BifitError::Store(e) => e.into(),
        }
    }
}

impl From<tokio::task::JoinError> for ServiceError {
    fn from(error: tokio::task::JoinError) -> Self {
        ServiceError::internal(error)
    }
}

pub type ServiceResult<T> = Result<T, ServiceError>;
