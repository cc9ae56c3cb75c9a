#![allow(clippy::unwrap_used)]

use super::*;
use crate::money::json::compact;

mod bad_input;

/// Endpoint 1's request, as the seed gives it.
const SEED_DISCOUNT_REQUEST: &str = r#"{
  "orderId": "00123487979878",
  "cardId": "memberCardId",
  "status": "open",
  "total": 50.00,
  "totalWithoutVat": 41.67,
  "currency": "EUR",
  "vat": 8.33,
  "created": "2025-10-21T10:30:00.000Z",
  "updated": "2025-10-21T10:35:12.000Z",
  "branchId": "SLOVAK_PUB",
  "note": "Customer requested extra napkins",
  "orderItems": [
    {
      "id": "214124213",
      "productId": "11111",
      "name": "Espresso",
      "description": "Double shot espresso made from premium Arabica beans",
      "quantity": 2,
      "unitPrice": 2.50,
      "totalPrice": 5.00,
      "vat": 1.00,
      "vatRate": 20,
      "categoryId": "321827891478912",
      "categoryName": "Hot Beverages",
      "ean": "1234567890",
      "note": null
    },
    {
      "id": "214124214", "productId": "22222", "name": "Butter Croissant",
      "description": "Freshly baked French butter croissant",
      "quantity": 1, "unitPrice": 3.50, "totalPrice": 3.50, "vat": 0.70, "vatRate": 20,
      "categoryId": "321827891478912", "categoryName": "Bakery",
      "ean": "8594123456790", "note": null
    },
    {
      "id": "214124215", "productId": "3333332131", "name": "Club Sandwich",
      "description": "Triple-decker sandwich with turkey, bacon, lettuce, and tomato",
      "quantity": 1, "unitPrice": 6.50, "totalPrice": 6.50, "vat": 1.30, "vatRate": 20,
      "categoryId": "21421423131241", "categoryName": "Food",
      "ean": "8594123456791", "note": "No mayonnaise"
    }
  ]
}"#;

/// Endpoint 2's request, as the seed gives it.
const SEED_ORDER_COMPLETED: &str = r#"{
  "event": "order.completed",
  "orderId": "00123487979878",
  "cardId": "memberCardId",
  "paid": 1,
  "status": "closed",
  "total": 25.50,
  "totalWithoutVat": 21.00,
  "currency": "EUR",
  "vat": 4.50,
  "created": "2025-10-21T10:30:00.000Z",
  "completed": "2025-10-21T10:35:12.000Z",
  "branchId": "SLOVAK_PUB",
  "orderItems": [
    { "id": "21423423134", "productId": "11111", "name": "Espresso", "quantity": 2,
      "unitPrice": 2.50, "totalPrice": 5.00, "vat": 1.00, "vatRate": 20 },
    { "id": "21423423135", "productId": "11111", "name": "Croissant", "quantity": 1,
      "unitPrice": 3.50, "totalPrice": 3.50, "vat": 0.70, "vatRate": 20 }
  ]
}"#;

const CREATED_MS: i64 = 1_761_042_600_000;
const COMPLETED_MS: i64 = 1_761_042_912_000;

fn text(value: Option<rust_decimal::Decimal>) -> Option<String> {
    value.map(|value| value.to_string())
}

/// A minimal valid endpoint-1 body with `edit` applied to its JSON.
fn query_with(edit: impl FnOnce(&mut Map<String, Value>)) -> Vec<u8> {
    body_with(
        r#"{"orderId": "o-1", "cardId": "c-1", "total": 10.00,
            "orderItems": [
              {"productId": "p0", "quantity": 1, "unitPrice": 4.00, "totalPrice": 4.00},
              {"productId": "p1", "quantity": 1, "unitPrice": 3.00, "totalPrice": 3.00},
              {"productId": "p2", "quantity": 2, "unitPrice": 1.50, "totalPrice": 3.00}
            ]}"#,
        edit,
    )
}

fn completed_with(edit: impl FnOnce(&mut Map<String, Value>)) -> Vec<u8> {
    body_with(SEED_ORDER_COMPLETED, edit)
}

fn body_with(base: &str, edit: impl FnOnce(&mut Map<String, Value>)) -> Vec<u8> {
    let mut map: Map<String, Value> = serde_json::from_str(base).unwrap();
    edit(&mut map);
    serde_json::to_vec(&map).unwrap()
}

fn line(map: &mut Map<String, Value>, index: usize) -> &mut Map<String, Value> {
    map["orderItems"][index].as_object_mut().unwrap()
}

fn json(text: &str) -> Value {
    serde_json::from_str(text).unwrap()
}

/// The error body a bad endpoint-1 body gets, as JSON text.
fn query_error(body: &[u8]) -> String {
    serde_json::to_string(&parse_discount_query(body).unwrap_err().body()).unwrap()
}

fn query_message(body: &[u8]) -> (u16, String) {
    let error = parse_discount_query(body).unwrap_err();
    (error.error_id(), error.to_string())
}

fn completed_message(body: &[u8]) -> (u16, String) {
    let error = parse_order_completed(body).unwrap_err();
    (error.error_id(), error.to_string())
}

fn invalid(message: &str) -> (u16, String) {
    (7, message.to_owned())
}

fn missing(message: &str) -> (u16, String) {
    (2, message.to_owned())
}

#[test]
fn seed_discount_request_parses_exactly() {
    let query = parse_discount_query(SEED_DISCOUNT_REQUEST.as_bytes()).unwrap();
    assert_eq!(query.card_id, "memberCardId");
    let order = query.order;
    assert_eq!(order.order_id, "00123487979878");
    assert_eq!(order.pos, Pos::Papaya);
    assert_eq!(order.status, "open");
    assert_eq!(order.total.to_string(), "50.00");
    assert_eq!(text(order.total_without_vat).as_deref(), Some("41.67"));
    assert_eq!(order.currency, "EUR");
    assert_eq!(text(order.vat).as_deref(), Some("8.33"));
    assert_eq!(order.created, Some(CREATED_MS));
    assert_eq!(order.updated, Some(COMPLETED_MS));
    assert_eq!(order.branch_id.as_deref(), Some("SLOVAK_PUB"));
    assert_eq!(
        order.note.as_deref(),
        Some("Customer requested extra napkins")
    );
    assert!(order.attributes.is_empty());

    // Line totals (15.00) need not add up to `total` (50.00).
    assert_eq!(order.items.len(), 3);
    let espresso = &order.items[0];
    assert_eq!(espresso.id, "214124213");
    assert_eq!(espresso.product_id, "11111");
    assert_eq!(espresso.name, "Espresso");
    assert_eq!(
        espresso.description.as_deref(),
        Some("Double shot espresso made from premium Arabica beans")
    );
    assert_eq!(espresso.quantity.to_string(), "2");
    assert_eq!(espresso.unit_price.to_string(), "2.50");
    assert_eq!(espresso.total_price.to_string(), "5.00");
    assert_eq!(text(espresso.vat).as_deref(), Some("1.00"));
    assert_eq!(text(espresso.vat_rate).as_deref(), Some("20"));
    assert_eq!(espresso.category_id.as_deref(), Some("321827891478912"));
    assert_eq!(espresso.category_name.as_deref(), Some("Hot Beverages"));
    assert_eq!(espresso.ean.as_deref(), Some("1234567890"));
    assert_eq!(espresso.note, None);
    assert_eq!(order.items[1].unit_price.to_string(), "3.50");
    assert_eq!(order.items[2].note.as_deref(), Some("No mayonnaise"));
}

#[test]
fn seed_order_completed_parses_exactly() {
    let completed = parse_order_completed(SEED_ORDER_COMPLETED.as_bytes()).unwrap();
    assert_eq!(completed.event, "order.completed");
    assert_eq!(completed.card_id, "memberCardId");
    assert!(completed.paid);
    assert_eq!(completed.completed, Some(COMPLETED_MS));
    let order = completed.order;
    assert_eq!(order.order_id, "00123487979878");
    assert_eq!(order.status, "closed");
    assert_eq!(order.total.to_string(), "25.50");
    assert_eq!(text(order.total_without_vat).as_deref(), Some("21.00"));
    assert_eq!(text(order.vat).as_deref(), Some("4.50"));
    assert_eq!(order.created, Some(CREATED_MS));
    assert_eq!(order.updated, None);
    // Two lines may share a productId.
    assert_eq!(order.items.len(), 2);
    assert_eq!(order.items[0].product_id, order.items[1].product_id);
    assert_eq!(order.items[1].name, "Croissant");
    assert_eq!(order.items[1].description, None);
    // A policy sees what the Order has no field for.
    assert_eq!(
        order.attributes,
        [
            (
                "completed".to_owned(),
                r#""2025-10-21T10:35:12.000Z""#.to_owned()
            ),
            ("paid".to_owned(), "1".to_owned()),
        ]
    );
}

#[test]
fn seed_transaction_response_body() {
    assert_eq!(
        serde_json::to_string(&TransactionAck::new("00123487979878")).unwrap(),
        compact(
            r#"{
              "success": true,
              "message": "Order processed successfully",
              "orderDetails": { "orderId": "00123487979878" }
            }"#
        )
    );
}

#[test]
fn seed_error_unsupported_event_type() {
    let body = completed_with(|map| {
        map.insert("event".into(), json(r#""order.nieco""#));
    });
    let error = parse_order_completed(&body).unwrap_err();
    assert_eq!(error.status(), 400);
    assert_eq!(
        serde_json::to_string(&error.body()).unwrap(),
        compact(
            r#"{"error": "Unsupported event type", "message": "Event type 'order.nieco' is not supported", "error_id": 1}"#
        )
    );
}

#[test]
fn seed_error_missing_required_field() {
    let seed = compact(
        r#"{"error": "Missing required field", "message": "orderId is required", "error_id": 2}"#,
    );
    let query = query_with(|map| {
        map.remove("orderId");
    });
    assert_eq!(query_error(&query), seed);
    let completed = completed_with(|map| {
        map.remove("orderId");
    });
    let error = parse_order_completed(&completed).unwrap_err();
    assert_eq!(error.status(), 400);
    assert_eq!(serde_json::to_string(&error.body()).unwrap(), seed);
}

#[test]
fn seed_error_customer_not_found() {
    assert_eq!(
        serde_json::to_string(&ErrorBody::customer_not_found()).unwrap(),
        compact(
            r#"{"error": "Customer not found", "message": "No customer found with the provided customerId or cardId", "error_id": 3}"#
        )
    );
}

#[test]
fn error_bodies_keep_the_seeds_key_order_for_every_id() {
    let body = ErrorBody::new(12, "Upstream POS error", "BIFIT did not answer");
    assert_eq!(
        serde_json::to_string(&body).unwrap(),
        r#"{"error":"Upstream POS error","message":"BIFIT did not answer","error_id":12}"#
    );
    let back: ErrorBody = serde_json::from_str(&serde_json::to_string(&body).unwrap()).unwrap();
    assert_eq!(back, body);
}

#[test]
fn the_seeds_original_bodies_are_not_json() {
    // The Slovak original's examples carry `#UUID` comments and a trailing comma.
    let commented = r#"{ "orderId": "00123487979878", #UUID
      "cardId": "memberCardId", "total": 50.00 }"#;
    assert_eq!(
        query_message(commented.as_bytes()),
        (
            6,
            "Request body is not valid JSON: key must be a string at line 1 column 32".to_owned()
        )
    );
    let trailing = "{\"event\": \"order.completed\", \"orderItems\": [],\n}";
    let error = parse_order_completed(trailing.as_bytes()).unwrap_err();
    assert_eq!(error.error(), "Malformed JSON");
    assert_eq!(
        error.to_string(),
        "Request body is not valid JSON: trailing comma at line 2 column 1"
    );
}

#[test]
fn every_papaya_error_maps_to_its_status_id_and_title() {
    let cases = [
        (
            PapayaError::UnsupportedEvent { event: "x".into() },
            1,
            "Unsupported event type",
        ),
        (PapayaError::missing("orderId"), 2, "Missing required field"),
        (
            PapayaError::MalformedJson { detail: "d".into() },
            6,
            "Malformed JSON",
        ),
        (
            PapayaError::invalid("total", "must be a number"),
            7,
            "Invalid field value",
        ),
    ];
    for (error, id, title) in cases {
        assert_eq!(error.status(), 400);
        assert_eq!((error.error_id(), error.error()), (id, title));
        assert_eq!(error.body(), ErrorBody::new(id, title, error.to_string()));
    }
}

#[test]
fn well_formed_bodies_are_read_in_one_pass() {
    let big = include_bytes!("../../../../examples/data/bills/big-200.json");
    for body in [SEED_DISCOUNT_REQUEST.as_bytes(), big] {
        assert!(fast::body(body, "open").is_some());
        assert_eq!(
            parse_discount_query(body),
            parse_discount_query_slowly(body)
        );
    }
    let fast = fast::body(SEED_ORDER_COMPLETED.as_bytes(), "closed").unwrap();
    assert!(fast::completed_fields(&fast.extra).is_some());
    assert_eq!(
        parse_order_completed(SEED_ORDER_COMPLETED.as_bytes()),
        parse_order_completed_slowly(SEED_ORDER_COMPLETED.as_bytes())
    );
}
