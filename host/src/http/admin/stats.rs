//! Daily figures for the console's overview: `GET /admin/v1/merchants/{m}/stats?days=N`
//! → per UTC day, oldest first and every day present (zeros included), the endpoint-1
//! runs by outcome and the non-zero discounts answered per currency (exact sums, count).
//! Read-only; computed from the evaluation log, so it covers what retention kept.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::State;
use rust_decimal::Decimal;
use serde::Serialize;
use time::OffsetDateTime;

use super::params::QueryParams;
use crate::clock::now_ms;
use crate::http::auth::MerchantAuth;
use crate::http::error::{ApiError, ApiResult};
use crate::server::AppState;
use crate::store::stats::DAY_MS;

/// Days when `days` is not given.
pub const DEFAULT_DAYS: i64 = 14;
/// The most days one call covers.
pub const MAX_DAYS: i64 = 90;

#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Stats {
    pub days: i64,
    /// The first day covered starts here (epoch ms, 00:00 UTC).
    pub since: i64,
    /// One entry per UTC day, oldest first; today (so far) last.
    pub items: Vec<DayStats>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DayStats {
    /// `YYYY-MM-DD` (UTC).
    pub day: String,
    /// Endpoint-1 runs that day.
    pub calls: i64,
    /// Runs by outcome (`answer`, `trap`, …); outcomes with no run are left out.
    pub outcomes: BTreeMap<String, i64>,
    /// Non-zero discounts answered, per currency.
    pub discounts: Vec<DayDiscount>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DayDiscount {
    pub currency: String,
    /// The answered total discounts added up (exact).
    #[serde(with = "rust_decimal::serde::arbitrary_precision")]
    pub amount: Decimal,
    /// Runs that answered a non-zero discount.
    pub count: i64,
}

/// `GET /admin/v1/merchants/{m}/stats?days=N`
#[utoipa::path(
    get,
    path = "/admin/v1/merchants/{m}/stats",
    operation_id = "getStats",
    tag = "history",
    security(("apiKey" = [])),
    params(
        crate::http::openapi::MerchantPath,
        ("days" = Option<u32>, Query, description = "UTC days back, today included: 1–90 (default 14)"),
    ),
    responses(
        (status = 200, description = "Per UTC day, oldest first: runs by outcome and discounts per currency", body = Stats),
        crate::http::openapi::BadInput,
        crate::http::openapi::Unauthorized,
        crate::http::openapi::Forbidden,
    ),
)]
pub async fn stats(
    State(state): State<AppState>,
    MerchantAuth(merchant): MerchantAuth,
    query: QueryParams,
) -> ApiResult<Json<Stats>> {
    query.only(&["days"])?;
    let days = match query.raw("days") {
        None => DEFAULT_DAYS,
        Some(text) => text
            .parse::<i64>()
            .ok()
            .filter(|n| (1..=MAX_DAYS).contains(n))
            .ok_or_else(|| {
                ApiError::InvalidField(format!(
                    "days must be a whole number from 1 to {MAX_DAYS}, not '{text}'"
                ))
            })?,
    };
    let today = now_ms().div_euclid(DAY_MS);
    let first = today - (days - 1);
    let since = first * DAY_MS;
    let found = state.store().evaluation_stats(&merchant.id, since).await?;
    let mut items: Vec<DayStats> = (first..=today)
        .map(|day| DayStats {
            day: day_text(day),
            calls: 0,
            outcomes: BTreeMap::new(),
            discounts: Vec::new(),
        })
        .collect();
    let slot = |day: i64| usize::try_from(day - first).ok();
    for row in found.outcomes {
        if let Some(item) = slot(row.day).and_then(|i| items.get_mut(i)) {
            item.calls += row.count;
            *item.outcomes.entry(row.outcome).or_default() += row.count;
        }
    }
    for row in found.discounts {
        if let Some(item) = slot(row.day).and_then(|i| items.get_mut(i)) {
            item.discounts.push(DayDiscount {
                currency: row.currency,
                amount: row.amount,
                count: row.count,
            });
        }
    }
    Ok(Json(Stats { days, since, items }))
}

/// Day number (since 1970-01-01, UTC) as `YYYY-MM-DD`.
fn day_text(day: i64) -> String {
    OffsetDateTime::from_unix_timestamp(day.saturating_mul(DAY_MS / 1000))
        .map(|at| at.date().to_string())
        .unwrap_or_default()
}
