//! What-if replay: `POST /admin/v1/merchants/{m}/policies/{v}/replay`
//! `{limit?, since?, config?, onlyChanged?}` re-runs the merchant's recorded bills (the
//! newest evaluation of each order in the evaluation log, with the card as it was) against
//! version `v`, active or not, and answers per order what the till got and what it would
//! get, with a summary. Records nothing. See [`crate::replay`] for how it stays off the
//! tills' cores.
//!
//! - `limit`: how many of the newest orders, 1 to 10 000 (default 1 000).
//! - `since`: only bills from then on — epoch milliseconds or an RFC 3339 time.
//! - `config`: a config object to run with instead of the merchant's.
//! - `onlyChanged`: list only the orders whose answer changes (the summary counts all).

use axum::Json;
use axum::extract::State;
use serde_json::{Map, Value};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::dry_run::{run_config, version_policy};
use super::input::{self, Fields, Raw};
use super::params::Params;
use crate::http::auth::MerchantAuth;
use crate::http::error::{ApiError, ApiResult};
use crate::replay::{self, DEFAULT_BILLS, Job, MAX_BILLS, Report};
use crate::server::AppState;

/// `POST /admin/v1/merchants/{m}/policies/{v}/replay`
#[utoipa::path(post, path = "/admin/v1/merchants/{m}/policies/{v}/replay", tag = "policies", security(("apiKey" = [])), params(("m" = String, Path, description = "The merchant id"), ("v" = i64, Path, description = "The policy version")), request_body(content = serde_json::Value, description = "{limit?, since?, config?, onlyChanged?}"), responses((status = 200, description = "Recorded vs new answers per order, and a summary; nothing recorded", body = crate::replay::Report), (status = 400, description = "Bad input (the message names the field)", body = crate::http::openapi::ErrorDoc), (status = 401, description = "No or unknown token (4)", body = crate::http::openapi::ErrorDoc), (status = 403, description = "Another merchant's key (10)", body = crate::http::openapi::ErrorDoc), (status = 404, description = "Not found (9)", body = crate::http::openapi::ErrorDoc), (status = 422, description = "Not an acceptable policy module (11)", body = crate::http::openapi::ErrorDoc)))]
pub async fn replay(
    State(state): State<AppState>,
    MerchantAuth(merchant): MerchantAuth,
    params: Params,
    raw: Raw,
) -> ApiResult<Json<Report>> {
    let version = params.version()?;
    // No body at all means every default.
    let body = match raw {
        Ok(bytes) if bytes.iter().all(u8::is_ascii_whitespace) => Map::new(),
        raw => input::object(raw, state.settings().max_body_bytes)?,
    };
    let fields = Fields::new(&body, "");
    fields.only(&["limit", "since", "config", "onlyChanged"])?;
    let limit = match fields.integer("limit")? {
        None => DEFAULT_BILLS,
        Some(n) => u32::try_from(n)
            .ok()
            .filter(|n| (1..=MAX_BILLS).contains(n))
            .ok_or_else(|| {
                ApiError::InvalidField(format!("limit must be from 1 to {MAX_BILLS}, not {n}"))
            })?,
    };
    let since = since(fields.get("since"))?;
    let only_changed = match fields.get("onlyChanged") {
        None => false,
        Some(Value::Bool(b)) => *b,
        Some(other) => {
            return Err(ApiError::InvalidField(format!(
                "onlyChanged must be true or false, not {}",
                input::kind(other)
            )));
        }
    };
    let (config, _) = run_config(&state, &merchant.id, &fields).await?;
    let policy = version_policy(&state, &merchant.id, version).await?;
    // One replay at a time per server; a second waits for the first.
    let _turn = state
        .replays()
        .acquire()
        .await
        .map_err(|e| ApiError::Internal(e.into()))?;
    let sources = state
        .store()
        .replay_sources(&merchant.id, since, limit)
        .await?;
    let job = Job {
        merchant: merchant.id.clone(),
        version,
        policy,
        config,
        limits: state.settings().policy_limits.clone(),
        only_changed,
        sources,
    };
    let report = replay::run(state.runtime().clone(), state.metrics().clone(), job)
        .await
        .map_err(|e| ApiError::Internal(e.into()))?;
    Ok(Json(report))
}

/// `since` as epoch milliseconds; absent is the beginning of the log.
fn since(value: Option<&Value>) -> ApiResult<i64> {
    let problem = || {
        ApiError::InvalidField(
            "since must be epoch milliseconds or an RFC 3339 time such as 2026-11-16T00:00:00Z"
                .into(),
        )
    };
    match value {
        None => Ok(i64::MIN),
        Some(Value::Number(n)) => n.as_i64().filter(|ms| *ms >= 0).ok_or_else(problem),
        Some(Value::String(text)) => {
            let at = OffsetDateTime::parse(text, &Rfc3339).map_err(|_| problem())?;
            i64::try_from(at.unix_timestamp_nanos() / 1_000_000).map_err(|_| problem())
        }
        Some(_) => Err(problem()),
    }
}
