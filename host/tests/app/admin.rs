//! The admin API at the HTTP level, on SQLite and (when configured) PostgreSQL: every
//! route's happy path and bad inputs, the auth matrix, hostile uploads, activation and
//! rollback as the till sees them, dry-runs that record nothing, and the audit trail.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common::app::{OPERATOR, Reply, TestApp, TestMerchant};
use crate::common::wasm::{core_module, data, example, fixture};
use serde_json::{Value, json};

const MERCHANTS: &str = "/admin/v1/merchants";
const DISCOUNTS: &str = "/pos/papaya/v1/discounts";
const TRANSACTIONS: &str = "/pos/papaya/v1/transactions";

app_on_both_engines!(
    merchants_are_created_by_the_operator,
    merchant_creation_rejects_bad_input,
    pos_tokens_are_issued_listed_and_revoked,
    upload_activate_and_roll_back,
    hostile_uploads_are_rejected_with_the_reason,
    policy_versions_errors,
    policy_config_round_trip,
    cards_are_managed_through_the_ledger,
    card_input_errors,
    points_adjustments,
    transactions_are_listed_newest_first,
    evaluations_are_listed_and_filtered,
    evaluation_retention_is_the_merchants_within_the_operators_maximum,
    dry_run_records_nothing,
    dry_run_input_errors,
    auth_matrix,
    merchants_never_see_each_other,
    audit_trail_names_every_change,
    unknown_routes_and_methods,
);

// ---------------------------------------------------------------------------------------
// Helpers

fn assert_error(reply: &Reply, status: u16, id: u64) {
    assert_eq!(reply.status.as_u16(), status, "{}", reply.text);
    assert_eq!(reply.json["error_id"], id, "{}", reply.text);
    let keys: Vec<&String> = reply.json.as_object().unwrap().keys().collect();
    assert_eq!(keys.len(), 3, "error, message, error_id: {}", reply.text);
    assert!(reply.json["error"].as_str().is_some_and(|s| !s.is_empty()));
}

/// An error that names what was wrong.
fn assert_names(reply: &Reply, status: u16, id: u64, word: &str) {
    assert_error(reply, status, id);
    let message = reply.json["message"].as_str().unwrap();
    assert!(message.contains(word), "'{word}' not in: {message}");
}

fn assert_status(reply: &Reply, status: u16) {
    assert_eq!(reply.status.as_u16(), status, "{}", reply.text);
}

/// A JSON number exactly as written (`5.00`, not `5.0`).
fn num(value: &Value) -> String {
    value.to_string()
}

/// An amount of the admin API, written as a number or as exact decimal text.
fn amount(value: &Value) -> String {
    value
        .as_str()
        .map_or_else(|| value.to_string(), str::to_owned)
}

fn base(merchant: &TestMerchant) -> String {
    format!("{MERCHANTS}/{}", merchant.id)
}

async fn send(app: &TestApp, method: &str, path: &str, key: &str, body: &Value) -> Reply {
    app.call(method, path, Some(key), body.to_string()).await
}

async fn app_call(
    app: &TestApp,
    method: &str,
    path: &str,
    token: Option<String>,
    body: String,
) -> Reply {
    app.call(method, path, token.as_deref(), body).await
}

async fn get(app: &TestApp, path: &str, key: &str) -> Reply {
    app.call("GET", path, Some(key), "").await
}

/// A merchant made through the API, as the operator would.
async fn create(app: &TestApp, id: &str) -> TestMerchant {
    let reply = app
        .post_json(
            MERCHANTS,
            OPERATOR,
            &json!({"id": id, "name": format!("{id} shop")}),
        )
        .await;
    assert_status(&reply, 201);
    TestMerchant {
        id: id.into(),
        api_key: reply.json["apiKey"].as_str().unwrap().into(),
        pos_token: reply.json["posToken"].as_str().unwrap().into(),
    }
}

fn seed_bill() -> Value {
    serde_json::from_slice(&data("bills/papaya-discount-request.json")).unwrap()
}

fn seed_transaction() -> Value {
    serde_json::from_slice(&data("bills/papaya-transaction.json")).unwrap()
}

async fn put_gold_card(app: &TestApp, shop: &TestMerchant) {
    let path = format!("{}/cards/memberCardId", base(shop));
    let reply = send(app, "PUT", &path, &shop.api_key, &json!({"tier": "gold"})).await;
    assert_status(&reply, 201);
}

async fn upload(app: &TestApp, shop: &TestMerchant, wasm: Vec<u8>) -> Reply {
    let path = format!("{}/policies", base(shop));
    app.call("POST", &path, Some(&shop.api_key), wasm).await
}

async fn activate(app: &TestApp, shop: &TestMerchant, version: i64) -> Reply {
    let path = format!("{}/policies/{version}/activate", base(shop));
    app.call("POST", &path, Some(&shop.api_key), "").await
}

/// The till's `totalDiscount` for the seed bill.
async fn till_discount(app: &TestApp, shop: &TestMerchant) -> String {
    let reply = app
        .post_json(DISCOUNTS, &shop.pos_token, &seed_bill())
        .await;
    assert_status(&reply, 200);
    num(&reply.json["totalDiscount"])
}

async fn audit_actions(app: &TestApp, shop: &TestMerchant) -> Vec<(String, String)> {
    let reply = get(
        app,
        &format!("{}/audit?limit=500", base(shop)),
        &shop.api_key,
    )
    .await;
    assert_status(&reply, 200);
    reply.json["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            let field = |k: &str| e[k].as_str().unwrap().to_owned();
            (field("action"), field("actor"))
        })
        .collect()
}

// ---------------------------------------------------------------------------------------
// Merchants

async fn merchants_are_created_by_the_operator(app: &TestApp) {
    let reply = app
        .post_json(
            MERCHANTS,
            OPERATOR,
            &json!({"id": "cafe-1", "name": "Café One"}),
        )
        .await;
    assert_status(&reply, 201);
    assert_eq!(reply.json["id"], "cafe-1");
    assert_eq!(reply.json["name"], "Café One");
    let api_key = reply.json["apiKey"].as_str().unwrap().to_owned();
    let pos_token = reply.json["posToken"].as_str().unwrap().to_owned();
    assert!(api_key.starts_with("rabat_ak_") && pos_token.starts_with("rabat_pt_"));

    // The key opens the merchant's routes, the token the till's.
    let me = get(app, &format!("{MERCHANTS}/cafe-1"), &api_key).await;
    assert_status(&me, 200);
    assert_eq!(me.json["name"], "Café One");
    assert_eq!(me.json["activeVersion"], Value::Null);
    let till = app.post_json(DISCOUNTS, &pos_token, &seed_bill()).await;
    assert_error(&till, 400, 3); // authenticated; the card is simply unknown

    // Only hashes are stored: the plaintexts appear nowhere in the merchant's data.
    let tokens = get(app, &format!("{MERCHANTS}/cafe-1/pos-tokens"), &api_key).await;
    assert!(!tokens.text.contains(&pos_token));
    assert_eq!(tokens.json["items"][0]["tokenId"], reply.json["posTokenId"]);

    let again = app
        .post_json(
            MERCHANTS,
            OPERATOR,
            &json!({"id": "cafe-1", "name": "Other"}),
        )
        .await;
    assert_names(&again, 409, 8, "cafe-1");
    // The conflict changed nothing: the first key still works.
    assert_status(
        &get(app, &format!("{MERCHANTS}/cafe-1"), &api_key).await,
        200,
    );

    let shop = TestMerchant {
        id: "cafe-1".into(),
        api_key,
        pos_token,
    };
    assert_eq!(
        audit_actions(app, &shop).await,
        vec![("merchant.create".into(), "operator".into())]
    );
}

async fn merchant_creation_rejects_bad_input(app: &TestApp) {
    let post = |body: &'static str| app.call("POST", MERCHANTS, Some(OPERATOR), body);
    assert_error(&post("{\"id\": \"a\",").await, 400, 6);
    assert_error(&post("").await, 400, 6);
    assert_names(&post("[1]").await, 400, 7, "object");
    assert_names(
        &post(r#"{"name": "No id"}"#).await,
        400,
        7,
        "id is required",
    );
    assert_names(&post(r#"{"id": "x"}"#).await, 400, 7, "name is required");
    assert_names(
        &post(r#"{"id": 5, "name": "n"}"#).await,
        400,
        7,
        "id must be a string",
    );
    assert_names(&post(r#"{"id": "", "name": "n"}"#).await, 400, 7, "id");
    assert_names(&post(r#"{"id": "a b", "name": "n"}"#).await, 400, 7, "id");
    assert_names(&post(r#"{"id": "a/b", "name": "n"}"#).await, 400, 7, "id");
    assert_names(&post(r#"{"id": "ok", "name": "  "}"#).await, 400, 7, "name");
    assert_names(
        &post(r#"{"id": "ok", "name": "n", "apiKey": "mine"}"#).await,
        400,
        7,
        "apiKey",
    );
    let long = json!({"id": "x".repeat(65), "name": "n"});
    assert_names(
        &app.post_json(MERCHANTS, OPERATOR, &long).await,
        400,
        7,
        "id",
    );
    // None of these created anything.
    let fine = json!({"id": "ok", "name": "n"});
    assert_status(&app.post_json(MERCHANTS, OPERATOR, &fine).await, 201);

    // Credentials: none or a wrong one is 401; a merchant's key is 403; a POS token 401.
    let shop = create(app, "keyholder").await;
    let body = json!({"id": "new", "name": "n"}).to_string();
    assert_error(
        &app.call("POST", MERCHANTS, None, body.clone()).await,
        401,
        4,
    );
    let garbage = app
        .call("POST", MERCHANTS, Some("nonsense"), body.clone())
        .await;
    assert_error(&garbage, 401, 4);
    let key = app
        .call("POST", MERCHANTS, Some(&shop.api_key), body.clone())
        .await;
    assert_error(&key, 403, 10);
    let pos = app
        .call("POST", MERCHANTS, Some(&shop.pos_token), body)
        .await;
    assert_error(&pos, 401, 4);
}

// ---------------------------------------------------------------------------------------
// POS tokens

async fn pos_tokens_are_issued_listed_and_revoked(app: &TestApp) {
    let shop = create(app, "tokens").await;
    let other = create(app, "tokens-other").await;
    let path = format!("{}/pos-tokens", base(&shop));
    let reply = app.call("POST", &path, Some(&shop.api_key), "").await;
    assert_status(&reply, 201);
    let token_id = reply.json["tokenId"].as_str().unwrap().to_owned();
    let second = reply.json["posToken"].as_str().unwrap().to_owned();
    assert_error(
        &app.post_json(DISCOUNTS, &second, &seed_bill()).await,
        400,
        3,
    );

    let list = get(app, &path, &shop.api_key).await;
    assert_status(&list, 200);
    let items = list.json["items"].as_array().unwrap();
    assert_eq!(items.len(), 2);
    assert!(items.iter().all(|t| t["revokedAt"].is_null()));
    assert!(!list.text.contains(&second) && !list.text.contains(&shop.pos_token));

    // Revoked: the till is refused at once; the first token still works.
    let revoke = format!("{path}/{token_id}");
    assert_status(
        &app.call("DELETE", &revoke, Some(&shop.api_key), "").await,
        204,
    );
    let refused = app.post_json(DISCOUNTS, &second, &seed_bill()).await;
    assert_error(&refused, 401, 4);
    let refused = app
        .post_json(TRANSACTIONS, &second, &seed_transaction())
        .await;
    assert_error(&refused, 401, 4);
    assert_error(
        &app.post_json(DISCOUNTS, &shop.pos_token, &seed_bill())
            .await,
        400,
        3,
    );
    let list = get(app, &path, &shop.api_key).await;
    let revoked: Vec<&Value> = list.json["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| !t["revokedAt"].is_null())
        .collect();
    assert_eq!(revoked.len(), 1);
    assert_eq!(revoked[0]["tokenId"], token_id.as_str());
    // Revoking again is harmless.
    assert_status(
        &app.call("DELETE", &revoke, Some(&shop.api_key), "").await,
        204,
    );

    // Unknown ids, and another merchant's token id, are not found; theirs keeps working.
    let unknown = app
        .call(
            "DELETE",
            &format!("{path}/pt_nope"),
            Some(&shop.api_key),
            "",
        )
        .await;
    assert_names(&unknown, 404, 9, "pt_nope");
    let theirs = get(app, &format!("{}/pos-tokens", base(&other)), &other.api_key).await;
    let their_id = theirs.json["items"][0]["tokenId"].as_str().unwrap();
    let reply = app
        .call(
            "DELETE",
            &format!("{path}/{their_id}"),
            Some(&shop.api_key),
            "",
        )
        .await;
    assert_error(&reply, 404, 9);
    assert_error(
        &app.post_json(DISCOUNTS, &other.pos_token, &seed_bill())
            .await,
        400,
        3,
    );

    let actions = audit_actions(app, &shop).await;
    let actor = "merchant:tokens".to_owned();
    assert_eq!(actions[0], ("pos_token.revoke".into(), actor.clone()));
    assert_eq!(actions[1], ("pos_token.create".into(), actor));
    assert_eq!(
        actions.len(),
        3,
        "a repeated revoke is not audited twice: {actions:?}"
    );
}

// ---------------------------------------------------------------------------------------
// Policies

async fn upload_activate_and_roll_back(app: &TestApp) {
    let shop = create(app, "roll").await;
    put_gold_card(app, &shop).await;
    let config = format!("{}/policy-config", base(&shop));
    let tiers = json!({"tiers": {"gold": 10, "silver": 5}});
    assert_status(&send(app, "PUT", &config, &shop.api_key, &tiers).await, 200);

    let tier = example("tier-discount");
    let reply = upload(app, &shop, tier.clone()).await;
    assert_status(&reply, 201);
    assert_eq!(reply.json["version"], 1);
    assert_eq!(reply.json["sizeBytes"], tier.len());
    assert_eq!(reply.json["active"], false);
    assert_eq!(reply.json["sha256"].as_str().unwrap().len(), 64);
    // Uploaded is not active: the till still gets no discount.
    assert_eq!(till_discount(app, &shop).await, "0.00");

    let reply = activate(app, &shop, 1).await;
    assert_status(&reply, 200);
    assert_eq!(reply.json["activeVersion"], 1);
    assert_eq!(till_discount(app, &shop).await, "5.00");

    // A config change takes effect at once (one config can serve both versions below).
    let both = json!({"tiers": {"gold": 20}, "category": "Hot Beverages", "percentage": 20});
    assert_status(&send(app, "PUT", &config, &shop.api_key, &both).await, 200);
    assert_eq!(till_discount(app, &shop).await, "10.00");

    // Version 2 (20% off the two espressos, 5.00): uploaded, then active, then rolled back.
    let reply = upload(app, &shop, example("category-discount")).await;
    assert_status(&reply, 201);
    assert_eq!(reply.json["version"], 2);
    assert_eq!(till_discount(app, &shop).await, "10.00");
    assert_status(&activate(app, &shop, 2).await, 200);
    assert_eq!(till_discount(app, &shop).await, "1.00");
    let list = get(app, &format!("{}/policies", base(&shop)), &shop.api_key).await;
    assert_eq!(list.json["activeVersion"], 2);
    let flags: Vec<(i64, bool)> = list.json["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["version"].as_i64().unwrap(),
                p["active"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(flags, vec![(2, true), (1, false)]);

    assert_status(&activate(app, &shop, 1).await, 200);
    assert_eq!(till_discount(app, &shop).await, "10.00");
    let me = get(app, &base(&shop), &shop.api_key).await;
    assert_eq!(me.json["activeVersion"], 1);
}

async fn hostile_uploads_are_rejected_with_the_reason(app: &TestApp) {
    let shop = create(app, "hostile").await;
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "text",
            b"just some text, not wasm".to_vec(),
            "not WebAssembly",
        ),
        ("empty", Vec::new(), "not WebAssembly"),
        (
            "core module",
            core_module("panic"),
            "core WebAssembly module",
        ),
        ("other world", fixture("other-world"), "not a rabat policy"),
        ("wasi-fs", fixture("wasi-fs"), "wasi:filesystem"),
        ("wasi-net", fixture("wasi-net"), "wasi:sockets"),
    ];
    for (name, wasm, reason) in cases {
        let reply = upload(app, &shop, wasm).await;
        assert_eq!(reply.status.as_u16(), 422, "{name}: {}", reply.text);
        assert_names(&reply, 422, 11, reason);
    }
    // One byte over the module limit is 413 (id 5).
    let limit = app.state.settings().max_module_bytes;
    let mut big = example("tier-discount");
    big.resize(limit + 1, 0);
    assert_names(&upload(app, &shop, big).await, 413, 5, &limit.to_string());

    // Nothing was stored, and a real policy is still accepted.
    let list = get(app, &format!("{}/policies", base(&shop)), &shop.api_key).await;
    assert_eq!(list.json["items"], json!([]));
    let reply = upload(app, &shop, example("tier-discount")).await;
    assert_status(&reply, 201);
    assert_eq!(reply.json["version"], 1);
    assert_eq!(reply.json["usesWasi"], false);
    // The harmless part of WASI (stdio, captured into the policy log) is allowed.
    let reply = upload(app, &shop, fixture("wasi-stdio")).await;
    assert_status(&reply, 201);
    assert_eq!(reply.json["usesWasi"], true);
}

async fn policy_versions_errors(app: &TestApp) {
    let shop = create(app, "versions").await;
    assert_status(&upload(app, &shop, example("tier-discount")).await, 201);
    assert_names(&activate(app, &shop, 2).await, 404, 9, "2");
    for bad in ["abc", "0", "-1", "1.5"] {
        let path = format!("{}/policies/{bad}/activate", base(&shop));
        let reply = app.call("POST", &path, Some(&shop.api_key), "").await;
        assert_names(&reply, 400, 7, "version");
    }
    // The failed activations changed nothing.
    let list = get(app, &format!("{}/policies", base(&shop)), &shop.api_key).await;
    assert_eq!(list.json["activeVersion"], Value::Null);
    assert_eq!(list.json["items"][0]["active"], false);
    // A note may label an upload.
    let path = format!("{}/policies?note=spring%20promo", base(&shop));
    let reply = app
        .call("POST", &path, Some(&shop.api_key), example("tier-discount"))
        .await;
    assert_status(&reply, 201);
    assert_eq!(reply.json["note"], "spring promo");
    let path = format!("{}/policies?nope=1", base(&shop));
    let reply = app
        .call("POST", &path, Some(&shop.api_key), example("tier-discount"))
        .await;
    assert_names(&reply, 400, 7, "nope");
}

async fn policy_config_round_trip(app: &TestApp) {
    let shop = create(app, "config").await;
    let path = format!("{}/policy-config", base(&shop));
    let reply = get(app, &path, &shop.api_key).await;
    assert_status(&reply, 200);
    assert_eq!(reply.json, json!({}));

    let config = json!({"tiers": {"gold": 10, "silver": 5}, "note": "spring"});
    let reply = send(app, "PUT", &path, &shop.api_key, &config).await;
    assert_status(&reply, 200);
    assert_eq!(reply.json, config);
    assert_eq!(get(app, &path, &shop.api_key).await.json, config);

    let put = |body: String| app.call("PUT", &path, Some(&shop.api_key), body);
    assert_names(&put("[1, 2]".into()).await, 400, 7, "object");
    assert_names(&put("\"gold\"".into()).await, 400, 7, "object");
    assert_error(&put("{\"tiers\":".into()).await, 400, 6);
    let big = json!({"x": "a".repeat(64 << 10)}).to_string();
    assert_names(&put(big).await, 413, 5, "65536");
    // Refused configs left the stored one alone.
    assert_eq!(get(app, &path, &shop.api_key).await.json, config);
    let actions = audit_actions(app, &shop).await;
    assert_eq!(actions[0].0, "policy.config");
}

// ---------------------------------------------------------------------------------------
// Cards and points

async fn cards_are_managed_through_the_ledger(app: &TestApp) {
    let shop = create(app, "cards").await;
    let path = format!("{}/cards/memberCardId", base(&shop));
    let card = json!({"customerId": "cust-1", "name": "Jana", "tier": "gold",
                      "tags": ["newsletter"], "points": 10});
    let reply = send(app, "PUT", &path, &shop.api_key, &card).await;
    assert_status(&reply, 201);
    assert_eq!(reply.json["cardId"], "memberCardId");
    assert_eq!(reply.json["tier"], "gold");
    assert_eq!(reply.json["points"], 10);
    assert_eq!(reply.json["visits"], 0);

    // An update is 200; left-out points keep the balance, left-out identity is cleared.
    let reply = send(app, "PUT", &path, &shop.api_key, &json!({"tier": "silver"})).await;
    assert_status(&reply, 200);
    assert_eq!(reply.json["tier"], "silver");
    assert_eq!(reply.json["points"], 10);
    assert_eq!(reply.json["name"], Value::Null);
    assert_eq!(reply.json["tags"], json!([]));

    // A balance set by PUT is a ledger adjustment, like every points change.
    let body = json!({"tier": "silver", "points": 25, "cardId": "memberCardId"});
    let reply = send(app, "PUT", &path, &shop.api_key, &body).await;
    assert_status(&reply, 200);
    assert_eq!(reply.json["points"], 25);
    let ledger = get(app, &format!("{}/transactions", base(&shop)), &shop.api_key).await;
    let rows = ledger.json["items"].as_array().unwrap();
    assert_eq!(rows.len(), 2, "{}", ledger.text);
    assert_eq!(rows[0]["kind"], "adjustment");
    assert_eq!(rows[0]["points"], 15);
    assert_eq!(rows[0]["pointsBalance"], 25);
    assert_eq!(rows[1]["points"], 10);

    // Visits and spend move only with the ledger: a till transaction.
    let reply = app
        .post_json(TRANSACTIONS, &shop.pos_token, &seed_transaction())
        .await;
    assert_status(&reply, 200);
    let reply = get(app, &path, &shop.api_key).await;
    assert_status(&reply, 200);
    assert_eq!(reply.json["visits"], 1);
    assert_eq!(amount(&reply.json["totalSpent"]), "25.50");
    assert!(reply.json["lastVisit"].is_i64());

    // Listing pages by card id.
    for id in ["a-card", "b-card"] {
        let card_path = format!("{}/cards/{id}", base(&shop));
        assert_status(
            &send(app, "PUT", &card_path, &shop.api_key, &json!({})).await,
            201,
        );
    }
    let list = format!("{}/cards?limit=2", base(&shop));
    let first = get(app, &list, &shop.api_key).await;
    assert_status(&first, 200);
    let ids = |r: &Reply| -> Vec<String> {
        r.json["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["cardId"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(ids(&first), vec!["a-card", "b-card"]);
    let cursor = first.json["nextCursor"].as_str().unwrap();
    let second = get(app, &format!("{list}&cursor={cursor}"), &shop.api_key).await;
    assert_eq!(ids(&second), vec!["memberCardId"]);
    assert_eq!(second.json["nextCursor"], Value::Null);

    // Deleting: 204, then gone; the ledger keeps its history.
    assert_status(
        &app.call("DELETE", &path, Some(&shop.api_key), "").await,
        204,
    );
    assert_names(
        &get(app, &path, &shop.api_key).await,
        404,
        9,
        "memberCardId",
    );
    let again = app.call("DELETE", &path, Some(&shop.api_key), "").await;
    assert_error(&again, 404, 9);
    let ledger = get(app, &format!("{}/transactions", base(&shop)), &shop.api_key).await;
    assert_eq!(ledger.json["items"].as_array().unwrap().len(), 3);

    let actions: Vec<String> = audit_actions(app, &shop)
        .await
        .into_iter()
        .map(|a| a.0)
        .collect();
    assert_eq!(
        actions[..6],
        [
            "card.delete",
            "card.create",
            "card.create",
            "card.update",
            "card.update",
            "card.create"
        ]
    );
}

async fn card_input_errors(app: &TestApp) {
    let shop = create(app, "cardbad").await;
    let path = format!("{}/cards/c1", base(&shop));
    let put = |body: &'static str| app.call("PUT", &path, Some(&shop.api_key), body);
    assert_error(&put("{").await, 400, 6);
    assert_names(&put("[]").await, 400, 7, "object");
    assert_names(&put(r#"{"visits": 3}"#).await, 400, 7, "visits");
    assert_names(&put(r#"{"totalSpent": 3}"#).await, 400, 7, "totalSpent");
    assert_names(&put(r#"{"teir": "gold"}"#).await, 400, 7, "teir");
    assert_names(
        &put(r#"{"tier": 5}"#).await,
        400,
        7,
        "tier must be a string",
    );
    assert_names(&put(r#"{"tags": "vip"}"#).await, 400, 7, "tags");
    assert_names(&put(r#"{"tags": ["ok", 1]}"#).await, 400, 7, "tags[1]");
    assert_names(&put(r#"{"points": -1}"#).await, 400, 7, "points");
    assert_names(&put(r#"{"points": 1.5}"#).await, 400, 7, "points");
    assert_names(&put(r#"{"points": "7"}"#).await, 400, 7, "points");
    assert_names(&put(r#"{"cardId": "c2"}"#).await, 400, 7, "cardId");
    assert_names(&put(r#"{"name": ""}"#).await, 400, 7, "name");
    // None of that created the card.
    assert_error(&get(app, &path, &shop.api_key).await, 404, 9);
    // A card id with characters a URL must escape is still one card id.
    let odd = format!("{}/cards/card%20%C3%A9", base(&shop));
    let reply = send(app, "PUT", &odd, &shop.api_key, &json!({})).await;
    assert_status(&reply, 201);
    assert_eq!(reply.json["cardId"], "card é");
    let long = format!("{}/cards/{}", base(&shop), "x".repeat(129));
    assert_names(&get(app, &long, &shop.api_key).await, 400, 7, "cardId");
    for query in ["limit=0", "limit=abc", "limit=501", "limit=-1"] {
        let list = format!("{}/cards?{query}", base(&shop));
        assert_names(&get(app, &list, &shop.api_key).await, 400, 7, "limit");
    }
    let list = format!("{}/cards?cursor=zz", base(&shop));
    assert_names(&get(app, &list, &shop.api_key).await, 400, 7, "cursor");
    let list = format!("{}/cards?limit=1&limit=2", base(&shop));
    assert_names(&get(app, &list, &shop.api_key).await, 400, 7, "limit");
}

async fn points_adjustments(app: &TestApp) {
    let shop = create(app, "points").await;
    let card = format!("{}/cards/memberCardId", base(&shop));
    assert_status(
        &send(app, "PUT", &card, &shop.api_key, &json!({"points": 3})).await,
        201,
    );
    let path = format!("{card}/points");
    let body = json!({"delta": 7, "reason": "goodwill after a cold coffee"});
    let reply = send(app, "POST", &path, &shop.api_key, &body).await;
    assert_status(&reply, 201);
    assert_eq!(reply.json["kind"], "adjustment");
    assert_eq!(reply.json["points"], 7);
    assert_eq!(reply.json["pointsBalance"], 10);
    assert_eq!(reply.json["reason"], "goodwill after a cold coffee");
    let reply = send(
        app,
        "POST",
        &path,
        &shop.api_key,
        &json!({"delta": -4, "reason": "fix"}),
    )
    .await;
    assert_eq!(reply.json["pointsBalance"], 6);
    assert_eq!(get(app, &card, &shop.api_key).await.json["points"], 6);

    let post = |body: Value| app.call("POST", &path, Some(&shop.api_key), body.to_string());
    assert_names(
        &post(json!({"delta": 5})).await,
        400,
        7,
        "reason is required",
    );
    assert_names(
        &post(json!({"reason": "x"})).await,
        400,
        7,
        "delta is required",
    );
    assert_names(
        &post(json!({"delta": 0, "reason": "x"})).await,
        400,
        7,
        "delta",
    );
    assert_names(
        &post(json!({"delta": "5", "reason": "x"})).await,
        400,
        7,
        "delta",
    );
    assert_names(
        &post(json!({"delta": 5, "reason": ""})).await,
        400,
        7,
        "reason",
    );
    assert_names(
        &post(json!({"delta": 5, "reason": "x", "at": 1})).await,
        400,
        7,
        "at",
    );
    // An adjustment beyond ±10¹² is refused by name (the OpenAPI document's bound), so
    // no balance can overflow.
    let huge = json!({"delta": i64::MAX, "reason": "overflow"});
    assert_names(&post(huge).await, 400, 7, "delta must be between");
    let ghost = format!("{}/cards/ghost/points", base(&shop));
    let reply = send(
        app,
        "POST",
        &ghost,
        &shop.api_key,
        &json!({"delta": 1, "reason": "x"}),
    )
    .await;
    assert_names(&reply, 404, 9, "ghost");
    // Only the two good adjustments changed the balance.
    assert_eq!(get(app, &card, &shop.api_key).await.json["points"], 6);
    let actions = audit_actions(app, &shop).await;
    assert_eq!(actions[0].0, "card.points");
    assert_eq!(actions[1].0, "card.points");
}

// ---------------------------------------------------------------------------------------
// History

async fn transactions_are_listed_newest_first(app: &TestApp) {
    let shop = create(app, "ledger").await;
    put_gold_card(app, &shop).await;
    let other_card = format!("{}/cards/other", base(&shop));
    assert_status(
        &send(app, "PUT", &other_card, &shop.api_key, &json!({})).await,
        201,
    );
    for order in ["o-1", "o-2", "o-3"] {
        let mut bill = seed_transaction();
        bill["orderId"] = json!(order);
        if order == "o-2" {
            bill["cardId"] = json!("other");
        }
        assert_status(
            &app.post_json(TRANSACTIONS, &shop.pos_token, &bill).await,
            200,
        );
    }
    let path = format!("{}/transactions", base(&shop));
    let orders = |r: &Reply| -> Vec<String> {
        r.json["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["orderId"].as_str().unwrap().to_owned())
            .collect()
    };
    let all = get(app, &path, &shop.api_key).await;
    assert_status(&all, 200);
    assert_eq!(orders(&all), vec!["o-3", "o-2", "o-1"]);
    assert_eq!(amount(&all.json["items"][0]["total"]), "25.50");
    assert_eq!(all.json["nextCursor"], Value::Null);

    let mine = get(
        app,
        &format!("{path}?cardId=memberCardId&limit=1"),
        &shop.api_key,
    )
    .await;
    assert_eq!(orders(&mine), vec!["o-3"]);
    let cursor = mine.json["nextCursor"].as_str().unwrap();
    let next = format!("{path}?cardId=memberCardId&limit=1&cursor={cursor}");
    let rest = get(app, &next, &shop.api_key).await;
    assert_eq!(orders(&rest), vec!["o-1"]);
    assert_eq!(rest.json["nextCursor"], Value::Null);
    let none = get(app, &format!("{path}?cardId=nobody"), &shop.api_key).await;
    assert_eq!(none.json["items"], json!([]));

    for query in ["limit=0", "limit=x", "limit=100000"] {
        let reply = get(app, &format!("{path}?{query}"), &shop.api_key).await;
        assert_names(&reply, 400, 7, "limit");
    }
    for cursor in ["zz", "abc", "6869"] {
        let reply = get(app, &format!("{path}?cursor={cursor}"), &shop.api_key).await;
        assert_names(&reply, 400, 7, "cursor");
    }
    let reply = get(app, &format!("{path}?card=memberCardId"), &shop.api_key).await;
    assert_names(&reply, 400, 7, "card");
}

async fn evaluations_are_listed_and_filtered(app: &TestApp) {
    let shop = create(app, "evals").await;
    put_gold_card(app, &shop).await;
    // No policy yet: one `no_policy` run; then two `answer` runs.
    till_discount(app, &shop).await;
    let config = format!("{}/policy-config", base(&shop));
    let tiers = json!({"tiers": {"gold": 10}});
    assert_status(&send(app, "PUT", &config, &shop.api_key, &tiers).await, 200);
    assert_status(&upload(app, &shop, example("tier-discount")).await, 201);
    assert_status(&activate(app, &shop, 1).await, 200);
    assert_eq!(till_discount(app, &shop).await, "5.00");
    assert_eq!(till_discount(app, &shop).await, "5.00");
    app.flush_evaluations().await;

    let path = format!("{}/evaluations", base(&shop));
    let all = get(app, &path, &shop.api_key).await;
    assert_status(&all, 200);
    let items = all.json["items"].as_array().unwrap();
    assert_eq!(items.len(), 3, "{}", all.text);
    assert_eq!(items[0]["outcome"], "answer");
    assert_eq!(items[0]["policyVersion"], 1);
    assert_eq!(amount(&items[0]["totalDiscount"]), "5.00");
    assert_eq!(items[2]["outcome"], "no_policy");

    let answers = get(
        app,
        &format!("{path}?outcome=answer&limit=1"),
        &shop.api_key,
    )
    .await;
    assert_eq!(answers.json["items"].as_array().unwrap().len(), 1);
    let cursor = answers.json["nextCursor"].as_str().unwrap();
    let next = format!("{path}?outcome=answer&limit=1&cursor={cursor}");
    let rest = get(app, &next, &shop.api_key).await;
    assert_eq!(rest.json["items"].as_array().unwrap().len(), 1);
    assert_eq!(rest.json["items"][0]["outcome"], "answer");
    assert_eq!(rest.json["nextCursor"], Value::Null);
    let traps = get(app, &format!("{path}?outcome=trap"), &shop.api_key).await;
    assert_eq!(traps.json["items"], json!([]));

    let reply = get(app, &format!("{path}?outcome=exploded"), &shop.api_key).await;
    assert_names(&reply, 400, 7, "outcome");
    let reply = get(app, &format!("{path}?limit=0"), &shop.api_key).await;
    assert_names(&reply, 400, 7, "limit");
    let reply = get(app, &format!("{path}?cursor=q"), &shop.api_key).await;
    assert_names(&reply, 400, 7, "cursor");

    // One run by its id: the same object the list shows.
    let id = items[0]["id"].as_i64().unwrap();
    let one = get(app, &format!("{path}/{id}"), &shop.api_key).await;
    assert_status(&one, 200);
    assert_eq!(one.json, items[0]);
    assert_eq!(one.json["request"]["orderId"], items[0]["orderId"]);
    // Not in the log: 404, id 9, naming it; not a run id: 400, id 7.
    let missing = get(app, &format!("{path}/{}", id + 1000), &shop.api_key).await;
    assert_names(
        &missing,
        404,
        9,
        &format!("evaluation '{}' not found", id + 1000),
    );
    for bad in ["abc", "0", "-3", "99999999999999999999"] {
        let reply = get(app, &format!("{path}/{bad}"), &shop.api_key).await;
        assert_names(&reply, 400, 7, "evaluation id");
    }
    // Another merchant's run is not found for this one.
    let other = create(app, "evals-other").await;
    let theirs = get(
        app,
        &format!("{}/evaluations/{id}", base(&other)),
        &other.api_key,
    )
    .await;
    assert_names(&theirs, 404, 9, &format!("evaluation '{id}'"));
}

async fn evaluation_retention_is_the_merchants_within_the_operators_maximum(app: &TestApp) {
    let shop = create(app, "keeps").await;
    let path = format!("{}/evaluation-retention", base(&shop));
    let defaults = get(app, &path, &shop.api_key).await;
    assert_status(&defaults, 200);
    assert_eq!(
        defaults.json,
        json!({"days": null, "effectiveDays": 35, "defaultDays": 35, "maxDays": 90,
               "maxRows": 200000})
    );
    let set = send(app, "PUT", &path, &shop.api_key, &json!({"days": 7})).await;
    assert_status(&set, 200);
    assert_eq!(set.json["days"], 7);
    assert_eq!(set.json["effectiveDays"], 7);
    assert_eq!(get(app, &path, &shop.api_key).await.json["days"], 7);
    for (body, word) in [
        (json!({"days": 91}), "from 1 to 90"),
        (json!({"days": 0}), "from 1 to 90"),
        (json!({"days": 2.5}), "days"),
        (json!({"days": "7"}), "days"),
        (json!({}), "days is required"),
        (json!({"days": 7, "weeks": 1}), "weeks"),
    ] {
        let reply = send(app, "PUT", &path, &shop.api_key, &body).await;
        assert_names(&reply, 400, 7, word);
    }
    assert_eq!(get(app, &path, &shop.api_key).await.json["days"], 7);
    let back = send(app, "PUT", &path, &shop.api_key, &json!({"days": null})).await;
    assert_status(&back, 200);
    assert_eq!(back.json["effectiveDays"], 35);
    // Audited.
    let audit = get(app, &format!("{}/audit", base(&shop)), &shop.api_key).await;
    let actions: Vec<&str> = audit.json["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["action"].as_str())
        .collect();
    assert_eq!(
        actions
            .iter()
            .filter(|a| **a == "evaluation_retention.set")
            .count(),
        2,
        "{actions:?}"
    );
}

// ---------------------------------------------------------------------------------------
// Dry-run

async fn dry_run_records_nothing(app: &TestApp) {
    let shop = create(app, "dry").await;
    let config = format!("{}/policy-config", base(&shop));
    let tiers = json!({"tiers": {"gold": 10, "silver": 5}});
    assert_status(&send(app, "PUT", &config, &shop.api_key, &tiers).await, 200);
    assert_status(&upload(app, &shop, example("tier-discount")).await, 201);
    assert_status(&upload(app, &shop, fixture("panic")).await, 201);
    let card_path = format!("{}/cards/memberCardId", base(&shop));
    let silver = json!({"tier": "silver", "points": 4});
    assert_status(
        &send(app, "PUT", &card_path, &shop.api_key, &silver).await,
        201,
    );
    let card_before = get(app, &card_path, &shop.api_key).await.json;
    let audit_before = audit_actions(app, &shop).await;
    let path = format!("{}/policies/1/dry-run", base(&shop));

    // An inline card that does not exist, on the inactive version 1.
    let body = json!({"order": seed_bill(), "card": {"tier": "gold", "visits": 3}});
    let reply = send(app, "POST", &path, &shop.api_key, &body).await;
    assert_status(&reply, 200);
    assert_eq!(reply.json["outcome"], "answer");
    assert_eq!(reply.json["failure"], Value::Null);
    assert_eq!(num(&reply.json["response"]["totalDiscount"]), "5.00");
    assert_eq!(
        reply.json["response"]["discounts"][0]["type"],
        "percentage_on_bill"
    );
    assert!(reply.json["fuelUsed"].as_u64().unwrap() > 0);
    assert!(reply.json["peakMemoryBytes"].as_u64().unwrap() > 0);
    assert!(reply.json["durationMicros"].is_u64());
    assert!(reply.json["logs"].is_array());
    assert_eq!(reply.json["cardSource"], "inline");
    assert_eq!(reply.json["card"]["cardId"], "memberCardId");
    assert_eq!(reply.json["card"]["visits"], 3);

    // No card: the stored one (silver) is used.
    let reply = send(
        app,
        "POST",
        &path,
        &shop.api_key,
        &json!({"order": seed_bill()}),
    )
    .await;
    assert_eq!(reply.json["cardSource"], "stored");
    assert_eq!(num(&reply.json["response"]["totalDiscount"]), "2.50");

    // An unknown card: a card with nothing on it, and the answer says so.
    let mut bill = seed_bill();
    bill["cardId"] = json!("stranger");
    let reply = send(app, "POST", &path, &shop.api_key, &json!({"order": bill})).await;
    assert_status(&reply, 200);
    assert_eq!(reply.json["cardSource"], "unknown");
    assert!(reply.json["note"].as_str().unwrap().contains("stranger"));
    assert_eq!(num(&reply.json["response"]["totalDiscount"]), "0.00");

    // A config for this run only.
    let body = json!({"order": seed_bill(), "config": {"tiers": {"silver": 50}}});
    let reply = send(app, "POST", &path, &shop.api_key, &body).await;
    assert_eq!(reply.json["configSource"], "request");
    assert_eq!(num(&reply.json["response"]["totalDiscount"]), "25.00");

    // A policy failure is reported, not hidden.
    let body = json!({"order": seed_bill(), "config": {"tiers": "not a table"}});
    let reply = send(app, "POST", &path, &shop.api_key, &body).await;
    assert_status(&reply, 200);
    assert_eq!(reply.json["outcome"], "policy_error");
    assert!(
        reply.json["failure"]
            .as_str()
            .is_some_and(|f| !f.is_empty())
    );
    assert_eq!(num(&reply.json["response"]["totalDiscount"]), "0.00");
    // A hostile version is tried safely too: the trap is reported, with the fail-safe answer.
    let hostile = format!("{}/policies/2/dry-run", base(&shop));
    let reply = send(
        app,
        "POST",
        &hostile,
        &shop.api_key,
        &json!({"order": seed_bill()}),
    )
    .await;
    assert_status(&reply, 200);
    assert_eq!(reply.json["outcome"], "trap", "{}", reply.text);
    assert_eq!(reply.json["version"], 2);
    assert_eq!(reply.json["response"]["discounts"], json!([]));

    // Nothing was recorded anywhere, and nothing was activated.
    app.flush_evaluations().await;
    let evaluations = get(app, &format!("{}/evaluations", base(&shop)), &shop.api_key).await;
    assert_eq!(evaluations.json["items"], json!([]));
    assert_eq!(get(app, &card_path, &shop.api_key).await.json, card_before);
    let ledger = get(app, &format!("{}/transactions", base(&shop)), &shop.api_key).await;
    assert_eq!(ledger.json["items"].as_array().unwrap().len(), 1); // the PUT's balance
    assert_eq!(audit_actions(app, &shop).await, audit_before);
    assert_eq!(get(app, &config, &shop.api_key).await.json, tiers);
    assert_eq!(till_discount(app, &shop).await, "0.00");
}

async fn dry_run_input_errors(app: &TestApp) {
    let shop = create(app, "drybad").await;
    assert_status(&upload(app, &shop, example("tier-discount")).await, 201);
    let path = format!("{}/policies/1/dry-run", base(&shop));
    let post = |body: Value| app.call("POST", &path, Some(&shop.api_key), body.to_string());
    assert_names(&post(json!({})).await, 400, 7, "order is required");
    assert_names(
        &post(json!({"order": "bill"})).await,
        400,
        7,
        "order must be",
    );
    let mut bill = seed_bill();
    bill.as_object_mut().unwrap().remove("total");
    assert_names(&post(json!({"order": bill})).await, 400, 2, "order.total");
    let mut bill = seed_bill();
    bill["total"] = json!(-1);
    assert_names(&post(json!({"order": bill})).await, 400, 7, "order.total");
    let mut bill = seed_bill();
    bill["orderItems"][1]["quantity"] = json!("two");
    assert_names(
        &post(json!({"order": bill})).await,
        400,
        7,
        "order.orderItems[1].quantity",
    );
    let body = json!({"order": seed_bill(), "config": [1]});
    assert_names(&post(body).await, 400, 7, "config");
    let body = json!({"order": seed_bill(), "card": "gold"});
    assert_names(&post(body).await, 400, 7, "card");
    let body = json!({"order": seed_bill(), "card": {"tier": 1}});
    assert_names(&post(body).await, 400, 7, "card.tier");
    let body = json!({"order": seed_bill(), "card": {"visits": -1}});
    assert_names(&post(body).await, 400, 7, "card.visits");
    // Negative however small (Schemathesis found -1.5e-86 accepted: it rounds to 0).
    for spent in ["-1.556812865354668e-86", "-0.001"] {
        let body = format!(
            r#"{{"order": {}, "card": {{"totalSpent": {spent}}}}}"#,
            seed_bill()
        );
        let reply = app.call("POST", &path, Some(&shop.api_key), body).await;
        assert_names(&reply, 400, 7, "card.totalSpent must not be negative");
    }
    let body = format!(
        r#"{{"order": {}, "card": {{"totalSpent": -0}}}}"#,
        seed_bill()
    );
    assert_eq!(
        app.call("POST", &path, Some(&shop.api_key), body)
            .await
            .status,
        200
    );
    let body = json!({"order": seed_bill(), "cards": {}});
    assert_names(&post(body).await, 400, 7, "cards");
    let malformed = app
        .call("POST", &path, Some(&shop.api_key), "{\"order\":")
        .await;
    assert_error(&malformed, 400, 6);
    let unknown = format!("{}/policies/9/dry-run", base(&shop));
    let reply = send(
        app,
        "POST",
        &unknown,
        &shop.api_key,
        &json!({"order": seed_bill()}),
    )
    .await;
    assert_names(&reply, 404, 9, "9");
}

// ---------------------------------------------------------------------------------------
// Auth and isolation

/// Every merchant route, with a body that would be accepted.
fn merchant_routes(m: &str) -> Vec<(&'static str, String, Value)> {
    let b = format!("{MERCHANTS}/{m}");
    let none = Value::Null;
    vec![
        ("GET", b.clone(), none.clone()),
        ("POST", format!("{b}/pos-tokens"), none.clone()),
        ("GET", format!("{b}/pos-tokens"), none.clone()),
        ("DELETE", format!("{b}/pos-tokens/pt_x"), none.clone()),
        ("POST", format!("{b}/policies"), none.clone()),
        ("GET", format!("{b}/policies"), none.clone()),
        ("POST", format!("{b}/policies/1/activate"), none.clone()),
        (
            "POST",
            format!("{b}/policies/1/dry-run"),
            json!({"order": seed_bill()}),
        ),
        ("PUT", format!("{b}/policy-config"), json!({})),
        ("GET", format!("{b}/policy-config"), none.clone()),
        ("GET", format!("{b}/cards"), none.clone()),
        (
            "PUT",
            format!("{b}/cards/memberCardId"),
            json!({"tier": "gold"}),
        ),
        ("GET", format!("{b}/cards/memberCardId"), none.clone()),
        ("DELETE", format!("{b}/cards/memberCardId"), none.clone()),
        (
            "POST",
            format!("{b}/cards/memberCardId/points"),
            json!({"delta": 1, "reason": "x"}),
        ),
        ("GET", format!("{b}/transactions"), none.clone()),
        ("GET", format!("{b}/evaluations"), none.clone()),
        ("GET", format!("{b}/evaluations/1"), none.clone()),
        ("GET", format!("{b}/evaluation-retention"), none.clone()),
        (
            "PUT",
            format!("{b}/evaluation-retention"),
            json!({"days": 3}),
        ),
        ("GET", format!("{b}/audit"), none),
    ]
}

async fn auth_matrix(app: &TestApp) {
    let a = create(app, "shop-a").await;
    let b = create(app, "shop-b").await;
    for m in ["shop-a", "ghost"] {
        for (method, path, body) in merchant_routes(m) {
            let body = if body.is_null() {
                String::new()
            } else {
                body.to_string()
            };
            let call = |token: Option<String>| app_call(app, method, &path, token, body.clone());
            let what = format!("{method} {path}");
            let reply = call(None).await;
            assert_eq!(reply.status, 401, "{what} without a token: {}", reply.text);
            assert_error(&reply, 401, 4);
            for (name, token, status, id) in [
                ("garbage", "garbage", 401, 4),
                ("A's POS token", a.pos_token.as_str(), 401, 4),
                ("B's API key", b.api_key.as_str(), 403, 10),
                ("the operator token", OPERATOR, 403, 10),
            ] {
                let reply = call(Some(token.to_owned())).await;
                assert_eq!(reply.status, status, "{what} with {name}: {}", reply.text);
                assert_error(&reply, status, id);
            }
            if m == "shop-a" {
                let reply = call(Some(a.api_key.clone())).await;
                assert!(
                    ![401, 403].contains(&reply.status.as_u16()),
                    "{what} with A's key: {}",
                    reply.text
                );
            } else {
                // A key never learns whether another merchant id exists.
                let reply = call(Some(a.api_key.clone())).await;
                assert_error(&reply, 403, 10);
            }
        }
    }
    // An Authorization header that is not a bearer token.
    let path = format!("{MERCHANTS}/shop-a/cards");
    assert_eq!(basic_auth_status(app, &path).await, 401);
}

/// The status of a GET sent with Basic credentials instead of a bearer token.
async fn basic_auth_status(app: &TestApp, path: &str) -> u16 {
    use tower::ServiceExt;
    let request = axum::http::Request::builder()
        .uri(path)
        .header("authorization", "Basic c2hvcC1hOng=")
        .body(axum::body::Body::empty())
        .unwrap();
    let response = app.router.clone().oneshot(request).await.unwrap();
    response.status().as_u16()
}

async fn merchants_never_see_each_other(app: &TestApp) {
    let a = create(app, "alpha").await;
    let b = create(app, "beta").await;
    put_gold_card(app, &a).await;
    let config = json!({"tiers": {"gold": 10}});
    assert_status(
        &send(
            app,
            "PUT",
            &format!("{}/policy-config", base(&a)),
            &a.api_key,
            &config,
        )
        .await,
        200,
    );
    assert_status(&upload(app, &a, example("tier-discount")).await, 201);
    assert_status(&activate(app, &a, 1).await, 200);
    assert_eq!(till_discount(app, &a).await, "5.00");
    assert_status(
        &app.post_json(TRANSACTIONS, &a.pos_token, &seed_transaction())
            .await,
        200,
    );
    app.flush_evaluations().await;

    // B sees none of it under its own id.
    for (rest, empty) in [
        ("/cards", json!([])),
        ("/transactions", json!([])),
        ("/evaluations", json!([])),
        ("/policies", json!([])),
    ] {
        let reply = get(app, &format!("{}{rest}", base(&b)), &b.api_key).await;
        assert_status(&reply, 200);
        assert_eq!(reply.json["items"], empty, "{rest}: {}", reply.text);
    }
    assert_eq!(
        get(app, &format!("{}/policy-config", base(&b)), &b.api_key)
            .await
            .json,
        json!({})
    );
    let card = get(app, &format!("{}/cards/memberCardId", base(&b)), &b.api_key).await;
    assert_error(&card, 404, 9);
    // A's version number means nothing under B.
    assert_error(&activate(app, &b, 1).await, 404, 9);
    let dry = format!("{}/policies/1/dry-run", base(&b));
    assert_error(
        &send(
            app,
            "POST",
            &dry,
            &b.api_key,
            &json!({"order": seed_bill()}),
        )
        .await,
        404,
        9,
    );
    // B's till cannot use A's card, and B's audit shows only B's creation.
    assert_error(
        &app.post_json(DISCOUNTS, &b.pos_token, &seed_bill()).await,
        400,
        3,
    );
    assert_eq!(audit_actions(app, &b).await.len(), 1);
}

async fn audit_trail_names_every_change(app: &TestApp) {
    let shop = create(app, "audited").await;
    let key = &shop.api_key;
    let b = base(&shop);
    assert_status(
        &app.call("POST", &format!("{b}/pos-tokens"), Some(key), "")
            .await,
        201,
    );
    assert_status(&upload(app, &shop, example("tier-discount")).await, 201);
    assert_status(&activate(app, &shop, 1).await, 200);
    assert_status(
        &send(
            app,
            "PUT",
            &format!("{b}/policy-config"),
            key,
            &json!({"a": 1}),
        )
        .await,
        200,
    );
    assert_status(
        &send(app, "PUT", &format!("{b}/cards/c"), key, &json!({})).await,
        201,
    );
    let points = json!({"delta": 2, "reason": "r"});
    assert_status(
        &send(app, "POST", &format!("{b}/cards/c/points"), key, &points).await,
        201,
    );
    assert_status(
        &app.call("DELETE", &format!("{b}/cards/c"), Some(key), "")
            .await,
        204,
    );
    // Reads and refused changes are not audited.
    get(app, &format!("{b}/cards"), key).await;
    activate(app, &shop, 7).await;

    let me = "merchant:audited".to_owned();
    let expected: Vec<(String, String)> = [
        "card.delete",
        "card.points",
        "card.create",
        "policy.config",
        "policy.activate",
        "policy.upload",
        "pos_token.create",
    ]
    .into_iter()
    .map(|a| (a.to_owned(), me.clone()))
    .chain([("merchant.create".to_owned(), "operator".to_owned())])
    .collect();
    assert_eq!(audit_actions(app, &shop).await, expected);

    // Details say what changed; pages follow the cursor.
    let page = get(app, &format!("{b}/audit?limit=3"), key).await;
    assert_status(&page, 200);
    assert_eq!(page.json["items"].as_array().unwrap().len(), 3);
    assert_eq!(page.json["items"][1]["detail"]["delta"], 2);
    assert!(page.json["items"][0]["at"].is_i64());
    let cursor = page.json["nextCursor"].as_str().unwrap();
    let next = get(app, &format!("{b}/audit?limit=3&cursor={cursor}"), key).await;
    assert_eq!(next.json["items"][0]["action"], "policy.config");
    assert_eq!(next.json["items"][0]["detail"]["config"], json!({"a": 1}));
    assert_eq!(next.json["items"][1]["detail"]["version"], 1);
    assert_names(
        &get(app, &format!("{b}/audit?limit=none"), key).await,
        400,
        7,
        "limit",
    );
}

async fn unknown_routes_and_methods(app: &TestApp) {
    let shop = create(app, "routes").await;
    let key = Some(shop.api_key.as_str());
    for (method, path) in [
        ("GET", "/admin/v1/nothing".to_owned()),
        ("GET", format!("{}/nothing", base(&shop))),
    ] {
        let reply = app.call(method, &path, key, "").await;
        assert_names(&reply, 404, 9, &path);
    }
    // A path that exists, with a method it does not take: 405 (id 15), not 404.
    for (method, path) in [
        ("DELETE", format!("{}/policies", base(&shop))),
        ("PATCH", format!("{}/cards/c", base(&shop))),
        ("GET", MERCHANTS.to_owned()),
    ] {
        let reply = app.call(method, &path, key, "").await;
        assert_names(&reply, 405, 15, &path);
    }
}
