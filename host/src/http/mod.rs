//! The HTTP surface: one file per audience (POS vendors, merchants, operations).

pub mod admin;
pub mod auth;
pub mod bifit;
pub mod body;
pub mod console;
pub mod error;
pub mod openapi;
pub mod ops;
pub mod papaya;

use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::{Method, Uri};
use axum::middleware::Next;
use axum::response::Response;

use axum::Extension;
use tower::ServiceBuilder;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::server::AppState;
use error::ApiError;

/// The whole application; tests drive it with `tower::ServiceExt::oneshot`. Routes are
/// registered from their `#[utoipa::path]` annotations, so `/openapi.json` lists exactly
/// what is served.
pub fn app(state: AppState) -> Router {
    let (router, spec) = routes(&state).split_for_parts();
    router
        // The console's page and assets: HTML, not API, so not in the OpenAPI document.
        .merge(console::router())
        .layer(Extension(Arc::new(openapi::finish(&spec))))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        // Innermost first: metrics see the matched route; the request id is set before
        // the trace span opens (so every log line of the request carries it) and is
        // copied onto the response.
        .layer(axum::middleware::from_fn_with_state(state.clone(), track))
        // A body that sends nothing for this long fails to read: 408 (`body::bytes`).
        .layer(axum::middleware::map_request_with_state(
            state.settings().http.body_timeout,
            time_body,
        ))
        .layer(
            ServiceBuilder::new()
                .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
                .layer(TraceLayer::new_for_http().make_span_with(span))
                .layer(PropagateRequestIdLayer::x_request_id()),
        )
        .with_state(state)
}

/// Every route with its OpenAPI description.
pub fn routes(state: &AppState) -> OpenApiRouter<AppState> {
    let limit = state.settings().max_body_bytes;
    let pos = OpenApiRouter::new()
        .routes(routes!(papaya::discounts))
        .routes(routes!(papaya::transactions))
        .routes(routes!(bifit::discounts))
        .routes(routes!(bifit::sync))
        // One byte over the limit is enough to know it is too large (answered as id 5).
        .layer(DefaultBodyLimit::max(limit.saturating_add(1)));
    OpenApiRouter::with_openapi(openapi::ApiDoc::openapi())
        .merge(pos)
        .merge(admin::routes(state))
        .routes(routes!(ops::healthz))
        .routes(routes!(ops::readyz))
        .routes(routes!(ops::metrics))
        .routes(routes!(openapi::document))
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

/// Middleware: the request body times out when it stalls (between two reads).
async fn time_body(State(timeout): State<std::time::Duration>, request: Request) -> Request {
    request.map(|body| axum::body::Body::new(tower_http::timeout::TimeoutBody::new(timeout, body)))
}

/// Middleware: counts and times every request under its route template (never the raw
/// path, so a scan of random URLs cannot grow the label set).
async fn track(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let method = request.method().as_str().to_owned();
    let response = next.run(request).await;
    state.metrics().request(
        route,
        method,
        response.status().as_u16(),
        started.elapsed().as_secs_f64(),
    );
    response
}

async fn not_found(method: Method, uri: Uri) -> ApiError {
    ApiError::NotFound(format!("There is no {method} {}", uri.path()))
}

/// A known path with another method: 405, and axum sets `Allow` to the path's methods.
async fn method_not_allowed(method: Method, uri: Uri) -> ApiError {
    ApiError::MethodNotAllowed(format!(
        "{} does not take {method}; the Allow header lists the methods it takes",
        uri.path()
    ))
}
