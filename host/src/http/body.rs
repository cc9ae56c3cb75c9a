//! Request bodies: the size limit answered in the seed's error shape (id 5).

use axum::extract::rejection::BytesRejection;
use axum::http::StatusCode;
use bytes::Bytes;

use super::error::ApiError;

pub fn bytes(raw: Result<Bytes, BytesRejection>, limit: usize) -> Result<Bytes, ApiError> {
    match raw {
        Ok(bytes) if bytes.len() > limit => Err(ApiError::BodyTooLarge { limit }),
        Ok(bytes) => Ok(bytes),
        Err(rejection) if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            Err(ApiError::BodyTooLarge { limit })
        }
        Err(rejection) if timed_out(&rejection) => Err(ApiError::BodyTimeout),
        Err(rejection) => Err(ApiError::MalformedJson(format!(
            "The request body could not be read: {}",
            rejection.body_text()
        ))),
    }
}

/// Whether the body failed because it stalled (`http::app` times bodies).
fn timed_out(rejection: &BytesRejection) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(rejection);
    while let Some(cause) = source {
        if cause.is::<tower_http::timeout::TimeoutError>() {
            return true;
        }
        source = cause.source();
    }
    false
}
