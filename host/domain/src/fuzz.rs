//! Property tests with arbitrary input over every parser a caller's bytes reach: Papaya's
//! two bodies, BIFIT's online order, the policy config. Whatever the bytes, each answers
//! Ok or a named error — never a panic — and a body that parses once parses the same
//! way again (no hidden state). Run longer with `PROPTEST_CASES=100000 cargo test -p
//! rabat-domain fuzz` (the README's Security section says what they found).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use proptest::prelude::*;
use serde_json::{Value, json};

use crate::{bifit, papaya, policy_config};

/// Papaya's sample bill, the starting point for structured mutations.
fn seed_bill() -> Value {
    json!({
        "event": "order.completed",
        "orderId": "00123487979878",
        "cardId": "memberCardId",
        "status": "closed",
        "total": 50.00,
        "currency": "EUR",
        "created": 1700000000000_i64,
        "orderItems": [
            {"id": "1", "productId": "p-1", "name": "Latte", "quantity": 2,
             "unitPrice": 12.50, "totalPrice": 25.00, "categoryName": "Hot Beverages"},
            {"id": "2", "productId": "p-2", "name": "Bagel", "quantity": 1,
             "unitPrice": 25.00, "totalPrice": 25.00}
        ]
    })
}

/// Any JSON value, nested a little, with the kinds of scalars parsers trip on.
fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<f64>()
            .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        "[0-9]{1,40}(\\.[0-9]{1,30})?"
            .prop_map(|text| serde_json::from_str(&text).unwrap_or(Value::Null)),
        ".{0,40}".prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 24, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map("[a-zA-Z]{1,12}", inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// The seed bill with one field (or one item's field) replaced by anything.
fn mutated_bill() -> impl Strategy<Value = Value> {
    let keys = prop::sample::select(vec![
        "event",
        "orderId",
        "cardId",
        "status",
        "total",
        "currency",
        "created",
        "orderItems",
        "id",
        "productId",
        "name",
        "quantity",
        "unitPrice",
        "totalPrice",
        "categoryName",
        "vat",
        "vatRate",
        "note",
    ]);
    (keys, any_json(), any::<bool>()).prop_map(|(key, value, in_item)| {
        let mut bill = seed_bill();
        if in_item {
            bill["orderItems"][0][key] = value;
        } else {
            bill[key] = value;
        }
        bill
    })
}

fn parse_all(bytes: &[u8]) {
    let first = papaya::parse_discount_query(bytes).map(|q| (q.card_id, q.order.order_id));
    let again = papaya::parse_discount_query(bytes).map(|q| (q.card_id, q.order.order_id));
    assert_eq!(first, again);
    let _ = papaya::parse_order_completed(bytes);
    let _ = bifit::parse(bytes, 1);
    if let Ok(text) = std::str::from_utf8(bytes) {
        let _ = policy_config::validate(text);
    }
}

/// The one-pass reading of a Papaya body answers exactly what the field-by-field one does:
/// the same order for a body both accept, and the slow path's own error otherwise.
fn both_paths_agree(bytes: &[u8]) {
    assert_eq!(
        format!("{:?}", papaya::parse_discount_query(bytes)),
        format!("{:?}", papaya::parse_discount_query_slowly(bytes)),
        "endpoint 1, body {}",
        String::from_utf8_lossy(bytes)
    );
    assert_eq!(
        format!("{:?}", papaya::parse_order_completed(bytes)),
        format!("{:?}", papaya::parse_order_completed_slowly(bytes)),
        "endpoint 2, body {}",
        String::from_utf8_lossy(bytes)
    );
}

/// The seed bill as both paths accept it (the seed's `created` is a number, which Papaya's
/// bodies may not have).
fn valid_bill() -> Value {
    let mut bill = seed_bill();
    bill["created"] = json!("2025-10-21T10:30:00.000Z");
    bill["orderItems"][0]["vatRate"] = json!(0);
    bill
}

/// A valid bill with one field (or one line's field) replaced by anything.
fn mutated_valid_bill() -> impl Strategy<Value = Value> {
    mutated_bill().prop_map(|mut bill| {
        let seed = seed_bill();
        if bill["created"] == seed["created"] {
            bill["created"] = json!("2025-10-21T10:30:00.000Z");
        }
        bill
    })
}

/// Textual edits JSON values cannot express: duplicate keys, escapes, NULs, nesting.
fn edited_bill() -> impl Strategy<Value = String> {
    let edits = prop::sample::select(vec![
        (
            r#""orderId": "00123487979878","#,
            r#""orderId": "a", "orderId": "b","#,
        ),
        (
            r#""productId": "p-1","#,
            r#""productId": "p-1", "productId": "p-9","#,
        ),
        (
            r#""name": "Latte","#,
            r#""name": "La\u0074te", "x": 1, "x": 2,"#,
        ),
        (r#""name": "Latte","#, r#""name": "La\u0000tte","#),
        (
            r#""name": "Latte","#,
            r#""extra": {"a\u0000": 1},"name": "Latte","#,
        ),
        (
            r#""name": "Latte","#,
            r#""deep": [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]],"#,
        ),
        (
            r#""status": "closed","#,
            r#""status": "closed", "deep": [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]],"#,
        ),
        (
            r#""status": "closed","#,
            r#""status": "closed", "extra": null, "paid": 0,"#,
        ),
        (r#""status": "closed","#, r#""status": "c\"losed\\","#),
        (r#""total": 50.0,"#, r#""total": 5.0e1,"#),
        (r#""total": 50.0,"#, r#""total": -0,"#),
        (r#""total": 50.0,"#, r#""total": 1000000000001,"#),
        (
            r#""cardId": "memberCardId","#,
            r#""cardId": "member	Card","#,
        ),
        (r#""cardId": "memberCardId","#, r#""cardId": "  ","#),
        (r#""currency": "EUR","#, r#""currency": "eur","#),
        (
            r#""event": "order.completed","#,
            r#""event": "order.created","#,
        ),
        (r#""event": "order.completed","#, ""),
        (
            r#""created": "2025-10-21T10:30:00.000Z","#,
            r#""created": 1700000000000,"#,
        ),
        (
            r#""created": "2025-10-21T10:30:00.000Z","#,
            r#""created": "2025-10-21T10:30:00.000+02:00", "completed": "2025-10-21T10:30:00Z","#,
        ),
        (r#""quantity": 2,"#, r#""quantity": null,"#),
        (r#""vatRate": 0,"#, r#""vatRate": 101,"#),
    ]);
    (prop::collection::vec(edits, 0..4), any::<bool>()).prop_map(|(edits, pretty)| {
        let mut text = serde_json::to_string_pretty(&valid_bill()).unwrap_or_default();
        text = text.replace(",\n", ",").replace("\n", "");
        for (from, to) in edits {
            text = text
                .replacen(&from.replace(' ', ""), to, 1)
                .replacen(from, to, 1);
        }
        if !pretty {
            text = text.split_whitespace().collect::<Vec<_>>().join(" ");
        }
        text
    })
}

proptest! {
    #[test]
    fn one_pass_and_field_by_field_agree_on_any_bill(bill in mutated_valid_bill()) {
        both_paths_agree(bill.to_string().as_bytes());
    }

    #[test]
    fn one_pass_and_field_by_field_agree_on_edited_text(text in edited_bill()) {
        both_paths_agree(text.as_bytes());
    }

    #[test]
    fn one_pass_and_field_by_field_agree_on_any_json(value in any_json()) {
        both_paths_agree(value.to_string().as_bytes());
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        parse_all(&bytes);
    }

    #[test]
    fn arbitrary_json_never_panics(value in any_json()) {
        parse_all(value.to_string().as_bytes());
    }

    #[test]
    fn a_bill_with_any_field_replaced_never_panics(bill in mutated_bill()) {
        parse_all(bill.to_string().as_bytes());
        // A refusal always names a field or says what is wrong.
        if let Err(error) = papaya::parse_discount_query(bill.to_string().as_bytes()) {
            prop_assert!(!error.to_string().is_empty());
        }
    }
}
