//! Loyalty cards. The merchant sets a card's identity (customerId, name, tier, tags) and
//! may set its points balance; visits, total spent and visit times are the ledger's and
//! cannot be set. Every points change — a balance set by PUT or a `POST …/points` — is a
//! ledger adjustment written with the card in one transaction, never an in-place edit.
//!
//! PUT replaces the identity fields (left out = cleared) but keeps the balance when
//! `points` is left out (the balance column is then not written at all), so renaming a
//! card can neither reset its points nor undo points added while it runs.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use rabat_domain::clock::now_ms;
use serde::Serialize;
use serde_json::json;

use super::input::{self, Fields, Raw};
use super::params::{self, Params, QueryParams};
use crate::http::auth::MerchantAuth;
use crate::http::error::{ApiError, ApiResult};
use crate::model::Card;
use crate::server::AppState;
use crate::service::Actor;
use crate::store::{LedgerEntry, Page, ReleasedHolds, UpsertedCard};

/// A card as the admin API shows it: the card, and the points its open orders hold.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CardView {
    #[serde(flatten)]
    pub card: Card,
    /// Points held for the card's open orders (offered at a till as a discount that costs
    /// points, until the bill completes or the hold expires): part of `points`, but not
    /// available to the card's other orders.
    pub held_points: i64,
}

impl CardView {
    async fn of(state: &AppState, merchant: &str, card: Card) -> ApiResult<CardView> {
        let held_points = state
            .store()
            .held_points(merchant, &card.card_id, now_ms())
            .await?;
        Ok(CardView { card, held_points })
    }
}

/// Fields a merchant may set on a card.
pub const SETTABLE: &[&str] = &["cardId", "customerId", "name", "tier", "tags", "points"];
/// Fields kept by the ledger.
pub const READ_ONLY: &[&str] = &["visits", "totalSpent", "firstVisit", "lastVisit"];
pub(crate) const MAX_TEXT: usize = 200;
// The same bounds a policy's card changes are held to (`service::till`).
const MAX_TIER: usize = rabat_domain::limits::MAX_TIER_CHARS;
const MAX_TAGS: usize = rabat_domain::limits::MAX_CARD_TAGS;
pub(crate) const MAX_REASON: usize = 500;
/// The largest balance a merchant may set and the largest adjustment it may make at once
/// (10¹²): far beyond any real loyalty balance, and far enough from `i64::MAX` that no
/// sequence of adjustments a merchant could make overflows a balance.
pub const MAX_POINTS: i64 = 1_000_000_000_000;

/// What a card body sets (read by [`identity`], shared with the dry-run's inline card).
pub struct Identity {
    pub customer_id: Option<String>,
    pub name: Option<String>,
    pub tier: Option<String>,
    pub tags: Vec<String>,
    pub points: Option<i64>,
}

/// Reads the settable fields; a `cardId` in the body must be `card_id`, if given.
pub fn identity(fields: &Fields<'_>, card_id: Option<&str>) -> Result<Identity, ApiError> {
    let given = fields.string("cardId", params::MAX_CARD_ID)?;
    if let (Some(wanted), Some(given)) = (card_id, given)
        && given != wanted
    {
        return Err(ApiError::InvalidField(format!(
            "{} is '{given}' but the path names card '{wanted}'; leave it out or make them match",
            fields.name("cardId")
        )));
    }
    let points = fields.integer("points")?;
    if points.is_some_and(|p| p < 0) {
        return Err(ApiError::InvalidField(format!(
            "{} must not be negative",
            fields.name("points")
        )));
    }
    if points.is_some_and(|p| p > MAX_POINTS) {
        return Err(ApiError::InvalidField(format!(
            "{} must be at most {MAX_POINTS}",
            fields.name("points")
        )));
    }
    Ok(Identity {
        customer_id: fields.string("customerId", rabat_domain::limits::MAX_CUSTOMER_ID_CHARS)?,
        name: fields.string("name", MAX_TEXT)?,
        tier: fields.string("tier", MAX_TIER)?,
        tags: fields
            .strings("tags", MAX_TAGS, rabat_domain::limits::MAX_TAG_CHARS)?
            .unwrap_or_default(),
        points,
    })
}

/// `PUT /admin/v1/merchants/{m}/cards/{cardId}` → 201 with the card when created, 200
/// when updated.
#[utoipa::path(
    put,
    path = "/admin/v1/merchants/{m}/cards/{cardId}",
    operation_id = "putCard",
    tag = "cards",
    security(("apiKey" = [])),
    params(
        crate::http::openapi::MerchantPath,
        ("cardId" = String, Path, description = "The card id"),
    ),
    request_body(content = crate::http::openapi::CardRequest, description = "{customerId?, name?, tier?, tags?, points?}; points are set through a ledger row"),
    responses(
        (status = 200, description = "Updated", body = CardView),
        (status = 201, description = "Created", body = CardView),
        crate::http::openapi::BadInput,
        crate::http::openapi::Unauthorized,
        crate::http::openapi::Forbidden,
        crate::http::openapi::TooLarge,
    ),
)]
pub async fn upsert(
    State(state): State<AppState>,
    MerchantAuth(merchant): MerchantAuth,
    params: Params,
    raw: Raw,
) -> ApiResult<(StatusCode, Json<CardView>)> {
    let card_id = params.card_id()?;
    let body = input::object(raw, state.settings().max_body_bytes)?;
    let fields = Fields::new(&body, "");
    fields.refuse(
        READ_ONLY,
        "is kept by the ledger and cannot be set; leave it out",
    )?;
    fields.only(SETTABLE)?;
    let identity = identity(&fields, Some(card_id))?;
    let card = Card {
        customer_id: identity.customer_id,
        name: identity.name,
        tier: identity.tier,
        tags: identity.tags,
        ..Card::new(card_id)
    };
    let actor = Actor::merchant(&merchant.id);
    let audit = |done: &UpsertedCard| {
        let stored = &done.card;
        let action = if done.created {
            "card.create"
        } else {
            "card.update"
        };
        let detail = json!({
            "cardId": stored.card_id, "customerId": stored.customer_id, "name": stored.name,
            "tier": stored.tier, "tags": stored.tags, "points": stored.points,
            "previousPoints": done.previous_points,
        });
        actor.did(action, detail)
    };
    // Without `points` the store leaves the balance column alone (no read-modify-write
    // here), so points a till or an adjustment adds meanwhile are never set back.
    let done = state
        .store()
        .upsert_card(&merchant.id, &card, identity.points, audit)
        .await?;
    let status = if done.created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    let view = CardView::of(&state, &merchant.id, done.card).await?;
    Ok((status, Json(view)))
}

/// `GET /admin/v1/merchants/{m}/cards/{cardId}`
#[utoipa::path(
    get,
    path = "/admin/v1/merchants/{m}/cards/{cardId}",
    operation_id = "getCard",
    tag = "cards",
    security(("apiKey" = [])),
    params(
        crate::http::openapi::MerchantPath,
        ("cardId" = String, Path, description = "The card id"),
    ),
    responses(
        (status = 200, description = "The card", body = CardView),
        crate::http::openapi::Unauthorized,
        crate::http::openapi::Forbidden,
        crate::http::openapi::NotFound,
        crate::http::openapi::BadInput,
    ),
)]
pub async fn show(
    State(state): State<AppState>,
    MerchantAuth(merchant): MerchantAuth,
    params: Params,
) -> ApiResult<Json<CardView>> {
    let card_id = params.card_id()?;
    let card = state
        .store()
        .card(&merchant.id, card_id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("card '{card_id}' not found")))?;
    Ok(Json(CardView::of(&state, &merchant.id, card).await?))
}

/// `DELETE /admin/v1/merchants/{m}/cards/{cardId}` → 204; the card's ledger rows stay.
#[utoipa::path(
    delete,
    path = "/admin/v1/merchants/{m}/cards/{cardId}",
    operation_id = "deleteCard",
    tag = "cards",
    security(("apiKey" = [])),
    params(
        crate::http::openapi::MerchantPath,
        ("cardId" = String, Path, description = "The card id"),
    ),
    responses(
        (status = 204, description = "Deleted; its ledger rows stay"),
        crate::http::openapi::Unauthorized,
        crate::http::openapi::Forbidden,
        crate::http::openapi::NotFound,
        crate::http::openapi::BadInput,
    ),
)]
pub async fn remove(
    State(state): State<AppState>,
    MerchantAuth(merchant): MerchantAuth,
    params: Params,
) -> ApiResult<StatusCode> {
    let card_id = params.card_id()?;
    let actor = Actor::merchant(&merchant.id);
    let audit = |_: &()| actor.did("card.delete", json!({"cardId": card_id}));
    state
        .store()
        .delete_card(&merchant.id, card_id, audit)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /admin/v1/merchants/{m}/cards?limit=&cursor=` → `{items, nextCursor}` by card id;
/// with `customerId=` only that customer's cards, paged the same way.
#[utoipa::path(
    get,
    path = "/admin/v1/merchants/{m}/cards",
    operation_id = "listCards",
    tag = "cards",
    security(("apiKey" = [])),
    params(
        crate::http::openapi::MerchantPath,
        ("customerId" = Option<String>, Query, description = "Only this customer's cards (paged like the full list)"),
        ("limit" = Option<u32>, Query, description = "Rows per page, 1–500 (default 50)"),
        ("cursor" = Option<String>, Query, description = "The previous page's nextCursor (of the same query)"),
    ),
    responses(
        (status = 200, description = "One page of cards, by card id, each with its held points", body = crate::store::Page<CardView>),
        crate::http::openapi::BadInput,
        crate::http::openapi::Unauthorized,
        crate::http::openapi::Forbidden,
    ),
)]
pub async fn list(
    State(state): State<AppState>,
    MerchantAuth(merchant): MerchantAuth,
    query: QueryParams,
) -> ApiResult<Json<Page<CardView>>> {
    query.only(&["customerId", "limit", "cursor"])?;
    // Checked before anything is read: what is sent is valid or refused, on either listing.
    let (limit, cursor) = (query.limit()?, query.cursor()?);
    let store = state.store();
    let page = match query.card_id("customerId")? {
        Some(customer) => {
            store
                .list_customer_cards(&merchant.id, customer, limit, cursor)
                .await?
        }
        None => store.list_cards(&merchant.id, limit, cursor).await?,
    };
    // The page's held points in one query over its id range (cards come in id order).
    let held = match (page.items.first(), page.items.last()) {
        (Some(first), Some(last)) => store
            .held_points_between(&merchant.id, &first.card_id, &last.card_id, now_ms())
            .await?
            .into_iter()
            .collect::<std::collections::HashMap<_, _>>(),
        _ => Default::default(),
    };
    Ok(Json(Page {
        items: page
            .items
            .into_iter()
            .map(|card| CardView {
                held_points: held.get(&card.card_id).copied().unwrap_or(0),
                card,
            })
            .collect(),
        next_cursor: page.next_cursor,
    }))
}

/// `POST /admin/v1/merchants/{m}/cards/{cardId}/points` `{delta, reason}` → 201 with the
/// ledger row (`pointsBalance` is the balance after it).
#[utoipa::path(
    post,
    path = "/admin/v1/merchants/{m}/cards/{cardId}/points",
    operation_id = "adjustPoints",
    tag = "cards",
    security(("apiKey" = [])),
    params(
        crate::http::openapi::MerchantPath,
        ("cardId" = String, Path, description = "The card id"),
    ),
    request_body(content = crate::http::openapi::PointsAdjustment, description = "{delta, reason}"),
    responses(
        (status = 201, description = "The ledger row; pointsBalance is the balance after it", body = crate::store::LedgerEntry),
        crate::http::openapi::BadInput,
        crate::http::openapi::Unauthorized,
        crate::http::openapi::Forbidden,
        crate::http::openapi::NotFound,
        crate::http::openapi::TooLarge,
    ),
)]
pub async fn adjust(
    State(state): State<AppState>,
    MerchantAuth(merchant): MerchantAuth,
    params: Params,
    raw: Raw,
) -> ApiResult<(StatusCode, Json<LedgerEntry>)> {
    let card_id = params.card_id()?;
    let body = input::object(raw, state.settings().max_body_bytes)?;
    let fields = Fields::new(&body, "");
    fields.only(&["delta", "reason"])?;
    let delta = fields.required_integer("delta")?;
    if delta == 0 {
        return Err(ApiError::InvalidField("delta must not be zero".into()));
    }
    if delta.unsigned_abs() > MAX_POINTS.unsigned_abs() {
        return Err(ApiError::InvalidField(format!(
            "delta must be between -{MAX_POINTS} and {MAX_POINTS}"
        )));
    }
    let reason = fields.required_string("reason", MAX_REASON)?;
    let actor = Actor::merchant(&merchant.id);
    let audit = |entry: &LedgerEntry| {
        let detail = json!({
            "cardId": card_id, "delta": delta, "reason": reason,
            "pointsBalance": entry.points_balance, "ledgerId": entry.id,
        });
        actor.did("card.points", detail)
    };
    let entry = state
        .store()
        .adjust_points(&merchant.id, card_id, delta, &reason, audit)
        .await?;
    Ok((StatusCode::CREATED, Json(entry)))
}

/// `DELETE /admin/v1/merchants/{m}/cards/{cardId}/holds` → 200 `{orders, releasedPoints}`:
/// releases every hold of the card (points offered at a till for orders that never
/// completed), so they are available again now rather than when the holds expire. A bill
/// completed afterwards for one of those orders redeems nothing. Audited as
/// `card.holds_release`.
#[utoipa::path(
    delete,
    path = "/admin/v1/merchants/{m}/cards/{cardId}/holds",
    operation_id = "releaseCardHolds",
    tag = "cards",
    security(("apiKey" = [])),
    params(
        crate::http::openapi::MerchantPath,
        ("cardId" = String, Path, description = "The card id"),
    ),
    responses(
        (status = 200, description = "The holds released and the points they kept", body = ReleasedHolds),
        crate::http::openapi::BadInput,
        crate::http::openapi::Unauthorized,
        crate::http::openapi::Forbidden,
        crate::http::openapi::NotFound,
    ),
)]
pub async fn release_holds(
    State(state): State<AppState>,
    MerchantAuth(merchant): MerchantAuth,
    params: Params,
) -> ApiResult<Json<ReleasedHolds>> {
    let card_id = params.card_id()?;
    let actor = Actor::merchant(&merchant.id);
    let audit = |released: &ReleasedHolds| {
        let detail = json!({
            "cardId": card_id, "orders": released.orders,
            "releasedPoints": released.released_points,
        });
        actor.did("card.holds_release", detail)
    };
    let released = state
        .store()
        .release_card_holds(&merchant.id, card_id, now_ms(), audit)
        .await?;
    Ok(Json(released))
}
