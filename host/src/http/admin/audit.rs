//! The audit trail of a merchant's administration, read back newest first. Every change
//! made through this API is appended by the services (see `crate::service::audit`).

use axum::Json;
use axum::extract::State;

use super::params::QueryParams;
use crate::http::auth::MerchantAuth;
use crate::http::error::ApiResult;
use crate::server::AppState;
use crate::store::{AuditEntry, Page};

/// `GET /admin/v1/merchants/{m}/audit?limit=&cursor=`
#[utoipa::path(
    get,
    path = "/admin/v1/merchants/{m}/audit",
    operation_id = "listAudit",
    tag = "history",
    security(("apiKey" = [])),
    params(
        crate::http::openapi::MerchantPath,
        ("limit" = Option<u32>, Query, description = "Rows per page, 1–500 (default 50)"),
        ("cursor" = Option<String>, Query, description = "The previous page's nextCursor"),
    ),
    responses(
        (status = 200, description = "Who changed what, newest first", body = crate::store::Page<crate::store::AuditEntry>),
        crate::http::openapi::BadInput,
        crate::http::openapi::Unauthorized,
        crate::http::openapi::Forbidden,
    ),
)]
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
