//! The one error type of the HTTP surface, mapped once to the seed's error body
//! `{"error": …, "message": …, "error_id": N}`. 5xx bodies never carry internals: the
//! cause is logged instead.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use crate::papaya::{ErrorBody, PapayaError};
use crate::service::ServiceError;
use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// A Papaya request body that does not parse (ids 1, 2, 6, 7).
    #[error(transparent)]
    Papaya(#[from] PapayaError),
    /// Papaya's error 3.
    #[error("customer not found")]
    CustomerNotFound,
    #[error("unauthorized: {0}")]
    Unauthorized(&'static str),
    #[error("body too large")]
    BodyTooLarge { limit: usize },
    /// The request body stalled (nothing for the body timeout).
    #[error("the request body stalled")]
    BodyTimeout,
    #[error("malformed JSON: {0}")]
    MalformedJson(String),
    #[error("invalid field value: {0}")]
    InvalidField(String),
    #[error("conflict: {0}")]
    Conflict(String),
    #[error("not found: {0}")]
    NotFound(String),
    /// A known path called with a method it does not take: 405, id 15 (axum adds the
    /// `Allow` header).
    #[error("method not allowed: {0}")]
    MethodNotAllowed(String),
    #[error("forbidden: {0}")]
    Forbidden(&'static str),
    #[error("invalid policy module: {0}")]
    InvalidPolicy(String),
    #[error("upstream POS error: {0}")]
    Upstream(String),
    /// A quota the operator set (a merchant's stored policies): 413, id 14.
    #[error("quota exceeded: {0}")]
    QuotaExceeded(String),
    /// The server is at a bound for this work: 503 with the reason, id 503.
    #[error("busy: {0}")]
    Busy(String),
    /// Anything else: logged, answered as an opaque 500.
    #[error("internal error: {0:#}")]
    Internal(anyhow::Error),
    /// The database is unreachable or failing: 503, opaque.
    #[error("storage unavailable: {0}")]
    Unavailable(StoreError),
}

impl ApiError {
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::Papaya(_) => StatusCode::BAD_REQUEST,
            ApiError::CustomerNotFound | ApiError::MalformedJson(_) | ApiError::InvalidField(_) => {
                StatusCode::BAD_REQUEST
            }
            ApiError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            ApiError::BodyTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::BodyTimeout => StatusCode::REQUEST_TIMEOUT,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::InvalidPolicy(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::Upstream(_) => StatusCode::BAD_GATEWAY,
            ApiError::QuotaExceeded(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::Busy(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
            ApiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    pub fn body(&self) -> ErrorBody {
        match self {
            ApiError::Papaya(e) => e.body(),
            ApiError::CustomerNotFound => ErrorBody::customer_not_found(),
            ApiError::Unauthorized(why) => ErrorBody::new(4, "Unauthorized", *why),
            ApiError::BodyTooLarge { limit } => ErrorBody::new(
                5,
                "Body too large",
                format!("The request body is larger than the limit of {limit} bytes"),
            ),
            ApiError::BodyTimeout => ErrorBody::new(
                13,
                "Request timeout",
                "The request body stopped arriving before it was complete; send it again",
            ),
            ApiError::MalformedJson(why) => ErrorBody::new(6, "Malformed JSON", why.clone()),
            ApiError::InvalidField(why) => ErrorBody::new(7, "Invalid field value", why.clone()),
            ApiError::Conflict(why) => ErrorBody::new(8, "Conflict", why.clone()),
            ApiError::NotFound(why) => ErrorBody::new(9, "Not found", why.clone()),
            ApiError::MethodNotAllowed(why) => {
                ErrorBody::new(15, "Method not allowed", why.clone())
            }
            ApiError::Forbidden(why) => ErrorBody::new(10, "Forbidden", *why),
            ApiError::InvalidPolicy(why) => {
                ErrorBody::new(11, "Invalid policy module", why.clone())
            }
            ApiError::Upstream(why) => ErrorBody::new(12, "Upstream POS error", why.clone()),
            ApiError::QuotaExceeded(why) => ErrorBody::new(14, "Quota exceeded", why.clone()),
            ApiError::Busy(why) => ErrorBody::new(503, "Service unavailable", why.clone()),
            ApiError::Internal(_) => ErrorBody::new(
                500,
                "Internal error",
                "Something went wrong on our side; it has been logged",
            ),
            ApiError::Unavailable(_) => ErrorBody::new(
                503,
                "Service unavailable",
                "Storage is unavailable; try again shortly",
            ),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        if status.is_server_error() {
            tracing::error!(error = %self, "request failed");
        }
        if matches!(self, ApiError::BodyTimeout) {
            // The rest of the body may still come: the connection is not reusable.
            return (
                status,
                [(axum::http::header::CONNECTION, "close")],
                Json(self.body()),
            )
                .into_response();
        }
        (status, Json(self.body())).into_response()
    }
}

/// The one mapping from what a service says to what an HTTP client gets.
impl From<ServiceError> for ApiError {
    fn from(error: ServiceError) -> Self {
        match error {
            ServiceError::CustomerNotFound => ApiError::CustomerNotFound,
            ServiceError::Invalid(why) => ApiError::InvalidField(why),
            ServiceError::NotFound(why) => ApiError::NotFound(why),
            ServiceError::Conflict(why) => ApiError::Conflict(why),
            ServiceError::InvalidPolicy(why) => ApiError::InvalidPolicy(why),
            ServiceError::Upstream(why) => ApiError::Upstream(why),
            ServiceError::Unavailable(e) => ApiError::Unavailable(e),
            ServiceError::QuotaExceeded(why) => ApiError::QuotaExceeded(why),
            ServiceError::Busy(why) => ApiError::Busy(why),
            ServiceError::Internal(e) => ApiError::Internal(e),
        }
    }
}

/// Reads that go straight to the store answer as a service would.
impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        ServiceError::from(error).into()
    }
}

impl From<anyhow::Error> for ApiError {
    fn from(error: anyhow::Error) -> Self {
        ApiError::Internal(error)
    }
}

pub type ApiResult<T> = Result<T, ApiError>;
