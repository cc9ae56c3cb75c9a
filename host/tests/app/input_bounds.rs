//! What bad input and unbounded data must not do (issue 12, items 10, 11, 12, 15), at
//! the HTTP level on SQLite and (when configured) PostgreSQL: an honest retry after its
//! card is deleted, extreme amounts and points, deep configs, NUL characters, bad cursors,
//! a bad evaluation-log record, and the evaluation log's bound in bytes.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common::app::{Reply, TestApp, TestMerchant, settings};
use crate::common::bifit::{CLIENT_ID, FakeBifit, ORDER_ID, order};
use crate::common::db::{Target, TestDb};
use crate::common::wasm::example;
use rabat::evaluation_log::{Counters, encode_all, write_batch};
use rabat::model::Card;
use rabat::store::{EvaluationQuery, EvaluationRecord, LedgerQuery, PendingEvaluation};
use serde_json::{Value, json};

app_on_both_engines!(
    papaya_retry_succeeds_after_the_card_is_deleted,
    bifit_resync_succeeds_after_the_card_is_deleted,
    an_extreme_total_is_refused_and_the_card_stays_usable,
    points_never_block_the_till,
    a_deep_config_is_refused_and_the_audit_stays_readable,
    nul_and_control_characters_are_refused_at_the_door,
    a_bad_cursor_is_a_400,
    one_bad_evaluation_record_costs_only_itself,
    the_evaluation_log_queue_is_bounded_in_bytes,
    long_ids_are_refused_at_the_door_on_both_engines,
);

const DISCOUNTS: &str = "/pos/papaya/v1/discounts";
const TRANSACTIONS: &str = "/pos/papaya/v1/transactions";
/// The issue's bill total: `Decimal::MAX`.
const EXTREME: &str = "79228162514264337593543950335";

fn assert_error(reply: &Reply, status: u16, id: u64, words: &[&str]) {
    assert_eq!(reply.status, status, "{}", reply.text);
    assert_eq!(reply.json["error_id"], id, "{}", reply.text);
    let message = reply.json["message"].as_str().unwrap_or_default();
    for word in words {
        assert!(message.contains(word), "{word:?} not in {message:?}");
    }
}

/// A completed bill on `card` for `total` (raw JSON number text), one coffee line of
/// `quantity` (raw JSON number text).
fn completed(order_id: &str, card: &str, total: &str, quantity: &str) -> String {
    format!(
        r#"{{"event": "order.completed", "orderId": "{order_id}", "cardId": "{card}",
            "total": {total}, "currency": "EUR",
            "orderItems": [{{"productId": "espresso", "name": "Espresso",
              "categoryName": "Hot Beverages", "quantity": {quantity},
              "unitPrice": 2.50, "totalPrice": 5.00}}]}}"#
    )
}

fn open_bill(order_id: &str, card: &str, total: &str) -> String {
    format!(r#"{{"orderId": "{order_id}", "cardId": "{card}", "total": {total}}}"#)
}

async fn post(app: &TestApp, path: &str, token: &str, body: String) -> Reply {
    app.call("POST", path, Some(token), body).await
}

async fn card(app: &TestApp, m: &TestMerchant, id: &str) -> Card {
    app.state.store().card(&m.id, id).await.unwrap().unwrap()
}

// Item 11: the idempotency check comes before the card lookup.
async fn papaya_retry_succeeds_after_the_card_is_deleted(app: &TestApp) {
    let m = app.merchant("shop").await;
    app.card(&m, Card::new("c1")).await;
    let bill = completed("o-1", "c1", "12.50", "1");
    let first = post(app, TRANSACTIONS, &m.pos_token, bill.clone()).await;
    assert_eq!(first.status, 200, "{}", first.text);

    let deleted = app
        .call(
            "DELETE",
            &format!("/admin/v1/merchants/{}/cards/c1", m.id),
            Some(&m.api_key),
            "",
        )
        .await;
    assert!(deleted.status.is_success(), "{}", deleted.text);

    // The till's honest retry (its first answer was lost): the same answer as the first time.
    let retry = post(app, TRANSACTIONS, &m.pos_token, bill).await;
    assert_eq!(retry.status, 200, "{}", retry.text);
    assert_eq!(retry.json, first.json);
    // Another bill under that order id is still a conflict.
    let other = post(
        app,
        TRANSACTIONS,
        &m.pos_token,
        completed("o-1", "c1", "13.50", "1"),
    )
    .await;
    assert_error(&other, 409, 8, &["o-1"]);
    // A new order on the deleted card is still an unknown card.
    let new = post(
        app,
        TRANSACTIONS,
        &m.pos_token,
        completed("o-2", "c1", "1", "1"),
    )
    .await;
    assert_error(&new, 400, 3, &[]);
}

async fn bifit_resync_succeeds_after_the_card_is_deleted(app: &TestApp) {
    let fake = FakeBifit::start().await;
    fake.put(order(ORDER_ID, "FINISHED", "3000.00"));
    let m = app.merchant("shop").await;
    let mut c = Card::new("card-1");
    c.customer_id = Some(CLIENT_ID.to_string());
    app.card(&m, c).await;
    let put = app
        .call(
            "PUT",
            &format!("/admin/v1/merchants/{}/connectors/bifit", m.id),
            Some(&m.api_key),
            json!({"baseUrl": fake.base_url, "accessToken": "at-0", "refreshToken": "rt-0",
                   "tokenUrl": fake.token_url()})
            .to_string(),
        )
        .await;
    assert_eq!(put.status, 201, "{}", put.text);
    let sync = format!("/pos/bifit/v1/online-orders/{ORDER_ID}/sync");
    let first = app.call("POST", &sync, Some(&m.pos_token), "").await;
    assert_eq!(first.status, 200, "{}", first.text);
    assert_eq!(first.json["outcome"], "recorded");

    app.state
        .store()
        .delete_card(&m.id, "card-1", crate::common::app::audit)
        .await
        .unwrap();
    for body in ["", r#"{"cardId": "card-1"}"#] {
        let again = app.call("POST", &sync, Some(&m.pos_token), body).await;
        assert_eq!(again.status, 200, "{body}: {}", again.text);
        assert_eq!(again.json["outcome"], "already_recorded");
        assert_eq!(
            again.json["transaction"]["id"],
            first.json["transaction"]["id"]
        );
    }
    // The order under another card is still a conflict.
    app.card(&m, Card::new("card-2")).await;
    let other = app
        .call("POST", &sync, Some(&m.pos_token), r#"{"cardId": "card-2"}"#)
        .await;
    assert_error(&other, 409, 8, &["bifit:320528"]);
}

// Item 12: amounts are bounded at the door; a stored card never refuses the next bill.
async fn an_extreme_total_is_refused_and_the_card_stays_usable(app: &TestApp) {
    let m = app.merchant("shop").await;
    app.card(&m, Card::new("c1")).await;
    let refused = post(
        app,
        TRANSACTIONS,
        &m.pos_token,
        completed("big", "c1", EXTREME, "1"),
    )
    .await;
    assert_error(&refused, 400, 7, &["total", "1000000000000"]);
    let refused = post(
        app,
        DISCOUNTS,
        &m.pos_token,
        open_bill("big", "c1", EXTREME),
    )
    .await;
    assert_error(&refused, 400, 7, &["total", "1000000000000"]);
    for (field, body) in [
        (
            "orderItems[0].quantity",
            completed("q", "c1", "5", "1000000000000.01"),
        ),
        (
            "orderItems[0].unitPrice",
            completed("q", "c1", "5", "1").replace("2.50", "-2000000000000"),
        ),
        (
            "vat",
            open_bill("v", "c1", "5").replace("\"total\"", "\"vat\": 1e13, \"total\""),
        ),
    ] {
        let path = if body.contains("order.completed") {
            TRANSACTIONS
        } else {
            DISCOUNTS
        };
        let refused = post(app, path, &m.pos_token, body).await;
        assert_error(&refused, 400, 7, &[field, "1000000000000"]);
    }
    // The largest allowed total is taken, and the card takes the next honest bill.
    let edge = post(
        app,
        TRANSACTIONS,
        &m.pos_token,
        completed("edge", "c1", "1000000000000", "1"),
    )
    .await;
    assert_eq!(edge.status, 200, "{}", edge.text);
    let next = post(
        app,
        TRANSACTIONS,
        &m.pos_token,
        completed("next", "c1", "9.90", "1"),
    )
    .await;
    assert_eq!(next.status, 200, "{}", next.text);
    assert_eq!(card(app, &m, "c1").await.visits, 2);

    // A card whose total reached the limit of what it can hold (as `main` let it) still
    // takes bills: the total saturates instead of refusing.
    app.card(&m, Card::new("full")).await;
    app.db
        .execute(&format!(
            "UPDATE cards SET total_spent = '{EXTREME}' WHERE card_id = 'full'"
        ))
        .await;
    let next = post(
        app,
        TRANSACTIONS,
        &m.pos_token,
        completed("after", "full", "9.90", "1"),
    )
    .await;
    assert_eq!(next.status, 200, "{}", next.text);
    assert_eq!(card(app, &m, "full").await.visits, 1);

    // BIFIT's amounts are bounded the same way (an upstream answer out of range is BIFIT's
    // fault, so 502 naming the field, as for a negative total).
    let fake = FakeBifit::start().await;
    // (Decimal::MAX itself is not even a Decimal with kopecks; 10²⁰ roubles is.)
    fake.put(order(ORDER_ID, "FINISHED", "100000000000000000000.00"));
    let put = app
        .call(
            "PUT",
            &format!("/admin/v1/merchants/{}/connectors/bifit", m.id),
            Some(&m.api_key),
            json!({"baseUrl": fake.base_url, "accessToken": "at-0", "cardLookup": "caller"})
                .to_string(),
        )
        .await;
    assert_eq!(put.status, 201, "{}", put.text);
    let sync = app
        .call(
            "POST",
            &format!("/pos/bifit/v1/online-orders/{ORDER_ID}/sync"),
            Some(&m.pos_token),
            r#"{"cardId": "c1"}"#,
        )
        .await;
    assert_error(&sync, 502, 12, &["totalAmount", "1000000000000"]);
    assert_eq!(card(app, &m, "c1").await.visits, 2);
}

async fn points_never_block_the_till(app: &TestApp) {
    let m = app.merchant("shop").await;
    // stamp-card: one point per coffee; a full card (points ≥ every) redeems.
    app.activate(
        &m,
        &example("stamp-card"),
        json!({"every": 5, "category": "Hot Beverages"}),
    )
    .await;
    app.card(&m, Card::new("c1")).await;
    // Two billion coffees: more points than one bill may grant, so 0 and the reason.
    let reply = post(
        app,
        TRANSACTIONS,
        &m.pos_token,
        completed("many", "c1", "5", "2000000000"),
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    let c1 = card(app, &m, "c1").await;
    assert_eq!((c1.points, c1.visits), (0, 1));
    let row = app
        .state
        .store()
        .list_transactions(
            &m.id,
            &LedgerQuery {
                limit: 1,
                ..LedgerQuery::default()
            },
        )
        .await
        .unwrap()
        .items
        .remove(0);
    assert_eq!(row.points, 0);
    let error = row.accrual_error.unwrap_or_default();
    assert!(error.contains("1000000000"), "{error}");

    // A balance the merchant set at the top of the range: the next bill is recorded (with
    // 0 points and the reason), not refused.
    let mut top = Card::new("top");
    top.points = i64::MAX - 1;
    app.card(&m, top).await;
    let reply = post(
        app,
        TRANSACTIONS,
        &m.pos_token,
        completed("t1", "top", "5", "10"),
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    let top = card(app, &m, "top").await;
    assert_eq!((top.points, top.visits), (i64::MAX - 1, 1));
    let row = app
        .state
        .store()
        .list_transactions(
            &m.id,
            &LedgerQuery {
                card_id: Some("top"),
                limit: 1,
                ..LedgerQuery::default()
            },
        )
        .await
        .unwrap()
        .items
        .remove(0);
    assert_eq!(row.points, 0);
    assert!(
        row.accrual_error
            .as_deref()
            .is_some_and(|e| e.contains("out of range")),
        "{row:?}"
    );
}

// Item 15: input the database cannot take is refused at the door, never a 503.
async fn a_deep_config_is_refused_and_the_audit_stays_readable(app: &TestApp) {
    let m = app.merchant("shop").await;
    let config = format!("/admin/v1/merchants/{}/policy-config", m.id);
    let deep = |levels: usize| format!("{}1{}", r#"{"a":"#.repeat(levels), "}".repeat(levels));
    let refused = app.call("PUT", &config, Some(&m.api_key), deep(127)).await;
    assert_error(&refused, 400, 7, &["127", "32"]);
    let fine = app.call("PUT", &config, Some(&m.api_key), deep(32)).await;
    assert_eq!(fine.status, 200, "{}", fine.text);
    let audit = app
        .call(
            "GET",
            &format!("/admin/v1/merchants/{}/audit", m.id),
            Some(&m.api_key),
            "",
        )
        .await;
    assert_eq!(audit.status, 200, "{}", audit.text);
    // A deep Papaya body is refused too, naming the limit.
    app.card(&m, Card::new("c1")).await;
    let body = open_bill("d", "c1", "1").replace('}', &format!(r#", "x": {}}}"#, deep(40)));
    let refused = post(app, DISCOUNTS, &m.pos_token, body).await;
    assert_error(&refused, 400, 7, &["body", "32"]);
}

async fn nul_and_control_characters_are_refused_at_the_door(app: &TestApp) {
    let m = app.merchant("shop").await;
    app.card(&m, Card::new("c1")).await;
    let with = |field: &str, value: &str| {
        let mut bill: Value = serde_json::from_str(&completed("o-1", "c1", "5", "1")).unwrap();
        bill[field] = json!(value);
        bill.to_string()
    };
    for (field, value) in [
        ("orderId", "o\u{0}1"),
        ("cardId", "c\u{0}1"),
        ("note", "no\u{0}te"),
        ("branchId", "\u{0}"),
        ("orderId", "o\n1"),
    ] {
        for path in [DISCOUNTS, TRANSACTIONS] {
            let reply = post(app, path, &m.pos_token, with(field, value)).await;
            assert_error(&reply, 400, 7, &[field]);
        }
    }
    // Inside a line, and in an extra field.
    let mut bill: Value = serde_json::from_str(&completed("o-1", "c1", "5", "1")).unwrap();
    bill["orderItems"][0]["name"] = json!("Esp\u{0}resso");
    let reply = post(app, TRANSACTIONS, &m.pos_token, bill.to_string()).await;
    assert_error(&reply, 400, 7, &["orderItems[0].name", "NUL"]);
    let mut bill: Value = serde_json::from_str(&open_bill("o-1", "c1", "5")).unwrap();
    bill["table"] = json!({"waiter": "\u{0}"});
    let reply = post(app, DISCOUNTS, &m.pos_token, bill.to_string()).await;
    assert_error(&reply, 400, 7, &["table.waiter", "NUL"]);
    // Admin: card fields and path/query values.
    let put = app
        .call(
            "PUT",
            &format!("/admin/v1/merchants/{}/cards/c2", m.id),
            Some(&m.api_key),
            json!({"name": "A\u{0}B"}).to_string(),
        )
        .await;
    assert_error(&put, 400, 7, &["name"]);
    let get = app
        .call(
            "GET",
            &format!("/admin/v1/merchants/{}/cards/c%001", m.id),
            Some(&m.api_key),
            "",
        )
        .await;
    assert_error(&get, 400, 7, &["cardId"]);
    let list = app
        .call(
            "GET",
            &format!("/admin/v1/merchants/{}/transactions?cardId=c%001", m.id),
            Some(&m.api_key),
            "",
        )
        .await;
    assert_error(&list, 400, 7, &["cardId"]);
    let note = app
        .call(
            "POST",
            &format!("/admin/v1/merchants/{}/policies?note=a%00b", m.id),
            Some(&m.api_key),
            "",
        )
        .await;
    assert_error(&note, 400, 7, &["note"]);
    // Nothing was recorded, and the database is fine.
    assert_eq!(card(app, &m, "c1").await.visits, 0);
    let ready = app.call("GET", "/readyz", None, "").await;
    assert_eq!(ready.status, 200, "{}", ready.text);
}

async fn a_bad_cursor_is_a_400(app: &TestApp) {
    let m = app.merchant("shop").await;
    let base = format!("/admin/v1/merchants/{}", m.id);
    // "00" is a NUL, "0a" a newline, "6100" "a" and a NUL: no key rabat hands out.
    for list in [
        "cards",
        "transactions",
        "evaluations",
        "audit",
        "connectors/bifit/orders",
    ] {
        for cursor in ["00", "0a", "6100"] {
            let reply = app
                .call(
                    "GET",
                    &format!("{base}/{list}?cursor={cursor}"),
                    Some(&m.api_key),
                    "",
                )
                .await;
            assert_error(&reply, 400, 7, &["cursor"]);
        }
    }
}

fn record(merchant: &str, order_id: &str, padding: usize) -> EvaluationRecord {
    EvaluationRecord {
        merchant_id: merchant.into(),
        at: rabat::clock::now_ms(),
        order_id: order_id.into(),
        card_id: None,
        policy_version: None,
        outcome: "no_policy".into(),
        total_discount: None,
        fuel: None,
        duration_us: 0,
        request: json!({"orderId": order_id, "padding": "x".repeat(padding)}),
        card: None,
        response: None,
        logs: json!([]),
        error: None,
    }
}

async fn logged(app: &TestApp, merchant: &str) -> Vec<String> {
    app.state
        .store()
        .list_evaluations(
            merchant,
            &EvaluationQuery {
                limit: 500,
                ..EvaluationQuery::default()
            },
        )
        .await
        .unwrap()
        .items
        .into_iter()
        .map(|e| e.record.order_id)
        .collect()
}

/// The writer's step on this app's database: one record the database refuses (its
/// merchant is gone) in a batch with good ones of two merchants.
async fn one_bad_evaluation_record_costs_only_itself(app: &TestApp) {
    use std::sync::atomic::Ordering::Relaxed;
    app.merchant("a").await;
    app.merchant("b").await;
    let batch: Vec<PendingEvaluation> = [
        record("a", "a-1", 10),
        record("ghost", "g-1", 10),
        record("b", "b-1", 10),
        record("a", "a-2", 10),
    ]
    .iter()
    .map(PendingEvaluation::from)
    .collect();
    let counters = Counters::default();
    let (batch, refused) = encode_all(&batch);
    assert_eq!(refused, 0);
    let retention = app.state.settings().evaluation_retention();
    write_batch(app.state.store(), &batch, &retention, &counters).await;
    assert_eq!(counters.written.load(Relaxed), 3);
    assert_eq!(counters.failed.load(Relaxed), 1);
    let mut a = logged(app, "a").await;
    a.sort();
    assert_eq!(a, ["a-1", "a-2"]);
    assert_eq!(logged(app, "b").await, ["b-1"]);
}

/// What the queue holds is bounded in bytes: a record that does not fit is dropped and
/// counted, and the bytes are given back once written.
async fn the_evaluation_log_queue_is_bounded_in_bytes(app: &TestApp) {
    // A small bound through the operator's setting, on the same database.
    let mut small = settings();
    small.evaluation_log_max_bytes = 64 << 10;
    let bounded = TestApp::with_settings(
        TestDb {
            store: app.db.reopen().await,
            target: Target::Shared,
        },
        small,
    )
    .await;
    let m = bounded.merchant("shop").await;
    bounded.card(&m, Card::new("c1")).await;
    let big = |id: &str| {
        let mut bill: Value = serde_json::from_str(&open_bill(id, "c1", "5")).unwrap();
        bill["note"] = json!("n".repeat(100 << 10));
        bill.to_string()
    };
    // Larger than the whole bound: answered as usual, not logged, counted as dropped.
    let reply = post(&bounded, DISCOUNTS, &m.pos_token, big("big")).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    let small_bill = post(
        &bounded,
        DISCOUNTS,
        &m.pos_token,
        open_bill("small", "c1", "5"),
    )
    .await;
    assert_eq!(small_bill.status, 200, "{}", small_bill.text);
    bounded.flush_evaluations().await;
    let counters = bounded.state.evaluations().counters();
    use std::sync::atomic::Ordering::Relaxed;
    assert_eq!(counters.dropped.load(Relaxed), 1);
    assert_eq!(counters.queued_bytes.load(Relaxed), 0);
    assert_eq!(logged(&bounded, "shop").await, ["small"]);
    let metrics = bounded
        .call("GET", "/metrics", Some(crate::common::app::OPERATOR), "")
        .await;
    assert!(
        metrics.text.contains("evaluation_log_dropped_total 1"),
        "{}",
        metrics.text
    );
    bounded.shutdown().await;
}

/// Issue 21, item 18: an id the database indexes is bounded at the door, the same on both
/// engines (PostgreSQL answered 503 on every retry for an `orderId` of ~2.7 kB: its B-tree
/// refuses the index entry; SQLite took it): 400, error 7, naming the field and the bound
/// from `rabat_domain::limits`. An id at the bound is accepted everywhere.
async fn long_ids_are_refused_at_the_door_on_both_engines(app: &TestApp) {
    use rabat::limits::{
        MAX_CARD_ID_CHARS, MAX_CUSTOMER_ID_CHARS, MAX_MERCHANT_ID_CHARS, MAX_ORDER_ID_CHARS,
        MAX_TOKEN_ID_CHARS,
    };
    let m = app.merchant("shop").await;
    let longest_card = "c".repeat(MAX_CARD_ID_CHARS);
    app.card(&m, Card::new(&longest_card)).await;
    let too_long = |max: usize| "x".repeat(max.max(3_000) + 1);

    // Papaya, both endpoints: the issue's ~2.7 kB orderId, and one character too many.
    for order_id in [
        too_long(MAX_ORDER_ID_CHARS),
        "o".repeat(MAX_ORDER_ID_CHARS + 1),
    ] {
        let reply = post(
            app,
            DISCOUNTS,
            &m.pos_token,
            open_bill(&order_id, &longest_card, "5"),
        )
        .await;
        assert_error(
            &reply,
            400,
            7,
            &[&format!(
                "orderId must be at most {MAX_ORDER_ID_CHARS} characters"
            )],
        );
        assert_eq!(reply.json["error"], "Invalid field value", "{}", reply.text);
        let bill = completed(&order_id, &longest_card, "5", "2");
        let reply = post(app, TRANSACTIONS, &m.pos_token, bill).await;
        assert_error(
            &reply,
            400,
            7,
            &[&format!(
                "orderId must be at most {MAX_ORDER_ID_CHARS} characters"
            )],
        );
    }
    let card_id = "c".repeat(MAX_CARD_ID_CHARS + 1);
    for (path, body) in [
        (DISCOUNTS, open_bill("o-1", &card_id, "5")),
        (TRANSACTIONS, completed("o-1", &card_id, "5", "2")),
    ] {
        let reply = post(app, path, &m.pos_token, body).await;
        assert_error(
            &reply,
            400,
            7,
            &[&format!(
                "cardId must be at most {MAX_CARD_ID_CHARS} characters"
            )],
        );
    }
    // At the bounds, both endpoints work (and the evaluation log takes the order id).
    let order_id = "o".repeat(MAX_ORDER_ID_CHARS);
    let reply = post(
        app,
        DISCOUNTS,
        &m.pos_token,
        open_bill(&order_id, &longest_card, "5"),
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    let reply = post(
        app,
        TRANSACTIONS,
        &m.pos_token,
        completed(&order_id, &longest_card, "5", "2"),
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(card(app, &m, &longest_card).await.visits, 1);
    app.flush_evaluations().await;
    assert_eq!(
        app.state
            .evaluations()
            .counters()
            .failed
            .load(std::sync::atomic::Ordering::Relaxed),
        0
    );

    // Admin: path, query and body ids.
    let base = format!("/admin/v1/merchants/{}", m.id);
    let long_card = "c".repeat(MAX_CARD_ID_CHARS + 1);
    let long_customer = "k".repeat(MAX_CUSTOMER_ID_CHARS + 1);
    let long_token = "t".repeat(MAX_TOKEN_ID_CHARS + 1);
    let cases = [
        (
            "PUT",
            format!("{base}/cards/{long_card}"),
            json!({}),
            "cardId",
            MAX_CARD_ID_CHARS,
        ),
        (
            "PUT",
            format!("{base}/cards/k1"),
            json!({"customerId": long_customer}),
            "customerId",
            MAX_CUSTOMER_ID_CHARS,
        ),
        (
            "GET",
            format!("{base}/cards?customerId={long_customer}"),
            Value::Null,
            "customerId",
            MAX_CUSTOMER_ID_CHARS,
        ),
        (
            "GET",
            format!("{base}/transactions?cardId={long_card}"),
            Value::Null,
            "cardId",
            MAX_CARD_ID_CHARS,
        ),
        (
            "DELETE",
            format!("{base}/pos-tokens/{long_token}"),
            Value::Null,
            "tokenId",
            MAX_TOKEN_ID_CHARS,
        ),
    ];
    for (method, path, body, field, max) in cases {
        let body = if body.is_null() {
            String::new()
        } else {
            body.to_string()
        };
        let reply = app.call(method, &path, Some(&m.api_key), body).await;
        assert_error(
            &reply,
            400,
            7,
            &[&format!("{field} must be at most {max} characters")],
        );
    }
    let reply = app
        .call(
            "POST",
            "/admin/v1/merchants",
            Some(crate::common::app::OPERATOR),
            json!({"id": "m".repeat(MAX_MERCHANT_ID_CHARS + 1), "name": "Long"}).to_string(),
        )
        .await;
    assert_error(
        &reply,
        400,
        7,
        &[&format!(
            "id must be at most {MAX_MERCHANT_ID_CHARS} characters"
        )],
    );
    let ready = app.call("GET", "/readyz", None, "").await;
    assert_eq!(ready.status, 200, "{}", ready.text);
}
