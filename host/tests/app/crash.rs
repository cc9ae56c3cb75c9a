//! Crash safety with real processes: endpoint-2 load on a running `rabat serve`, with
//! returns of the acknowledged bills racing it (issue 19), SIGKILL in the middle of it, a
//! restart on the same database, then every transaction that was acknowledged with 200 is
//! in the ledger exactly once, every acknowledged return is recorded once (and taken its
//! points back once), and every card's stats equal the sum of its ledger rows, its points
//! the sum of its lots. On SQLite, and on PostgreSQL when `RABAT_TEST_POSTGRES_URL` is set.
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
/// Clients returning acknowledged bills whole while the bills go on.
const RETURNERS: usize = 4;

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
    // Returns: each returner takes every RETURNERS-th acknowledged bill, whole.
    let returned = Arc::new(Mutex::new(Vec::<String>::new()));
    for returner in 0..RETURNERS {
        let (acked, returned, stop, key) = (
            acked.clone(),
            returned.clone(),
            stop.clone(),
            api_key.clone(),
        );
        clients.push(tokio::spawn(async move {
            let probe = Server::probe(port);
            let mut next = returner;
            while !stop.load(Ordering::Relaxed) {
                let Some(order) = acked.lock().unwrap().get(next).map(|(id, _)| id.clone()) else {
                    tokio::time::sleep(Duration::from_millis(5)).await;
                    continue;
                };
                next += RETURNERS;
                let body = json!({"returnId": format!("R-{order}")}).to_string();
                match probe
                    .call(
                        "POST",
                        &format!("/admin/v1/merchants/crash/transactions/{order}/returns"),
                        Some(&key),
                        body,
                    )
                    .await
                {
                    Ok((201, _)) => returned.lock().unwrap().push(order),
                    Ok((status, text)) => panic!("return of {order}: {status}: {text}"),
                    Err(_) => break, // the server is gone: never acknowledged
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
    let returned = returned.lock().unwrap().clone();
    assert!(
        returned.len() > 3,
        "the returns did run: {} acknowledged",
        returned.len()
    );
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
    // Every acknowledged return once, its bill's point taken back once (a bill earns one
    // stamp; a card never goes below zero, so a return takes it or records a shortfall),
    // and no return — acknowledged or cut off by the kill — took points twice.
    let mut rows_of_return: HashMap<&str, usize> = HashMap::new();
    for row in &ledger {
        if let Some(id) = row
            .reason
            .as_deref()
            .and_then(|why| why.split("return '").nth(1))
            .and_then(|rest| rest.split('\'').next())
        {
            *rows_of_return.entry(id).or_default() += 1;
        }
    }
    assert!(
        rows_of_return.values().all(|&n| n == 1),
        "one ledger row per return: {rows_of_return:?}"
    );
    for order in &returned {
        let (status, text) = server
            .call(
                "GET",
                &format!("/admin/v1/merchants/crash/transactions/{order}/returns"),
                Some(&api_key),
                "",
            )
            .await
            .unwrap();
        assert_eq!(status, 200, "{text}");
        let list: Value = serde_json::from_str(&text).unwrap();
        let items = list["items"].as_array().unwrap();
        assert_eq!(items.len(), 1, "{order}: returned once: {list}");
        assert_eq!(items[0]["returnId"], format!("R-{order}"), "{list}");
        let taken = items[0]["pointsTaken"].as_i64().unwrap();
        let shortfall = items[0]["shortfall"].as_i64().unwrap();
        assert_eq!(taken + shortfall, 1, "{order}: its one stamp: {list}");
        let id = format!("R-{order}");
        assert_eq!(
            rows_of_return.get(id.as_str()).copied().unwrap_or(0),
            usize::from(taken > 0),
            "{order}: its row in the ledger"
        );
    }
    // An acknowledged return repeated after the restart is the same return.
    if let Some(order) = returned.first() {
        let (status, text) = server
            .call(
                "POST",
                &format!("/admin/v1/merchants/crash/transactions/{order}/returns"),
                Some(&api_key),
                json!({"returnId": format!("R-{order}")}).to_string(),
            )
            .await
            .unwrap();
        assert_eq!(status, 200, "a repeat: {text}");
    }

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
        let lots: i64 = store
            .card_lots("crash", &id)
            .await
            .unwrap()
            .iter()
            .map(|lot| lot.remaining)
            .sum();
        assert_eq!(lots, stored.points, "{id}: its lots hold its points");
    }
}
