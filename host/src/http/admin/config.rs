//! The merchant's policy config: one JSON object (at most 64 KiB) handed to every run of
//! the merchant's policy, so one module serves many shops. GET answers the object itself,
//! so it can be saved, edited and PUT back.

use axum::Json;
use axum::extract::State;
use serde_json::Value;

use super::input::{self, Raw};
use crate::http::auth::MerchantAuth;
use crate::http::error::{ApiError, ApiResult};
use crate::policy_config::MAX_CONFIG_BYTES;
use crate::server::AppState;
use crate::service::Actor;

/// `PUT /admin/v1/merchants/{m}/policy-config` → 200 with the stored object. Larger than
/// 64 KiB: 413 (id 5); not JSON: 400 id 6; not an object: 400 id 7.
#[utoipa::path(
    put,
    path = "/admin/v1/merchants/{m}/policy-config",
    operation_id = "replacePolicyConfig",
    tag = "policies",
    security(("apiKey" = [])),
    params(crate::http::openapi::MerchantPath),
    request_body(content = crate::http::openapi::PolicyConfig, description = "A JSON object, at most 64 KiB"),
    responses(
        (status = 200, description = "The stored config", body = serde_json::Value),
        crate::http::openapi::BadInput,
        crate::http::openapi::Unauthorized,
        crate::http::openapi::Forbidden,
        crate::http::openapi::TooLarge,
    ),
)]
pub async fn replace(
    State(state): State<AppState>,
    MerchantAuth(merchant): MerchantAuth,
    raw: Raw,
) -> ApiResult<Json<Value>> {
    let config = Value::Object(input::object(raw, MAX_CONFIG_BYTES)?);
    let actor = Actor::merchant(&merchant.id);
    state
        .policies()
        .set_config(&merchant.id, &actor, &config)
        .await?;
    Ok(Json(config))
}

/// `GET /admin/v1/merchants/{m}/policy-config` → the object (`{}` until set).
#[utoipa::path(
    get,
    path = "/admin/v1/merchants/{m}/policy-config",
    operation_id = "getPolicyConfig",
    tag = "policies",
    security(("apiKey" = [])),
    params(crate::http::openapi::MerchantPath),
    responses(
        (status = 200, description = "The config ({} until set)", body = serde_json::Value),
        crate::http::openapi::Unauthorized,
        crate::http::openapi::Forbidden,
    ),
)]
pub async fn show(
    State(state): State<AppState>,
    MerchantAuth(merchant): MerchantAuth,
) -> ApiResult<Json<Value>> {
    let text = state.store().policy_config(&merchant.id).await?;
    let config = serde_json::from_str(&text)
        .map_err(|e| ApiError::Internal(anyhow::anyhow!("stored policy config unreadable: {e}")))?;
    Ok(Json(config))
}
