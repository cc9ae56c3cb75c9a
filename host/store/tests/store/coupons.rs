//! Coupons in the store (issue 18): batches generated from a pattern or imported (all or
//! nothing, naming the line of a code that exists), the wallet, a code held for one open
//! order under the card's lock and redeemed once by the bill that took it, codes refused
//! with the reason (held elsewhere, redeemed, expired, voided, another card's, another
//! merchant's, unknown), audited void and restore, coupons issued by a bill, and — the
//! invariant — 32 tills on two pools (two replicas on PostgreSQL) offering one code: it
//! is redeemed at most its number of uses, ever.

use rabat_domain::coupon::{CouponValue, Profile};
use rabat_store::{
    CouponFilter, CouponState, NewBatch, NewCodes, NewHold, Reserved, Settlement, Store, StoreError,
};

use super::{TestDb, audit, bill, card, dec, merchant};

on_both_engines!(
    batches_are_generated_or_imported_whole_and_listed_in_pages,
    a_code_is_held_for_one_order_and_redeemed_once_by_its_bill,
    unusable_codes_are_refused_with_the_reason,
    void_and_restore_are_audited_and_bounded,
    a_bill_issues_coupons_from_a_batch_into_the_wallet,
    thirty_two_tills_on_two_pools_redeem_a_code_at_most_its_uses,
    the_card_extras_show_available_points_wallet_and_profile,
);

const HOUR: i64 = 3_600_000;

fn now() -> i64 {
    rabat_domain::clock::now_ms()
}

fn five(name: &str, pattern: Option<&str>, uses: i64) -> NewBatch {
    NewBatch {
        name: name.to_owned(),
        value: CouponValue::Amount { amount: dec("5") },
        min_bill: Some(dec("10")),
        valid_from: None,
        valid_until: None,
        valid_days: Some(30),
        uses_per_code: uses,
        pattern: pattern.map(str::to_owned),
    }
}

/// An import of `codes`, numbered from CSV line 2 (after a header).
fn import(codes: &[&str]) -> NewCodes {
    NewCodes::Import(
        codes
            .iter()
            .enumerate()
            .map(|(i, c)| (i + 2, (*c).to_owned()))
            .collect(),
    )
}

/// Reserves `code` for `order` of `card_id` at `at` when usable: `Err(reason)` otherwise.
async fn try_code(
    store: &Store,
    order: &str,
    card_id: &str,
    code: &str,
    at: i64,
) -> Result<(), String> {
    let code = code.to_owned();
    store
        .reserve(
            "m1",
            card_id,
            order,
            at,
            HOUR,
            &[],
            std::slice::from_ref(&code),
            |available| {
                let check = available.coupons[0].clone();
                assert_eq!(check.code, code);
                let usable = check.usable.is_ok();
                Reserved {
                    hold: usable.then(|| NewHold {
                        points: 0,
                        offer: "{}".into(),
                    }),
                    reservations: Vec::new(),
                    coupons: if usable {
                        vec![code.clone()]
                    } else {
                        Vec::new()
                    },
                    out: check.usable.map(|_| ()),
                }
            },
        )
        .await
        .unwrap()
}

fn redeeming(code: &str) -> Settlement {
    Settlement {
        redeem_coupons: vec![code.to_owned()],
        ..Settlement::default()
    }
}

async fn batches_are_generated_or_imported_whole_and_listed_in_pages(db: &TestDb) {
    let s = &db.store;
    merchant(s, "m1").await;
    let generated = s
        .create_coupon_batch(
            "m1",
            &five("welcome", Some("welcome-#####-#####"), 1),
            NewCodes::Generate(120),
            audit,
        )
        .await
        .unwrap();
    assert_eq!(
        (generated.codes, generated.issued, generated.redeemed),
        (120, 0, 0)
    );
    assert_eq!(generated.pattern.as_deref(), Some("WELCOME-#####-#####"));
    // Paged in code order, every code of the pattern's shape, all distinct.
    let mut all = Vec::new();
    let mut cursor = None;
    loop {
        let page = s
            .coupons(
                "m1",
                CouponFilter::Batch(generated.id),
                cursor.as_deref(),
                50,
            )
            .await
            .unwrap();
        all.extend(page.items);
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    assert_eq!(all.len(), 120);
    assert!(all.windows(2).all(|w| w[0].code < w[1].code));
    assert!(
        all.iter()
            .all(|c| c.code.len() == 19 && c.code.starts_with("WELCOME-"))
    );
    assert!(
        all.iter()
            .all(|c| c.state == CouponState::Available && c.card_id.is_none())
    );
    // A name is the merchant's once.
    let again = s
        .create_coupon_batch("m1", &five("welcome", None, 1), NewCodes::None, audit)
        .await;
    assert!(
        matches!(again, Err(StoreError::Conflict { .. })),
        "{again:?}"
    );
    // An import with one code that exists (in any batch) imports nothing, naming the line.
    let flyer = s
        .create_coupon_batch(
            "m1",
            &five("flyer", None, 1),
            import(&["SPRING-1", "SPRING-2"]),
            audit,
        )
        .await
        .unwrap();
    assert_eq!(flyer.codes, 2);
    let clash = s
        .add_coupon_codes(
            "m1",
            flyer.id,
            import(&["SPRING-3", "SPRING-2", &all[7].code]),
            audit,
        )
        .await;
    let Err(StoreError::Invalid(why)) = clash else {
        panic!("an import of existing codes must be refused, got {clash:?}");
    };
    assert!(
        why.contains("line 3: code 'SPRING-2' exists already"),
        "{why}"
    );
    assert!(why.contains("line 4"), "{why}");
    assert_eq!(s.coupon_batch("m1", flyer.id).await.unwrap().codes, 2);
    // An imported batch cannot generate.
    let generate = s
        .add_coupon_codes("m1", flyer.id, NewCodes::Generate(1), audit)
        .await;
    assert!(
        matches!(generate, Err(StoreError::Conflict { .. })),
        "{generate:?}"
    );
    let listed = s.coupon_batches("m1").await.unwrap();
    assert_eq!(
        listed.iter().map(|b| b.name.as_str()).collect::<Vec<_>>(),
        ["flyer", "welcome"]
    );
}

async fn a_code_is_held_for_one_order_and_redeemed_once_by_its_bill(db: &TestDb) {
    let s = &db.store;
    merchant(s, "m1").await;
    card(s, "m1", "c1").await;
    card(s, "m1", "c2").await;
    let batch = s
        .create_coupon_batch(
            "m1",
            &five("welcome", Some("W-##########"), 1),
            NewCodes::None,
            audit,
        )
        .await
        .unwrap();
    let issued = s.issue_coupon("m1", batch.id, "c1", audit).await.unwrap();
    assert_eq!(issued.card_id.as_deref(), Some("c1"));
    // 30 days from issue.
    let until = issued.valid_until.unwrap();
    assert!((until - issued.issued_at.unwrap() - 30 * 24 * HOUR).abs() < 1000);
    let code = issued.code.clone();
    let t = now();
    try_code(s, "a", "c1", &code, t).await.unwrap();
    assert_eq!(
        s.coupon("m1", &code).await.unwrap().state,
        CouponState::Held
    );
    // Another open order of the card: held elsewhere. Another card: not its code.
    let b = try_code(s, "b", "c1", &code, t).await.unwrap_err();
    assert_eq!(b, format!("coupon {code} is held by another open bill"));
    let other = try_code(s, "x", "c2", &code, t).await.unwrap_err();
    assert_eq!(other, format!("coupon {code} is another card's"));
    // The order itself may answer again: its own hold does not count against it.
    try_code(s, "a", "c1", &code, t + 1).await.unwrap();
    // A bill that did not take it redeems nothing and releases it.
    let (_, _) = s
        .record_bill(
            "m1",
            &bill("b-other", "c1", "20.00", 0, t),
            &redeeming(&code),
        )
        .await
        .unwrap();
    assert_eq!(s.coupon("m1", &code).await.unwrap().uses, 0);
    // Its own bill redeems it, once; a repeat of the bill takes nothing more.
    let record = bill("a", "c1", "20.00", 0, t);
    s.record_bill("m1", &record, &redeeming(&code))
        .await
        .unwrap();
    s.record_bill("m1", &record, &redeeming(&code))
        .await
        .unwrap();
    let after = s.coupon("m1", &code).await.unwrap();
    assert_eq!((after.uses, after.state), (1, CouponState::Redeemed));
    let redeemed = try_code(s, "c", "c1", &code, now()).await.unwrap_err();
    assert_eq!(redeemed, format!("coupon {code} is already redeemed"));
    // The wallet shows it redeemed; the policy's wallet no longer offers it.
    let wallet = s
        .coupons("m1", CouponFilter::Card("c1"), None, 50)
        .await
        .unwrap();
    assert_eq!(wallet.items.len(), 1);
    assert_eq!(wallet.items[0].state, CouponState::Redeemed);
    assert!(
        s.usable_wallet("m1", "c1", "c", now())
            .await
            .unwrap()
            .is_empty()
    );
}

async fn unusable_codes_are_refused_with_the_reason(db: &TestDb) {
    let s = &db.store;
    merchant(s, "m1").await;
    merchant(s, "m2").await;
    card(s, "m1", "c1").await;
    let mut ended = five("ended", None, 1);
    ended.valid_until = Some(now() - 1);
    s.create_coupon_batch("m1", &ended, import(&["OLD-1"]), audit)
        .await
        .unwrap();
    let mut later = five("later", None, 1);
    later.valid_from = Some(now() + HOUR);
    s.create_coupon_batch("m1", &later, import(&["SOON-1"]), audit)
        .await
        .unwrap();
    s.create_coupon_batch(
        "m1",
        &five("flyer", None, 1),
        import(&["FLY-1", "FLY-2"]),
        audit,
    )
    .await
    .unwrap();
    s.create_coupon_batch("m2", &five("theirs", None, 1), import(&["THEIRS-1"]), audit)
        .await
        .unwrap();
    s.void_coupon("m1", "FLY-2", true, audit).await.unwrap();
    let t = now();
    assert_eq!(
        try_code(s, "o", "c1", "OLD-1", t).await,
        Err("coupon OLD-1 has expired".into())
    );
    assert_eq!(
        try_code(s, "o", "c1", "SOON-1", t).await,
        Err("coupon SOON-1 is not valid yet".into())
    );
    assert_eq!(
        try_code(s, "o", "c1", "FLY-2", t).await,
        Err("coupon FLY-2 is voided".into())
    );
    // Another merchant's code is unknown here.
    assert_eq!(
        try_code(s, "o", "c1", "THEIRS-1", t).await,
        Err("coupon THEIRS-1 is unknown".into())
    );
    assert_eq!(
        try_code(s, "o", "c1", "NOPE", t).await,
        Err("coupon NOPE is unknown".into())
    );
    // A flyer code (no card) is anyone's.
    try_code(s, "o", "c1", "FLY-1", t).await.unwrap();
    // Void while held: the bill that took it redeems nothing.
    s.void_coupon("m1", "FLY-1", true, audit).await.unwrap();
    s.record_bill("m1", &bill("o", "c1", "20.00", 0, t), &redeeming("FLY-1"))
        .await
        .unwrap();
    assert_eq!(s.coupon("m1", "FLY-1").await.unwrap().uses, 0);
}

async fn void_and_restore_are_audited_and_bounded(db: &TestDb) {
    let s = &db.store;
    merchant(s, "m1").await;
    card(s, "m1", "c1").await;
    s.create_coupon_batch("m1", &five("flyer", None, 1), import(&["FLY-1"]), audit)
        .await
        .unwrap();
    let nothing = s.void_coupon("m1", "FLY-1", false, audit).await;
    assert!(
        matches!(nothing, Err(StoreError::Conflict { .. })),
        "{nothing:?}"
    );
    let t = now();
    try_code(s, "o", "c1", "FLY-1", t).await.unwrap();
    s.record_bill("m1", &bill("o", "c1", "20.00", 0, t), &redeeming("FLY-1"))
        .await
        .unwrap();
    assert_eq!(
        s.coupon("m1", "FLY-1").await.unwrap().state,
        CouponState::Redeemed
    );
    // A restore gives the use back (audited), once.
    let restored = s.void_coupon("m1", "FLY-1", false, audit).await.unwrap();
    assert_eq!((restored.uses, restored.state), (0, CouponState::Available));
    let twice = s.void_coupon("m1", "FLY-1", false, audit).await;
    assert!(
        matches!(twice, Err(StoreError::Conflict { .. })),
        "{twice:?}"
    );
    let voided = s.void_coupon("m1", "FLY-1", true, audit).await.unwrap();
    assert_eq!(voided.state, CouponState::Voided);
    let unvoided = s.void_coupon("m1", "FLY-1", false, audit).await.unwrap();
    assert_eq!(unvoided.state, CouponState::Available);
    let missing = s.void_coupon("m1", "NOPE", true, audit).await;
    assert!(
        matches!(missing, Err(StoreError::NotFound { .. })),
        "{missing:?}"
    );
}

async fn a_bill_issues_coupons_from_a_batch_into_the_wallet(db: &TestDb) {
    let s = &db.store;
    merchant(s, "m1").await;
    card(s, "m1", "c1").await;
    s.create_coupon_batch(
        "m1",
        &five("welcome", Some("W-##########"), 1),
        NewCodes::None,
        audit,
    )
    .await
    .unwrap();
    s.create_coupon_batch("m1", &five("printed", None, 1), import(&["P-1"]), audit)
        .await
        .unwrap();
    let settlement = Settlement {
        issue_coupons: vec![
            "welcome".into(),
            "printed".into(),
            "printed".into(),
            "nope".into(),
        ],
        ..Settlement::default()
    };
    let (recorded, settled) = s
        .record_bill("m1", &bill("first", "c1", "20.00", 0, now()), &settlement)
        .await
        .unwrap();
    let note = settled.card_changes.unwrap();
    let issued = note["issuedCoupons"].as_array().unwrap();
    assert_eq!(issued.len(), 2, "{note}");
    assert_eq!(issued[1]["code"], "P-1");
    let dropped = note["dropped"].as_array().unwrap();
    assert!(
        dropped[0]
            .as_str()
            .unwrap()
            .contains("no unassigned code left"),
        "{note}"
    );
    assert!(
        dropped[1]
            .as_str()
            .unwrap()
            .contains("'nope' does not exist"),
        "{note}"
    );
    assert!(matches!(recorded, rabat_store::Recorded::New(_)));
    let wallet = s.usable_wallet("m1", "c1", "next", now()).await.unwrap();
    assert_eq!(wallet.len(), 2);
    assert!(
        wallet
            .iter()
            .any(|c| c.code.starts_with("W-") && c.batch == "welcome")
    );
    // A repeat of the bill issues nothing more.
    s.record_bill("m1", &bill("first", "c1", "20.00", 0, now()), &settlement)
        .await
        .unwrap();
    let all = s
        .coupons("m1", CouponFilter::Card("c1"), None, 50)
        .await
        .unwrap();
    assert_eq!(all.items.len(), 2);
}

/// The invariant: 32 tills, each on its own order and card, half through a second pool
/// (a second replica on PostgreSQL), offer one flyer code at once and complete their bills
/// taking it: it is redeemed at most its uses, each redemption by an order that held it.
async fn thirty_two_tills_on_two_pools_redeem_a_code_at_most_its_uses(db: &TestDb) {
    merchant(&db.store, "m1").await;
    for i in 0..32 {
        card(&db.store, "m1", &format!("c{i}")).await;
    }
    for (code, uses) in [("ONCE", 1), ("THRICE", 3)] {
        db.store
            .create_coupon_batch("m1", &five(code, None, uses), import(&[code]), audit)
            .await
            .unwrap();
    }
    let other = db.reopen().await;
    let stores = [db.store.clone(), other.clone()];
    for (code, uses) in [("ONCE", 1_i64), ("THRICE", 3)] {
        let tills: Vec<_> = (0..32)
            .map(|i| {
                let store = stores[i % 2].clone();
                tokio::spawn(async move {
                    let order = format!("{code}-o{i}");
                    let card_id = format!("c{i}");
                    let held = try_code(&store, &order, &card_id, code, now())
                        .await
                        .is_ok();
                    store
                        .record_bill(
                            "m1",
                            &bill(&order, &card_id, "20.00", 0, now()),
                            &redeeming(code),
                        )
                        .await
                        .unwrap();
                    held
                })
            })
            .collect();
        let mut held = 0;
        for till in tills {
            held += i64::from(till.await.unwrap());
        }
        let coupon = db.store.coupon("m1", code).await.unwrap();
        assert!(
            coupon.uses <= uses,
            "{code} redeemed {} times, may be {uses}",
            coupon.uses
        );
        assert!(coupon.uses >= 1, "{code}: the first holder redeems it");
        // No two tills were ever offered one use: every holder's bill redeemed it.
        assert!(
            held <= uses,
            "{code}: {held} tills were offered {uses} use(s)"
        );
        assert_eq!(
            coupon.uses, held,
            "{code}: each holder redeemed, none other"
        );
    }
    other.close().await;
}

async fn the_card_extras_show_available_points_wallet_and_profile(db: &TestDb) {
    let s = &db.store;
    merchant(s, "m1").await;
    // Points expire 30 days after they are earned: the balance set below is one lot.
    let rules = rabat_domain::lots::PointsRules {
        expiry: rabat_domain::lots::Expiry::Days(30),
        ..Default::default()
    };
    s.set_points_rules("m1", &rules, audit).await.unwrap();
    let mut c = card(s, "m1", "c1").await;
    c.points = 1000;
    let before = now();
    s.upsert_card("m1", &c, Some(1000), audit).await.unwrap();
    let batch = s
        .create_coupon_batch(
            "m1",
            &five("welcome", Some("W-##########"), 1),
            NewCodes::None,
            audit,
        )
        .await
        .unwrap();
    let issued = s.issue_coupon("m1", batch.id, "c1", audit).await.unwrap();
    let t = now();
    s.hold_points("m1", "c1", "other", t, HOUR, |_| {
        (
            Some(NewHold {
                points: 300,
                offer: "{}".into(),
            }),
            (),
        )
    })
    .await
    .unwrap();
    let profile: Profile = serde_json::from_value(serde_json::json!({
        "birthday": {"month": 7, "day": 15},
        "attributes": {"favourite": "flat white"}
    }))
    .unwrap();
    s.set_card_profile("m1", "c1", &profile, audit)
        .await
        .unwrap();
    let extras = s.card_extras("m1", "c1", "this", 1000, t).await.unwrap();
    assert_eq!(extras.available_points, 700);
    assert_eq!(extras.profile, profile);
    assert_eq!(extras.wallet.len(), 1);
    assert_eq!(extras.wallet[0].code, issued.code);
    assert_eq!(
        extras.wallet[0].value,
        CouponValue::Amount { amount: dec("5") }
    );
    let expiry = extras.next_expiry.expect("the balance's lot expires");
    assert_eq!(expiry.points, 1000);
    assert!(
        (before + 30 * 86_400_000..=now() + 30 * 86_400_000).contains(&expiry.at),
        "30 days after the balance was set: {expiry:?}"
    );
    // Its own order does not count against itself.
    let own = s.card_extras("m1", "c1", "other", 1000, t).await.unwrap();
    assert_eq!(own.available_points, 1000);
    // Endpoint 1's read: the card and the same extras in one round trip.
    let (read, with_card) = s
        .card_with_extras("m1", "c1", "this", t)
        .await
        .unwrap()
        .expect("the card exists");
    assert_eq!(read.card_id, "c1");
    assert_eq!(read.points, 1000);
    assert_eq!(with_card, extras);
    assert_eq!(
        s.card_with_extras("m1", "nope", "this", t).await.unwrap(),
        None,
        "an unknown card"
    );
    let missing = s.set_card_profile("m1", "nope", &profile, audit).await;
    assert!(
        matches!(missing, Err(StoreError::NotFound { .. })),
        "{missing:?}"
    );
}
