//! Fuzzing the merchant-facing JSON bodies through the real router: arbitrary JSON (and
//! arbitrary bytes) sent to every route that takes a body, by the right credential. A
//! refusal is a 4xx naming what was wrong; no body may ever cause a 5xx. The generator is
//! proptest's, seeded, so a failure reproduces; `RABAT_FUZZ_CASES` runs more.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
use serde_json::{Value, json};

use crate::common::app::{OPERATOR, TestApp};

app_on_both_engines!(merchant_bodies_never_cause_a_server_error);

fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        "-?[0-9]{1,32}(\\.[0-9]{1,32})?"
            .prop_map(|text| serde_json::from_str(&text).unwrap_or(Value::Null)),
        ".{0,24}".prop_map(Value::String),
        // Control characters, NUL above all: PostgreSQL refuses NUL in text.
        "[\\x00-\\x1fa-z]{0,8}".prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 24, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            // The fields the routes know, so values reach the checks behind the names.
            prop::collection::btree_map(
                prop::sample::select(vec![
                    "cardId",
                    "customerId",
                    "name",
                    "tier",
                    "tags",
                    "points",
                    "delta",
                    "reason",
                    "order",
                    "card",
                    "config",
                    "limit",
                    "since",
                    "onlyChanged",
                    "baseUrl",
                    "accessToken",
                    "refreshToken",
                    "tokenUrl",
                    "cardLookup",
                    "id",
                    "orderId",
                    "total",
                    "orderItems",
                    "visits",
                    "totalSpent",
                ]),
                inner,
                0..6,
            )
            .prop_map(|m| Value::Object(m.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())),
        ]
    })
}

/// `n` bodies: mostly JSON, some raw bytes, from a fixed seed.
fn bodies(n: usize) -> Vec<Vec<u8>> {
    let mut runner = TestRunner::new_with_rng(
        Config::default(),
        TestRng::from_seed(RngAlgorithm::ChaCha, &[7; 32]),
    );
    let json = any_json();
    let bytes = prop::collection::vec(any::<u8>(), 0..64);
    (0..n)
        .map(|i| {
            if i % 5 == 4 {
                bytes.new_tree(&mut runner).unwrap().current()
            } else {
                json.new_tree(&mut runner)
                    .unwrap()
                    .current()
                    .to_string()
                    .into_bytes()
            }
        })
        .collect()
}

async fn merchant_bodies_never_cause_a_server_error(app: &TestApp) {
    let cases = std::env::var("RABAT_FUZZ_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(120);
    let shop = app.merchant("fuzzed").await;
    let m = format!("/admin/v1/merchants/{}", shop.id);
    let routes = [
        ("PUT", format!("{m}/cards/c-1"), shop.api_key.as_str()),
        ("POST", format!("{m}/cards/c-1/points"), &shop.api_key),
        ("PUT", format!("{m}/policy-config"), &shop.api_key),
        ("POST", format!("{m}/policies/1/dry-run"), &shop.api_key),
        ("POST", format!("{m}/policies/1/replay"), &shop.api_key),
        ("PUT", format!("{m}/connectors/bifit"), &shop.api_key),
        ("POST", format!("{m}/pos-tokens"), &shop.api_key),
        ("POST", "/admin/v1/merchants".to_owned(), OPERATOR),
        (
            "POST",
            "/pos/papaya/v1/discounts".to_owned(),
            &shop.pos_token,
        ),
        (
            "POST",
            "/pos/papaya/v1/transactions".to_owned(),
            &shop.pos_token,
        ),
    ];
    for body in bodies(cases) {
        let text = String::from_utf8_lossy(&body).into_owned();
        for (method, path, token) in &routes {
            let reply = app.call(method, path, Some(token), text.clone()).await;
            assert!(
                reply.status.as_u16() < 500,
                "{method} {path} with {text:?} answered {}: {}",
                reply.status,
                reply.text
            );
        }
    }
}
