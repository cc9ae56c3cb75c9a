//! Merchant administration (being written).

use axum::Router;

use crate::server::AppState;

pub fn routes(_state: &AppState) -> Router<AppState> {
    Router::new()
}
