//! Points over time with real processes (issue 19): a `rabat serve` whose points task is
//! expiring thousands of due lots is SIGKILLed in the middle of the run and started again
//! on the same database; then every lot expired exactly once (one `expire` row of its
//! points each) and every card's balance is the sum of its ledger rows. On SQLite, and on
//! PostgreSQL when `RABAT_TEST_POSTGRES_URL` is set. Also the admin API's points rules and
//! a card's points, over HTTP.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::time::{Duration, Instant};

use crate::common::db::{Target, TestDb};
use crate::common::process::{OPERATOR, Server};
use rabat::store::{EntryKind, LedgerQuery, Store};
use serde_json::{Value, json};

const CARDS: usize = 4_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_each_lot_expires_once_across_a_sigkill() {
    let db = TestDb::sqlite().await;
    let Target::Sqlite { path, .. } = &db.target else {
        unreachable!()
    };
    let url = format!("sqlite://{}", path.display());
    kill_mid_run_and_check(&db, &url, None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_each_lot_expires_once_across_a_sigkill() {
    let Some(db) = TestDb::postgres().await else {
        return;
    };
    let Target::Postgres { url, schema } = &db.target else {
        unreachable!()
    };
    let (url, schema) = (url.clone(), schema.clone());
    kill_mid_run_and_check(&db, &url, Some(&schema)).await;
}

fn card_id(i: usize) -> String {
    format!("c{i:05}")
}

/// True once the card has no lot left (the task expired it).
async fn expired(store: &Store, i: usize) -> bool {
    store
        .card_lots("crash", &card_id(i))
        .await
        .unwrap()
        .is_empty()
}

async fn kill_mid_run_and_check(db: &TestDb, url: &str, schema: Option<&str>) {
    let every = ["--points-every-ms", "300"];
    let mut server = Server::start_with(url, schema, &every).await;
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
    // CARDS cards of 10 points each, one adjustment row and one lot each, due long ago.
    let card_ids = match db.target {
        Target::Postgres { .. } => "'c' || lpad(i::text, 5, '0')",
        _ => "printf('c%05d', i)",
    };
    db.execute(&format!(
        "INSERT INTO cards (merchant_id, card_id, points, created_at, updated_at)
         SELECT 'crash', {card_ids}, 10, 0, 0 FROM (
             WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < {last})
             SELECT i FROM n) s",
        last = CARDS - 1
    ))
    .await;
    db.execute(
        "INSERT INTO ledger (merchant_id, kind, card_id, points, points_balance, reason,
             occurred_at, recorded_at)
         SELECT merchant_id, 'adjustment', card_id, 10, 10, 'seed', 0, 0
         FROM cards WHERE merchant_id = 'crash'",
    )
    .await;
    db.execute(
        "INSERT INTO point_lots (merchant_id, card_id, source, earned_at, vests_at, expires_at,
             points, remaining, pending)
         SELECT merchant_id, card_id, 'earned', 0, 0, 1, 10, 10, 0
         FROM cards WHERE merchant_id = 'crash'",
    )
    .await;
    // Kill it once the run is a tenth of the way through.
    let store = &db.store;
    let started = Instant::now();
    while !expired(store, CARDS / 10).await {
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "the points task did not start"
        );
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    server.kill();
    assert!(
        !expired(store, CARDS - 1).await,
        "the run ended before the kill: the test proves nothing (make CARDS larger)"
    );
    // Started again, it finishes the job.
    let mut server = Server::start_with(url, schema, &every).await;
    let started = Instant::now();
    while !expired(store, CARDS - 1).await {
        assert!(
            started.elapsed() < Duration::from_secs(300),
            "the restarted points task did not finish"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    server.kill();
    // Every lot expired once; every card's balance is its ledger (zero).
    let mut rows: HashMap<String, (i64, Vec<i64>)> = HashMap::new();
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
        for row in page.items {
            let entry = rows.entry(row.card_id.clone()).or_default();
            entry.0 += row.points;
            if row.kind == EntryKind::Expire {
                entry.1.push(row.points);
            }
        }
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    assert_eq!(rows.len(), CARDS);
    for i in 0..CARDS {
        let id = card_id(i);
        let (sum, expires) = &rows[&id];
        assert_eq!(expires, &[-10], "{id}: one expire row of its lot's points");
        assert_eq!(*sum, 0, "{id}: its ledger sums to zero");
        let card = store.card("crash", &id).await.unwrap().unwrap();
        assert_eq!(card.points, 0, "{id}: balance = its ledger");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn points_rules_and_a_cards_points_over_http() {
    let app = crate::common::app::TestApp::new(TestDb::sqlite().await).await;
    let m = app.merchant("m1").await;
    let key = m.api_key.as_str();
    let call = |method: &'static str, path: &'static str, body: Value| {
        let body = if body.is_null() {
            String::new()
        } else {
            body.to_string()
        };
        app.call(method, path, Some(key), body)
    };
    let rules_path = "/admin/v1/merchants/m1/points-rules";
    // The defaults: never expire, vest at once.
    let reply = call("GET", rules_path, Value::Null).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.json, json!({"expiry": "never", "vestingDays": 0}));
    // Each problem is named by its field.
    for (bad, named) in [
        (json!({"expiry": {"days": 0}}), "expiry.days"),
        (json!({"expiry": {"weeks": 2}}), "expiry.weeks"),
        (json!({"expiry": "soon"}), "'soon'"),
        (json!({"vestingDays": 400}), "vestingDays"),
        (json!({"timeZone": "Mars/Olympus"}), "Mars/Olympus"),
        (json!({"expiry": {"days": 3, "months": 1}}), "exactly one"),
    ] {
        let reply = call("PUT", rules_path, bad.clone()).await;
        assert_eq!(reply.status, 400, "{bad}: {}", reply.text);
        assert!(reply.text.contains(named), "{bad}: {}", reply.text);
    }
    let reply = call(
        "PUT",
        "/admin/v1/merchants/m1/cards/c1",
        json!({"points": 40}),
    )
    .await;
    assert_eq!(reply.status, 201, "{}", reply.text);
    let rules =
        json!({"expiry": {"months": 12}, "vestingDays": 14, "timeZone": "Europe/Bratislava"});
    let reply = call("PUT", rules_path, rules.clone()).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.json, rules);
    assert_eq!(call("GET", rules_path, Value::Null).await.json, rules);
    // Earned now: pending for 14 days; the old 40 expire 12 months from the change.
    let reply = call(
        "POST",
        "/admin/v1/merchants/m1/cards/c1/points",
        json!({"delta": 25, "reason": "welcome"}),
    )
    .await;
    assert_eq!(reply.status, 201, "{}", reply.text);
    let reply = call("GET", "/admin/v1/merchants/m1/cards/c1/points", Value::Null).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    let body = &reply.json;
    assert_eq!(body["balance"], 65, "{body}");
    assert_eq!(body["pendingPoints"], 25, "{body}");
    assert_eq!(body["availablePoints"], 40, "{body}");
    assert_eq!(body["nextExpiry"]["points"], 40, "{body}");
    let lots = body["lots"].as_array().unwrap();
    assert_eq!(lots.len(), 2, "{body}");
    assert_eq!(lots[1]["pending"], true, "{body}");
    let card = call("GET", "/admin/v1/merchants/m1/cards/c1", Value::Null).await;
    assert_eq!(card.json["pendingPoints"], 25, "{}", card.text);
    let reply = call(
        "GET",
        "/admin/v1/merchants/m1/cards/nope/points",
        Value::Null,
    )
    .await;
    assert_eq!(reply.status, 404, "{}", reply.text);
    app.shutdown().await;
}
