//! `GET /openapi.json` describes what is served: every route of the HTTP surface is in it
//! (and every documented route is routed), and real answers — Papaya's exact bodies,
//! admin listings, dry-runs, replays, errors — validate against the documented schema for
//! their status.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common::app::{OPERATOR, Reply, TestApp};
use crate::common::wasm::{data, example};
use serde_json::{Value, json};

app_on_both_engines!(
    every_route_is_documented_and_served,
    real_answers_match_the_documented_schemas,
);

/// The HTTP surface the README documents, as (method, path template).
const SURFACE: &[(&str, &str)] = &[
    ("post", "/pos/papaya/v1/discounts"),
    ("post", "/pos/papaya/v1/transactions"),
    ("post", "/pos/bifit/v1/online-orders/{id}/discounts"),
    ("post", "/pos/bifit/v1/online-orders/{id}/sync"),
    ("get", "/admin/v1/merchants/{m}/connectors/bifit"),
    ("put", "/admin/v1/merchants/{m}/connectors/bifit"),
    ("get", "/admin/v1/merchants/{m}/connectors/bifit/orders"),
    ("post", "/admin/v1/merchants"),
    ("get", "/admin/v1/merchants/{m}"),
    ("patch", "/admin/v1/merchants/{m}"),
    ("post", "/admin/v1/merchants/{m}/api-key"),
    ("get", "/admin/v1/merchants/{m}/pos-tokens"),
    ("post", "/admin/v1/merchants/{m}/pos-tokens"),
    ("delete", "/admin/v1/merchants/{m}/pos-tokens/{tokenId}"),
    ("get", "/admin/v1/merchants/{m}/policies"),
    ("post", "/admin/v1/merchants/{m}/policies"),
    ("post", "/admin/v1/merchants/{m}/policies/{v}/activate"),
    ("post", "/admin/v1/merchants/{m}/policies/{v}/dry-run"),
    ("post", "/admin/v1/merchants/{m}/policies/{v}/replay"),
    ("get", "/admin/v1/merchants/{m}/policy-config"),
    ("put", "/admin/v1/merchants/{m}/policy-config"),
    ("get", "/admin/v1/merchants/{m}/cards"),
    ("get", "/admin/v1/merchants/{m}/cards/{cardId}"),
    ("put", "/admin/v1/merchants/{m}/cards/{cardId}"),
    ("delete", "/admin/v1/merchants/{m}/cards/{cardId}"),
    ("post", "/admin/v1/merchants/{m}/cards/{cardId}/points"),
    ("delete", "/admin/v1/merchants/{m}/cards/{cardId}/holds"),
    ("get", "/admin/v1/merchants/{m}/transactions"),
    ("get", "/admin/v1/merchants/{m}/evaluations"),
    ("get", "/admin/v1/merchants/{m}/audit"),
    ("get", "/admin/v1/merchants/{m}/stats"),
    ("get", "/healthz"),
    ("get", "/readyz"),
    ("get", "/metrics"),
    ("get", "/openapi.json"),
];

async fn spec(app: &TestApp) -> Value {
    let reply = app.call("GET", "/openapi.json", None, "").await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    reply.json
}

fn operations(spec: &Value) -> Vec<(String, String)> {
    let mut found = Vec::new();
    for (path, item) in spec["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            if ["get", "put", "post", "delete", "patch"].contains(&method.as_str()) {
                found.push((method.clone(), path.clone()));
            }
        }
    }
    found.sort();
    found
}

async fn every_route_is_documented_and_served(app: &TestApp) {
    let spec = spec(app).await;
    assert!(spec["openapi"].as_str().unwrap().starts_with("3."));
    // Papaya's ids carry the bounds the parser enforces (`rabat_domain::limits`).
    for path in ["/pos/papaya/v1/discounts", "/pos/papaya/v1/transactions"] {
        let mut schema =
            &spec["paths"][path]["post"]["requestBody"]["content"]["application/json"]["schema"];
        if let Some(name) = schema["$ref"].as_str() {
            let name = name.trim_start_matches("#/components/schemas/");
            schema = &spec["components"]["schemas"][name];
        }
        let properties = &schema["properties"];
        assert_eq!(
            properties["orderId"]["maxLength"],
            json!(rabat::limits::MAX_ORDER_ID_CHARS),
            "{path}: {schema}"
        );
        assert_eq!(
            properties["cardId"]["maxLength"],
            json!(rabat::limits::MAX_CARD_ID_CHARS),
            "{path}: {schema}"
        );
    }
    let documented = operations(&spec);
    for (method, path) in SURFACE {
        assert!(
            documented.contains(&(method.to_string(), path.to_string())),
            "{method} {path} is not in /openapi.json"
        );
    }
    // Every documented operation is routed: called without credentials it is never the
    // router's "There is no …" 404.
    for (method, path) in &documented {
        let concrete = path
            .replace("{m}", "someone")
            .replace("{v}", "1")
            .replace("{cardId}", "c1")
            .replace("{tokenId}", "pt_x")
            .replace("{id}", "42");
        let reply = app
            .call(&method.to_uppercase(), &concrete, None, "{}")
            .await;
        assert!(
            !reply.text.contains("There is no"),
            "{method} {path} is documented but not routed: {}",
            reply.text
        );
        let op = &spec["paths"][path][method];
        assert!(
            op["responses"].as_object().is_some_and(|r| !r.is_empty()),
            "{method} {path} documents no answers"
        );
        if path.starts_with("/admin/") || path.starts_with("/pos/") {
            assert!(
                op["security"].is_array(),
                "{method} {path} names no credential"
            );
            assert_eq!(
                reply.status, 401,
                "{method} {path} without a token: {}",
                reply.text
            );
        }
    }
}

/// Validates `reply` against the schema `spec` documents for `method path` and the
/// reply's status (which must be documented).
fn check(spec: &Value, method: &str, path: &str, reply: &Reply) {
    let status = reply.status.as_str();
    let response = &spec["paths"][path][method]["responses"][status];
    assert!(
        response.is_object(),
        "{method} {path} answered {status}, which is not documented: {}",
        reply.text
    );
    let Some(schema) = response["content"]["application/json"]["schema"].as_object() else {
        assert!(
            reply.text.is_empty(),
            "{method} {path} {status}: an undocumented body"
        );
        return;
    };
    let mut root = Value::Object(schema.clone());
    root["components"] = spec["components"].clone();
    let validator = jsonschema::validator_for(&root).unwrap();
    let errors: Vec<String> = validator
        .iter_errors(&reply.json)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "{method} {path} {status} does not match its schema: {errors:?}\n{}",
        reply.text
    );
}

async fn real_answers_match_the_documented_schemas(app: &TestApp) {
    let spec = spec(app).await;
    let created = app
        .call(
            "POST",
            "/admin/v1/merchants",
            Some(OPERATOR),
            json!({"id": "docs", "name": "Docs shop"}).to_string(),
        )
        .await;
    check(&spec, "post", "/admin/v1/merchants", &created);
    let key = created.json["apiKey"].as_str().unwrap().to_owned();
    let till = created.json["posToken"].as_str().unwrap().to_owned();
    let shop = |rest: &str| format!("/admin/v1/merchants/docs{rest}");
    let m = |rest: &str| format!("/admin/v1/merchants/{{m}}{rest}");

    let reply = app
        .call(
            "PUT",
            &shop("/policy-config"),
            Some(&key),
            r#"{"tiers":{"gold":10}}"#,
        )
        .await;
    check(&spec, "put", &m("/policy-config"), &reply);
    let reply = app
        .call(
            "POST",
            &shop("/policies"),
            Some(&key),
            example("tier-discount"),
        )
        .await;
    check(&spec, "post", &m("/policies"), &reply);
    let reply = app
        .call("POST", &shop("/policies/1/activate"), Some(&key), "")
        .await;
    check(&spec, "post", &m("/policies/{v}/activate"), &reply);
    check(
        &spec,
        "get",
        &m("/policies"),
        &app.call("GET", &shop("/policies"), Some(&key), "").await,
    );
    let reply = app
        .call(
            "PUT",
            &shop("/cards/memberCardId"),
            Some(&key),
            r#"{"tier":"gold","tags":["vip"],"points":3}"#,
        )
        .await;
    check(&spec, "put", &m("/cards/{cardId}"), &reply);
    let reply = app
        .call(
            "PUT",
            &shop("/cards/plain"),
            Some(&key),
            r#"{"name":"Plain"}"#,
        )
        .await;
    check(&spec, "put", &m("/cards/{cardId}"), &reply);

    // Papaya's two endpoints, and their errors.
    let bill: Value = serde_json::from_slice(&data("bills/papaya-discount-request.json")).unwrap();
    let reply = app
        .post_json("/pos/papaya/v1/discounts", &till, &bill)
        .await;
    assert_eq!(reply.json["discounts"].as_array().unwrap().len(), 1);
    check(&spec, "post", "/pos/papaya/v1/discounts", &reply);
    // The check has teeth: a wrong type or a missing key is caught.
    for (pointer, wrong) in [
        ("/totalDiscount", json!("5.00")),
        ("/discounts/0/type", json!("free_beer")),
        ("/discounts/0/amount", Value::Null),
    ] {
        let mut bad = reply.json.clone();
        *bad.pointer_mut(pointer).unwrap() = wrong.clone();
        let forged = Reply {
            status: reply.status,
            text: bad.to_string(),
            json: bad,
        };
        let caught =
            std::panic::catch_unwind(|| check(&spec, "post", "/pos/papaya/v1/discounts", &forged));
        assert!(caught.is_err(), "{pointer} = {wrong} passed the schema");
    }
    let mut stranger = bill.clone();
    stranger["cardId"] = json!("nobody");
    let reply = app
        .post_json("/pos/papaya/v1/discounts", &till, &stranger)
        .await;
    check(&spec, "post", "/pos/papaya/v1/discounts", &reply);
    let reply = app
        .call("POST", "/pos/papaya/v1/discounts", Some("wrong"), "{}")
        .await;
    check(&spec, "post", "/pos/papaya/v1/discounts", &reply);
    let done: Value = serde_json::from_slice(&data("bills/papaya-transaction.json")).unwrap();
    let reply = app
        .post_json("/pos/papaya/v1/transactions", &till, &done)
        .await;
    check(&spec, "post", "/pos/papaya/v1/transactions", &reply);
    app.flush_evaluations().await;

    // Listings, what-ifs and history.
    for (rest, template) in [
        ("", ""),
        ("/pos-tokens", "/pos-tokens"),
        ("/cards", "/cards"),
        ("/cards/memberCardId", "/cards/{cardId}"),
        ("/transactions", "/transactions"),
        ("/evaluations", "/evaluations"),
        ("/audit", "/audit"),
        ("/policy-config", "/policy-config"),
        ("/cards/nobody", "/cards/{cardId}"),
        ("/cards?customerId=nobody", "/cards"),
        ("/stats", "/stats"),
        ("/stats?days=0", "/stats"),
    ] {
        let reply = app.call("GET", &shop(rest), Some(&key), "").await;
        check(&spec, "get", &m(template), &reply);
    }
    let reply = app
        .call(
            "POST",
            &shop("/cards/memberCardId/points"),
            Some(&key),
            r#"{"delta":5,"reason":"birthday"}"#,
        )
        .await;
    check(&spec, "post", &m("/cards/{cardId}/points"), &reply);
    let reply = app
        .call(
            "POST",
            &shop("/policies/1/dry-run"),
            Some(&key),
            json!({"order": bill}).to_string(),
        )
        .await;
    check(&spec, "post", &m("/policies/{v}/dry-run"), &reply);
    let reply = app
        .call("POST", &shop("/policies/1/replay"), Some(&key), "{}")
        .await;
    assert_eq!(reply.json["summary"]["ordersCompared"], 1, "{}", reply.text);
    check(&spec, "post", &m("/policies/{v}/replay"), &reply);
    let reply = app
        .call(
            "POST",
            &shop("/policies/1/replay"),
            Some(&key),
            r#"{"limit":0}"#,
        )
        .await;
    check(&spec, "post", &m("/policies/{v}/replay"), &reply);
    let reply = app.call("POST", &shop("/pos-tokens"), Some(&key), "").await;
    check(&spec, "post", &m("/pos-tokens"), &reply);
    let token = reply.json["tokenId"].as_str().unwrap().to_owned();
    let reply = app
        .call(
            "DELETE",
            &shop(&format!("/pos-tokens/{token}")),
            Some(&key),
            "",
        )
        .await;
    check(&spec, "delete", &m("/pos-tokens/{tokenId}"), &reply);
    let reply = app
        .call("DELETE", &shop("/cards/plain"), Some(&key), "")
        .await;
    check(&spec, "delete", &m("/cards/{cardId}"), &reply);
    for path in ["/healthz", "/readyz"] {
        check(&spec, "get", path, &app.call("GET", path, None, "").await);
    }
}
