//! Papaya POS: endpoint 1 (the discount for an open bill) and endpoint 2 (record a
//! closed bill on the card, exactly once). Bodies and errors follow Papaya's own page;
//! the flows themselves are the till service's.

use axum::Json;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use bytes::Bytes;
use sha2::{Digest, Sha256};

use super::auth::PosMerchant;
use super::body;
use super::error::{ApiError, ApiResult};
use super::openapi::MAX_POS_ID;
use crate::model::{Order, Pos};
use crate::money::DiscountResponse;
use crate::papaya::{self, PapayaError, TransactionAck};
use crate::server::AppState;
use crate::service::CompletedBill;

/// `POST /pos/papaya/v1/discounts`
#[utoipa::path(
    post,
    path = "/pos/papaya/v1/discounts",
    operation_id = "papayaDiscounts",
    tag = "pos",
    security(("posToken" = [])),
    request_body(content = crate::http::openapi::PapayaDiscountRequest, description = "The open bill"),
    responses(
        (status = 200, description = "The discounts to apply; none, with a short cashier message, when the policy failed", body = crate::http::openapi::DiscountResponseDoc),
        crate::http::openapi::BadInput,
        crate::http::openapi::Unauthorized,
        crate::http::openapi::TooLarge,
    ),
)]
pub async fn discounts(
    State(state): State<AppState>,
    PosMerchant(merchant): PosMerchant,
    raw: Result<Bytes, BytesRejection>,
) -> ApiResult<Json<DiscountResponse>> {
    let raw = body::bytes(raw, state.settings().max_body_bytes)?;
    let query = papaya::parse_discount_query(&raw)?;
    ids_within_bounds("", &query.card_id, &query.order)?;
    let response = state
        .till()
        .discount_for_card(&merchant.id, query.order, &query.card_id)
        .await?;
    Ok(Json(response))
}

/// `POST /pos/papaya/v1/transactions`
#[utoipa::path(
    post,
    path = "/pos/papaya/v1/transactions",
    operation_id = "papayaTransactions",
    tag = "pos",
    security(("posToken" = [])),
    request_body(content = crate::http::openapi::PapayaTransaction, description = "The closed bill; recorded once per orderId"),
    responses(
        (status = 200, description = "Recorded (or already recorded with the same data)", body = crate::papaya::TransactionAck),
        crate::http::openapi::BadInput,
        crate::http::openapi::Unauthorized,
        crate::http::openapi::Conflict,
        crate::http::openapi::TooLarge,
    ),
)]
pub async fn transactions(
    State(state): State<AppState>,
    PosMerchant(merchant): PosMerchant,
    raw: Result<Bytes, BytesRejection>,
) -> ApiResult<Json<TransactionAck>> {
    let raw = body::bytes(raw, state.settings().max_body_bytes)?;
    let completed = papaya::parse_order_completed(&raw)?;
    ids_within_bounds("", &completed.card_id, &completed.order)?;
    // Parsing succeeded, so the body is a JSON object; its canonical form (keys sorted,
    // numbers as sent) tells an honest retry from a different bill under the same id.
    let request: serde_json::Value =
        serde_json::from_slice(&raw).map_err(|e| ApiError::MalformedJson(e.to_string()))?;
    let request_hash = hex::encode(Sha256::digest(request.to_string().as_bytes()));
    let order = completed.order;
    let order_id = order.order_id.clone();
    let bill = CompletedBill {
        occurred_at: completed.completed.or(order.updated).or(order.created),
        order,
        request_hash,
        pos: Pos::Papaya,
        request: Some(request),
        ledger_order_id: None,
    };
    state
        .till()
        .record_for_card(&merchant.id, &completed.card_id, bill)
        .await?;
    Ok(Json(TransactionAck::new(order_id)))
}

/// The ids of a Papaya bill (`orderId`, `cardId`, each line's `productId`) are at most
/// [`MAX_POS_ID`] characters, as the OpenAPI document says: 400, id 7, naming the field
/// (under `prefix`, `order.` in a dry-run).
pub(crate) fn ids_within_bounds(prefix: &str, card_id: &str, order: &Order) -> ApiResult<()> {
    let too_long = |field: String| {
        ApiError::Papaya(PapayaError::InvalidField {
            field,
            problem: format!("must be at most {MAX_POS_ID} characters"),
        })
    };
    if order.order_id.chars().count() > MAX_POS_ID {
        return Err(too_long(format!("{prefix}orderId")));
    }
    if card_id.chars().count() > MAX_POS_ID {
        return Err(too_long(format!("{prefix}cardId")));
    }
    match order
        .items
        .iter()
        .position(|item| item.product_id.chars().count() > MAX_POS_ID)
    {
        Some(index) => Err(too_long(format!("{prefix}orderItems[{index}].productId"))),
        None => Ok(()),
    }
}
