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

use super::dry_run::run_config;
use super::input::{self, Fields, Raw};
use super::params::Params;
use crate::http::auth::MerchantAuth;
use crate::http::error::{ApiError, ApiResult};
use crate::replay::{DEFAULT_BILLS, MAX_BILLS, Report};
use crate::server::AppState;
use crate::service::whatif::ReplayRequest;

/// `POST /admin/v1/merchants/{m}/policies/{v}/replay`
#[utoipa::path(
    post,
    path = "/admin/v1/merchants/{m}/policies/{v}/replay",
    operation_id = "replayPolicy",
    tag = "policies",
    security(("apiKey" = [])),
    params(
        crate::http::openapi::MerchantPath,
        ("v" = i64, Path, description = "The policy version"),
    ),
    request_body(content = crate::http::openapi::ReplayRequest, description = "{limit?, since?, config?, onlyChanged?}"),
    responses(
        (status = 200, description = "Recorded vs new answers per order, and a summary; nothing recorded", body = crate::replay::Report),
        crate::http::openapi::BadInput,
        crate::http::openapi::Unauthorized,
        crate::http::openapi::Forbidden,
        crate::http::openapi::NotFound,
        crate::http::openapi::InvalidPolicy,
        crate::http::openapi::TooLarge,
    ),
)]
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
    let request = ReplayRequest {
        limit,
        since: since(fields.get("since"))?,
        config: run_config(&fields)?,
        only_changed,
    };
    let report = state
        .whatif()
        .replay(&merchant.id, version, request)
        .await?;
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
        Some(Value::Number(n)) => n
            .as_i64()
            .or_else(|| input::whole(n))
            .filter(|ms| *ms >= 0)
            .ok_or_else(problem),
        Some(Value::String(text)) => {
            let at = OffsetDateTime::parse(text, &Rfc3339).map_err(|_| problem())?;
            i64::try_from(at.unix_timestamp_nanos() / 1_000_000).map_err(|_| problem())
        }
        Some(_) => Err(problem()),
    }
}
