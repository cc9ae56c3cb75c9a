//! BIFIT Kassa (a pull POS): endpoint 1 fetches the online order from BIFIT and answers
//! the discount; the sync endpoint fetches it and records it once it is `FINISHED`. Both
//! answer in the same shapes and with the same error ids as Papaya's; a BIFIT failure is
//! 502 (id 12) naming what failed. See the README's "BIFIT Kassa" section.

use axum::Json;
use axum::extract::{FromRequestParts, Path, State};
use axum::http::request::Parts;

use super::admin::input::{self, Fields, Raw};
use super::admin::params::MAX_CARD_ID;
use super::auth::PosMerchant;
use super::error::{ApiError, ApiResult};
use crate::money::DiscountResponse;
use crate::server::AppState;
use crate::service::SyncReport;

/// The `{id}` of an online-order route: BIFIT's ids are positive integers.
#[derive(Debug, Clone, Copy)]
pub struct OnlineOrderId(pub i64);

impl<S: Send + Sync> FromRequestParts<S> for OnlineOrderId {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let Path(text) = Path::<String>::from_request_parts(parts, state)
            .await
            .map_err(|e| {
                ApiError::InvalidField(format!("The path is not valid: {}", e.body_text()))
            })?;
        text.parse::<i64>()
            .ok()
            .filter(|id| *id > 0)
            .map(OnlineOrderId)
            .ok_or_else(|| {
                ApiError::InvalidField(format!(
                    "the online order id must be a positive whole number (BIFIT's order id), not '{text}'"
                ))
            })
    }
}

/// The optional body of both endpoints: `{"cardId": "…"}`, or nothing.
fn caller_card(raw: Raw, limit: usize) -> ApiResult<Option<String>> {
    if matches!(&raw, Ok(bytes) if bytes.iter().all(u8::is_ascii_whitespace)) {
        return Ok(None);
    }
    let body = input::object(raw, limit)?;
    let fields = Fields::new(&body, "");
    fields.only(&["cardId"])?;
    fields.string("cardId", MAX_CARD_ID)
}

/// `POST /pos/bifit/v1/online-orders/{id}/discounts` → the discount body (as Papaya's).
/// The order is then tracked until BIFIT reports a final status.
#[utoipa::path(
    post,
    path = "/pos/bifit/v1/online-orders/{id}/discounts",
    operation_id = "bifitDiscounts",
    tag = "pos",
    security(("posToken" = [])),
    params(("id" = i64, Path, description = "The BIFIT online order id")),
    request_body(content = crate::http::openapi::BifitCallerCard, description = "Optional: {cardId} when the till knows the card"),
    responses(
        (status = 200, description = "The discounts (as Papaya's answer); the order is then followed to a final status", body = crate::http::openapi::DiscountResponseDoc),
        (status = 400, description = "Bad input (the message names the field); 3 when no card matches", body = crate::http::openapi::ErrorDoc),
        crate::http::openapi::Unauthorized,
        (status = 404, description = "Not found: no connector, or BIFIT has no such order (9)", body = crate::http::openapi::ErrorDoc),
        crate::http::openapi::Conflict,
        crate::http::openapi::TooLarge,
        (status = 502, description = "BIFIT's API failed (12)", body = crate::http::openapi::ErrorDoc),
    ),
)]
pub async fn discounts(
    State(state): State<AppState>,
    PosMerchant(merchant): PosMerchant,
    OnlineOrderId(id): OnlineOrderId,
    raw: Raw,
) -> ApiResult<Json<DiscountResponse>> {
    let caller = caller_card(raw, state.settings().max_body_bytes)?;
    let response = state
        .bifit_sync()
        .discounts(&merchant.id, id, caller.as_deref())
        .await?;
    Ok(Json(response))
}

/// `POST /pos/bifit/v1/online-orders/{id}/sync` → a [`SyncReport`] (200 whatever the
/// status; see `outcome`).
#[utoipa::path(
    post,
    path = "/pos/bifit/v1/online-orders/{id}/sync",
    operation_id = "bifitSync",
    tag = "pos",
    security(("posToken" = [])),
    params(("id" = i64, Path, description = "The BIFIT online order id")),
    request_body(content = crate::http::openapi::BifitCallerCard, description = "Optional: {cardId}"),
    responses(
        (status = 200, description = "What the sync did: recorded, already_recorded, voided or pending", body = SyncReport),
        (status = 400, description = "Bad input (the message names the field); 3 when no card matches", body = crate::http::openapi::ErrorDoc),
        crate::http::openapi::Unauthorized,
        (status = 404, description = "Not found: no connector, or BIFIT has no such order (9)", body = crate::http::openapi::ErrorDoc),
        crate::http::openapi::Conflict,
        crate::http::openapi::TooLarge,
        (status = 502, description = "BIFIT's API failed (12)", body = crate::http::openapi::ErrorDoc),
    ),
)]
pub async fn sync(
    State(state): State<AppState>,
    PosMerchant(merchant): PosMerchant,
    OnlineOrderId(id): OnlineOrderId,
    raw: Raw,
) -> ApiResult<Json<SyncReport>> {
    let caller = caller_card(raw, state.settings().max_body_bytes)?;
    let report = state
        .bifit_sync()
        .sync(&merchant.id, id, caller.as_deref())
        .await?;
    Ok(Json(report))
}
