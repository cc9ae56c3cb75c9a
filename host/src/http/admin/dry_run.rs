//! Dry-run: any stored version (active or not) on a bill, exactly as the till would get
//! it, with what the run cost and logged. Records nothing: no evaluation log row, no card
//! change, no audit row.
//!
//! `order` is a Papaya endpoint-1 body; its errors keep Papaya's ids, with the field named
//! under `order.` (`order.total must not be negative`). `card` is an inline card (it need
//! not exist; read-only fields such as `visits` may be set for a what-if); without it the
//! order's `cardId` is looked up, and an unknown one runs with a card with nothing on it
//! (`cardSource: "unknown"`). `config` replaces the merchant's config for this run.

use axum::Json;
use axum::extract::State;
use serde::Serialize;
use serde_json::{Map, Value};

use super::cards::{self, READ_ONLY, SETTABLE};
use super::input::{self, Fields, Raw};
use super::params::{self, Params};
use crate::http::auth::MerchantAuth;
use crate::http::error::{ApiError, ApiResult};
use crate::model::Card;
use crate::money::DiscountResponse;
use crate::papaya::{self, PapayaError};
use crate::policy::sandbox::LogLine;
use crate::policy_config;
use crate::server::AppState;
use crate::service::whatif::{DryRunCard, DryRunResult};

#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DryRun {
    pub version: i64,
    /// What endpoint 1 would answer.
    #[schema(value_type = crate::http::openapi::DiscountResponseDoc)]
    pub response: DiscountResponse,
    /// `answer` or the failure's name (`trap`, `out_of_fuel`, …).
    #[schema(value_type = String)]
    pub outcome: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failure: Option<String>,
    pub fuel_used: u64,
    pub peak_memory_bytes: usize,
    pub duration_micros: u64,
    pub logs: Vec<LogLine>,
    pub logs_dropped: u32,
    /// The card the policy saw.
    pub card: Card,
    /// `inline` (from the request), `stored` (the merchant's card) or `unknown`.
    #[schema(value_type = String)]
    pub card_source: &'static str,
    /// `request` or `merchant`.
    #[schema(value_type = String)]
    pub config_source: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// `POST /admin/v1/merchants/{m}/policies/{v}/dry-run` `{order, card?, config?}`
#[utoipa::path(
    post,
    path = "/admin/v1/merchants/{m}/policies/{v}/dry-run",
    operation_id = "dryRunPolicy",
    tag = "policies",
    security(("apiKey" = [])),
    params(
        crate::http::openapi::MerchantPath,
        ("v" = i64, Path, description = "The policy version"),
    ),
    request_body(content = crate::http::openapi::DryRunRequest, description = "{order (a Papaya discount request), card?, config?}"),
    responses(
        (status = 200, description = "What the till would get, and what the run cost; nothing recorded", body = DryRun),
        crate::http::openapi::BadInput,
        crate::http::openapi::Unauthorized,
        crate::http::openapi::Forbidden,
        crate::http::openapi::NotFound,
        crate::http::openapi::InvalidPolicy,
        crate::http::openapi::TooLarge,
    ),
)]
pub async fn dry_run(
    State(state): State<AppState>,
    MerchantAuth(merchant): MerchantAuth,
    params: Params,
    raw: Raw,
) -> ApiResult<Json<DryRun>> {
    let version = params.version()?;
    let body = input::object(raw, state.settings().max_body_bytes)?;
    let fields = Fields::new(&body, "");
    fields.only(&["order", "card", "config"])?;
    let query = order(fields.get("order"))?;
    crate::http::papaya::ids_within_bounds("order.", &query.card_id, &query.order)?;
    let config = run_config(&fields)?;
    let card = match fields.get("card") {
        Some(Value::Object(map)) => DryRunCard::Inline(inline_card(map, &query.card_id)?),
        Some(other) => return Err(not_an_object("card", other)),
        None => DryRunCard::Stored(query.card_id),
    };
    let run = state
        .whatif()
        .dry_run(&merchant.id, version, query.order, card, config)
        .await?;
    let DryRunResult {
        decision,
        card,
        card_source,
        config_source,
        note,
    } = run;
    Ok(Json(DryRun {
        version,
        outcome: decision.outcome(),
        failure: decision.failure.as_ref().map(ToString::to_string),
        response: decision.response,
        fuel_used: decision.report.fuel_used,
        peak_memory_bytes: decision.report.peak_memory_bytes,
        duration_micros: u64::try_from(decision.report.duration.as_micros()).unwrap_or(u64::MAX),
        logs: decision.report.logs,
        logs_dropped: decision.report.logs_dropped,
        card,
        card_source,
        config_source: config_source.as_str(),
        note,
    }))
}

/// The request's `config` object for a what-if (validated like a `PUT policy-config`),
/// or `None` to run with the merchant's own.
pub(super) fn run_config(fields: &Fields<'_>) -> ApiResult<Option<String>> {
    match fields.get("config") {
        None => Ok(None),
        Some(Value::Object(map)) => Ok(Some(config(map)?)),
        Some(other) => Err(not_an_object("config", other)),
    }
}

pub(super) fn not_an_object(name: &str, value: &Value) -> ApiError {
    ApiError::InvalidField(format!(
        "{name} must be a JSON object, not {}",
        input::kind(value)
    ))
}

/// The bill, parsed as endpoint 1 parses it, with errors named under `order.`.
pub(super) fn order(value: Option<&Value>) -> Result<papaya::DiscountQuery, ApiError> {
    let value = value.ok_or_else(|| {
        ApiError::InvalidField("order is required: a Papaya discount request body".into())
    })?;
    if !value.is_object() {
        return Err(not_an_object("order", value));
    }
    let bytes = serde_json::to_vec(value).map_err(|e| ApiError::Internal(e.into()))?;
    papaya::parse_discount_query(&bytes).map_err(|error| {
        ApiError::Papaya(match error {
            PapayaError::MissingField { field } => PapayaError::MissingField {
                field: format!("order.{field}"),
            },
            PapayaError::InvalidField { field, problem } => PapayaError::InvalidField {
                field: format!("order.{field}"),
                problem,
            },
            other => other,
        })
    })
}

fn config(map: &Map<String, Value>) -> Result<String, ApiError> {
    let text = Value::Object(map.clone()).to_string();
    policy_config::validate(&text).map_err(|e| ApiError::InvalidField(format!("config: {e}")))?;
    Ok(text)
}

/// An inline card: the settable fields and, for a what-if, the ledger's too.
pub(super) fn inline_card(map: &Map<String, Value>, order_card: &str) -> Result<Card, ApiError> {
    let fields = Fields::new(map, "card");
    let allowed: Vec<&str> = SETTABLE.iter().chain(READ_ONLY).copied().collect();
    fields.only(&allowed)?;
    let identity = cards::identity(&fields, None)?;
    let card_id = fields.string("cardId", params::MAX_CARD_ID)?;
    let visits = match fields.integer("visits")? {
        None => 0,
        Some(v) => u32::try_from(v).map_err(|_| {
            ApiError::InvalidField(format!("card.visits must be from 0 to {}", u32::MAX))
        })?,
    };
    let total_spent = fields
        .non_negative_decimal("totalSpent")?
        .unwrap_or_default();
    if !rabat_domain::limits::amount_in_range(total_spent) {
        return Err(ApiError::InvalidField(format!(
            "card.totalSpent {}",
            rabat_domain::limits::amount_problem()
        )));
    }
    Ok(Card {
        customer_id: identity.customer_id,
        name: identity.name,
        tier: identity.tier,
        tags: identity.tags,
        points: identity.points.unwrap_or(0),
        visits,
        total_spent,
        first_visit: fields.integer("firstVisit")?,
        last_visit: fields.integer("lastVisit")?,
        ..Card::new(card_id.as_deref().unwrap_or(order_card))
    })
}
