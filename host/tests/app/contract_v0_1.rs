//! Policies uploaded under contract `rabat:rules@0.1.0` keep answering exactly as before
//! on the 0.2 host: components built from the last 0.1 `main`
//! (`host/sandbox/tests/fixtures/v0_1/`, see its README), stored and activated, answer
//! endpoint 1 and record endpoint 2 as `rabat run` recorded on the day they were built.
//! Answers are compared as JSON values with numbers as written (`1.00` is not `1.0`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use rabat::model::Card;
use rabat::store::LedgerQuery;
use serde_json::{Value, json};

use crate::common::app::{TestApp, TestMerchant};
use crate::common::wasm::{data, fixtures_dir};

const DISCOUNTS: &str = "/pos/papaya/v1/discounts";
const TRANSACTIONS: &str = "/pos/papaya/v1/transactions";

app_on_both_engines!(
    tier_category_built_on_0_1_answers_endpoint_1_as_before,
    stamp_card_built_on_0_1_answers_both_endpoints_as_before,
);

fn v0_1(name: &str) -> Vec<u8> {
    let path = fixtures_dir().join("v0_1").join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn recorded(name: &str) -> Value {
    serde_json::from_slice(&v0_1(name)).unwrap()
}

fn json_file(path: &str) -> Value {
    serde_json::from_slice(&data(path)).unwrap()
}

fn config(example: &str) -> Value {
    let path = rabat_sandbox::build::workspace_dir()
        .join("examples")
        .join(example)
        .join("config.json");
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

/// The merchant with every sample card and `policy` (a 0.1 component) active.
async fn shop(app: &TestApp, id: &str, policy: &str, example: &str) -> TestMerchant {
    let shop = app.merchant(id).await;
    for card in ["gold", "new-customer", "stamps-full"] {
        let card: Card = serde_json::from_value(json_file(&format!("cards/{card}.json"))).unwrap();
        app.card(&shop, card).await;
    }
    let wasm = v0_1(policy);
    let compiled = app.state.runtime().compile(&wasm).unwrap();
    assert_eq!(compiled.contract(), rabat_sandbox::Contract::V0_1);
    app.activate(&shop, &wasm, config(example)).await;
    shop
}

fn card_id(card: &str) -> String {
    json_file(&format!("cards/{card}.json"))["cardId"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// Endpoint 1's answer on `bill` for `card` equals `expected` (sorted keys, numbers as
/// written), and its text is that value's.
async fn assert_endpoint_1(
    app: &TestApp,
    shop: &TestMerchant,
    bill: &str,
    card: &str,
    expected: &Value,
) {
    let mut body = json_file(&format!("bills/{bill}"));
    body["cardId"] = json!(card_id(card));
    let reply = app.post_json(DISCOUNTS, &shop.pos_token, &body).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(
        serde_json::to_string(&reply.json).unwrap(),
        serde_json::to_string(expected).unwrap(),
        "{bill} with {card}"
    );
}

async fn tier_category_built_on_0_1_answers_endpoint_1_as_before(app: &TestApp) {
    let shop = shop(app, "old-tier", "tier-category.wasm", "tier-category").await;
    for (bill, file) in [
        ("papaya-discount-request.json", "papaya-discount-request"),
        ("big-200.json", "big-200"),
    ] {
        for card in ["gold", "new-customer"] {
            let expected = recorded(&format!("tier-category.{file}.{card}.json"));
            assert_endpoint_1(app, &shop, bill, card, &expected["decision"]["response"]).await;
        }
    }
}

/// The ledger row endpoint 2 wrote for `order_id`: its points and reason.
async fn ledger_row(app: &TestApp, shop: &TestMerchant, order_id: &str) -> (i64, Option<String>) {
    let rows = app
        .state
        .store()
        .list_transactions(
            &shop.id,
            &LedgerQuery {
                limit: 50,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let row = rows
        .items
        .iter()
        .find(|row| row.order_id.as_deref() == Some(order_id))
        .unwrap_or_else(|| panic!("no ledger row for {order_id}"));
    (row.points, row.reason.clone())
}

async fn stamp_card_built_on_0_1_answers_both_endpoints_as_before(app: &TestApp) {
    let shop = shop(app, "old-stamps", "stamp-card.wasm", "stamp-card").await;
    for card in ["gold", "stamps-full"] {
        let expected = recorded(&format!("stamp-card.evaluate.{card}.json"));
        let response = &expected["decision"]["response"];
        assert_endpoint_1(app, &shop, "papaya-discount-request.json", card, response).await;
    }
    // Endpoint 2 on the sample transaction, one order per card, then on the discount
    // request's bill completed (its coffees stamp the card).
    let cases = [
        (
            "gold",
            "stamp-card.accrue.gold.json",
            "papaya-transaction.json",
        ),
        (
            "stamps-full",
            "stamp-card.accrue.stamps-full.json",
            "papaya-transaction.json",
        ),
        (
            "stamps-full",
            "stamp-card.accrue-request-bill.stamps-full.json",
            "papaya-discount-request.json",
        ),
    ];
    for (i, (card, file, bill)) in cases.into_iter().enumerate() {
        let mut body = json_file(&format!("bills/{bill}"));
        let order_id = format!("v0-1-{i}");
        body["orderId"] = json!(order_id);
        body["cardId"] = json!(card_id(card));
        if body.get("event").is_none() {
            body["event"] = json!("order.completed");
            body["paid"] = json!(1);
            body["completed"] = body["updated"].clone();
        }
        let reply = app.post_json(TRANSACTIONS, &shop.pos_token, &body).await;
        assert_eq!(reply.status, 200, "{}", reply.text);
        assert_eq!(
            reply.json,
            json!({"success": true, "message": "Order processed successfully", "orderDetails": {"orderId": order_id}})
        );
        let accrual = &recorded(file)["accrual"];
        let (points, reason) = ledger_row(app, &shop, &order_id).await;
        assert_eq!(json!(points), accrual["points"], "{file}");
        assert_eq!(json!(reason), accrual["reason"], "{file}");
    }
}
