//! Papaya POS: endpoint 1 (the discount for an open bill) and endpoint 2 (record a
//! closed bill on the card, exactly once). Bodies and errors follow Papaya's own page.

use axum::Json;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use bytes::Bytes;
use sha2::{Digest, Sha256};

use super::auth::PosMerchant;
use super::body;
use super::error::{ApiError, ApiResult};
use crate::decide::decide;
use crate::model::{Card, Order, Pos};
use crate::money::{DiscountResponse, NO_DISCOUNT_MESSAGE};
use crate::papaya::{self, TransactionAck};
use crate::policy::{CallInput, Failure};
use crate::server::AppState;
use crate::store::{Entity, EvaluationRecord, StoreError, TransactionRecord};

/// The least time `accrue` waits for one of its merchant's slots.
const ACCRUE_QUEUE_MIN: std::time::Duration = std::time::Duration::from_secs(2);

/// `POST /pos/papaya/v1/discounts`
#[utoipa::path(post, path = "/pos/papaya/v1/discounts", tag = "pos", security(("posToken" = [])), request_body(content = crate::http::openapi::PapayaDiscountRequestDoc, description = "The open bill"), responses((status = 200, description = "The discounts to apply; none, with a short cashier message, when the policy failed", body = crate::http::openapi::DiscountResponseDoc), (status = 400, description = "Bad input (the message names the field)", body = crate::http::openapi::ErrorDoc), (status = 401, description = "No or unknown token (4)", body = crate::http::openapi::ErrorDoc), (status = 413, description = "Body too large (5)", body = crate::http::openapi::ErrorDoc)))]
pub async fn discounts(
    State(state): State<AppState>,
    PosMerchant(merchant): PosMerchant,
    raw: Result<Bytes, BytesRejection>,
) -> ApiResult<Json<DiscountResponse>> {
    let raw = body::bytes(raw, state.settings().max_body_bytes)?;
    let query = papaya::parse_discount_query(&raw)?;
    let card = state
        .store()
        .card(&merchant.id, &query.card_id)
        .await?
        .ok_or(ApiError::CustomerNotFound)?;
    let evaluation = evaluate_for(&state, &merchant.id, query.order, card).await?;
    Ok(Json(evaluation))
}

/// Runs the merchant's active policy for a bill and logs the evaluation; any policy
/// failure gives the fail-safe answer. Shared by every POS.
pub async fn evaluate_for(
    state: &AppState,
    merchant: &str,
    order: Order,
    card: Card,
) -> ApiResult<DiscountResponse> {
    let active = match state
        .active()
        .get(state.store(), state.runtime(), merchant)
        .await
    {
        Ok(active) => active,
        Err(crate::active::LoadError::Store(e)) => return Err(e.into()),
        Err(error) => {
            tracing::error!(%error, merchant, "the active policy does not load; answering with no discount");
            let response = DiscountResponse::fail_safe(&order.currency);
            logged(
                state,
                log_record(
                    merchant,
                    None,
                    &order,
                    &card,
                    "unavailable",
                    Some(&response),
                    None,
                    0,
                    Some(error.to_string()),
                ),
            );
            return Ok(response);
        }
    };
    let Some(policy) = active.policy.clone() else {
        let response = DiscountResponse::empty(&order.currency, NO_DISCOUNT_MESSAGE);
        logged(
            state,
            log_record(
                merchant,
                None,
                &order,
                &card,
                "no_policy",
                Some(&response),
                None,
                0,
                None,
            ),
        );
        return Ok(response);
    };
    let slot = match state.admission().enter(merchant).await {
        Ok(slot) => slot,
        Err(busy) => {
            tracing::warn!(merchant, order_id = %order.order_id, %busy, "merchant saturated; answered with no discount");
            let response = DiscountResponse::fail_safe(&order.currency);
            logged(
                state,
                log_record(
                    merchant,
                    active.version,
                    &order,
                    &card,
                    "busy",
                    Some(&response),
                    None,
                    0,
                    Some(busy.to_string()),
                ),
            );
            return Ok(response);
        }
    };
    let runtime = state.runtime().clone();
    let limits = state.settings().policy_limits.clone();
    let config = active.config.clone();
    let (decision, order, card) = tokio::task::spawn_blocking(move || {
        // Held until the call is over, even if the POS hangs up meanwhile.
        let _slot = slot;
        let decision = decide(
            &runtime,
            &policy,
            CallInput {
                order: &order,
                card: Some(&card),
                config: &config,
                limits: &limits,
            },
        );
        (decision, order, card)
    })
    .await
    .map_err(|e| ApiError::Internal(e.into()))?;
    if let Some(failure) = &decision.failure {
        tracing::warn!(merchant, order_id = %order.order_id, version = active.version, %failure, "policy failed; answered with no discount");
    }
    let mut record = log_record(
        merchant,
        active.version,
        &order,
        &card,
        decision.outcome(),
        Some(&decision.response),
        Some(decision.report.fuel_used),
        u64::try_from(decision.report.duration.as_micros()).unwrap_or(u64::MAX),
        decision.failure.as_ref().map(ToString::to_string),
    );
    record.logs = serde_json::to_value(&decision.report.logs).unwrap_or_default();
    logged(state, record);
    Ok(decision.response)
}

/// Counts an endpoint-1 run in the metrics and queues it for the evaluation log.
fn logged(state: &AppState, record: EvaluationRecord) {
    state.metrics().policy_call(
        &record.merchant_id,
        "evaluate",
        &record.outcome,
        record.fuel.unwrap_or(0),
    );
    state.evaluations().record(record);
}

#[allow(clippy::too_many_arguments)]
fn log_record(
    merchant: &str,
    version: Option<i64>,
    order: &Order,
    card: &Card,
    outcome: &str,
    response: Option<&DiscountResponse>,
    fuel: Option<u64>,
    duration_us: u64,
    error: Option<String>,
) -> EvaluationRecord {
    EvaluationRecord {
        merchant_id: merchant.to_owned(),
        at: now_ms(),
        order_id: order.order_id.clone(),
        card_id: Some(card.card_id.clone()),
        policy_version: version,
        outcome: outcome.to_owned(),
        total_discount: response.map(|r| r.total_discount),
        fuel,
        duration_us,
        request: serde_json::to_value(order).unwrap_or_default(),
        card: serde_json::to_value(card).ok(),
        response: response.and_then(|r| serde_json::to_value(r).ok()),
        logs: serde_json::Value::Array(Vec::new()),
        error,
    }
}

/// `POST /pos/papaya/v1/transactions`
#[utoipa::path(post, path = "/pos/papaya/v1/transactions", tag = "pos", security(("posToken" = [])), request_body(content = crate::http::openapi::PapayaTransactionDoc, description = "The closed bill; recorded once per orderId"), responses((status = 200, description = "Recorded (or already recorded with the same data)", body = crate::papaya::TransactionAck), (status = 400, description = "Bad input (the message names the field)", body = crate::http::openapi::ErrorDoc), (status = 401, description = "No or unknown token (4)", body = crate::http::openapi::ErrorDoc), (status = 409, description = "Conflicts with what is recorded (8)", body = crate::http::openapi::ErrorDoc), (status = 413, description = "Body too large (5)", body = crate::http::openapi::ErrorDoc)))]
pub async fn transactions(
    State(state): State<AppState>,
    PosMerchant(merchant): PosMerchant,
    raw: Result<Bytes, BytesRejection>,
) -> ApiResult<Json<TransactionAck>> {
    let raw = body::bytes(raw, state.settings().max_body_bytes)?;
    let completed = papaya::parse_order_completed(&raw)?;
    // Parsing succeeded, so the body is a JSON object; its canonical form (keys sorted,
    // numbers as sent) tells an honest retry from a different bill under the same id.
    let request: serde_json::Value =
        serde_json::from_slice(&raw).map_err(|e| ApiError::MalformedJson(e.to_string()))?;
    let request_hash = hex::encode(Sha256::digest(request.to_string().as_bytes()));
    let card = state
        .store()
        .card(&merchant.id, &completed.card_id)
        .await?
        .ok_or(ApiError::CustomerNotFound)?;
    let order = completed.order;
    let (points, points_reason, accrual_error) =
        accrue_for(&state, &merchant.id, &order, &card).await?;
    let record = TransactionRecord {
        order_id: order.order_id.clone(),
        card_id: card.card_id.clone(),
        request_hash,
        total: order.total,
        points,
        points_reason,
        occurred_at: completed
            .completed
            .or(order.updated)
            .or(order.created)
            .unwrap_or_else(now_ms),
        pos: Pos::Papaya,
        request: Some(request),
        accrual_error,
    };
    match state
        .store()
        .record_transaction(&merchant.id, &record)
        .await
    {
        Ok(_) => Ok(Json(TransactionAck::new(order.order_id))),
        Err(StoreError::NotFound {
            entity: Entity::Card,
            ..
        }) => Err(ApiError::CustomerNotFound),
        Err(e) => Err(e.into()),
    }
}

/// Points for a completed bill from the active policy: 0 (with the failure noted) when
/// the policy fails, so the bill is always recorded. Shared by every POS.
pub async fn accrue_for(
    state: &AppState,
    merchant: &str,
    order: &Order,
    card: &Card,
) -> ApiResult<(i64, Option<String>, Option<String>)> {
    let active = match state
        .active()
        .get(state.store(), state.runtime(), merchant)
        .await
    {
        Ok(active) => active,
        Err(crate::active::LoadError::Store(e)) => return Err(e.into()),
        Err(error) => {
            state
                .metrics()
                .policy_call(merchant, "accrue", "unavailable", 0);
            return Ok((0, None, Some(error.to_string())));
        }
    };
    let Some(policy) = active.policy.clone() else {
        return Ok((0, None, None));
    };
    // A completed bill waits longer for a slot than a discount query: its points are at
    // stake. If the merchant stays saturated, the bill is still recorded, with 0 points
    // and the reason, like any other accrual failure.
    let wait = state.settings().merchant_queue.max(ACCRUE_QUEUE_MIN);
    let slot = match state.admission().enter_within(merchant, wait).await {
        Ok(slot) => slot,
        Err(busy) => {
            tracing::warn!(merchant, %busy, "merchant saturated; recording the bill with 0 points");
            state.metrics().policy_call(merchant, "accrue", "busy", 0);
            return Ok((0, None, Some(busy.to_string())));
        }
    };
    let runtime = state.runtime().clone();
    let limits = state.settings().policy_limits.clone();
    let config = active.config.clone();
    let (order, card) = (order.clone(), card.clone());
    let report = tokio::task::spawn_blocking(move || {
        let _slot = slot;
        runtime.accrue(
            &policy,
            CallInput {
                order: &order,
                card: Some(&card),
                config: &config,
                limits: &limits,
            },
        )
    })
    .await
    .map_err(|e| ApiError::Internal(e.into()))?;
    let outcome = report
        .result
        .as_ref()
        .map_or_else(Failure::outcome, |_| "answer");
    state
        .metrics()
        .policy_call(merchant, "accrue", outcome, report.fuel_used);
    Ok(match report.result {
        Ok(accrual) => (accrual.points, accrual.reason, None),
        Err(failure) => {
            tracing::warn!(merchant, %failure, "accrue failed; recording the bill with 0 points");
            (0, None, Some(failure.to_string()))
        }
    })
}

pub fn now_ms() -> i64 {
    let since = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    i64::try_from(since.as_millis()).unwrap_or(i64::MAX)
}
