//! The BIFIT Kassa connector end to end, against a fake BIFIT on a loopback port
//! (`common/bifit.rs`), on SQLite and (when configured) PostgreSQL: connector settings,
//! both POS endpoints, every upstream failure, the token refresh, and the follower,
//! across a restart and with two followers at once.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use crate::common::app::{TestApp, TestMerchant, settings};
use crate::common::bifit::{CLIENT_ID, FakeBifit, ORDER_ID, order, seed_order};
use crate::common::db::{Target, TestDb};
use crate::common::wasm::{example, fixture};
use rabat::bifit::Follower;
use rabat::config::Settings;
use rabat::model::Card;
use rabat::store::{EngineKind, LedgerQuery, TrackState};
use serde_json::{Value, json};

app_on_both_engines!(
    connector_settings_are_sealed_and_never_shown,
    discount_for_an_online_order,
    cards_are_found_by_client_id_or_caller,
    upstream_failures_are_named,
    an_expired_token_is_refreshed_once,
    sync_records_a_finished_order_once,
    a_failing_policy_is_fail_safe,
    the_follower_takes_orders_to_a_final_status,
    the_follower_gives_up_after_max_attempts,
    the_follower_resumes_after_a_restart,
    two_followers_never_poll_one_order_twice,
    a_damaged_connector_is_our_fault_not_the_callers,
    connectors_reach_only_public_https_hosts,
    upstream_answers_are_not_echoed_nor_redirects_followed,
    a_disabled_merchants_follower_does_nothing_until_enabled,
    holds_are_kept_by_ledger_order_and_released_when_bifit_cancels,
);

fn discounts(id: impl std::fmt::Display) -> String {
    format!("/pos/bifit/v1/online-orders/{id}/discounts")
}

fn sync(id: impl std::fmt::Display) -> String {
    format!("/pos/bifit/v1/online-orders/{id}/sync")
}

fn connector(m: &TestMerchant) -> String {
    format!("/admin/v1/merchants/{}/connectors/bifit", m.id)
}

/// [`setup`] plus the tier-discount policy (gold: 10 %). Compiling a policy is the
/// slow part of a test, so only tests about the discount itself have one.
async fn setup_with_policy(app: &TestApp) -> (FakeBifit, TestMerchant) {
    let (fake, m) = setup(app).await;
    app.activate(
        &m,
        &example("tier-discount"),
        json!({"tiers": {"gold": 10}}),
    )
    .await;
    (fake, m)
}

/// A merchant with a gold card for BIFIT client 195363 and the connector pointed at the
/// fake (with refresh); no policy, so discounts are empty.
async fn setup(app: &TestApp) -> (FakeBifit, TestMerchant) {
    let fake = FakeBifit::start().await;
    fake.put(seed_order());
    let m = app.merchant("shop").await;
    let mut card = Card::new("card-1");
    card.customer_id = Some(CLIENT_ID.to_string());
    card.tier = Some("gold".into());
    app.card(&m, card).await;
    let put = app
        .call(
            "PUT",
            &connector(&m),
            Some(&m.api_key),
            json!({
                "baseUrl": fake.base_url, "accessToken": "at-0", "refreshToken": "rt-0",
                "tokenUrl": fake.token_url(),
            })
            .to_string(),
        )
        .await;
    assert_eq!(put.status, 201, "{}", put.text);
    (fake, m)
}

/// Another app on the same database with changed settings (a replica, or a restart).
async fn app_with(app: &TestApp, change: impl FnOnce(&mut Settings)) -> TestApp {
    let mut settings = settings();
    change(&mut settings);
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

fn assert_error(reply: &crate::common::app::Reply, status: u16, id: u64, words: &[&str]) {
    assert_eq!(reply.status, status, "{}", reply.text);
    assert_eq!(reply.json["error_id"], id, "{}", reply.text);
    let message = reply.json["message"].as_str().unwrap_or_default();
    for word in words {
        assert!(message.contains(word), "{word:?} not in {message:?}");
    }
}

async fn connector_settings_are_sealed_and_never_shown(app: &TestApp) {
    let m = app.merchant("shop").await;
    let other = app.merchant("other").await;
    let path = connector(&m);
    let not_yet = app.call("GET", &path, Some(&m.api_key), "").await;
    assert_error(&not_yet, 404, 9, &["not configured"]);
    let without_token = app
        .call("PUT", &path, Some(&m.api_key), json!({}).to_string())
        .await;
    assert_error(&without_token, 400, 7, &["accessToken is required"]);

    let secret = "s3cr3t-access-token";
    let body = json!({"accessToken": secret, "refreshToken": "s3cr3t-refresh",
        "tokenUrl": "https://kassa.example/oauth/token", "oauthClientId": "cashdesk-rest-client",
        "oauthClientSecret": "s3cr3t-client", "cardLookup": "caller"});
    let put = app
        .call("PUT", &path, Some(&m.api_key), body.to_string())
        .await;
    assert_eq!(put.status, 201, "{}", put.text);
    assert!(!put.text.contains("s3cr3t"), "{}", put.text);
    assert_eq!(put.json["baseUrl"], "https://kassa.bifit.com");
    assert_eq!(put.json["cardLookup"], "caller");
    assert_eq!(put.json["accessTokenSet"], true);
    assert_eq!(put.json["refreshTokenSet"], true);
    assert_eq!(put.json["oauthClientSecretSet"], true);
    let shown = app.call("GET", &path, Some(&m.api_key), "").await;
    assert_eq!(shown.status, 200);
    assert!(!shown.text.contains("s3cr3t"), "{}", shown.text);
    assert_eq!(shown.json["oauthClientId"], "cashdesk-rest-client");

    // At rest: sealed, bound to the merchant.
    let row = app
        .state
        .store()
        .bifit_connector(&m.id)
        .await
        .unwrap()
        .unwrap();
    assert!(row.access_token_sealed.starts_with("v1:"));
    assert!(!row.access_token_sealed.contains(secret));
    let key = app.state.settings().secrets_key.clone().unwrap();
    assert_eq!(
        key.open("bifit:shop:access_token", &row.access_token_sealed)
            .unwrap(),
        secret
    );
    assert!(
        key.open("bifit:other:access_token", &row.access_token_sealed)
            .is_err()
    );

    // Editing without the tokens keeps them; null clears one.
    let edit = json!({"baseUrl": "http://127.0.0.1:9/", "cardLookup": "clientId",
        "tokenUrl": "https://kassa.example/oauth/token"});
    let put = app
        .call("PUT", &path, Some(&m.api_key), edit.to_string())
        .await;
    assert_eq!(put.status, 200, "{}", put.text);
    assert_eq!(put.json["refreshTokenSet"], true);
    assert_eq!(put.json["cardLookup"], "clientId");
    let after = app
        .state
        .store()
        .bifit_connector(&m.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(after.access_token_sealed, row.access_token_sealed);
    let clear = json!({"refreshToken": null, "oauthClientSecret": null});
    let put = app
        .call("PUT", &path, Some(&m.api_key), clear.to_string())
        .await;
    assert_eq!(put.status, 200, "{}", put.text);
    assert_eq!(put.json["refreshTokenSet"], false);
    assert_eq!(put.json["oauthClientSecretSet"], false);

    // Bad input names the field.
    for (body, words) in [
        (
            json!({"baseUrl": "ftp://x", "accessToken": "a"}),
            vec!["baseUrl", "http"],
        ),
        (
            json!({"baseUrl": "not a url"}),
            vec!["baseUrl is not a URL"],
        ),
        (json!({"cardLookup": "phone"}), vec!["cardLookup", "phone"]),
        (
            json!({"accesToken": "a"}),
            vec!["accesToken is not a known field"],
        ),
        (
            json!({"accessToken": 5}),
            vec!["accessToken must be a string"],
        ),
        (
            json!({"accessToken": "a b"}),
            vec!["accessToken must not contain spaces"],
        ),
        (
            json!({"accessToken": null}),
            vec!["accessToken cannot be cleared"],
        ),
        (
            json!({"refreshToken": "r"}),
            vec!["refreshToken and tokenUrl go together"],
        ),
    ] {
        let reply = app
            .call("PUT", &path, Some(&m.api_key), body.to_string())
            .await;
        assert_error(&reply, 400, 7, &words);
    }
    let reply = app.call("PUT", &path, Some(&m.api_key), "{").await;
    assert_error(&reply, 400, 6, &[]);

    // Another merchant's key, no key.
    let reply = app.call("GET", &path, Some(&other.api_key), "").await;
    assert_error(&reply, 403, 10, &[]);
    let reply = app.call("PUT", &path, None, body.to_string()).await;
    assert_error(&reply, 401, 4, &[]);

    // The audit trail has every change, and no secret.
    let audit = app
        .call(
            "GET",
            &format!("/admin/v1/merchants/{}/audit", m.id),
            Some(&m.api_key),
            "",
        )
        .await;
    let actions: Vec<&str> = audit.json["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["action"].as_str())
        .filter(|action| *action != "test.setup")
        .collect();
    assert_eq!(
        actions,
        [
            "connector.bifit.update",
            "connector.bifit.update",
            "connector.bifit.create"
        ]
    );
    assert!(!audit.text.contains("s3cr3t"), "{}", audit.text);
    assert_eq!(audit.json["items"][2]["detail"]["accessTokenChanged"], true);
}

async fn discount_for_an_online_order(app: &TestApp) {
    let (fake, m) = setup_with_policy(app).await;
    let reply = app
        .call("POST", &discounts(ORDER_ID), Some(&m.pos_token), "")
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    // 10 % of totalAmount 3000.00, in roubles' kopecks.
    assert_eq!(reply.json["totalDiscount"].to_string(), "300.00");
    assert_eq!(reply.json["discounts"][0]["type"], "percentage_on_bill");
    assert_eq!(reply.json["discounts"][0]["amount"].to_string(), "300.00");
    assert_eq!(fake.with(|s| s.authorizations.clone()), ["Bearer at-0"]);

    // The policy saw the mapped order, BIFIT's fields as attributes.
    app.flush_evaluations().await;
    let log = app
        .call(
            "GET",
            &format!("/admin/v1/merchants/{}/evaluations", m.id),
            Some(&m.api_key),
            "",
        )
        .await;
    let request = &log.json["items"][0]["request"];
    assert_eq!(request["orderId"], "320528");
    assert_eq!(request["pos"], "bifit");
    assert_eq!(request["currency"], "RUB");
    assert_eq!(request["items"], json!([]));
    let attributes = request["attributes"].to_string();
    assert!(
        attributes.contains(r#"["taxSystem","\"COMMON\""]"#),
        "{attributes}"
    );
    assert!(
        attributes.contains(r#"["deliveryType","\"COURIER\""]"#),
        "{attributes}"
    );

    // Tracked until final, visible to the merchant.
    let orders = app
        .call(
            "GET",
            &format!("{}/orders", connector(&m)),
            Some(&m.api_key),
            "",
        )
        .await;
    assert_eq!(orders.status, 200, "{}", orders.text);
    let tracked = &orders.json["items"][0];
    assert_eq!(tracked["orderId"], "320528");
    assert_eq!(tracked["state"], "tracking");
    assert_eq!(tracked["cardId"], "card-1");
    assert_eq!(tracked["bifitStatus"], "DISTRIBUTED");
    assert_eq!(app.state.bifit().counters.tracked(), 1);

    // Asked again: still one tracked row.
    let again = app
        .call("POST", &discounts(ORDER_ID), Some(&m.pos_token), "")
        .await;
    assert_eq!(again.status, 200);
    let page = app
        .state
        .store()
        .list_bifit_orders(&m.id, None, 10, None)
        .await
        .unwrap();
    assert_eq!(page.items.len(), 1);

    // Listing: filter and cursor.
    fake.put(order(2, "NEW", "10.00"));
    fake.put(order(3, "NEW", "10.00"));
    for id in [2, 3] {
        let reply = app
            .call("POST", &discounts(id), Some(&m.pos_token), "")
            .await;
        assert_eq!(reply.status, 200, "{}", reply.text);
    }
    let first = app
        .call(
            "GET",
            &format!("{}/orders?limit=2", connector(&m)),
            Some(&m.api_key),
            "",
        )
        .await;
    assert_eq!(first.json["items"][0]["orderId"], "3");
    let cursor = first.json["nextCursor"].as_str().unwrap();
    let next = app
        .call(
            "GET",
            &format!("{}/orders?limit=2&cursor={cursor}", connector(&m)),
            Some(&m.api_key),
            "",
        )
        .await;
    assert_eq!(next.json["items"][0]["orderId"], "320528");
    assert_eq!(next.json["nextCursor"], Value::Null);
    let bad = app
        .call(
            "GET",
            &format!("{}/orders?state=lost", connector(&m)),
            Some(&m.api_key),
            "",
        )
        .await;
    assert_error(&bad, 400, 7, &["state 'lost'"]);
    let recorded = app
        .call(
            "GET",
            &format!("{}/orders?state=recorded", connector(&m)),
            Some(&m.api_key),
            "",
        )
        .await;
    assert_eq!(recorded.json["items"], json!([]));
}

async fn cards_are_found_by_client_id_or_caller(app: &TestApp) {
    let (fake, m) = setup_with_policy(app).await;
    // No POS token, a bad id, another merchant without a connector.
    let reply = app.call("POST", &discounts(ORDER_ID), None, "").await;
    assert_error(&reply, 401, 4, &[]);
    let reply = app
        .call("POST", &discounts("abc"), Some(&m.pos_token), "")
        .await;
    assert_error(&reply, 400, 7, &["positive whole number", "abc"]);
    let bare = app.merchant("bare").await;
    let reply = app
        .call("POST", &discounts(ORDER_ID), Some(&bare.pos_token), "")
        .await;
    assert_error(&reply, 404, 9, &["not configured"]);

    // clientId without a card: Papaya's error 3. A caller's cardId wins; an unknown one is 3.
    fake.put(order(7, "NEW", "100.00"));
    fake.with(|s| s.orders.get_mut(&7).unwrap()["clientId"] = json!(1));
    let reply = app
        .call("POST", &discounts(7), Some(&m.pos_token), "")
        .await;
    assert_error(&reply, 400, 3, &[]);
    let body = json!({"cardId": "card-1"}).to_string();
    let reply = app
        .call("POST", &discounts(7), Some(&m.pos_token), body)
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.json["totalDiscount"].to_string(), "10.00");
    let body = json!({"cardId": "nobody"}).to_string();
    let reply = app
        .call("POST", &discounts(ORDER_ID), Some(&m.pos_token), body)
        .await;
    assert_error(&reply, 400, 3, &[]);
    let reply = app
        .call(
            "POST",
            &discounts(ORDER_ID),
            Some(&m.pos_token),
            json!({"card": 1}).to_string(),
        )
        .await;
    assert_error(&reply, 400, 7, &["card is not a known field"]);

    // Two cards with one customerId: ambiguous, said so.
    let mut twin = Card::new("card-2");
    twin.customer_id = Some(CLIENT_ID.to_string());
    app.card(&m, twin).await;
    let reply = app
        .call("POST", &discounts(ORDER_ID), Some(&m.pos_token), "")
        .await;
    assert_error(&reply, 409, 8, &["clientId 195363", "more than one card"]);

    // Card lookup "caller": the clientId is not used.
    let put = app
        .call(
            "PUT",
            &connector(&m),
            Some(&m.api_key),
            json!({"baseUrl": fake.base_url, "cardLookup": "caller",
                   "tokenUrl": fake.token_url()})
            .to_string(),
        )
        .await;
    assert_eq!(put.status, 200, "{}", put.text);
    fake.put(order(8, "NEW", "100.00"));
    let reply = app
        .call("POST", &discounts(8), Some(&m.pos_token), "")
        .await;
    assert_error(&reply, 400, 3, &[]);
    let body = json!({"cardId": "card-1"}).to_string();
    let reply = app
        .call("POST", &discounts(8), Some(&m.pos_token), body)
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
}

async fn upstream_failures_are_named(app: &TestApp) {
    let (fake, m) = setup(app).await;
    let reply = app
        .call("POST", &discounts(404), Some(&m.pos_token), "")
        .await;
    assert_error(&reply, 404, 9, &["no online order 404"]);

    // 5xx: retried (1 retry in tests), then 502 id 12.
    fake.with(|s| s.fail_500 = u32::MAX);
    let before = fake.order_requests();
    let reply = app
        .call("POST", &discounts(ORDER_ID), Some(&m.pos_token), "")
        .await;
    assert_error(
        &reply,
        502,
        12,
        &["HTTP 500", "online order 320528", "2 attempt"],
    );
    assert_eq!(fake.order_requests() - before, 2);
    let reply = app
        .call("POST", &sync(ORDER_ID), Some(&m.pos_token), "")
        .await;
    assert_error(&reply, 502, 12, &["HTTP 500"]);
    // One 500, then an answer: the retry hides it.
    fake.with(|s| s.fail_500 = 1);
    let reply = app
        .call("POST", &discounts(ORDER_ID), Some(&m.pos_token), "")
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);

    // A body off the documented shape names the field.
    let mut bad = seed_order();
    bad["totalAmount"] = json!("three thousand");
    fake.with(|s| s.malformed = Some(bad.to_string()));
    let reply = app
        .call("POST", &discounts(ORDER_ID), Some(&m.pos_token), "")
        .await;
    assert_error(&reply, 502, 12, &["documented shape", "totalAmount"]);
    let mut bad = seed_order();
    bad["clientId"] = json!("195363");
    fake.with(|s| s.malformed = Some(bad.to_string()));
    let reply = app
        .call("POST", &sync(ORDER_ID), Some(&m.pos_token), "")
        .await;
    assert_error(&reply, 502, 12, &["clientId"]);
    fake.with(|s| s.malformed = Some("<html>gateway</html>".into()));
    let reply = app
        .call("POST", &discounts(ORDER_ID), Some(&m.pos_token), "")
        .await;
    assert_error(&reply, 502, 12, &["not JSON"]);
    fake.with(|s| s.malformed = None);

    // No answer: the request timeout ends it (an app with a short one on the same data).
    let impatient = app_with(app, |s| s.bifit.request_timeout_ms = 200).await;
    fake.with(|s| s.slow = true);
    let reply = impatient
        .call("POST", &discounts(ORDER_ID), Some(&m.pos_token), "")
        .await;
    assert_error(
        &reply,
        502,
        12,
        &["did not answer online order 320528 in time"],
    );
    fake.with(|s| s.slow = false);
    impatient.shutdown().await;

    // Nothing reachable at all.
    let put = app
        .call(
            "PUT",
            &connector(&m),
            Some(&m.api_key),
            json!({"baseUrl": "http://127.0.0.1:9", "tokenUrl": fake.token_url()}).to_string(),
        )
        .await;
    assert_eq!(put.status, 200, "{}", put.text);
    let reply = app
        .call("POST", &discounts(ORDER_ID), Some(&m.pos_token), "")
        .await;
    assert_error(&reply, 502, 12, &["could not reach BIFIT"]);
    assert!(!reply.text.contains("at-0") && !reply.text.contains("rt-0"));
}

async fn an_expired_token_is_refreshed_once(app: &TestApp) {
    let (fake, m) = setup(app).await;
    fake.expire_access_token();
    let reply = app
        .call("POST", &discounts(ORDER_ID), Some(&m.pos_token), "")
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(fake.with(|s| s.refresh_requests), 1);
    assert_eq!(
        fake.with(|s| s.authorizations.clone()),
        ["Bearer at-0", "Bearer at-1"]
    );
    // The new tokens were stored: the next call needs no refresh.
    let reply = app
        .call("POST", &discounts(ORDER_ID), Some(&m.pos_token), "")
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(fake.with(|s| s.refresh_requests), 1);
    let shown = app.call("GET", &connector(&m), Some(&m.api_key), "").await;
    assert!(shown.json["tokensRefreshedAt"].is_i64(), "{}", shown.text);
    let audit = app
        .call(
            "GET",
            &format!("/admin/v1/merchants/{}/audit", m.id),
            Some(&m.api_key),
            "",
        )
        .await;
    assert_eq!(
        audit.json["items"][0]["action"],
        "connector.bifit.tokens-refreshed"
    );
    assert!(!audit.text.contains("at-1") && !audit.text.contains("rt-1"));
    assert_eq!(app.state.bifit().counters.refreshes(), 1);

    // The refresh token refused: said so, once.
    fake.expire_access_token();
    fake.with(|s| s.refresh_token = "rt-revoked".into());
    let reply = app
        .call("POST", &discounts(ORDER_ID), Some(&m.pos_token), "")
        .await;
    assert_error(
        &reply,
        502,
        12,
        &["token refresh", "HTTP 400", "invalid_grant"],
    );
    assert_eq!(fake.with(|s| s.refresh_requests), 2);

    // A refresh that works but whose token is refused too: a clear error, no loop.
    fake.with(|s| {
        s.refresh_token = "rt-1".into();
        s.refuse_all = true;
    });
    let reply = app
        .call("POST", &sync(ORDER_ID), Some(&m.pos_token), "")
        .await;
    assert_error(
        &reply,
        502,
        12,
        &["refused the access token", "even after a token refresh"],
    );
    assert_eq!(fake.with(|s| s.refresh_requests), 3);
    fake.with(|s| s.refuse_all = false);

    // No refresh configured: the 401 is said so.
    let put = app
        .call(
            "PUT",
            &connector(&m),
            Some(&m.api_key),
            json!({"baseUrl": fake.base_url, "accessToken": "stale",
                   "refreshToken": null})
            .to_string(),
        )
        .await;
    assert_eq!(put.status, 200, "{}", put.text);
    let reply = app
        .call("POST", &discounts(ORDER_ID), Some(&m.pos_token), "")
        .await;
    assert_error(
        &reply,
        502,
        12,
        &["refused the access token", "no refresh token"],
    );
    assert!(!reply.text.contains("stale"));
}

async fn sync_records_a_finished_order_once(app: &TestApp) {
    let (fake, m) = setup(app).await;
    // Not final: nothing recorded, tracked.
    let reply = app
        .call("POST", &sync(ORDER_ID), Some(&m.pos_token), "")
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.json["outcome"], "pending");
    assert_eq!(reply.json["status"], "DISTRIBUTED");
    let tracked = app
        .state
        .store()
        .bifit_order(&m.id, "320528")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(tracked.state, TrackState::Tracking);

    fake.set_status(ORDER_ID, "FINISHED");
    let reply = app
        .call("POST", &sync(ORDER_ID), Some(&m.pos_token), "")
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.json["outcome"], "recorded");
    assert_eq!(reply.json["transaction"]["orderId"], "bifit:320528");
    assert_eq!(reply.json["transaction"]["total"].to_string(), "3000.00");
    assert_eq!(reply.json["transaction"]["pos"], "bifit");
    assert_eq!(reply.json["transaction"]["occurredAt"], 1645691012245i64);
    // A repeat changes nothing.
    let again = app
        .call("POST", &sync(ORDER_ID), Some(&m.pos_token), "")
        .await;
    assert_eq!(again.status, 200, "{}", again.text);
    assert_eq!(again.json["outcome"], "already_recorded");
    let card = app
        .state
        .store()
        .card(&m.id, "card-1")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(card.visits, 1);
    assert_eq!(card.total_spent.to_string(), "3000.00");
    let ledger = app
        .state
        .store()
        .list_transactions(
            &m.id,
            &LedgerQuery {
                limit: 10,
                ..LedgerQuery::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(ledger.items.len(), 1);
    assert_eq!(
        ledger.items[0].request.as_ref().unwrap()["clientId"],
        CLIENT_ID
    );
    let tracked = app
        .state
        .store()
        .bifit_order(&m.id, "320528")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(tracked.state, TrackState::Recorded);
    assert_eq!(app.state.bifit().counters.recorded(), 1);
    // The same order on another card is a conflict, not a second visit.
    app.card(&m, Card::new("card-3")).await;
    let body = json!({"cardId": "card-3"}).to_string();
    let reply = app
        .call("POST", &sync(ORDER_ID), Some(&m.pos_token), body)
        .await;
    assert_error(&reply, 409, 8, &["bifit:320528"]);

    // Cancelled and deleted orders record nothing.
    for (id, status) in [(11, "REFUSED"), (12, "DELETED")] {
        fake.put(order(id, status, "50.00"));
        let reply = app.call("POST", &sync(id), Some(&m.pos_token), "").await;
        assert_eq!(reply.status, 200, "{}", reply.text);
        assert_eq!(reply.json["outcome"], "voided");
        let row = app
            .state
            .store()
            .bifit_order(&m.id, &id.to_string())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(row.state, TrackState::Voided);
    }
    // A finished order without a card: error 3.
    fake.put(order(13, "FINISHED", "50.00"));
    fake.with(|s| s.orders.get_mut(&13).unwrap()["clientId"] = Value::Null);
    let reply = app.call("POST", &sync(13), Some(&m.pos_token), "").await;
    assert_error(&reply, 400, 3, &[]);
    let card = app
        .state
        .store()
        .card(&m.id, "card-1")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(card.visits, 1);
    // Concurrent syncs of one finished order: one records, the others see it recorded.
    fake.put(order(14, "FINISHED", "70.00"));
    let path = sync(14);
    let calls = (0..6).map(|_| app.call("POST", &path, Some(&m.pos_token), ""));
    let replies = futures::future::join_all(calls).await;
    let mut outcomes: Vec<String> = replies
        .iter()
        .map(|r| {
            assert_eq!(r.status, 200, "{}", r.text);
            r.json["outcome"].as_str().unwrap().to_owned()
        })
        .collect();
    outcomes.sort();
    assert_eq!(outcomes[5], "recorded");
    assert!(
        outcomes[..5].iter().all(|o| o == "already_recorded"),
        "{outcomes:?}"
    );
    let card = app
        .state
        .store()
        .card(&m.id, "card-1")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(card.visits, 2);
    assert_eq!(card.total_spent.to_string(), "3070.00");
    // BIFIT says a FINISHED order is never cancelled; should one be, it is returned whole,
    // once, however often it is synced.
    fake.set_status(14, "REFUSED");
    for _ in 0..2 {
        let reply = app.call("POST", &sync(14), Some(&m.pos_token), "").await;
        assert_eq!(reply.status, 200, "{}", reply.text);
        assert_eq!(reply.json["outcome"], "voided");
        assert!(
            reply.json["message"]
                .as_str()
                .unwrap()
                .contains("returned whole"),
            "{}",
            reply.text
        );
    }
    let returns = app
        .state
        .store()
        .returns_of(&m.id, "bifit:14")
        .await
        .unwrap();
    assert_eq!(returns.len(), 1, "{returns:?}");
    assert!(returns[0].whole);
    assert_eq!(returns[0].return_id, "bifit-REFUSED");
}

async fn a_failing_policy_is_fail_safe(app: &TestApp) {
    let (_fake, m) = setup(app).await;
    app.activate(&m, &fixture("policy-error"), json!({})).await;
    let reply = app
        .call("POST", &discounts(ORDER_ID), Some(&m.pos_token), "")
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.json["discounts"], json!([]));
    assert_eq!(reply.json["totalDiscount"].to_string(), "0.00");
    assert_eq!(reply.json["message"], "Loyalty discount unavailable");
}

/// A connector row that no longer reads back (edited by hand, damaged) is a fault on the
/// server's side: the till gets the opaque 500, never "invalid field" as if its request
/// were wrong, and the follower keeps the order (an operator can repair the row).
async fn a_damaged_connector_is_our_fault_not_the_callers(app: &TestApp) {
    let (_fake, m) = setup(app).await;
    let first = app
        .call("POST", &discounts(ORDER_ID), Some(&m.pos_token), "")
        .await;
    assert_eq!(first.status, 200, "{}", first.text);
    // Damaged by hand: the schema's CHECK would refuse the value, so it goes first.
    match app.state.store().engine() {
        EngineKind::Sqlite => {
            app.db
                .execute(
                    "PRAGMA ignore_check_constraints = ON; \
                     UPDATE bifit_connectors SET card_lookup = 'by-magic'",
                )
                .await;
        }
        EngineKind::Postgres => {
            app.db
                .execute(
                    "ALTER TABLE bifit_connectors \
                     DROP CONSTRAINT bifit_connectors_card_lookup_check",
                )
                .await;
            app.db
                .execute("UPDATE bifit_connectors SET card_lookup = 'by-magic'")
                .await;
        }
    }
    for path in [discounts(ORDER_ID), sync(ORDER_ID)] {
        let reply = app.call("POST", &path, Some(&m.pos_token), "").await;
        assert_error(&reply, 500, 500, &["on our side"]);
        assert!(!reply.text.contains("by-magic"), "{}", reply.text);
    }
    let round = Follower::run_once(app.state.bifit_sync(), "f1")
        .await
        .unwrap();
    assert_eq!((round.claimed, round.finished), (1, 0));
    let row = app
        .state
        .store()
        .bifit_order(&m.id, &ORDER_ID.to_string())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.state, TrackState::Tracking);
    let error = row.last_error.unwrap_or_default();
    assert!(error.contains("on our side"), "{error}");
}

async fn the_follower_takes_orders_to_a_final_status(app: &TestApp) {
    let (fake, m) = setup(app).await;
    fake.put(order(21, "NEW", "200.00"));
    for id in [ORDER_ID, 21] {
        let reply = app
            .call("POST", &discounts(id), Some(&m.pos_token), "")
            .await;
        assert_eq!(reply.status, 200, "{}", reply.text);
    }
    let round = Follower::run_once(app.state.bifit_sync(), "f1")
        .await
        .unwrap();
    assert_eq!((round.claimed, round.finished), (2, 0));
    let row = app
        .state
        .store()
        .bifit_order(&m.id, "320528")
        .await
        .unwrap()
        .unwrap();
    assert_eq!((row.state, row.attempts), (TrackState::Tracking, 1));

    // BIFIT down for a round: counted, retried later.
    fake.with(|s| s.fail_500 = u32::MAX);
    Follower::run_once(app.state.bifit_sync(), "f1")
        .await
        .unwrap();
    let row = app
        .state
        .store()
        .bifit_order(&m.id, "21")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.state, TrackState::Tracking);
    assert!(row.last_error.unwrap().contains("HTTP 500"));
    assert_eq!(app.state.bifit().counters.failures(), 2);
    fake.with(|s| s.fail_500 = 0);

    fake.set_status(ORDER_ID, "FINISHED");
    fake.set_status(21, "DELETED");
    let round = Follower::run_once(app.state.bifit_sync(), "f1")
        .await
        .unwrap();
    assert_eq!((round.claimed, round.finished), (2, 2));
    let row = app
        .state
        .store()
        .bifit_order(&m.id, "320528")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.state, TrackState::Recorded);
    assert_eq!(row.next_poll_at, None);
    let row = app
        .state
        .store()
        .bifit_order(&m.id, "21")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.state, TrackState::Voided);
    let card = app
        .state
        .store()
        .card(&m.id, "card-1")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(card.visits, 1);
    // Nothing left to poll.
    let round = Follower::run_once(app.state.bifit_sync(), "f1")
        .await
        .unwrap();
    assert_eq!(round.claimed, 0);
    let counters = &app.state.bifit().counters;
    assert_eq!(
        (counters.polls(), counters.recorded(), counters.voided()),
        (6, 1, 1)
    );
    assert_eq!(
        app.state
            .store()
            .count_tracked_bifit_orders()
            .await
            .unwrap(),
        0
    );
}

async fn the_follower_gives_up_after_max_attempts(app: &TestApp) {
    let (_fake, m) = setup(app).await;
    let reply = app
        .call("POST", &discounts(ORDER_ID), Some(&m.pos_token), "")
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    let capped = app_with(app, |s| s.bifit.max_attempts = 2).await;
    let first = Follower::run_once(capped.state.bifit_sync(), "f1")
        .await
        .unwrap();
    assert_eq!(first.finished, 0);
    let second = Follower::run_once(capped.state.bifit_sync(), "f1")
        .await
        .unwrap();
    assert_eq!(second.finished, 1);
    let row = capped
        .state
        .store()
        .bifit_order(&m.id, "320528")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.state, TrackState::Expired);
    assert!(row.last_error.unwrap().contains("given up after 2 poll"));
    assert_eq!(capped.state.bifit().counters.expired(), 1);
    capped.shutdown().await;
    // Expired orders are not polled again.
    let round = Follower::run_once(app.state.bifit_sync(), "f1")
        .await
        .unwrap();
    assert_eq!(round.claimed, 0);
}

async fn the_follower_resumes_after_a_restart(app: &TestApp) {
    let (fake, m) = setup(app).await;
    let reply = app
        .call("POST", &discounts(ORDER_ID), Some(&m.pos_token), "")
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    // This app stops following (as at shutdown); BIFIT finishes the order meanwhile.
    let follower = Follower::start(app.state.bifit_sync().clone());
    follower.stop().await;
    fake.set_status(ORDER_ID, "FINISHED");

    let restarted = app_with(app, |_| {}).await;
    let follower = Follower::start(restarted.state.bifit_sync().clone());
    let mut recorded = false;
    // A bound on waiting, not a timing assertion: the follower polls every 20 ms.
    for _ in 0..1_500 {
        let row = restarted
            .state
            .store()
            .bifit_order(&m.id, "320528")
            .await
            .unwrap()
            .unwrap();
        if row.state == TrackState::Recorded {
            recorded = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    follower.stop().await;
    assert!(recorded, "the restarted follower did not record the order");
    let card = restarted
        .state
        .store()
        .card(&m.id, "card-1")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(card.visits, 1);
    restarted.shutdown().await;
}

async fn two_followers_never_poll_one_order_twice(app: &TestApp) {
    let (fake, m) = setup(app).await;
    let replica = app_with(app, |_| {}).await;
    let ids: Vec<i64> = (100..110).collect();
    for &id in &ids {
        fake.put(order(id, "FINISHED", "10.00"));
        let reply = app
            .call("POST", &discounts(id), Some(&m.pos_token), "")
            .await;
        assert_eq!(reply.status, 200, "{}", reply.text);
    }
    // A lease held by one follower keeps the other off.
    let store = app.state.store();
    let claimed = store.claim_bifit_orders("a", 3, 60_000).await.unwrap();
    assert_eq!(claimed.len(), 3);
    let rest = replica
        .state
        .store()
        .claim_bifit_orders("b", 100, 60_000)
        .await
        .unwrap();
    assert_eq!(rest.len(), 7);
    assert!(claimed.iter().all(|c| rest.iter().all(|r| r.id != c.id)));
    // An expired lease is taken over.
    let again = store.claim_bifit_orders("c", 100, 60_000).await.unwrap();
    assert!(again.is_empty());
    let taken = store.claim_bifit_orders("c", 100, -120_000).await;
    assert!(taken.unwrap().is_empty(), "leases still held");

    // Two followers at once on fresh orders: each order fetched once, recorded once.
    let more: Vec<i64> = (200..212).collect();
    for &id in &more {
        fake.put(order(id, "FINISHED", "10.00"));
        app.state
            .store()
            .track_bifit_order(&m.id, &id.to_string(), Some("card-1"), "NEW")
            .await
            .unwrap();
    }
    let before = fake.order_requests();
    let (a, b) = tokio::join!(
        Follower::run_once(app.state.bifit_sync(), "f-a"),
        Follower::run_once(replica.state.bifit_sync(), "f-b"),
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!(a.claimed + b.claimed, more.len());
    assert_eq!(fake.order_requests() - before, more.len() as u32);
    let card = store.card(&m.id, "card-1").await.unwrap().unwrap();
    assert_eq!(card.visits as usize, more.len());
    replica.shutdown().await;
}

/// The real binary: `rabat serve` starts the follower, which records an order that
/// finished after the till asked for its discount, and SIGTERM stops it cleanly.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_runs_the_follower_and_stops_cleanly() {
    use crate::common::process::{OPERATOR, Server};
    use std::process::{Command, Stdio};

    let fake = FakeBifit::start().await;
    fake.put(seed_order());
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("rabat.toml");
    std::fs::write(
        &config,
        "[bifit]\npoll-interval-ms = 20\nbackoff-initial-ms = 0\nbackoff-max-ms = 0\nallow-private-addresses = true\nallow-http = true\n",
    )
    .unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new(env!("CARGO_BIN_EXE_rabat"))
        .args(["serve", "--bind", &format!("127.0.0.1:{port}")])
        .args([
            "--database-url",
            dir.path().join("rabat.db").to_str().unwrap(),
        ])
        .args(["--operator-token", OPERATOR])
        .env("RABAT_SECRETS_KEY", crate::common::app::TEST_SECRETS_KEY)
        .env("RABAT_CONFIG", &config)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut server = Server { child, port };
    let mut ready = false;
    for _ in 0..600 {
        if let Ok((200, _)) = server.call("GET", "/readyz", None, "").await {
            ready = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(ready, "rabat did not become ready");

    let call = |method: &'static str, path: String, token: String, body: Value| {
        let server = Server::probe(port);
        async move {
            let (status, text) = server
                .call(method, &path, Some(&token), body.to_string())
                .await
                .unwrap();
            (
                status,
                serde_json::from_str::<Value>(&text).unwrap_or(Value::Null),
            )
        }
    };
    let (status, merchant) = call(
        "POST",
        "/admin/v1/merchants".into(),
        OPERATOR.into(),
        json!({"id": "shop", "name": "Shop"}),
    )
    .await;
    assert_eq!(status, 201, "{merchant}");
    let api_key = merchant["apiKey"].as_str().unwrap().to_owned();
    let pos_token = merchant["posToken"].as_str().unwrap().to_owned();
    let admin = "/admin/v1/merchants/shop";
    let card = json!({"customerId": CLIENT_ID.to_string()});
    let (status, _) = call(
        "PUT",
        format!("{admin}/cards/card-1"),
        api_key.clone(),
        card,
    )
    .await;
    assert_eq!(status, 201);
    let settings = json!({"baseUrl": fake.base_url, "accessToken": "at-0"});
    let (status, body) = call(
        "PUT",
        format!("{admin}/connectors/bifit"),
        api_key.clone(),
        settings,
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let (status, body) = call("POST", discounts(ORDER_ID), pos_token, json!({})).await;
    assert_eq!(status, 200, "{body}");
    fake.set_status(ORDER_ID, "FINISHED");

    let mut recorded = false;
    for _ in 0..1_500 {
        let (_, page) = call(
            "GET",
            format!("{admin}/transactions"),
            api_key.clone(),
            json!({}),
        )
        .await;
        if page["items"][0]["orderId"] == "bifit:320528" {
            recorded = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(recorded, "the server's follower did not record the order");

    let pid = server.child.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let mut exit = None;
    for _ in 0..600 {
        if let Some(status) = server.child.try_wait().unwrap() {
            exit = Some(status);
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let exit = exit.expect("rabat did not stop within 30 s of SIGTERM");
    assert!(exit.success(), "rabat exited with {exit}");
}

/// The settings every deployment gets unless its operator says otherwise.
fn strict(settings: &mut Settings) {
    settings.bifit.allow_private_addresses = false;
    settings.bifit.allow_http = false;
}

/// SSRF: a merchant sets the URLs rabat fetches with its token, so by default only
/// public `https://` hosts are accepted on PUT, and nothing non-public is ever connected
/// to, whether stored earlier, reached through a name (`localhost`) or by the follower.
async fn connectors_reach_only_public_https_hosts(app: &TestApp) {
    let (fake, m) = setup(app).await;
    let strict_app = app_with(app, strict).await;
    let put = |body: Value| {
        let (strict_app, m) = (&strict_app, &m);
        async move {
            strict_app
                .call("PUT", &connector(m), Some(&m.api_key), body.to_string())
                .await
        }
    };
    for (url, why) in [
        ("https://127.0.0.1", "loopback"),
        ("https://[::1]:8443", "loopback"),
        ("https://0.0.0.0", "unspecified"),
        ("https://169.254.169.254/latest/meta-data", "link-local"),
        ("https://10.0.0.7", "private"),
        ("https://192.168.0.1", "private"),
        ("https://172.16.0.1", "private"),
        ("https://100.64.0.1", "CGNAT"),
        ("https://224.0.0.1", "multicast"),
        ("https://[fd12::1]", "unique local"),
        ("https://[fe80::1]", "link-local"),
        ("https://[::ffff:169.254.169.254]", "IPv4-mapped"),
        ("https://2130706433", "loopback"),
        ("https://0x7f000001", "loopback"),
        ("http://kassa.bifit.com", "clear text"),
        ("https://kassa.bifit.com/?x=", "query"),
        ("https://user:pw@kassa.bifit.com", "credentials"),
        ("https://kassa.bifit.com/#x", "fragment"),
    ] {
        let reply = put(json!({"baseUrl": url})).await;
        assert_error(&reply, 400, 7, &["baseUrl", why]);
        let reply = put(json!({"baseUrl": "https://kassa.bifit.com",
                               "tokenUrl": url, "refreshToken": "rt-9"}))
        .await;
        assert_error(&reply, 400, 7, &["tokenUrl", why]);
    }
    // A query is refused even where the operator allows private addresses and http.
    let reply = app
        .call(
            "PUT",
            &connector(&m),
            Some(&m.api_key),
            json!({"baseUrl": format!("{}/?", fake.base_url)}).to_string(),
        )
        .await;
    assert_error(&reply, 400, 7, &["baseUrl", "query"]);

    // A connector stored while the operator allowed it (or by hand) is not fetched. (This
    // app allows http://, as the fake speaks it, so what is refused is the address.)
    strict_app.shutdown().await;
    let strict_app = app_with(app, |s| {
        strict(s);
        s.bifit.allow_http = true;
    })
    .await;
    let put = |body: Value| {
        let (strict_app, m) = (&strict_app, &m);
        async move {
            strict_app
                .call("PUT", &connector(m), Some(&m.api_key), body.to_string())
                .await
        }
    };
    let requests = fake.order_requests();
    let refreshes = fake.with(|s| s.refresh_requests);
    let reply = strict_app
        .call("POST", &discounts(ORDER_ID), Some(&m.pos_token), "")
        .await;
    assert_error(&reply, 502, 12, &["baseUrl", "loopback"]);
    fake.expire_access_token();
    let reply = strict_app
        .call("POST", &sync(ORDER_ID), Some(&m.pos_token), "")
        .await;
    assert_error(&reply, 502, 12, &["baseUrl"]);
    // The follower obeys the same rules.
    app.state
        .store()
        .track_bifit_order(&m.id, "77", Some("card-1"), "NEW")
        .await
        .unwrap();
    Follower::run_once(strict_app.state.bifit_sync(), "f1")
        .await
        .unwrap();
    let row = app
        .state
        .store()
        .bifit_order(&m.id, "77")
        .await
        .unwrap()
        .unwrap();
    assert!(
        row.last_error.as_deref().unwrap_or("").contains("loopback"),
        "{:?}",
        row.last_error
    );
    assert_eq!(fake.order_requests(), requests);

    // A name that resolves to loopback is accepted (it is a name) but never connected to.
    let port = fake.base_url.rsplit(':').next().unwrap().to_owned();
    let put_reply = put(json!({
        "baseUrl": format!("http://localhost:{port}"),
        "tokenUrl": format!("http://localhost:{port}/oauth/token"),
    }))
    .await;
    assert_eq!(put_reply.status, 200, "{}", put_reply.text);
    let reply = strict_app
        .call("POST", &discounts(ORDER_ID), Some(&m.pos_token), "")
        .await;
    assert_error(&reply, 502, 12, &["localhost", "loopback"]);
    assert_eq!(fake.order_requests(), requests);
    assert_eq!(fake.with(|s| s.refresh_requests), refreshes);
    strict_app.shutdown().await;
}

/// What an upstream answers is never echoed in the 502, and a redirect is not followed
/// (it would take the bearer token wherever it points).
async fn upstream_answers_are_not_echoed_nor_redirects_followed(app: &TestApp) {
    let (fake, m) = setup(app).await;
    let mut bad = seed_order();
    bad["totalAmount"] = json!("ami-id: i-0123 internal page");
    fake.with(|s| s.malformed = Some(bad.to_string()));
    let reply = app
        .call("POST", &discounts(ORDER_ID), Some(&m.pos_token), "")
        .await;
    assert_error(&reply, 502, 12, &["documented shape", "totalAmount"]);
    assert!(!reply.text.contains("i-0123"), "{}", reply.text);
    fake.with(|s| s.malformed = None);

    fake.expire_access_token();
    fake.with(|s| s.refresh_token = "rt-other".into());
    let reply = app
        .call("POST", &discounts(ORDER_ID), Some(&m.pos_token), "")
        .await;
    assert_error(
        &reply,
        502,
        12,
        &["token refresh", "HTTP 400", "invalid_grant"],
    );

    let before = fake.order_requests();
    fake.with(|s| {
        s.redirect = Some(format!(
            "{}/cashdesk-api/v1/protected/online_orders/{ORDER_ID}",
            fake.base_url
        ))
    });
    let reply = app
        .call("POST", &discounts(ORDER_ID), Some(&m.pos_token), "")
        .await;
    assert_error(&reply, 502, 12, &["HTTP 302"]);
    // One request, answered 302: the location (the fake itself again) was not asked.
    assert_eq!(
        fake.order_requests(),
        before + 1,
        "the redirect was followed"
    );
}

/// Issue 21, item 17: while the operator has disabled a merchant, the follower neither
/// fetches its tracked orders from BIFIT (with the merchant's token) nor records them; once
/// enabled again, it picks them up where it left off.
async fn a_disabled_merchants_follower_does_nothing_until_enabled(app: &TestApp) {
    let (fake, m) = setup(app).await;
    let reply = app
        .call("POST", &discounts(ORDER_ID), Some(&m.pos_token), "")
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    fake.set_status(ORDER_ID, "FINISHED");
    let disable = |disabled: bool| {
        app.call(
            "PATCH",
            "/admin/v1/merchants/shop",
            Some(crate::common::app::OPERATOR),
            json!({ "disabled": disabled }).to_string(),
        )
    };
    let reply = disable(true).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    let fetched = fake.order_requests();

    for _ in 0..2 {
        let round = Follower::run_once(app.state.bifit_sync(), "f1")
            .await
            .unwrap();
        assert_eq!(
            round.claimed, 0,
            "a disabled merchant's order is not claimed"
        );
    }
    assert_eq!(fake.order_requests(), fetched, "nothing fetched from BIFIT");
    let row = app
        .state
        .store()
        .bifit_order(&m.id, &ORDER_ID.to_string())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.state, TrackState::Tracking);
    let card = app
        .state
        .store()
        .card(&m.id, "card-1")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(card.visits, 0, "nothing recorded");

    let reply = disable(false).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    let round = Follower::run_once(app.state.bifit_sync(), "f1")
        .await
        .unwrap();
    assert_eq!((round.claimed, round.finished), (1, 1));
    assert!(fake.order_requests() > fetched);
    let card = app
        .state
        .store()
        .card(&m.id, "card-1")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(card.visits, 1);
}

/// Issue 21, items 15 and 16: a BIFIT order's hold is kept under its ledger order id
/// (`bifit:<id>`), so a Papaya bill with the same number is not offered the same points
/// again; and when BIFIT cancels the order, the sync releases its hold at once.
async fn holds_are_kept_by_ledger_order_and_released_when_bifit_cancels(app: &TestApp) {
    let (fake, m) = setup(app).await;
    app.activate(
        &m,
        &example("pay-with-points"),
        json!({"pointsPerUnit": 100, "maxShare": 50}),
    )
    .await;
    let points = app
        .call(
            "POST",
            &format!("/admin/v1/merchants/{}/cards/card-1/points", m.id),
            Some(&m.api_key),
            json!({"delta": 1000, "reason": "welcome"}).to_string(),
        )
        .await;
    assert_eq!(points.status, 201, "{}", points.text);
    let held = || async {
        let path = format!("/admin/v1/merchants/{}/cards/card-1", m.id);
        let reply = app.call("GET", &path, Some(&m.api_key), "").await;
        reply.json["heldPoints"].as_i64().unwrap()
    };
    let coupon = |reply: &Value| {
        reply["discounts"]
            .as_array()
            .unwrap()
            .iter()
            .any(|d| d["couponCode"] == "POINTS")
    };

    let reply = app
        .call("POST", &discounts(ORDER_ID), Some(&m.pos_token), "")
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert!(coupon(&reply.json), "{}", reply.text);
    assert_eq!(held().await, 1000);

    // A Papaya bill numbered like the BIFIT order, on the same card: the points are held
    // by the BIFIT order, so it is offered none of them.
    let papaya = json!({
      "orderId": ORDER_ID.to_string(), "cardId": "card-1", "total": 50.00, "currency": "EUR",
      "orderItems": [{"id": "1", "productId": "11111", "name": "Espresso", "quantity": 2,
                      "unitPrice": 25.00, "totalPrice": 50.00, "vatRate": 20}]
    });
    let reply = app
        .call(
            "POST",
            "/pos/papaya/v1/discounts",
            Some(&m.pos_token),
            papaya.to_string(),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert!(
        !coupon(&reply.json),
        "offered points held elsewhere: {}",
        reply.text
    );
    assert_eq!(held().await, 1000);
    let hold = app
        .state
        .store()
        .hold(&m.id, &format!("bifit:{ORDER_ID}"))
        .await
        .unwrap()
        .expect("the BIFIT order's hold, under its ledger order id");
    assert_eq!(hold.points, 1000);

    // BIFIT cancels the order: the sync says so and the points are free again.
    fake.set_status(ORDER_ID, "DELETED");
    let reply = app
        .call("POST", &sync(ORDER_ID), Some(&m.pos_token), "")
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.json["outcome"], "voided", "{}", reply.text);
    assert_eq!(held().await, 0);
    let reply = app
        .call(
            "POST",
            "/pos/papaya/v1/discounts",
            Some(&m.pos_token),
            papaya.to_string(),
        )
        .await;
    assert!(coupon(&reply.json), "{}", reply.text);
}
