//! The evaluation log's layout and housekeeping (issue 23): retention by age per merchant
//! (across a partition boundary on PostgreSQL, where whole days are dropped), the row cap,
//! one replica at a time, nothing kept lost when a pass is cut off mid-way, the payload
//! compressed and read back, and logs written before this layout migrated on both engines.

use std::collections::BTreeMap;
use std::time::Duration;

use rabat_store::{
    EvaluationQuery, EvaluationRecord, EvaluationRetention, Housekeeping, HousekeepingOptions,
    PendingEvaluation, Store, StoreOptions,
};
use serde_json::json;
use sqlx::Connection;

use super::{Entity, TestDb, audit, dec, is_not_found, merchant};

on_both_engines!(
    retention_by_age_keeps_exactly_what_it_should_across_a_day_boundary,
    the_row_cap_keeps_each_merchants_newest_rows,
    two_replicas_never_housekeep_at_once,
    a_pass_cut_off_mid_way_loses_nothing_that_should_be_kept,
    payloads_are_compressed_and_read_back_exactly,
);

const DAY: i64 = 86_400_000;
const HOUR: i64 = 3_600_000;

fn quick() -> HousekeepingOptions {
    HousekeepingOptions {
        batch: 3,
        pause: Duration::ZERO,
        lease: Duration::from_secs(60),
        lock_timeout: Duration::from_secs(5),
    }
}

fn retention(default_days: u32, max_days: u32, max_rows: u64) -> EvaluationRetention {
    EvaluationRetention {
        default_days,
        max_days,
        max_rows,
    }
}

/// Today's UTC day number, by the real clock (PostgreSQL's partitions are made from it).
fn today() -> i64 {
    rabat_domain::clock::now_ms().div_euclid(DAY)
}

fn run(merchant: &str, order_id: &str, at: i64) -> PendingEvaluation {
    PendingEvaluation::from(&EvaluationRecord {
        merchant_id: merchant.into(),
        at,
        order_id: order_id.into(),
        card_id: Some("c1".into()),
        policy_version: Some(1),
        outcome: "answer".into(),
        total_discount: Some(dec("1.50")),
        fuel: Some(100),
        duration_us: 10,
        request: json!({"orderId": order_id, "currency": "EUR", "total": 15.00}),
        card: Some(json!({"cardId": "c1"})),
        response: Some(json!({"totalDiscount": 1.50, "discounts": []})),
        logs: json!([]),
        error: None,
    })
}

/// The merchant's logged order ids, newest first.
async fn orders(store: &Store, merchant: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let page = store
            .list_evaluations(
                merchant,
                &EvaluationQuery {
                    limit: 500,
                    cursor: cursor.as_deref(),
                    outcome: None,
                },
            )
            .await
            .unwrap();
        out.extend(page.items.into_iter().map(|e| e.record.order_id));
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => return out,
        }
    }
}

/// The counts the row cap reads agree with the rows there are.
async fn assert_counts_exact(store: &Store, merchants: &[&str]) {
    let counts: BTreeMap<String, u64> = store
        .evaluation_counts()
        .await
        .unwrap()
        .into_iter()
        .collect();
    for m in merchants {
        let rows = orders(store, m).await.len() as u64;
        assert_eq!(counts.get(*m).copied().unwrap_or(0), rows, "count of {m}");
    }
}

fn done(outcome: Housekeeping) -> rabat_store::HousekeepingReport {
    match outcome {
        Housekeeping::Done(report) => report,
        Housekeeping::Skipped => panic!("the pass was skipped"),
    }
}

async fn retention_by_age_keeps_exactly_what_it_should_across_a_day_boundary(db: &TestDb) {
    let s = &db.store;
    for m in ["short", "plain", "long"] {
        merchant(s, m).await;
    }
    s.set_evaluation_retention("short", Some(2), audit)
        .await
        .unwrap();
    // Asks for 200 days; the operator's maximum (5) is what it gets.
    s.set_evaluation_retention("long", Some(200), audit)
        .await
        .unwrap();
    assert_eq!(s.evaluation_retention("short").await.unwrap(), Some(2));
    assert_eq!(s.evaluation_retention("plain").await.unwrap(), None);
    let keep = retention(3, 5, 1_000_000);
    // A day boundary some days ahead (PostgreSQL: between two daily partitions).
    let boundary = (today() + 10) * DAY;
    let mut runs = Vec::new();
    let mut gone = Vec::new();
    let mut kept = Vec::new();
    for (m, days) in [("short", 2), ("plain", 3), ("long", 5)] {
        let life = days * DAY;
        // Expires in the last millisecond before the boundary: removed once it is past.
        for i in 0..4 {
            let order = format!("{m}-before-{i}");
            runs.push(run(m, &order, boundary - life - 1 - i));
            gone.push(order);
        }
        // Expires exactly at the boundary, and at the very end of that day: kept.
        for (name, at) in [("at", boundary - life), ("end", boundary - life + DAY - 1)] {
            let order = format!("{m}-{name}");
            runs.push(run(m, &order, at));
            kept.push(order);
        }
    }
    s.insert_pending_evaluations(&runs, &keep).await.unwrap();
    let ids: BTreeMap<String, i64> = {
        let mut ids = BTreeMap::new();
        for m in ["short", "plain", "long"] {
            let page = s
                .list_evaluations(
                    m,
                    &EvaluationQuery {
                        limit: 500,
                        ..Default::default()
                    },
                )
                .await
                .unwrap();
            for e in page.items {
                ids.insert(e.record.order_id, e.id);
            }
        }
        ids
    };
    assert_eq!(ids.len(), runs.len());

    // An hour before the boundary, the day those expire on is not over: nothing goes.
    let early = done(
        s.housekeep_evaluations("r1", boundary - HOUR, &keep, &quick())
            .await
            .unwrap(),
    );
    assert_eq!(early.expired, 0, "{early:?}");
    assert_eq!(early.over_cap, 0);
    for m in ["short", "plain", "long"] {
        assert_eq!(orders(s, m).await.len(), 6, "{m}");
    }

    // An hour after it: exactly the rows that expired before it go.
    let after = done(
        s.housekeep_evaluations("r1", boundary + HOUR, &keep, &quick())
            .await
            .unwrap(),
    );
    assert_eq!(after.expired, gone.len() as u64, "{after:?}");
    if s.engine() == rabat_store::EngineKind::Postgres {
        assert!(after.partitions_dropped >= 1, "{after:?}");
    }
    for order in &gone {
        let err = s
            .evaluation(order.split('-').next().unwrap(), ids[order])
            .await
            .unwrap_err();
        assert!(is_not_found(&err, Entity::Evaluation), "{order}: {err}");
    }
    for order in &kept {
        let m = order.split('-').next().unwrap();
        let e = s.evaluation(m, ids[order]).await.unwrap();
        assert_eq!(&e.record.order_id, order);
    }
    for m in ["short", "plain", "long"] {
        let mut left = orders(s, m).await;
        left.sort();
        assert_eq!(left, [format!("{m}-at"), format!("{m}-end")]);
    }
    assert_counts_exact(s, &["short", "plain", "long"]).await;

    // Again at the same time: nothing more to do.
    let again = done(
        s.housekeep_evaluations("r1", boundary + 2 * HOUR, &keep, &quick())
            .await
            .unwrap(),
    );
    assert_eq!(
        (again.expired, again.over_cap, again.partitions_dropped),
        (0, 0, 0)
    );
    // The next day, the rest goes.
    let next = done(
        s.housekeep_evaluations("r1", boundary + DAY + HOUR, &keep, &quick())
            .await
            .unwrap(),
    );
    assert_eq!(next.expired, kept.len() as u64);
    assert_counts_exact(s, &["short", "plain", "long"]).await;
    // A merchant that does not exist has no retention to set.
    let err = s
        .set_evaluation_retention("nobody", Some(3), audit)
        .await
        .unwrap_err();
    assert!(is_not_found(&err, Entity::Merchant), "{err}");
}

async fn the_row_cap_keeps_each_merchants_newest_rows(db: &TestDb) {
    let s = &db.store;
    merchant(s, "m1").await;
    merchant(s, "m2").await;
    let now = rabat_domain::clock::now_ms();
    let runs: Vec<_> = (0..8)
        .map(|i| run("m1", &format!("o{i}"), now - 1000 + i))
        .chain((0..2).map(|i| run("m2", &format!("x{i}"), now - 1000 + i)))
        .collect();
    let keep = retention(35, 90, 3);
    s.insert_pending_evaluations(&runs, &keep).await.unwrap();
    assert_counts_exact(s, &["m1", "m2"]).await;
    let report = done(
        s.housekeep_evaluations("r1", now, &keep, &quick())
            .await
            .unwrap(),
    );
    assert_eq!((report.expired, report.over_cap), (0, 5), "{report:?}");
    assert_eq!(orders(s, "m1").await, ["o7", "o6", "o5"]);
    assert_eq!(orders(s, "m2").await, ["x1", "x0"]);
    assert_counts_exact(s, &["m1", "m2"]).await;
    let report = done(
        s.housekeep_evaluations("r1", now, &keep, &quick())
            .await
            .unwrap(),
    );
    assert_eq!((report.expired, report.over_cap), (0, 0));
}

async fn two_replicas_never_housekeep_at_once(db: &TestDb) {
    let a = db.store.clone();
    let b = db.reopen().await;
    merchant(&a, "m1").await;
    let now = (today() + 3) * DAY + HOUR;
    // Rows that expired the day before `now`: whoever does the pass removes them.
    let runs: Vec<_> = (0..20)
        .map(|i| run("m1", &format!("o{i}"), now - 36 * DAY - i))
        .collect();
    let keep = retention(35, 90, 1_000_000);
    a.insert_pending_evaluations(&runs, &keep).await.unwrap();
    // Both replicas at the same moment: one pass runs, the other skips.
    let mut passes = Vec::new();
    for (store, holder) in [(&a, "replica-a"), (&b, "replica-b")] {
        let store = store.clone();
        passes.push(tokio::spawn(async move {
            let outcome = store
                .housekeep_evaluations(holder, now, &keep, &quick())
                .await
                .unwrap();
            (holder, outcome)
        }));
    }
    let mut holders = Vec::new();
    let mut expired = 0;
    for pass in passes {
        let (holder, outcome) = pass.await.unwrap();
        if let Housekeeping::Done(report) = outcome {
            holders.push(holder);
            expired += report.expired;
        }
    }
    assert_eq!(
        holders.len(),
        1,
        "both replicas did housekeeping: {holders:?}"
    );
    assert_eq!(expired, 20);
    let holder = holders[0];
    let other = if holder == "replica-a" {
        "replica-b"
    } else {
        "replica-a"
    };
    // The holder keeps the lease; the other skips until it lapses, then takes over.
    let later = now + 30_000;
    assert_eq!(
        db.store
            .housekeep_evaluations(other, later, &keep, &quick())
            .await
            .unwrap(),
        Housekeeping::Skipped
    );
    assert!(matches!(
        db.store
            .housekeep_evaluations(holder, later, &keep, &quick())
            .await
            .unwrap(),
        Housekeeping::Done(_)
    ));
    let lapsed = later + 61_000;
    assert!(matches!(
        b.housekeep_evaluations(other, lapsed, &keep, &quick())
            .await
            .unwrap(),
        Housekeeping::Done(_)
    ));
    assert_eq!(
        a.housekeep_evaluations(holder, lapsed + 1, &keep, &quick())
            .await
            .unwrap(),
        Housekeeping::Skipped
    );
    b.close().await;
}

async fn a_pass_cut_off_mid_way_loses_nothing_that_should_be_kept(db: &TestDb) {
    let s = db.store.clone();
    let merchants = ["m1", "m2", "m3"];
    for m in merchants {
        merchant(&s, m).await;
    }
    let now = (today() + 2) * DAY + HOUR;
    let keep = retention(35, 90, 30);
    let mut runs = Vec::new();
    let mut expected: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for m in merchants {
        // 30 expired, interleaved with 40 live ones of which the row cap keeps the newest 30.
        for i in 0..70i64 {
            let order = format!("{m}-{i:02}");
            let at = if i % 7 < 3 {
                now - 40 * DAY + i
            } else {
                now - DAY + i
            };
            runs.push(run(m, &order, at));
        }
    }
    s.insert_pending_evaluations(&runs, &keep).await.unwrap();
    for m in merchants {
        // Newest first by id; live rows only; the cap keeps 30.
        let mut live: Vec<String> = (0..70i64)
            .rev()
            .filter(|i| i % 7 >= 3)
            .map(|i| format!("{m}-{i:02}"))
            .collect();
        live.truncate(30);
        expected.insert(m, live);
    }
    // Passes cut off after a few steps, over and over (a crash: the task is dropped in
    // the middle of whatever it was doing, an open transaction included).
    let slow = HousekeepingOptions {
        batch: 2,
        pause: Duration::from_millis(1),
        ..quick()
    };
    for cut in [0u64, 1, 2, 3, 5, 8, 13] {
        let store = s.clone();
        let pass = tokio::spawn(async move {
            store
                .housekeep_evaluations("crashing", now, &keep, &slow)
                .await
        });
        tokio::time::sleep(Duration::from_millis(cut)).await;
        pass.abort();
        let _ = pass.await;
        for m in merchants {
            let left = orders(&s, m).await;
            for order in &expected[m] {
                assert!(
                    left.contains(order),
                    "{order} lost after a pass cut at {cut} ms"
                );
            }
        }
    }
    // The crashed replica's connections go with it (its open transactions roll back and
    // their locks are released), then a store opened afresh (as after a restart) sees
    // counts that match the rows, and a complete pass by another replica, once the lease
    // lapsed, finishes the job exactly.
    s.close().await;
    let restarted = db.reopen().await;
    assert_counts_exact(&restarted, &merchants).await;
    let report = restarted
        .housekeep_evaluations("survivor", now + 61_000, &keep, &quick())
        .await
        .unwrap();
    assert!(matches!(report, Housekeeping::Done(_)), "{report:?}");
    for m in merchants {
        assert_eq!(orders(&restarted, m).await, expected[m], "{m}");
    }
    assert_counts_exact(&restarted, &merchants).await;
    restarted.close().await;
}

/// PostgreSQL: an expired partition that cannot be dropped this pass (its table busy past
/// the lock timeout) leaves its rows in the merchant's count; the row cap must not trim
/// live rows in their place, and the next pass does both jobs.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_a_busy_expired_partition_defers_the_row_cap() {
    let Some(db) = TestDb::postgres().await else {
        return;
    };
    let s = &db.store;
    merchant(s, "m1").await;
    let now = (today() + 2) * DAY + HOUR;
    let keep = retention(35, 90, 5);
    // Ids interleave 4 expired rows (in the migration's `evaluations_before_<day>`) with 6
    // live ones; the cap keeps the newest 5 live ones.
    let runs: Vec<_> = (0..10i64)
        .map(|i| {
            let at = if i % 3 == 0 {
                now - 40 * DAY
            } else {
                now - DAY
            };
            run("m1", &format!("o{i}"), at + i)
        })
        .collect();
    s.insert_pending_evaluations(&runs, &keep).await.unwrap();
    let kept: Vec<String> = [8, 7, 5, 4, 2].iter().map(|i| format!("o{i}")).collect();

    let mut busy = db.pg_connection().await;
    sqlx::query("BEGIN").execute(&mut busy).await.unwrap();
    sqlx::query("LOCK TABLE evaluations IN ACCESS SHARE MODE")
        .execute(&mut busy)
        .await
        .unwrap();
    let hurried = HousekeepingOptions {
        lock_timeout: Duration::from_millis(100),
        ..quick()
    };
    let report = done(
        s.housekeep_evaluations("r1", now, &keep, &hurried)
            .await
            .unwrap(),
    );
    assert!(report.drops_deferred > 0, "{report:?}");
    assert_eq!(report.over_cap, 0, "{report:?}");
    let left = orders(s, "m1").await;
    for order in &kept {
        assert!(
            left.contains(order),
            "{order} trimmed while expired rows were left: {left:?}"
        );
    }
    assert_counts_exact(s, &["m1"]).await;

    sqlx::query("ROLLBACK").execute(&mut busy).await.unwrap();
    busy.close().await.unwrap();
    let report = done(
        s.housekeep_evaluations("r1", now, &keep, &hurried)
            .await
            .unwrap(),
    );
    assert_eq!(report.drops_deferred, 0, "{report:?}");
    assert_eq!(orders(s, "m1").await, kept);
    assert_counts_exact(s, &["m1"]).await;
    s.close().await;
}

async fn payloads_are_compressed_and_read_back_exactly(db: &TestDb) {
    let s = &db.store;
    merchant(s, "m1").await;
    // A 200-line bill: what compression is for.
    let items: Vec<_> = (0..200)
        .map(|i| {
            json!({"productId": format!("p{i}"), "productName": format!("Product number {i}"),
                        "quantity": 1, "unitPrice": 2.50, "totalPrice": 2.50, "category": "Bakery"})
        })
        .collect();
    let record = EvaluationRecord {
        merchant_id: "m1".into(),
        at: rabat_domain::clock::now_ms(),
        order_id: "big".into(),
        card_id: None,
        policy_version: None,
        outcome: "trap".into(),
        total_discount: None,
        fuel: None,
        duration_us: 1,
        request: json!({"orderId": "big", "currency": "EUR", "items": items, "total": 500.00}),
        card: None,
        response: None,
        logs: json!([{"level": "info", "message": "ü — 1.10"}]),
        error: Some("it broke".into()),
    };
    let pending = PendingEvaluation::from(&record);
    let encoded = pending.encode().unwrap();
    assert_eq!(encoded.currency.as_deref(), Some("EUR"));
    assert!(!encoded.answered);
    assert!(
        encoded.payload.len() * 5 < pending.request.len(),
        "{} bytes compressed from {}",
        encoded.payload.len(),
        pending.request.len()
    );
    s.insert_evaluations(std::slice::from_ref(&record))
        .await
        .unwrap();
    let listed = s
        .list_evaluations(
            "m1",
            &EvaluationQuery {
                limit: 5,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(listed.items[0].record, record);
    let one = s.evaluation("m1", listed.items[0].id).await.unwrap();
    assert_eq!(one.record, record);
    // Another merchant's id is not found, naming it.
    merchant(s, "m2").await;
    let err = s.evaluation("m2", listed.items[0].id).await.unwrap_err();
    assert!(is_not_found(&err, Entity::Evaluation), "{err}");
    assert!(
        err.to_string().contains(&listed.items[0].id.to_string()),
        "{err}"
    );
    // Replay reads the texts; the offer lookup finds no answer for a trap.
    let sources = s.replay_sources("m1", 0, i64::MAX, 10).await.unwrap();
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&sources[0].request).unwrap(),
        record.request
    );
    assert_eq!(sources[0].response, None);
    assert_eq!(s.latest_answer("m1", "big").await.unwrap(), None);
}

// ---------------------------------------------------------------------------------------
// Migration of logs written before this layout

/// Rows as the log held them before migration 0009 (JSON as text columns).
const OLD_ROWS: &str = "INSERT INTO evaluations (merchant_id, at, order_id, card_id,
        policy_version, outcome, total_discount, fuel, duration_us, request, card, response,
        logs, error) VALUES
    ('m1', AT1, 'o1', 'c1', 1, 'answer', '5.00', 1000, 90,
     '{\"orderId\":\"o1\",\"currency\":\"EUR\",\"total\":50.00}', '{\"cardId\":\"c1\",\"tier\":\"gold\"}',
     '{\"discounts\":[],\"totalDiscount\":5.00,\"message\":\"10%\"}', '[\"hello\"]', NULL),
    ('m1', AT2, 'o2', NULL, 1, 'trap', NULL, NULL, 80,
     '{\"orderId\":\"o2\",\"currency\":\"CZK\",\"total\":120}', NULL, NULL, '[]', 'it broke'),
    ('m2', AT2, 'x1', 'c9', 2, 'answer', '0.10', 5, 7,
     '{\"orderId\":\"x1\",\"currency\":\"EUR\",\"total\":1.10}', NULL,
     '{\"discounts\":[],\"totalDiscount\":0.10}', '[]', NULL)";

fn old_rows(recent: i64, old: i64) -> String {
    OLD_ROWS
        .replace("AT1", &recent.to_string())
        .replace("AT2", &old.to_string())
}

fn v(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap()
}

async fn check_migrated(store: &Store, recent: i64, old: i64) {
    let m1 = store
        .list_evaluations(
            "m1",
            &EvaluationQuery {
                limit: 10,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(m1.items.len(), 2);
    let (o2, o1) = (&m1.items[0], &m1.items[1]);
    assert_eq!(o1.record.order_id, "o1");
    assert_eq!(o1.record.at, recent);
    assert_eq!(o1.record.total_discount, Some(dec("5.00")));
    assert_eq!(o1.record.fuel, Some(1000));
    // Exactly the text that was stored (numbers as written: 50.00 stays 50.00).
    assert_eq!(
        o1.record.request,
        v(r#"{"orderId":"o1","currency":"EUR","total":50.00}"#)
    );
    assert_eq!(
        o1.record.card,
        Some(json!({"cardId": "c1", "tier": "gold"}))
    );
    assert_eq!(
        o1.record.response,
        Some(v(
            r#"{"discounts":[],"totalDiscount":5.00,"message":"10%"}"#
        ))
    );
    assert_eq!(o1.record.logs, json!(["hello"]));
    assert_eq!(o2.record.at, old);
    assert_eq!(o2.record.error.as_deref(), Some("it broke"));
    assert_eq!(o2.record.card, None);
    assert_eq!(o2.record.response, None);
    assert_eq!(store.evaluation("m1", o1.id).await.unwrap(), *o1);
    // The offer lookup, replay and the stats read the migrated rows.
    let (at, answer) = store.latest_answer("m1", "o1").await.unwrap().unwrap();
    assert_eq!(at, recent);
    assert_eq!(
        answer,
        r#"{"discounts":[],"totalDiscount":5.00,"message":"10%"}"#
    );
    let sources = store.replay_sources("m1", 0, i64::MAX, 10).await.unwrap();
    assert_eq!(sources.len(), 2);
    let stats = store.evaluation_stats("m1", 0).await.unwrap();
    assert_eq!(stats.discounts.len(), 1);
    assert_eq!(stats.discounts[0].currency, "EUR");
    assert_eq!(stats.discounts[0].amount, dec("5.00"));
    let counts: BTreeMap<String, u64> = store
        .evaluation_counts()
        .await
        .unwrap()
        .into_iter()
        .collect();
    assert_eq!(counts.get("m1"), Some(&2));
    assert_eq!(counts.get("m2"), Some(&1));
    // New rows continue the ids.
    store
        .insert_pending_evaluations(&[run("m1", "new", recent + 1)], &retention(35, 90, 1000))
        .await
        .unwrap();
    let newest = store
        .list_evaluations(
            "m1",
            &EvaluationQuery {
                limit: 1,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(newest.items[0].record.order_id, "new");
    assert!(newest.items[0].id > o1.id.max(o2.id));
    // Migrated rows expire 35 days after they ran: the old ones (60 days ago) at the first
    // pass, the recent one not.
    let now = rabat_domain::clock::now_ms();
    let report = store
        .housekeep_evaluations("r1", now, &retention(35, 90, 1000), &quick())
        .await
        .unwrap();
    let Housekeeping::Done(report) = report else {
        panic!("skipped")
    };
    assert_eq!(report.expired, 2, "{report:?}");
    let left: Vec<_> = orders(store, "m1").await;
    assert_eq!(left, ["new", "o1"]);
    assert!(orders(store, "m2").await.is_empty());
    assert_counts_exact(store, &["m1", "m2"]).await;
}

/// The last migration before the evaluation log's new layout.
const BEFORE: i64 = 8;

fn old_merchants(sql: &mut Vec<String>) {
    for m in ["m1", "m2"] {
        sql.push(format!(
            "INSERT INTO merchants (id, name, api_key_hash, created_at) VALUES ('{m}', '{m}', 'hash-{m}', 1)"
        ));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_existing_evaluation_logs_are_migrated() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("old.db");
    let url = format!("sqlite://{}?mode=rwc", path.display());
    let now = rabat_domain::clock::now_ms();
    let (recent, old) = (now - DAY, now - 60 * DAY);
    {
        let mut conn = sqlx::SqliteConnection::connect(&url).await.unwrap();
        sqlx::migrate!("./migrations/sqlite")
            .run_to(BEFORE, &mut conn)
            .await
            .unwrap();
        let mut sql = Vec::new();
        old_merchants(&mut sql);
        sql.push(old_rows(recent, old));
        for statement in sql {
            sqlx::query(sqlx::AssertSqlSafe(statement))
                .execute(&mut conn)
                .await
                .unwrap();
        }
        conn.close().await.unwrap();
    }
    let store = Store::connect(&format!("sqlite://{}", path.display()))
        .await
        .unwrap();
    check_migrated(&store, recent, old).await;
    store.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_existing_evaluation_logs_are_migrated() {
    let Ok(url) = std::env::var(super::common::db::PG_ENV) else {
        eprintln!("PostgreSQL variant not run");
        return;
    };
    let schema = format!(
        "rabat_test_migrate_{}_{}",
        std::process::id(),
        rabat_domain::clock::now_ms()
    );
    let now = rabat_domain::clock::now_ms();
    let (recent, old) = (now - DAY, now - 60 * DAY);
    {
        let mut conn = sqlx::PgConnection::connect(&url).await.unwrap();
        for statement in [
            format!("CREATE SCHEMA \"{schema}\""),
            format!("SET search_path TO \"{schema}\""),
        ] {
            sqlx::query(sqlx::AssertSqlSafe(statement))
                .execute(&mut conn)
                .await
                .unwrap();
        }
        sqlx::migrate!("./migrations/postgres")
            .run_to(BEFORE, &mut conn)
            .await
            .unwrap();
        let mut sql = Vec::new();
        old_merchants(&mut sql);
        sql.push(old_rows(recent, old));
        for statement in sql {
            sqlx::query(sqlx::AssertSqlSafe(statement))
                .execute(&mut conn)
                .await
                .unwrap();
        }
        conn.close().await.unwrap();
    }
    let mut options = StoreOptions::new(url.clone());
    options.postgres_schema = Some(schema.clone());
    let store = Store::connect_with(&options).await.unwrap();
    check_migrated(&store, recent, old).await;
    store.close().await;
    let mut conn = sqlx::PgConnection::connect(&url).await.unwrap();
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "DROP SCHEMA \"{schema}\" CASCADE"
    )))
    .execute(&mut conn)
    .await
    .unwrap();
}
