//! Papaya POS's loyalty webhook (Papaya's loyalty webhook page): its two request bodies
//! parsed from raw bytes into the host's [`Order`], and its exact response and error bodies.
//!
//! Parsing decisions:
//! - **Money is exact**: amounts are JSON numbers read as `Decimal` from their text (serde_json's
//!   `arbitrary_precision`), never through `f64`; `50.00` keeps its two places.
//!   **Quoted numbers (`"50.00"`) are refused** (`total must be a number`): Papaya sends
//!   numbers, and a quoted amount is a POS bug better reported than guessed at.
//! - **Required** (absent or `null` → id 2, `orderId is required`): `orderId`, `cardId`,
//!   `total`; on every line `productId`, `quantity`, `unitPrice`, `totalPrice`; and on
//!   endpoint 2 `event`, checked first, so another event gets id 1 whatever else it holds.
//! - **Optional**, with their defaults: `status` (`"open"` on endpoint 1, `"closed"` on
//!   endpoint 2), `currency` (`"EUR"`), `orderItems` (none), a line's `id` and `name`
//!   (`""`), `paid` (`true`: the order is completed), and `None` for the rest
//!   (`totalWithoutVat`, `vat`, `created`, `updated`, `completed`, `branchId`, `note`, and a
//!   line's `description`, `vat`, `vatRate`, `categoryId`, `categoryName`, `ean`, `note`).
//! - **Impossible values** (id 7, named): a wrong JSON type; a blank `orderId`, `cardId` or
//!   `productId`; a negative `total`, `totalWithoutVat`, `vat` or `quantity`; a `vatRate`
//!   outside 0–100; `paid` other than 0, 1, `true`, `false`; a `currency` that is not
//!   three letters (kept upper-cased); a time that is not RFC 3339; a number a `Decimal`
//!   cannot hold exactly; any number beyond ±10¹² ([`limits::MAX_AMOUNT`]); a body
//!   nested deeper than [`limits::MAX_JSON_DEPTH`]; a NUL character in any string or key;
//!   a control character in `orderId`, `cardId` or `productId`; an `orderId` or `cardId`
//!   longer than [`limits::MAX_ORDER_ID_CHARS`] / [`limits::MAX_CARD_ID_CHARS`]
//!   characters (`orderId must be at most 128 characters`). A line's `unitPrice`, `totalPrice` and `vat` **may be negative**:
//!   Papaya books a coupon as a line with a negative value, and a completed bill must not
//!   be refused for carrying our own coupon. Line totals need not add up to `total`.
//! - **Extra fields**: every top-level field the `Order` has no place for (except `cardId`,
//!   which names the card, and `event`) goes to `Order.attributes` as (key, JSON text), in
//!   key order; on endpoint 2 that includes `paid` and `completed`, so a policy sees them.
//!   Unknown fields inside a line are dropped (the model has nowhere to keep them).
//! - The first problem found is reported, in the order the seed lists the fields.

mod error;
mod fast;
mod fields;

#[cfg(test)]
mod tests;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

pub use error::{ErrorBody, PapayaError};

use crate::limits;
use crate::model::{Order, OrderItem, Pos};
use fields::Fields;

/// The one event endpoint 2 accepts.
pub const ORDER_COMPLETED: &str = "order.completed";

/// Endpoint 1: an open bill and the card it is asking a discount for.
#[derive(Debug, Clone, PartialEq)]
pub struct DiscountQuery {
    pub card_id: String,
    pub order: Order,
}

/// Endpoint 2: a closed bill to record on the card.
#[derive(Debug, Clone, PartialEq)]
pub struct OrderCompleted {
    /// Always [`ORDER_COMPLETED`].
    pub event: String,
    pub card_id: String,
    /// Papaya's `paid` flag (`1`/`0`).
    pub paid: bool,
    /// When the bill was closed, epoch milliseconds, UTC.
    pub completed: Option<i64>,
    pub order: Order,
}

/// Endpoint 2's answer: `{"success": true, "message": "Order processed successfully",
/// "orderDetails": {"orderId": "..."}}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TransactionAck {
    pub success: bool,
    pub message: String,
    pub order_details: OrderDetails,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct OrderDetails {
    pub order_id: String,
}

impl TransactionAck {
    pub fn new(order_id: impl Into<String>) -> Self {
        TransactionAck {
            success: true,
            message: "Order processed successfully".to_owned(),
            order_details: OrderDetails {
                order_id: order_id.into(),
            },
        }
    }
}

/// Top-level fields that have a place of their own (`Order` fields and `cardId`).
const ORDER_FIELDS: &[&str] = &[
    "orderId",
    "cardId",
    "status",
    "total",
    "totalWithoutVat",
    "currency",
    "vat",
    "created",
    "updated",
    "branchId",
    "note",
    "orderItems",
];

/// Parses endpoint 1's body (read the discount for a card).
///
/// A well-formed body is read in one pass straight into the order; any other goes through
/// the slow path, which names the problem (the same answers either way).
pub fn parse_discount_query(body: &[u8]) -> Result<DiscountQuery, PapayaError> {
    if let Some(fast) = fast::body(body, "open") {
        let mut order = fast.order;
        order.attributes = fast::attributes(&fast.extra, &[]);
        return Ok(DiscountQuery {
            card_id: fast.card_id,
            order,
        });
    }
    parse_discount_query_slowly(body)
}

/// [`parse_discount_query`] through a `serde_json::Value` tree, field by field: every
/// problem named exactly.
pub fn parse_discount_query_slowly(body: &[u8]) -> Result<DiscountQuery, PapayaError> {
    let map = object(body)?;
    let (card_id, order) = order(&map, "open", &[])?;
    Ok(DiscountQuery { card_id, order })
}

/// Parses endpoint 2's body (record a completed bill on the card).
///
/// Like [`parse_discount_query`]: one pass for a well-formed body, the slow path otherwise.
pub fn parse_order_completed(body: &[u8]) -> Result<OrderCompleted, PapayaError> {
    if let Some(fast) = fast::body(body, "closed")
        && let Some((paid, completed)) = fast::completed_fields(&fast.extra)
    {
        let mut order = fast.order;
        order.attributes = fast::attributes(&fast.extra, &["event"]);
        return Ok(OrderCompleted {
            event: ORDER_COMPLETED.to_owned(),
            card_id: fast.card_id,
            paid,
            completed,
            order,
        });
    }
    parse_order_completed_slowly(body)
}

/// [`parse_order_completed`] through a `serde_json::Value` tree, field by field.
pub fn parse_order_completed_slowly(body: &[u8]) -> Result<OrderCompleted, PapayaError> {
    let map = object(body)?;
    let top = Fields::new(&map, String::new());
    let event = top
        .string("event")?
        .ok_or_else(|| PapayaError::missing("event"))?;
    if event != ORDER_COMPLETED {
        return Err(PapayaError::UnsupportedEvent {
            event: event.to_owned(),
        });
    }
    let (card_id, order) = order(&map, "closed", &["event"])?;
    let paid = paid(&top)?;
    let completed = top.time("completed")?;
    Ok(OrderCompleted {
        event: event.to_owned(),
        card_id,
        paid,
        completed,
        order,
    })
}

/// Papaya's `paid` flag: absent is `true`; `0`, `1`, `false`, `true`.
fn paid(top: &Fields) -> Result<bool, PapayaError> {
    match top.get("paid") {
        None => Ok(true),
        Some(Value::Bool(paid)) => Ok(*paid),
        Some(Value::Number(number)) => match crate::money::json::from_number(number) {
            Some(flag) if flag == Decimal::ONE => Ok(true),
            Some(flag) if flag.is_zero() => Ok(false),
            _ => Err(top.invalid("paid", "must be 0 or 1")),
        },
        Some(_) => Err(top.invalid("paid", "must be 0 or 1")),
    }
}

fn object(body: &[u8]) -> Result<Map<String, Value>, PapayaError> {
    match serde_json::from_slice(body) {
        Ok(value @ Value::Object(_)) => {
            let depth = limits::json_depth(&value);
            if depth > limits::MAX_JSON_DEPTH {
                return Err(PapayaError::invalid(
                    "body",
                    format!(
                        "nests {depth} levels deep; at most {} are allowed",
                        limits::MAX_JSON_DEPTH
                    ),
                ));
            }
            if let Some(path) = limits::find_nul(&value) {
                return Err(PapayaError::invalid(
                    path,
                    "must not contain a NUL character",
                ));
            }
            match value {
                Value::Object(map) => Ok(map),
                _ => Err(PapayaError::invalid("body", "must be a JSON object")),
            }
        }
        Ok(_) => Err(PapayaError::invalid("body", "must be a JSON object")),
        Err(e) => Err(PapayaError::MalformedJson {
            detail: e.to_string(),
        }),
    }
}

/// The bill common to both endpoints, and the card id. `not_attributes` are top-level
/// fields the caller reads itself and that the policy needs no copy of.
fn order(
    map: &Map<String, Value>,
    default_status: &str,
    not_attributes: &[&str],
) -> Result<(String, Order), PapayaError> {
    let top = Fields::new(map, String::new());
    let order_id = top.bounded_id("orderId", limits::MAX_ORDER_ID_CHARS)?;
    let card_id = top.bounded_id("cardId", limits::MAX_CARD_ID_CHARS)?;
    let status = top
        .owned_string("status")?
        .unwrap_or_else(|| default_status.to_owned());
    let total = top.non_negative("total", top.required_decimal("total")?)?;
    let total_without_vat = optional_non_negative(&top, "totalWithoutVat")?;
    let currency = currency(&top)?;
    let vat = optional_non_negative(&top, "vat")?;
    let created = top.time("created")?;
    let updated = top.time("updated")?;
    let branch_id = top.owned_string("branchId")?;
    let note = top.owned_string("note")?;
    let items = match top.get("orderItems") {
        None => Vec::new(),
        Some(Value::Array(lines)) => lines
            .iter()
            .enumerate()
            .map(|(index, line)| item(index, line))
            .collect::<Result<_, _>>()?,
        Some(_) => return Err(top.invalid("orderItems", "must be an array")),
    };
    let attributes = map
        .iter()
        .filter(|(key, _)| {
            !ORDER_FIELDS.contains(&key.as_str()) && !not_attributes.contains(&key.as_str())
        })
        .map(|(key, value)| (key.clone(), value.to_string()))
        .collect();
    let order = Order {
        order_id,
        pos: Pos::Papaya,
        status,
        total,
        total_without_vat,
        vat,
        currency,
        created,
        updated,
        branch_id,
        note,
        items,
        attributes,
    };
    Ok((card_id, order))
}

fn item(index: usize, line: &Value) -> Result<OrderItem, PapayaError> {
    let Value::Object(map) = line else {
        return Err(PapayaError::invalid(
            format!("orderItems[{index}]"),
            "must be an object",
        ));
    };
    let line = Fields::new(map, format!("orderItems[{index}]."));
    Ok(OrderItem {
        id: line.owned_string("id")?.unwrap_or_default(),
        product_id: line.id("productId")?,
        name: line.owned_string("name")?.unwrap_or_default(),
        description: line.owned_string("description")?,
        quantity: line.non_negative("quantity", line.required_decimal("quantity")?)?,
        unit_price: line.required_decimal("unitPrice")?,
        total_price: line.required_decimal("totalPrice")?,
        vat: line.decimal("vat")?,
        vat_rate: match line.decimal("vatRate")? {
            Some(rate) if rate < Decimal::ZERO || rate > Decimal::ONE_HUNDRED => {
                return Err(line.invalid("vatRate", "must be between 0 and 100"));
            }
            rate => rate,
        },
        category_id: line.owned_string("categoryId")?,
        category_name: line.owned_string("categoryName")?,
        ean: line.owned_string("ean")?,
        note: line.owned_string("note")?,
    })
}

fn optional_non_negative(fields: &Fields, key: &str) -> Result<Option<Decimal>, PapayaError> {
    fields
        .decimal(key)?
        .map(|value| fields.non_negative(key, value))
        .transpose()
}

fn currency(fields: &Fields) -> Result<String, PapayaError> {
    match fields.string("currency")? {
        None => Ok("EUR".to_owned()),
        Some(code) if code.len() == 3 && code.bytes().all(|b| b.is_ascii_alphabetic()) => {
            Ok(code.to_ascii_uppercase())
        }
        Some(_) => Err(fields.invalid("currency", "must be a three-letter ISO 4217 code")),
    }
}
