//! Points over time in the store (issue 19): lots consumed oldest first, a debt paid off
//! by the next earning, vesting (pending points are not spendable, a return takes back
//! from its bill's own lot), expiry writing one `expire` row per lot and keeping what open
//! holds need, two replicas expiring each lot once, and for every card SUM(lots) = balance
//! = the sum of its ledger rows throughout.

use rabat_domain::lots::{Expiry, PointsRules};
use rabat_store::{EntryKind, LedgerQuery, NewHold, NewReturn, Settlement, Store};

use super::{TestDb, audit, bill, card, merchant};

on_both_engines!(
    lots_are_consumed_oldest_first_and_a_debt_is_paid_off_first,
    pending_points_vest_and_a_return_takes_back_its_bills_own_lot,
    expiry_writes_one_row_per_lot_and_open_holds_keep_what_they_need,
    two_replicas_expire_each_lot_once,
);

const HOUR: i64 = 3_600_000;
const DAY: i64 = 24 * HOUR;

fn now() -> i64 {
    rabat_domain::clock::now_ms()
}

fn rules(expiry: Expiry, vesting_days: u32) -> PointsRules {
    PointsRules {
        expiry,
        vesting_days,
        time_zone: None,
    }
}

/// The card's ledger rows, oldest first.
async fn ledger(store: &Store, card_id: &str) -> Vec<rabat_store::LedgerEntry> {
    let query = LedgerQuery {
        card_id: Some(card_id),
        limit: 500,
        cursor: None,
    };
    let mut rows = store.list_transactions("m1", &query).await.unwrap().items;
    rows.reverse();
    rows
}

/// SUM(lots) = balance = SUM(ledger) for the card, and pending = its pending lots; the
/// balance.
async fn balanced(store: &Store, card_id: &str) -> i64 {
    let card = store.card("m1", card_id).await.unwrap().unwrap();
    let lots = store.card_lots("m1", card_id).await.unwrap();
    let ledger: i64 = ledger(store, card_id).await.iter().map(|e| e.points).sum();
    let in_lots: i64 = lots.iter().map(|l| l.remaining).sum();
    let pending: i64 = lots.iter().filter(|l| l.pending).map(|l| l.remaining).sum();
    assert_eq!(
        card.points, ledger,
        "{card_id}: balance = the sum of its ledger rows"
    );
    assert_eq!(
        card.points, in_lots,
        "{card_id}: balance = the sum of its lots"
    );
    assert_eq!(
        card.pending_points, pending,
        "{card_id}: pending = its pending lots"
    );
    card.points
}

fn remaining(lots: &[rabat_store::Lot]) -> Vec<i64> {
    lots.iter().map(|l| l.remaining).collect()
}

async fn hold(s: &Store, order: &str, points: u64, ttl: i64) -> i64 {
    s.hold_points("m1", "c1", order, now(), ttl, |available| {
        (
            Some(NewHold {
                points,
                offer: "{}".into(),
            }),
            available,
        )
    })
    .await
    .unwrap()
}

async fn lots_are_consumed_oldest_first_and_a_debt_is_paid_off_first(db: &TestDb) {
    let s = &db.store;
    merchant(s, "m1").await;
    card(s, "m1", "c1").await;
    s.adjust_points("m1", "c1", 100, "welcome", audit)
        .await
        .unwrap();
    s.record_transaction("m1", &bill("o1", "c1", "5.00", 50, now()))
        .await
        .unwrap();
    s.adjust_points("m1", "c1", 20, "goodwill", audit)
        .await
        .unwrap();
    assert_eq!(
        remaining(&s.card_lots("m1", "c1").await.unwrap()),
        [100, 50, 20]
    );
    // A redemption of 120 held points takes the oldest lot, then the next.
    assert_eq!(hold(s, "o2", 120, HOUR).await, 170);
    let settlement = Settlement {
        redeem: 120,
        ..Settlement::default()
    };
    s.record_bill("m1", &bill("o2", "c1", "2.00", 0, now()), &settlement)
        .await
        .unwrap();
    assert_eq!(remaining(&s.card_lots("m1", "c1").await.unwrap()), [30, 20]);
    assert_eq!(balanced(s, "c1").await, 50);
    // Taking more than the card has leaves a debt lot, paid off by the next earning first.
    s.adjust_points("m1", "c1", -80, "correction", audit)
        .await
        .unwrap();
    let lots = s.card_lots("m1", "c1").await.unwrap();
    assert_eq!(remaining(&lots), [-30]);
    assert_eq!(lots[0].source, rabat_store::LotSource::Debt);
    assert_eq!(balanced(s, "c1").await, -30);
    s.record_transaction("m1", &bill("o3", "c1", "5.00", 45, now()))
        .await
        .unwrap();
    assert_eq!(remaining(&s.card_lots("m1", "c1").await.unwrap()), [15]);
    assert_eq!(balanced(s, "c1").await, 15);
    // A balance set on the card moves the lots the same way.
    let mut c = s.card("m1", "c1").await.unwrap().unwrap();
    c.points = 40;
    s.upsert_card("m1", &c, Some(40), audit).await.unwrap();
    assert_eq!(remaining(&s.card_lots("m1", "c1").await.unwrap()), [15, 25]);
    assert_eq!(balanced(s, "c1").await, 40);
}

async fn pending_points_vest_and_a_return_takes_back_its_bills_own_lot(db: &TestDb) {
    let s = &db.store;
    merchant(s, "m1").await;
    card(s, "m1", "c1").await;
    s.adjust_points("m1", "c1", 100, "before vesting", audit)
        .await
        .unwrap();
    s.set_points_rules("m1", &rules(Expiry::Never, 14), audit)
        .await
        .unwrap();
    s.record_transaction("m1", &bill("o1", "c1", "30.00", 60, now()))
        .await
        .unwrap();
    let c = s.card("m1", "c1").await.unwrap().unwrap();
    assert_eq!(
        (c.points, c.pending_points, c.spendable_points()),
        (160, 60, 100)
    );
    // Pending points are not spendable: a hold sees 100.
    assert_eq!(hold(s, "o2", 10, HOUR).await, 100);
    let summary = s.points_summary("m1", "c1", now()).await.unwrap();
    assert_eq!(
        (
            summary.balance,
            summary.pending_points,
            summary.held_points,
            summary.available_points
        ),
        (160, 60, 10, 90)
    );
    // A return of half the bill takes 30 from the bill's own (pending) lot, not the oldest.
    let back = s
        .record_return(
            "m1",
            &NewReturn {
                return_id: "r1".into(),
                order_id: "o1".into(),
                request_hash: "h1".into(),
                lines: Some(vec![rabat_store::ReturnedLine {
                    line_id: "A".into(),
                    quantity: super::dec("1"),
                    bought: super::dec("2"),
                    value: super::dec("15.00"),
                }]),
            },
            audit,
        )
        .await
        .unwrap();
    assert_eq!(back.points_taken, 30);
    assert_eq!(
        remaining(&s.card_lots("m1", "c1").await.unwrap()),
        [100, 30]
    );
    assert_eq!(balanced(s, "c1").await, 130);
    assert_eq!(
        s.card("m1", "c1").await.unwrap().unwrap().pending_points,
        30
    );
    // Not yet: nothing vests before its day; then it does, once.
    assert_eq!(
        s.age_points(now() + 13 * DAY, 10)
            .await
            .unwrap()
            .lots_vested,
        0
    );
    let report = s.age_points(now() + 15 * DAY, 10).await.unwrap();
    assert_eq!((report.lots_vested, report.points_vested), (1, 30));
    assert_eq!(s.age_points(now() + 15 * DAY, 10).await.unwrap().cards, 0);
    let c = s.card("m1", "c1").await.unwrap().unwrap();
    assert_eq!((c.points, c.pending_points), (130, 0));
    assert_eq!(balanced(s, "c1").await, 130);
}

async fn expiry_writes_one_row_per_lot_and_open_holds_keep_what_they_need(db: &TestDb) {
    let s = &db.store;
    merchant(s, "m1").await;
    card(s, "m1", "c1").await;
    // Migrated-style points earned while nothing expired get an expiry from the change.
    s.adjust_points("m1", "c1", 40, "old points", audit)
        .await
        .unwrap();
    let dated = s
        .set_points_rules("m1", &rules(Expiry::Days(30), 0), audit)
        .await
        .unwrap();
    assert_eq!(dated, 1);
    // A later millisecond, so the two lots expire at two instants.
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    s.record_transaction("m1", &bill("o1", "c1", "6.00", 60, now()))
        .await
        .unwrap();
    let summary = s.points_summary("m1", "c1", now()).await.unwrap();
    let next = summary.next_expiry.unwrap();
    assert_eq!(next.points, 40);
    assert!(
        next.at > now() + 29 * DAY && next.at <= now() + 30 * DAY,
        "{next:?}"
    );
    // An open order holds 70 points for 40 days.
    assert_eq!(hold(s, "o2", 70, 40 * DAY).await, 100);
    // Both lots are due after 31 days: 30 of them may go, 70 stay for the hold.
    let report = s.age_points(now() + 31 * DAY, 10).await.unwrap();
    assert_eq!(
        (report.points_expired, report.points_kept_for_holds),
        (30, 70),
        "{report:?}"
    );
    assert_eq!(balanced(s, "c1").await, 70);
    // The same run again (another replica, a retry) expires nothing more.
    let again = s.age_points(now() + 31 * DAY, 10).await.unwrap();
    assert_eq!((again.points_expired, again.points_kept_for_holds), (0, 70));
    // The hold's bill redeems 50 of its 70 (the oldest lot's 10, then 40 of the next); the
    // hold ends, and what is left of the due lots expires on the next run.
    let settlement = Settlement {
        redeem: 50,
        ..Settlement::default()
    };
    s.record_bill("m1", &bill("o2", "c1", "1.00", 0, now()), &settlement)
        .await
        .unwrap();
    assert_eq!(balanced(s, "c1").await, 20);
    let report = s.age_points(now() + 31 * DAY, 10).await.unwrap();
    assert_eq!(
        (report.points_expired, report.points_kept_for_holds),
        (20, 0)
    );
    assert_eq!(balanced(s, "c1").await, 0);
    let expired: Vec<i64> = ledger(s, "c1")
        .await
        .iter()
        .filter(|e| e.kind == EntryKind::Expire)
        .map(|e| e.points)
        .collect();
    assert_eq!(expired.iter().sum::<i64>(), -50);
    assert!(s.card_lots("m1", "c1").await.unwrap().is_empty());
}

async fn two_replicas_expire_each_lot_once(db: &TestDb) {
    const CARDS: usize = 60;
    let a = db.store.clone();
    let b = db.reopen().await;
    merchant(&a, "m1").await;
    a.set_points_rules("m1", &rules(Expiry::Days(1), 0), audit)
        .await
        .unwrap();
    for i in 0..CARDS {
        let id = format!("c{i}");
        card(&a, "m1", &id).await;
        a.adjust_points("m1", &id, 10, "one lot", audit)
            .await
            .unwrap();
        a.adjust_points("m1", &id, 5, "another lot", audit)
            .await
            .unwrap();
    }
    let at = now() + 2 * DAY;
    let (ra, rb) = tokio::join!(
        tokio::spawn({
            let a = a.clone();
            async move { a.age_points(at, 7).await.unwrap() }
        }),
        tokio::spawn({
            let b = b.clone();
            async move { b.age_points(at, 7).await.unwrap() }
        }),
    );
    let (ra, rb) = (ra.unwrap(), rb.unwrap());
    assert_eq!(
        ra.lots_expired + rb.lots_expired,
        2 * CARDS as u64,
        "{ra:?} {rb:?}"
    );
    assert_eq!(ra.points_expired + rb.points_expired, 15 * CARDS as i64);
    for i in 0..CARDS {
        let id = format!("c{i}");
        assert_eq!(balanced(&a, &id).await, 0);
        let expires = ledger(&a, &id)
            .await
            .iter()
            .filter(|e| e.kind == EntryKind::Expire)
            .count();
        assert_eq!(expires, 2, "{id}: one expire row per lot");
    }
    b.close().await;
}

/// Migration 0015's starting point: a store as it was before lots.
const BEFORE_LOTS: i64 = 14;

fn old_cards() -> Vec<String> {
    let mut sql = vec![
        "INSERT INTO merchants (id, name, api_key_hash, created_at) VALUES ('m1', 'm1', 'hash-m1', 1)"
            .to_owned(),
    ];
    for (card, points) in [("c1", 120), ("c2", 0), ("c3", -15)] {
        sql.push(format!(
            "INSERT INTO cards (merchant_id, card_id, points, created_at, updated_at)
             VALUES ('m1', '{card}', {points}, 1, 1)"
        ));
        if points != 0 {
            sql.push(format!(
                "INSERT INTO ledger (merchant_id, kind, card_id, points, points_balance, reason,
                     occurred_at, recorded_at)
                 VALUES ('m1', 'adjustment', '{card}', {points}, {points}, 'old', 1, 1)"
            ));
        }
    }
    sql
}

/// Existing balances became one lot per card (a debt lot for a negative one), earned at
/// the migration, never expiring until the merchant turns expiry on.
async fn check_lots_migrated(store: &Store) {
    let before = now();
    let c1 = store.card_lots("m1", "c1").await.unwrap();
    assert_eq!(remaining(&c1), [120]);
    assert_eq!(c1[0].source, rabat_store::LotSource::Migrated);
    assert_eq!(c1[0].expires_at, None);
    assert!(c1[0].earned_at <= before && c1[0].earned_at > before - HOUR);
    assert!(store.card_lots("m1", "c2").await.unwrap().is_empty());
    let c3 = store.card_lots("m1", "c3").await.unwrap();
    assert_eq!(remaining(&c3), [-15]);
    assert_eq!(c3[0].source, rabat_store::LotSource::Debt);
    for card in ["c1", "c2", "c3"] {
        balanced(store, card).await;
    }
    // Turning expiry on dates the migrated lot from now: a full term, nothing shortened.
    let dated = store
        .set_points_rules("m1", &rules(Expiry::Days(30), 0), audit)
        .await
        .unwrap();
    assert_eq!(dated, 1);
    let at = store.card_lots("m1", "c1").await.unwrap()[0]
        .expires_at
        .unwrap();
    assert!(at >= before + 30 * DAY, "{at}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_existing_balances_become_lots() {
    use sqlx::Connection;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("old.db");
    let url = format!("sqlite://{}?mode=rwc", path.display());
    {
        let mut conn = sqlx::SqliteConnection::connect(&url).await.unwrap();
        sqlx::migrate!("./migrations/sqlite")
            .run_to(BEFORE_LOTS, &mut conn)
            .await
            .unwrap();
        for statement in old_cards() {
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
    check_lots_migrated(&store).await;
    store.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_existing_balances_become_lots() {
    use sqlx::Connection;
    let Ok(url) = std::env::var(super::common::db::PG_ENV) else {
        eprintln!("PostgreSQL variant not run");
        return;
    };
    let schema = format!("rabat_test_lots_{}_{}", std::process::id(), now());
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
            .run_to(BEFORE_LOTS, &mut conn)
            .await
            .unwrap();
        for statement in old_cards() {
            sqlx::query(sqlx::AssertSqlSafe(statement))
                .execute(&mut conn)
                .await
                .unwrap();
        }
        conn.close().await.unwrap();
    }
    let mut options = rabat_store::StoreOptions::new(url.clone());
    options.postgres_schema = Some(schema.clone());
    let store = Store::connect_with(&options).await.unwrap();
    check_lots_migrated(&store).await;
    store.close().await;
    let mut conn = sqlx::PgConnection::connect(&url).await.unwrap();
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "DROP SCHEMA \"{schema}\" CASCADE"
    )))
    .execute(&mut conn)
    .await
    .unwrap();
}
