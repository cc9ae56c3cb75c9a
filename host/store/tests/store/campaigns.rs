//! Campaigns in the store: the default campaign follows activation and the policy config
//! (and its edits write them back), campaigns are created, edited, paused, resumed and
//! ended with their constraints, each change bumps the generation and is audited in its
//! own transaction, and only active campaigns are runnable.

use rabat_store::{
    AuditRecord, Campaign, CampaignEdit, CampaignState, Entity, NewCampaign, StackingMode,
    StoreError,
};
use serde_json::json;

use rabat_store::EngineKind;

use super::{TestDb, audit, is_not_found, merchant};

on_both_engines!(
    the_default_campaign_follows_activation_and_the_policy_config,
    campaigns_are_created_edited_paused_resumed_and_ended,
    each_campaign_change_is_audited_in_its_transaction,
    the_migration_makes_each_active_policy_the_default_campaign,
    concurrent_creates_never_pass_the_bound_on_open_campaigns,
);

fn new(name: &str, version: i64, priority: i64) -> NewCampaign {
    NewCampaign {
        name: name.to_owned(),
        policy_version: version,
        config: json!({"rate": 12.3400}),
        starts_at: None,
        ends_at: None,
        priority,
        mode: StackingMode::Stackable,
        group: None,
        limits: None,
    }
}

fn named(action: &'static str) -> impl Fn(&Campaign) -> AuditRecord + Send {
    move |c: &Campaign| AuditRecord::now("test", action, json!({"id": c.id}))
}

async fn the_default_campaign_follows_activation_and_the_policy_config(db: &TestDb) {
    let s = &db.store;
    merchant(s, "m1").await;
    s.put_policy_config("m1", &json!({"gold": 10}), audit)
        .await
        .unwrap();
    assert!(
        s.list_campaigns("m1").await.unwrap().is_empty(),
        "no campaign before an activation"
    );
    s.add_policy("m1", b"one", None, audit).await.unwrap();
    s.add_policy("m1", b"two", None, audit).await.unwrap();
    s.activate_policy("m1", 1, audit).await.unwrap();
    let all = s.list_campaigns("m1").await.unwrap();
    assert_eq!(all.len(), 1);
    let default = &all[0];
    assert_eq!(
        (
            default.name.as_str(),
            default.policy_version,
            default.is_default
        ),
        ("default", 1, true)
    );
    assert_eq!(
        (default.mode, default.state),
        (StackingMode::Stackable, CampaignState::Active)
    );
    assert_eq!(default.config, json!({"gold": 10}));

    // The policy routes act on it.
    let exact: serde_json::Value = serde_json::from_str(r#"{"gold": 12.50}"#).unwrap();
    s.put_policy_config("m1", &exact, audit).await.unwrap();
    s.activate_policy("m1", 2, audit).await.unwrap();
    let runnable = s.runnable_campaigns("m1").await.unwrap();
    assert_eq!(runnable.len(), 1);
    assert_eq!(runnable[0].campaign.policy_version, 2);
    assert_eq!(
        runnable[0].config_text,
        s.policy_config("m1").await.unwrap()
    );
    assert!(runnable[0].config_text.contains("12.50"), "kept exactly");

    // An edit of the default campaign writes the policy state back.
    let id = runnable[0].campaign.id;
    let before = s.policy_state("m1").await.unwrap().generation;
    let edit = CampaignEdit {
        policy_version: Some(1),
        config: Some(json!({"gold": 5})),
        ..CampaignEdit::default()
    };
    s.update_campaign("m1", id, &edit, audit).await.unwrap();
    let state = s.policy_state("m1").await.unwrap();
    assert_eq!(state.active_version, Some(1));
    assert_eq!(state.config, r#"{"gold":5}"#);
    assert_eq!(state.generation, before + 1);
    let listed = s.list_policies("m1").await.unwrap();
    assert!(listed.iter().any(|p| p.version == 1 && p.active));
}

async fn campaigns_are_created_edited_paused_resumed_and_ended(db: &TestDb) {
    let s = &db.store;
    merchant(s, "m1").await;
    merchant(s, "m2").await;
    s.add_policy("m1", b"one", None, audit).await.unwrap();
    s.add_policy("m1", b"two", None, audit).await.unwrap();

    let low = s
        .create_campaign("m1", &new("low", 1, -5), 20, audit)
        .await
        .unwrap();
    let high = s
        .create_campaign("m1", &new("high", 2, 10), 20, audit)
        .await
        .unwrap();
    let same = s
        .create_campaign("m1", &new("same", 1, 10), 20, audit)
        .await
        .unwrap();
    let order: Vec<&str> = vec!["high", "same", "low"];
    let listed = s.list_campaigns("m1").await.unwrap();
    assert_eq!(
        listed.iter().map(|c| c.name.as_str()).collect::<Vec<_>>(),
        order
    );
    assert_eq!(s.campaign("m1", low.id).await.unwrap(), low);
    assert_eq!(low.config, json!({"rate": 12.3400}));
    assert!(!low.is_default);

    // Refusals.
    let err = s
        .create_campaign("m1", &new("high", 1, 0), 20, audit)
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::Conflict {
                entity: Entity::Campaign,
                ..
            }
        ),
        "{err:?}"
    );
    let err = s
        .create_campaign("m1", &new("x", 9, 0), 20, audit)
        .await
        .unwrap_err();
    assert!(is_not_found(&err, Entity::Policy), "{err:?}");
    let mut best = new("best", 1, 0);
    best.mode = StackingMode::BestOf;
    let err = s.create_campaign("m1", &best, 20, audit).await.unwrap_err();
    assert!(
        matches!(&err, StoreError::Invalid(m) if m.starts_with("group")),
        "{err:?}"
    );
    best.group = Some("g".into());
    let best = s.create_campaign("m1", &best, 20, audit).await.unwrap();
    assert_eq!(best.group.as_deref(), Some("g"));
    let mut scheduled = new("sched", 1, 0);
    scheduled.starts_at = Some(2_000);
    scheduled.ends_at = Some(1_000);
    let err = s
        .create_campaign("m1", &scheduled, 20, audit)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, StoreError::Invalid(m) if m.starts_with("endsAt")),
        "{err:?}"
    );
    let err = s
        .create_campaign("ghost", &new("x", 1, 0), 20, audit)
        .await
        .unwrap_err();
    assert!(is_not_found(&err, Entity::Merchant), "{err:?}");
    // Another merchant sees none of them and cannot reach them.
    assert!(s.list_campaigns("m2").await.unwrap().is_empty());
    let err = s.campaign("m2", low.id).await.unwrap_err();
    assert!(is_not_found(&err, Entity::Campaign), "{err:?}");
    let err = s
        .set_campaign_state("m2", low.id, CampaignState::Ended, audit)
        .await
        .unwrap_err();
    assert!(is_not_found(&err, Entity::Campaign), "{err:?}");

    // Edits: schedule set and cleared, name clash refused, mode with group.
    let generation = s.policy_state("m1").await.unwrap().generation;
    let edit = CampaignEdit {
        starts_at: Some(Some(1_000)),
        ends_at: Some(Some(5_000)),
        priority: Some(20),
        ..CampaignEdit::default()
    };
    let edited = s
        .update_campaign("m1", low.id, &edit, audit)
        .await
        .unwrap()
        .after;
    assert_eq!(
        (edited.starts_at, edited.ends_at, edited.priority),
        (Some(1_000), Some(5_000), 20)
    );
    assert!(
        !edited.is_live(999)
            && edited.is_live(1_000)
            && edited.is_live(4_999)
            && !edited.is_live(5_000)
    );
    assert_eq!(
        s.policy_state("m1").await.unwrap().generation,
        generation + 1
    );
    let clear = CampaignEdit {
        ends_at: Some(None),
        ..CampaignEdit::default()
    };
    let edited = s
        .update_campaign("m1", low.id, &clear, audit)
        .await
        .unwrap()
        .after;
    assert_eq!((edited.starts_at, edited.ends_at), (Some(1_000), None));
    let clash = CampaignEdit {
        name: Some("high".into()),
        ..CampaignEdit::default()
    };
    let err = s
        .update_campaign("m1", low.id, &clash, audit)
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict { .. }), "{err:?}");
    let to_best = CampaignEdit {
        mode: Some((StackingMode::BestOf, Some("g".into()))),
        ..CampaignEdit::default()
    };
    let edited = s
        .update_campaign("m1", same.id, &to_best, audit)
        .await
        .unwrap()
        .after;
    assert_eq!(
        (edited.mode, edited.group.as_deref()),
        (StackingMode::BestOf, Some("g"))
    );
    // The default campaign's state is untouched by editing another.
    assert_eq!(s.policy_state("m1").await.unwrap().active_version, None);

    // States: only active campaigns are runnable; an ended one is final.
    s.set_campaign_state("m1", high.id, CampaignState::Paused, audit)
        .await
        .unwrap();
    let runnable: Vec<i64> = s
        .runnable_campaigns("m1")
        .await
        .unwrap()
        .iter()
        .map(|r| r.campaign.id)
        .collect();
    assert!(
        !runnable.contains(&high.id) && runnable.contains(&low.id),
        "{runnable:?}"
    );
    let generation = s.policy_state("m1").await.unwrap().generation;
    let again = s
        .set_campaign_state("m1", high.id, CampaignState::Paused, audit)
        .await
        .unwrap();
    assert_eq!(again.after.state, CampaignState::Paused);
    assert_eq!(
        s.policy_state("m1").await.unwrap().generation,
        generation,
        "a repeat changes nothing"
    );
    s.set_campaign_state("m1", high.id, CampaignState::Active, audit)
        .await
        .unwrap();
    s.set_campaign_state("m1", high.id, CampaignState::Ended, audit)
        .await
        .unwrap();
    for state in [CampaignState::Active, CampaignState::Paused] {
        let err = s
            .set_campaign_state("m1", high.id, state, audit)
            .await
            .unwrap_err();
        assert!(matches!(err, StoreError::Conflict { .. }), "{err:?}");
    }
    let err = s
        .update_campaign(
            "m1",
            high.id,
            &CampaignEdit {
                priority: Some(1),
                ..CampaignEdit::default()
            },
            audit,
        )
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict { .. }), "{err:?}");
    assert_eq!(
        s.campaign("m1", high.id).await.unwrap().state,
        CampaignState::Ended
    );
    let _ = best;
}

async fn each_campaign_change_is_audited_in_its_transaction(db: &TestDb) {
    let s = &db.store;
    merchant(s, "m1").await;
    s.add_policy("m1", b"one", None, audit).await.unwrap();
    let before = s.list_audit("m1", 500, None).await.unwrap().items.len();
    let c = s
        .create_campaign("m1", &new("hh", 1, 0), 20, named("campaign.create"))
        .await
        .unwrap();
    let change = |action: &'static str| {
        move |_: &rabat_store::CampaignChange| AuditRecord::now("test", action, json!({}))
    };
    let edit = CampaignEdit {
        priority: Some(3),
        ..CampaignEdit::default()
    };
    s.update_campaign("m1", c.id, &edit, change("campaign.edit"))
        .await
        .unwrap();
    s.set_campaign_state("m1", c.id, CampaignState::Paused, change("campaign.pause"))
        .await
        .unwrap();
    s.set_campaign_state("m1", c.id, CampaignState::Ended, change("campaign.end"))
        .await
        .unwrap();
    // A refused change writes no audit row.
    let _ = s
        .update_campaign("m1", c.id, &edit, change("campaign.edit"))
        .await
        .unwrap_err();
    let rows = s.list_audit("m1", 500, None).await.unwrap().items;
    let actions: Vec<&str> = rows[..rows.len() - before]
        .iter()
        .rev()
        .map(|e| e.record.action.as_str())
        .collect();
    assert_eq!(
        actions,
        [
            "campaign.create",
            "campaign.edit",
            "campaign.pause",
            "campaign.end"
        ]
    );
}

/// Migration 0011's data step (its `INSERT … SELECT`, run again on a database whose
/// campaigns were emptied): a merchant with an active policy gets a default campaign with
/// its version and config, one without gets none.
async fn the_migration_makes_each_active_policy_the_default_campaign(db: &TestDb) {
    let s = &db.store;
    merchant(s, "m1").await;
    merchant(s, "m2").await;
    let exact: serde_json::Value = serde_json::from_str(r#"{"gold": 12.50}"#).unwrap();
    s.put_policy_config("m1", &exact, audit).await.unwrap();
    s.add_policy("m1", b"one", None, audit).await.unwrap();
    s.add_policy("m1", b"two", None, audit).await.unwrap();
    s.activate_policy("m1", 2, audit).await.unwrap();
    s.put_policy_config("m2", &json!({"x": 1}), audit)
        .await
        .unwrap();
    db.execute("DELETE FROM campaigns").await;
    assert!(s.list_campaigns("m1").await.unwrap().is_empty());
    let engine = match s.engine() {
        EngineKind::Sqlite => "sqlite",
        EngineKind::Postgres => "postgres",
    };
    let path = format!(
        "{}/migrations/{engine}/0011_campaigns.sql",
        env!("CARGO_MANIFEST_DIR")
    );
    let migration = std::fs::read_to_string(path).unwrap();
    let insert = &migration[migration.find("INSERT INTO campaigns").unwrap()..];
    db.execute(insert).await;
    let all = s.list_campaigns("m1").await.unwrap();
    assert_eq!(all.len(), 1);
    let default = &all[0];
    assert_eq!(
        (default.name.as_str(), default.policy_version),
        ("default", 2)
    );
    assert!(default.is_default && default.state == CampaignState::Active);
    assert_eq!(
        (default.mode, default.group.as_deref()),
        (StackingMode::Stackable, None)
    );
    let runnable = s.runnable_campaigns("m1").await.unwrap();
    assert_eq!(
        runnable[0].config_text,
        s.policy_config("m1").await.unwrap()
    );
    assert!(runnable[0].config_text.contains("12.50"));
    assert!(s.list_campaigns("m2").await.unwrap().is_empty());
    // And activation keeps acting on it: no second default campaign.
    s.activate_policy("m1", 1, audit).await.unwrap();
    let all = s.list_campaigns("m1").await.unwrap();
    assert_eq!(all.len(), 1);
    assert_eq!(all[0].policy_version, 1);
}

async fn concurrent_creates_never_pass_the_bound_on_open_campaigns(db: &TestDb) {
    let s = &db.store;
    merchant(s, "m1").await;
    s.add_policy("m1", b"one", None, audit).await.unwrap();
    // Eight at once against a bound of 3: the count is taken under the merchant's lock.
    let creates: Vec<_> = (0..8)
        .map(|i| {
            let s = s.clone();
            tokio::spawn(async move {
                s.create_campaign("m1", &new(&format!("c{i}"), 1, 0), 3, audit)
                    .await
            })
        })
        .collect();
    let mut results = Vec::new();
    for create in creates {
        results.push(create.await);
    }
    let made = results.iter().filter(|r| matches!(r, Ok(Ok(_)))).count();
    assert_eq!(made, 3, "{results:?}");
    for result in results {
        match result.unwrap() {
            Ok(_) => {}
            Err(StoreError::QuotaExceeded(why)) => assert!(
                why.contains("at most 3 are allowed (end one first)"),
                "{why}"
            ),
            Err(other) => panic!("{other}"),
        }
    }
    assert_eq!(s.list_campaigns("m1").await.unwrap().len(), 3);
}
