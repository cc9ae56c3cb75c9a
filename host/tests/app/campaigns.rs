//! Campaigns over HTTP (issue 17), on SQLite and (when configured) PostgreSQL, with real
//! example policies built to `.wasm`: the better of two in a `bestOf` group, an exclusive
//! campaign, stackable ones, a scheduled campaign starting and ending on time (the till's
//! clock fixed, never slept), a failing campaign dropping out alone, `accrue` from two
//! campaigns on one bill, policies on contracts 0.1 and 0.2 side by side, and the admin
//! routes with their errors and audit rows.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use rabat::model::Card;
use rabat::store::{EvaluationQuery, LedgerQuery, StoredEvaluation};
use serde_json::{Value, json};

use crate::common::app::{TestApp, TestMerchant, audit};
use crate::common::wasm::{data, example, fixture, fixtures_dir};

const DISCOUNTS: &str = "/pos/papaya/v1/discounts";
const TRANSACTIONS: &str = "/pos/papaya/v1/transactions";
const HOUR: i64 = 3_600_000;
const T0: i64 = 1_800_000_000_000;

app_on_both_engines!(
    the_default_campaign_is_the_active_policy,
    best_of_a_group_gives_the_better_of_two,
    an_exclusive_campaign_stops_the_lower_ones,
    stackable_campaigns_all_apply_each_capped,
    a_scheduled_campaign_starts_and_ends_on_time,
    a_failing_campaign_drops_out_alone,
    accrue_runs_every_live_campaign,
    policies_on_contracts_0_1_and_0_2_run_as_campaigns,
    the_admin_routes_check_audit_and_isolate,
    the_demo_merchant_runs_two_campaigns,
    points_of_one_campaign_are_held_beside_the_others_discounts,
    a_campaign_change_reaches_another_server,
);

fn seed_bill(order_id: &str, card_id: &str) -> Value {
    let mut bill: Value =
        serde_json::from_slice(&data("bills/papaya-discount-request.json")).unwrap();
    bill["orderId"] = json!(order_id);
    bill["cardId"] = json!(card_id);
    bill
}

/// A merchant with card `gold` (tier gold) and card `plain` (no tier).
async fn shop(app: &TestApp, id: &str) -> TestMerchant {
    let shop = app.merchant(id).await;
    let mut gold = Card::new("gold");
    gold.tier = Some("gold".into());
    app.card(&shop, gold).await;
    app.card(&shop, Card::new("plain")).await;
    shop
}

/// Stores `wasm` as the merchant's next version (not active).
async fn upload(app: &TestApp, shop: &TestMerchant, wasm: &[u8]) -> i64 {
    app.state
        .store()
        .add_policy(&shop.id, wasm, None, audit)
        .await
        .unwrap()
        .version
}

fn campaigns_path(shop: &TestMerchant) -> String {
    format!("/admin/v1/merchants/{}/campaigns", shop.id)
}

async fn create(app: &TestApp, shop: &TestMerchant, body: Value) -> Value {
    let reply = app
        .post_json(&campaigns_path(shop), &shop.api_key, &body)
        .await;
    assert_eq!(reply.status, 201, "{}", reply.text);
    reply.json
}

async fn discount(app: &TestApp, shop: &TestMerchant, order_id: &str, card: &str) -> Value {
    let reply = app
        .post_json(DISCOUNTS, &shop.pos_token, &seed_bill(order_id, card))
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    reply.json
}

async fn evaluations(app: &TestApp, shop: &TestMerchant) -> Vec<StoredEvaluation> {
    app.flush_evaluations().await;
    app.state
        .store()
        .list_evaluations(
            &shop.id,
            &EvaluationQuery {
                limit: 500,
                ..Default::default()
            },
        )
        .await
        .unwrap()
        .items
}

async fn logged(app: &TestApp, shop: &TestMerchant, order_id: &str) -> StoredEvaluation {
    evaluations(app, shop)
        .await
        .into_iter()
        .find(|e| e.record.order_id == order_id)
        .unwrap_or_else(|| panic!("no evaluation logged for {order_id}"))
}

fn amounts(answer: &Value) -> Vec<String> {
    answer["discounts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| format!("{}={}", d["description"].as_str().unwrap(), d["amount"]))
        .collect()
}

fn tiers() -> Value {
    json!({"tiers": {"gold": 10, "silver": 5}})
}

fn coffee() -> Value {
    json!({"category": "Hot Beverages", "percentage": 20})
}

async fn the_default_campaign_is_the_active_policy(app: &TestApp) {
    let shop = shop(app, "plain-shop").await;
    // Through the policy routes, as a merchant who never touches campaigns.
    let version = app
        .activate(&shop, &example("tier-discount"), tiers())
        .await;
    let reply = app
        .call("GET", &campaigns_path(&shop), Some(&shop.api_key), "")
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    let items = reply.json["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{}", reply.text);
    assert_eq!(items[0]["name"], "default");
    assert_eq!(items[0]["policyVersion"], version);
    assert_eq!(items[0]["isDefault"], true);
    assert_eq!(items[0]["mode"], "stackable");
    assert_eq!(items[0]["config"], tiers());
    let answer = discount(app, &shop, "o1", "gold").await;
    assert_eq!(answer["totalDiscount"].to_string(), "5.00");
    let entry = logged(app, &shop, "o1").await;
    assert_eq!(entry.record.policy_version, Some(version));
    assert_eq!(entry.record.outcome, "answer");
    // Pausing the default campaign stops it; resuming brings it back.
    let id = items[0]["id"].as_i64().unwrap();
    let pause = format!("{}/{id}/pause", campaigns_path(&shop));
    let reply = app.call("POST", &pause, Some(&shop.api_key), "").await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.json["state"], "paused");
    let answer = discount(app, &shop, "o2", "gold").await;
    assert_eq!(answer["totalDiscount"].to_string(), "0.00", "{answer}");
    assert_eq!(
        logged(app, &shop, "o2").await.record.outcome,
        "no_live_campaign"
    );
    let resume = format!("{}/{id}/resume", campaigns_path(&shop));
    let reply = app.call("POST", &resume, Some(&shop.api_key), "").await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(
        discount(app, &shop, "o3", "gold").await["totalDiscount"].to_string(),
        "5.00"
    );
}

async fn best_of_a_group_gives_the_better_of_two(app: &TestApp) {
    let shop = shop(app, "bestof").await;
    let tier = upload(app, &shop, &example("tier-discount")).await;
    let category = upload(app, &shop, &example("category-discount")).await;
    let a = create(
        app,
        &shop,
        json!({"name": "tier", "policyVersion": tier, "config": tiers(),
        "priority": 10, "mode": "bestOf", "group": "member"}),
    )
    .await;
    let b = create(
        app,
        &shop,
        json!({"name": "coffee", "policyVersion": category, "config": coffee(),
        "priority": 5, "mode": "bestOf", "group": "member"}),
    )
    .await;
    // Gold: 10 % of 50.00 = 5.00 beats 20 % of the 5.00 of coffee = 1.00.
    let answer = discount(app, &shop, "o1", "gold").await;
    assert_eq!(
        amounts(&answer),
        ["10% gold member discount=5.00"],
        "{answer}"
    );
    assert_eq!(answer["message"], "10% gold member discount");
    // No tier: the tier campaign gives nothing, the coffee campaign applies.
    let answer = discount(app, &shop, "o2", "plain").await;
    assert_eq!(answer["totalDiscount"].to_string(), "1.00", "{answer}");
    // The gold tier at 1 %: 0.50 against 1.00, the coffee campaign wins.
    let path = format!("{}/{}", campaigns_path(&shop), a["id"]);
    let reply = app
        .call(
            "PATCH",
            &path,
            Some(&shop.api_key),
            json!({"config": {"tiers": {"gold": 1}}}).to_string(),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    let answer = discount(app, &shop, "o3", "gold").await;
    assert_eq!(answer["totalDiscount"].to_string(), "1.00", "{answer}");
    // The log names the campaign of every discount, and why the other did not apply.
    let logs = logged(app, &shop, "o3").await.record.logs.to_string();
    let winner = format!("campaign #{} 'coffee' (v{category})", b["id"]);
    let loser = format!("campaign #{} 'tier' (v{tier})", a["id"]);
    assert!(logs.contains(&format!("host: {winner} gave '")), "{logs}");
    assert!(
        logs.contains(&format!(
            "host: {loser}: not applied: {winner} gave more in bestOf group 'member'"
        )),
        "{logs}"
    );
}

async fn an_exclusive_campaign_stops_the_lower_ones(app: &TestApp) {
    let shop = shop(app, "exclusive").await;
    let tier = upload(app, &shop, &example("tier-discount")).await;
    let category = upload(app, &shop, &example("category-discount")).await;
    create(
        app,
        &shop,
        json!({"name": "tier", "policyVersion": tier, "config": tiers(),
        "priority": 10, "mode": "exclusive"}),
    )
    .await;
    create(
        app,
        &shop,
        json!({"name": "coffee", "policyVersion": category, "config": coffee()}),
    )
    .await;
    let answer = discount(app, &shop, "o1", "gold").await;
    assert_eq!(answer["totalDiscount"].to_string(), "5.00", "{answer}");
    let logs = logged(app, &shop, "o1").await.record.logs.to_string();
    assert!(logs.contains("not applied: exclusive campaign #"), "{logs}");
    // Giving nothing, the exclusive campaign stops nothing.
    let answer = discount(app, &shop, "o2", "plain").await;
    assert_eq!(answer["totalDiscount"].to_string(), "1.00", "{answer}");
}

async fn stackable_campaigns_all_apply_each_capped(app: &TestApp) {
    let shop = shop(app, "stack").await;
    app.activate(&shop, &example("tier-discount"), tiers())
        .await;
    let category = upload(app, &shop, &example("category-discount")).await;
    create(
        app,
        &shop,
        json!({"name": "coffee", "policyVersion": category, "config": coffee(),
        "priority": -1}),
    )
    .await;
    // Item discounts first (1.00 off the espressos), then 10 % of the 49.00 left.
    let answer = discount(app, &shop, "o1", "gold").await;
    assert_eq!(answer["totalDiscount"].to_string(), "5.90", "{answer}");
    assert_eq!(answer["discounts"].as_array().unwrap().len(), 2, "{answer}");
    let message = answer["message"].as_str().unwrap();
    assert!(
        message.starts_with("10% gold member discount; "),
        "{message}"
    );
    assert!(message.chars().count() <= 120, "{message}");
    // The answer keeps the seed's shape: no field names a campaign.
    let keys: Vec<&str> = answer
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    let mut sorted = keys.clone();
    sorted.sort_unstable();
    assert_eq!(sorted, ["discounts", "message", "totalDiscount"]);
    let entry = logged(app, &shop, "o1").await;
    assert_eq!(entry.record.outcome, "answer");
    let logs = entry.record.logs.to_string();
    assert_eq!(logs.matches(" gave '").count(), 2, "{logs}");
    assert!(
        logs.contains("'default' (v1) gave '10% gold member discount': 4.90"),
        "{logs}"
    );
}

async fn a_scheduled_campaign_starts_and_ends_on_time(app: &TestApp) {
    let shop = shop(app, "sched").await;
    app.activate(&shop, &example("tier-discount"), tiers())
        .await;
    let category = upload(app, &shop, &example("category-discount")).await;
    create(
        app,
        &shop,
        json!({"name": "december", "policyVersion": category, "config": coffee(),
        "startsAt": T0, "endsAt": T0 + HOUR}),
    )
    .await;
    let clock = app.state.till().clock();
    let at = |t: i64, order: &'static str| {
        clock.fix(t);
        discount(app, &shop, order, "gold")
    };
    assert_eq!(
        at(T0 - 1, "before").await["totalDiscount"].to_string(),
        "5.00"
    );
    assert_eq!(at(T0, "start").await["totalDiscount"].to_string(), "5.90");
    assert_eq!(
        at(T0 + HOUR - 1, "last").await["totalDiscount"].to_string(),
        "5.90"
    );
    assert_eq!(
        at(T0 + HOUR, "end").await["totalDiscount"].to_string(),
        "5.00"
    );
    clock.unfix();
}

async fn a_failing_campaign_drops_out_alone(app: &TestApp) {
    let shop = shop(app, "failing").await;
    app.activate(&shop, &example("tier-discount"), tiers())
        .await;
    let looping = upload(app, &shop, &fixture("loop")).await;
    let panicking = upload(app, &shop, &fixture("panic")).await;
    let a = create(
        app,
        &shop,
        json!({"name": "loops", "policyVersion": looping, "priority": 10,
        "mode": "exclusive"}),
    )
    .await;
    create(
        app,
        &shop,
        json!({"name": "panics", "policyVersion": panicking, "priority": 5}),
    )
    .await;
    let answer = discount(app, &shop, "o1", "gold").await;
    assert_eq!(
        amounts(&answer),
        ["10% gold member discount=5.00"],
        "{answer}"
    );
    assert_eq!(answer["message"], "10% gold member discount");
    let entry = logged(app, &shop, "o1").await;
    assert_eq!(entry.record.outcome, "answer");
    let error = entry.record.error.clone().unwrap_or_default();
    assert!(
        error.contains(&format!("campaign #{} 'loops' (v{looping}): ", a["id"])),
        "{error}"
    );
    assert!(error.contains("'panics'"), "{error}");
    let logs = entry.record.logs.to_string();
    assert!(
        logs.contains("'loops'") && logs.contains("dropped: "),
        "{logs}"
    );
}

fn completed(order_id: &str, card_id: &str) -> Value {
    json!({
      "event": "order.completed", "orderId": order_id, "cardId": card_id, "paid": 1,
      "status": "closed", "total": 8.50, "currency": "EUR",
      "completed": "2025-10-21T10:35:12.000Z",
      "orderItems": [
        {"id": "1", "productId": "11111", "name": "Espresso", "quantity": 2, "unitPrice": 2.50,
         "totalPrice": 5.00, "vatRate": 20, "categoryName": "Hot Beverages"},
        {"id": "2", "productId": "22222", "name": "Butter Croissant", "quantity": 1,
         "unitPrice": 3.50, "totalPrice": 3.50, "vatRate": 20, "categoryName": "Bakery"}
      ]
    })
}

async fn accrue_runs_every_live_campaign(app: &TestApp) {
    let shop = app.merchant("accrue").await;
    app.card(&shop, Card::new("c1")).await;
    let stamps = app
        .activate(
            &shop,
            &example("stamp-card"),
            json!({"every": 5, "category": "Hot Beverages"}),
        )
        .await;
    let upgrade = upload(app, &shop, &example("tier-upgrade")).await;
    let b = create(
        app,
        &shop,
        json!({"name": "upgrade", "policyVersion": upgrade,
        "config": {"tiers": [{"tier": "silver", "visits": 1}, {"tier": "gold", "visits": 10}]},
        "priority": -1}),
    )
    .await;
    let reply = app
        .post_json(TRANSACTIONS, &shop.pos_token, &completed("b1", "c1"))
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    let stored = app
        .state
        .store()
        .card(&shop.id, "c1")
        .await
        .unwrap()
        .unwrap();
    let rows = app
        .state
        .store()
        .list_transactions(
            &shop.id,
            &LedgerQuery {
                card_id: Some("c1"),
                limit: 10,
                cursor: None,
            },
        )
        .await
        .unwrap()
        .items;
    assert_eq!(stored.points, 2, "two coffees stamped: {rows:?}");
    assert_eq!(
        stored.tier.as_deref(),
        Some("silver"),
        "the other campaign set the tier: {rows:?}"
    );
    let rows = app
        .state
        .store()
        .list_transactions(
            &shop.id,
            &LedgerQuery {
                card_id: Some("c1"),
                limit: 10,
                cursor: None,
            },
        )
        .await
        .unwrap()
        .items;
    let bill = rows
        .iter()
        .find(|r| r.order_id.as_deref() == Some("b1"))
        .unwrap();
    let reason = bill.reason.clone().unwrap_or_default();
    assert!(
        reason.starts_with(&format!("campaign #1 'default' (v{stamps}): +2 (")),
        "{reason}"
    );
    assert_eq!(bill.accrual_error, None);
    assert_eq!(bill.card_changes.as_ref().unwrap()["tier"]["to"], "silver");
    let upgrade_reason = format!(
        "; campaign #{} 'upgrade' (v{upgrade}): +0 (1 visits: silver)",
        b["id"]
    );
    assert!(reason.ends_with(&upgrade_reason), "{reason}");
    // A repeat of the bill changes nothing.
    let reply = app
        .post_json(TRANSACTIONS, &shop.pos_token, &completed("b1", "c1"))
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    let stored = app
        .state
        .store()
        .card(&shop.id, "c1")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.points, 2);
}

async fn policies_on_contracts_0_1_and_0_2_run_as_campaigns(app: &TestApp) {
    let shop = shop(app, "contracts").await;
    let old = std::fs::read(fixtures_dir().join("v0_1").join("tier-category.wasm")).unwrap();
    let compiled = app.state.runtime().compile(&old).unwrap();
    assert_eq!(compiled.contract(), rabat_sandbox::Contract::V0_1);
    let old = upload(app, &shop, &old).await;
    let new = upload(app, &shop, &example("three-for-two")).await;
    let config: Value = serde_json::from_slice(
        &std::fs::read(
            rabat_sandbox::build::workspace_dir().join("examples/tier-category/config.json"),
        )
        .unwrap(),
    )
    .unwrap();
    create(
        app,
        &shop,
        json!({"name": "old", "policyVersion": old, "config": config, "priority": 1}),
    )
    .await;
    create(
        app,
        &shop,
        json!({"name": "new", "policyVersion": new, "config": {"categories": ["Hot Beverages"]}}),
    )
    .await;
    // The 0.2 campaign gives nothing on this bill (two espressos make no third), so the
    // answer is the 0.1 policy's, exactly as recorded when it was built.
    let answer = discount(app, &shop, "o1", "gold").await;
    let recorded: Value = serde_json::from_slice(
        &std::fs::read(
            fixtures_dir()
                .join("v0_1")
                .join("tier-category.papaya-discount-request.gold.json"),
        )
        .unwrap(),
    )
    .unwrap();
    assert_eq!(
        serde_json::to_string(&answer).unwrap(),
        serde_json::to_string(&recorded["decision"]["response"]).unwrap()
    );
    let logs = logged(app, &shop, "o1").await.record.logs.to_string();
    assert!(
        logs.contains(&format!("'old' (v{old}): applied: 5.90 off")),
        "{logs}"
    );
    assert!(
        logs.contains(&format!("'new' (v{new}): applied: adds nothing")),
        "{logs}"
    );
    // On a bill with a third espresso both apply, the 0.2 policy's exact amount first.
    let mut bill = seed_bill("o2", "gold");
    bill["orderItems"][0]["quantity"] = json!(3);
    bill["orderItems"][0]["totalPrice"] = json!(7.50);
    let reply = app.post_json(DISCOUNTS, &shop.pos_token, &bill).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    let logs = logged(app, &shop, "o2").await.record.logs.to_string();
    assert!(
        logs.contains(&format!("'new' (v{new}) gave '3 for 2")),
        "{logs}"
    );
    assert!(logs.contains(&format!("'old' (v{old}) gave '")), "{logs}");
}

async fn the_admin_routes_check_audit_and_isolate(app: &TestApp) {
    let shop = shop(app, "admin").await;
    let other = app.merchant("other").await;
    let version = upload(app, &shop, &example("tier-discount")).await;
    let path = campaigns_path(&shop);
    // Errors name the field (7), a missing version is 9, a name taken is 8.
    for (body, field) in [
        (json!({"policyVersion": version}), "name is required"),
        (json!({"name": "a"}), "policyVersion is required"),
        (
            json!({"name": "a", "policyVersion": version, "mode": "best"}),
            "mode must be one of",
        ),
        (
            json!({"name": "a", "policyVersion": version, "mode": "bestOf"}),
            "group",
        ),
        (
            json!({"name": "a", "policyVersion": version, "group": "g"}),
            "group",
        ),
        (
            json!({"name": "a", "policyVersion": version, "config": [1]}),
            "config must be a JSON object",
        ),
        (
            json!({"name": "a", "policyVersion": version, "priority": 2_000_000}),
            "priority must be between",
        ),
        (
            json!({"name": "a", "policyVersion": version, "startsAt": -1}),
            "startsAt must be",
        ),
        (
            json!({"name": "a", "policyVersion": version, "startsAt": 5, "endsAt": 5}),
            "endsAt",
        ),
        (
            json!({"name": "a", "policyVersion": version, "colour": "red"}),
            "colour is not a known field",
        ),
        (
            json!({"name": "default", "policyVersion": version}),
            "name 'default'",
        ),
        (json!({"name": "", "policyVersion": version}), "name"),
    ] {
        let reply = app.post_json(&path, &shop.api_key, &body).await;
        assert_eq!(reply.status, 400, "{body}: {}", reply.text);
        assert_eq!(reply.json["error_id"], 7, "{body}: {}", reply.text);
        assert!(
            reply.json["message"].as_str().unwrap().contains(field),
            "{body}: {}",
            reply.text
        );
    }
    let reply = app
        .post_json(
            &path,
            &shop.api_key,
            &json!({"name": "a", "policyVersion": 99}),
        )
        .await;
    assert_eq!(
        (reply.status.as_u16(), reply.json["error_id"].as_i64()),
        (404, Some(9)),
        "{}",
        reply.text
    );
    let created = create(
        app,
        &shop,
        json!({"name": "a", "policyVersion": version, "config": tiers()}),
    )
    .await;
    assert_eq!(
        (created["state"].as_str(), created["mode"].as_str()),
        (Some("active"), Some("stackable"))
    );
    let reply = app
        .post_json(
            &path,
            &shop.api_key,
            &json!({"name": "a", "policyVersion": version}),
        )
        .await;
    assert_eq!(
        (reply.status.as_u16(), reply.json["error_id"].as_i64()),
        (409, Some(8)),
        "{}",
        reply.text
    );

    let one = format!("{path}/{}", created["id"]);
    let reply = app.call("GET", &one, Some(&shop.api_key), "").await;
    assert_eq!(reply.json, created);
    let reply = app
        .call(
            "PATCH",
            &one,
            Some(&shop.api_key),
            json!({"priority": 7, "endsAt": T0, "name": "b"}).to_string(),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(
        (
            reply.json["priority"].as_i64(),
            reply.json["endsAt"].as_i64()
        ),
        (Some(7), Some(T0))
    );
    let reply = app
        .call(
            "PATCH",
            &one,
            Some(&shop.api_key),
            json!({"endsAt": null}).to_string(),
        )
        .await;
    assert_eq!(reply.json["endsAt"], Value::Null, "{}", reply.text);
    let reply = app
        .call(
            "PATCH",
            &one,
            Some(&shop.api_key),
            json!({"group": "g"}).to_string(),
        )
        .await;
    assert_eq!(reply.json["error_id"], 7, "{}", reply.text);
    for (action, state) in [("pause", "paused"), ("resume", "active"), ("end", "ended")] {
        let reply = app
            .call("POST", &format!("{one}/{action}"), Some(&shop.api_key), "")
            .await;
        assert_eq!(
            (reply.status.as_u16(), reply.json["state"].as_str()),
            (200, Some(state)),
            "{}",
            reply.text
        );
    }
    let reply = app
        .call("POST", &format!("{one}/resume"), Some(&shop.api_key), "")
        .await;
    assert_eq!(
        (reply.status.as_u16(), reply.json["error_id"].as_i64()),
        (409, Some(8)),
        "{}",
        reply.text
    );
    let reply = app
        .call("GET", &format!("{path}/12345"), Some(&shop.api_key), "")
        .await;
    assert_eq!(
        (reply.status.as_u16(), reply.json["error_id"].as_i64()),
        (404, Some(9)),
        "{}",
        reply.text
    );
    let reply = app
        .call("GET", &format!("{path}/abc"), Some(&shop.api_key), "")
        .await;
    assert_eq!(
        (reply.status.as_u16(), reply.json["error_id"].as_i64()),
        (400, Some(7)),
        "{}",
        reply.text
    );
    // Another merchant's key: 403, and its own listing is empty.
    let reply = app.call("GET", &one, Some(&other.api_key), "").await;
    assert_eq!(reply.status, 403, "{}", reply.text);
    let reply = app
        .call("GET", &campaigns_path(&other), Some(&other.api_key), "")
        .await;
    assert_eq!(reply.json["items"], json!([]), "{}", reply.text);
    // Every change is audited.
    let reply = app
        .call(
            "GET",
            &format!("/admin/v1/merchants/{}/audit?limit=50", shop.id),
            Some(&shop.api_key),
            "",
        )
        .await;
    let actions: Vec<&str> = reply.json["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .filter(|a| a.starts_with("campaign."))
        .collect();
    assert_eq!(
        actions,
        [
            "campaign.end",
            "campaign.resume",
            "campaign.pause",
            "campaign.edit",
            "campaign.edit",
            "campaign.create"
        ]
    );
}

async fn the_demo_merchant_runs_two_campaigns(app: &TestApp) {
    let info = rabat::demo::setup(&app.state).await.unwrap();
    assert!(info.created);
    let key = rabat::demo::API_KEY;
    let reply = app
        .call("GET", "/admin/v1/merchants/demo/campaigns", Some(key), "")
        .await;
    let names: Vec<&str> = reply.json["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["default", "happy hour"], "{}", reply.text);
    // The seed's bill is outside the happy hour: the tier discount alone, as before.
    let bill: Value = serde_json::from_slice(&data("bills/papaya-discount-request.json")).unwrap();
    let reply = app
        .post_json(DISCOUNTS, rabat::demo::POS_TOKEN, &bill)
        .await;
    assert_eq!(
        reply.text,
        r#"{"discounts":[{"type":"percentage_on_bill","appliesTo":"bill","percentage":10,"amount":5.00,"description":"10% gold member discount"}],"totalDiscount":5.00,"message":"10% gold member discount"}"#
    );
    // The happy-hour bill gets both: 10 % of 8.50, then 15 % of the 7.65 left.
    let bill: Value = serde_json::from_slice(&data("bills/papaya-happy-hour.json")).unwrap();
    let reply = app
        .post_json(DISCOUNTS, rabat::demo::POS_TOKEN, &bill)
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(
        reply.json["totalDiscount"].to_string(),
        "2.00",
        "{}",
        reply.text
    );
    assert_eq!(
        reply.json["discounts"].as_array().unwrap().len(),
        2,
        "{}",
        reply.text
    );
    // A second setup leaves the merchant as it is.
    assert!(!rabat::demo::setup(&app.state).await.unwrap().created);
}

/// Paying with points as one of two campaigns: the points-costing coupon goes through the
/// points gate with the other campaign's discount, the order's hold is written, the bill
/// burns it once; a later answer of the order that costs nothing replaces the hold.
async fn points_of_one_campaign_are_held_beside_the_others_discounts(app: &TestApp) {
    let shop = app.merchant("points").await;
    let mut card = Card::new("gold");
    card.tier = Some("gold".into());
    card.points = 1000;
    app.card(&shop, card).await;
    app.activate(
        &shop,
        &example("pay-with-points"),
        json!({"pointsPerUnit": 100, "maxShare": 50}),
    )
    .await;
    let tier = upload(app, &shop, &example("tier-discount")).await;
    create(
        app,
        &shop,
        json!({"name": "tier", "policyVersion": tier, "config": tiers(), "priority": 1}),
    )
    .await;
    // 10 % of 50.00, and 1 000 points paying 10.00.
    let answer = discount(app, &shop, "o1", "gold").await;
    assert_eq!(answer["totalDiscount"].to_string(), "15.00", "{answer}");
    let held = |app: &TestApp| {
        let store = app.state.store().clone();
        let id = shop.id.clone();
        async move {
            store
                .held_points(&id, "gold", rabat::clock::now_ms())
                .await
                .unwrap()
        }
    };
    assert_eq!(held(app).await, 1000);
    let logs = logged(app, &shop, "o1").await.record.logs.to_string();
    assert!(
        logs.contains("'default' (v1) gave 'Paid with 1000 points': 10.00"),
        "{logs}"
    );
    // The bill completes with the coupon on it: the points are burnt once.
    let mut done = completed("o1", "gold");
    done["total"] = json!(35.00);
    done["orderItems"].as_array_mut().unwrap().push(json!({"id": "3", "productId": "POINTS",
        "name": "POINTS", "quantity": 1, "unitPrice": -10.00, "totalPrice": -10.00, "vat": 0, "vatRate": 0}));
    let reply = app.post_json(TRANSACTIONS, &shop.pos_token, &done).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    let stored = app
        .state
        .store()
        .card(&shop.id, "gold")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.points, 0);
    assert_eq!(held(app).await, 0);
    let reply = app.post_json(TRANSACTIONS, &shop.pos_token, &done).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(
        app.state
            .store()
            .card(&shop.id, "gold")
            .await
            .unwrap()
            .unwrap()
            .points,
        0
    );
}

/// A campaign created, paused or ended through one server reaches another server on the
/// same database (PostgreSQL: its change notification; SQLite: the generation check),
/// without a restart.
async fn a_campaign_change_reaches_another_server(app: &TestApp) {
    let shop = shop(app, "replicas").await;
    app.activate(&shop, &example("tier-discount"), tiers())
        .await;
    let other = app.restart().await;
    let total = |server: &'static str, app: &TestApp, order: String| {
        let bill = seed_bill(&order, "gold");
        let token = shop.pos_token.clone();
        let router = app.router.clone();
        async move {
            let request = axum::http::Request::builder()
                .method("POST")
                .uri(DISCOUNTS)
                .header("authorization", format!("Bearer {token}"))
                .body(axum::body::Body::from(bill.to_string()))
                .unwrap();
            let response = tower::ServiceExt::oneshot(router, request).await.unwrap();
            let bytes = http_body_util::BodyExt::collect(response.into_body())
                .await
                .unwrap()
                .to_bytes();
            let json: Value = serde_json::from_slice(&bytes).unwrap();
            let _ = server;
            json["totalDiscount"].to_string()
        }
    };
    // Warm the other server's cache.
    assert_eq!(total("other", &other, "w".into()).await, "5.00");
    let category = upload(app, &shop, &example("category-discount")).await;
    let made = create(
        app,
        &shop,
        json!({"name": "coffee", "policyVersion": category, "config": coffee()}),
    )
    .await;
    let until = |want: &'static str| {
        let other = &other;
        async move {
            for i in 0..200 {
                if total("other", other, format!("p{want}{i}")).await == want {
                    return;
                }
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
            panic!("the other server never answered {want}");
        }
    };
    until("5.90").await;
    let end = format!("{}/{}/end", campaigns_path(&shop), made["id"]);
    let reply = app.call("POST", &end, Some(&shop.api_key), "").await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    until("5.00").await;
    other.shutdown().await;
}
