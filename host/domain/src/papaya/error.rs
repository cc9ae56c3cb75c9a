//! What a bad Papaya body gets back: the seed's error body, with a status, an `error_id`
//! and exact strings for each way a body can be wrong.

use serde::{Deserialize, Serialize};

/// The error body every rabat endpoint answers with (Papaya's shape, which is why the id
/// is snake_case while the rest of the API is camelCase):
/// `{"error": "...", "message": "...", "error_id": N}`, keys in that order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// A short, fixed title per id ("Missing required field").
    pub error: String,
    /// What was wrong, and where ("orderId is required").
    pub message: String,
    pub error_id: u16,
}

impl ErrorBody {
    pub fn new(error_id: u16, error: impl Into<String>, message: impl Into<String>) -> Self {
        ErrorBody {
            error: error.into(),
            message: message.into(),
            error_id,
        }
    }

    /// Papaya's id 3, word for word: the card on the request is not one of the merchant's.
    pub fn customer_not_found() -> Self {
        ErrorBody::new(
            3,
            "Customer not found",
            "No customer found with the provided customerId or cardId",
        )
    }
}

/// Why a Papaya request body was refused. Every case is a 400; [`PapayaError::body`] is
/// what the POS gets, and the `Display` text is its `message`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PapayaError {
    /// Endpoint 2 with an `event` other than `order.completed` (id 1).
    #[error("Event type '{event}' is not supported")]
    UnsupportedEvent { event: String },
    /// A required field is absent or `null` (id 2); `field` is its path, such as
    /// `orderId` or `orderItems[1].productId`.
    #[error("{field} is required")]
    MissingField { field: String },
    /// The body is not JSON at all (id 6); `detail` is serde_json's, with line and column.
    #[error("Request body is not valid JSON: {detail}")]
    MalformedJson { detail: String },
    /// A field of the wrong type or an impossible value (id 7), e.g.
    /// `orderItems[2].quantity must be a number`, `total must not be negative`.
    #[error("{field} {problem}")]
    InvalidField { field: String, problem: String },
}

impl PapayaError {
    /// The HTTP status: every bad body is a 400.
    pub fn status(&self) -> u16 {
        400
    }

    pub fn error_id(&self) -> u16 {
        match self {
            PapayaError::UnsupportedEvent { .. } => 1,
            PapayaError::MissingField { .. } => 2,
            PapayaError::MalformedJson { .. } => 6,
            PapayaError::InvalidField { .. } => 7,
        }
    }

    /// The body's `error` title.
    pub fn error(&self) -> &'static str {
        match self {
            PapayaError::UnsupportedEvent { .. } => "Unsupported event type",
            PapayaError::MissingField { .. } => "Missing required field",
            PapayaError::MalformedJson { .. } => "Malformed JSON",
            PapayaError::InvalidField { .. } => "Invalid field value",
        }
    }

    pub fn body(&self) -> ErrorBody {
        ErrorBody::new(self.error_id(), self.error(), self.to_string())
    }

    pub(super) fn missing(field: impl Into<String>) -> Self {
        PapayaError::MissingField {
            field: field.into(),
        }
    }

    pub(super) fn invalid(field: impl Into<String>, problem: impl Into<String>) -> Self {
        PapayaError::InvalidField {
            field: field.into(),
            problem: problem.into(),
        }
    }
}
