//! Earn and burn over HTTP, on SQLite and (when configured) PostgreSQL, with the real
//! `pay-with-points` and `tier-upgrade` examples (contract 0.2): points pay part of a bill
//! and are burnt once when it completes, concurrent bills on one card never share points,
//! an offer not taken releases its hold, and a policy's tier change shows on the card,
//! in the ledger and in the audit trail.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common::app::{TestApp, TestMerchant, settings};
use crate::common::db::{Target, TestDb};
use crate::common::wasm::example;
use rabat::model::Card;
use rabat::store::EvaluationQuery;
use rust_decimal::Decimal;
use serde_json::{Value, json};

const DISCOUNTS: &str = "/pos/papaya/v1/discounts";
const TRANSACTIONS: &str = "/pos/papaya/v1/transactions";

app_on_both_engines!(
    points_pay_part_of_a_bill_and_are_burnt_once,
    concurrent_bills_on_one_card_never_share_points,
    an_offer_not_taken_burns_nothing_and_frees_the_points,
    a_policy_tier_change_shows_on_the_card_the_ledger_and_the_audit,
    a_withdrawn_offer_is_never_burnt_while_the_evaluation_log_lags,
    a_merchant_releases_a_cards_holds,
);

/// An open bill of 50.00 on `card` (half of it is 25.00, so 1 000 points pay 10.00).
fn open_bill(order_id: &str, card: &str) -> Value {
    json!({
      "orderId": order_id, "cardId": card, "status": "open",
      "total": 50.00, "currency": "EUR",
      "orderItems": [
        {"id": "1", "productId": "11111", "name": "Espresso", "quantity": 2,
         "unitPrice": 25.00, "totalPrice": 50.00, "vatRate": 20}
      ]
    })
}

/// The completed bill; with `points_paid` the POS booked the `POINTS` coupon as a line.
fn completed_bill(order_id: &str, card: &str, points_paid: Option<Decimal>) -> Value {
    // Amounts as exact JSON numbers (serde_json's arbitrary precision), never via f64.
    let number = |amount: Decimal| -> Value {
        serde_json::from_str(&amount.to_string()).unwrap_or_else(|e| panic!("{amount}: {e}"))
    };
    let paid = points_paid.unwrap_or(Decimal::ZERO);
    let mut items = vec![json!({"id": "1", "productId": "11111", "name": "Espresso",
        "quantity": 2, "unitPrice": 25.00, "totalPrice": 50.00, "vatRate": 20})];
    if points_paid.is_some() {
        items.push(
            json!({"id": "2", "productId": "POINTS", "name": "POINTS", "quantity": 1,
            "unitPrice": number(-paid), "totalPrice": number(-paid), "vat": 0, "vatRate": 0}),
        );
    }
    json!({
      "event": "order.completed", "orderId": order_id, "cardId": card, "paid": 1,
      "status": "closed", "total": number(Decimal::new(5000, 2) - paid), "currency": "EUR",
      "completed": "2025-10-21T10:35:12.000Z", "orderItems": items
    })
}

async fn shop_paying_with_points(app: &TestApp, id: &str, points: i64) -> TestMerchant {
    let shop = app.merchant(id).await;
    let mut card = Card::new("c1");
    card.points = points;
    app.card(&shop, card).await;
    app.activate(
        &shop,
        &example("pay-with-points"),
        json!({"pointsPerUnit": 100, "maxShare": 50}),
    )
    .await;
    shop
}

async fn admin_card(app: &TestApp, shop: &TestMerchant) -> Value {
    let path = format!("/admin/v1/merchants/{}/cards/c1", shop.id);
    let reply = app.call("GET", &path, Some(&shop.api_key), "").await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    reply.json
}

/// The card's ledger over HTTP, oldest first: (kind, order id, points).
async fn admin_ledger(app: &TestApp, shop: &TestMerchant) -> Vec<Value> {
    let path = format!(
        "/admin/v1/merchants/{}/transactions?cardId=c1&limit=500",
        shop.id
    );
    let reply = app.call("GET", &path, Some(&shop.api_key), "").await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    let mut rows = reply.json["items"].as_array().unwrap().clone();
    rows.reverse();
    rows
}

fn kinds(rows: &[Value]) -> Vec<(String, String, i64)> {
    rows.iter()
        .map(|row| {
            (
                row["kind"].as_str().unwrap().to_owned(),
                row["orderId"].as_str().unwrap_or("-").to_owned(),
                row["points"].as_i64().unwrap(),
            )
        })
        .collect()
}

fn points_coupon(reply: &Value) -> Option<&Value> {
    reply["discounts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["couponCode"] == "POINTS")
}

async fn points_pay_part_of_a_bill_and_are_burnt_once(app: &TestApp) {
    let shop = shop_paying_with_points(app, "cafe", 1000).await;
    let reply = app
        .post_json(DISCOUNTS, &shop.pos_token, &open_bill("o1", "c1"))
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    let coupon = points_coupon(&reply.json).expect("a POINTS coupon");
    // Amounts are exact JSON numbers with the minor unit's places.
    assert_eq!(coupon["amount"].to_string(), "10.00", "{}", reply.text);
    assert_eq!(coupon["vatRate"], 0);
    let card = admin_card(app, &shop).await;
    assert_eq!(
        (card["points"].as_i64(), card["heldPoints"].as_i64()),
        (Some(1000), Some(1000))
    );

    // Asking again for the same order replaces its hold rather than adding one.
    let reply = app
        .post_json(DISCOUNTS, &shop.pos_token, &open_bill("o1", "c1"))
        .await;
    assert!(points_coupon(&reply.json).is_some(), "{}", reply.text);
    assert_eq!(admin_card(app, &shop).await["heldPoints"], 1000);

    // The bill completes with the coupon on it: the held points are burnt.
    let done = completed_bill("o1", "c1", Some(Decimal::new(1000, 2)));
    let reply = app.post_json(TRANSACTIONS, &shop.pos_token, &done).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    let card = admin_card(app, &shop).await;
    assert_eq!(
        (card["points"].as_i64(), card["heldPoints"].as_i64()),
        (Some(0), Some(0))
    );
    let rows = admin_ledger(app, &shop).await;
    assert_eq!(
        kinds(&rows),
        [
            ("adjustment".into(), "-".into(), 1000),
            ("transaction".into(), "o1".into(), 0),
            ("burn".into(), "o1".into(), -1000),
        ]
    );
    assert_eq!(rows[2]["pointsBalance"], 0);

    // A repeat of endpoint 2 burns nothing again.
    let reply = app.post_json(TRANSACTIONS, &shop.pos_token, &done).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(admin_ledger(app, &shop).await.len(), 3);
    assert_eq!(admin_card(app, &shop).await["points"], 0);
}

async fn concurrent_bills_on_one_card_never_share_points(app: &TestApp) {
    let shop = shop_paying_with_points(app, "rush", 1000).await;
    // Eight tills offer the card's 1 000 points at once: exactly one gets them.
    let asks: Vec<_> = (0..8)
        .map(|i| {
            let bill = open_bill(&format!("o{i}"), "c1");
            let token = shop.pos_token.clone();
            let router = app.router.clone();
            tokio::spawn(async move { post(router, DISCOUNTS, &token, &bill).await })
        })
        .collect();
    let mut offered = Vec::new();
    for (i, ask) in asks.into_iter().enumerate() {
        let (status, reply) = ask.await.unwrap();
        assert_eq!(status, 200, "{reply}");
        if points_coupon(&reply).is_some() {
            offered.push(i);
        }
    }
    assert_eq!(offered.len(), 1, "exactly one till is offered the points");
    assert_eq!(admin_card(app, &shop).await["heldPoints"], 1000);
    // The card listing shows it too, and nothing held for a card without holds.
    app.card(&shop, Card::new("c2")).await;
    let path = format!("/admin/v1/merchants/{}/cards", shop.id);
    let reply = app.call("GET", &path, Some(&shop.api_key), "").await;
    let held: Vec<_> = reply.json["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["cardId"].as_str().unwrap(),
                c["heldPoints"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(held, [("c1", 1000), ("c2", 0)], "{}", reply.text);

    // The evaluation log says why the others got no coupon.
    app.flush_evaluations().await;
    let logged = app
        .state
        .store()
        .list_evaluations(
            "rush",
            &EvaluationQuery {
                limit: 50,
                ..Default::default()
            },
        )
        .await
        .unwrap()
        .items;
    // pay-with-points is a 0.3 policy: it reads the card's available points, so an order
    // that ran after another's hold asked for nothing; one that ran before asked for the
    // 1000 points and was dropped under the lock, with the reason.
    let why = "host: discounts[0] dropped: costs 1000 points, card has 0 available";
    let dropped = logged
        .iter()
        .filter(|e| e.record.logs.to_string().contains(why))
        .count();
    let asked_nothing = logged
        .iter()
        .filter(|e| e.record.total_discount == Some(Decimal::ZERO))
        .filter(|e| e.record.logs.as_array().is_some_and(Vec::is_empty))
        .count();
    assert_eq!(dropped + asked_nothing, 7, "{logged:?}");

    // Every bill completes at once, each claiming it used the coupon: only the order
    // that held the points burns them, once.
    let bills: Vec<_> = (0..8)
        .map(|i| {
            let bill = completed_bill(&format!("o{i}"), "c1", Some(Decimal::new(1000, 2)));
            let token = shop.pos_token.clone();
            let router = app.router.clone();
            tokio::spawn(async move { post(router, TRANSACTIONS, &token, &bill).await })
        })
        .collect();
    for bill in bills {
        let (status, reply) = bill.await.unwrap();
        assert_eq!(status, 200, "{reply}");
    }
    let card = admin_card(app, &shop).await;
    assert_eq!(
        (card["points"].as_i64(), card["heldPoints"].as_i64()),
        (Some(0), Some(0))
    );
    let burns: Vec<_> = kinds(&admin_ledger(app, &shop).await)
        .into_iter()
        .filter(|(kind, _, _)| kind == "burn")
        .collect();
    assert_eq!(burns, [("burn".into(), format!("o{}", offered[0]), -1000)]);

    // The bill that paid with the points is returned whole: the 1 000 come back as a new
    // lot (issue 19), once.
    let order = format!("o{}", offered[0]);
    let path = format!(
        "/admin/v1/merchants/{}/transactions/{order}/returns",
        shop.id
    );
    let body = json!({"returnId": "R-1"}).to_string();
    let reply = app
        .call("POST", &path, Some(&shop.api_key), body.clone())
        .await;
    assert_eq!(reply.status, 201, "{}", reply.text);
    assert_eq!(reply.json["pointsGiven"], 1000, "{}", reply.text);
    assert_eq!(reply.json["whole"], true, "{}", reply.text);
    let again = app.call("POST", &path, Some(&shop.api_key), body).await;
    assert_eq!(
        again.status, 200,
        "a repeat is the same return: {}",
        again.text
    );
    assert_eq!(admin_card(app, &shop).await["points"], 1000);
    let points = format!("/admin/v1/merchants/{}/cards/c1/points", shop.id);
    let reply = app.call("GET", &points, Some(&shop.api_key), "").await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    let returned: Vec<_> = reply.json["lots"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|lot| lot["source"] == "returned")
        .map(|lot| (lot["points"].as_i64(), lot["remaining"].as_i64()))
        .collect();
    assert_eq!(returned, [(Some(1000), Some(1000))], "{}", reply.text);
    assert_eq!(reply.json["availablePoints"], 1000, "{}", reply.text);
}

async fn an_offer_not_taken_burns_nothing_and_frees_the_points(app: &TestApp) {
    let shop = shop_paying_with_points(app, "shy", 600).await;
    let reply = app
        .post_json(DISCOUNTS, &shop.pos_token, &open_bill("o1", "c1"))
        .await;
    assert!(points_coupon(&reply.json).is_some(), "{}", reply.text);
    // Meanwhile another bill of the card is offered nothing: the 600 are held.
    let reply = app
        .post_json(DISCOUNTS, &shop.pos_token, &open_bill("o2", "c1"))
        .await;
    assert!(points_coupon(&reply.json).is_none(), "{}", reply.text);
    // The customer pays without points: redeem 0, and the hold is released.
    let reply = app
        .post_json(
            TRANSACTIONS,
            &shop.pos_token,
            &completed_bill("o1", "c1", None),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    let card = admin_card(app, &shop).await;
    assert_eq!(
        (card["points"].as_i64(), card["heldPoints"].as_i64()),
        (Some(600), Some(0))
    );
    let rows = admin_ledger(app, &shop).await;
    assert_eq!(
        kinds(&rows),
        [
            ("adjustment".into(), "-".into(), 600),
            ("transaction".into(), "o1".into(), 0)
        ]
    );
    assert_eq!(rows[1]["reason"], "points offer not taken");
    // The points are free for the other bill now.
    let reply = app
        .post_json(DISCOUNTS, &shop.pos_token, &open_bill("o2", "c1"))
        .await;
    let coupon = points_coupon(&reply.json).map(|c| c["amount"].to_string());
    assert_eq!(coupon.as_deref(), Some("6.00"), "{}", reply.text);
}

async fn a_policy_tier_change_shows_on_the_card_the_ledger_and_the_audit(app: &TestApp) {
    let shop = app.merchant("club").await;
    app.card(&shop, Card::new("c1")).await;
    let version = app
        .activate(
            &shop,
            &example("tier-upgrade"),
            json!({"tiers": [{"tier": "silver", "visits": 3}, {"tier": "gold", "visits": 10}]}),
        )
        .await;
    for i in 0..3 {
        let bill = completed_bill(&format!("v{i}"), "c1", None);
        let reply = app.post_json(TRANSACTIONS, &shop.pos_token, &bill).await;
        assert_eq!(reply.status, 200, "{}", reply.text);
    }
    // The third visit makes the card silver.
    let card = admin_card(app, &shop).await;
    assert_eq!(
        (card["tier"].as_str(), card["visits"].as_u64()),
        (Some("silver"), Some(3))
    );
    let rows = admin_ledger(app, &shop).await;
    assert_eq!(rows[0]["cardChanges"], Value::Null);
    assert_eq!(
        rows[2]["cardChanges"],
        json!({"tier": {"from": null, "to": "silver"}})
    );
    assert_eq!(rows[2]["reason"], "3 visits: silver");
    // Audited, as the policy's change.
    let path = format!("/admin/v1/merchants/{}/audit", shop.id);
    let reply = app.call("GET", &path, Some(&shop.api_key), "").await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    let changes: Vec<_> = reply.json["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["action"] == "card.policy_change")
        .collect();
    assert_eq!(changes.len(), 1, "{}", reply.text);
    assert_eq!(changes[0]["actor"], "policy");
    assert_eq!(changes[0]["detail"]["orderId"], "v2");
    assert_eq!(changes[0]["detail"]["policyVersion"], version);
    // A repeat of that bill changes nothing and is not audited again.
    let reply = app
        .post_json(
            TRANSACTIONS,
            &shop.pos_token,
            &completed_bill("v2", "c1", None),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    let reply = app.call("GET", &path, Some(&shop.api_key), "").await;
    let count = reply.json["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["action"] == "card.policy_change")
        .count();
    assert_eq!(count, 1);
}

/// A POS call from a task of its own (the router is cheap to clone).
async fn post(router: axum::Router, path: &str, token: &str, body: &Value) -> (u16, Value) {
    use axum::http::Request;
    use http_body_util::BodyExt;
    use tower::ServiceExt;
    let request = Request::builder()
        .method("POST")
        .uri(path)
        .header("authorization", format!("Bearer {token}"))
        .body(axum::body::Body::from(body.to_string()))
        .unwrap();
    let response = router.oneshot(request).await.unwrap();
    let status = response.status().as_u16();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

/// Issue 21, item 14: a bill offered the points coupon, asked again (same order) with an
/// answer that costs nothing, then completed with the coupon line anyway. The evaluation
/// log is behind (here a second server on the same database whose log writer never
/// catches up: it drops every record), so the log still says the coupon was offered: the
/// hold must have followed the newer answer in its own request, and nothing is burnt.
async fn a_withdrawn_offer_is_never_burnt_while_the_evaluation_log_lags(app: &TestApp) {
    let shop = shop_paying_with_points(app, "lag", 1000).await;
    let reply = app
        .post_json(DISCOUNTS, &shop.pos_token, &open_bill("o1", "c1"))
        .await;
    assert!(points_coupon(&reply.json).is_some(), "{}", reply.text);
    app.flush_evaluations().await;

    let mut lagging_settings = settings();
    lagging_settings.evaluation_log_max_bytes = 1;
    let lagging = TestApp::with_settings(
        TestDb {
            store: app.db.reopen().await,
            target: Target::Shared,
        },
        lagging_settings,
    )
    .await;
    // The same order, now a bill too small for the coupon: an answer without a cost.
    let small = json!({
      "orderId": "o1", "cardId": "c1", "status": "open", "total": 0.01, "currency": "EUR",
      "orderItems": [{"id": "1", "productId": "11111", "name": "Mint", "quantity": 1,
                      "unitPrice": 0.01, "totalPrice": 0.01, "vatRate": 20}]
    });
    let reply = lagging.post_json(DISCOUNTS, &shop.pos_token, &small).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert!(points_coupon(&reply.json).is_none(), "{}", reply.text);
    // The hold followed the answer at once: nothing is held any more.
    assert_eq!(admin_card(&lagging, &shop).await["heldPoints"], 0);
    assert!(
        lagging
            .state
            .evaluations()
            .counters()
            .dropped
            .load(std::sync::atomic::Ordering::Relaxed)
            > 0,
        "the second server's log dropped the newer answer"
    );

    let done = completed_bill("o1", "c1", Some(Decimal::new(1000, 2)));
    let reply = lagging
        .post_json(TRANSACTIONS, &shop.pos_token, &done)
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    let card = admin_card(&lagging, &shop).await;
    assert_eq!(
        (card["points"].as_i64(), card["heldPoints"].as_i64()),
        (Some(1000), Some(0)),
        "{card}"
    );
    let burns = kinds(&admin_ledger(&lagging, &shop).await)
        .into_iter()
        .filter(|(kind, _, _)| kind == "burn")
        .count();
    assert_eq!(burns, 0);
    lagging.shutdown().await;
}

/// Issue 21, item 16: the merchant releases a card's holds (an abandoned bill's points
/// are free at once, not when the hold expires): audited, answered with what was freed;
/// the abandoned bill, completed after all with the coupon, redeems nothing.
async fn a_merchant_releases_a_cards_holds(app: &TestApp) {
    let shop = shop_paying_with_points(app, "kind", 1000).await;
    let reply = app
        .post_json(DISCOUNTS, &shop.pos_token, &open_bill("o1", "c1"))
        .await;
    assert!(points_coupon(&reply.json).is_some(), "{}", reply.text);
    assert_eq!(admin_card(app, &shop).await["heldPoints"], 1000);

    let path = format!("/admin/v1/merchants/{}/cards/c1/holds", shop.id);
    let reply = app.call("DELETE", &path, Some(&shop.pos_token), "").await;
    assert_eq!(reply.status, 401, "a POS token cannot: {}", reply.text);
    let reply = app.call("DELETE", &path, Some(&shop.api_key), "").await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.json, json!({"orders": 1, "releasedPoints": 1000}));
    assert_eq!(admin_card(app, &shop).await["heldPoints"], 0);
    // Nothing left: a second release frees nothing.
    let reply = app.call("DELETE", &path, Some(&shop.api_key), "").await;
    assert_eq!(reply.json, json!({"orders": 0, "releasedPoints": 0}));
    let unknown = format!("/admin/v1/merchants/{}/cards/nobody/holds", shop.id);
    let reply = app.call("DELETE", &unknown, Some(&shop.api_key), "").await;
    assert_eq!(reply.status, 404, "{}", reply.text);

    let audit = app
        .call(
            "GET",
            &format!("/admin/v1/merchants/{}/audit", shop.id),
            Some(&shop.api_key),
            "",
        )
        .await;
    let releases: Vec<&Value> = audit.json["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|row| row["action"] == "card.holds_release")
        .collect();
    assert_eq!(releases.len(), 2, "{}", audit.text);
    assert_eq!(releases[1]["detail"]["releasedPoints"], 1000);
    assert_eq!(releases[1]["actor"], format!("merchant:{}", shop.id));

    let done = completed_bill("o1", "c1", Some(Decimal::new(1000, 2)));
    let reply = app.post_json(TRANSACTIONS, &shop.pos_token, &done).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(admin_card(app, &shop).await["points"], 1000);
}
