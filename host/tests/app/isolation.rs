//! Isolation between merchants under load: a merchant whose policy always runs to its
//! time limit, hammering endpoint 1, fills only its own slots. Its excess calls get the
//! fail-safe answer (recorded as `busy`), and another merchant's calls meanwhile are
//! answered, correctly, without ever being turned away. Structural, not timed: what is
//! asserted is who was answered what, never how fast.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::common::app::{TestApp, TestMerchant, audit};
use crate::common::db::{Target, TestDb};
use crate::common::wasm::{example, fixture};
use rabat::model::Card;
use rabat::store::{EvaluationQuery, StoredEvaluation};
use serde_json::{Value, json};

app_on_both_engines!(
    a_saturated_merchant_does_not_starve_another,
    one_merchants_dry_runs_do_not_take_the_instance_pool,
);

const DISCOUNTS: &str = "/pos/papaya/v1/discounts";

fn bill() -> Value {
    serde_json::from_slice(&crate::common::wasm::data(
        "bills/papaya-discount-request.json",
    ))
    .unwrap()
}

async fn gold(app: &TestApp, shop: &TestMerchant) {
    let mut card = Card::new("memberCardId");
    card.tier = Some("gold".into());
    app.card(shop, card).await;
}

/// The merchant's logged evaluations (with `outcome`, if given).
async fn logged(app: &TestApp, merchant: &str, outcome: Option<&str>) -> Vec<StoredEvaluation> {
    let query = EvaluationQuery {
        limit: 500,
        outcome,
        ..Default::default()
    };
    let page = app
        .state
        .store()
        .list_evaluations(merchant, &query)
        .await
        .unwrap();
    page.items
}

async fn outcomes(app: &TestApp, merchant: &str, outcome: &str) -> usize {
    logged(app, merchant, Some(outcome)).await.len()
}

/// Endpoint 1 on [`bill`] for the merchant of `pos_token`: its `totalDiscount` (the call
/// must be answered, 200).
async fn total_discount(app: &TestApp, pos_token: &str) -> String {
    let reply = app.post_json(DISCOUNTS, pos_token, &bill()).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    reply.json["totalDiscount"].to_string()
}

async fn a_saturated_merchant_does_not_starve_another(setup: &TestApp) {
    let mut settings = crate::common::app::settings();
    settings.merchant_concurrency = 1;
    settings.merchant_queue = Duration::from_millis(1);
    // Each of the hog's calls runs until its deadline.
    settings.policy_limits.fuel = u64::MAX / 2;
    settings.policy_limits.deadline_ms = 300;
    let app = Arc::new(
        TestApp::with_settings(
            TestDb {
                store: setup.db.reopen().await,
                target: Target::Shared,
            },
            settings,
        )
        .await,
    );
    let hog = app.merchant("hog").await;
    gold(&app, &hog).await;
    app.activate(&hog, &fixture("loop"), json!({})).await;
    let calm = app.merchant("calm").await;
    gold(&app, &calm).await;
    app.activate(
        &calm,
        &example("tier-discount"),
        json!({"tiers": {"gold": 10}}),
    )
    .await;

    // The hog: waves of 4 concurrent calls until told to stop. Every one is a 200 with
    // no discount (timed out, or turned away).
    let stop = Arc::new(AtomicBool::new(false));
    let hammer = {
        let (app, stop, token) = (app.clone(), stop.clone(), hog.pos_token.clone());
        tokio::spawn(async move {
            let mut answered = 0;
            let body = bill();
            while !stop.load(Ordering::Relaxed) {
                let wave = (0..4).map(|_| app.post_json(DISCOUNTS, &token, &body));
                for reply in futures::future::join_all(wave).await {
                    assert_eq!(reply.status, 200, "{}", reply.text);
                    assert_eq!(
                        reply.json["totalDiscount"].to_string(),
                        "0.00",
                        "{}",
                        reply.text
                    );
                    answered += 1;
                }
            }
            answered
        })
    };
    // Saturated: the hog's own calls are being turned away.
    let since = Instant::now();
    while app.state.admission().rejections("hog") == 0 {
        assert!(
            since.elapsed() < Duration::from_secs(30),
            "the hog never filled its slot"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    // Meanwhile the calm merchant is answered, correctly, every time.
    for _ in 0..10 {
        let reply = app.post_json(DISCOUNTS, &calm.pos_token, &bill()).await;
        assert_eq!(reply.status, 200, "{}", reply.text);
        assert_eq!(
            reply.json["totalDiscount"].to_string(),
            "5.00",
            "{}",
            reply.text
        );
    }
    stop.store(true, Ordering::Relaxed);
    let answered = hammer.await.unwrap();
    assert!(answered >= 4);

    let admission = app.state.admission();
    assert!(admission.rejections("hog") >= 1);
    assert_eq!(admission.rejections("calm"), 0);
    assert_eq!(
        admission.total_rejections(),
        admission.rejections("hog"),
        "only the hog was turned away"
    );
    app.flush_evaluations().await;
    assert!(
        outcomes(&app, "hog", "busy").await >= 1,
        "turned-away calls are logged"
    );
    assert!(
        outcomes(&app, "hog", "timeout").await >= 1,
        "the hog's admitted calls ran to their deadline"
    );
    assert_eq!(outcomes(&app, "calm", "answer").await, 10);
    assert_eq!(outcomes(&app, "calm", "busy").await, 0);
    Arc::into_inner(app).unwrap().shutdown().await;
}

/// Dry-runs ran outside the per-merchant bound, so one merchant's burst of them could
/// take every instance slot of the pool and leave other merchants' tills with the
/// fail-safe answer. Now they take the merchant's slots like its tills (the excess waits,
/// then is told the merchant is busy), and all merchants together stay within the pool.
async fn one_merchants_dry_runs_do_not_take_the_instance_pool(setup: &TestApp) {
    let mut settings = crate::common::app::settings();
    settings.merchant_concurrency = 1;
    settings.merchant_queue = Duration::from_millis(1);
    settings.policy_limits.fuel = u64::MAX / 2;
    settings.policy_limits.deadline_ms = 300;
    let app = Arc::new(
        TestApp::with_settings(
            TestDb {
                store: setup.db.reopen().await,
                target: Target::Shared,
            },
            settings,
        )
        .await,
    );
    let hog = app.merchant("hog").await;
    gold(&app, &hog).await;
    let spinning = app
        .state
        .store()
        .add_policy(&hog.id, &fixture("loop"), None, audit)
        .await
        .unwrap()
        .version;
    let calm = app.merchant("calm").await;
    gold(&app, &calm).await;
    app.activate(
        &calm,
        &example("tier-discount"),
        json!({"tiers": {"gold": 10}}),
    )
    .await;
    let path = format!("/admin/v1/merchants/{}/policies/{spinning}/dry-run", hog.id);
    let body = json!({"order": bill()});
    // Compiled once before the burst.
    let warm = app.post_json(&path, &hog.api_key, &body).await;
    assert_eq!(warm.status, 200, "{}", warm.text);

    // More dry-runs at once than the pool has instance slots.
    let burst: Vec<_> = (0..160)
        .map(|_| {
            let (app, path, key, body) =
                (app.clone(), path.clone(), hog.api_key.clone(), body.clone());
            tokio::spawn(async move { app.post_json(&path, &key, &body).await })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(100)).await;
    for _ in 0..10 {
        let reply = app.post_json(DISCOUNTS, &calm.pos_token, &bill()).await;
        assert_eq!(reply.status, 200, "{}", reply.text);
        assert_eq!(
            reply.json["totalDiscount"].to_string(),
            "5.00",
            "another merchant's dry-runs took the till's instance: {}",
            reply.text
        );
    }
    let mut busy = 0;
    for reply in futures::future::join_all(burst).await {
        let reply = reply.unwrap();
        match reply.status.as_u16() {
            200 => assert_eq!(reply.json["outcome"], "timeout", "{}", reply.text),
            503 => {
                assert!(reply.text.contains("merchant 'hog'"), "{}", reply.text);
                busy += 1;
            }
            other => panic!("dry-run answered {other}: {}", reply.text),
        }
    }
    assert!(busy > 0, "the burst was never turned away");
    Arc::into_inner(app).unwrap().shutdown().await;
}

/// Endpoint 1's policy call runs inline on the tokio worker, not on the blocking pool: with
/// the runtime's only blocking thread taken, a till is still answered, correctly. (The
/// inline deadline is raised so a slow debug build cannot push the call back to the pool;
/// the 60 s bound only turns a hang into a failure.) A policy that runs past the inline
/// deadline is run again on the pool with the full limits: its answer once the pool is free
/// is the same as the pool alone gives (the `loop` fixture: timed out, no discount).
#[test]
fn a_short_policy_call_does_not_wait_for_the_blocking_pool() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .max_blocking_threads(1)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let mut settings = crate::common::app::settings();
        settings.inline_deadline = Duration::from_millis(1_000);
        settings.policy_limits.fuel = u64::MAX / 2;
        settings.policy_limits.deadline_ms = 1_500;
        let app = TestApp::with_settings(TestDb::sqlite().await, settings).await;
        let calm = app.merchant("calm").await;
        gold(&app, &calm).await;
        app.activate(
            &calm,
            &example("tier-discount"),
            json!({"tiers": {"gold": 10}}),
        )
        .await;
        let hog = app.merchant("hog").await;
        gold(&app, &hog).await;
        app.activate(&hog, &fixture("loop"), json!({})).await;
        // Loading a policy into memory uses the pool: once each, before it is taken.
        assert_eq!(total_discount(&app, &calm.pos_token).await, "5.00");

        let (release, released) = std::sync::mpsc::channel::<()>();
        let (taken, is_taken) = tokio::sync::oneshot::channel::<()>();
        let blocker = tokio::task::spawn_blocking(move || {
            let _ = taken.send(());
            let _ = released.recv();
        });
        is_taken.await.unwrap();
        for _ in 0..3 {
            let total = tokio::time::timeout(
                Duration::from_secs(60),
                total_discount(&app, &calm.pos_token),
            )
            .await
            .expect("answered while the blocking pool is taken");
            assert_eq!(total, "5.00");
        }
        release.send(()).unwrap();
        blocker.await.unwrap();

        // The hog's call runs past the inline deadline, then again on the pool, to its
        // full deadline: the fail-safe answer, logged as a timeout.
        assert_eq!(total_discount(&app, &hog.pos_token).await, "0.00");
        app.flush_evaluations().await;
        assert_eq!(outcomes(&app, "hog", "timeout").await, 1);
        assert_eq!(outcomes(&app, "calm", "answer").await, 4);
        app.shutdown().await;
    });
}

/// A policy slow without fuel — its time goes to page faults (the `page-faults` fixture:
/// 12 000 fresh pages, one write each) — runs into the inline deadline having used less
/// than `SLOW_FUEL`, as a fast call descheduled on a busy machine does. Its thread's CPU
/// time says it was running, so it leaves the tokio workers at once, not stalling one on
/// every call: of six bills, only the first runs inline first (a few, should the test's
/// own worker be descheduled meanwhile). Counted, not timed: the `/metrics` counters say
/// how many inline calls ran past the deadline and were run again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_policy_slow_without_fuel_leaves_the_workers_at_once() {
    use rabat::service::runner::SLOW_FUEL;
    let mut settings = crate::common::app::settings();
    settings.policy_limits.memory_bytes = 64 << 20;
    let app = TestApp::with_settings(TestDb::sqlite().await, settings).await;
    let faults = app.merchant("faults").await;
    gold(&app, &faults).await;
    app.activate(&faults, &fixture("page-faults"), json!({}))
        .await;
    let bills = 6;
    for _ in 0..bills {
        assert_eq!(total_discount(&app, &faults.pos_token).await, "0.00");
    }
    app.flush_evaluations().await;
    // The fixture is what this test is about: each call answered, on little fuel (so the
    // fuel rule alone would have kept it inline).
    let logged = logged(&app, "faults", None).await;
    let outcomes: Vec<_> = logged
        .iter()
        .map(|item| item.record.outcome.as_str())
        .collect();
    assert_eq!(outcomes, vec!["answer"; bills]);
    for item in &logged {
        let fuel = item.record.fuel.expect("a call's fuel is logged");
        assert!(fuel < SLOW_FUEL, "the fixture used {fuel} fuel");
    }
    let metrics = app
        .call("GET", "/metrics", Some(crate::common::app::OPERATOR), "")
        .await;
    assert_eq!(metrics.status, 200, "{}", metrics.text);
    let counter = |name: &str| -> u64 {
        metrics
            .text
            .lines()
            .find_map(|line| line.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
            .unwrap_or_else(|| panic!("{name} not in:\n{}", metrics.text))
    };
    assert_eq!(counter("rabat_policy_marked_slow_total"), 1);
    let retried = counter("rabat_policy_inline_retries_total");
    assert!(
        (1..=3).contains(&retried),
        "{retried} of {bills} calls ran inline first"
    );
    app.shutdown().await;
}
