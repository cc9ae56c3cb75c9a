//! The evaluation log at a thousand merchants (issue 23), on one engine per run:
//!
//!   RABAT_BENCH_DATABASE_URL=/tmp/evlog.db cargo bench -p rabat-store --bench evaluation_log
//!   RABAT_BENCH_DATABASE_URL=postgres://… cargo bench -p rabat-store --bench evaluation_log
//!
//! (`bench/evaluation-log.sh` runs both.) It builds the log as migration 0009 lays it out:
//! `RABAT_BENCH_MERCHANTS` merchants (1 000) × `RABAT_BENCH_ROWS` rows (10 000) spread
//! over the last 30 days, plus one busy merchant with `RABAT_BENCH_BUSY_PER_DAY` (1 000)
//! bills a day for 30 days, each row a real compressed 3-item bill; then times:
//!
//! * one housekeeping pass with nothing to remove;
//! * one pass that removes a day (a dropped partition on PostgreSQL, a batched range delete
//!   on SQLite), with endpoint 2's bills (the group commit, one bill at a time per
//!   till, 4 tills, each first reading the order's hold and latest logged answer as
//!   endpoint 2 does) recorded meanwhile: their p50 / p99 / max latency, against the same
//!   without housekeeping;
//! * the console's list (all, by outcome, one run by id), its stats over 14 and 30 days,
//!   a replay page and the offer lookup, for a typical and for the busy merchant;
//! * before: the old prune statement (`ROW_NUMBER() OVER (PARTITION BY merchant_id …)`,
//!   keep 10 000) over the same rows, as a read that deletes nothing — what every replica
//!   ran every minute, holding SQLite's writer throughout.
//!
//! A SQLite file given is replaced; on PostgreSQL the run uses a schema of its own,
//! dropped at the end.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

use std::time::{Duration, Instant};

use rabat_domain::model::{Card, Pos};
use rabat_store::credentials;
use rabat_store::{
    AuditRecord, EvaluationQuery, EvaluationRecord, EvaluationRetention, GroupCommit, Housekeeping,
    HousekeepingOptions, PendingEvaluation, Store, StoreOptions, TransactionRecord,
};
use serde_json::json;

const DAY: i64 = 86_400_000;

fn env(name: &str, default: i64) -> i64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn audit<T>(_: &T) -> AuditRecord {
    AuditRecord::now("bench", "bench.setup", json!({}))
}

/// Median of `n` runs of `f`, in ms.
async fn median<F, Fut>(n: usize, mut f: F) -> f64
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let mut times = Vec::with_capacity(n);
    for _ in 0..n {
        let t = Instant::now();
        f().await;
        times.push(ms(t.elapsed()));
    }
    times.sort_by(f64::total_cmp);
    times[n / 2]
}

fn payload() -> Vec<u8> {
    let record = EvaluationRecord {
        merchant_id: "m".into(),
        at: 0,
        order_id: "A-1001".into(),
        card_id: Some("card-1".into()),
        policy_version: Some(1),
        outcome: "answer".into(),
        total_discount: Some("5.00".parse().unwrap()),
        fuel: Some(40_000),
        duration_us: 30,
        request: json!({"orderId": "A-1001", "currency": "EUR", "total": 50.00,
            "items": [
                {"productId": "p1", "productName": "Croissant", "quantity": 2, "unitPrice": 2.50, "totalPrice": 5.00, "category": "Bakery"},
                {"productId": "p2", "productName": "Coffee", "quantity": 3, "unitPrice": 10.00, "totalPrice": 30.00, "category": "Drinks"},
                {"productId": "p3", "productName": "Cake", "quantity": 1, "unitPrice": 15.00, "totalPrice": 15.00, "category": "Bakery"}]}),
        card: Some(json!({"cardId": "card-1", "tier": "gold", "points": 120, "visits": 14})),
        response: Some(
            json!({"discounts": [{"type": "percentage_on_bill", "appliesTo": "bill",
            "percentage": 10, "amount": 5.00, "description": "10% gold member discount"}],
            "totalDiscount": 5.00, "message": "10% gold member discount"}),
        ),
        logs: json!([]),
        error: None,
    };
    PendingEvaluation::from(&record).encode().unwrap().payload
}

// `n` rows for one merchant, `at` evenly spread from `start` by `step`, ids in `at` order.
// One outcome in 20 is a trap. Written straight in SQL (a recursive series, the same on
// both engines) with the payload bound once: the writer's path is not what is measured.
const FILL: &str =
    "WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i + 1 < $4)
    INSERT INTO evaluations (merchant_id, at, expires_at, order_id, card_id, policy_version,
        outcome, total_discount, currency, fuel, duration_us, answered, error, payload)
    SELECT $1, $2 + i * $3, $2 + i * $3 + 35 * CAST(86400000 AS BIGINT), 'o-' || i, 'card-1', 1,
           CASE WHEN i % 20 = 0 THEN 'trap' ELSE 'answer' END,
           CASE WHEN i % 20 = 0 THEN NULL ELSE '5.00' END, 'EUR', 40000, 30,
           i % 20 <> 0, NULL, $5
    FROM n";

const OLD_PRUNE_READ: &str = "SELECT COUNT(*) FROM (
        SELECT id, ROW_NUMBER() OVER (PARTITION BY merchant_id ORDER BY id DESC) AS n
        FROM evaluations) ranked
    WHERE n > 10000";

#[tokio::main(flavor = "multi_thread", worker_threads = 4)]
async fn main() {
    let url = std::env::var("RABAT_BENCH_DATABASE_URL")
        .unwrap_or_else(|_| "/tmp/rabat-evlog-bench.db".into());
    let merchants = env("RABAT_BENCH_MERCHANTS", 1000);
    let rows = env("RABAT_BENCH_ROWS", 10_000);
    let busy_per_day = env("RABAT_BENCH_BUSY_PER_DAY", 1000);
    let postgres = url.starts_with("postgres");
    let schema = format!("rabat_bench_{}", std::process::id());
    let mut options = StoreOptions::new(url.clone());
    options.max_connections = 16;
    if postgres {
        options.postgres_schema = Some(schema.clone());
    } else {
        let _ = std::fs::remove_file(&url);
        let _ = std::fs::remove_file(format!("{url}-wal"));
        let _ = std::fs::remove_file(format!("{url}-shm"));
    }
    let store = Store::connect_with(&options).await.unwrap();
    let engine = store.engine().as_str();
    println!(
        "engine: {engine}; {merchants} merchants x {rows} rows + 1 busy merchant x 30 days x {busy_per_day}"
    );

    // Merchants, and a card for the busy one's till.
    let t = Instant::now();
    let ids: Vec<String> = (0..merchants).map(|i| format!("m{i:04}")).collect();
    for id in ids.iter().chain(std::iter::once(&"busy".to_owned())) {
        let key = credentials::new_api_key();
        let pos = credentials::new_pos_token();
        store
            .create_merchant(id, id, &key.hash, &pos.hash, audit)
            .await
            .unwrap();
    }
    for c in 0..4 {
        let card = Card::new(format!("till-{c}"));
        store.upsert_card("busy", &card, None, audit).await.unwrap();
    }
    let now = rabat_domain::clock::now_ms();
    let start = now - 30 * DAY;
    let blob = payload();
    println!("payload: {} bytes (a 3-item bill, compressed)", blob.len());
    let raw = Raw::open(&url, postgres.then_some(schema.as_str())).await;
    let fill = |merchant: String, n: i64, step: i64| {
        let raw = raw.clone();
        let blob = blob.clone();
        async move { raw.fill(&merchant, start, step, n, &blob).await }
    };
    for chunk in ids.chunks(8) {
        let mut tasks = Vec::new();
        for id in chunk {
            tasks.push(tokio::spawn(fill(id.clone(), rows, 30 * DAY / rows.max(1))));
        }
        for task in tasks {
            task.await.unwrap();
        }
    }
    fill("busy".into(), 30 * busy_per_day, DAY / busy_per_day.max(1)).await;
    raw.execute(
        "INSERT INTO evaluation_counts (merchant_id, logged)
         SELECT merchant_id, COUNT(*) FROM evaluations GROUP BY merchant_id
         ON CONFLICT (merchant_id) DO UPDATE SET logged = excluded.logged",
    )
    .await;
    if postgres {
        raw.execute("ANALYZE evaluations").await;
    } else {
        raw.execute("ANALYZE").await;
    }
    println!("built in {:.0} s", t.elapsed().as_secs_f64());

    let retention = EvaluationRetention {
        default_days: 35,
        max_days: 90,
        max_rows: 200_000,
    };
    let options = HousekeepingOptions::default();

    // Before: the old prune's read over the same rows.
    let old = median(3, || async {
        raw.scalar(OLD_PRUNE_READ).await;
    })
    .await;
    println!("| before: old prune statement (deletes nothing) | {old:.0} ms |");

    // A pass with nothing to remove (the first one also creates partitions ahead).
    store
        .housekeep_evaluations("bench", now, &retention, &options)
        .await
        .unwrap();
    let idle = median(5, || async {
        let done = store
            .housekeep_evaluations("bench", now, &retention, &options)
            .await
            .unwrap();
        assert!(
            matches!(done, Housekeeping::Done(ref r) if r.expired == 0 && r.over_cap == 0),
            "{done:?}"
        );
    })
    .await;
    println!("| housekeeping pass, nothing to remove | {idle:.1} ms |");

    // Endpoint 2's bills, without housekeeping.
    let commit = GroupCommit::start(store.clone());
    let baseline = bills(&store, &commit, Duration::from_secs(5), None).await;
    println!(
        "| endpoint-2 bills, no housekeeping: p50 / p99 / max | {} |",
        baseline.show()
    );

    // The oldest expiry day: its day is over one day after the first row's expiry day.
    let first_day = (start + 35 * DAY).div_euclid(DAY);
    let later = (first_day + 1) * DAY + 3_600_000;
    let pass = {
        let store = store.clone();
        tokio::spawn(async move {
            let t = Instant::now();
            let done = store
                .housekeep_evaluations("bench", later, &retention, &options)
                .await
                .unwrap();
            (done, t.elapsed())
        })
    };
    let during = bills(&store, &commit, Duration::from_secs(3600), Some(&pass)).await;
    let (done, took) = pass.await.unwrap();
    let Housekeeping::Done(report) = done else {
        panic!("skipped")
    };
    println!(
        "| housekeeping pass removing a day ({} rows, {} partitions dropped) | {:.0} ms |",
        report.expired,
        report.partitions_dropped,
        ms(took)
    );
    println!(
        "| endpoint-2 bills during that pass: p50 / p99 / max | {} |",
        during.show()
    );

    // The console's reads, a typical merchant and the busy one.
    for merchant in ["m0500", "busy"] {
        let merchant = if merchant == "m0500" && merchants <= 500 {
            "m0000"
        } else {
            merchant
        };
        let list = median(20, || async {
            store
                .list_evaluations(
                    merchant,
                    &EvaluationQuery {
                        limit: 50,
                        ..Default::default()
                    },
                )
                .await
                .unwrap();
        })
        .await;
        let traps = median(20, || async {
            let q = EvaluationQuery {
                limit: 50,
                outcome: Some("trap"),
                cursor: None,
            };
            store.list_evaluations(merchant, &q).await.unwrap();
        })
        .await;
        let newest = store
            .list_evaluations(
                merchant,
                &EvaluationQuery {
                    limit: 1,
                    ..Default::default()
                },
            )
            .await
            .unwrap()
            .items[0]
            .id;
        let one = median(20, || async {
            store.evaluation(merchant, newest).await.unwrap();
        })
        .await;
        let stats14 = median(5, || async {
            store
                .evaluation_stats(merchant, now - 14 * DAY)
                .await
                .unwrap();
        })
        .await;
        let stats30 = median(5, || async {
            store
                .evaluation_stats(merchant, now - 30 * DAY)
                .await
                .unwrap();
        })
        .await;
        let replay = median(5, || async {
            store
                .replay_sources(merchant, now - 30 * DAY, i64::MAX, 200)
                .await
                .unwrap();
        })
        .await;
        let offer = median(20, || async {
            store.latest_answer(merchant, "o-77").await.unwrap();
        })
        .await;
        println!(
            "| {merchant}: list 50 {list:.2} ms · by outcome {traps:.2} ms · one run {one:.2} ms · stats 14 d {stats14:.1} ms · stats 30 d {stats30:.1} ms · replay page (200) {replay:.1} ms · offer lookup {offer:.2} ms |"
        );
    }
    drop(commit);
    store.close().await;
    raw.close().await;
    if postgres {
        let mut conn = <sqlx::PgConnection as sqlx::Connection>::connect(&url)
            .await
            .unwrap();
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "DROP SCHEMA \"{schema}\" CASCADE"
        )))
        .execute(&mut conn)
        .await
        .unwrap();
    }
}

/// The bench's own connection to the same database, for what no store call does: filling
/// the table in bulk, the old prune's statement.
#[derive(Clone)]
enum Raw {
    Sqlite(sqlx::SqlitePool),
    Postgres(sqlx::PgPool),
}

impl Raw {
    async fn open(url: &str, schema: Option<&str>) -> Raw {
        use std::str::FromStr;
        match schema {
            Some(schema) => {
                let options = sqlx::postgres::PgConnectOptions::from_str(url)
                    .unwrap()
                    .options([("search_path", schema)]);
                Raw::Postgres(
                    sqlx::postgres::PgPoolOptions::new()
                        .max_connections(8)
                        .connect_with(options)
                        .await
                        .unwrap(),
                )
            }
            None => {
                let options = sqlx::sqlite::SqliteConnectOptions::new()
                    .filename(url)
                    .journal_mode(sqlx::sqlite::SqliteJournalMode::Wal)
                    .busy_timeout(Duration::from_secs(60));
                Raw::Sqlite(
                    sqlx::sqlite::SqlitePoolOptions::new()
                        .max_connections(1)
                        .connect_with(options)
                        .await
                        .unwrap(),
                )
            }
        }
    }

    async fn fill(&self, merchant: &str, start: i64, step: i64, n: i64, payload: &[u8]) {
        match self {
            Raw::Sqlite(pool) => {
                sqlx::query(FILL)
                    .bind(merchant)
                    .bind(start)
                    .bind(step)
                    .bind(n)
                    .bind(payload)
                    .execute(pool)
                    .await
                    .unwrap();
            }
            Raw::Postgres(pool) => {
                sqlx::query(FILL)
                    .bind(merchant)
                    .bind(start)
                    .bind(step)
                    .bind(n)
                    .bind(payload)
                    .execute(pool)
                    .await
                    .unwrap();
            }
        }
    }

    async fn execute(&self, sql: &'static str) {
        match self {
            Raw::Sqlite(pool) => drop(sqlx::query(sql).execute(pool).await.unwrap()),
            Raw::Postgres(pool) => drop(sqlx::query(sql).execute(pool).await.unwrap()),
        }
    }

    async fn scalar(&self, sql: &'static str) -> i64 {
        match self {
            Raw::Sqlite(pool) => sqlx::query_scalar(sql).fetch_one(pool).await.unwrap(),
            Raw::Postgres(pool) => sqlx::query_scalar(sql).fetch_one(pool).await.unwrap(),
        }
    }

    async fn close(&self) {
        match self {
            Raw::Sqlite(pool) => pool.close().await,
            Raw::Postgres(pool) => pool.close().await,
        }
    }
}

struct Latencies(Vec<f64>);

impl Latencies {
    fn show(&self) -> String {
        let mut v = self.0.clone();
        v.sort_by(f64::total_cmp);
        if v.is_empty() {
            return "no bills".into();
        }
        let at = |q: f64| v[((v.len() as f64 - 1.0) * q) as usize];
        format!(
            "{:.1} / {:.1} / {:.1} ms ({} bills)",
            at(0.5),
            at(0.99),
            v[v.len() - 1],
            v.len()
        )
    }
}

/// Four tills recording bills one after another on the busy merchant's cards, for `for_at_most`
/// or until `until` finishes.
async fn bills(
    store: &Store,
    commit: &GroupCommit,
    for_at_most: Duration,
    until: Option<&tokio::task::JoinHandle<(Housekeeping, Duration)>>,
) -> Latencies {
    static SEQ: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let started = Instant::now();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut tills = Vec::new();
    for till in 0..4 {
        let commit = commit.clone();
        let store = store.clone();
        let stop = stop.clone();
        tills.push(tokio::spawn(async move {
            let mut out = Vec::new();
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let n = SEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let order = format!("bill-{n}");
                let record = TransactionRecord {
                    order_id: order.clone(),
                    card_id: format!("till-{till}"),
                    request_hash: format!("hash-{order}"),
                    total: "12.50".parse().unwrap(),
                    points: 12,
                    points_reason: None,
                    occurred_at: rabat_domain::clock::now_ms(),
                    pos: Pos::Papaya,
                    request: Some(json!({"orderId": order, "total": 12.50})),
                    accrual_error: None,
                    settlement: Default::default(),
                };
                // Endpoint 2's storage work: the order's offer (its hold, its latest logged
                // answer, which reads the log), then the bill through the group commit.
                let t = Instant::now();
                store.hold("busy", &order).await.unwrap();
                store.latest_answer("busy", &order).await.unwrap();
                commit.record("busy", record).await.unwrap();
                out.push(ms(t.elapsed()));
            }
            out
        }));
    }
    loop {
        tokio::time::sleep(Duration::from_millis(20)).await;
        let finished = until.is_some_and(|task| task.is_finished());
        if finished || started.elapsed() >= for_at_most {
            break;
        }
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let mut all = Vec::new();
    for till in tills {
        all.extend(till.await.unwrap());
    }
    Latencies(all)
}
