//! Who is calling: a POS (the merchant's POS token), a merchant (its API key, only under
//! its own id) or the operator. Secrets are compared as SHA-256 hashes in constant time.

use axum::extract::{FromRequestParts, Path};
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;

use super::error::ApiError;
use crate::server::AppState;
use crate::store::Merchant;
use crate::store::credentials::TokenHash;

fn bearer(parts: &Parts) -> Result<&str, ApiError> {
    let header = parts
        .headers
        .get(AUTHORIZATION)
        .ok_or(ApiError::Unauthorized(
            "Missing Authorization header: send `Authorization: Bearer <token>`",
        ))?;
    let value = header
        .to_str()
        .map_err(|_| ApiError::Unauthorized("The Authorization header is not valid text"))?;
    let token = value
        .strip_prefix("Bearer ")
        .or_else(|| value.strip_prefix("bearer "))
        .ok_or(ApiError::Unauthorized(
            "The Authorization header must be `Bearer <token>`",
        ))?
        .trim();
    if token.is_empty() {
        return Err(ApiError::Unauthorized("The bearer token is empty"));
    }
    Ok(token)
}

/// A request from a merchant's POS.
#[derive(Debug, Clone)]
pub struct PosMerchant(pub Merchant);

impl FromRequestParts<AppState> for PosMerchant {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let token = bearer(parts)?;
        let merchant = state.pos_tokens().merchant(token).await?;
        match merchant {
            Some(merchant) if merchant.disabled_at.is_some() => Err(ApiError::Unauthorized(
                "The merchant is disabled by the operator: its POS tokens are refused until it is enabled again",
            )),
            Some(merchant) => Ok(PosMerchant(merchant)),
            None => Err(ApiError::Unauthorized(
                "The POS token is not valid (unknown or revoked)",
            )),
        }
    }
}

/// A request from a merchant, for its own id in the path (`/admin/v1/merchants/{m}/…`).
#[derive(Debug, Clone)]
pub struct MerchantAuth(pub Merchant);

impl FromRequestParts<AppState> for MerchantAuth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        match MerchantOrOperator::from_request_parts(parts, state).await? {
            MerchantOrOperator::Merchant(merchant) => Ok(MerchantAuth(merchant)),
            MerchantOrOperator::Operator(_) => Err(ApiError::Forbidden(
                "The operator token cannot act for a merchant: use the merchant's API key",
            )),
        }
    }
}

/// The merchant id of the path (`{m}`).
async fn path_merchant(parts: &mut Parts, state: &AppState) -> Result<String, ApiError> {
    let Path(params): Path<Vec<(String, String)>> = Path::from_request_parts(parts, state)
        .await
        .map_err(|_| ApiError::NotFound("no merchant id in the path".into()))?;
    params
        .into_iter()
        .find(|(name, _)| name == "m")
        .map(|(_, value)| value)
        .ok_or_else(|| ApiError::NotFound("no merchant id in the path".into()))
}

/// A request for the merchant in the path from either that merchant's API key or the
/// operator token (rotating a leaked key). A disabled merchant's key is refused (403).
#[derive(Debug, Clone)]
pub enum MerchantOrOperator {
    Merchant(Merchant),
    /// The operator, for the merchant id in the path (which may not exist).
    Operator(String),
}

impl FromRequestParts<AppState> for MerchantOrOperator {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let token = bearer(parts)?.to_owned();
        let wanted = path_merchant(parts, state).await?;
        let store = state.store();
        match store.merchant_by_api_key(&TokenHash::of(&token)).await? {
            Some(merchant) if merchant.id != wanted => Err(ApiError::Forbidden(
                "This API key belongs to another merchant",
            )),
            Some(merchant) if merchant.disabled_at.is_some() => Err(ApiError::Forbidden(
                "This merchant is disabled by the operator: its API key is refused until it is enabled again",
            )),
            Some(merchant) => Ok(MerchantOrOperator::Merchant(merchant)),
            None if state.is_operator(&token) => Ok(MerchantOrOperator::Operator(wanted)),
            None => Err(ApiError::Unauthorized("The API key is not valid")),
        }
    }
}

/// A request from the operator (creating merchants).
#[derive(Debug, Clone, Copy)]
pub struct Operator;

impl FromRequestParts<AppState> for Operator {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let token = bearer(parts)?;
        if state.is_operator(token) {
            return Ok(Operator);
        }
        if state
            .store()
            .merchant_by_api_key(&TokenHash::of(token))
            .await?
            .is_some()
        {
            return Err(ApiError::Forbidden(
                "Only the operator token may do this, not a merchant's API key",
            ));
        }
        Err(ApiError::Unauthorized("The operator token is not valid"))
    }
}

/// A metrics scraper: the metrics token (`--metrics-token`) or the operator token.
#[derive(Debug, Clone, Copy)]
pub struct MetricsScraper;

impl FromRequestParts<AppState> for MetricsScraper {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let token = bearer(parts).map_err(|_| {
            ApiError::Unauthorized(
                "GET /metrics needs `Authorization: Bearer <token>` with the metrics token (--metrics-token) or the operator token",
            )
        })?;
        let metrics_token = state
            .settings()
            .metrics_token
            .as_deref()
            .is_some_and(|expected| TokenHash::same_secret(token, expected));
        if metrics_token || state.is_operator(token) {
            return Ok(MetricsScraper);
        }
        Err(ApiError::Unauthorized(
            "The token is neither the metrics token nor the operator token",
        ))
    }
}
