//! Merchant administration: merchants (operator token), and under
//! `/admin/v1/merchants/{m}` (that merchant's API key only) POS tokens, policy versions,
//! the policy config, campaigns, dry-runs, cards, the ledger, the evaluation log, the audit trail and
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
//! - A path that exists with another method is 405 (id 15) with `Allow` naming the
//!   methods it takes; an unknown path is 404 (id 9).
//! - Every change is appended to the audit trail (see [`audit`]).

mod audit;
pub(crate) mod bifit;
mod campaigns;
pub(crate) mod cards;
mod config;
pub(crate) mod coupons;
mod dry_run;
mod history;
pub(crate) mod input;
pub(crate) mod merchants;
pub(crate) mod params;
mod points;
pub(crate) mod policies;
mod replay;
mod retention;
pub(crate) mod returns;
pub(crate) mod stats;
mod tokens;

use axum::extract::DefaultBodyLimit;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::server::AppState;

pub use cards::MAX_POINTS;
pub(crate) use history::OUTCOMES;
pub use params::{DEFAULT_LIMIT, MAX_CARD_ID, MAX_LIMIT};

/// The admin routes; [`crate::http::app`] merges them in.
pub fn routes(state: &AppState) -> OpenApiRouter<AppState> {
    // One byte over a limit is enough to know a body is too large (answered as id 5).
    let json_limit = state.settings().max_body_bytes.saturating_add(1);
    let module_limit = state.settings().max_module_bytes.saturating_add(1);
    let modules = OpenApiRouter::new()
        .routes(routes!(policies::list, policies::upload))
        .layer(DefaultBodyLimit::max(module_limit));
    let imports =
        OpenApiRouter::new()
            .routes(routes!(coupons::import))
            .layer(DefaultBodyLimit::max(
                rabat_domain::coupon::MAX_IMPORT_BYTES.saturating_add(1),
            ));
    OpenApiRouter::new()
        .routes(routes!(merchants::create))
        .routes(routes!(merchants::show, merchants::update))
        .routes(routes!(merchants::rotate_api_key))
        .routes(routes!(tokens::list, tokens::create))
        .routes(routes!(tokens::revoke))
        .routes(routes!(policies::activate))
        .routes(routes!(campaigns::list, campaigns::create))
        .routes(routes!(campaigns::show, campaigns::edit))
        .routes(routes!(campaigns::pause))
        .routes(routes!(campaigns::resume))
        .routes(routes!(campaigns::end))
        .routes(routes!(campaigns::budget))
        .routes(routes!(campaigns::dry_run_set))
        .routes(routes!(campaigns::replay_set))
        .routes(routes!(dry_run::dry_run))
        .routes(routes!(replay::replay))
        .routes(routes!(config::show, config::replace))
        .routes(routes!(cards::list))
        .routes(routes!(cards::show, cards::upsert, cards::remove))
        .routes(routes!(cards::adjust, points::card_points))
        .routes(routes!(cards::release_holds))
        .routes(routes!(history::transactions))
        .routes(routes!(history::evaluations))
        .routes(routes!(history::evaluation))
        .routes(routes!(retention::show, retention::replace))
        .routes(routes!(audit::list))
        .routes(routes!(stats::stats))
        .routes(routes!(bifit::show, bifit::put))
        .routes(routes!(bifit::orders))
        .routes(routes!(coupons::list_batches, coupons::create_batch))
        .routes(routes!(coupons::show_batch))
        .routes(routes!(coupons::generate))
        .routes(routes!(coupons::codes))
        .routes(routes!(coupons::export))
        .routes(routes!(coupons::wallet, coupons::issue))
        .routes(routes!(coupons::show))
        .routes(routes!(coupons::void))
        .routes(routes!(coupons::restore))
        .routes(routes!(coupons::profile, coupons::put_profile))
        .routes(routes!(returns::list, returns::create))
        .routes(routes!(points::show_rules, points::set_rules))
        .layer(DefaultBodyLimit::max(json_limit))
        .merge(modules)
        .merge(imports)
}
