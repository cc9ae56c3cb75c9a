//! Paying with points in the store: holds for open orders (check-and-hold under the card's
//! lock, expiry, a repeat replacing its hold), the redemption recorded with the bill
//! (bounded, exactly once), card changes from `accrue`, and concurrency on one card —
//! many open orders and bills at once, on PostgreSQL also through two pools standing for
//! two replicas — never spending the same points twice.

use rabat_store::{EntryKind, LedgerEntry, LedgerQuery, NewHold, Recorded, Settlement, Store};
use serde_json::json;

use super::{TestDb, audit, bill, card, merchant};

on_both_engines!(
    a_hold_keeps_points_from_other_orders_and_a_repeat_replaces_it,
    expired_holds_are_ignored,
    a_recorded_order_holds_nothing,
    redemption_is_bounded_recorded_once_and_releases_the_hold,
    card_changes_are_applied_noted_and_audited,
    concurrent_holds_never_offer_the_same_points_twice,
    concurrent_holds_and_bills_across_two_pools_never_overspend,
    a_hold_of_nothing_records_the_latest_offer_and_releases_are_bounded,
);

const HOUR: i64 = 3_600_000;
const NOW: i64 = 1_700_000_000_000;

/// Now, for holds a bill recorded now must find unexpired.
fn live() -> i64 {
    rabat_domain::clock::now_ms()
}

/// A card with `points` on it (set through the ledger, as the admin API does).
async fn card_with(store: &Store, merchant_id: &str, card_id: &str, points: i64) {
    let mut c = card(store, merchant_id, card_id).await;
    c.points = points;
    store
        .upsert_card(merchant_id, &c, Some(points), audit)
        .await
        .unwrap();
}

/// Holds `want` points for `order` if the card has them available at `now`; returns what
/// was available.
async fn try_hold(store: &Store, order: &str, want: u64, now: i64, ttl: i64) -> i64 {
    store
        .hold_points("m1", "c1", order, now, ttl, |available| {
            let fits = i64::try_from(want).unwrap() <= available;
            let hold = fits.then(|| NewHold {
                points: want,
                offer: json!({"heldPoints": want}).to_string(),
            });
            (hold, available)
        })
        .await
        .unwrap()
}

fn redeem(points: u64) -> Settlement {
    Settlement {
        redeem: points,
        ..Settlement::default()
    }
}

async fn ledger(store: &Store) -> Vec<LedgerEntry> {
    let query = LedgerQuery {
        card_id: Some("c1"),
        limit: 500,
        cursor: None,
    };
    store.list_transactions("m1", &query).await.unwrap().items
}

/// The invariant: the card's balance is the sum of its ledger rows.
async fn assert_balance_is_the_ledger(store: &Store) -> i64 {
    let balance = store.card("m1", "c1").await.unwrap().unwrap().points;
    let sum: i64 = ledger(store).await.iter().map(|e| e.points).sum();
    assert_eq!(
        balance, sum,
        "the card's balance is not the sum of its ledger"
    );
    balance
}

async fn a_hold_keeps_points_from_other_orders_and_a_repeat_replaces_it(db: &TestDb) {
    let s = &db.store;
    merchant(s, "m1").await;
    card_with(s, "m1", "c1", 1000).await;
    assert_eq!(try_hold(s, "a", 600, NOW, HOUR).await, 1000);
    assert_eq!(s.held_points("m1", "c1", NOW).await.unwrap(), 600);
    // Another order sees what is left; 500 does not fit, so it holds nothing.
    assert_eq!(try_hold(s, "b", 500, NOW, HOUR).await, 400);
    assert_eq!(s.hold("m1", "b").await.unwrap(), None);
    // The order itself does not count against itself: a repeat sees everything and
    // replaces its hold.
    assert_eq!(try_hold(s, "a", 300, NOW + 1, HOUR).await, 1000);
    let hold = s.hold("m1", "a").await.unwrap().unwrap();
    assert_eq!((hold.points, hold.created_at), (300, NOW + 1));
    assert_eq!(hold.offer, r#"{"heldPoints":300}"#);
    assert_eq!(try_hold(s, "b", 500, NOW, HOUR).await, 700);
    assert_eq!(s.held_points("m1", "c1", NOW).await.unwrap(), 800);
    // A repeat that holds nothing (its answer no longer costs points) releases the hold.
    s.hold_points("m1", "c1", "a", NOW, HOUR, |_| (None, ()))
        .await
        .unwrap();
    assert_eq!(s.hold("m1", "a").await.unwrap(), None);
    assert_eq!(s.held_points("m1", "c1", NOW).await.unwrap(), 500);
    // Holding is no ledger change.
    assert_eq!(assert_balance_is_the_ledger(s).await, 1000);
    // An unknown card is not found, and holds nothing.
    let unknown = s
        .hold_points("m1", "nope", "z", NOW, HOUR, |_| (None, ()))
        .await;
    assert!(unknown.is_err());
}

async fn expired_holds_are_ignored(db: &TestDb) {
    let s = &db.store;
    merchant(s, "m1").await;
    card_with(s, "m1", "c1", 1000).await;
    assert_eq!(try_hold(s, "a", 1000, NOW, 10).await, 1000);
    assert_eq!(try_hold(s, "b", 1, NOW + 9, HOUR).await, 0);
    assert_eq!(s.held_points("m1", "c1", NOW + 9).await.unwrap(), 1000);
    // Past its expiry the hold keeps nothing from others.
    assert_eq!(s.held_points("m1", "c1", NOW + 10).await.unwrap(), 0);
    assert_eq!(try_hold(s, "b", 1000, NOW + 10, HOUR).await, 1000);
    // The next hold on the card cleared the expired one away.
    assert_eq!(s.hold("m1", "a").await.unwrap(), None);

    // A bill completing after its hold expired redeems nothing: its points were free to
    // be offered again. (Bills are recorded now, so the hold expires 1 ms after `NOW`.)
    let now = rabat_domain::clock::now_ms();
    s.hold_points("m1", "c1", "late", now - 10, 5, |_| {
        (
            Some(NewHold {
                points: 100,
                offer: "{}".into(),
            }),
            (),
        )
    })
    .await
    .unwrap();
    let (_, settled) = s
        .record_bill("m1", &bill("late", "c1", "1.00", 0, now), &redeem(100))
        .await
        .unwrap();
    assert_eq!(settled.burn, None);
    assert_eq!(
        s.hold("m1", "late").await.unwrap(),
        None,
        "released all the same"
    );
    assert_eq!(assert_balance_is_the_ledger(s).await, 1000);
}

async fn a_recorded_order_holds_nothing(db: &TestDb) {
    let s = &db.store;
    merchant(s, "m1").await;
    card_with(s, "m1", "c1", 1000).await;
    s.record_transaction("m1", &bill("done", "c1", "10.00", 0, NOW))
        .await
        .unwrap();
    // A late endpoint-1 call for a completed order could never be redeemed.
    assert_eq!(try_hold(s, "done", 100, NOW, HOUR).await, 0);
    assert_eq!(s.hold("m1", "done").await.unwrap(), None);
}

async fn redemption_is_bounded_recorded_once_and_releases_the_hold(db: &TestDb) {
    let s = &db.store;
    merchant(s, "m1").await;
    card_with(s, "m1", "c1", 1000).await;
    try_hold(s, "a", 500, live(), HOUR).await;

    // accrue asks for more than was held: only the hold is taken.
    let record = bill("a", "c1", "20.00", 20, NOW);
    let (recorded, settled) = s.record_bill("m1", &record, &redeem(800)).await.unwrap();
    let Recorded::New(row) = recorded else {
        panic!("not recorded new")
    };
    assert_eq!(
        (row.kind, row.points, row.points_balance),
        (EntryKind::Transaction, 20, 1020)
    );
    let burn = settled.burn.expect("a burn row");
    assert_eq!(burn.kind, EntryKind::Burn);
    assert_eq!(burn.order_id.as_deref(), Some("a"));
    assert_eq!((burn.points, burn.points_balance), (-500, 520));
    assert_eq!(
        s.hold("m1", "a").await.unwrap(),
        None,
        "the hold is released"
    );
    assert_eq!(s.held_points("m1", "c1", NOW).await.unwrap(), 0);
    assert_eq!(assert_balance_is_the_ledger(s).await, 520);
    let kinds: Vec<_> = ledger(s)
        .await
        .iter()
        .filter(|e| e.order_id.as_deref() == Some("a"))
        .map(|e| (e.kind, e.points))
        .collect();
    assert_eq!(
        kinds,
        [(EntryKind::Burn, -500), (EntryKind::Transaction, 20)]
    );

    // The repeat of endpoint 2 is a duplicate: nothing is burnt again.
    let (again, settled) = s.record_bill("m1", &record, &redeem(800)).await.unwrap();
    assert!(matches!(again, Recorded::Duplicate(_)));
    assert_eq!(settled.burn, None);
    assert_eq!(assert_balance_is_the_ledger(s).await, 520);

    // Never below zero: the merchant took points away after the offer.
    try_hold(s, "b", 400, live(), HOUR).await;
    s.adjust_points("m1", "c1", -420, "correction", audit)
        .await
        .unwrap();
    let (_, settled) = s
        .record_bill("m1", &bill("b", "c1", "5.00", 0, NOW), &redeem(400))
        .await
        .unwrap();
    assert_eq!(
        settled.burn.map(|b| (b.points, b.points_balance)),
        Some((-100, 0))
    );
    assert_eq!(assert_balance_is_the_ledger(s).await, 0);

    // The offer not taken: redeem 0 burns nothing, and the hold is released all the same.
    card_with(s, "m1", "c1", 300).await;
    try_hold(s, "c", 300, live(), HOUR).await;
    let (_, settled) = s
        .record_bill("m1", &bill("c", "c1", "5.00", 5, NOW), &redeem(0))
        .await
        .unwrap();
    assert_eq!(settled.burn, None);
    assert_eq!(s.hold("m1", "c").await.unwrap(), None);
    // Without a hold (0.1 policies, free offers) a redemption takes nothing.
    let (_, settled) = s
        .record_bill("m1", &bill("d", "c1", "5.00", 0, NOW), &redeem(50))
        .await
        .unwrap();
    assert_eq!(settled.burn, None);
    assert_eq!(assert_balance_is_the_ledger(s).await, 305);

    // Holds are keyed by the ledger's order id (BIFIT's `bifit:<id>`): another POS's bill
    // with the same number neither takes nor releases it.
    try_hold(s, "bifit:77", 300, live(), HOUR).await;
    let settlement = Settlement {
        redeem: 300,
        ..Settlement::default()
    };
    let (_, settled) = s
        .record_bill("m1", &bill("77", "c1", "5.00", 0, NOW), &settlement)
        .await
        .unwrap();
    assert_eq!(settled.burn, None);
    assert!(s.hold("m1", "bifit:77").await.unwrap().is_some());
    let (_, settled) = s
        .record_bill("m1", &bill("bifit:77", "c1", "5.00", 0, NOW), &settlement)
        .await
        .unwrap();
    assert_eq!(
        settled.burn.map(|b| (b.order_id, b.points)),
        Some((Some("bifit:77".into()), -300))
    );
    assert_eq!(s.hold("m1", "bifit:77").await.unwrap(), None);
    assert_eq!(assert_balance_is_the_ledger(s).await, 5);
}

async fn card_changes_are_applied_noted_and_audited(db: &TestDb) {
    let s = &db.store;
    merchant(s, "m1").await;
    card_with(s, "m1", "c1", 0).await; // tier "gold", no tags
    let settlement = Settlement {
        set_tier: Some("platinum".into()),
        add_tags: vec!["birthday-month".into()],
        dropped: vec!["setTier '' dropped: must not be empty".into()],
        ..Settlement::default()
    };
    let (recorded, settled) = s
        .record_bill("m1", &bill("t1", "c1", "5.00", 1, NOW), &settlement)
        .await
        .unwrap();
    let expected = json!({
        "tier": {"from": "gold", "to": "platinum"},
        "addedTags": ["birthday-month"],
        "dropped": ["setTier '' dropped: must not be empty"],
    });
    assert_eq!(settled.card_changes.as_ref(), Some(&expected));
    assert_eq!(recorded.entry().card_changes.as_ref(), Some(&expected));
    let c = s.card("m1", "c1").await.unwrap().unwrap();
    assert_eq!(c.tier.as_deref(), Some("platinum"));
    assert_eq!(c.tags, ["birthday-month"]);
    // The ledger row shows it, read back.
    let row = s.ledger_by_order("m1", "t1").await.unwrap().unwrap();
    assert_eq!(row.card_changes, Some(expected.clone()));
    // Audited in the same transaction.
    let audit_rows = s.list_audit("m1", 10, None).await.unwrap().items;
    let change = audit_rows
        .iter()
        .find(|a| a.record.action == "card.policy_change")
        .expect("an audit row for the policy's card change");
    assert_eq!(change.record.actor, "policy");
    assert_eq!(change.record.detail["changes"], expected);
    // A repeat changes nothing again and writes no second audit row.
    s.record_bill("m1", &bill("t1", "c1", "5.00", 1, NOW), &settlement)
        .await
        .unwrap();
    let count = s
        .list_audit("m1", 50, None)
        .await
        .unwrap()
        .items
        .iter()
        .filter(|a| a.record.action == "card.policy_change")
        .count();
    assert_eq!(count, 1);
}

/// Many open orders of one card ask for points at once: what is held never exceeds the
/// balance, and exactly as many as fit get their hold.
async fn concurrent_holds_never_offer_the_same_points_twice(db: &TestDb) {
    merchant(&db.store, "m1").await;
    card_with(&db.store, "m1", "c1", 1000).await;
    let calls: Vec<_> = (0..24)
        .map(|i| {
            let store = db.store.clone();
            tokio::spawn(async move { try_hold(&store, &format!("o{i}"), 300, NOW, HOUR).await })
        })
        .collect();
    for call in calls {
        call.await.unwrap();
    }
    let held = db.store.held_points("m1", "c1", NOW).await.unwrap();
    assert_eq!(held, 900, "three holds of 300 fit in 1000, and no more");
}

/// Open orders hold and bills redeem at once, half of them through a second pool (on
/// PostgreSQL: a second replica): no point is spent twice, the balance never goes below
/// zero, and it stays the sum of its ledger.
async fn concurrent_holds_and_bills_across_two_pools_never_overspend(db: &TestDb) {
    merchant(&db.store, "m1").await;
    card_with(&db.store, "m1", "c1", 1000).await;
    let other = db.reopen().await;
    let stores = [db.store.clone(), other.clone()];
    // Each order holds 250 if it can, then its bill asks to redeem 250 (or more).
    let calls: Vec<_> = (0..16)
        .map(|i| {
            let store = stores[i % 2].clone();
            tokio::spawn(async move {
                let order = format!("o{i}");
                try_hold(&store, &order, 250, live(), HOUR).await;
                let record = bill(&order, "c1", "10.00", 0, NOW);
                let (_, settled) = store
                    .record_bill("m1", &record, &redeem(250 + i as u64))
                    .await
                    .unwrap();
                settled.burn.map_or(0, |b| -b.points)
            })
        })
        .collect();
    let mut burnt = 0;
    for call in calls {
        burnt += call.await.unwrap();
    }
    // Holds come free again as bills complete, so more than 4 orders may redeem, but
    // never more than the card had.
    assert!(burnt <= 1000, "burnt {burnt} of 1000 points");
    assert!(burnt >= 250, "at least the first order held and redeemed");
    assert_eq!(burnt % 250, 0, "every redemption is a whole hold");
    let balance = assert_balance_is_the_ledger(&db.store).await;
    assert_eq!(balance, 1000 - burnt);
    assert!(balance >= 0);
    assert_eq!(db.store.held_points("m1", "c1", NOW).await.unwrap(), 0);
    other.close().await;
}

/// A hold of 0 points (an answer that reserves nothing) replaces the order's hold and
/// records its offer, but writes nothing for an order without one; an order's hold and a
/// card's holds are released under the card's lock, saying what they kept.
async fn a_hold_of_nothing_records_the_latest_offer_and_releases_are_bounded(db: &TestDb) {
    let s = &db.store;
    merchant(s, "m1").await;
    card_with(s, "m1", "c1", 1000).await;
    let now = live();
    let nothing = |offer: &str| {
        let offer = offer.to_owned();
        move |_: i64| (Some(NewHold { points: 0, offer }), ())
    };
    s.hold_points("m1", "c1", "free", now, HOUR, nothing("{\"free\":1}"))
        .await
        .unwrap();
    assert_eq!(s.hold("m1", "free").await.unwrap(), None);
    assert!(!s.has_hold("m1", "free").await.unwrap());

    assert_eq!(try_hold(s, "a", 600, now, HOUR).await, 1000);
    assert!(s.has_hold("m1", "a").await.unwrap());
    s.hold_points("m1", "c1", "a", now + 1, HOUR, nothing("{\"later\":1}"))
        .await
        .unwrap();
    let hold = s.hold("m1", "a").await.unwrap().unwrap();
    assert_eq!((hold.points, hold.offer.as_str()), (0, "{\"later\":1}"));
    assert_eq!(s.held_points("m1", "c1", now).await.unwrap(), 0);
    // Redeeming from it takes nothing.
    let (_, settled) = s
        .record_bill("m1", &bill("a", "c1", "5.00", 0, now), &redeem(600))
        .await
        .unwrap();
    assert_eq!(settled.burn, None);
    assert_eq!(s.hold("m1", "a").await.unwrap(), None);

    // Releasing one order's hold, then all of a card's.
    try_hold(s, "b", 300, now, HOUR).await;
    try_hold(s, "c", 200, now, HOUR).await;
    assert_eq!(s.release_order_hold("m1", "b", now).await.unwrap(), 300);
    assert_eq!(s.release_order_hold("m1", "b", now).await.unwrap(), 0);
    try_hold(s, "d", 100, now, HOUR).await;
    let released = s.release_card_holds("m1", "c1", now, audit).await.unwrap();
    assert_eq!((released.orders, released.released_points), (2, 300));
    assert_eq!(s.held_points("m1", "c1", now).await.unwrap(), 0);
    let unknown = s.release_card_holds("m1", "nope", now, audit).await;
    assert!(unknown.is_err());
    assert_eq!(assert_balance_is_the_ledger(s).await, 1000);
}

/// SQLite: this process's writers take turns instead of racing for the database's one
/// write lock. With SQLite's busy handler off (a zero busy timeout), a writer that lost the
/// race would fail at once with "database is locked"; 32 concurrent holds on 32 cards must
/// all be written.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_writers_of_one_process_take_turns() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rabat.db");
    let mut options = rabat_store::StoreOptions::new(path.to_str().unwrap());
    options.busy_timeout = std::time::Duration::ZERO;
    let store = Store::connect_with(&options).await.unwrap();
    merchant(&store, "m1").await;
    for i in 0..32 {
        card_with(&store, "m1", &format!("c{i}"), 100).await;
    }
    let calls: Vec<_> = (0..32)
        .map(|i| {
            let store = store.clone();
            tokio::spawn(async move {
                store
                    .hold_points("m1", &format!("c{i}"), &format!("o{i}"), NOW, HOUR, |_| {
                        let hold = NewHold {
                            points: 10,
                            offer: json!({"heldPoints": 10}).to_string(),
                        };
                        (Some(hold), ())
                    })
                    .await
            })
        })
        .collect();
    let mut failed = Vec::new();
    for call in calls {
        if let Err(e) = call.await.unwrap() {
            failed.push(e.to_string());
        }
    }
    assert!(failed.is_empty(), "writers failed: {failed:?}");
    for i in 0..32 {
        let held = store
            .held_points("m1", &format!("c{i}"), NOW)
            .await
            .unwrap();
        assert_eq!(held, 10, "card c{i}");
    }
    store.close().await;
}
