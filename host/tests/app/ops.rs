//! Merchant what-ifs and operations at the HTTP level, on SQLite and (when configured)
//! PostgreSQL: the what-if replay of recorded bills, Prometheus metrics, request ids.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common::app::{Reply, TestApp, TestMerchant, audit};
use crate::common::wasm::{data, example, fixture};
use axum::body::Body;
use axum::http::Request;
use http_body_util::BodyExt;
use rabat::model::Card;
use serde_json::{Value, json};
use tower::ServiceExt;

app_on_both_engines!(
    replay_compares_recorded_bills_with_another_version,
    replay_reports_failures_and_records_nothing,
    replay_input_errors_and_tenancy,
    metrics_count_requests_and_policy_outcomes,
    metrics_need_the_metrics_or_operator_token,
    request_ids_are_set_and_kept,
    replay_adds_up_huge_logged_totals_without_failing,
    a_replay_nobody_waits_for_stops_and_frees_its_slot,
    one_merchants_long_replay_does_not_hold_up_another,
);

const DISCOUNTS: &str = "/pos/papaya/v1/discounts";

fn bill(order_id: &str, card_id: &str) -> Value {
    let mut bill: Value =
        serde_json::from_slice(&data("bills/papaya-discount-request.json")).unwrap();
    bill["orderId"] = json!(order_id);
    bill["cardId"] = json!(card_id);
    bill
}

fn base(shop: &TestMerchant) -> String {
    format!("/admin/v1/merchants/{}", shop.id)
}

fn num(value: &Value) -> String {
    value.to_string()
}

fn assert_error(reply: &Reply, status: u16, id: u64, names: &str) {
    assert_eq!(reply.status.as_u16(), status, "{}", reply.text);
    assert_eq!(reply.json["error_id"], id, "{}", reply.text);
    assert!(
        reply.json["message"].as_str().unwrap().contains(names),
        "the message should name {names}: {}",
        reply.text
    );
}

async fn replay(app: &TestApp, shop: &TestMerchant, version: i64, body: Value) -> Reply {
    let path = format!("{}/policies/{version}/replay", base(shop));
    app.call("POST", &path, Some(&shop.api_key), body.to_string())
        .await
}

/// A shop running tier-discount (gold 10 %, silver 5 %) whose tills asked for four bills,
/// one of them twice; returns the shop and the active version.
async fn shop_with_history(app: &TestApp, id: &str) -> (TestMerchant, i64) {
    let shop = app.merchant(id).await;
    let mut gold = Card::new("gold-card");
    gold.tier = Some("gold".into());
    app.card(&shop, gold).await;
    let mut silver = Card::new("silver-card");
    silver.tier = Some("silver".into());
    app.card(&shop, silver).await;
    app.card(&shop, Card::new("plain-card")).await;
    let version = app
        .activate(
            &shop,
            &example("tier-discount"),
            json!({"tiers": {"gold": 10, "silver": 5}}),
        )
        .await;
    for (order, card, expected) in [
        ("o-1", "gold-card", "5.00"),
        ("o-2", "silver-card", "2.50"),
        ("o-3", "plain-card", "0.00"),
        ("o-1", "gold-card", "5.00"), // asked again: one order
        ("o-4", "gold-card", "5.00"),
    ] {
        let reply = app
            .post_json(DISCOUNTS, &shop.pos_token, &bill(order, card))
            .await;
        assert_eq!(reply.status, 200, "{}", reply.text);
        assert_eq!(num(&reply.json["totalDiscount"]), expected);
    }
    app.flush_evaluations().await;
    (shop, version)
}

async fn replay_compares_recorded_bills_with_another_version(app: &TestApp) {
    let (shop, version) = shop_with_history(app, "whatif").await;
    // The card changes after the bills: a replay uses the card as the till saw it.
    let mut now_gold = Card::new("plain-card");
    now_gold.tier = Some("gold".into());
    app.card(&shop, now_gold).await;

    // Same version, the merchant's config: nothing changes.
    let same = replay(app, &shop, version, json!({})).await;
    assert_eq!(same.status, 200, "{}", same.text);
    let summary = &same.json["summary"];
    assert_eq!(summary["ordersCompared"], 4, "{}", same.text);
    assert_eq!(summary["changed"], 0);
    assert_eq!(summary["failures"], 0);
    assert_eq!(summary["skipped"], 0);
    assert_eq!(
        summary["totals"].to_string(),
        r#"[{"after":12.50,"before":12.50,"currency":"EUR","difference":0.00}]"#,
        "{}",
        same.text
    );
    let orders = same.json["orders"].as_array().unwrap();
    let ids: Vec<&str> = orders
        .iter()
        .map(|o| o["orderId"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        ["o-4", "o-1", "o-3", "o-2"],
        "newest first, one per order"
    );
    assert_eq!(orders[0]["before"]["version"], version);
    assert_eq!(orders[0]["before"]["outcome"], "answer");
    assert_eq!(
        orders[0]["before"]["discounts"],
        orders[0]["after"]["discounts"]
    );
    assert_eq!(
        orders[0]["after"]["discounts"][0]["type"],
        "percentage_on_bill"
    );
    assert!(orders[0]["after"]["fuelUsed"].as_u64().unwrap() > 0);

    // A richer config: gold 20 %, silver 5 % — what would it have cost?
    let body = json!({"config": {"tiers": {"gold": 20, "silver": 5}}});
    let richer = replay(app, &shop, version, body).await;
    assert_eq!(richer.status, 200, "{}", richer.text);
    let summary = &richer.json["summary"];
    assert_eq!(summary["ordersCompared"], 4);
    assert_eq!(summary["changed"], 2, "{}", richer.text);
    assert_eq!(
        summary["totals"].to_string(),
        r#"[{"after":22.50,"before":12.50,"currency":"EUR","difference":10.00}]"#
    );
    let o1 = richer.json["orders"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["orderId"] == "o-1")
        .unwrap();
    assert_eq!(o1["changed"], true);
    assert_eq!(num(&o1["before"]["totalDiscount"]), "5.00");
    assert_eq!(num(&o1["after"]["totalDiscount"]), "10.00");
    assert_eq!(o1["cardId"], "gold-card");
    // The plain card was plain when the till asked: still nothing for o-3.
    let o3 = richer.json["orders"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["orderId"] == "o-3")
        .unwrap();
    assert_eq!(o3["changed"], false);
    assert_eq!(num(&o3["after"]["totalDiscount"]), "0.00");

    // Only the changed orders listed; the summary still counts them all.
    let body = json!({"config": {"tiers": {"gold": 20}}, "onlyChanged": true});
    let changed = replay(app, &shop, version, body).await;
    let listed: Vec<&str> = changed.json["orders"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["orderId"].as_str().unwrap())
        .collect();
    assert_eq!(listed, ["o-4", "o-1", "o-2"], "{}", changed.text);
    assert_eq!(changed.json["summary"]["ordersCompared"], 4);

    // limit and since.
    let newest = replay(app, &shop, version, json!({"limit": 1})).await;
    assert_eq!(newest.json["summary"]["ordersCompared"], 1);
    assert_eq!(newest.json["orders"][0]["orderId"], "o-4");
    let future = replay(
        app,
        &shop,
        version,
        json!({"since": "2999-01-01T00:00:00Z"}),
    )
    .await;
    assert_eq!(future.status, 200, "{}", future.text);
    assert_eq!(future.json["summary"]["ordersCompared"], 0);
    assert_eq!(future.json["summary"]["totals"].to_string(), "[]");
    let past = replay(app, &shop, version, json!({"since": 0})).await;
    assert_eq!(past.json["summary"]["ordersCompared"], 4);
    // No body at all: every default.
    let path = format!("{}/policies/{version}/replay", base(&shop));
    let bare = app.call("POST", &path, Some(&shop.api_key), "").await;
    assert_eq!(bare.status, 200, "{}", bare.text);
    assert_eq!(bare.json["summary"]["ordersCompared"], 4);
}

/// How many endpoint-1 runs the merchant's evaluation log holds.
async fn logged_runs(app: &TestApp, shop: &TestMerchant) -> usize {
    let query = rabat::store::EvaluationQuery {
        limit: 500,
        ..Default::default()
    };
    let page = app.state.store().list_evaluations(&shop.id, &query).await;
    page.unwrap().items.len()
}

async fn replay_reports_failures_and_records_nothing(app: &TestApp) {
    let (shop, _) = shop_with_history(app, "whatif-bad").await;
    let store = app.state.store();
    let hostile = store
        .add_policy(&shop.id, &fixture("panic"), None, audit)
        .await
        .unwrap()
        .version;
    let evaluations_before = logged_runs(app, &shop).await;
    let audit_before = store.list_audit(&shop.id, 500, None).await.unwrap().items;

    let reply = replay(app, &shop, hostile, json!({})).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    let summary = &reply.json["summary"];
    assert_eq!(summary["ordersCompared"], 4);
    assert_eq!(summary["failures"], 4);
    assert_eq!(summary["failuresByOutcome"], json!({"trap": 4}));
    // Three bills had a discount and would lose it.
    assert_eq!(summary["changed"], 3, "{}", reply.text);
    assert_eq!(
        summary["totals"].to_string(),
        r#"[{"after":0.00,"before":12.50,"currency":"EUR","difference":-12.50}]"#
    );
    let first = &reply.json["orders"][0];
    assert_eq!(first["after"]["outcome"], "trap");
    assert!(!first["after"]["failure"].as_str().unwrap().is_empty());
    assert_eq!(first["after"]["discounts"], json!([]));

    // Nothing recorded: no evaluation rows, no audit rows, the active version unchanged.
    app.flush_evaluations().await;
    let evaluations_after = logged_runs(app, &shop).await;
    assert_eq!(evaluations_after, evaluations_before);
    assert_eq!(
        store.list_audit(&shop.id, 500, None).await.unwrap().items,
        audit_before
    );
    let till = app
        .post_json(DISCOUNTS, &shop.pos_token, &bill("o-9", "gold-card"))
        .await;
    assert_eq!(num(&till.json["totalDiscount"]), "5.00");
}

async fn replay_input_errors_and_tenancy(app: &TestApp) {
    let (shop, version) = shop_with_history(app, "whatif-input").await;
    for (body, names) in [
        (json!({"limit": 0}), "limit"),
        (json!({"limit": 10_001}), "limit"),
        (json!({"limit": "ten"}), "limit"),
        (json!({"since": "last tuesday"}), "since"),
        (json!({"since": -5}), "since"),
        (json!({"onlyChanged": "yes"}), "onlyChanged"),
        (json!({"config": [1]}), "config"),
        (json!({"verbose": true}), "verbose"),
    ] {
        let reply = replay(app, &shop, version, body.clone()).await;
        assert_error(&reply, 400, 7, names);
    }
    let path = format!("{}/policies/{version}/replay", base(&shop));
    let reply = app.call("POST", &path, Some(&shop.api_key), "{").await;
    assert_eq!(reply.json["error_id"], 6, "{}", reply.text);
    assert_error(&replay(app, &shop, 99, json!({})).await, 404, 9, "99");
    let reply = app
        .call(
            "POST",
            &format!("{}/policies/x/replay", base(&shop)),
            Some(&shop.api_key),
            "{}",
        )
        .await;
    assert_eq!(reply.status, 400, "{}", reply.text);

    // Another merchant's key, the POS token, no token.
    let other = app.merchant("whatif-other").await;
    let reply = app.call("POST", &path, Some(&other.api_key), "{}").await;
    assert_eq!(reply.status, 403, "{}", reply.text);
    assert_eq!(reply.json["error_id"], 10);
    let reply = app.call("POST", &path, Some(&shop.pos_token), "{}").await;
    assert_eq!(reply.status, 401, "{}", reply.text);
    let reply = app.call("POST", &path, None, "{}").await;
    assert_eq!(reply.status, 401, "{}", reply.text);
    assert_eq!(reply.json["error_id"], 4);
    // The other merchant replays its own (empty) history, never the first one's bills.
    let theirs = app
        .activate(
            &other,
            &example("tier-discount"),
            json!({"tiers": {"gold": 10}}),
        )
        .await;
    let reply = replay(app, &other, theirs, json!({})).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.json["summary"]["ordersCompared"], 0);
}

/// The metrics name every merchant and its traffic: only the metrics token or the
/// operator token may read them; the probes stay open.
async fn metrics_need_the_metrics_or_operator_token(app: &TestApp) {
    let (shop, _) = shop_with_history(app, "scraped").await;
    let reply = app.call("GET", "/metrics", None, "").await;
    assert_error(&reply, 401, 4, "metrics token");
    assert!(!reply.text.contains("scraped"), "{}", reply.text);
    let reply = app.call("GET", "/metrics", Some(&shop.api_key), "").await;
    assert_error(&reply, 401, 4, "metrics token");
    let reply = app.call("GET", "/metrics", Some(&shop.pos_token), "").await;
    assert_error(&reply, 401, 4, "metrics token");
    let reply = app
        .call("GET", "/metrics", Some(crate::common::app::OPERATOR), "")
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert!(reply.text.contains("scraped"), "{}", reply.text);
    for probe in ["/healthz", "/readyz"] {
        let reply = app.call("GET", probe, None, "").await;
        assert_eq!(reply.status, 200, "{probe}: {}", reply.text);
    }

    // A dedicated scrape token, for a Prometheus that should not hold the operator's.
    let mut settings = crate::common::app::settings();
    settings.metrics_token = Some("prometheus-scrape-token".into());
    let scraper = TestApp::with_settings(
        crate::common::db::TestDb {
            store: app.db.reopen().await,
            target: crate::common::db::Target::Shared,
        },
        settings,
    )
    .await;
    let reply = scraper
        .call("GET", "/metrics", Some("prometheus-scrape-token"), "")
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    let reply = scraper
        .call("GET", "/metrics", Some("prometheus-scrape-tokeN"), "")
        .await;
    assert_error(&reply, 401, 4, "metrics token");
    scraper.shutdown().await;
}

async fn metrics_count_requests_and_policy_outcomes(app: &TestApp) {
    let (shop, _) = shop_with_history(app, "metered").await;
    let hostile = app.activate(&shop, &fixture("panic"), json!({})).await;
    let reply = app
        .post_json(DISCOUNTS, &shop.pos_token, &bill("o-5", "gold-card"))
        .await;
    assert_eq!(reply.status, 200);
    let _ = app.call("GET", "/no/such/path", None, "").await;
    let _ = replay(app, &shop, hostile, json!({"limit": 2})).await;
    app.flush_evaluations().await;

    let reply = app
        .call("GET", "/metrics", Some(crate::common::app::OPERATOR), "")
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    let text = reply.text;
    let value = |series: &str| -> f64 {
        text.lines()
            .find_map(|line| line.strip_prefix(series)?.trim().parse().ok())
            .unwrap_or_else(|| panic!("no series {series} in\n{text}"))
    };
    assert_eq!(
        value(
            r#"rabat_http_requests_total{route="/pos/papaya/v1/discounts",method="POST",status="200"}"#
        ),
        6.0
    );
    assert_eq!(
        value(r#"rabat_http_requests_total{route="unmatched",method="GET",status="404"}"#),
        1.0
    );
    assert_eq!(
        value(
            r#"rabat_http_request_duration_seconds_count{route="/pos/papaya/v1/discounts",method="POST"}"#
        ),
        6.0
    );
    assert_eq!(
        value(r#"rabat_policy_calls_total{merchant="metered",call="evaluate",outcome="answer"}"#),
        5.0
    );
    assert_eq!(
        value(r#"rabat_policy_calls_total{merchant="metered",call="evaluate",outcome="trap"}"#),
        1.0
    );
    assert_eq!(
        value(r#"rabat_policy_calls_total{merchant="metered",call="replay",outcome="trap"}"#),
        2.0
    );
    assert!(value(r#"rabat_policy_fuel_used_total{merchant="metered",call="evaluate"}"#) > 0.0);
    assert_eq!(value("rabat_evaluation_log_backlog"), 0.0);
    assert_eq!(value("rabat_evaluation_log_written_total"), 6.0);
    assert_eq!(value("rabat_evaluation_log_dropped_total"), 0.0);
    assert!(text.contains("# TYPE rabat_http_request_duration_seconds histogram"));
    assert!(text.trim_end().ends_with("# EOF"));
}

async fn request_ids_are_set_and_kept(app: &TestApp) {
    let send = |id: Option<&'static str>| {
        let mut request = Request::builder().uri("/healthz");
        if let Some(id) = id {
            request = request.header("x-request-id", id);
        }
        app.router
            .clone()
            .oneshot(request.body(Body::empty()).unwrap())
    };
    let response = send(None).await.unwrap();
    let made = response.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    assert_eq!(made.len(), 36, "a UUID: {made}");
    let second = send(None).await.unwrap();
    assert_ne!(second.headers()["x-request-id"].to_str().unwrap(), made);
    let kept = send(Some("till-7-req-42")).await.unwrap();
    assert_eq!(kept.headers()["x-request-id"], "till-7-req-42");
    // Errors carry it too.
    let request = Request::builder()
        .uri("/nowhere")
        .body(Body::empty())
        .unwrap();
    let response = app.router.clone().oneshot(request).await.unwrap();
    assert_eq!(response.status(), 404);
    assert!(response.headers().contains_key("x-request-id"));
    let body = response.into_body().collect().await.unwrap().to_bytes();
    let body: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(body["error_id"], 9);
}

/// `n` endpoint-1 runs of the seed bill on the gold card, written straight into the log
/// (orders `bulk-0`, `bulk-1`, …), each with `total` as the discount the till got.
async fn log_bills(app: &TestApp, shop: &TestMerchant, n: usize, total: &str) {
    let seed = data("bills/papaya-discount-request.json");
    let order = rabat::papaya::parse_discount_query(&seed).unwrap().order;
    let mut card = Card::new("gold-card");
    card.tier = Some("gold".into());
    let records: Vec<_> = (0..n)
        .map(|i| {
            let mut order = order.clone();
            order.order_id = format!("bulk-{i}");
            rabat::store::EvaluationRecord {
                merchant_id: shop.id.clone(),
                at: rabat::clock::now_ms(),
                order_id: order.order_id.clone(),
                card_id: Some(card.card_id.clone()),
                policy_version: Some(1),
                outcome: "answer".into(),
                total_discount: Some(total.parse().unwrap()),
                fuel: Some(1),
                duration_us: 1,
                request: serde_json::to_value(&order).unwrap(),
                card: serde_json::to_value(&card).ok(),
                response: None,
                logs: json!([]),
                error: None,
            }
        })
        .collect();
    app.state
        .store()
        .insert_evaluations(&records)
        .await
        .unwrap();
}

/// The replay calls the metrics have counted for `shop` so far.
fn replayed(app: &TestApp, shop: &TestMerchant) -> f64 {
    let text = app.state.metrics().render().unwrap();
    let prefix = format!(
        r#"rabat_policy_calls_total{{merchant="{}",call="replay""#,
        shop.id
    );
    text.lines()
        .filter(|line| line.starts_with(&prefix))
        .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

/// A logged total so large the sums cannot hold it was a panic on the replay thread and
/// a 500; now that bill is counted as skipped and the replay answers.
async fn replay_adds_up_huge_logged_totals_without_failing(app: &TestApp) {
    let (shop, version) = shop_with_history(app, "whatif-huge").await;
    log_bills(app, &shop, 2, "79228162514264337593543950335").await;
    let reply = replay(app, &shop, version, json!({})).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    let summary = &reply.json["summary"];
    assert_eq!(summary["skipped"], 2, "{}", reply.text);
    assert_eq!(summary["ordersCompared"], 4, "{}", reply.text);
    assert_eq!(summary["totals"][0]["before"].to_string(), "12.50");
}

/// A replay whose caller hangs up stops at the next bill (it ran on, holding a core and
/// the slot being free for the next replay to pile up beside it).
async fn a_replay_nobody_waits_for_stops_and_frees_its_slot(app: &TestApp) {
    let (shop, version) = shop_with_history(app, "whatif-gone").await;
    let spinning = app
        .state
        .store()
        .add_policy(&shop.id, &fixture("loop"), None, audit)
        .await
        .unwrap()
        .version;
    log_bills(app, &shop, 2_000, "5.00").await;
    // Compiled and cached first, so the long replay starts running bills at once.
    let warm = replay(app, &shop, spinning, json!({"limit": 1})).await;
    assert_eq!(warm.status, 200, "{}", warm.text);
    let before = replayed(app, &shop);
    let gone = tokio::time::timeout(
        std::time::Duration::from_millis(1_500),
        replay(app, &shop, spinning, json!({"limit": 2_000})),
    )
    .await;
    assert!(
        gone.is_err(),
        "the replay of 2 000 spinning bills ended at once"
    );
    tokio::time::sleep(std::time::Duration::from_millis(800)).await;
    let settled = replayed(app, &shop);
    assert!(settled > before, "the long replay never ran a bill");
    tokio::time::sleep(std::time::Duration::from_millis(1_500)).await;
    assert_eq!(
        replayed(app, &shop),
        settled,
        "the replay kept running after its caller hung up"
    );
    // Its slot is free: the merchant's next replay runs.
    let next = tokio::time::timeout(
        std::time::Duration::from_secs(30),
        replay(app, &shop, version, json!({"limit": 3})),
    )
    .await
    .expect("the next replay waited for a replay nobody wanted");
    assert_eq!(next.status, 200, "{}", next.text);
}

/// Replays were one per server: a merchant's long replay held every other merchant's.
async fn one_merchants_long_replay_does_not_hold_up_another(app: &TestApp) {
    let (slow, _) = shop_with_history(app, "whatif-slow").await;
    let spinning = app
        .state
        .store()
        .add_policy(&slow.id, &fixture("loop"), None, audit)
        .await
        .unwrap()
        .version;
    log_bills(app, &slow, 6_000, "5.00").await;
    let (quick, version) = shop_with_history(app, "whatif-quick").await;
    // Compiled and cached first, so the long replay starts running bills at once.
    let warm = replay(app, &slow, spinning, json!({"limit": 1})).await;
    assert_eq!(warm.status, 200, "{}", warm.text);
    let warm = replay(app, &quick, version, json!({"limit": 1})).await;
    assert_eq!(warm.status, 200, "{}", warm.text);
    let before = replayed(app, &slow);
    let long = {
        let app_router = app.router.clone();
        let path = format!("{}/policies/{spinning}/replay", base(&slow));
        let key = slow.api_key.clone();
        tokio::spawn(async move {
            let request = axum::http::Request::post(path)
                .header("authorization", format!("Bearer {key}"))
                .body(axum::body::Body::from(json!({"limit": 6_000}).to_string()))
                .unwrap();
            tower::ServiceExt::oneshot(app_router, request).await
        })
    };
    // The long replay is running bills.
    let started = std::time::Instant::now();
    while replayed(app, &slow) <= before {
        assert!(
            started.elapsed().as_secs() < 30,
            "the long replay never started"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let reply = tokio::time::timeout(
        std::time::Duration::from_secs(8),
        replay(app, &quick, version, json!({})),
    )
    .await
    .expect("another merchant's replay waited for the long one");
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.json["summary"]["ordersCompared"], 4);
    long.abort();
}
