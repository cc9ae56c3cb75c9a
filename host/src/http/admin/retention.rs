//! How long the merchant's evaluation log is kept: its own number of days, within the
//! operator's maximum (`evaluation-log-max-retention-days`), or the operator's default
//! (`evaluation-log-retention-days`). The operator's row cap (`evaluation-log-retention`)
//! bounds it as well, whatever the age.

use axum::Json;
use axum::extract::State;
use serde::Serialize;
use serde_json::{Value, json};

use super::input::{self, Fields, Raw};
use crate::http::auth::MerchantAuth;
use crate::http::error::{ApiError, ApiResult};
use crate::server::AppState;
use crate::service::Actor;

/// A change of the merchant's retention: `days` from 1 to the operator's maximum, or
/// `null` for the operator's default.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[allow(dead_code)]
pub struct RetentionChange {
    /// Days to keep the merchant's evaluations; `null`: the operator's default.
    #[schema(minimum = 1, maximum = 36_500)]
    days: Option<u32>,
}

/// The merchant's evaluation-log retention.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EvaluationRetention {
    /// The merchant's own setting, if any.
    pub days: Option<u32>,
    /// What applies to evaluations logged now: `days`, or the default, at most `maxDays`.
    pub effective_days: u32,
    /// The operator's default and maximum, in days.
    pub default_days: u32,
    pub max_days: u32,
    /// The operator's safety bound: rows kept per merchant whatever their age.
    pub max_rows: u64,
}

async fn answer(state: &AppState, merchant: &str) -> ApiResult<EvaluationRetention> {
    let days = state.store().evaluation_retention(merchant).await?;
    let retention = state.settings().evaluation_retention();
    Ok(EvaluationRetention {
        days,
        effective_days: days
            .unwrap_or(retention.default_days)
            .min(retention.max_days),
        default_days: retention.default_days,
        max_days: retention.max_days,
        max_rows: retention.max_rows,
    })
}

/// The evaluation log's retention for this merchant.
///
/// `GET /admin/v1/merchants/{m}/evaluation-retention` → its own setting, what applies,
/// and the operator's default, maximum and row cap.
#[utoipa::path(
    get,
    path = "/admin/v1/merchants/{m}/evaluation-retention",
    operation_id = "getEvaluationRetention",
    tag = "history",
    security(("apiKey" = [])),
    params(crate::http::openapi::MerchantPath),
    responses(
        (status = 200, description = "The merchant's retention and the operator's bounds", body = EvaluationRetention),
        crate::http::openapi::Unauthorized,
        crate::http::openapi::Forbidden,
    ),
)]
pub async fn show(
    State(state): State<AppState>,
    MerchantAuth(merchant): MerchantAuth,
) -> ApiResult<Json<EvaluationRetention>> {
    Ok(Json(answer(&state, &merchant.id).await?))
}

/// Sets how many days the merchant's evaluations are kept.
///
/// `PUT /admin/v1/merchants/{m}/evaluation-retention` `{days: N | null}`: N from 1 to the
/// operator's maximum, or `null` for the operator's default. It applies to evaluations
/// logged from then on (each is removed on the first housekeeping pass after the UTC day in
/// which it expires); audited.
#[utoipa::path(
    put,
    path = "/admin/v1/merchants/{m}/evaluation-retention",
    operation_id = "setEvaluationRetention",
    tag = "history",
    security(("apiKey" = [])),
    params(crate::http::openapi::MerchantPath),
    request_body(content = RetentionChange, description = "{days: N | null}"),
    responses(
        (status = 200, description = "Set; the retention as it applies now", body = EvaluationRetention),
        crate::http::openapi::BadInput,
        crate::http::openapi::Unauthorized,
        crate::http::openapi::Forbidden,
        crate::http::openapi::TooLarge,
    ),
)]
pub async fn replace(
    State(state): State<AppState>,
    MerchantAuth(merchant): MerchantAuth,
    raw: Raw,
) -> ApiResult<Json<EvaluationRetention>> {
    let body = input::object(raw, state.settings().max_body_bytes)?;
    let fields = Fields::new(&body, "");
    fields.only(&["days"])?;
    let max = state.settings().evaluation_log_max_retention_days;
    // `null` is a value here (back to the default), not an absent field.
    let days = match body.get("days") {
        Some(Value::Null) => None,
        Some(Value::Number(n)) => match n.as_u64().and_then(|d| u32::try_from(d).ok()) {
            Some(d) if (1..=max).contains(&d) => Some(d),
            _ => {
                return Err(ApiError::InvalidField(format!(
                    "days must be a whole number from 1 to {max} (the operator's maximum), not {n}"
                )));
            }
        },
        Some(other) => {
            return Err(ApiError::InvalidField(format!(
                "days must be a whole number from 1 to {max} or null, not {}",
                input::kind(other)
            )));
        }
        None => return Err(ApiError::InvalidField("days is required".into())),
    };
    let actor = Actor::merchant(&merchant.id);
    let audit = |_: &()| actor.did("evaluation_retention.set", json!({"days": days}));
    state
        .store()
        .set_evaluation_retention(&merchant.id, days, audit)
        .await?;
    Ok(Json(answer(&state, &merchant.id).await?))
}
