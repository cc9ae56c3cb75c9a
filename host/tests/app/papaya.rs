//! Papaya POS endpoints at the HTTP level, on SQLite and (when configured) PostgreSQL:
//! every example body and error row of Papaya's page, the error ids the README lists,
//! idempotency under concurrency, fail-safe with hostile policies, restart persistence.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::str::FromStr;

use crate::common::app::{TestApp, TestMerchant};
use crate::common::wasm::{example, fixture};
use rabat::model::Card;
use rabat::store::{EvaluationQuery, LedgerQuery};
use rust_decimal::Decimal;
use serde_json::{Value, json};

const DISCOUNTS: &str = "/pos/papaya/v1/discounts";
const TRANSACTIONS: &str = "/pos/papaya/v1/transactions";

app_on_both_engines!(
    seed_bill_gets_the_tier_discount,
    no_active_policy_means_no_discount,
    unknown_card_is_error_3,
    bad_requests_get_their_error_ids,
    credentials_are_required,
    transaction_is_recorded_once,
    transaction_errors,
    concurrent_repeats_record_once,
    hostile_policies_fail_safe,
    accrue_adds_points,
    state_survives_a_restart,
);

/// Papaya's endpoint-1 example, as sent.
fn seed_bill() -> Value {
    json!({
      "orderId": "00123487979878", "cardId": "memberCardId", "status": "open",
      "total": 50.00, "totalWithoutVat": 41.67, "currency": "EUR", "vat": 8.33,
      "created": "2025-10-21T10:30:00.000Z", "updated": "2025-10-21T10:35:12.000Z",
      "branchId": "SLOVAK_PUB", "note": "Customer requested extra napkins",
      "orderItems": [
        {"id": "214124213", "productId": "11111", "name": "Espresso",
         "description": "Double shot espresso made from premium Arabica beans",
         "quantity": 2, "unitPrice": 2.50, "totalPrice": 5.00, "vat": 1.00, "vatRate": 20,
         "categoryId": "321827891478912", "categoryName": "Hot Beverages", "ean": "1234567890", "note": null},
        {"id": "214124214", "productId": "22222", "name": "Butter Croissant",
         "description": "Freshly baked French butter croissant",
         "quantity": 1, "unitPrice": 3.50, "totalPrice": 3.50, "vat": 0.70, "vatRate": 20,
         "categoryId": "321827891478912", "categoryName": "Bakery", "ean": "8594123456790", "note": null},
        {"id": "214124215", "productId": "3333332131", "name": "Club Sandwich",
         "description": "Triple-decker sandwich with turkey, bacon, lettuce, and tomato",
         "quantity": 1, "unitPrice": 6.50, "totalPrice": 6.50, "vat": 1.30, "vatRate": 20,
         "categoryId": "21421423131241", "categoryName": "Food", "ean": "8594123456791", "note": "No mayonnaise"}
      ]
    })
}

/// Papaya's endpoint-2 example, as sent (without the original's trailing comma).
fn seed_transaction() -> Value {
    json!({
      "event": "order.completed", "orderId": "00123487979878", "cardId": "memberCardId",
      "paid": 1, "status": "closed", "total": 25.50, "totalWithoutVat": 21.00,
      "currency": "EUR", "vat": 4.50, "created": "2025-10-21T10:30:00.000Z",
      "completed": "2025-10-21T10:35:12.000Z", "branchId": "SLOVAK_PUB",
      "orderItems": [
        {"id": "21423423134", "productId": "11111", "name": "Espresso", "quantity": 2,
         "unitPrice": 2.50, "totalPrice": 5.00, "vat": 1.00, "vatRate": 20},
        {"id": "21423423135", "productId": "11111", "name": "Croissant", "quantity": 1,
         "unitPrice": 3.50, "totalPrice": 3.50, "vat": 0.70, "vatRate": 20}
      ]
    })
}

fn dec(text: &str) -> Decimal {
    Decimal::from_str(text).unwrap()
}

/// A gold card with no visits yet (visits are the ledger's to count).
fn gold_card() -> Card {
    let mut card = Card::new("memberCardId");
    card.tier = Some("gold".into());
    card
}

async fn shop_with_tier_policy(app: &TestApp, id: &str) -> TestMerchant {
    let merchant = app.merchant(id).await;
    app.card(&merchant, gold_card()).await;
    app.activate(
        &merchant,
        &example("tier-discount"),
        json!({"tiers": {"gold": 10, "silver": 5}}),
    )
    .await;
    merchant
}

fn assert_error(reply: &crate::common::app::Reply, status: u16, id: u64) {
    assert_eq!(reply.status.as_u16(), status, "{}", reply.text);
    assert_eq!(reply.json["error_id"], id, "{}", reply.text);
    let keys: Vec<&String> = reply.json.as_object().unwrap().keys().collect();
    assert_eq!(
        keys.len(),
        3,
        "exactly error, message, error_id: {}",
        reply.text
    );
    assert!(reply.json["error"].as_str().is_some_and(|s| !s.is_empty()));
    assert!(
        reply.json["message"]
            .as_str()
            .is_some_and(|s| !s.is_empty())
    );
}

async fn seed_bill_gets_the_tier_discount(app: &TestApp) {
    let shop = shop_with_tier_policy(app, "cafe").await;
    let reply = app
        .post_json(DISCOUNTS, &shop.pos_token, &seed_bill())
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    // Amounts are JSON numbers in the currency's minor unit, keys in the seed's order.
    assert!(
        reply.text.starts_with(r#"{"discounts":[{"type":"percentage_on_bill","appliesTo":"bill","percentage":10,"amount":5.00,"description":"#),
        "{}",
        reply.text
    );
    assert!(
        reply.text.contains(r#""totalDiscount":5.00,"message":"#),
        "{}",
        reply.text
    );
    assert_eq!(reply.json["discounts"].as_array().unwrap().len(), 1);

    // A silver card gets 5% of 50.00; a tier the config does not know gets nothing.
    let mut silver = Card::new("silverCard");
    silver.tier = Some("silver".into());
    app.card(&shop, silver).await;
    let mut bill = seed_bill();
    bill["cardId"] = json!("silverCard");
    let reply = app.post_json(DISCOUNTS, &shop.pos_token, &bill).await;
    assert!(
        reply.text.contains(r#""totalDiscount":2.50"#),
        "{}",
        reply.text
    );
    app.card(&shop, Card::new("plainCard")).await;
    bill["cardId"] = json!("plainCard");
    let reply = app.post_json(DISCOUNTS, &shop.pos_token, &bill).await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.json["discounts"], json!([]));
    assert!(
        reply.text.contains(r#""totalDiscount":0.00"#),
        "{}",
        reply.text
    );

    // Each call is in the evaluation log, with its outcome and the policy's version.
    app.flush_evaluations().await;
    let page = app
        .state
        .store()
        .list_evaluations(
            "cafe",
            &EvaluationQuery {
                limit: 10,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(page.items.len(), 3);
    assert!(
        page.items
            .iter()
            .all(|e| e.record.outcome == "answer" && e.record.policy_version == Some(1))
    );
}

async fn no_active_policy_means_no_discount(app: &TestApp) {
    let shop = app.merchant("nopolicy").await;
    app.card(&shop, gold_card()).await;
    let reply = app
        .post_json(DISCOUNTS, &shop.pos_token, &seed_bill())
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.json["discounts"], json!([]));
    assert!(
        reply.text.contains(r#""totalDiscount":0.00"#),
        "{}",
        reply.text
    );
}

async fn unknown_card_is_error_3(app: &TestApp) {
    let shop = shop_with_tier_policy(app, "cafe3").await;
    let mut bill = seed_bill();
    bill["cardId"] = json!("nobody");
    let reply = app.post_json(DISCOUNTS, &shop.pos_token, &bill).await;
    assert_eq!(reply.status, 400);
    assert_eq!(
        reply.json,
        json!({"error": "Customer not found", "message": "No customer found with the provided customerId or cardId", "error_id": 3})
    );
    let mut done = seed_transaction();
    done["cardId"] = json!("nobody");
    let reply = app.post_json(TRANSACTIONS, &shop.pos_token, &done).await;
    assert_eq!(reply.json["error_id"], 3, "{}", reply.text);
}

async fn bad_requests_get_their_error_ids(app: &TestApp) {
    let shop = shop_with_tier_policy(app, "strict").await;
    let token = &shop.pos_token;

    let mut bill = seed_bill();
    bill.as_object_mut().unwrap().remove("orderId");
    let reply = app.post_json(DISCOUNTS, token, &bill).await;
    assert_eq!(reply.status, 400);
    assert_eq!(
        reply.json,
        json!({"error": "Missing required field", "message": "orderId is required", "error_id": 2})
    );

    let reply = app
        .call("POST", DISCOUNTS, Some(token), "{\"orderId\": ")
        .await;
    assert_error(&reply, 400, 6);

    let mut bill = seed_bill();
    bill["total"] = json!(-5);
    let reply = app.post_json(DISCOUNTS, token, &bill).await;
    assert_error(&reply, 400, 7);
    assert!(
        reply.json["message"].as_str().unwrap().contains("total"),
        "{}",
        reply.text
    );

    let mut bill = seed_bill();
    bill["orderItems"][2]["quantity"] = json!("many");
    let reply = app.post_json(DISCOUNTS, token, &bill).await;
    assert_error(&reply, 400, 7);
    assert!(
        reply.json["message"]
            .as_str()
            .unwrap()
            .contains("orderItems[2].quantity"),
        "{}",
        reply.text
    );

    let huge = format!("{{\"note\": \"{}\"}}", "x".repeat(300 << 10));
    let reply = app.call("POST", DISCOUNTS, Some(token), huge).await;
    assert_error(&reply, 413, 5);

    // The item totals need not add up to `total` (Papaya's own example does not).
    let reply = app.post_json(DISCOUNTS, token, &seed_bill()).await;
    assert_eq!(reply.status, 200);
}

async fn credentials_are_required(app: &TestApp) {
    let shop = shop_with_tier_policy(app, "locked").await;
    let other = app.merchant("other").await;
    let reply = app
        .call("POST", DISCOUNTS, None, seed_bill().to_string())
        .await;
    assert_error(&reply, 401, 4);
    let reply = app.post_json(DISCOUNTS, "not-a-token", &seed_bill()).await;
    assert_error(&reply, 401, 4);
    // The merchant's API key is not a POS token.
    let reply = app.post_json(DISCOUNTS, &shop.api_key, &seed_bill()).await;
    assert_error(&reply, 401, 4);
    // Another merchant's POS token reaches that merchant, who has no such card.
    let reply = app
        .post_json(DISCOUNTS, &other.pos_token, &seed_bill())
        .await;
    assert_error(&reply, 400, 3);
    let reply = app
        .post_json(TRANSACTIONS, &other.pos_token, &seed_transaction())
        .await;
    assert_error(&reply, 400, 3);
}

async fn transaction_is_recorded_once(app: &TestApp) {
    let shop = shop_with_tier_policy(app, "ledger").await;
    let reply = app
        .post_json(TRANSACTIONS, &shop.pos_token, &seed_transaction())
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(
        reply.json,
        json!({"success": true, "message": "Order processed successfully", "orderDetails": {"orderId": "00123487979878"}})
    );
    let card = app
        .state
        .store()
        .card("ledger", "memberCardId")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(card.visits, 1);
    assert_eq!(card.total_spent, dec("25.50"));
    assert_eq!(card.last_visit, Some(1_761_042_912_000));

    // The same body again (keys in another order): the same 200, nothing changes.
    let mut again = seed_transaction();
    let items = again.as_object_mut().unwrap().remove("orderItems").unwrap();
    again["orderItems"] = items;
    let reply = app.post_json(TRANSACTIONS, &shop.pos_token, &again).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    let card = app
        .state
        .store()
        .card("ledger", "memberCardId")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(card.visits, 1);
    assert_eq!(card.total_spent, dec("25.50"));
    let rows = app
        .state
        .store()
        .list_transactions(
            "ledger",
            &LedgerQuery {
                limit: 10,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(rows.items.len(), 1);

    // Different data under the recorded order id: 409, id 8.
    let mut changed = seed_transaction();
    changed["total"] = json!(99.00);
    let reply = app.post_json(TRANSACTIONS, &shop.pos_token, &changed).await;
    assert_error(&reply, 409, 8);
    assert!(
        reply.json["message"]
            .as_str()
            .unwrap()
            .contains("00123487979878"),
        "{}",
        reply.text
    );
}

async fn transaction_errors(app: &TestApp) {
    let shop = shop_with_tier_policy(app, "events").await;
    let mut other_event = seed_transaction();
    other_event["event"] = json!("order.nieco");
    let reply = app
        .post_json(TRANSACTIONS, &shop.pos_token, &other_event)
        .await;
    assert_eq!(reply.status, 400);
    assert_eq!(
        reply.json,
        json!({"error": "Unsupported event type", "message": "Event type 'order.nieco' is not supported", "error_id": 1})
    );
    let mut missing = seed_transaction();
    missing.as_object_mut().unwrap().remove("orderId");
    let reply = app.post_json(TRANSACTIONS, &shop.pos_token, &missing).await;
    assert_eq!(
        reply.json,
        json!({"error": "Missing required field", "message": "orderId is required", "error_id": 2})
    );
    let reply = app
        .call("POST", TRANSACTIONS, Some(&shop.pos_token), "[1,2")
        .await;
    assert_error(&reply, 400, 6);
    let card = app
        .state
        .store()
        .card("events", "memberCardId")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(card.visits, 0, "no failed request changed the card");
}

async fn concurrent_repeats_record_once(app: &TestApp) {
    let shop = shop_with_tier_policy(app, "rush").await;
    let body = seed_transaction();
    let replies = futures::future::join_all(
        (0..50)
            .map(|_| app.post_json(TRANSACTIONS, &shop.pos_token, &body))
            .collect::<Vec<_>>(),
    )
    .await;
    for reply in &replies {
        assert_eq!(reply.status, 200, "{}", reply.text);
    }
    let rows = app
        .state
        .store()
        .list_transactions(
            "rush",
            &LedgerQuery {
                limit: 100,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(rows.items.len(), 1, "exactly one ledger row");
    let card = app
        .state
        .store()
        .card("rush", "memberCardId")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(card.visits, 1, "exactly one card update");
    assert_eq!(card.total_spent, dec("25.50"));
}

async fn hostile_policies_fail_safe(app: &TestApp) {
    let good = shop_with_tier_policy(app, "good").await;
    for (name, outcome) in [
        ("loop", "out_of_fuel"),
        ("memory-bomb", "memory_limit"),
        ("deep-recursion", "trap"),
        ("panic", "trap"),
        ("huge-answer", "invalid_answer"),
        ("invalid-answer", "invalid_answer"),
        ("policy-error", "policy_error"),
    ] {
        let shop = app.merchant(&format!("hostile-{name}")).await;
        app.card(&shop, gold_card()).await;
        app.activate(&shop, &fixture(name), json!({})).await;
        let reply = app
            .post_json(DISCOUNTS, &shop.pos_token, &seed_bill())
            .await;
        assert_eq!(reply.status, 200, "{name}: {}", reply.text);
        assert_eq!(reply.json["discounts"], json!([]), "{name}");
        assert!(
            reply.text.contains(r#""totalDiscount":0.00"#),
            "{name}: {}",
            reply.text
        );
        assert!(
            reply.json["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty()),
            "{name}"
        );

        app.flush_evaluations().await;
        let page = app
            .state
            .store()
            .list_evaluations(
                &shop.id,
                &EvaluationQuery {
                    limit: 10,
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        let logged = &page.items[0].record;
        assert_eq!(logged.outcome, outcome, "{name}: {logged:?}");
        assert!(
            logged.error.as_ref().is_some_and(|e| !e.is_empty()),
            "{name}: the failure is recorded"
        );
        if name == "panic" {
            assert!(
                logged
                    .error
                    .as_ref()
                    .unwrap()
                    .contains("boom: card tier missing"),
                "{logged:?}"
            );
        }

        // The till is never blocked at close either: the bill is recorded.
        let reply = app
            .post_json(TRANSACTIONS, &shop.pos_token, &seed_transaction())
            .await;
        assert_eq!(reply.status, 200, "{name}: {}", reply.text);

        // And everyone else is still served.
        let reply = app
            .post_json(DISCOUNTS, &good.pos_token, &seed_bill())
            .await;
        assert!(
            reply.text.contains(r#""totalDiscount":5.00"#),
            "after {name}: {}",
            reply.text
        );
    }
}

async fn accrue_adds_points(app: &TestApp) {
    let shop = app.merchant("stamps").await;
    app.card(&shop, gold_card()).await;
    app.activate(
        &shop,
        &example("stamp-card"),
        json!({"every": 5, "category": "Hot Beverages"}),
    )
    .await;
    // The seed's closed bill has no categories: no stamps. One with two coffees gets two.
    let mut bill = seed_transaction();
    bill["orderItems"][0]["categoryName"] = json!("Hot Beverages");
    let reply = app.post_json(TRANSACTIONS, &shop.pos_token, &bill).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    let card = app
        .state
        .store()
        .card("stamps", "memberCardId")
        .await
        .unwrap()
        .unwrap();
    assert!(card.points > 0, "stamps were added: {card:?}");
    let rows = app
        .state
        .store()
        .list_transactions(
            "stamps",
            &LedgerQuery {
                limit: 10,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(rows.items[0].points, card.points);
}

async fn state_survives_a_restart(app: &TestApp) {
    let shop = shop_with_tier_policy(app, "durable").await;
    let reply = app
        .post_json(TRANSACTIONS, &shop.pos_token, &seed_transaction())
        .await;
    assert_eq!(reply.status, 200);

    // A second app on the same database, as after a restart.
    let restarted = app.restart().await;
    let reply = restarted
        .post_json(DISCOUNTS, &shop.pos_token, &seed_bill())
        .await;
    assert!(
        reply.text.contains(r#""totalDiscount":5.00"#),
        "active policy kept: {}",
        reply.text
    );
    let reply = restarted
        .post_json(TRANSACTIONS, &shop.pos_token, &seed_transaction())
        .await;
    assert_eq!(
        reply.status, 200,
        "the repeat is still recognised: {}",
        reply.text
    );
    let card = restarted
        .state
        .store()
        .card("durable", "memberCardId")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(card.visits, 1);
    restarted.shutdown().await;
}
