//! Returns in the store (issue 19, first part): a bill returned in parts and then whole
//! takes back exactly what it earned by the cumulative floor and gives back what it burned;
//! more than was bought is refused naming the line; a repeat is the same return and
//! another body under its id a conflict; a card without the points records a shortfall and
//! never goes below zero; a whole return restores the bill's coupons; the card's balance
//! stays the sum of its ledger throughout.

use rabat_store::{LedgerQuery, NewHold, NewReturn, ReturnedLine, Settlement, Store, StoreError};

use super::{TestDb, audit, bill, card, dec, merchant};

on_both_engines!(
    a_bill_returned_in_parts_then_whole_takes_back_exactly_what_it_earned,
    a_card_without_the_points_records_a_shortfall,
    repeats_conflicts_unknown_orders_and_whole_returns_are_kept_apart,
);

const HOUR: i64 = 3_600_000;

fn now() -> i64 {
    rabat_domain::clock::now_ms()
}

fn line(id: &str, quantity: &str, bought: &str, value: &str) -> ReturnedLine {
    ReturnedLine {
        line_id: id.into(),
        quantity: dec(quantity),
        bought: dec(bought),
        value: dec(value),
    }
}

fn ret(id: &str, order: &str, lines: Option<Vec<ReturnedLine>>) -> NewReturn {
    NewReturn {
        return_id: id.into(),
        order_id: order.into(),
        request_hash: format!("hash-{id}"),
        lines,
    }
}

async fn balance_is_the_ledger(store: &Store) -> i64 {
    let balance = store.card("m1", "c1").await.unwrap().unwrap().points;
    let query = LedgerQuery {
        card_id: Some("c1"),
        limit: 500,
        cursor: None,
    };
    let sum: i64 = store
        .list_transactions("m1", &query)
        .await
        .unwrap()
        .items
        .iter()
        .map(|e| e.points)
        .sum();
    assert_eq!(balance, sum, "the balance is not the sum of the ledger");
    balance
}

/// A 30.00 bill on `c1` earning 100 points and paying 30 points it held.
async fn shop(s: &Store) {
    merchant(s, "m1").await;
    let mut c = card(s, "m1", "c1").await;
    c.points = 50;
    s.upsert_card("m1", &c, Some(50), audit).await.unwrap();
    s.hold_points("m1", "c1", "o1", now(), HOUR, |_| {
        (
            Some(NewHold {
                points: 30,
                offer: "{}".into(),
            }),
            (),
        )
    })
    .await
    .unwrap();
    let settlement = Settlement {
        redeem: 30,
        ..Settlement::default()
    };
    s.record_bill("m1", &bill("o1", "c1", "30.00", 100, now()), &settlement)
        .await
        .unwrap();
    // 50 + 100 earned - 30 burned.
    assert_eq!(balance_is_the_ledger(s).await, 120);
}

async fn a_bill_returned_in_parts_then_whole_takes_back_exactly_what_it_earned(db: &TestDb) {
    let s = &db.store;
    shop(s).await;
    // Line A: 2 bought for 20.00; line B: 1 for 10.00.
    let first = s
        .record_return(
            "m1",
            &ret("r1", "o1", Some(vec![line("A", "1", "2", "10.00")])),
            audit,
        )
        .await
        .unwrap();
    assert_eq!(
        (
            first.points_taken,
            first.points_given,
            first.whole,
            first.new
        ),
        (33, 10, false, true)
    );
    let second = s
        .record_return(
            "m1",
            &ret("r2", "o1", Some(vec![line("A", "1", "2", "10.00")])),
            audit,
        )
        .await
        .unwrap();
    assert_eq!((second.points_taken, second.points_given), (33, 10));
    // A third of line A is more than was bought.
    let more = s
        .record_return(
            "m1",
            &ret("r3", "o1", Some(vec![line("A", "1", "2", "10.00")])),
            audit,
        )
        .await;
    let Err(StoreError::Invalid(why)) = more else {
        panic!("returning more than bought must be refused: {more:?}");
    };
    assert_eq!(why, "line 'A': 1 returned of 2 bought (2 returned before)");
    // The rest, whole: exactly what is left of the 100 earned and the 30 burned.
    let rest = s
        .record_return("m1", &ret("r4", "o1", None), audit)
        .await
        .unwrap();
    assert_eq!(
        (rest.points_taken, rest.points_given, rest.whole, rest.value),
        (34, 10, true, dec("10.00"))
    );
    assert_eq!(balance_is_the_ledger(s).await, 120 - 100 + 30);
    let all = s.returns_of("m1", "o1").await.unwrap();
    assert_eq!(all.iter().map(|r| r.points_taken).sum::<i64>(), 100);
    assert_eq!(all.iter().map(|r| r.points_given).sum::<i64>(), 30);
}

async fn a_card_without_the_points_records_a_shortfall(db: &TestDb) {
    let s = &db.store;
    shop(s).await;
    // The customer spent most of the points since.
    s.adjust_points("m1", "c1", -110, "spent", audit)
        .await
        .unwrap();
    assert_eq!(balance_is_the_ledger(s).await, 10);
    let whole = s
        .record_return("m1", &ret("r1", "o1", None), audit)
        .await
        .unwrap();
    // 30 given back first (40), then 100 wanted: 40 taken, 60 short; never below zero.
    assert_eq!(
        (whole.points_given, whole.points_taken, whole.shortfall),
        (30, 40, 60)
    );
    assert_eq!(balance_is_the_ledger(s).await, 0);
}

async fn repeats_conflicts_unknown_orders_and_whole_returns_are_kept_apart(db: &TestDb) {
    let s = &db.store;
    shop(s).await;
    let whole = s
        .record_return("m1", &ret("r1", "o1", None), audit)
        .await
        .unwrap();
    let again = s
        .record_return("m1", &ret("r1", "o1", None), audit)
        .await
        .unwrap();
    assert!(!again.new);
    assert_eq!(again.points_taken, whole.points_taken);
    assert_eq!(balance_is_the_ledger(s).await, 120 - 100 + 30);
    let mut other = ret("r1", "o1", None);
    other.request_hash = "another".into();
    let conflict = s.record_return("m1", &other, audit).await;
    assert!(
        matches!(conflict, Err(StoreError::Conflict { .. })),
        "{conflict:?}"
    );
    let after_whole = s.record_return("m1", &ret("r2", "o1", None), audit).await;
    assert!(
        matches!(&after_whole, Err(StoreError::Invalid(why)) if why.contains("returned whole already")),
        "{after_whole:?}"
    );
    let unknown = s.record_return("m1", &ret("r3", "nope", None), audit).await;
    assert!(
        matches!(unknown, Err(StoreError::NotFound { .. })),
        "{unknown:?}"
    );
}
