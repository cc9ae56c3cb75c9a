//! The audit trail of a merchant's administration: every change made through this API
//! is appended with its actor (`merchant:<id>` or `operator`), and the merchant reads it
//! back newest first.
//!
//! The change and its audit row are two writes: when the second fails, the change (already
//! committed) is still answered as done and the lost audit row is logged as an error, so a
//! client never retries a change that happened.

use std::fmt;

use axum::Json;
use axum::extract::State;
use serde_json::Value;

use super::params::QueryParams;
use crate::http::auth::MerchantAuth;
use crate::http::error::ApiResult;
use crate::http::papaya::now_ms;
use crate::server::AppState;
use crate::store::{AuditEntry, AuditRecord, Page};

/// Who made a change.
#[derive(Debug, Clone)]
pub enum Actor {
    Operator,
    Merchant(String),
}

impl fmt::Display for Actor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Actor::Operator => f.write_str("operator"),
            Actor::Merchant(id) => write!(f, "merchant:{id}"),
        }
    }
}

impl Actor {
    pub fn merchant(id: &str) -> Actor {
        Actor::Merchant(id.to_owned())
    }
}

/// Appends one action to the merchant's trail (see the module docs on failure).
pub async fn record(state: &AppState, merchant: &str, actor: &Actor, action: &str, detail: Value) {
    let record = AuditRecord {
        at: now_ms(),
        actor: actor.to_string(),
        action: action.to_owned(),
        detail,
    };
    if let Err(error) = state.store().append_audit(merchant, &record).await {
        tracing::error!(%error, merchant, action, "the audit record could not be written");
    }
}

/// `GET /admin/v1/merchants/{m}/audit?limit=&cursor=`
#[utoipa::path(get, path = "/admin/v1/merchants/{m}/audit", tag = "history", security(("apiKey" = [])), params(("m" = String, Path, description = "The merchant id"), ("limit" = Option<u32>, Query, description = "Rows per page, 1–500 (default 50)"), ("cursor" = Option<String>, Query, description = "The previous page's nextCursor")), responses((status = 200, description = "Who changed what, newest first", body = crate::store::Page<crate::store::AuditEntry>), (status = 400, description = "Bad input (the message names the field)", body = crate::http::openapi::ErrorDoc), (status = 401, description = "No or unknown token (4)", body = crate::http::openapi::ErrorDoc), (status = 403, description = "Another merchant's key (10)", body = crate::http::openapi::ErrorDoc)))]
pub async fn list(
    State(state): State<AppState>,
    MerchantAuth(merchant): MerchantAuth,
    query: QueryParams,
) -> ApiResult<Json<Page<AuditEntry>>> {
    query.only(&["limit", "cursor"])?;
    let page = state
        .store()
        .list_audit(&merchant.id, query.limit()?, query.cursor()?)
        .await?;
    Ok(Json(page))
}
