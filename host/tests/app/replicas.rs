//! Two servers on one database behave as one service: an activation made through one is
//! what the other runs within a second, and endpoint 2 records an order once whichever
//! replicas the repeats reach. (In-process replicas sharing the database; each has its
//! own caches, pools and policy engine, as separate processes would.)
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use crate::common::app::TestApp;
use crate::common::wasm::example;
use rabat::model::Card;
use rabat::store::LedgerQuery;
use serde_json::{Value, json};

app_on_both_engines!(
    activation_reaches_every_replica_within_a_second,
    repeats_on_two_replicas_record_once
);

fn bill() -> Value {
    serde_json::from_slice(&crate::common::wasm::data(
        "bills/papaya-discount-request.json",
    ))
    .unwrap()
}

async fn gold(app: &TestApp, merchant: &crate::common::app::TestMerchant) {
    let mut card = Card::new("memberCardId");
    card.tier = Some("gold".into());
    app.card(merchant, card).await;
}

async fn activation_reaches_every_replica_within_a_second(a: &TestApp) {
    let b = a.restart().await;
    let shop = a.merchant("chain").await;
    gold(a, &shop).await;
    a.activate(
        &shop,
        &example("tier-discount"),
        json!({"tiers": {"gold": 10}}),
    )
    .await;
    let discounts = "/pos/papaya/v1/discounts";
    let reply = b.post_json(discounts, &shop.pos_token, &bill()).await;
    assert_eq!(
        reply.json["totalDiscount"].to_string(),
        "5.00",
        "{}",
        reply.text
    );

    // Upload and activate another policy through replica A's admin API.
    let path = format!("/admin/v1/merchants/{}/policies", shop.id);
    let upload = a
        .call(
            "POST",
            &path,
            Some(&shop.api_key),
            example("category-discount"),
        )
        .await;
    assert_eq!(upload.status, 201, "{}", upload.text);
    let version = upload.json["version"].as_i64().unwrap();
    let config = format!("/admin/v1/merchants/{}/policy-config", shop.id);
    let reply = a
        .call(
            "PUT",
            &config,
            Some(&shop.api_key),
            json!({"category": "Hot Beverages", "percentage": 20}).to_string(),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    let activated = Instant::now();
    let reply = a
        .call(
            "POST",
            &format!("{path}/{version}/activate"),
            Some(&shop.api_key),
            "",
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    // A answers with the new policy at once.
    let reply = a.post_json(discounts, &shop.pos_token, &bill()).await;
    assert_eq!(
        reply.json["totalDiscount"].to_string(),
        "1.00",
        "{}",
        reply.text
    );

    // B within a second (polled; the bound is the cache's revalidation interval).
    loop {
        let reply = b.post_json(discounts, &shop.pos_token, &bill()).await;
        let total = reply.json["totalDiscount"].to_string();
        if total == "1.00" {
            break;
        }
        assert!(
            activated.elapsed() < Duration::from_secs(1),
            "replica B still runs the old policy: {}",
            reply.text
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    b.shutdown().await;
}

async fn repeats_on_two_replicas_record_once(a: &TestApp) {
    let b = a.restart().await;
    let shop = a.merchant("twin").await;
    gold(a, &shop).await;
    let body = serde_json::from_slice::<Value>(&crate::common::wasm::data(
        "bills/papaya-transaction.json",
    ))
    .unwrap();
    let path = "/pos/papaya/v1/transactions";
    let calls = (0..40).map(|i| {
        let app = if i % 2 == 0 { a } else { &b };
        app.post_json(path, &shop.pos_token, &body)
    });
    for reply in futures::future::join_all(calls).await {
        assert_eq!(reply.status, 200, "{}", reply.text);
    }
    let rows = a
        .state
        .store()
        .list_transactions(
            "twin",
            &LedgerQuery {
                limit: 100,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(rows.items.len(), 1);
    let card = a
        .state
        .store()
        .card("twin", "memberCardId")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(card.visits, 1);
    b.shutdown().await;
}
