//! The console's Campaigns page in a real browser (headless Chromium over WebDriver, the
//! harness of `console.rs`) against a real `rabat serve` process: a merchant lists its
//! campaigns (state, schedule, mode), creates a bestOf campaign with a schedule, pauses
//! and resumes it, switches it to another version and ends it; each step is checked
//! through the API too. Then a budgeted campaign made from the form shows its limits and a
//! budget bar that follows a reservation made at the till, on the page and the overview.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::{Value, json};

use crate::common::app::audit;
use crate::common::db::{Target, TestDb};
use crate::common::process::Server;
use crate::common::wasm::example;
use crate::console::{
    api, click_button, confirm, fill, go, shot, sign_in, start_browser, wait_find, wait_text,
};
use rabat::store::credentials;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_campaigns_page_in_a_real_browser() {
    let db = TestDb::sqlite().await;
    let Target::Sqlite { path, .. } = &db.target else {
        unreachable!()
    };
    let url = format!("sqlite://{}", path.display());
    let store = &db.store;
    let key = credentials::new_api_key();
    let pos = credentials::new_pos_token();
    store
        .create_merchant("shop", "Corner Café", &key.hash, &pos.hash, audit)
        .await
        .unwrap();
    let tier = store
        .add_policy("shop", &example("tier-discount"), Some("tiers"), audit)
        .await
        .unwrap()
        .version;
    let coffee = store
        .add_policy("shop", &example("category-discount"), Some("coffee"), audit)
        .await
        .unwrap()
        .version;
    store
        .put_policy_config("shop", &json!({"tiers": {"gold": 10}}), audit)
        .await
        .unwrap();
    store.activate_policy("shop", tier, audit).await.unwrap();
    store.close().await;

    let server = Server::start(&url, None).await;
    let base = format!("http://127.0.0.1:{}", server.port);
    let key = key.plaintext;
    let pos = pos.plaintext;
    let (_driver, c) = start_browser().await;
    sign_in(&c, &base, "shop", &key).await;

    // The list: the default campaign the activation made.
    go(&c, &base, "campaigns").await;
    wait_text(&c, "h1", "Campaigns").await;
    wait_text(&c, ".campaign-name", "default").await;
    wait_text(&c, "table", "always").await;

    // Create a scheduled bestOf campaign.
    fill(&c, "input[name=campaignName]", "December coffee").await;
    wait_find(&c, "select[name=policyVersion]")
        .await
        .select_by_value(&coffee.to_string())
        .await
        .unwrap();
    wait_find(&c, "select[name=mode]")
        .await
        .select_by_value("bestOf")
        .await
        .unwrap();
    fill(&c, "input[name=group]", "member").await;
    fill(&c, "input[name=priority]", "5").await;
    let starts = wait_find(&c, "input[name=startsAt]").await;
    let arg = serde_json::to_value(&starts).unwrap();
    c.execute("arguments[0].value = '2026-12-01T00:00';", vec![arg])
        .await
        .unwrap();
    wait_find(&c, "textarea[name=campaignConfig]")
        .await
        .send_keys(r#"{"category": "Hot Beverages", "percentage": 20}"#)
        .await
        .unwrap();
    click_button(&c, "Create campaign").await;
    wait_text(&c, ".campaign-name", "December coffee").await;
    let row = wait_text(&c, "tr", "December coffee").await;
    assert!(row.contains("bestOf “member”"), "{row}");
    assert!(row.contains("2026-12-01 00:00 UTC → no end"), "{row}");
    let (status, listed) = api(
        &server,
        "GET",
        "/admin/v1/merchants/shop/campaigns",
        &key,
        "",
    )
    .await;
    assert_eq!(status, 200);
    let made = listed["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "December coffee")
        .cloned()
        .unwrap();
    assert_eq!(made["startsAt"], json!(1_796_083_200_000_i64));
    assert_eq!(made["config"]["category"], "Hot Beverages");
    let id = made["id"].as_i64().unwrap();
    shot(&c, true, "campaigns", None).await;

    let state = |value: Value| value["state"].as_str().unwrap_or_default().to_owned();
    let one = format!("/admin/v1/merchants/shop/campaigns/{id}");
    // Pause, resume (the new campaign's row is the second: priority 5 > 0).
    let pause = "//tr[contains(., 'December coffee')]//button[normalize-space()='Pause']";
    c.find(fantoccini::Locator::XPath(pause))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_text(&c, "tr", "paused").await;
    assert_eq!(state(api(&server, "GET", &one, &key, "").await.1), "paused");
    let resume = "//tr[contains(., 'December coffee')]//button[normalize-space()='Resume']";
    c.find(fantoccini::Locator::XPath(resume))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let resumed = |v: &Value| state(v.clone()) == "active";
    for _ in 0..100 {
        if resumed(&api(&server, "GET", &one, &key, "").await.1) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(resumed(&api(&server, "GET", &one, &key, "").await.1));

    // Switch it to the other version.
    let switch = "//tr[contains(., 'December coffee')]//button[normalize-space()='Switch version']";
    wait_text(&c, "tr", "December coffee").await;
    c.find(fantoccini::Locator::XPath(switch))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    confirm(&c, &format!("after this, version {tier}")).await;
    wait_text(&c, "tr", &format!("v{tier}")).await;
    let mut switched = Value::Null;
    for _ in 0..100 {
        switched = api(&server, "GET", &one, &key, "").await.1;
        if switched["policyVersion"] == tier {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(switched["policyVersion"], tier);

    // End it (confirmed), and it shows as ended with no action left.
    let end = "//tr[contains(., 'December coffee')]//button[normalize-space()='End']";
    c.find(fantoccini::Locator::XPath(end))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    confirm(&c, "never runs again").await;
    wait_text(&c, "tr", "ended").await;
    assert_eq!(state(api(&server, "GET", &one, &key, "").await.1), "ended");
    // The audit trail has every step.
    let (_, trail) = api(
        &server,
        "GET",
        "/admin/v1/merchants/shop/audit?limit=50",
        &key,
        "",
    )
    .await;
    let actions: Vec<&str> = trail["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["action"].as_str())
        .filter(|a| a.starts_with("campaign."))
        .collect();
    assert_eq!(
        actions,
        [
            "campaign.end",
            "campaign.edit",
            "campaign.resume",
            "campaign.pause",
            "campaign.create"
        ]
    );

    // A budgeted campaign from the form: its limits in the list, its bar on the page and
    // on the overview, following a reservation made at the till.
    go(&c, &base, "campaigns").await;
    wait_text(&c, "h1", "Campaigns").await;
    fill(&c, "input[name=campaignName]", "Budgeted tiers").await;
    wait_find(&c, "select[name=policyVersion]")
        .await
        .select_by_value(&tier.to_string())
        .await
        .unwrap();
    wait_find(&c, "textarea[name=campaignConfig]")
        .await
        .send_keys(r#"{"tiers": {"gold": 10}}"#)
        .await
        .unwrap();
    wait_find(&c, "textarea[name=campaignLimits]")
        .await
        .send_keys(r#"{"budget": {"amount": "12.00", "period": "month"}}"#)
        .await
        .unwrap();
    click_button(&c, "Create campaign").await;
    let row = wait_text(&c, "tr", "Budgeted tiers").await;
    assert!(row.contains("budget 12.00 a month"), "{row}");
    wait_text(
        &c,
        ".budget-text",
        "0.00 used, 0.00 reserved, 12.00 left of 12.00 a month",
    )
    .await;
    let (status, _) = api(
        &server,
        "PUT",
        "/admin/v1/merchants/shop/cards/gold",
        &key,
        r#"{"tier": "gold"}"#,
    )
    .await;
    assert_eq!(status, 201, "a new card");
    let bill = json!({"orderId": "till-1", "cardId": "gold", "total": 50.00, "currency": "EUR",
        "orderItems": [{"id": "1", "productId": "p", "name": "Dinner", "quantity": 1,
                        "unitPrice": 50.00, "totalPrice": 50.00}]});
    let (status, answer) = api(
        &server,
        "POST",
        "/pos/papaya/v1/discounts",
        &pos,
        &bill.to_string(),
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    // Two campaigns apply (default and budgeted tiers): 5.00 each, the budget holds 5.00.
    assert_eq!(answer["totalDiscount"].to_string(), "9.50", "{answer}");
    go(&c, &base, "overview").await;
    wait_text(&c, "#budgets-head", "Campaign budgets").await;
    wait_text(&c, ".budget-row", "Budgeted tiers").await;
    wait_text(
        &c,
        ".budget-text",
        "0.00 used, 4.50 reserved, 7.50 left of 12.00 a month",
    )
    .await;
    shot(&c, true, "overview-budgets", None).await;
    c.close().await.unwrap();
}
