//! Merchant administration: merchants (operator token), and under
//! `/admin/v1/merchants/{m}` (that merchant's API key only) POS tokens, policy versions,
//! the policy config, dry-runs, cards, the ledger, the evaluation log, the audit trail and
//! the BIFIT Kassa connector (its settings and the orders it follows).
//! One file per resource; JSON is camelCase; every error is an [`ApiError`] naming what
//! was wrong.
//!
//! Decisions shared by every route:
//! - Auth runs before anything else is read: no or an unknown token is 401 (id 4); another
//!   merchant's key, or the operator token, on a merchant route is 403 (id 10), whether or
//!   not `{m}` exists; a merchant key on the operator route is 403.
//! - JSON bodies are at most `max_body_bytes` (the policy config 64 KiB, a module
//!   `max_module_bytes`); larger is 413 (id 5). Not JSON is 400 id 6; a missing, mistyped,
//!   unknown or impossible field is 400 id 7 naming it.
//! - Listings take `limit` (1–500, default 50; anything else is 400 id 7 naming `limit`,
//!   never silently clamped) and `cursor` (the previous page's `nextCursor`; anything else
//!   is 400 id 7) and answer `{items, nextCursor}`, newest first where rows are events.
//!   Unknown or repeated query parameters are 400 id 7.
//! - A path that exists with another method is 404 (id 9), like an unknown path.
//! - Every change is appended to the audit trail (see [`audit`]).

mod audit;
mod bifit;
mod cards;
mod config;
mod dry_run;
mod history;
pub(crate) mod input;
mod merchants;
pub(crate) mod params;
mod policies;
mod tokens;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{Method, Uri};
use axum::routing::{get, post};

use crate::http::error::ApiError;
use crate::server::AppState;

pub use params::{DEFAULT_LIMIT, MAX_LIMIT};

/// The admin routes; [`crate::http::app`] merges them in.
pub fn routes(state: &AppState) -> Router<AppState> {
    // One byte over a limit is enough to know a body is too large (answered as id 5).
    let json_limit = state.settings().max_body_bytes.saturating_add(1);
    let module_limit = state.settings().max_module_bytes.saturating_add(1);
    let m = |rest: &str| format!("/admin/v1/merchants/{{m}}{rest}");
    Router::new()
        .route("/admin/v1/merchants", post(merchants::create))
        .route(&m(""), get(merchants::show))
        .route(&m("/pos-tokens"), get(tokens::list).post(tokens::create))
        .route(
            &m("/pos-tokens/{tokenId}"),
            axum::routing::delete(tokens::revoke),
        )
        .route(
            &m("/policies"),
            get(policies::list)
                .post(policies::upload)
                .layer(DefaultBodyLimit::max(module_limit)),
        )
        .route(&m("/policies/{v}/activate"), post(policies::activate))
        .route(&m("/policies/{v}/dry-run"), post(dry_run::dry_run))
        .route(&m("/policy-config"), get(config::show).put(config::replace))
        .route(&m("/cards"), get(cards::list))
        .route(
            &m("/cards/{cardId}"),
            get(cards::show).put(cards::upsert).delete(cards::remove),
        )
        .route(&m("/cards/{cardId}/points"), post(cards::adjust))
        .route(&m("/transactions"), get(history::transactions))
        .route(&m("/evaluations"), get(history::evaluations))
        .route(&m("/audit"), get(audit::list))
        .route(&m("/connectors/bifit"), get(bifit::show).put(bifit::put))
        .route(&m("/connectors/bifit/orders"), get(bifit::orders))
        .method_not_allowed_fallback(wrong_method)
        .layer(DefaultBodyLimit::max(json_limit))
}

async fn wrong_method(method: Method, uri: Uri) -> ApiError {
    ApiError::NotFound(format!("There is no {method} {}", uri.path()))
}
