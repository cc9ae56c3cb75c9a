//! Returns (issue 19, first part): what the merchant says was returned of a recorded bill,
//! turned into exact line values from the bill as the POS sent it, then recorded by the
//! store under the card's lock (`rabat_store::Store::record_return`).

use rust_decimal::Decimal;
use sha2::{Digest, Sha256};

use rabat_domain::currency;
use rabat_domain::model::Pos;
use rabat_domain::papaya;
use rabat_store::{NewReturn, Return, ReturnedLine, Store};

use super::{Actor, ServiceError, ServiceResult};

/// One returned line as asked: the bill line's id and how many of it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AskedLine {
    pub line_id: String,
    pub quantity: Decimal,
}

/// Records the return `return_id` of the recorded bill `order_id` (the whole bill when
/// `lines` is `None`), audited as `order.return` by `actor`.
pub async fn record(
    store: &Store,
    actor: &Actor,
    merchant: &str,
    order_id: &str,
    return_id: &str,
    lines: Option<Vec<AskedLine>>,
) -> ServiceResult<Return> {
    let bill = store
        .ledger_by_order(merchant, order_id)
        .await?
        .ok_or_else(|| ServiceError::NotFound(format!("no recorded bill of order '{order_id}'")))?;
    let request_hash = {
        let canonical = serde_json::json!({"returnId": return_id, "lines": lines});
        hex::encode(Sha256::digest(canonical.to_string().as_bytes()))
    };
    let returned = match &lines {
        None => None,
        Some(asked) => {
            if bill.pos != Some(Pos::Papaya) {
                return Err(ServiceError::Invalid(
                    "lines: only a Papaya bill has lines to return; return this bill whole (no lines)"
                        .into(),
                ));
            }
            let body = bill
                .request
                .as_ref()
                .map(|r| r.to_string())
                .unwrap_or_default();
            let completed = papaya::parse_order_completed_slowly(body.as_bytes()).map_err(|e| {
                ServiceError::Invalid(format!("the bill's stored lines cannot be read: {e}"))
            })?;
            let mut out = Vec::with_capacity(asked.len());
            for (i, line) in asked.iter().enumerate() {
                if asked[..i].iter().any(|l| l.line_id == line.line_id) {
                    return Err(ServiceError::Invalid(format!(
                        "lines[{i}]: line '{}' is named twice",
                        line.line_id
                    )));
                }
                let item = completed
                    .order
                    .items
                    .iter()
                    .find(|item| item.id == line.line_id)
                    .ok_or_else(|| {
                        ServiceError::Invalid(format!(
                            "lines[{i}]: the bill has no line '{}'",
                            line.line_id
                        ))
                    })?;
                if item.quantity <= Decimal::ZERO || item.total_price <= Decimal::ZERO {
                    return Err(ServiceError::Invalid(format!(
                        "lines[{i}]: line '{}' was not bought (quantity {}, total {})",
                        line.line_id, item.quantity, item.total_price
                    )));
                }
                if line.quantity > item.quantity {
                    return Err(ServiceError::Invalid(format!(
                        "lines[{i}]: {} returned of line '{}', which has {}",
                        line.quantity, line.line_id, item.quantity
                    )));
                }
                let value = item
                    .total_price
                    .checked_mul(line.quantity)
                    .and_then(|v| v.checked_div(item.quantity))
                    .ok_or_else(|| {
                        ServiceError::Invalid(format!("lines[{i}]: the value is out of range"))
                    })?;
                // In the currency's minor units (a refund is paid in cents); a whole return
                // later takes exactly what is left of the total.
                let places = currency::minor_units(&completed.order.currency);
                let mut value = currency::round(value, places);
                value.rescale(places);
                out.push(ReturnedLine {
                    line_id: line.line_id.clone(),
                    quantity: line.quantity,
                    bought: item.quantity,
                    value,
                });
            }
            Some(out)
        }
    };
    let ret = NewReturn {
        return_id: return_id.to_owned(),
        order_id: order_id.to_owned(),
        request_hash,
        lines: returned,
    };
    let audit = |r: &Return| {
        actor.did(
            "order.return",
            serde_json::json!({
                "orderId": r.order_id, "returnId": r.return_id, "cardId": r.card_id,
                "value": r.value.to_string(), "whole": r.whole, "pointsTaken": r.points_taken,
                "pointsGiven": r.points_given, "shortfall": r.shortfall, "coupons": r.coupons,
            }),
        )
    };
    Ok(store.record_return(merchant, &ret, audit).await?)
}
