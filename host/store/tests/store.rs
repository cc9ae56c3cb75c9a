//! The storage layer against real databases. Every scenario runs on a fresh SQLite file and,
//! when `RABAT_TEST_POSTGRES_URL` is set, on PostgreSQL in a schema of its own (so tests and
//! concurrent test binaries sharing one database never see each other). If that variable is
//! set and the server cannot be reached, the PostgreSQL tests fail: they never skip quietly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::str::FromStr;

use rabat_domain::model::{Card, Pos};
use rabat_store::credentials::{self, Secret, TokenHash};
use rabat_store::{
    AuditRecord, EngineKind, Entity, EntryKind, EvaluationQuery, EvaluationRecord, GroupCommit,
    LedgerQuery, Recorded, Store, StoreError, StoreOptions, TransactionRecord, UpsertedCard,
};
use rust_decimal::Decimal;
use serde_json::json;

mod common;

use common::db::{Target, TestDb};
use sqlx::Connection;

/// The audit row the store writes with a change made by these tests.
fn audit<T>(_: &T) -> AuditRecord {
    AuditRecord::now("test", "test.change", json!({}))
}

/// Declares each scenario as `sqlite::name` and `postgres::name`.
macro_rules! on_both_engines {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    let db = super::TestDb::sqlite().await;
                    super::$name(&db).await;
                    db.store.close().await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    if let Some(db) = super::TestDb::postgres().await {
                        super::$name(&db).await;
                        db.store.close().await;
                    }
                }
            )*
        }
    };
}

on_both_engines!(
    ping_and_engine,
    the_tills_card_read_sees_every_acknowledged_write_at_once,
    merchant_create_get_conflict,
    credential_lookups_revocation_and_cross_merchant,
    policy_versions_activation_and_rollback,
    concurrent_uploads_get_distinct_versions,
    policy_config_and_generation,
    cards_crud,
    cards_pagination,
    card_balance_changes_are_ledgered,
    record_transaction_new_duplicate_conflict_unknown_card,
    concurrent_identical_transactions_record_once,
    concurrent_distinct_transactions_lose_no_update,
    batch_records_the_good_bills_beside_the_bad,
    group_commit_records_each_bill_once,
    transactions_listing_pagination_and_card_filter,
    cross_merchant_isolation,
    evaluation_log_insert_list_filter,
    audit_trail,
    restart_keeps_everything,
);

// ---------------------------------------------------------------------------------------
// Helpers

fn dec(text: &str) -> Decimal {
    Decimal::from_str(text).unwrap()
}

struct NewMerchant {
    api_key: Secret,
    pos_token: Secret,
    pos_token_id: String,
}

async fn merchant(store: &Store, id: &str) -> NewMerchant {
    let api_key = credentials::new_api_key();
    let pos_token = credentials::new_pos_token();
    let (_, token) = store
        .create_merchant(
            id,
            &format!("{id} shop"),
            &api_key.hash,
            &pos_token.hash,
            audit,
        )
        .await
        .unwrap();
    NewMerchant {
        api_key,
        pos_token,
        pos_token_id: token.token_id,
    }
}

async fn card(store: &Store, merchant: &str, card_id: &str) -> Card {
    let mut card = Card::new(card_id);
    card.tier = Some("gold".into());
    store
        .upsert_card(merchant, &card, Some(card.points), audit)
        .await
        .unwrap()
        .card
}

fn bill(order_id: &str, card_id: &str, total: &str, points: i64, at: i64) -> TransactionRecord {
    TransactionRecord {
        order_id: order_id.into(),
        card_id: card_id.into(),
        request_hash: format!("hash-of-{order_id}-{total}"),
        total: dec(total),
        points,
        points_reason: Some("1 point per euro".into()),
        occurred_at: at,
        pos: Pos::Papaya,
        request: Some(json!({"orderId": order_id, "total": 1.10})),
        accrual_error: None,
        settlement: Default::default(),
    }
}

fn evaluation(merchant: &str, order_id: &str, outcome: &str) -> EvaluationRecord {
    EvaluationRecord {
        merchant_id: merchant.into(),
        at: 1_700_000_000_000,
        order_id: order_id.into(),
        card_id: Some("c1".into()),
        policy_version: Some(3),
        outcome: outcome.into(),
        total_discount: Some(dec("1.50")),
        fuel: Some(12_345),
        duration_us: 87,
        request: json!({"orderId": order_id, "total": 15.00}),
        card: Some(json!({"cardId": "c1"})),
        response: None,
        logs: json!(["hello"]),
        error: (outcome != "answer").then(|| "it broke".to_owned()),
    }
}

fn is_not_found(err: &StoreError, entity: Entity) -> bool {
    matches!(err, StoreError::NotFound { entity: e, .. } if *e == entity)
}

// ---------------------------------------------------------------------------------------
// Scenarios

async fn ping_and_engine(db: &TestDb) {
    db.store.ping().await.unwrap();
    let expected = match db.target {
        Target::Sqlite { .. } => EngineKind::Sqlite,
        Target::Postgres { .. } => EngineKind::Postgres,
        Target::Shared => return,
    };
    assert_eq!(db.store.engine(), expected);
}

/// Endpoint 1's card read (on SQLite, on the caller's thread with a connection of the
/// store's own: `local_read`) never answers with a card older than a write already
/// acknowledged — by this store or by another replica on the same database — whatever
/// kind of write it was: a bill, an adjustment, a hold, a profile.
async fn the_tills_card_read_sees_every_acknowledged_write_at_once(db: &TestDb) {
    let a = &db.store;
    let b = db.reopen().await;
    merchant(a, "m1").await;
    card(a, "m1", "c1").await;
    let now = rabat_domain::clock::now_ms();
    let mut balance = 0;
    for i in 1..=60_i64 {
        // Alternate the writer: this store and the other replica.
        let (writer, other) = if i % 2 == 0 { (a, &b) } else { (&b, a) };
        if i % 3 == 0 {
            writer
                .adjust_points("m1", "c1", i, "test", audit)
                .await
                .unwrap();
        } else {
            let order = format!("o{i}");
            let recorded = writer
                .record_transaction("m1", &bill(&order, "c1", "1.00", i, 1_000 + i))
                .await
                .unwrap();
            assert!(matches!(recorded, Recorded::New(_)), "{recorded:?}");
        }
        balance += i;
        for reader in [writer, other] {
            let card = reader.card("m1", "c1").await.unwrap().unwrap();
            assert_eq!(card.points, balance, "write {i}: the card read at once");
            assert_eq!(card.visits, u32::try_from(i - i / 3).unwrap(), "write {i}");
            let (card, extras) = reader
                .card_with_extras("m1", "c1", "till", now)
                .await
                .unwrap()
                .unwrap();
            assert_eq!(card.points, balance, "write {i}: with extras");
            assert_eq!(extras.available_points, balance, "write {i}");
        }
    }
    // A hold by one replica is seen by the other's next read.
    b.hold_points("m1", "c1", "other-order", now, 60_000, |_| {
        (
            Some(rabat_store::NewHold {
                points: 100,
                offer: "{}".into(),
            }),
            (),
        )
    })
    .await
    .unwrap();
    let (_, extras) = a
        .card_with_extras("m1", "c1", "till", now)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(extras.available_points, balance - 100);
    // And endpoint 1's question whether the order has one (asked after every answer).
    assert!(a.has_hold("m1", "other-order").await.unwrap());
    assert!(!a.has_hold("m1", "till").await.unwrap());
    b.hold_points("m1", "c1", "other-order", now, 60_000, |_| (None, ()))
        .await
        .unwrap();
    assert!(!a.has_hold("m1", "other-order").await.unwrap(), "released");
    // So is a profile.
    let profile: rabat_domain::coupon::Profile =
        serde_json::from_value(json!({"attributes": {"favourite": "tea"}})).unwrap();
    a.set_card_profile("m1", "c1", &profile, audit)
        .await
        .unwrap();
    let (_, extras) = b
        .card_with_extras("m1", "c1", "till", now)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(extras.profile, profile);
    assert_eq!(a.card("m1", "nope").await.unwrap(), None);
    assert_eq!(
        b.card_with_extras("m1", "nope", "till", now).await.unwrap(),
        None
    );
    // On SQLite these reads ran on the caller's thread, none through the pool.
    match db.target {
        Target::Sqlite { .. } => {
            for store in [a, &b] {
                let stats = store.local_reads().expect("a SQLite file reads locally");
                assert!(stats.answered >= 120, "{stats:?}");
                assert_eq!(stats.fell_back, 0, "{stats:?}");
                // Each statement planned once (a bound LIMIT had SQLite plan the extras'
                // read again on every call: 120 times here).
                assert_eq!(stats.reprepared, 0, "{stats:?}");
            }
        }
        _ => assert_eq!(a.local_reads(), None),
    }
    b.close().await;
}

async fn merchant_create_get_conflict(db: &TestDb) {
    let s = &db.store;
    assert_eq!(s.merchant("m1").await.unwrap(), None);
    merchant(s, "m1").await;
    let got = s.merchant("m1").await.unwrap().unwrap();
    assert_eq!((got.id.as_str(), got.name.as_str()), ("m1", "m1 shop"));

    let again = s
        .create_merchant(
            "m1",
            "impostor",
            &credentials::new_api_key().hash,
            &credentials::new_pos_token().hash,
            audit,
        )
        .await
        .unwrap_err();
    assert!(
        matches!(
            again,
            StoreError::Conflict {
                entity: Entity::Merchant,
                ..
            }
        ),
        "{again:?}"
    );
    // The failed attempt changed nothing.
    assert_eq!(s.merchant("m1").await.unwrap().unwrap().name, "m1 shop");
    assert_eq!(s.pos_tokens("m1").await.unwrap().len(), 1);

    let empty = s
        .create_merchant(
            "",
            "x",
            &credentials::new_api_key().hash,
            &credentials::new_pos_token().hash,
            audit,
        )
        .await
        .unwrap_err();
    assert!(matches!(empty, StoreError::Invalid(_)));
}

async fn credential_lookups_revocation_and_cross_merchant(db: &TestDb) {
    let s = &db.store;
    let m1 = merchant(s, "m1").await;
    let m2 = merchant(s, "m2").await;
    let id_of = |m: Option<rabat_store::Merchant>| m.map(|m| m.id);

    let api1 = TokenHash::of(&m1.api_key.plaintext);
    assert_eq!(
        id_of(s.merchant_by_api_key(&api1).await.unwrap()).as_deref(),
        Some("m1")
    );
    let pos1 = TokenHash::of(&m1.pos_token.plaintext);
    assert_eq!(
        id_of(s.merchant_by_pos_token(&pos1).await.unwrap()).as_deref(),
        Some("m1")
    );
    let pos2 = TokenHash::of(&m2.pos_token.plaintext);
    assert_eq!(
        id_of(s.merchant_by_pos_token(&pos2).await.unwrap()).as_deref(),
        Some("m2")
    );
    // A key works only as what it was issued as.
    assert_eq!(s.merchant_by_pos_token(&api1).await.unwrap(), None);
    assert_eq!(s.merchant_by_api_key(&pos1).await.unwrap(), None);
    let stranger = TokenHash::of("rabat_pt_not-a-token");
    assert_eq!(s.merchant_by_pos_token(&stranger).await.unwrap(), None);

    // A second till token, then revocation.
    let extra = credentials::new_pos_token();
    let token = s.add_pos_token("m1", &extra.hash, audit).await.unwrap();
    assert_eq!(token.revoked_at, None);
    assert!(
        s.merchant_by_pos_token(&extra.hash)
            .await
            .unwrap()
            .is_some()
    );

    // Another merchant cannot revoke it, and trying changes nothing.
    let err = s
        .revoke_pos_token("m2", &token.token_id, audit)
        .await
        .unwrap_err();
    assert!(is_not_found(&err, Entity::PosToken), "{err:?}");
    assert!(
        s.merchant_by_pos_token(&extra.hash)
            .await
            .unwrap()
            .is_some()
    );

    let revoked = s
        .revoke_pos_token("m1", &token.token_id, audit)
        .await
        .unwrap();
    let when = revoked.revoked_at.unwrap();
    assert_eq!(s.merchant_by_pos_token(&extra.hash).await.unwrap(), None);
    // The first token still works; revoking again keeps the first revocation time.
    assert!(s.merchant_by_pos_token(&pos1).await.unwrap().is_some());
    let again = s
        .revoke_pos_token("m1", &token.token_id, audit)
        .await
        .unwrap();
    assert_eq!(again.revoked_at, Some(when));
    let tokens = s.pos_tokens("m1").await.unwrap();
    assert_eq!(tokens.len(), 2);
    assert_eq!(tokens.iter().filter(|t| t.revoked_at.is_some()).count(), 1);
    assert!(tokens.iter().any(|t| t.token_id == m1.pos_token_id));

    // Rotating the API key retires the old one at once.
    let new_key = credentials::new_api_key();
    s.set_api_key("m1", &new_key.hash, audit).await.unwrap();
    assert_eq!(s.merchant_by_api_key(&api1).await.unwrap(), None);
    assert!(
        s.merchant_by_api_key(&new_key.hash)
            .await
            .unwrap()
            .is_some()
    );

    let err = s
        .add_pos_token("ghost", &credentials::new_pos_token().hash, audit)
        .await
        .unwrap_err();
    assert!(is_not_found(&err, Entity::Merchant), "{err:?}");
    let err = s
        .set_api_key("ghost", &new_key.hash, audit)
        .await
        .unwrap_err();
    assert!(is_not_found(&err, Entity::Merchant), "{err:?}");
}

async fn policy_versions_activation_and_rollback(db: &TestDb) {
    let s = &db.store;
    merchant(s, "m1").await;
    merchant(s, "m2").await;
    assert_eq!(s.active_policy("m1").await.unwrap(), None);

    let a = b"\0asm module a".to_vec();
    let b = b"\0asm module b, longer".to_vec();
    let v1 = s.add_policy("m1", &a, Some("first"), audit).await.unwrap();
    let v2 = s.add_policy("m1", &b, None, audit).await.unwrap();
    assert_eq!((v1.version, v2.version), (1, 2));
    assert_eq!(v1.sha256, hex_sha256(&a));
    assert_eq!(v2.size_bytes, b.len() as i64);
    assert!(!v1.active && !v2.active);

    let listed = s.list_policies("m1").await.unwrap();
    assert_eq!(
        listed.iter().map(|p| p.version).collect::<Vec<_>>(),
        vec![2, 1]
    );
    assert_eq!(listed[1].note.as_deref(), Some("first"));
    assert!(listed.iter().all(|p| !p.active));

    let g1 = s.activate_policy("m1", 2, audit).await.unwrap();
    let active = s.active_policy("m1").await.unwrap().unwrap();
    assert_eq!((active.version, active.wasm.as_slice()), (2, b.as_slice()));
    assert_eq!(active.generation, g1);
    let listed = s.list_policies("m1").await.unwrap();
    assert_eq!(
        listed
            .iter()
            .filter(|p| p.active)
            .map(|p| p.version)
            .collect::<Vec<_>>(),
        vec![2]
    );

    // Rollback is activating the older version.
    let g2 = s.activate_policy("m1", 1, audit).await.unwrap();
    assert!(g2 > g1);
    let active = s.active_policy("m1").await.unwrap().unwrap();
    assert_eq!((active.version, active.wasm), (1, a.clone()));

    // A missing version changes nothing.
    let err = s.activate_policy("m1", 9, audit).await.unwrap_err();
    assert!(is_not_found(&err, Entity::Policy), "{err:?}");
    assert_eq!(s.active_policy("m1").await.unwrap().unwrap().version, 1);
    assert_eq!(s.policy_state("m1").await.unwrap().generation, g2);

    assert_eq!(s.policy_wasm("m1", 2).await.unwrap(), b);
    let err = s.policy_wasm("m1", 3).await.unwrap_err();
    assert!(is_not_found(&err, Entity::Policy), "{err:?}");

    // Numbering is per merchant, and m2 cannot reach m1's versions.
    assert_eq!(
        s.add_policy("m2", b"m2", None, audit)
            .await
            .unwrap()
            .version,
        1
    );
    assert!(is_not_found(
        &s.activate_policy("m2", 2, audit).await.unwrap_err(),
        Entity::Policy
    ));
    assert!(is_not_found(
        &s.policy_wasm("m2", 2).await.unwrap_err(),
        Entity::Policy
    ));
    assert_eq!(s.active_policy("m2").await.unwrap(), None);

    let err = s.add_policy("ghost", b"x", None, audit).await.unwrap_err();
    assert!(is_not_found(&err, Entity::Merchant), "{err:?}");
}

fn hex_sha256(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}

async fn concurrent_uploads_get_distinct_versions(db: &TestDb) {
    merchant(&db.store, "m1").await;
    let uploads: Vec<_> = (0..10)
        .map(|i| {
            let store = db.store.clone();
            tokio::spawn(async move {
                store
                    .add_policy("m1", format!("module {i}").as_bytes(), None, audit)
                    .await
            })
        })
        .collect();
    let mut versions = Vec::new();
    for upload in uploads {
        versions.push(upload.await.unwrap().unwrap().version);
    }
    versions.sort_unstable();
    assert_eq!(versions, (1..=10).collect::<Vec<_>>());
}

async fn policy_config_and_generation(db: &TestDb) {
    let s = &db.store;
    merchant(s, "m1").await;
    let state = s.policy_state("m1").await.unwrap();
    assert_eq!(
        (
            state.active_version,
            state.generation,
            state.config.as_str()
        ),
        (None, 0, "{}")
    );

    let config: serde_json::Value =
        serde_json::from_str(r#"{"gold":{"rate":12.3400},"tags":["vip"]}"#).unwrap();
    let g1 = s.put_policy_config("m1", &config, audit).await.unwrap();
    assert_eq!(g1, 1);
    let text = s.policy_config("m1").await.unwrap();
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&text).unwrap(),
        config
    );
    assert!(text.contains("12.3400"), "numbers kept exactly: {text}");

    let err = s
        .put_policy_config("m1", &json!([1, 2]), audit)
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Invalid(_)));
    assert_eq!(s.policy_state("m1").await.unwrap().generation, 1);

    s.add_policy("m1", b"wasm", None, audit).await.unwrap();
    let g2 = s.activate_policy("m1", 1, audit).await.unwrap();
    assert_eq!(g2, 2);
    let state = s.policy_state("m1").await.unwrap();
    assert_eq!((state.active_version, state.generation), (Some(1), 2));

    assert!(is_not_found(
        &s.put_policy_config("ghost", &json!({}), audit)
            .await
            .unwrap_err(),
        Entity::Merchant
    ));
    assert!(is_not_found(
        &s.policy_state("ghost").await.unwrap_err(),
        Entity::Merchant
    ));
}

async fn cards_crud(db: &TestDb) {
    let s = &db.store;
    merchant(s, "m1").await;
    assert_eq!(s.card("m1", "c1").await.unwrap(), None);

    let mut c = Card::new("c1");
    c.customer_id = Some("cust-7".into());
    c.name = Some("Ada".into());
    c.tier = Some("silver".into());
    c.tags = vec!["vip".into(), "staff".into()];
    let UpsertedCard {
        card: stored,
        created,
        ..
    } = s
        .upsert_card("m1", &c, Some(c.points), audit)
        .await
        .unwrap();
    assert!(created);
    assert_eq!(stored, c);
    assert_eq!(s.card("m1", "c1").await.unwrap(), Some(c.clone()));

    // Update: identity fields change, ledger-owned fields are ignored and kept.
    s.record_transaction("m1", &bill("o1", "c1", "10.00", 0, 1_000))
        .await
        .unwrap();
    let mut update = c.clone();
    update.tier = Some("gold".into());
    update.tags = vec![];
    update.visits = 99;
    update.total_spent = dec("9999");
    let UpsertedCard {
        card: stored,
        created,
        ..
    } = s
        .upsert_card("m1", &update, Some(update.points), audit)
        .await
        .unwrap();
    assert!(!created);
    assert_eq!(stored.tier.as_deref(), Some("gold"));
    assert!(stored.tags.is_empty());
    assert_eq!((stored.visits, stored.total_spent), (1, dec("10.00")));
    assert_eq!(s.card("m1", "c1").await.unwrap(), Some(stored));

    s.delete_card("m1", "c1", audit).await.unwrap();
    assert_eq!(s.card("m1", "c1").await.unwrap(), None);
    assert!(is_not_found(
        &s.delete_card("m1", "c1", audit).await.unwrap_err(),
        Entity::Card
    ));

    let err = s
        .upsert_card("ghost", &Card::new("c1"), Some(0), audit)
        .await
        .unwrap_err();
    assert!(is_not_found(&err, Entity::Merchant), "{err:?}");
    assert!(matches!(
        s.upsert_card("m1", &Card::new(""), Some(0), audit)
            .await
            .unwrap_err(),
        StoreError::Invalid(_)
    ));
}

async fn cards_pagination(db: &TestDb) {
    let s = &db.store;
    merchant(s, "m1").await;
    for i in [4, 0, 6, 2, 5, 1, 3] {
        card(s, "m1", &format!("card-{i}")).await;
    }
    let mut seen = Vec::new();
    let mut cursor = None;
    let mut pages = 0;
    loop {
        let page = s.list_cards("m1", 3, cursor.as_deref()).await.unwrap();
        pages += 1;
        assert!(page.items.len() <= 3);
        seen.extend(page.items.into_iter().map(|c| c.card_id));
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(
        seen,
        (0..7).map(|i| format!("card-{i}")).collect::<Vec<_>>()
    );

    assert_eq!(
        s.list_cards("m1", 0, None).await.unwrap().items.len(),
        1,
        "limit is at least 1"
    );
    let err = s
        .list_cards("m1", 3, Some("not a cursor"))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Invalid(_)));
}

async fn card_balance_changes_are_ledgered(db: &TestDb) {
    let s = &db.store;
    merchant(s, "m1").await;
    let mut c = Card::new("c1");
    c.points = 100;
    s.upsert_card("m1", &c, Some(c.points), audit)
        .await
        .unwrap();
    c.points = 80;
    s.upsert_card("m1", &c, Some(c.points), audit)
        .await
        .unwrap();
    c.name = Some("renamed".into());
    s.upsert_card("m1", &c, Some(c.points), audit)
        .await
        .unwrap(); // balance unchanged: no ledger row

    let entry = s
        .adjust_points("m1", "c1", 5, "goodwill", audit)
        .await
        .unwrap();
    assert_eq!(
        (entry.kind, entry.points, entry.points_balance),
        (EntryKind::Adjustment, 5, 85)
    );
    assert_eq!(s.card("m1", "c1").await.unwrap().unwrap().points, 85);

    let ledger = s
        .list_transactions(
            "m1",
            &LedgerQuery {
                limit: 10,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let rows: Vec<_> = ledger
        .items
        .iter()
        .map(|e| (e.kind, e.points, e.points_balance))
        .collect();
    assert_eq!(
        rows,
        vec![
            (EntryKind::Adjustment, 5, 85),
            (EntryKind::Adjustment, -20, 80),
            (EntryKind::Adjustment, 100, 100)
        ]
    );
    assert_eq!(ledger.items[0].reason.as_deref(), Some("goodwill"));

    assert!(matches!(
        s.adjust_points("m1", "c1", 0, "noop", audit)
            .await
            .unwrap_err(),
        StoreError::Invalid(_)
    ));
    assert!(is_not_found(
        &s.adjust_points("m1", "ghost", 1, "x", audit)
            .await
            .unwrap_err(),
        Entity::Card
    ));
    let err = s
        .adjust_points("m1", "c1", i64::MAX, "overflow", audit)
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Invalid(_)), "{err:?}");
    assert_eq!(s.card("m1", "c1").await.unwrap().unwrap().points, 85);
}

async fn record_transaction_new_duplicate_conflict_unknown_card(db: &TestDb) {
    let s = &db.store;
    merchant(s, "m1").await;
    card(s, "m1", "c1").await;

    let first = bill("o1", "c1", "12.50", 12, 2_000);
    let Recorded::New(entry) = s.record_transaction("m1", &first).await.unwrap() else {
        panic!("first recording must be new");
    };
    assert_eq!(entry.kind, EntryKind::Transaction);
    assert_eq!(
        (entry.total, entry.points, entry.points_balance),
        (Some(dec("12.50")), 12, 12)
    );
    let c = s.card("m1", "c1").await.unwrap().unwrap();
    assert_eq!((c.visits, c.points, c.total_spent), (1, 12, dec("12.50")));
    assert_eq!((c.first_visit, c.last_visit), (Some(2_000), Some(2_000)));

    // The retry gets the stored row back and changes nothing.
    let Recorded::Duplicate(again) = s.record_transaction("m1", &first).await.unwrap() else {
        panic!("a repeat must be a duplicate");
    };
    assert_eq!(again, entry, "stored row reads back exactly as recorded");
    assert_eq!(s.card("m1", "c1").await.unwrap().unwrap(), c);

    // The same order id with a different request is a conflict.
    let mut different = first.clone();
    different.request_hash = "another-hash".into();
    let err = s.record_transaction("m1", &different).await.unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::Conflict {
                entity: Entity::Order,
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(s.card("m1", "c1").await.unwrap().unwrap(), c);

    // Unknown card: not found, nothing written.
    let err = s
        .record_transaction("m1", &bill("o2", "ghost", "5", 5, 3_000))
        .await
        .unwrap_err();
    assert!(is_not_found(&err, Entity::Card), "{err:?}");
    let all = s
        .list_transactions(
            "m1",
            &LedgerQuery {
                limit: 10,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(all.items.len(), 1);

    // Exact money, and a late-reported earlier bill moves first_visit but not last_visit.
    s.record_transaction("m1", &bill("o3", "c1", "0.10", 0, 1_000))
        .await
        .unwrap();
    s.record_transaction("m1", &bill("o4", "c1", "0.20", -2, 3_000))
        .await
        .unwrap();
    let c = s.card("m1", "c1").await.unwrap().unwrap();
    assert_eq!((c.visits, c.points, c.total_spent), (3, 10, dec("12.80")));
    assert_eq!((c.first_visit, c.last_visit), (Some(1_000), Some(3_000)));

    // A recorded order stays answerable after its card is deleted.
    s.delete_card("m1", "c1", audit).await.unwrap();
    assert!(matches!(
        s.record_transaction("m1", &first).await.unwrap(),
        Recorded::Duplicate(_)
    ));
}

async fn concurrent_identical_transactions_record_once(db: &TestDb) {
    merchant(&db.store, "m1").await;
    card(&db.store, "m1", "c1").await;
    let calls: Vec<_> = (0..50)
        .map(|_| {
            let store = db.store.clone();
            tokio::spawn(async move {
                store
                    .record_transaction("m1", &bill("o1", "c1", "19.99", 20, 5_000))
                    .await
            })
        })
        .collect();
    let (mut new, mut duplicate) = (0, 0);
    let mut ids = Vec::new();
    for call in calls {
        match call.await.unwrap().unwrap() {
            Recorded::New(e) => {
                new += 1;
                ids.push(e.id);
            }
            Recorded::Duplicate(e) => {
                duplicate += 1;
                ids.push(e.id);
            }
        }
    }
    assert_eq!((new, duplicate), (1, 49));
    assert!(
        ids.windows(2).all(|w| w[0] == w[1]),
        "all callers see the one row"
    );

    let rows = db
        .store
        .list_transactions(
            "m1",
            &LedgerQuery {
                limit: 100,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(rows.items.len(), 1);
    let c = db.store.card("m1", "c1").await.unwrap().unwrap();
    assert_eq!((c.visits, c.points, c.total_spent), (1, 20, dec("19.99")));
}

async fn concurrent_distinct_transactions_lose_no_update(db: &TestDb) {
    merchant(&db.store, "m1").await;
    card(&db.store, "m1", "c1").await;
    let calls: Vec<_> = (0..30)
        .map(|i| {
            let store = db.store.clone();
            tokio::spawn(async move {
                store
                    .record_transaction("m1", &bill(&format!("o{i}"), "c1", "1.01", 1, 5_000 + i))
                    .await
            })
        })
        .collect();
    for call in calls {
        assert!(matches!(call.await.unwrap().unwrap(), Recorded::New(_)));
    }
    let c = db.store.card("m1", "c1").await.unwrap().unwrap();
    assert_eq!((c.visits, c.points, c.total_spent), (30, 30, dec("30.30")));
    assert_eq!((c.first_visit, c.last_visit), (Some(5_000), Some(5_029)));
}

/// One transaction for a batch of bills: the refused ones (an unknown card, a conflicting
/// repeat of a recorded order, a conflicting repeat inside the batch, a value the database
/// will not hold) are each rolled back alone; the good ones commit, each exactly once, and
/// the cards add up.
async fn batch_records_the_good_bills_beside_the_bad(db: &TestDb) {
    let s = &db.store;
    merchant(s, "m1").await;
    card(s, "m1", "c1").await;
    card(s, "m1", "c2").await;
    s.record_transaction("m1", &bill("o0", "c1", "1.00", 1, 1_000))
        .await
        .unwrap();

    let good = bill("o1", "c1", "10.00", 10, 2_000);
    let ghost = bill("o2", "ghost", "5", 5, 2_000);
    let mut recorded_conflict = bill("o0", "c1", "1.00", 1, 1_000);
    recorded_conflict.request_hash = "another".into();
    let same_again = good.clone();
    let mut in_batch_conflict = good.clone();
    in_batch_conflict.request_hash = "another".into();
    // PostgreSQL refuses a NUL in text; SQLite stores it. Either way only this bill is at stake.
    let mut nul = bill("o3", "c2", "3.00", 3, 2_000);
    nul.points_reason = Some("bad\0reason".into());
    let other = bill("o4", "c2", "0.10", 1, 3_000);
    let batch = [
        ("m1", &good),
        ("m1", &ghost),
        ("m1", &recorded_conflict),
        ("m1", &same_again),
        ("m1", &in_batch_conflict),
        ("m1", &nul),
        ("m1", &other),
    ];
    let results = s.record_transactions(&batch).await.unwrap();
    assert_eq!(results.len(), batch.len());
    let Ok(Recorded::New(first)) = &results[0] else {
        panic!("{:?}", results[0]);
    };
    assert!(is_not_found(results[1].as_ref().unwrap_err(), Entity::Card));
    for conflict in [&results[2], &results[4]] {
        assert!(
            matches!(
                conflict,
                Err(StoreError::Conflict {
                    entity: Entity::Order,
                    ..
                })
            ),
            "{conflict:?}"
        );
    }
    let Ok(Recorded::Duplicate(again)) = &results[3] else {
        panic!("{:?}", results[3]);
    };
    assert_eq!(
        again.id, first.id,
        "the repeat is answered with the row of the batch"
    );
    let nul_recorded = match (&results[5], s.engine()) {
        (Ok(Recorded::New(_)), EngineKind::Sqlite) => true,
        (Err(e), EngineKind::Postgres) if e.is_refusal() => false,
        (other, engine) => panic!("{engine:?}: {other:?}"),
    };
    assert!(
        matches!(results[6], Ok(Recorded::New(_))),
        "{:?}",
        results[6]
    );

    let c1 = s.card("m1", "c1").await.unwrap().unwrap();
    assert_eq!(
        (c1.visits, c1.points, c1.total_spent),
        (2, 11, dec("11.00"))
    );
    let c2 = s.card("m1", "c2").await.unwrap().unwrap();
    let expected = if nul_recorded {
        (2, 4, dec("3.10"))
    } else {
        (1, 1, dec("0.10"))
    };
    assert_eq!((c2.visits, c2.points, c2.total_spent), expected);
    let rows = s
        .list_transactions(
            "m1",
            &LedgerQuery {
                limit: 100,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let mut orders: Vec<_> = rows
        .items
        .iter()
        .filter_map(|r| r.order_id.clone())
        .collect();
    orders.sort();
    let mut want = vec!["o0", "o1", "o4"];
    if nul_recorded {
        want.push("o3");
        want.sort_unstable();
    }
    assert_eq!(orders, want);
    assert!(s.record_transactions(&[]).await.unwrap().is_empty());
}

/// Many callers at once through the group-commit writer, every bill sent twice: each order
/// is recorded once (the other call is its duplicate, answered with the same row), the
/// unknown card is refused without costing the others, and every card adds up exactly.
async fn group_commit_records_each_bill_once(db: &TestDb) {
    let s = &db.store;
    merchant(s, "m1").await;
    for c in 0..4 {
        card(s, "m1", &format!("c{c}")).await;
    }
    let writer = GroupCommit::start(s.clone());
    let calls: Vec<_> = (0..120)
        .map(|i| {
            let writer = writer.clone();
            let order = i % 60;
            let card = if order == 7 {
                "ghost".to_owned()
            } else {
                format!("c{}", order % 4)
            };
            tokio::spawn(async move {
                let bill = bill(&format!("o{order}"), &card, "1.01", 2, 1_000 + order);
                (order, writer.record("m1", bill).await)
            })
        })
        .collect();
    let mut seen = std::collections::HashMap::<i64, Vec<Recorded>>::new();
    for call in calls {
        let (order, result) = call.await.unwrap();
        match result {
            Ok(recorded) => seen.entry(order).or_default().push(recorded),
            Err(e) => assert!(
                order == 7 && is_not_found(&e, Entity::Card),
                "o{order}: {e:?}"
            ),
        }
    }
    assert_eq!(seen.len(), 59);
    for (order, answers) in &seen {
        let new = answers
            .iter()
            .filter(|r| matches!(r, Recorded::New(_)))
            .count();
        assert_eq!((new, answers.len()), (1, 2), "o{order}");
        assert_eq!(answers[0].entry().id, answers[1].entry().id, "o{order}");
    }
    for c in 0..4 {
        let bills = (0..60).filter(|o| *o != 7 && o % 4 == c).count();
        let card = s.card("m1", &format!("c{c}")).await.unwrap().unwrap();
        let n = u32::try_from(bills).unwrap();
        assert_eq!(card.visits, n, "c{c}");
        assert_eq!(card.points, i64::from(n) * 2, "c{c}");
        assert_eq!(card.total_spent, dec("1.01") * Decimal::from(n), "c{c}");
    }
}

async fn transactions_listing_pagination_and_card_filter(db: &TestDb) {
    let s = &db.store;
    merchant(s, "m1").await;
    card(s, "m1", "a").await;
    card(s, "m1", "b").await;
    for i in 0..5 {
        s.record_transaction("m1", &bill(&format!("a{i}"), "a", "1", 1, i))
            .await
            .unwrap();
    }
    for i in 0..3 {
        s.record_transaction("m1", &bill(&format!("b{i}"), "b", "1", 1, i))
            .await
            .unwrap();
    }

    let mut ids = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let query = LedgerQuery {
            card_id: None,
            limit: 3,
            cursor: cursor.as_deref(),
        };
        let page = s.list_transactions("m1", &query).await.unwrap();
        ids.extend(page.items.iter().map(|e| e.id));
        cursor = page.next_cursor;
        if cursor.is_none() {
            break;
        }
    }
    assert_eq!(ids.len(), 8);
    assert!(
        ids.windows(2).all(|w| w[0] > w[1]),
        "newest first, no repeats: {ids:?}"
    );

    let query = LedgerQuery {
        card_id: Some("b"),
        limit: 2,
        cursor: None,
    };
    let page = s.list_transactions("m1", &query).await.unwrap();
    let orders: Vec<_> = page
        .items
        .iter()
        .map(|e| e.order_id.clone().unwrap())
        .collect();
    assert_eq!(orders, vec!["b2", "b1"]);
    let query = LedgerQuery {
        cursor: page.next_cursor.as_deref(),
        ..query
    };
    let rest = s.list_transactions("m1", &query).await.unwrap();
    assert_eq!(
        rest.items
            .iter()
            .map(|e| e.order_id.clone().unwrap())
            .collect::<Vec<_>>(),
        vec!["b0"]
    );
    assert_eq!(rest.next_cursor, None);

    let bad = LedgerQuery {
        cursor: Some("zz"),
        limit: 2,
        card_id: None,
    };
    assert!(matches!(
        s.list_transactions("m1", &bad).await.unwrap_err(),
        StoreError::Invalid(_)
    ));
}

async fn cross_merchant_isolation(db: &TestDb) {
    let s = &db.store;
    merchant(s, "m1").await;
    merchant(s, "m2").await;
    card(s, "m1", "shared").await;
    card(s, "m2", "shared").await;
    card(s, "m1", "only-m1").await;

    // Order ids are per merchant: the same id records independently for each.
    assert!(matches!(
        s.record_transaction("m1", &bill("o1", "shared", "10", 10, 1))
            .await
            .unwrap(),
        Recorded::New(_)
    ));
    let mut other = bill("o1", "shared", "3", 3, 1);
    other.request_hash = "m2-hash".into();
    assert!(matches!(
        s.record_transaction("m2", &other).await.unwrap(),
        Recorded::New(_)
    ));
    assert_eq!(
        s.card("m1", "shared").await.unwrap().unwrap().total_spent,
        dec("10")
    );
    assert_eq!(
        s.card("m2", "shared").await.unwrap().unwrap().total_spent,
        dec("3")
    );

    // m2 cannot read, change, delete or charge m1's card.
    assert_eq!(s.card("m2", "only-m1").await.unwrap(), None);
    assert!(is_not_found(
        &s.delete_card("m2", "only-m1", audit).await.unwrap_err(),
        Entity::Card
    ));
    assert!(is_not_found(
        &s.adjust_points("m2", "only-m1", 5, "x", audit)
            .await
            .unwrap_err(),
        Entity::Card
    ));
    let err = s
        .record_transaction("m2", &bill("o9", "only-m1", "1", 1, 1))
        .await
        .unwrap_err();
    assert!(is_not_found(&err, Entity::Card));
    assert!(s.card("m1", "only-m1").await.unwrap().is_some());

    let m2_cards = s.list_cards("m2", 100, None).await.unwrap();
    assert_eq!(
        m2_cards
            .items
            .iter()
            .map(|c| c.card_id.as_str())
            .collect::<Vec<_>>(),
        vec!["shared"]
    );
    let m2_ledger = s
        .list_transactions(
            "m2",
            &LedgerQuery {
                limit: 100,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(m2_ledger.items.len(), 1);
    assert_eq!(m2_ledger.items[0].total, Some(dec("3")));

    s.insert_evaluations(&[evaluation("m1", "o1", "answer")])
        .await
        .unwrap();
    let none = s
        .list_evaluations(
            "m2",
            &EvaluationQuery {
                limit: 10,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert!(none.items.is_empty());
    let record = AuditRecord {
        at: 1,
        actor: "api-key".into(),
        action: "card.put".into(),
        detail: json!({}),
    };
    s.append_audit("m1", &record).await.unwrap();
    // m2 sees only its own creation, none of m1's rows.
    let m2_rows = s.list_audit("m2", 10, None).await.unwrap().items;
    assert!(m2_rows.iter().all(|e| e.record.action == "test.change"));
    // A cursor taken from m1's listing shows m2 nothing of m1's.
    let m1_page = s
        .list_transactions(
            "m1",
            &LedgerQuery {
                limit: 1,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let query = LedgerQuery {
        cursor: m1_page.next_cursor.as_deref(),
        limit: 100,
        card_id: None,
    };
    assert!(
        s.list_transactions("m2", &query)
            .await
            .unwrap()
            .items
            .iter()
            .all(|e| e.total == Some(dec("3")))
    );
}

async fn evaluation_log_insert_list_filter(db: &TestDb) {
    let s = &db.store;
    merchant(s, "m1").await;
    merchant(s, "m2").await;
    let outcomes = ["answer", "trap", "answer", "out_of_fuel", "trap", "answer"];
    let batch: Vec<_> = outcomes
        .iter()
        .enumerate()
        .map(|(i, outcome)| evaluation("m1", &format!("o{i}"), outcome))
        .chain([
            evaluation("m2", "x0", "answer"),
            evaluation("m2", "x1", "answer"),
        ])
        .collect();
    s.insert_evaluations(&batch).await.unwrap();
    s.insert_evaluations(&[]).await.unwrap();

    let all = s
        .list_evaluations(
            "m1",
            &EvaluationQuery {
                limit: 10,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let orders: Vec<_> = all
        .items
        .iter()
        .map(|e| e.record.order_id.as_str())
        .collect();
    assert_eq!(orders, vec!["o5", "o4", "o3", "o2", "o1", "o0"]);
    assert_eq!(
        all.items[5].record, batch[0],
        "every field reads back exactly"
    );

    let traps = EvaluationQuery {
        limit: 10,
        outcome: Some("trap"),
        cursor: None,
    };
    let traps = s.list_evaluations("m1", &traps).await.unwrap();
    assert_eq!(
        traps
            .items
            .iter()
            .map(|e| e.record.order_id.as_str())
            .collect::<Vec<_>>(),
        vec!["o4", "o1"]
    );
    assert!(
        traps
            .items
            .iter()
            .all(|e| e.record.error.as_deref() == Some("it broke"))
    );

    let first = s
        .list_evaluations(
            "m1",
            &EvaluationQuery {
                limit: 4,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(first.items.len(), 4);
    let rest = EvaluationQuery {
        limit: 4,
        cursor: first.next_cursor.as_deref(),
        outcome: None,
    };
    let rest = s.list_evaluations("m1", &rest).await.unwrap();
    assert_eq!(
        rest.items
            .iter()
            .map(|e| e.record.order_id.as_str())
            .collect::<Vec<_>>(),
        vec!["o1", "o0"]
    );
    assert_eq!(rest.next_cursor, None);

    // Retention (by age, and the row cap) is housekeeping's: see store/evaluation_log.rs.
}

async fn audit_trail(db: &TestDb) {
    let s = &db.store;
    merchant(s, "m1").await;
    for (i, action) in ["policy.upload", "policy.activate", "card.delete"]
        .iter()
        .enumerate()
    {
        let record = AuditRecord {
            at: 100 + i as i64,
            actor: "api-key".into(),
            action: (*action).into(),
            detail: json!({"version": i}),
        };
        s.append_audit("m1", &record).await.unwrap();
    }
    let page = s.list_audit("m1", 2, None).await.unwrap();
    let actions: Vec<_> = page
        .items
        .iter()
        .map(|e| e.record.action.as_str())
        .collect();
    assert_eq!(actions, vec!["card.delete", "policy.activate"]);
    assert_eq!(page.items[0].record.detail, json!({"version": 2}));
    let rest = s
        .list_audit("m1", 2, page.next_cursor.as_deref())
        .await
        .unwrap();
    // …and the merchant's creation, written with it.
    assert_eq!(rest.items.len(), 2);
    assert_eq!(rest.items[0].record.action, "policy.upload");

    let record = AuditRecord {
        at: 1,
        actor: "x".into(),
        action: "y".into(),
        detail: json!(null),
    };
    assert!(is_not_found(
        &s.append_audit("ghost", &record).await.unwrap_err(),
        Entity::Merchant
    ));
}

async fn restart_keeps_everything(db: &TestDb) {
    let m = merchant(&db.store, "m1").await;
    card(&db.store, "m1", "c1").await;
    let recorded = db
        .store
        .record_transaction("m1", &bill("o1", "c1", "7.77", 7, 9))
        .await
        .unwrap();
    db.store
        .add_policy("m1", b"module", None, audit)
        .await
        .unwrap();
    db.store.activate_policy("m1", 1, audit).await.unwrap();
    db.store
        .put_policy_config("m1", &json!({"k": 1}), audit)
        .await
        .unwrap();
    db.store
        .insert_evaluations(&[evaluation("m1", "o1", "answer")])
        .await
        .unwrap();
    db.store.close().await;

    let store = db.reopen().await;
    assert!(
        store
            .merchant_by_api_key(&m.api_key.hash)
            .await
            .unwrap()
            .is_some()
    );
    assert!(
        store
            .merchant_by_pos_token(&m.pos_token.hash)
            .await
            .unwrap()
            .is_some()
    );
    let c = store.card("m1", "c1").await.unwrap().unwrap();
    assert_eq!((c.visits, c.points, c.total_spent), (1, 7, dec("7.77")));
    let active = store.active_policy("m1").await.unwrap().unwrap();
    assert_eq!(
        (active.version, active.wasm.as_slice()),
        (1, b"module".as_slice())
    );
    assert_eq!(store.policy_state("m1").await.unwrap().generation, 2);
    let evals = store
        .list_evaluations(
            "m1",
            &EvaluationQuery {
                limit: 10,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(evals.items.len(), 1);
    // Idempotency survives the restart too.
    let again = store
        .record_transaction("m1", &bill("o1", "c1", "7.77", 7, 9))
        .await
        .unwrap();
    assert_eq!(again, Recorded::Duplicate(recorded.entry().clone()));
    store.close().await;
}

// ---------------------------------------------------------------------------------------
// SQLite specifics: how the file is opened.

#[tokio::test]
async fn sqlite_file_is_created_in_wal_mode_from_any_url_form() {
    let dir = tempfile::tempdir().unwrap();
    let bare = dir.path().join("bare.db");
    let url = dir.path().join("url.db");
    for spec in [
        bare.display().to_string(),
        format!("sqlite://{}", url.display()),
    ] {
        let store = Store::connect(&spec).await.unwrap();
        assert_eq!(store.engine(), EngineKind::Sqlite);
        store.ping().await.unwrap();
        store.close().await;
    }
    for path in [bare, url] {
        assert!(path.exists(), "{} created", path.display());
        let mut conn = sqlx::SqliteConnection::connect(&format!("sqlite://{}", path.display()))
            .await
            .unwrap();
        let (mode,): (String,) = sqlx::query_as("PRAGMA journal_mode")
            .fetch_one(&mut conn)
            .await
            .unwrap();
        assert_eq!(mode, "wal");
        conn.close().await.unwrap();
    }
}

#[tokio::test]
async fn unsupported_database_url_is_refused() {
    let err = Store::connect("mysql://localhost/rabat").await.unwrap_err();
    assert!(matches!(err, StoreError::Invalid(_)), "{err:?}");
}

#[tokio::test]
async fn postgres_schema_name_is_validated() {
    let mut options = StoreOptions::new("postgres://postgres@127.0.0.1:1/test");
    options.postgres_schema = Some("x\"; DROP TABLE y".into());
    let err = Store::connect_with(&options).await.unwrap_err();
    assert!(matches!(err, StoreError::Invalid(_)), "{err:?}");
}

// The evaluation log's retention, housekeeping, compression and migration.
#[path = "store/evaluation_log.rs"]
mod evaluation_log;

// Paying with points: holds, redemptions and card changes.
#[path = "store/campaigns.rs"]
mod campaigns;
#[path = "store/coupons.rs"]
mod coupons;
#[path = "store/holds.rs"]
mod holds;
#[path = "store/returns.rs"]
mod returns;
// Points over time: lots, vesting, expiry.
#[path = "store/lots.rs"]
mod lots;
