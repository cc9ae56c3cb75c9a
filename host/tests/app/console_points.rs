//! Points over time in a real browser (headless Chromium over WebDriver, the harness of
//! `console.rs`) against a real `rabat serve` process: the merchant sets the points rules
//! on the console's Points rules page (a bad pending period is refused with the API's
//! words naming the field; then 12 months and 14 days pending are saved), a Papaya bill
//! earns points at the till, and the card's page shows them pending, with the next expiry
//! 12 months on and the lot they are in. Each step is checked through the API too.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::json;

use crate::console::{
    api, browser_problems, click_button, fill, go, shot, sign_in, start_browser, wait_find,
    wait_text,
};
use crate::console_returns::points_shop;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_points_rules_and_lots_in_a_real_browser() {
    let (_db, server, base, key, pos) = points_shop().await;
    let m = "/admin/v1/merchants/shop";
    let card = "4006381333931";
    let (status, _) = api(&server, "PUT", &format!("{m}/cards/{card}"), &key, "{}").await;
    assert_eq!(status, 201, "a new card");

    let (_driver, c) = start_browser().await;
    sign_in(&c, &base, "shop", &key).await;

    // The rules page says the defaults in words.
    go(&c, &base, "points-rules").await;
    wait_text(&c, "h1", "Points rules").await;
    wait_text(&c, ".rules-now", "Points never expire").await;
    wait_text(&c, ".rules-now", "they can be spent at once").await;

    // 400 days pending is beyond a year: the API's words, naming the field; nothing saved.
    wait_find(&c, "select[name=expiryKind]")
        .await
        .select_by_value("months")
        .await
        .unwrap();
    fill(&c, "input[name=expiryCount]", "12").await;
    fill(&c, "input[name=vestingDays]", "400").await;
    click_button(&c, "Save rules").await;
    let error = wait_text(&c, ".error", "Not saved").await;
    assert!(error.contains("vestingDays"), "{error}");
    assert!(error.contains("HTTP 400"), "{error}");
    let rules_path = format!("{m}/points-rules");
    assert_eq!(
        api(&server, "GET", &rules_path, &key, "").await.1,
        json!({"expiry": "never", "vestingDays": 0})
    );

    // 12 months, 14 days pending, in Bratislava's time: saved, and said in words.
    fill(&c, "input[name=vestingDays]", "14").await;
    fill(&c, "input[name=timeZone]", "Europe/Bratislava").await;
    click_button(&c, "Save rules").await;
    wait_text(&c, ".success", "Saved.").await;
    let now = wait_text(&c, ".rules-now", "12 months after they are earned").await;
    assert!(now.contains("pending (not spendable) for 14 days"), "{now}");
    assert!(now.contains("Europe/Bratislava"), "{now}");
    assert_eq!(
        api(&server, "GET", &rules_path, &key, "").await.1,
        json!({"expiry": {"months": 12}, "vestingDays": 14, "timeZone": "Europe/Bratislava"})
    );

    // The till records a bill of 42.00: 42 points, pending for 14 days.
    let bill = json!({
        "event": "order.completed", "orderId": "b1", "cardId": card, "paid": 1,
        "status": "closed", "total": 42.00, "currency": "EUR",
        "completed": "2025-10-21T10:35:12.000Z",
        "orderItems": [
            {"id": "1", "productId": "11111", "name": "Espresso", "quantity": 2,
             "unitPrice": 21.00, "totalPrice": 42.00, "vatRate": 20}
        ]
    });
    let (status, answer) = api(
        &server,
        "POST",
        "/pos/papaya/v1/transactions",
        &pos,
        &bill.to_string(),
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    let points_path = format!("{m}/cards/{card}/points");
    let mut summary = json!(null);
    for _ in 0..100 {
        summary = api(&server, "GET", &points_path, &key, "").await.1;
        if summary["balance"] == 42 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(summary["balance"], 42, "{summary}");
    assert_eq!(summary["pendingPoints"], 42, "{summary}");
    assert_eq!(summary["availablePoints"], 0, "{summary}");
    assert_eq!(summary["nextExpiry"]["points"], 42, "{summary}");
    let lot = &summary["lots"][0];
    assert_eq!(lot["pending"], true, "{summary}");
    let (vests, expires) = (
        lot["vestsAt"].as_i64().unwrap(),
        lot["expiresAt"].as_i64().unwrap(),
    );
    let day = 86_400_000;
    assert_eq!(vests - lot["earnedAt"].as_i64().unwrap(), 14 * day);
    assert!(
        (365 * day..=366 * day).contains(&(expires - lot["earnedAt"].as_i64().unwrap())),
        "12 calendar months on: {summary}"
    );

    // The card's page: pending 42, the next expiry, the lot.
    go(&c, &base, &format!("cards/{card}")).await;
    wait_text(&c, "#points-head", "Points over time").await;
    wait_text(&c, ".pending-points", "42").await;
    let next = wait_text(&c, ".next-expiry", "42 on").await;
    assert!(next.ends_with(" UTC"), "{next}");
    let row = wait_text(&c, ".points-over-time tbody tr", "Earned").await;
    assert!(row.contains("(pending)"), "{row}");
    assert!(row.contains("42"), "{row}");
    shot(&c, true, "card-points", Some(".points-over-time")).await;

    // The refused save is the only failed load; nothing else went wrong.
    let problems: Vec<String> = browser_problems(&c)
        .await
        .into_iter()
        .filter(|p| !p.contains("the server responded with a status of"))
        .collect();
    assert!(problems.is_empty(), "{problems:#?}");
    c.close().await.unwrap();
}
