//! What happened at the till, newest first: the ledger (completed bills and points
//! adjustments) and the evaluation log (every policy run, failures included).

use axum::Json;
use axum::extract::State;

use super::params::{Params, QueryParams};
use crate::http::auth::MerchantAuth;
use crate::http::error::{ApiError, ApiResult};
use crate::server::AppState;
use crate::store::{EvaluationQuery, LedgerEntry, LedgerQuery, Page, StoredEvaluation};

/// The outcomes the evaluation log records.
pub const OUTCOMES: &[&str] = &[
    "answer",
    "no_policy",
    "unavailable",
    "policy_error",
    "out_of_fuel",
    "timeout",
    "memory_limit",
    "trap",
    "invalid_answer",
    "busy",
];

/// `GET /admin/v1/merchants/{m}/transactions?cardId=&limit=&cursor=` → `{items, nextCursor}`.
#[utoipa::path(
    get,
    path = "/admin/v1/merchants/{m}/transactions",
    operation_id = "listTransactions",
    tag = "cards",
    security(("apiKey" = [])),
    params(
        crate::http::openapi::MerchantPath,
        ("cardId" = Option<String>, Query, description = "Only this card's rows"),
        ("limit" = Option<u32>, Query, description = "Rows per page, 1–500 (default 50)"),
        ("cursor" = Option<String>, Query, description = "The previous page's nextCursor"),
    ),
    responses(
        (status = 200, description = "The ledger, newest first", body = crate::store::Page<crate::store::LedgerEntry>),
        crate::http::openapi::BadInput,
        crate::http::openapi::Unauthorized,
        crate::http::openapi::Forbidden,
    ),
)]
pub async fn transactions(
    State(state): State<AppState>,
    MerchantAuth(merchant): MerchantAuth,
    query: QueryParams,
) -> ApiResult<Json<Page<LedgerEntry>>> {
    query.only(&["cardId", "limit", "cursor"])?;
    let ledger = LedgerQuery {
        card_id: query.card_id("cardId")?,
        limit: query.limit()?,
        cursor: query.cursor()?,
    };
    let page = state
        .store()
        .list_transactions(&merchant.id, &ledger)
        .await?;
    Ok(Json(page))
}

/// `GET /admin/v1/merchants/{m}/evaluations?outcome=&limit=&cursor=` → `{items, nextCursor}`.
#[utoipa::path(
    get,
    path = "/admin/v1/merchants/{m}/evaluations",
    operation_id = "listEvaluations",
    tag = "history",
    security(("apiKey" = [])),
    params(
        crate::http::openapi::MerchantPath,
        ("outcome" = Option<String>, Query, description = "Only runs with this outcome"),
        ("limit" = Option<u32>, Query, description = "Rows per page, 1–500 (default 50)"),
        ("cursor" = Option<String>, Query, description = "The previous page's nextCursor"),
    ),
    responses(
        (status = 200, description = "Policy runs, newest first", body = crate::store::Page<crate::store::StoredEvaluation>),
        crate::http::openapi::BadInput,
        crate::http::openapi::Unauthorized,
        crate::http::openapi::Forbidden,
    ),
)]
pub async fn evaluations(
    State(state): State<AppState>,
    MerchantAuth(merchant): MerchantAuth,
    query: QueryParams,
) -> ApiResult<Json<Page<StoredEvaluation>>> {
    query.only(&["outcome", "limit", "cursor"])?;
    let outcome = query.get("outcome");
    if let Some(outcome) = outcome.filter(|o| !OUTCOMES.contains(o)) {
        return Err(ApiError::InvalidField(format!(
            "outcome '{outcome}' is not one of {}",
            OUTCOMES.join(", ")
        )));
    }
    let evaluations = EvaluationQuery {
        limit: query.limit()?,
        cursor: query.cursor()?,
        outcome,
    };
    let page = state
        .store()
        .list_evaluations(&merchant.id, &evaluations)
        .await?;
    Ok(Json(page))
}

/// One logged policy run, by its id.
///
/// `GET /admin/v1/merchants/{m}/evaluations/{id}` → the run as the evaluation list shows
/// it: the bill and card the policy saw, its answer, fuel, time, logs and error. The id is
/// the list's `id` (and a replay's `evaluationId`). A run the merchant does not have (never
/// logged, another merchant's, or removed by retention) is 404, error 9, naming the id.
#[utoipa::path(
    get,
    path = "/admin/v1/merchants/{m}/evaluations/{id}",
    operation_id = "getEvaluation",
    tag = "history",
    security(("apiKey" = [])),
    params(
        crate::http::openapi::MerchantPath,
        ("id" = i64, Path, description = "The evaluation's id, from the evaluation list or a replay"),
    ),
    responses(
        (status = 200, description = "The logged run", body = crate::store::StoredEvaluation),
        crate::http::openapi::BadInput,
        crate::http::openapi::Unauthorized,
        crate::http::openapi::Forbidden,
        crate::http::openapi::NotFound,
    ),
)]
pub async fn evaluation(
    State(state): State<AppState>,
    MerchantAuth(merchant): MerchantAuth,
    params: Params,
) -> ApiResult<Json<StoredEvaluation>> {
    let id = params.evaluation_id()?;
    let evaluation = state.store().evaluation(&merchant.id, id).await?;
    Ok(Json(evaluation))
}
