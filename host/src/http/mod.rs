//! The HTTP surface: one file per audience (POS vendors, merchants, operations).

pub mod admin;
pub mod auth;
pub mod bifit;
pub mod body;
pub mod error;
pub mod ops;
pub mod papaya;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{Method, Uri};
use axum::routing::{get, post};
use tower_http::trace::TraceLayer;

use crate::server::AppState;
use error::ApiError;

/// The whole application; tests drive it with `tower::ServiceExt::oneshot`.
pub fn app(state: AppState) -> Router {
    let limit = state.settings().max_body_bytes;
    let pos = Router::new()
        .route("/pos/papaya/v1/discounts", post(papaya::discounts))
        .route("/pos/papaya/v1/transactions", post(papaya::transactions))
        .route(
            "/pos/bifit/v1/online-orders/{id}/discounts",
            post(bifit::discounts),
        )
        .route("/pos/bifit/v1/online-orders/{id}/sync", post(bifit::sync))
        // One byte over the limit is enough to know it is too large (answered as id 5).
        .layer(DefaultBodyLimit::max(limit.saturating_add(1)));
    Router::new()
        .merge(pos)
        .merge(admin::routes(&state))
        .route("/healthz", get(ops::healthz))
        .route("/readyz", get(ops::readyz))
        .fallback(not_found)
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}

async fn not_found(method: Method, uri: Uri) -> ApiError {
    ApiError::NotFound(format!("There is no {method} {}", uri.path()))
}
