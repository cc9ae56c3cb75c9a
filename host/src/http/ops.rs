//! Operations: liveness, readiness and metrics.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::http::auth::MetricsScraper;
use crate::server::AppState;

/// `GET /healthz`: the process is up.
#[utoipa::path(
    get,
    path = "/healthz",
    operation_id = "healthz",
    tag = "ops",
    responses(
        (status = 200, description = "The process is up", body = serde_json::Value),
    ),
)]
pub async fn healthz() -> Json<Value> {
    Json(json!({"status": "ok"}))
}

/// `GET /readyz`: the database answers (migrations ran at start, before listening).
#[utoipa::path(
    get,
    path = "/readyz",
    operation_id = "readyz",
    tag = "ops",
    responses(
        (status = 200, description = "The database answers", body = serde_json::Value),
        (status = 503, description = "The database does not answer", body = serde_json::Value),
    ),
)]
pub async fn readyz(State(state): State<AppState>) -> (StatusCode, Json<Value>) {
    match state.store().ping().await {
        Ok(()) => (
            StatusCode::OK,
            Json(json!({"status": "ready", "database": state.store().engine().as_str()})),
        ),
        Err(error) => {
            tracing::warn!(%error, "readiness check failed");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(json!({"status": "unavailable", "database": state.store().engine().as_str()})),
            )
        }
    }
}

/// `GET /metrics`: Prometheus (OpenMetrics) text, for the metrics token or the operator
/// token (the metrics name every merchant).
#[utoipa::path(
    get,
    path = "/metrics",
    operation_id = "getMetrics",
    tag = "ops",
    security(("metricsToken" = []), ("operator" = [])),
    responses(
        (status = 200, description = "Prometheus metrics (OpenMetrics text)", content_type = "application/openmetrics-text", body = String),
        crate::http::openapi::Unauthorized,
    ),
)]
pub async fn metrics(
    State(state): State<AppState>,
    _scraper: MetricsScraper,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    // The campaign budgets are read from the database (every replica sees the same).
    let now = state.till().clock().now();
    match state.campaigns().budget_totals(now).await {
        Ok(totals) => {
            let mut rows = Vec::with_capacity(totals.len() * 6);
            for (merchant, t) in totals {
                for (measure, of, value) in [
                    ("amount", "limit", t.amount_limit),
                    ("amount", "used", t.amount_used),
                    ("amount", "reserved", t.amount_reserved),
                    ("redemptions", "limit", t.redemptions_limit),
                    ("redemptions", "used", t.redemptions_used),
                    ("redemptions", "reserved", t.redemptions_reserved),
                ] {
                    rows.push((merchant.clone(), measure, of, value));
                }
            }
            state.metrics().set_budgets(&rows);
        }
        Err(error) => tracing::warn!(%error, "campaign budgets not read for /metrics"),
    }
    match state.metrics().render() {
        Ok(text) => (
            [(
                axum::http::header::CONTENT_TYPE,
                "application/openmetrics-text; version=1.0.0; charset=utf-8",
            )],
            text,
        )
            .into_response(),
        Err(error) => crate::http::error::ApiError::Internal(anyhow::anyhow!(
            "could not render the metrics: {error}"
        ))
        .into_response(),
    }
}
