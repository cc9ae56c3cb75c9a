//! Crash safety with real processes: endpoint-2 load on a running `rabat serve`, SIGKILL
//! in the middle of it, a restart on the same database, then every transaction that was
//! acknowledged with 200 is in the ledger exactly once, and every card's stats equal the
//! sum of its ledger rows. On SQLite, and on PostgreSQL when `RABAT_TEST_POSTGRES_URL` is
//! set.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::common::db::{Target, TestDb};
use crate::common::process::{OPERATOR, Server};
use rabat::store::{LedgerQuery, Store};
use rust_decimal::Decimal;
use serde_json::{Value, json};

const CARDS: usize = 4;
const CLIENTS: usize = 16;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_acknowledged_transactions_survive_sigkill() {
    let db = TestDb::sqlite().await;
    let Target::Sqlite { path, .. } = &db.target else {
        unreachable!()
    };
    let url = format!("sqlite://{}", path.display());
    crash_and_check(&db.store, &url, None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_acknowledged_transactions_survive_sigkill() {
    let Some(db) = TestDb::postgres().await else {
        return;
    };
    let Target::Postgres { url, schema } = &db.target else {
        unreachable!()
    };
    crash_and_check(&db.store, url, Some(schema)).await;
}

fn order(id: &str, card: usize) -> Value {
    json!({
        "event": "order.completed", "orderId": id, "cardId": format!("card-{card}"), "paid": 1,
        "total": 3.20, "currency": "EUR", "completed": "2025-10-21T10:35:12.000Z",
        "orderItems": [{"id": "1", "productId": "11111", "name": "Espresso", "quantity": 1,
                        "unitPrice": 3.20, "totalPrice": 3.20, "categoryName": "Hot Beverages"}]
    })
}

async fn crash_and_check(store: &Store, url: &str, schema: Option<&str>) {
    let mut server = Server::start(url, schema).await;
    let (status, body) = server
        .call(
            "POST",
            "/admin/v1/merchants",
            Some(OPERATOR),
            json!({"id": "crash", "name": "Crash Café"}).to_string(),
        )
        .await
        .unwrap();
    assert_eq!(status, 201, "{body}");
    let merchant: Value = serde_json::from_str(&body).unwrap();
    let api_key = merchant["apiKey"].as_str().unwrap().to_owned();
    let pos_token = merchant["posToken"].as_str().unwrap().to_owned();
    // Stamp card: every bill earns points through `accrue`, so points are checked too.
    let (status, body) = server
        .call(
            "POST",
            "/admin/v1/merchants/crash/policies",
            Some(&api_key),
            crate::common::wasm::example("stamp-card"),
        )
        .await
        .unwrap();
    assert_eq!(status, 201, "{body}");
    let config = json!({"every": 1000, "category": "Hot Beverages"}).to_string();
    assert_eq!(
        server
            .call(
                "PUT",
                "/admin/v1/merchants/crash/policy-config",
                Some(&api_key),
                config
            )
            .await
            .unwrap()
            .0,
        200
    );
    assert_eq!(
        server
            .call(
                "POST",
                "/admin/v1/merchants/crash/policies/1/activate",
                Some(&api_key),
                ""
            )
            .await
            .unwrap()
            .0,
        200
    );
    for card in 0..CARDS {
        let (status, body) = server
            .call(
                "PUT",
                &format!("/admin/v1/merchants/crash/cards/card-{card}"),
                Some(&api_key),
                "{}",
            )
            .await
            .unwrap();
        assert_eq!(status, 201, "{body}");
    }

    // Load: clients send new orders until the server dies under them.
    let acked = Arc::new(Mutex::new(Vec::<(String, Value)>::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let port = server.port;
    let mut clients = Vec::new();
    for client in 0..CLIENTS {
        let (acked, stop, token) = (acked.clone(), stop.clone(), pos_token.clone());
        clients.push(tokio::spawn(async move {
            let probe = Server::probe(port);
            for n in 0.. {
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                let id = format!("crash-{client}-{n}");
                let body = order(&id, (client + n) % CARDS);
                match probe
                    .call(
                        "POST",
                        "/pos/papaya/v1/transactions",
                        Some(&token),
                        body.to_string(),
                    )
                    .await
                {
                    Ok((200, _)) => acked.lock().unwrap().push((id, body)),
                    Ok((status, text)) => panic!("{status}: {text}"),
                    Err(_) => break, // the server is gone: this one was never acknowledged
                }
            }
        }));
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    server.kill();
    stop.store(true, Ordering::Relaxed);
    for client in clients {
        client.await.unwrap();
    }
    let acked = acked.lock().unwrap().clone();
    assert!(
        acked.len() > 10,
        "the load did run: {} acknowledged",
        acked.len()
    );

    // Restart on the same database.
    let server = Server::start(url, schema).await;
    let ledger = all_rows(store).await;
    let ids: HashSet<&str> = ledger
        .iter()
        .filter_map(|r| r.order_id.as_deref())
        .collect();
    let transactions: Vec<_> = ledger.iter().filter(|r| r.order_id.is_some()).collect();
    assert_eq!(ids.len(), transactions.len(), "no order twice");
    for (id, _) in &acked {
        assert!(
            ids.contains(id.as_str()),
            "acknowledged {id} is missing after the crash"
        );
    }
    check_cards_match_ledger(store, &ledger).await;

    // An acknowledged bill repeated after the restart is recognised, and changes nothing.
    for (_, body) in acked.iter().take(5) {
        let (status, text) = server
            .call(
                "POST",
                "/pos/papaya/v1/transactions",
                Some(&pos_token),
                body.to_string(),
            )
            .await
            .unwrap();
        assert_eq!(status, 200, "{text}");
    }
    assert_eq!(all_rows(store).await.len(), ledger.len());
}

async fn all_rows(store: &Store) -> Vec<rabat::store::LedgerEntry> {
    let mut rows = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let page = store
            .list_transactions(
                "crash",
                &LedgerQuery {
                    card_id: None,
                    limit: 500,
                    cursor: cursor.as_deref(),
                },
            )
            .await
            .unwrap();
        rows.extend(page.items);
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => return rows,
        }
    }
}

async fn check_cards_match_ledger(store: &Store, ledger: &[rabat::store::LedgerEntry]) {
    let mut sums: HashMap<&str, (u32, Decimal, i64)> = HashMap::new();
    for row in ledger {
        let entry = sums.entry(row.card_id.as_str()).or_default();
        if row.order_id.is_some() {
            entry.0 += 1;
            entry.1 += row.total.unwrap_or_default();
        }
        entry.2 += row.points;
    }
    for card in 0..CARDS {
        let id = format!("card-{card}");
        let stored = store.card("crash", &id).await.unwrap().unwrap();
        let (visits, spent, points) = sums.get(id.as_str()).copied().unwrap_or_default();
        assert_eq!(stored.visits, visits, "{id}: visits = its ledger rows");
        assert_eq!(
            stored.total_spent, spent,
            "{id}: total spent = the sum of its bills"
        );
        assert_eq!(
            stored.points, points,
            "{id}: points = the sum of its ledger points"
        );
    }
}
