//! Data loss and corruption (issue 12): a card PUT without `points` never writes the
//! balance, and a change never commits without its audit row.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use futures::future::join_all;
use rabat::store::EngineKind;
use serde_json::{Value, json};

use crate::common::app::{OPERATOR, Reply, TestApp, TestMerchant};
use crate::common::wasm::data;

const MERCHANTS: &str = "/admin/v1/merchants";

app_on_both_engines!(
    card_renames_never_lose_concurrent_points,
    a_change_whose_audit_row_fails_does_not_happen,
    leaked_keys_are_rotated_and_merchants_disabled,
);

fn base(merchant: &TestMerchant) -> String {
    format!("{MERCHANTS}/{}", merchant.id)
}

fn assert_status(reply: &Reply, status: u16) {
    assert_eq!(reply.status.as_u16(), status, "{}", reply.text);
}

async fn send(app: &TestApp, method: &str, path: &str, key: &str, body: &Value) -> Reply {
    app.call(method, path, Some(key), body.to_string()).await
}

/// A merchant made through the API, as the operator would.
async fn create(app: &TestApp, id: &str) -> TestMerchant {
    let body = json!({"id": id, "name": format!("{id} shop")});
    let reply = app.post_json(MERCHANTS, OPERATOR, &body).await;
    assert_status(&reply, 201);
    TestMerchant {
        id: id.into(),
        api_key: reply.json["apiKey"].as_str().unwrap().into(),
        pos_token: reply.json["posToken"].as_str().unwrap().into(),
    }
}

/// 40 concurrent +1 adjustments while the card is renamed 40 times (PUT without
/// `points`): every point stays, and the ledger explains the balance.
async fn card_renames_never_lose_concurrent_points(app: &TestApp) {
    let shop = create(app, "shop").await;
    let card = format!("{}/cards/c1", base(&shop));
    let reply = send(app, "PUT", &card, &shop.api_key, &json!({"points": 10})).await;
    assert_status(&reply, 201);

    let adjust = format!("{card}/points");
    let adds = (0..40).map(|_| {
        let body = json!({"delta": 1, "reason": "visit bonus"});
        let (app, adjust, key) = (&app, &adjust, &shop.api_key);
        async move { send(app, "POST", adjust, key, &body).await }
    });
    let renames = (0..40).map(|i| {
        let body = json!({"name": format!("Name {i}"), "tier": "gold"});
        let (app, card, key) = (&app, &card, &shop.api_key);
        async move { send(app, "PUT", card, key, &body).await }
    });
    let (adds, renames) = tokio::join!(join_all(adds), join_all(renames));
    for reply in &adds {
        assert_status(reply, 201);
    }
    for reply in &renames {
        assert_status(reply, 200);
    }

    let stored = app.call("GET", &card, Some(&shop.api_key), "").await;
    assert_status(&stored, 200);
    assert_eq!(stored.json["points"], 50, "{}", stored.text);
    assert_eq!(stored.json["tier"], "gold");
    // No rename wrote the balance: the only ledger rows are the initial set and the 40 adds.
    let ledger = format!("{}/transactions?limit=500&cardId=c1", base(&shop));
    let rows = app.call("GET", &ledger, Some(&shop.api_key), "").await;
    assert_status(&rows, 200);
    let rows = rows.json["items"].as_array().unwrap().clone();
    let set_back = rows.iter().filter(|r| r["reason"] != "visit bonus").count();
    assert_eq!(rows.len(), 41, "{set_back} rows set the balance");
    assert_eq!(rows[0]["pointsBalance"], 50);
}

/// Makes every later audit insert fail, as a full disk or a broken audit table would.
async fn break_the_audit_trail(app: &TestApp) {
    match app.state.store().engine() {
        EngineKind::Sqlite => {
            app.db
                .execute(
                    "CREATE TRIGGER audit_refused BEFORE INSERT ON audit_log
                     BEGIN SELECT RAISE(ABORT, 'audit refused by the test'); END",
                )
                .await;
        }
        EngineKind::Postgres => {
            app.db
                .execute(
                    "CREATE FUNCTION audit_refused() RETURNS trigger AS $$
                     BEGIN RAISE EXCEPTION 'audit refused by the test'; END $$ LANGUAGE plpgsql",
                )
                .await;
            app.db
                .execute(
                    "CREATE TRIGGER audit_refused BEFORE INSERT ON audit_log
                     FOR EACH ROW EXECUTE FUNCTION audit_refused()",
                )
                .await;
        }
    }
}

/// With the audit insert failing, each change is answered as an error and did not happen.
async fn a_change_whose_audit_row_fails_does_not_happen(app: &TestApp) {
    let shop = create(app, "shop").await;
    let m = base(&shop);
    let key = &shop.api_key;
    let card = format!("{m}/cards/c1");
    let reply = send(
        app,
        "PUT",
        &card,
        key,
        &json!({"name": "Before", "points": 5}),
    )
    .await;
    assert_status(&reply, 201);
    let audited_before = app
        .call("GET", &format!("{m}/audit?limit=500"), Some(key), "")
        .await
        .json["items"]
        .as_array()
        .unwrap()
        .len();

    break_the_audit_trail(app).await;

    let failed = |reply: &Reply| {
        assert!(
            reply.status.is_server_error(),
            "a change without its audit row must fail: {} {}",
            reply.status,
            reply.text
        );
    };
    failed(
        &send(
            app,
            "PUT",
            &card,
            key,
            &json!({"name": "After", "points": 9}),
        )
        .await,
    );
    failed(
        &send(
            app,
            "POST",
            &format!("{card}/points"),
            key,
            &json!({"delta": 3, "reason": "x"}),
        )
        .await,
    );
    failed(&send(app, "DELETE", &card, key, &json!({})).await);
    failed(
        &send(
            app,
            "PUT",
            &format!("{m}/cards/c2"),
            key,
            &json!({"name": "New"}),
        )
        .await,
    );
    failed(
        &send(
            app,
            "PUT",
            &format!("{m}/policy-config"),
            key,
            &json!({"k": 1}),
        )
        .await,
    );
    failed(
        &app.call("POST", &format!("{m}/pos-tokens"), Some(key), "")
            .await,
    );
    let other = json!({"id": "other", "name": "Other shop"});
    failed(&app.post_json(MERCHANTS, OPERATOR, &other).await);

    let stored = app.call("GET", &card, Some(key), "").await;
    assert_status(&stored, 200);
    assert_eq!(stored.json["name"], "Before", "{}", stored.text);
    assert_eq!(stored.json["points"], 5, "{}", stored.text);
    let ledger = format!("{m}/transactions?limit=500&cardId=c1");
    let rows = app.call("GET", &ledger, Some(key), "").await;
    assert_eq!(
        rows.json["items"].as_array().unwrap().len(),
        1,
        "{}",
        rows.text
    );
    let absent = app
        .call("GET", &format!("{m}/cards/c2"), Some(key), "")
        .await;
    assert_status(&absent, 404);
    let config = app
        .call("GET", &format!("{m}/policy-config"), Some(key), "")
        .await;
    assert_eq!(config.json, json!({}), "{}", config.text);
    let tokens = app
        .call("GET", &format!("{m}/pos-tokens"), Some(key), "")
        .await;
    assert_eq!(
        tokens.json["items"].as_array().unwrap().len(),
        1,
        "{}",
        tokens.text
    );
    let none = app.state.store().merchant("other").await.unwrap();
    assert!(
        none.is_none(),
        "the merchant was created without its audit row"
    );
    let audited_after = app
        .call("GET", &format!("{m}/audit?limit=500"), Some(key), "")
        .await
        .json["items"]
        .as_array()
        .unwrap()
        .len();
    assert_eq!(audited_after, audited_before);
}

fn assert_error(reply: &Reply, status: u16, id: u64, word: &str) {
    assert_eq!(reply.status.as_u16(), status, "{}", reply.text);
    assert_eq!(reply.json["error_id"], id, "{}", reply.text);
    let message = reply.json["message"].as_str().unwrap();
    assert!(message.contains(word), "'{word}' not in: {message}");
}

async fn till(app: &TestApp, shop: &TestMerchant) -> Reply {
    let bill: Value = serde_json::from_slice(&data("bills/papaya-discount-request.json")).unwrap();
    app.post_json("/pos/papaya/v1/discounts", &shop.pos_token, &bill)
        .await
}

/// A leaked API key is replaced by the merchant or the operator (the old one refused at
/// once); the operator disables a merchant (key 403, POS tokens 401, both saying so) and
/// enables it again. Every step is in the audit trail.
async fn leaked_keys_are_rotated_and_merchants_disabled(app: &TestApp) {
    let shop = create(app, "shop").await;
    let other = create(app, "other").await;
    let m = base(&shop);
    let rotate = format!("{m}/api-key");

    // The merchant rotates its own key.
    let reply = app.call("POST", &rotate, Some(&shop.api_key), "").await;
    assert_status(&reply, 201);
    let new_key = reply.json["apiKey"].as_str().unwrap().to_owned();
    assert_ne!(new_key, shop.api_key);
    let old = app.call("GET", &m, Some(&shop.api_key), "").await;
    assert_error(&old, 401, 4, "API key");
    assert_status(&app.call("GET", &m, Some(&new_key), "").await, 200);

    // The operator rotates it (the merchant lost it, or it leaked again).
    let reply = app.call("POST", &rotate, Some(OPERATOR), "").await;
    assert_status(&reply, 201);
    let operator_key = reply.json["apiKey"].as_str().unwrap().to_owned();
    assert_status(&app.call("GET", &m, Some(&new_key), "").await, 401);
    assert_status(&app.call("GET", &m, Some(&operator_key), "").await, 200);
    // Nobody else may, and an unknown merchant is not found.
    let stranger = app.call("POST", &rotate, Some(&other.api_key), "").await;
    assert_error(&stranger, 403, 10, "another merchant");
    let ghost = format!("{MERCHANTS}/ghost/api-key");
    assert_status(&app.call("POST", &ghost, Some(OPERATOR), "").await, 404);
    assert_status(&app.call("POST", &rotate, Some("nonsense"), "").await, 401);

    // The operator disables the merchant: its key and its POS tokens are refused.
    assert_ne!(till(app, &shop).await.status.as_u16(), 401);
    let disable = send(app, "PATCH", &m, OPERATOR, &json!({"disabled": true})).await;
    assert_status(&disable, 200);
    assert_eq!(disable.json["disabled"], true, "{}", disable.text);
    assert!(disable.json["disabledAt"].is_i64(), "{}", disable.text);
    let refused = app.call("GET", &m, Some(&operator_key), "").await;
    assert_error(&refused, 403, 10, "disabled");
    let refused = app.call("POST", &rotate, Some(&operator_key), "").await;
    assert_error(&refused, 403, 10, "disabled");
    assert_error(&till(app, &shop).await, 401, 4, "disabled");
    // Other merchants are untouched.
    assert_ne!(till(app, &other).await.status.as_u16(), 401);
    // Only the operator may, with a boolean.
    let by_merchant = send(
        app,
        "PATCH",
        &m,
        &other.api_key,
        &json!({"disabled": false}),
    )
    .await;
    assert_status(&by_merchant, 403);
    let bad = send(app, "PATCH", &m, OPERATOR, &json!({"disabled": "no"})).await;
    assert_error(&bad, 400, 7, "disabled");
    let unknown = send(app, "PATCH", &m, OPERATOR, &json!({"name": "x"})).await;
    assert_error(&unknown, 400, 7, "name");
    let ghost = format!("{MERCHANTS}/ghost");
    let ghost = send(app, "PATCH", &ghost, OPERATOR, &json!({"disabled": true})).await;
    assert_status(&ghost, 404);

    // Enabled again: everything works as before.
    let enable = send(app, "PATCH", &m, OPERATOR, &json!({"disabled": false})).await;
    assert_status(&enable, 200);
    assert_eq!(enable.json["disabled"], false, "{}", enable.text);
    assert_status(&app.call("GET", &m, Some(&operator_key), "").await, 200);
    assert_ne!(till(app, &shop).await.status.as_u16(), 401);

    let audit = app
        .call(
            "GET",
            &format!("{m}/audit?limit=500"),
            Some(&operator_key),
            "",
        )
        .await;
    let actions: Vec<(String, String)> = audit.json["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["action"].as_str().unwrap().into(),
                e["actor"].as_str().unwrap().into(),
            )
        })
        .collect();
    let has = |action: &str, actor: &str| actions.contains(&(action.into(), actor.into()));
    assert!(
        has("merchant.api_key.rotate", "merchant:shop"),
        "{actions:?}"
    );
    assert!(has("merchant.api_key.rotate", "operator"), "{actions:?}");
    assert!(has("merchant.disable", "operator"), "{actions:?}");
    assert!(has("merchant.enable", "operator"), "{actions:?}");
}
