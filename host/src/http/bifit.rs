//! BIFIT Kassa (a pull POS): endpoint 1 fetches the online order from BIFIT and answers
//! the discount; the sync endpoint fetches it and records it once it is `FINISHED`. Both
//! answer in the same shapes and with the same error ids as Papaya's; a BIFIT failure is
//! 502 (id 12) naming what failed. See the README's "BIFIT Kassa" section.

use axum::Json;
use axum::extract::{FromRequestParts, Path, State};
use axum::http::request::Parts;
use serde::Serialize;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::admin::input::{self, Fields, Raw};
use super::admin::params::MAX_CARD_ID;
use super::auth::PosMerchant;
use super::error::{ApiError, ApiResult};
use super::papaya::{accrue_for, evaluate_for, now_ms};
use crate::bifit::{BifitError, CardLookup, Connector, Fetched, Finality, bump, ledger_order_id};
use crate::model::{Card, Pos};
use crate::money::DiscountResponse;
use crate::server::AppState;
use crate::store::{Entity, LedgerEntry, Recorded, StoreError, TrackState, TransactionRecord};

impl From<BifitError> for ApiError {
    fn from(error: BifitError) -> Self {
        match error {
            BifitError::NotConfigured | BifitError::OrderNotFound { .. } => {
                ApiError::NotFound(error.to_string())
            }
            BifitError::Unauthorized { .. }
            | BifitError::Refresh { .. }
            | BifitError::Timeout { .. }
            | BifitError::Network { .. }
            | BifitError::Status { .. }
            | BifitError::Malformed { .. } => ApiError::Upstream(error.to_string()),
            BifitError::Secrets(e) => ApiError::Internal(e.into()),
            BifitError::Store(e) => e.into(),
        }
    }
}

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
#[utoipa::path(post, path = "/pos/bifit/v1/online-orders/{id}/discounts", tag = "pos", security(("posToken" = [])), params(("id" = i64, Path, description = "The BIFIT online order id")), request_body(content = serde_json::Value, description = "Optional: {cardId} when the till knows the card"), responses((status = 200, description = "The discounts (as Papaya's answer); the order is then followed to a final status", body = crate::http::openapi::DiscountResponseDoc), (status = 400, description = "Bad input (the message names the field); 3 when no card matches", body = crate::http::openapi::ErrorDoc), (status = 401, description = "No or unknown token (4)", body = crate::http::openapi::ErrorDoc), (status = 404, description = "Not found: no connector, or BIFIT has no such order (9)", body = crate::http::openapi::ErrorDoc), (status = 409, description = "Conflicts with what is recorded (8)", body = crate::http::openapi::ErrorDoc), (status = 413, description = "Body too large (5)", body = crate::http::openapi::ErrorDoc), (status = 502, description = "BIFIT's API failed (12)", body = crate::http::openapi::ErrorDoc)))]
pub async fn discounts(
    State(state): State<AppState>,
    PosMerchant(merchant): PosMerchant,
    OnlineOrderId(id): OnlineOrderId,
    raw: Raw,
) -> ApiResult<Json<DiscountResponse>> {
    let caller = caller_card(raw, state.settings().max_body_bytes)?;
    let mut connector = Connector::load(&state, &merchant.id).await?;
    let fetched = connector.fetch(&state, id).await?;
    let store = state.store();
    let tracked = store.bifit_order(&merchant.id, &id.to_string()).await?;
    let known = tracked.and_then(|t| t.card_id);
    let card = card_for(
        &state,
        &connector,
        &fetched,
        caller.as_deref(),
        known.as_deref(),
    )
    .await?;
    let card_id = card.card_id.clone();
    let response = evaluate_for(&state, &merchant.id, fetched.to_order(), card).await?;
    // Tracking must not block the till: a failure here is logged, the answer stands.
    let status = fetched.order.current_status_type.to_string();
    match store
        .track_bifit_order(&merchant.id, &id.to_string(), Some(&card_id), &status)
        .await
    {
        Ok(true) => bump(&state.bifit().counters.tracked),
        Ok(false) => {}
        Err(error) => {
            tracing::error!(%error, merchant = merchant.id, order = id, "could not track the BIFIT order");
        }
    }
    Ok(Json(response))
}

/// What a sync did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SyncOutcome {
    /// `FINISHED`, recorded now.
    Recorded,
    /// `FINISHED`, recorded before (nothing changed).
    AlreadyRecorded,
    /// `REFUSED` or `DELETED`: nothing recorded, no longer tracked.
    Voided,
    /// Not final yet: nothing recorded; the order is tracked.
    Pending,
}

/// The sync endpoint's answer.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SyncReport {
    pub online_order_id: i64,
    /// BIFIT's `currentStatusType`.
    pub status: String,
    pub outcome: SyncOutcome,
    pub message: String,
    /// The ledger row, when recorded (now or before).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub transaction: Option<LedgerEntry>,
}

/// `POST /pos/bifit/v1/online-orders/{id}/sync` → a [`SyncReport`] (200 whatever the
/// status; see `outcome`).
#[utoipa::path(post, path = "/pos/bifit/v1/online-orders/{id}/sync", tag = "pos", security(("posToken" = [])), params(("id" = i64, Path, description = "The BIFIT online order id")), request_body(content = serde_json::Value, description = "Optional: {cardId}"), responses((status = 200, description = "What the sync did: recorded, already_recorded, voided or pending", body = SyncReport), (status = 400, description = "Bad input (the message names the field); 3 when no card matches", body = crate::http::openapi::ErrorDoc), (status = 401, description = "No or unknown token (4)", body = crate::http::openapi::ErrorDoc), (status = 404, description = "Not found: no connector, or BIFIT has no such order (9)", body = crate::http::openapi::ErrorDoc), (status = 409, description = "Conflicts with what is recorded (8)", body = crate::http::openapi::ErrorDoc), (status = 413, description = "Body too large (5)", body = crate::http::openapi::ErrorDoc), (status = 502, description = "BIFIT's API failed (12)", body = crate::http::openapi::ErrorDoc)))]
pub async fn sync(
    State(state): State<AppState>,
    PosMerchant(merchant): PosMerchant,
    OnlineOrderId(id): OnlineOrderId,
    raw: Raw,
) -> ApiResult<Json<SyncReport>> {
    let caller = caller_card(raw, state.settings().max_body_bytes)?;
    sync_order(&state, &merchant.id, id, caller.as_deref())
        .await
        .map(Json)
}

/// Fetches online order `id` and acts on its status: records a `FINISHED` order exactly
/// once (ledger order id `bifit:<id>`), drops a `REFUSED`/`DELETED` one, tracks any other.
/// Shared by the sync endpoint and the follower.
pub async fn sync_order(
    state: &AppState,
    merchant: &str,
    id: i64,
    caller: Option<&str>,
) -> ApiResult<SyncReport> {
    let mut connector = Connector::load(state, merchant).await?;
    let fetched = connector.fetch(state, id).await?;
    let store = state.store();
    let counters = &state.bifit().counters;
    let order_key = id.to_string();
    let status = fetched.order.current_status_type.to_string();
    let report = |outcome, message: &str, transaction| SyncReport {
        online_order_id: id,
        status: status.clone(),
        outcome,
        message: message.to_owned(),
        transaction,
    };
    match fetched.order.current_status_type.finality() {
        Finality::Void => {
            store
                .finish_bifit_order(
                    merchant,
                    &order_key,
                    TrackState::Voided,
                    Some(&status),
                    None,
                )
                .await?;
            bump(&counters.voided);
            Ok(report(
                SyncOutcome::Voided,
                "The order was cancelled in BIFIT: nothing recorded, no longer followed",
                None,
            ))
        }
        Finality::Open => {
            if store
                .track_bifit_order(merchant, &order_key, caller, &status)
                .await?
            {
                bump(&counters.tracked);
            }
            Ok(report(
                SyncOutcome::Pending,
                "The order is not final yet: nothing recorded; rabat follows it until it is",
                None,
            ))
        }
        Finality::Finished => {
            let known = store
                .bifit_order(merchant, &order_key)
                .await?
                .and_then(|t| t.card_id);
            let card = card_for(state, &connector, &fetched, caller, known.as_deref()).await?;
            let recorded = record(state, merchant, &fetched, &card).await?;
            store
                .finish_bifit_order(
                    merchant,
                    &order_key,
                    TrackState::Recorded,
                    Some(&status),
                    None,
                )
                .await?;
            Ok(match recorded {
                Recorded::New(entry) => {
                    bump(&counters.recorded);
                    report(
                        SyncOutcome::Recorded,
                        "Order processed successfully",
                        Some(entry),
                    )
                }
                Recorded::Duplicate(entry) => report(
                    SyncOutcome::AlreadyRecorded,
                    "The order was already recorded; nothing changed",
                    Some(entry),
                ),
            })
        }
    }
}

/// Records a finished order on its card with the points the policy accrues. Idempotent:
/// the same order on the same card with the same total is a duplicate, anything else
/// under that order id a conflict (409, id 8).
async fn record(
    state: &AppState,
    merchant: &str,
    fetched: &Fetched,
    card: &Card,
) -> ApiResult<Recorded> {
    let order = fetched.to_order();
    let (points, points_reason, accrual_error) = accrue_for(state, merchant, &order, card).await?;
    let identity = json!({
        "pos": "bifit",
        "onlineOrderId": fetched.order.id,
        "cardId": card.card_id,
        "totalAmount": order.total.to_string(),
    });
    let record = TransactionRecord {
        order_id: ledger_order_id(fetched.order.id),
        card_id: card.card_id.clone(),
        request_hash: hex::encode(Sha256::digest(identity.to_string().as_bytes())),
        total: order.total,
        points,
        points_reason,
        occurred_at: fetched.occurred_at().unwrap_or_else(now_ms),
        pos: Pos::Bifit,
        request: Some(Value::Object(fetched.raw.clone())),
        accrual_error,
    };
    match state.store().record_transaction(merchant, &record).await {
        Ok(recorded) => Ok(recorded),
        Err(StoreError::NotFound {
            entity: Entity::Card,
            ..
        }) => Err(ApiError::CustomerNotFound),
        Err(e) => Err(e.into()),
    }
}

/// The card of a BIFIT order: the caller's `cardId`, else the one it was tracked with,
/// else (card lookup `clientId`) the card whose `customerId` is the order's `clientId`.
/// None found is Papaya's error 3.
async fn card_for(
    state: &AppState,
    connector: &Connector,
    fetched: &Fetched,
    caller: Option<&str>,
    known: Option<&str>,
) -> ApiResult<Card> {
    let store = state.store();
    let merchant = connector.merchant.as_str();
    let card_id = match (
        caller.or(known),
        connector.card_lookup,
        fetched.order.client_id,
    ) {
        (Some(card_id), _, _) => card_id.to_owned(),
        (None, CardLookup::ClientId, Some(client)) => {
            let mut cards = store
                .cards_by_customer(merchant, &client.to_string())
                .await?;
            match (cards.pop(), cards.pop()) {
                (Some(card_id), None) => card_id,
                (None, _) => return Err(ApiError::CustomerNotFound),
                (Some(a), Some(b)) => {
                    return Err(ApiError::Conflict(format!(
                        "BIFIT clientId {client} is the customerId of more than one card ({b}, {a}, …): give each card its own customerId"
                    )));
                }
            }
        }
        (None, _, _) => return Err(ApiError::CustomerNotFound),
    };
    store
        .card(merchant, &card_id)
        .await?
        .ok_or(ApiError::CustomerNotFound)
}
