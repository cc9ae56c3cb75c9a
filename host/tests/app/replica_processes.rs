//! Two real `rabat serve` processes on one database behave as one service: a policy
//! activated through one is what the other runs within a second, a config change or a
//! revoked POS token made through one holds on the other, and the same order completed on
//! both at once is recorded once. On PostgreSQL (when `RABAT_TEST_POSTGRES_URL` is set)
//! the replicas revalidate their caches only once a minute, so the one-second bound can
//! only be met by the change notifications; on SQLite (two processes on one file) the
//! periodic generation check is the path.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashSet;
use std::time::{Duration, Instant};

use crate::common::db::{Target, TestDb};
use crate::common::process::{OPERATOR, Server};
use rabat::store::{LedgerQuery, Store};
use serde_json::{Value, json};

const DISCOUNTS: &str = "/pos/papaya/v1/discounts";
const TRANSACTIONS: &str = "/pos/papaya/v1/transactions";
const PAIRS: usize = 40;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_two_processes_act_as_one_service() {
    let db = TestDb::sqlite().await;
    let Target::Sqlite { path, .. } = &db.target else {
        unreachable!()
    };
    let url = format!("sqlite://{}", path.display());
    bounded(two_replicas(&db.store, &url, None, &[])).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_two_processes_act_as_one_service() {
    let Some(db) = TestDb::postgres().await else {
        return;
    };
    let Target::Postgres { url, schema } = &db.target else {
        unreachable!()
    };
    // Revalidation far beyond the test's bounds: only LISTEN/NOTIFY can pass it.
    let slow = ["--policy-revalidate-ms", "60000"];
    bounded(two_replicas(&db.store, url, Some(schema), &slow)).await;
}

async fn bounded(test: impl Future<Output = ()>) {
    // Building the policies (once per test process) is not what is bounded.
    crate::common::wasm::example("tier-discount");
    crate::common::wasm::example("category-discount");
    tokio::time::timeout(Duration::from_secs(60), test)
        .await
        .expect("the two-replica scenario took over 60 s");
}

fn bill() -> String {
    String::from_utf8(crate::common::wasm::data(
        "bills/papaya-discount-request.json",
    ))
    .unwrap()
}

fn completed(order: &str) -> String {
    json!({
        "event": "order.completed", "orderId": order, "cardId": "memberCardId", "paid": 1,
        "total": 3.20, "currency": "EUR", "completed": "2025-10-21T10:35:12.000Z",
        "orderItems": [{"id": "1", "productId": "11111", "name": "Espresso", "quantity": 1,
                        "unitPrice": 3.20, "totalPrice": 3.20, "categoryName": "Hot Beverages"}]
    })
    .to_string()
}

async fn ok(
    server: &Server,
    method: &str,
    path: &str,
    token: &str,
    body: impl AsRef<[u8]>,
) -> Value {
    let (status, text) = server.call(method, path, Some(token), body).await.unwrap();
    assert!(
        (200..300).contains(&status),
        "{method} {path}: {status} {text}"
    );
    serde_json::from_str(&text).unwrap_or(Value::Null)
}

/// Polls `server`'s endpoint 1 until the total discount is `want`, failing after 1 s.
async fn within_a_second(server: &Server, token: &str, want: &str, what: &str) {
    let since = Instant::now();
    loop {
        let (status, text) = server
            .call("POST", DISCOUNTS, Some(token), bill())
            .await
            .unwrap();
        assert_eq!(status, 200, "{text}");
        let reply: Value = serde_json::from_str(&text).unwrap();
        let total = reply["totalDiscount"].to_string();
        if total == want {
            return;
        }
        assert!(
            since.elapsed() < Duration::from_secs(1),
            "{what}: the other replica still answers {text} after 1 s"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

async fn two_replicas(store: &Store, url: &str, schema: Option<&str>, extra: &[&str]) {
    let (a, b) = tokio::join!(
        Server::start_with(url, schema, extra),
        Server::start_with(url, schema, extra)
    );
    let shop = ok(
        &a,
        "POST",
        "/admin/v1/merchants",
        OPERATOR,
        json!({"id": "chain", "name": "Chain"}).to_string(),
    )
    .await;
    let key = shop["apiKey"].as_str().unwrap().to_owned();
    let pos = shop["posToken"].as_str().unwrap().to_owned();
    let base = "/admin/v1/merchants/chain";
    ok(
        &a,
        "PUT",
        &format!("{base}/cards/memberCardId"),
        &key,
        json!({"tier": "gold"}).to_string(),
    )
    .await;
    ok(
        &a,
        "POST",
        &format!("{base}/policies"),
        &key,
        crate::common::wasm::example("tier-discount"),
    )
    .await;
    ok(
        &a,
        "PUT",
        &format!("{base}/policy-config"),
        &key,
        json!({"tiers": {"gold": 10}}).to_string(),
    )
    .await;
    ok(&a, "POST", &format!("{base}/policies/1/activate"), &key, "").await;
    // B has never seen this merchant: it loads what A set up.
    within_a_second(&b, &pos, "5.00", "first use").await;

    // A second policy, uploaded and activated through A, while B has the first cached.
    ok(
        &a,
        "POST",
        &format!("{base}/policies"),
        &key,
        crate::common::wasm::example("category-discount"),
    )
    .await;
    ok(
        &a,
        "PUT",
        &format!("{base}/policy-config"),
        &key,
        json!({"tiers": {"gold": 20}, "category": "Hot Beverages", "percentage": 20}).to_string(),
    )
    .await;
    // Still v1 on both, with the new config.
    within_a_second(&b, &pos, "10.00", "config change through A").await;
    ok(&a, "POST", &format!("{base}/policies/2/activate"), &key, "").await;
    within_a_second(&a, &pos, "1.00", "activation on A itself").await;
    within_a_second(&b, &pos, "1.00", "activation through A").await;

    // A config change through B reaches A.
    ok(
        &b,
        "PUT",
        &format!("{base}/policy-config"),
        &key,
        json!({"tiers": {"gold": 30}, "category": "Hot Beverages", "percentage": 50}).to_string(),
    )
    .await;
    within_a_second(&a, &pos, "2.50", "config change through B").await;

    // Rollback through B.
    ok(&b, "POST", &format!("{base}/policies/1/activate"), &key, "").await;
    within_a_second(&a, &pos, "15.00", "rollback through B").await;

    // A POS token issued on A works on B; revoked on A, B refuses it.
    let issued = ok(&a, "POST", &format!("{base}/pos-tokens"), &key, "").await;
    let (token_id, token) = (
        issued["tokenId"].as_str().unwrap().to_owned(),
        issued["posToken"].as_str().unwrap().to_owned(),
    );
    let (status, text) = b
        .call("POST", DISCOUNTS, Some(&token), bill())
        .await
        .unwrap();
    assert_eq!(status, 200, "{text}");
    let (status, _) = a
        .call(
            "DELETE",
            &format!("{base}/pos-tokens/{token_id}"),
            Some(&key),
            "",
        )
        .await
        .unwrap();
    assert_eq!(status, 204);
    // On A at once (it forgot the token as it revoked it); on B within a second (the
    // change listener tells it; the token's expiry in B's memory is the fallback).
    let (status, text) = a
        .call("POST", DISCOUNTS, Some(&token), bill())
        .await
        .unwrap();
    assert_eq!(status, 401, "A still accepts a token it revoked: {text}");
    let since = Instant::now();
    loop {
        let (status, text) = b
            .call("POST", DISCOUNTS, Some(&token), bill())
            .await
            .unwrap();
        if status == 401 {
            assert!(text.contains("revoked"), "{text}");
            break;
        }
        assert_eq!(status, 200, "{text}");
        assert!(
            since.elapsed() < Duration::from_secs(1),
            "B still accepts a token revoked on A after 1 s: {text}"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }

    // The same order completed on both replicas at once, many times over.
    let pairs = (0..PAIRS).map(|n| {
        let (a, b, pos) = (&a, &b, &pos);
        async move {
            let order = format!("pair-{n}");
            let (on_a, on_b) = tokio::join!(
                a.call("POST", TRANSACTIONS, Some(pos), completed(&order)),
                b.call("POST", TRANSACTIONS, Some(pos), completed(&order)),
            );
            for (status, text) in [on_a.unwrap(), on_b.unwrap()] {
                assert_eq!(status, 200, "{order}: {text}");
            }
        }
    });
    futures::future::join_all(pairs).await;
    let ledger = store
        .list_transactions(
            "chain",
            &LedgerQuery {
                limit: 500,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let orders: HashSet<&str> = ledger
        .items
        .iter()
        .filter_map(|r| r.order_id.as_deref())
        .collect();
    assert_eq!(ledger.items.len(), PAIRS, "one ledger row per order");
    assert_eq!(orders.len(), PAIRS);
    let card = store.card("chain", "memberCardId").await.unwrap().unwrap();
    assert_eq!(card.visits, u32::try_from(PAIRS).unwrap());
}
