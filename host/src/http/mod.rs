//! The HTTP surface: one file per audience (POS vendors, merchants, operations).

pub mod admin;
pub mod auth;
pub mod body;
pub mod error;
pub mod ops;
pub mod papaya;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{Method, Uri};
use axum::routing::{get, post};
use tower::ServiceBuilder;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;

use crate::server::AppState;
use error::ApiError;

/// The whole application; tests drive it with `tower::ServiceExt::oneshot`.
pub fn app(state: AppState) -> Router {
    let limit = state.settings().max_body_bytes;
    let pos = Router::new()
        .route("/pos/papaya/v1/discounts", post(papaya::discounts))
        .route("/pos/papaya/v1/transactions", post(papaya::transactions))
        // One byte over the limit is enough to know it is too large (answered as id 5).
        .layer(DefaultBodyLimit::max(limit.saturating_add(1)));
    Router::new()
        .merge(pos)
        .merge(admin::routes(&state))
        .route("/healthz", get(ops::healthz))
        .route("/readyz", get(ops::readyz))
        .route("/metrics", get(ops::metrics))
        .fallback(not_found)
        // Innermost first: metrics see the matched route; the request id is set before
        // the trace span opens (so every log line of the request carries it) and is
        // copied onto the response.
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            crate::metrics::track,
        ))
        .layer(
            ServiceBuilder::new()
                .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
                .layer(TraceLayer::new_for_http().make_span_with(span))
                .layer(PropagateRequestIdLayer::x_request_id()),
        )
        .with_state(state)
}

/// The span every log line of a request is in: method, path and request id.
fn span<B>(request: &axum::http::Request<B>) -> tracing::Span {
    let id = request
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    tracing::info_span!(
        "request",
        method = %request.method(),
        path = %request.uri().path(),
        request_id = %id,
    )
}

async fn not_found(method: Method, uri: Uri) -> ApiError {
    ApiError::NotFound(format!("There is no {method} {}", uri.path()))
}
