//! BIFIT's online order (BIFIT's CASHDESK API page for online orders) as rabat reads it, and its mapping to
//! the canonical [`Order`] a policy sees.
//!
//! Every documented field has its real type: times are epoch milliseconds (`i64`), ids
//! integers, money exact [`Decimal`]s read from the JSON number's text (never `f64`).
//! Fields the page shows only as `null` (`location`, `substatusId`, `shopId`, the
//! `routeSheet…` fields, `size`) have no documented type: they are kept as whatever JSON
//! BIFIT sends. An unknown `taxSystem`, `currentStatusType` or `deliveryType` value is
//! kept as its text ([`Other`](OrderStatus::Other)), never refused: BIFIT may add values.
//!
//! The documented answer carries **no item lines**, so the order is a bill-level order:
//! `items` is empty and `totalAmount` is the bill total.

use std::fmt;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::model::{Order, Pos};

/// An answer from BIFIT that does not match the documented shape; `field` names where.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("BIFIT's online order does not match the documented shape: {field}: {problem}")]
pub struct Malformed {
    pub field: String,
    pub problem: String,
}

/// The currency of every BIFIT amount (roubles; the API names no currency).
pub const CURRENCY: &str = "RUB";

/// `GET …/online_orders/{id}`'s answer, every documented field.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OnlineOrder {
    pub id: i64,
    #[serde(default)]
    pub visible: Option<bool>,
    /// Epoch ms.
    #[serde(default)]
    pub created: Option<i64>,
    /// Epoch ms.
    #[serde(default)]
    pub changed: Option<i64>,
    #[serde(default)]
    pub organization_id: Option<String>,
    #[serde(default)]
    pub trade_object_id: Option<String>,
    #[serde(default)]
    pub tax_system: Option<TaxSystem>,
    #[serde(default)]
    pub external_id: Option<String>,
    #[serde(default)]
    pub delivery_type: Option<DeliveryType>,
    #[serde(default, with = "rust_decimal::serde::arbitrary_precision_option")]
    pub delivery_amount: Option<Decimal>,
    /// Epoch ms.
    #[serde(default)]
    pub delivery_time: Option<i64>,
    #[serde(default)]
    pub paid: Option<bool>,
    /// Epoch ms.
    #[serde(default)]
    pub order_time: Option<i64>,
    /// BIFIT's customer id; the merchant maps it to a card (the card's `customerId`).
    #[serde(default)]
    pub client_id: Option<i64>,
    #[serde(default)]
    pub address: Option<String>,
    #[serde(default)]
    pub responsible_person_login: Option<String>,
    #[serde(default, with = "rust_decimal::serde::arbitrary_precision_option")]
    pub discount: Option<Decimal>,
    /// An integer whose meaning the page does not give.
    #[serde(default)]
    pub discount_type: Option<i64>,
    #[serde(default)]
    pub location: Option<Value>,
    #[serde(with = "rust_decimal::serde::arbitrary_precision")]
    pub total_amount: Decimal,
    #[serde(default)]
    pub comment: Option<String>,
    pub current_status_type: OrderStatus,
    /// Epoch ms.
    #[serde(default)]
    pub current_status_time: Option<i64>,
    #[serde(default)]
    pub substatus_id: Option<Value>,
    #[serde(default)]
    pub shop_id: Option<Value>,
    /// Epoch ms.
    #[serde(default)]
    pub end_lock_time: Option<i64>,
    #[serde(default)]
    pub route_sheet_document_id: Option<Value>,
    #[serde(default)]
    pub route_sheet_document_position: Option<Value>,
    #[serde(default)]
    pub route_sheet_document_number: Option<Value>,
    #[serde(default)]
    pub size: Option<Value>,
    /// Epoch ms.
    #[serde(default)]
    pub actual_delivery_time: Option<i64>,
    #[serde(default)]
    pub cashier_name: Option<String>,
    #[serde(default)]
    pub client_name: Option<String>,
}

/// Declares a BIFIT enum that keeps values it does not know as text.
macro_rules! open_enum {
    ($(#[$doc:meta])* $name:ident { $($(#[$vdoc:meta])* $variant:ident = $text:literal,)* }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[serde(from = "String", into = "String")]
        pub enum $name {
            $($(#[$vdoc])* $variant,)*
            /// A value the page does not list, kept as sent.
            Other(String),
        }

        impl $name {
            pub fn as_str(&self) -> &str {
                match self {
                    $($name::$variant => $text,)*
                    $name::Other(text) => text,
                }
            }
        }

        impl From<String> for $name {
            fn from(text: String) -> Self {
                match text.as_str() {
                    $($text => $name::$variant,)*
                    _ => $name::Other(text),
                }
            }
        }

        impl From<$name> for String {
            fn from(value: $name) -> String {
                value.as_str().to_owned()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

open_enum!(
    /// `currentStatusType`.
    OrderStatus {
        New = "NEW",
        Accepted = "ACCEPTED",
        Distributed = "DISTRIBUTED",
        Issued = "ISSUED",
        /// Cancelled (from `ACCEPTED` or `DISTRIBUTED`): final, nothing to record.
        Refused = "REFUSED",
        /// Deleted (from `NEW`): final, nothing to record.
        Deleted = "DELETED",
        /// Completed: final, recorded on the card.
        Finished = "FINISHED",
    }
);

open_enum!(
    /// `taxSystem`.
    TaxSystem {
        Common = "COMMON",
        Simplified = "SIMPLIFIED",
        SimplifiedWithExpense = "SIMPLIFIED_WITH_EXPENSE",
        Envd = "ENVD",
        CommonAgricultural = "COMMON_AGRICULTURAL",
        Patent = "PATENT",
    }
);

open_enum!(
    /// `deliveryType`.
    DeliveryType {
        Courier = "COURIER",
        SelfPickup = "SELF",
        Service = "SERVICE",
    }
);

/// What a status means for the ledger.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Finality {
    /// `FINISHED`: record the bill.
    Finished,
    /// `REFUSED` or `DELETED`: record nothing, stop following.
    Void,
    /// Anything else (an unknown value too): not final yet.
    Open,
}

impl OrderStatus {
    pub fn finality(&self) -> Finality {
        match self {
            OrderStatus::Finished => Finality::Finished,
            OrderStatus::Refused | OrderStatus::Deleted => Finality::Void,
            _ => Finality::Open,
        }
    }
}

/// An online order as fetched: the typed fields and the JSON as BIFIT sent it (kept for
/// the attributes and for the ledger's copy of the request).
#[derive(Debug, Clone, PartialEq)]
pub struct Fetched {
    pub order: OnlineOrder,
    pub raw: Map<String, Value>,
}

/// Fields with a place of their own in [`Order`]; everything else BIFIT sends becomes an
/// attribute.
const ORDER_FIELDS: &[&str] = &[
    "id",
    "totalAmount",
    "currentStatusType",
    "created",
    "changed",
    "comment",
];

/// Parses BIFIT's answer for online order `asked`. A body that does not match the
/// documented shape is an error naming the field (`totalAmount: invalid type: …`).
pub fn parse(body: &[u8], asked: i64) -> Result<Fetched, Malformed> {
    let raw: Value = serde_json::from_slice(body).map_err(|e| Malformed {
        field: "body".into(),
        problem: format!("is not JSON: {e}"),
    })?;
    let depth = crate::limits::json_depth(&raw);
    if depth > crate::limits::MAX_JSON_DEPTH {
        return Err(Malformed {
            field: "body".into(),
            problem: format!(
                "nests {depth} levels deep; at most {} are allowed",
                crate::limits::MAX_JSON_DEPTH
            ),
        });
    }
    if let Some(path) = crate::limits::find_nul(&raw) {
        return Err(Malformed {
            field: if path.is_empty() { "body".into() } else { path },
            problem: "must not contain a NUL character".into(),
        });
    }
    let Value::Object(map) = raw else {
        return Err(Malformed {
            field: "body".into(),
            problem: "is not a JSON object".into(),
        });
    };
    let order: OnlineOrder = serde_path_to_error::deserialize(&Value::Object(map.clone()))
        .map_err(|e| {
            let field = e.path().to_string();
            Malformed {
                field: if field == "." { "body".into() } else { field },
                problem: e.into_inner().to_string(),
            }
        })?;
    if order.total_amount < Decimal::ZERO {
        return Err(Malformed {
            field: "totalAmount".into(),
            problem: format!("must not be negative, got {}", order.total_amount),
        });
    }
    let amounts = [
        ("totalAmount", Some(order.total_amount)),
        ("deliveryAmount", order.delivery_amount),
        ("discount", order.discount),
    ];
    for (field, amount) in amounts {
        if let Some(amount) = amount.filter(|a| !crate::limits::amount_in_range(*a)) {
            return Err(Malformed {
                field: field.into(),
                problem: format!("{}, got {amount}", crate::limits::amount_problem()),
            });
        }
    }
    if order.id != asked {
        return Err(Malformed {
            field: "id".into(),
            problem: format!("is {} but online order {asked} was asked for", order.id),
        });
    }
    Ok(Fetched { order, raw: map })
}

impl Fetched {
    /// The canonical order: id, `totalAmount` as the bill total in RUB, created and
    /// changed times, the status, `tradeObjectId` as the branch, `comment` as the note, no
    /// item lines; every other non-null field as an attribute (key, JSON text) in key
    /// order, as Papaya's extras are.
    pub fn to_order(&self) -> Order {
        let order = &self.order;
        let attributes = self
            .raw
            .iter()
            .filter(|(key, value)| !value.is_null() && !ORDER_FIELDS.contains(&key.as_str()))
            .map(|(key, value)| (key.clone(), value.to_string()))
            .collect();
        Order {
            order_id: order.id.to_string(),
            pos: Pos::Bifit,
            status: order.current_status_type.to_string(),
            total: order.total_amount,
            total_without_vat: None,
            vat: None,
            currency: CURRENCY.to_owned(),
            created: order.created,
            updated: order.changed,
            branch_id: order.trade_object_id.clone(),
            note: order.comment.clone(),
            items: Vec::new(),
            attributes,
        }
    }

    /// When the bill was closed, for the ledger: the status time, else the last change,
    /// else creation.
    pub fn occurred_at(&self) -> Option<i64> {
        let order = &self.order;
        order
            .current_status_time
            .or(order.changed)
            .or(order.created)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    /// The page's example, as documented.
    pub(crate) const SEED: &str = r#"{ "id": 320528, "visible": true, "created": 1645690408369,
      "changed": 1645691489120, "organizationId": "<organization_id>",
      "tradeObjectId": "<trade_object_id>", "taxSystem": "COMMON", "externalId": "112345",
      "deliveryType": "COURIER", "deliveryAmount": null, "deliveryTime": 1645690416000,
      "paid": false, "orderTime": 1645690388467, "clientId": 195363, "address": "Адрес",
      "responsiblePersonLogin": "79775553322", "discount": 0.00, "discountType": 0,
      "location": null, "totalAmount": 3000.00, "comment": null,
      "currentStatusType": "DISTRIBUTED", "currentStatusTime": 1645691012245,
      "substatusId": null, "shopId": null, "endLockTime": 1645691458615,
      "routeSheetDocumentId": null, "routeSheetDocumentPosition": null,
      "routeSheetDocumentNumber": null, "size": null, "actualDeliveryTime": 1645691458616,
      "cashierName": null, "clientName": null }"#;

    fn with(field: &str, value: Value) -> Vec<u8> {
        let mut map: Map<String, Value> = serde_json::from_str(SEED).unwrap();
        map.insert(field.into(), value);
        serde_json::to_vec(&map).unwrap()
    }

    fn error(body: &[u8]) -> String {
        parse(body, 320528).unwrap_err().to_string()
    }

    #[test]
    fn the_documented_example_parses_with_real_types() {
        let fetched = parse(SEED.as_bytes(), 320528).unwrap();
        let order = &fetched.order;
        assert_eq!(order.id, 320528);
        assert_eq!(order.client_id, Some(195363));
        assert_eq!(order.created, Some(1645690408369));
        assert_eq!(order.total_amount, Decimal::from_str("3000.00").unwrap());
        assert_eq!(order.total_amount.to_string(), "3000.00");
        assert_eq!(order.discount.map(|d| d.to_string()), Some("0.00".into()));
        assert_eq!(order.delivery_amount, None);
        assert_eq!(order.tax_system, Some(TaxSystem::Common));
        assert_eq!(order.delivery_type, Some(DeliveryType::Courier));
        assert_eq!(order.current_status_type, OrderStatus::Distributed);
        assert_eq!(order.current_status_type.finality(), Finality::Open);
        assert_eq!(order.paid, Some(false));
    }

    #[test]
    fn money_is_exact_beyond_what_f64_holds() {
        let body = with(
            "totalAmount",
            serde_json::from_str("999999999999.123456789").unwrap(),
        );
        let order = parse(&body, 320528).unwrap().order;
        assert_eq!(order.total_amount.to_string(), "999999999999.123456789");
    }

    #[test]
    fn unknown_enum_values_are_kept() {
        let body = with("currentStatusType", json("COOKING"));
        let order = parse(&body, 320528).unwrap().order;
        assert_eq!(
            order.current_status_type,
            OrderStatus::Other("COOKING".into())
        );
        assert_eq!(order.current_status_type.finality(), Finality::Open);
        let body = with("taxSystem", json("NPD"));
        assert_eq!(
            parse(&body, 320528).unwrap().order.tax_system,
            Some(TaxSystem::Other("NPD".into()))
        );
        let body = with("deliveryType", json("DRONE"));
        let fetched = parse(&body, 320528).unwrap();
        assert_eq!(
            fetched.order.delivery_type,
            Some(DeliveryType::Other("DRONE".into()))
        );
        assert!(
            fetched
                .to_order()
                .attributes
                .contains(&("deliveryType".into(), "\"DRONE\"".into()))
        );
    }

    fn json(text: &str) -> Value {
        Value::String(text.into())
    }

    #[test]
    fn a_wrong_shape_names_the_field() {
        let e = error(&with("totalAmount", json("lots")));
        assert!(e.contains("totalAmount"), "{e}");
        let e = error(&with("clientId", json("195363")));
        assert!(e.contains("clientId") && e.contains("expected i64"), "{e}");
        let e = error(&with("created", json("2022-02-24")));
        assert!(e.contains("created"), "{e}");
        let e = error(&with("currentStatusType", Value::from(3)));
        assert!(e.contains("currentStatusType"), "{e}");
        let e = error(&with("totalAmount", serde_json::from_str("-1.00").unwrap()));
        assert!(e.contains("totalAmount: must not be negative"), "{e}");
        let mut map: Map<String, Value> = serde_json::from_str(SEED).unwrap();
        map.remove("totalAmount");
        let e = error(&serde_json::to_vec(&map).unwrap());
        assert!(e.contains("totalAmount"), "{e}");
        assert!(error(b"<html>").contains("not JSON"));
        assert!(error(b"[1]").contains("not a JSON object"));
        let e = parse(SEED.as_bytes(), 7).unwrap_err().to_string();
        assert!(e.contains("id: is 320528 but online order 7"), "{e}");
    }

    #[test]
    fn maps_to_a_bill_level_order_with_attributes() {
        let order = parse(SEED.as_bytes(), 320528).unwrap().to_order();
        assert_eq!(order.order_id, "320528");
        assert_eq!(order.pos, Pos::Bifit);
        assert_eq!(order.status, "DISTRIBUTED");
        assert_eq!(order.total.to_string(), "3000.00");
        assert_eq!(order.currency, "RUB");
        assert_eq!(order.created, Some(1645690408369));
        assert_eq!(order.updated, Some(1645691489120));
        assert_eq!(order.branch_id.as_deref(), Some("<trade_object_id>"));
        assert!(order.items.is_empty());
        let attr = |key: &str| {
            order
                .attributes
                .iter()
                .find(|(k, _)| k == key)
                .map(|(_, v)| v.as_str())
        };
        assert_eq!(attr("taxSystem"), Some("\"COMMON\""));
        assert_eq!(attr("deliveryType"), Some("\"COURIER\""));
        assert_eq!(attr("externalId"), Some("\"112345\""));
        assert_eq!(attr("tradeObjectId"), Some("\"<trade_object_id>\""));
        assert_eq!(attr("clientId"), Some("195363"));
        assert_eq!(attr("discount"), Some("0.00"));
        assert_eq!(attr("shopId"), None, "null fields are left out");
        assert_eq!(attr("totalAmount"), None, "mapped fields are not repeated");
        let keys: Vec<_> = order.attributes.iter().map(|(k, _)| k.clone()).collect();
        let mut sorted = keys.clone();
        sorted.sort();
        assert_eq!(keys, sorted);
    }
}
