//! Merchants: the operator creates one and receives its API key and first POS token,
//! shown this once (only their hashes are stored); the merchant reads its own summary.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Serialize;
use serde_json::{Value, json};

use super::input::{self, Fields, Raw};
use super::params::Params;
use crate::http::auth::{MerchantAuth, MerchantOrOperator, Operator};
use crate::http::error::{ApiError, ApiResult};
use crate::server::AppState;
use crate::service::Actor;
use crate::store::{Merchant, PosToken, credentials};

/// The longest merchant id; ids are also limited to `A–Z a–z 0–9 . _ -`, so they are
/// safe in paths, logs and file names.
pub const MAX_ID: usize = rabat_domain::limits::MAX_MERCHANT_ID_CHARS;
pub(crate) const MAX_NAME: usize = 200;

/// The answer to a creation: the only time the secrets are shown.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreatedMerchant {
    pub id: String,
    pub name: String,
    pub api_key: String,
    pub pos_token: String,
    /// The first POS token's id, to list or revoke it by.
    pub pos_token_id: String,
    pub created_at: i64,
}

/// `POST /admin/v1/merchants` `{id, name}` (operator token) → 201.
#[utoipa::path(
    post,
    path = "/admin/v1/merchants",
    operation_id = "createMerchant",
    tag = "merchants",
    security(("operator" = [])),
    request_body(content = crate::http::openapi::CreateMerchantRequest, description = "{id, name}"),
    responses(
        (status = 201, description = "Created; the only time the secrets are shown", body = CreatedMerchant),
        crate::http::openapi::BadInput,
        crate::http::openapi::Unauthorized,
        crate::http::openapi::Forbidden,
        crate::http::openapi::Conflict,
        crate::http::openapi::TooLarge,
    ),
)]
pub async fn create(
    State(state): State<AppState>,
    _: Operator,
    raw: Raw,
) -> ApiResult<(StatusCode, Json<CreatedMerchant>)> {
    let body = input::object(raw, state.settings().max_body_bytes)?;
    let fields = Fields::new(&body, "");
    fields.only(&["id", "name"])?;
    let id = fields.required_string("id", MAX_ID)?;
    check_id(&id)?;
    let name = fields.required_string("name", MAX_NAME)?;
    if name.trim().is_empty() {
        return Err(ApiError::InvalidField("name must not be blank".into()));
    }
    let api_key = credentials::new_api_key();
    let pos_token = credentials::new_pos_token();
    let audit = |(merchant, token): &(Merchant, PosToken)| {
        let detail = json!({"name": merchant.name, "posTokenId": token.token_id});
        Actor::Operator.did("merchant.create", detail)
    };
    let (merchant, token) = state
        .store()
        .create_merchant(&id, &name, &api_key.hash, &pos_token.hash, audit)
        .await?;
    tracing::info!(merchant = %merchant.id, "merchant created");
    Ok((
        StatusCode::CREATED,
        Json(CreatedMerchant {
            id: merchant.id,
            name: merchant.name,
            api_key: api_key.plaintext,
            pos_token: pos_token.plaintext,
            pos_token_id: token.token_id,
            created_at: merchant.created_at,
        }),
    ))
}

fn check_id(id: &str) -> Result<(), ApiError> {
    let ok = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-');
    if !id.chars().all(ok) {
        return Err(ApiError::InvalidField(format!(
            "id may contain only letters A–Z, digits, '.', '_' and '-' (got '{id}')"
        )));
    }
    if id.starts_with('.') {
        return Err(ApiError::InvalidField("id must not start with '.'".into()));
    }
    Ok(())
}

/// A merchant's own summary.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MerchantSummary {
    pub id: String,
    pub name: String,
    pub created_at: i64,
    pub active_version: Option<i64>,
}

/// `GET /admin/v1/merchants/{m}`
#[utoipa::path(
    get,
    path = "/admin/v1/merchants/{m}",
    operation_id = "getMerchant",
    tag = "merchants",
    security(("apiKey" = [])),
    params(crate::http::openapi::MerchantPath),
    responses(
        (status = 200, description = "The merchant, and its active policy version", body = MerchantSummary),
        crate::http::openapi::Unauthorized,
        crate::http::openapi::Forbidden,
    ),
)]
pub async fn show(
    State(state): State<AppState>,
    MerchantAuth(merchant): MerchantAuth,
) -> ApiResult<Json<MerchantSummary>> {
    let policy = state.store().policy_state(&merchant.id).await?;
    Ok(Json(MerchantSummary {
        id: merchant.id,
        name: merchant.name,
        created_at: merchant.created_at,
        active_version: policy.active_version,
    }))
}

/// A new API key: the only time it is shown.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct NewApiKey {
    pub api_key: String,
}

/// `POST /admin/v1/merchants/{m}/api-key` → 201 `{apiKey}`: a new API key for the
/// merchant, the old one refused at once (on every replica: keys are read from the
/// database on every request). Called with the merchant's own key, or with the operator
/// token (for a key that leaked, or a merchant that lost its key).
#[utoipa::path(
    post,
    path = "/admin/v1/merchants/{m}/api-key",
    operation_id = "rotateApiKey",
    tag = "merchants",
    security(("apiKey" = []), ("operator" = [])),
    params(crate::http::openapi::MerchantPath),
    responses(
        (status = 201, description = "The new key, shown this once; the old one no longer works", body = NewApiKey),
        crate::http::openapi::Unauthorized,
        crate::http::openapi::Forbidden,
        crate::http::openapi::NotFound,
    ),
)]
pub async fn rotate_api_key(
    State(state): State<AppState>,
    caller: MerchantOrOperator,
) -> ApiResult<(StatusCode, Json<NewApiKey>)> {
    let (merchant, actor) = match caller {
        MerchantOrOperator::Merchant(merchant) => {
            let actor = Actor::merchant(&merchant.id);
            (merchant.id, actor)
        }
        MerchantOrOperator::Operator(id) => (id, Actor::Operator),
    };
    let key = credentials::new_api_key();
    let audit = |_: &()| actor.did("merchant.api_key.rotate", json!({}));
    state
        .store()
        .set_api_key(&merchant, &key.hash, audit)
        .await?;
    tracing::info!(merchant, actor = %actor, "API key rotated");
    Ok((
        StatusCode::CREATED,
        Json(NewApiKey {
            api_key: key.plaintext,
        }),
    ))
}

/// What the operator sees of a merchant it disabled or enabled.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MerchantStatus {
    pub id: String,
    pub name: String,
    pub created_at: i64,
    pub disabled: bool,
    /// When it was disabled (epoch ms), while it is.
    pub disabled_at: Option<i64>,
}

/// `PATCH /admin/v1/merchants/{m}` `{disabled}` (operator token) → 200: disables the
/// merchant (its API key is refused with 403, id 10, and its POS tokens with 401, id 4,
/// each saying the merchant is disabled) or enables it again. Nothing else is lost: its
/// cards, policies and tokens stay. Setting the state it already has is a 200 that
/// changes nothing.
#[utoipa::path(
    patch,
    path = "/admin/v1/merchants/{m}",
    operation_id = "updateMerchant",
    tag = "merchants",
    security(("operator" = [])),
    params(crate::http::openapi::MerchantPath),
    request_body(content = crate::http::openapi::UpdateMerchantRequest, description = "{disabled: true|false}"),
    responses(
        (status = 200, description = "The merchant's state after the change", body = MerchantStatus),
        crate::http::openapi::BadInput,
        crate::http::openapi::Unauthorized,
        crate::http::openapi::Forbidden,
        crate::http::openapi::NotFound,
        crate::http::openapi::TooLarge,
    ),
)]
pub async fn update(
    State(state): State<AppState>,
    _: Operator,
    params: Params,
    raw: Raw,
) -> ApiResult<Json<MerchantStatus>> {
    let id = params.get("m").to_owned();
    let body = input::object(raw, state.settings().max_body_bytes)?;
    let fields = Fields::new(&body, "");
    fields.only(&["disabled"])?;
    let disabled = match fields.get("disabled") {
        Some(Value::Bool(disabled)) => *disabled,
        Some(other) => {
            return Err(ApiError::InvalidField(format!(
                "disabled must be true or false, not {}",
                input::kind(other)
            )));
        }
        None => return Err(ApiError::InvalidField("disabled is required".into())),
    };
    let action = if disabled {
        "merchant.disable"
    } else {
        "merchant.enable"
    };
    let audit = |_: &Merchant| Actor::Operator.did(action, json!({"disabled": disabled}));
    let merchant = state
        .store()
        .set_merchant_disabled(&id, disabled, audit)
        .await?;
    state.pos_tokens().forget(&merchant.id);
    tracing::warn!(merchant = %merchant.id, disabled, "merchant disabled state set by the operator");
    Ok(Json(MerchantStatus {
        disabled: merchant.disabled_at.is_some(),
        disabled_at: merchant.disabled_at,
        id: merchant.id,
        name: merchant.name,
        created_at: merchant.created_at,
    }))
}
