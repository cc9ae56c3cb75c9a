//! The compiled-policy cache and the bound on loaded policies: a restarted server (or a
//! new replica) loads a policy's compiled artifact from the database instead of
//! compiling it; a damaged or unusable artifact is compiled again, never fatal; past the
//! bound, the least recently used compiled policies are dropped and come back on demand.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common::app::{TestApp, TestMerchant};
use crate::common::db::{Target, TestDb};
use crate::common::wasm::{distinct, example};
use rabat::config::Settings;
use rabat::model::Card;
use rabat::store::CompiledArtifact;
use serde_json::{Value, json};

app_on_both_engines!(
    a_restart_loads_instead_of_compiling,
    a_bad_artifact_is_compiled_again,
    least_recently_used_policies_are_dropped_and_reloaded,
    without_the_cache_every_load_compiles,
    a_planted_artifact_is_never_loaded,
    without_a_secrets_key_the_cache_is_off,
);

const DISCOUNTS: &str = "/pos/papaya/v1/discounts";

fn bill() -> Value {
    serde_json::from_slice(&crate::common::wasm::data(
        "bills/papaya-discount-request.json",
    ))
    .unwrap()
}

/// A merchant with a gold card running tier-discount (variant `variant`, so each has
/// its own module hash) at `percent` % for gold.
async fn shop(app: &TestApp, id: &str, variant: u64, percent: u32) -> TestMerchant {
    let shop = app.merchant(id).await;
    let mut card = Card::new("memberCardId");
    card.tier = Some("gold".into());
    app.card(&shop, card).await;
    let wasm = distinct(&example("tier-discount"), variant);
    app.activate(&shop, &wasm, json!({"tiers": {"gold": percent}}))
        .await;
    shop
}

async fn total(app: &TestApp, shop: &TestMerchant) -> String {
    let reply = app.post_json(DISCOUNTS, &shop.pos_token, &bill()).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    reply.json["totalDiscount"].to_string()
}

/// Another server on the same database, with its own settings.
async fn server(app: &TestApp, settings: Settings) -> TestApp {
    let store = app.db.reopen().await;
    TestApp::with_settings(
        TestDb {
            store,
            target: Target::Shared,
        },
        settings,
    )
    .await
}

/// (compiled, loaded from cache, rejected artifacts, evictions, loaded now)
fn counts(app: &TestApp) -> (u64, u64, u64, u64, u64) {
    let stats = app.state.active().stats();
    (
        stats.compiled(),
        stats.loaded_from_cache(),
        stats.cache_rejected(),
        stats.evictions(),
        stats.loaded(),
    )
}

async fn a_restart_loads_instead_of_compiling(app: &TestApp) {
    let shop = shop(app, "cafe", 1, 10).await;
    assert_eq!(total(app, &shop).await, "5.00");
    assert_eq!(counts(app), (1, 0, 0, 0, 1), "the first server compiles");

    let restarted = app.restart().await;
    assert_eq!(total(&restarted, &shop).await, "5.00");
    assert_eq!(
        counts(&restarted),
        (0, 1, 0, 0, 1),
        "the restarted server loads the stored artifact"
    );
    restarted.shutdown().await;
}

async fn a_bad_artifact_is_compiled_again(app: &TestApp) {
    let shop = shop(app, "cafe", 2, 10).await;
    assert_eq!(total(app, &shop).await, "5.00");
    let store = app.state.store();
    let engine = app.state.runtime().engine_key().to_owned();
    let sha256 = {
        let active = store.active_policy("cafe").await.unwrap().unwrap();
        active.sha256
    };
    assert!(matches!(
        store.compiled(&sha256, &engine).await.unwrap(),
        CompiledArtifact::Found { .. }
    ));

    // Bytes that are not an artifact, stored with a matching checksum and MAC: wasmtime
    // refuses them, and the server compiles.
    store.delete_compiled(&sha256, &engine).await.unwrap();
    let bad = b"not a wasmtime artifact";
    let key = crate::common::app::settings().secrets_key.unwrap();
    let mac = key.artifact_key().mac(&engine, &sha256, bad);
    store
        .put_compiled(&sha256, &engine, bad, &mac)
        .await
        .unwrap();
    let restarted = app.restart().await;
    assert_eq!(total(&restarted, &shop).await, "5.00");
    assert_eq!(counts(&restarted), (1, 0, 1, 0, 1));
    restarted.shutdown().await;
    // ... and replaced the bad artifact with a good one.
    let restarted = app.restart().await;
    assert_eq!(total(&restarted, &shop).await, "5.00");
    assert_eq!(counts(&restarted), (0, 1, 0, 0, 1));
    restarted.shutdown().await;

    // A row whose bytes no longer match their checksum is never handed to wasmtime.
    app.db
        .execute("UPDATE compiled_policies SET artifact_sha256 = 'damaged'")
        .await;
    assert_eq!(
        store.compiled(&sha256, &engine).await.unwrap(),
        CompiledArtifact::Damaged
    );
    let restarted = app.restart().await;
    assert_eq!(total(&restarted, &shop).await, "5.00");
    assert_eq!(counts(&restarted), (1, 0, 1, 0, 1));
    restarted.shutdown().await;
    assert!(matches!(
        store.compiled(&sha256, &engine).await.unwrap(),
        CompiledArtifact::Found { .. }
    ));
}

async fn least_recently_used_policies_are_dropped_and_reloaded(app: &TestApp) {
    let shops = [
        shop(app, "one", 11, 10).await,
        shop(app, "two", 12, 20).await,
        shop(app, "three", 13, 30).await,
    ];
    let mut settings = crate::common::app::settings();
    settings.max_loaded_policies = 2;
    let server = server(app, settings).await;
    let [one, two, three] = &shops;

    assert_eq!(total(&server, one).await, "5.00");
    assert_eq!(total(&server, two).await, "10.00");
    assert_eq!(counts(&server), (2, 0, 0, 0, 2));
    // A third policy pushes out the least recently used: one's.
    assert_eq!(total(&server, three).await, "15.00");
    assert_eq!(counts(&server), (3, 0, 0, 1, 2));
    // Two's and three's are in memory: no load, no eviction.
    assert_eq!(total(&server, two).await, "10.00");
    assert_eq!(total(&server, three).await, "15.00");
    assert_eq!(counts(&server), (3, 0, 0, 1, 2));
    // One's comes back from the compiled cache, pushing out two's (used before three's).
    assert_eq!(total(&server, one).await, "5.00");
    assert_eq!(counts(&server), (3, 1, 0, 2, 2));
    assert_eq!(total(&server, three).await, "15.00");
    assert_eq!(counts(&server), (3, 1, 0, 2, 2));
    assert_eq!(total(&server, two).await, "10.00");
    assert_eq!(counts(&server), (3, 2, 0, 3, 2));
    server.shutdown().await;
}

async fn without_the_cache_every_load_compiles(app: &TestApp) {
    let one = shop(app, "one", 21, 10).await;
    let two = shop(app, "two", 22, 20).await;
    let mut settings = crate::common::app::settings();
    settings.max_loaded_policies = 1;
    settings.compiled_cache = false;
    let server = server(app, settings).await;
    assert_eq!(total(&server, &one).await, "5.00");
    assert_eq!(total(&server, &two).await, "10.00");
    assert_eq!(total(&server, &one).await, "5.00");
    assert_eq!(counts(&server), (3, 0, 0, 2, 1));
    let engine = server.state.runtime().engine_key().to_owned();
    let sha256 = app
        .state
        .store()
        .active_policy("one")
        .await
        .unwrap()
        .unwrap()
        .sha256;
    assert_eq!(
        app.state.store().compiled(&sha256, &engine).await.unwrap(),
        CompiledArtifact::Missing,
        "nothing written with the cache off"
    );
    server.shutdown().await;
}

/// Whoever can write the compiled-policy table but does not hold the secrets key plants
/// another module's genuine artifact (checksum right) under a merchant's module hash: the
/// MAC does not verify, so it is never deserialized; the server compiles the merchant's
/// own module, counts the rejection and replaces the row.
async fn a_planted_artifact_is_never_loaded(app: &TestApp) {
    let victim = shop(app, "victim", 31, 10).await;
    let donor = app.merchant("donor").await;
    let mut card = Card::new("memberCardId");
    card.tier = Some("gold".into());
    app.card(&donor, card).await;
    app.activate(
        &donor,
        &crate::common::wasm::fixture("policy-error"),
        json!({}),
    )
    .await;
    assert_eq!(total(app, &victim).await, "5.00");
    let donor_answer = total(app, &donor).await;
    assert_ne!(donor_answer, "5.00");
    let store = app.state.store();
    let sha =
        |m: &'static str| async move { store.active_policy(m).await.unwrap().unwrap().sha256 };
    let (victim_sha, donor_sha) = (sha("victim").await, sha("donor").await);
    app.db
        .execute(&format!(
            "UPDATE compiled_policies
             SET artifact = (SELECT artifact FROM compiled_policies WHERE module_sha256 = '{donor_sha}'),
                 artifact_sha256 = (SELECT artifact_sha256 FROM compiled_policies
                                    WHERE module_sha256 = '{donor_sha}')
             WHERE module_sha256 = '{victim_sha}'"
        ))
        .await;

    let restarted = app.restart().await;
    assert_eq!(
        total(&restarted, &victim).await,
        "5.00",
        "the planted artifact ran instead of the merchant's policy"
    );
    assert_eq!(counts(&restarted), (1, 0, 1, 0, 1), "rejected and compiled");
    restarted.shutdown().await;
    // The row was replaced with the server's own artifact, which loads.
    let restarted = app.restart().await;
    assert_eq!(total(&restarted, &victim).await, "5.00");
    assert_eq!(counts(&restarted), (0, 1, 0, 0, 1));
    restarted.shutdown().await;
}

/// With no secrets key there is nothing to authenticate artifacts with: the cache is off
/// (every load compiles, nothing is read or written), and policies still run.
async fn without_a_secrets_key_the_cache_is_off(app: &TestApp) {
    let one = shop(app, "one", 41, 10).await;
    assert_eq!(total(app, &one).await, "5.00");
    let mut settings = crate::common::app::settings();
    settings.secrets_key = None;
    settings.max_loaded_policies = 1;
    let server = server(app, settings).await;
    assert_eq!(total(&server, &one).await, "5.00");
    assert_eq!(
        counts(&server),
        (1, 0, 0, 0, 1),
        "compiled, the stored artifact unread"
    );
    let two = shop(app, "two", 42, 20).await;
    assert_eq!(total(&server, &two).await, "10.00");
    let engine = server.state.runtime().engine_key().to_owned();
    let sha = app
        .state
        .store()
        .active_policy("two")
        .await
        .unwrap()
        .unwrap()
        .sha256;
    assert_eq!(
        app.state.store().compiled(&sha, &engine).await.unwrap(),
        CompiledArtifact::Missing,
        "nothing written without a key"
    );
    server.shutdown().await;
}
