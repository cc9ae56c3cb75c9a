//! Campaign budgets and limits (issue 17), on SQLite and (when configured) PostgreSQL,
//! with the real tier-discount example built to `.wasm`, through two servers on one
//! database (two replicas: separate caches, connection pools and group commits) and
//! concurrent tills:
//! - a budget of 22.50 that 32 tills racing on two replicas cannot exceed: four bills get
//!   5.00, one gets the exact 2.50 left, the rest nothing, and the budget shows it used;
//! - once per card per day, with 16 tills racing on one card: one discount a day, the next
//!   day again (the clock injected), and an order's repeat keeps its own reservation;
//! - a reservation that is released (the merchant frees the card's holds) or replaced by an
//!   answer without the discount frees what it held; a repeated bill uses nothing more.
//!
//! The store's lock is what makes the first two hold: with the pool read outside the
//! reservation's transaction (see ARCHITECTURE.md, "Reservations") both fail.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use rabat::model::Card;
use serde_json::{Value, json};

use crate::common::app::{TestApp, TestMerchant, audit};
use crate::common::wasm::{data, example};

const DISCOUNTS: &str = "/pos/papaya/v1/discounts";
const TRANSACTIONS: &str = "/pos/papaya/v1/transactions";
/// 2027-01-15 12:00 UTC, a Friday.
const FRIDAY_NOON: i64 = 1_800_014_400_000;
const DAY: i64 = 86_400_000;

app_on_both_engines!(
    a_budget_is_never_exceeded_by_32_tills_on_two_replicas,
    once_per_card_per_day_with_tills_racing_on_one_card,
    a_freed_or_replaced_reservation_gives_its_amount_back,
    limits_are_checked_naming_the_field,
    a_campaign_set_is_dry_run_and_replayed_within_its_budget,
);

fn bill(order_id: &str, card_id: &str) -> Value {
    let mut bill: Value =
        serde_json::from_slice(&data("bills/papaya-discount-request.json")).unwrap();
    bill["orderId"] = json!(order_id);
    bill["cardId"] = json!(card_id);
    bill
}

fn completed(order_id: &str, card_id: &str) -> Value {
    json!({
      "event": "order.completed", "orderId": order_id, "cardId": card_id, "paid": 1,
      "status": "closed", "total": 45.00, "currency": "EUR",
      "completed": "2025-10-21T10:35:12.000Z",
      "orderItems": [
        {"id": "1", "productId": "11111", "name": "Espresso", "quantity": 2, "unitPrice": 2.50,
         "totalPrice": 5.00, "vatRate": 20}
      ]
    })
}

/// A merchant with `cards` gold cards `g0`, `g1`, … and the tier discount (10 % for gold:
/// 5.00 off the seed bill of 50.00) as a campaign with `limits`; returns the campaign's id.
async fn shop(app: &TestApp, id: &str, cards: usize, limits: Value) -> (TestMerchant, i64) {
    let shop = app.merchant(id).await;
    for i in 0..cards {
        let mut card = Card::new(format!("g{i}"));
        card.tier = Some("gold".into());
        app.card(&shop, card).await;
    }
    let version = app
        .state
        .store()
        .add_policy(&shop.id, &example("tier-discount"), None, audit)
        .await
        .unwrap()
        .version;
    let reply = app
        .post_json(
            &format!("/admin/v1/merchants/{}/campaigns", shop.id),
            &shop.api_key,
            &json!({"name": "tier", "policyVersion": version,
                    "config": {"tiers": {"gold": 10}}, "limits": limits}),
        )
        .await;
    assert_eq!(reply.status, 201, "{}", reply.text);
    assert_eq!(reply.json["limits"], limits, "{}", reply.text);
    let id = reply.json["id"].as_i64().unwrap();
    (shop, id)
}

async fn discount(app: &TestApp, shop: &TestMerchant, order: &str, card: &str) -> String {
    let reply = app
        .post_json(DISCOUNTS, &shop.pos_token, &bill(order, card))
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    reply.json["totalDiscount"].to_string()
}

async fn complete(app: &TestApp, shop: &TestMerchant, order: &str, card: &str) {
    let reply = app
        .post_json(TRANSACTIONS, &shop.pos_token, &completed(order, card))
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
}

async fn budget(app: &TestApp, shop: &TestMerchant, id: i64) -> Value {
    let path = format!("/admin/v1/merchants/{}/campaigns/{id}/budget", shop.id);
    let reply = app.call("GET", &path, Some(&shop.api_key), "").await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    reply.json["budget"].clone()
}

/// Decimal text to hundredths, exactly (no floats near money).
fn cents(text: &str) -> i64 {
    let (whole, fraction) = text.split_once('.').unwrap_or((text, "00"));
    whole.parse::<i64>().unwrap() * 100 + format!("{fraction:0<2}")[..2].parse::<i64>().unwrap()
}

async fn a_budget_is_never_exceeded_by_32_tills_on_two_replicas(app: &TestApp) {
    let limits = json!({"budget": {"amount": "22.50", "period": "month"}});
    let (shop, id) = shop(app, "budgeted", 32, limits).await;
    let other = app.restart().await;
    let replicas = [app, &other];
    // 32 tills at once, alternating replicas: each asks, then completes its bill (twice: a
    // POS retry), as a till does.
    let tills = (0..32).map(|i| {
        let app = replicas[i % 2];
        let shop = &shop;
        async move {
            let (order, card) = (format!("o{i}"), format!("g{i}"));
            let total = discount(app, shop, &order, &card).await;
            complete(app, shop, &order, &card).await;
            complete(replicas[(i + 1) % 2], shop, &order, &card).await;
            total
        }
    });
    let totals = futures::future::join_all(tills).await;
    let given: i64 = totals.iter().map(|t| cents(t)).sum();
    assert_eq!(
        given, 2250,
        "the budget was exceeded or left unused: {totals:?}"
    );
    let mut paid: Vec<&String> = totals.iter().filter(|t| *t != "0.00").collect();
    paid.sort();
    assert_eq!(paid, ["2.50", "5.00", "5.00", "5.00", "5.00"], "{totals:?}");
    let used = budget(app, &shop, id).await;
    assert_eq!(
        used["amount"],
        json!({"limit": "22.50", "used": "22.50", "reserved": "0.00", "left": "0.00"}),
        "{used}"
    );
    assert_eq!(used["period"], "month");
    // Nothing is left: a new bill is not even run, and the log says why.
    assert_eq!(discount(app, &shop, "late", "g0").await, "0.00");
    // Both replicas' logs written (the other's may land after "late"), then all of them read.
    app.flush_evaluations().await;
    other.flush_evaluations().await;
    let all = rabat::store::EvaluationQuery {
        limit: 500,
        ..Default::default()
    };
    let logged = app
        .state
        .store()
        .list_evaluations(&shop.id, &all)
        .await
        .unwrap()
        .items
        .into_iter()
        .find(|e| e.record.order_id == "late")
        .unwrap();
    let logs = logged.record.logs.to_string();
    assert!(
        logs.contains("not run: its budget for this period is used up"),
        "{logs}"
    );
    other.shutdown().await;
}

async fn once_per_card_per_day_with_tills_racing_on_one_card(app: &TestApp) {
    let limits = json!({"timeZone": "Europe/Bratislava",
                        "perCard": {"redemptions": 1, "period": "day"}});
    let (shop, _) = shop(app, "happy", 2, limits).await;
    let other = app.restart().await;
    for clock in [app.state.till().clock(), other.state.till().clock()] {
        clock.fix(FRIDAY_NOON);
    }
    let replicas = [app, &other];
    // 16 tills, one card, 16 open bills: one gets the discount.
    let asks = (0..16).map(|i| {
        let shop = &shop;
        async move { discount(replicas[i % 2], shop, &format!("fri{i}"), "g0").await }
    });
    let totals = futures::future::join_all(asks).await;
    let winners: Vec<usize> = (0..16).filter(|i| totals[*i] == "5.00").collect();
    assert_eq!(winners.len(), 1, "{totals:?}");
    assert!(
        totals.iter().all(|t| t == "5.00" || t == "0.00"),
        "{totals:?}"
    );
    let winner = format!("fri{}", winners[0]);
    // The winning order asked again (the cashier added nothing) keeps its discount; another
    // card is not limited by this one.
    assert_eq!(discount(&other, &shop, &winner, "g0").await, "5.00");
    assert_eq!(discount(app, &shop, "fri-other-card", "g1").await, "5.00");
    complete(app, &shop, &winner, "g0").await;
    // Used today: a new bill, and every order asking again, get nothing
    assert_eq!(discount(app, &shop, "fri-late", "g0").await, "0.00");
    // (the winner's own order too: its bill is recorded, and the limit counts it).
    assert_eq!(discount(&other, &shop, "fri0", "g0").await, "0.00");
    // Saturday in Bratislava: once more.
    for clock in [app.state.till().clock(), other.state.till().clock()] {
        clock.fix(FRIDAY_NOON + DAY);
    }
    assert_eq!(discount(&other, &shop, "sat", "g0").await, "5.00");
    assert_eq!(discount(app, &shop, "sat-2", "g0").await, "0.00");
    app.state.till().clock().unfix();
    other.state.till().clock().unfix();
    other.shutdown().await;
}

async fn a_freed_or_replaced_reservation_gives_its_amount_back(app: &TestApp) {
    let limits = json!({"budget": {"amount": "5.00", "redemptions": 1, "period": "lifetime"}});
    let (shop, id) = shop(app, "freed", 3, limits).await;
    assert_eq!(discount(app, &shop, "a", "g0").await, "5.00");
    let reserved = budget(app, &shop, id).await;
    assert_eq!(reserved["amount"]["reserved"], "5.00", "{reserved}");
    assert_eq!(
        reserved["redemptions"],
        json!({"limit": 1, "used": 0, "reserved": 1, "left": 0})
    );
    assert_eq!(discount(app, &shop, "b", "g1").await, "0.00");
    // The merchant frees g0's holds (an abandoned bill): the budget is free again.
    let path = format!("/admin/v1/merchants/{}/cards/g0/holds", shop.id);
    let reply = app.call("DELETE", &path, Some(&shop.api_key), "").await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(budget(app, &shop, id).await["amount"]["reserved"], "0.00");
    assert_eq!(discount(app, &shop, "b", "g1").await, "5.00");
    // Order b's card changes to one out of the tier (plain): the answer has no discount
    // and replaces b's reservation, so c may have it.
    let app_card = Card::new("plain");
    app.card(&shop, app_card).await;
    assert_eq!(discount(app, &shop, "b", "plain").await, "0.00");
    assert_eq!(budget(app, &shop, id).await["amount"]["reserved"], "0.00");
    assert_eq!(discount(app, &shop, "c", "g2").await, "5.00");
    complete(app, &shop, "c", "g2").await;
    complete(app, &shop, "c", "g2").await;
    // A bill whose order never held the discount uses nothing.
    complete(app, &shop, "b", "plain").await;
    let used = budget(app, &shop, id).await;
    assert_eq!(
        used["amount"],
        json!({"limit": "5.00", "used": "5.00", "reserved": "0.00", "left": "0.00"}),
        "{used}"
    );
    assert_eq!(used["redemptions"]["used"], 1, "{used}");
    // /metrics: the merchant's budgets summed (amounts in 1/10 000 of the currency).
    let metrics = app
        .call("GET", "/metrics", Some(crate::common::app::OPERATOR), "")
        .await;
    assert_eq!(metrics.status, 200, "{}", metrics.text);
    for line in [
        r#"rabat_campaign_budgets{merchant="freed",measure="amount",of="limit"} 50000"#,
        r#"rabat_campaign_budgets{merchant="freed",measure="amount",of="used"} 50000"#,
        r#"rabat_campaign_budgets{merchant="freed",measure="redemptions",of="used"} 1"#,
        r#"rabat_campaign_budgets{merchant="freed",measure="redemptions",of="reserved"} 0"#,
    ] {
        assert!(
            metrics.text.contains(line),
            "{line} not in:\n{}",
            metrics.text
        );
    }
    // A return gives back what the bill used, pro rata to the returned value: one espresso
    // (2.50 of the 45.00 bill) gives back floor(5.0000 × 2.50 / 45.00) = 0.2777 of the
    // amount, and the redemption stays counted until the bill is returned whole.
    let returns = format!("/admin/v1/merchants/{}/transactions/c/returns", shop.id);
    let half = app
        .post_json(
            &returns,
            &shop.api_key,
            &json!({"returnId": "r1", "lines": [{"lineId": "1", "quantity": 1}]}),
        )
        .await;
    assert_eq!(half.status, 201, "{}", half.text);
    assert_eq!(half.json["usage"][0]["count"], 0, "{}", half.text);
    let used = budget(app, &shop, id).await;
    assert_eq!(used["amount"]["used"], "4.7223", "{used}");
    assert_eq!(used["redemptions"]["used"], 1, "{used}");
    let rest = app
        .post_json(&returns, &shop.api_key, &json!({"returnId": "r2"}))
        .await;
    assert_eq!(rest.status, 201, "{}", rest.text);
    let used = budget(app, &shop, id).await;
    assert_eq!(used["amount"]["used"], "0.00", "{used}");
    assert_eq!(used["redemptions"]["used"], 0, "{used}");
    assert_eq!(discount(app, &shop, "d", "g1").await, "5.00");
}

async fn limits_are_checked_naming_the_field(app: &TestApp) {
    let (shop, id) = shop(
        app,
        "checked",
        1,
        json!({"perBranch": {"redemptions": 3, "period": "week"}}),
    )
    .await;
    let path = format!("/admin/v1/merchants/{}/campaigns/{id}", shop.id);
    for (limits, message) in [
        (
            json!({"budget": {"period": "month"}}),
            "limits.budget needs an amount, a number of redemptions, or both",
        ),
        (
            json!({"budget": {"amount": 500, "period": "month"}}),
            "limits.budget.amount: invalid type: number, expected a string",
        ),
        (
            json!({"budget": {"amount": "0.00", "period": "month"}}),
            "limits.budget.amount: amount must be a decimal string such as \"500.00\"",
        ),
        (
            json!({"perCard": {"redemptions": 1, "period": "year"}}),
            "limits.perCard.period: unknown variant `year`",
        ),
        (
            json!({"timeZone": "Mars/Olympus"}),
            "limits.timeZone 'Mars/Olympus' is not an IANA time zone name",
        ),
        (
            json!({"perCard": {"redemptions": 1, "period": "day"}, "extra": 1}),
            "limits.extra: unknown field `extra`",
        ),
        (json!([1]), "limits must be a JSON object"),
    ] {
        let reply = app
            .call(
                "PATCH",
                &path,
                Some(&shop.api_key),
                json!({"limits": limits}).to_string(),
            )
            .await;
        assert_eq!(reply.status, 400, "{limits}: {}", reply.text);
        let said = reply.json["message"].as_str().unwrap_or_default();
        assert!(said.starts_with(message), "{limits}: {said}");
    }
    // null removes the limits.
    let reply = app
        .call(
            "PATCH",
            &path,
            Some(&shop.api_key),
            json!({"limits": null}).to_string(),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.json["limits"], Value::Null);
    assert_eq!(budget(app, &shop, id).await, Value::Null);
}

async fn a_campaign_set_is_dry_run_and_replayed_within_its_budget(app: &TestApp) {
    let limits = json!({"budget": {"amount": "12.00", "period": "month"}});
    let (shop, id) = shop(app, "what-if", 4, limits).await;
    // Four bills at the till: 5.00, 5.00, the 2.00 left, nothing.
    let mut given = Vec::new();
    for i in 0..4 {
        given.push(discount(app, &shop, &format!("o{i}"), &format!("g{i}")).await);
        complete(app, &shop, &format!("o{i}"), &format!("g{i}")).await;
    }
    assert_eq!(given, ["5.00", "5.00", "2.00", "0.00"]);
    let version = 1;
    let path = |what: &str| format!("/admin/v1/merchants/{}/campaigns/{what}", shop.id);
    // Dry-run as things stand: the budget is used up, the campaign does not run.
    let reply = app
        .post_json(
            &path("dry-run"),
            &shop.api_key,
            &json!({"order": bill("next", "g0")}),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.json["response"]["totalDiscount"].to_string(), "0.00");
    let tier = &reply.json["campaigns"][0];
    assert_eq!(tier["id"], id);
    assert_eq!(tier["stoppedByLimits"], 1, "{tier}");
    assert!(
        tier["note"]
            .as_str()
            .unwrap()
            .contains("not run: its budget limit is reached"),
        "{tier}"
    );
    // What if it ended, and a 20 % one without a budget ran instead?
    let twenty =
        json!({"name": "twenty", "policyVersion": version, "config": {"tiers": {"gold": 20}}});
    let reply = app
        .post_json(
            &path("dry-run"),
            &shop.api_key,
            &json!({"order": bill("next", "g0"), "without": [id], "with": [twenty]}),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.json["response"]["totalDiscount"].to_string(), "10.00");
    let campaigns = reply.json["campaigns"].as_array().unwrap();
    assert_eq!(campaigns.len(), 1, "{}", reply.text);
    assert_eq!(campaigns[0]["id"], Value::Null);
    assert_eq!(campaigns[0]["gave"], json!({"EUR": "10.00"}));
    // Replayed over the recorded bills, the budget counted from zero: the same 12.00,
    // the last 3.00 of the third bill cut and the fourth stopped.
    let reply = app
        .post_json(&path("replay"), &shop.api_key, &json!({}))
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    let report = &reply.json;
    assert_eq!(report["bills"], 4, "{report}");
    assert_eq!(report["before"], json!({"EUR": "12.00"}), "{report}");
    assert_eq!(report["after"], json!({"EUR": "12.00"}), "{report}");
    let tier = &report["campaigns"][0];
    assert_eq!(tier["gave"], json!({"EUR": "12.00"}), "{tier}");
    assert_eq!(tier["bills"], 3);
    assert_eq!(tier["cutByBudget"], json!({"EUR": "3.00"}));
    assert_eq!(tier["stoppedByLimits"], 1);
    // With a budget of 20.00 instead: what it would have cost last month.
    let bigger = json!({"name": "bigger", "policyVersion": version, "config": {"tiers": {"gold": 10}},
                        "limits": {"budget": {"amount": "20.00", "period": "month"}}});
    let reply = app
        .post_json(
            &path("replay"),
            &shop.api_key,
            &json!({"without": [id], "with": [bigger]}),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(
        reply.json["after"],
        json!({"EUR": "20.00"}),
        "{}",
        reply.text
    );
    assert_eq!(reply.json["campaigns"][0]["bills"], 4);
    // Unknown ids are named; an id in a float's form (`999.0`, as JSON Schema's integers
    // may come) is read as the id (Schemathesis found it refused as not a whole number).
    for unknown in [json!(999), json!(999.0)] {
        let reply = app
            .post_json(
                &path("replay"),
                &shop.api_key,
                &json!({"without": [unknown]}),
            )
            .await;
        assert_eq!(reply.status, 404, "{}", reply.text);
    }
    let reply = app
        .post_json(&path("replay"), &shop.api_key, &json!({"limit": 0}))
        .await;
    assert_eq!(reply.status, 400, "{}", reply.text);
    assert!(
        reply.text.contains("limit must be from 1 to 1000, not 0"),
        "{}",
        reply.text
    );
}
