//! Returns of recorded bills (issue 19, first part): `POST …/transactions/{orderId}/returns`
//! records one, whole or by lines, exactly once per return id; `GET` lists a bill's.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde_json::Value;

use super::input::{self, Fields, Raw};
use super::params::{Params, QueryParams};
use crate::http::auth::MerchantAuth;
use crate::http::error::{ApiError, ApiResult};
use crate::server::AppState;
use crate::service::Actor;
use crate::service::returns::{self, AskedLine};
use crate::store::Return;

/// The longest return id, in characters.
pub const MAX_RETURN_ID: usize = 64;
/// The most lines one return names.
pub const MAX_RETURN_LINES: usize = 500;

fn invalid(message: String) -> ApiError {
    ApiError::InvalidField(message)
}

/// A return's body (the document's schema is the precise one).
#[derive(serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)]
pub struct ReturnRequest {
    return_id: String,
    lines: Option<Vec<Value>>,
}

/// A bill's returns.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct ReturnList {
    pub items: Vec<Return>,
}

fn order_id(params: &Params) -> ApiResult<String> {
    let id = params.get("orderId");
    if id.trim().is_empty() {
        return Err(invalid("orderId must not be blank".into()));
    }
    Ok(id.to_owned())
}

fn lines(map: &serde_json::Map<String, Value>) -> ApiResult<Option<Vec<AskedLine>>> {
    let Some(value) = map.get("lines").filter(|v| !v.is_null()) else {
        return Ok(None);
    };
    let Value::Array(items) = value else {
        return Err(invalid(format!(
            "lines must be an array of {{lineId, quantity}}, not {}",
            input::kind(value)
        )));
    };
    if items.is_empty() || items.len() > MAX_RETURN_LINES {
        return Err(invalid(format!(
            "lines must name 1 to {MAX_RETURN_LINES} lines (leave it out to return the whole bill), not {}",
            items.len()
        )));
    }
    let mut out = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let Value::Object(item) = item else {
            return Err(invalid(format!(
                "lines[{i}] must be an object {{lineId, quantity}}, not {}",
                input::kind(item)
            )));
        };
        let prefix = format!("lines[{i}]");
        let fields = Fields::new(item, &prefix);
        fields.only(&["lineId", "quantity"])?;
        let line_id = fields.required_string("lineId", rabat_domain::limits::MAX_ORDER_ID_CHARS)?;
        let quantity = fields
            .decimal("quantity")?
            .ok_or_else(|| invalid(format!("{prefix}.quantity is required")))?;
        if quantity <= rust_decimal::Decimal::ZERO
            || !rabat_domain::limits::amount_in_range(quantity)
        {
            return Err(invalid(format!(
                "{prefix}.quantity must be greater than 0 and at most 10^12, not {quantity}"
            )));
        }
        out.push(AskedLine { line_id, quantity });
    }
    Ok(Some(out))
}

/// `POST /admin/v1/merchants/{m}/transactions/{orderId}/returns` `{returnId, lines?}` →
/// 201 with what the return did (200 for a repeat of the same return).
#[utoipa::path(
    post,
    path = "/admin/v1/merchants/{m}/transactions/{orderId}/returns",
    operation_id = "returnBill",
    tag = "cards",
    security(("apiKey" = [])),
    params(
        crate::http::openapi::MerchantPath,
        ("orderId" = String, Path, description = "The recorded bill's order id (BIFIT's as `bifit:<id>`)"),
    ),
    request_body(content = ReturnRequest, description = "`returnId` (idempotency), `lines` (left out: the whole bill, or what is left of it)"),
    responses(
        (status = 201, description = "Recorded: points taken back and given back, the shortfall, coupons restored", body = Return),
        (status = 200, description = "A repeat of a recorded return (same id and body): nothing changed", body = Return),
        crate::http::openapi::BadInput,
        crate::http::openapi::Unauthorized,
        crate::http::openapi::Forbidden,
        (status = 404, description = "No recorded bill of this order (9)", body = crate::http::openapi::ErrorDoc),
        (status = 409, description = "Another return was recorded under this id (8)", body = crate::http::openapi::ErrorDoc),
        crate::http::openapi::TooLarge,
    ),
)]
pub async fn create(
    State(state): State<AppState>,
    MerchantAuth(merchant): MerchantAuth,
    params: Params,
    query: QueryParams,
    raw: Raw,
) -> ApiResult<(StatusCode, Json<Return>)> {
    query.only(&[])?;
    let order_id = order_id(&params)?;
    let map = input::object(raw, state.settings().max_body_bytes)?;
    let fields = Fields::new(&map, "");
    fields.only(&["returnId", "lines"])?;
    let return_id = fields.required_string("returnId", MAX_RETURN_ID)?;
    let lines = lines(&map)?;
    let actor = Actor::merchant(&merchant.id);
    let recorded = returns::record(
        state.store(),
        &actor,
        &merchant.id,
        &order_id,
        &return_id,
        lines,
    )
    .await?;
    let status = if recorded.new {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(recorded)))
}

/// `GET /admin/v1/merchants/{m}/transactions/{orderId}/returns` → `{items}`, oldest first.
#[utoipa::path(
    get,
    path = "/admin/v1/merchants/{m}/transactions/{orderId}/returns",
    operation_id = "listReturns",
    tag = "cards",
    security(("apiKey" = [])),
    params(
        crate::http::openapi::MerchantPath,
        ("orderId" = String, Path, description = "The recorded bill's order id"),
    ),
    responses(
        (status = 200, description = "The bill's returns, oldest first (none: empty)", body = ReturnList),
        crate::http::openapi::BadInput,
        crate::http::openapi::Unauthorized,
        crate::http::openapi::Forbidden,
    ),
)]
pub async fn list(
    State(state): State<AppState>,
    MerchantAuth(merchant): MerchantAuth,
    params: Params,
    query: QueryParams,
) -> ApiResult<Json<ReturnList>> {
    query.only(&[])?;
    let order_id = order_id(&params)?;
    let items = state.store().returns_of(&merchant.id, &order_id).await?;
    Ok(Json(ReturnList { items }))
}
