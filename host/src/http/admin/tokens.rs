//! A merchant's POS tokens: issue one per till (the secret is shown once), list them
//! without secrets, revoke one. Tokens are checked against the database on every POS
//! request, so a revoked token stops working at once, on every replica.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Serialize;
use serde_json::json;

use super::params::Params;
use crate::http::auth::MerchantAuth;
use crate::http::error::ApiResult;
use crate::server::AppState;
use crate::service::Actor;
use crate::store::PosToken;
use crate::store::credentials;

/// A new token: the only time its secret is shown.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct NewToken {
    pub token_id: String,
    pub pos_token: String,
    pub created_at: i64,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TokenList {
    pub items: Vec<PosToken>,
}

/// `POST /admin/v1/merchants/{m}/pos-tokens` → 201 `{tokenId, posToken, createdAt}`.
#[utoipa::path(
    post,
    path = "/admin/v1/merchants/{m}/pos-tokens",
    operation_id = "createPosToken",
    tag = "merchants",
    security(("apiKey" = [])),
    params(crate::http::openapi::MerchantPath),
    responses(
        (status = 201, description = "The only time the secret is shown", body = NewToken),
        crate::http::openapi::Unauthorized,
        crate::http::openapi::Forbidden,
    ),
)]
pub async fn create(
    State(state): State<AppState>,
    MerchantAuth(merchant): MerchantAuth,
) -> ApiResult<(StatusCode, Json<NewToken>)> {
    let secret = credentials::new_pos_token();
    let actor = Actor::merchant(&merchant.id);
    let audit =
        |token: &PosToken| actor.did("pos_token.create", json!({"tokenId": token.token_id}));
    let token = state
        .store()
        .add_pos_token(&merchant.id, &secret.hash, audit)
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(NewToken {
            token_id: token.token_id,
            pos_token: secret.plaintext,
            created_at: token.created_at,
        }),
    ))
}

/// `GET /admin/v1/merchants/{m}/pos-tokens` → `{items: [{tokenId, createdAt, revokedAt}]}`.
#[utoipa::path(
    get,
    path = "/admin/v1/merchants/{m}/pos-tokens",
    operation_id = "listPosTokens",
    tag = "merchants",
    security(("apiKey" = [])),
    params(crate::http::openapi::MerchantPath),
    responses(
        (status = 200, description = "The merchant's POS tokens, without secrets", body = TokenList),
        crate::http::openapi::Unauthorized,
        crate::http::openapi::Forbidden,
    ),
)]
pub async fn list(
    State(state): State<AppState>,
    MerchantAuth(merchant): MerchantAuth,
) -> ApiResult<Json<TokenList>> {
    let items = state.store().pos_tokens(&merchant.id).await?;
    Ok(Json(TokenList { items }))
}

/// `DELETE /admin/v1/merchants/{m}/pos-tokens/{tokenId}` → 204. Revoking a revoked token
/// again is a 204 too (and is not audited twice); an unknown id is 404.
#[utoipa::path(
    delete,
    path = "/admin/v1/merchants/{m}/pos-tokens/{tokenId}",
    operation_id = "revokePosToken",
    tag = "merchants",
    security(("apiKey" = [])),
    params(
        crate::http::openapi::MerchantPath,
        ("tokenId" = String, Path, description = "The token id"),
    ),
    responses(
        (status = 204, description = "Revoked"),
        crate::http::openapi::Unauthorized,
        crate::http::openapi::Forbidden,
        crate::http::openapi::NotFound,
        crate::http::openapi::BadInput,
    ),
)]
pub async fn revoke(
    State(state): State<AppState>,
    MerchantAuth(merchant): MerchantAuth,
    params: Params,
) -> ApiResult<StatusCode> {
    let actor = Actor::merchant(&merchant.id);
    let audit =
        |token: &PosToken| actor.did("pos_token.revoke", json!({"tokenId": token.token_id}));
    state
        .store()
        .revoke_pos_token(&merchant.id, params.get("tokenId"), audit)
        .await?;
    state.pos_tokens().forget(&merchant.id);
    Ok(StatusCode::NO_CONTENT)
}
