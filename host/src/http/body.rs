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
        Err(rejection) => Err(ApiError::MalformedJson(format!(
            "The request body could not be read: {}",
            rejection.body_text()
        ))),
    }
}
