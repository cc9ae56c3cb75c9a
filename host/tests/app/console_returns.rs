//! Returns on a card's page in a real browser (headless Chromium over WebDriver, the
//! harness of `console.rs`) against a real `rabat serve` process: a shop whose policy earns
//! a point per currency unit records a Papaya bill at the till; on the card's page the
//! bill's ledger row has a Return button: a line returned beyond what was bought shows the
//! API's error naming the line, one espresso of two takes its points back (the balance
//! follows), then the rest of the bill whole; the bill's returns are listed under its row.
//! Each step is checked through the API too.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use serde_json::{Value, json};

use crate::common::app::audit;
use crate::common::db::{Target, TestDb};
use crate::common::process::Server;
use crate::common::wasm::example;
use crate::console::{
    api, browser_problems, click_button, fill, go, shot, sign_in, start_browser, wait_click,
    wait_find, wait_text,
};
use rabat::store::credentials;

/// Waits until `check` holds for the API's answer to GET `path`; returns that answer.
async fn eventually(
    server: &Server,
    key: &str,
    path: &str,
    check: impl Fn(&Value) -> bool,
) -> Value {
    let mut last = Value::Null;
    for _ in 0..100 {
        last = api(server, "GET", path, key, "").await.1;
        if check(&last) {
            return last;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("GET {path} never satisfied the check; last: {last}");
}

/// A SQLite shop `shop` whose policy earns a point per whole currency unit of a completed
/// bill (`birthday-points`, no birthday: no doubling), served by a real `rabat serve`:
/// the database (kept for the test's length), the server, its base URL, the API key and
/// the POS token.
pub(crate) async fn points_shop() -> (TestDb, Server, String, String, String) {
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
    let points = store
        .add_policy("shop", &example("birthday-points"), Some("points"), audit)
        .await
        .unwrap()
        .version;
    store
        .put_policy_config("shop", &json!({"pointsPerUnit": 1}), audit)
        .await
        .unwrap();
    store.activate_policy("shop", points, audit).await.unwrap();
    store.close().await;
    let server = Server::start(&url, None).await;
    let base = format!("http://127.0.0.1:{}", server.port);
    (db, server, base, key.plaintext, pos.plaintext)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_returns_on_the_card_page_in_a_real_browser() {
    let (_db, server, base, key, pos) = points_shop().await;
    let m = "/admin/v1/merchants/shop";
    let card = "4006381333931";
    let (status, _) = api(&server, "PUT", &format!("{m}/cards/{card}"), &key, "{}").await;
    assert_eq!(status, 201, "a new card");

    // The till records a bill of 100.00: two espressos (50.00) and a cake (50.00).
    let bill = json!({
        "event": "order.completed", "orderId": "b1", "cardId": card, "paid": 1,
        "status": "closed", "total": 100.00, "currency": "EUR",
        "completed": "2025-10-21T10:35:12.000Z",
        "orderItems": [
            {"id": "1", "productId": "11111", "name": "Espresso", "quantity": 2,
             "unitPrice": 25.00, "totalPrice": 50.00, "vatRate": 20},
            {"id": "2", "productId": "22222", "name": "Cake", "quantity": 1,
             "unitPrice": 50.00, "totalPrice": 50.00, "vatRate": 20}
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
    let card_path = format!("{m}/cards/{card}");
    let earned = eventually(&server, &key, &card_path, |c| c["points"] == 100).await;
    assert_eq!(earned["points"], 100, "{earned}");
    let returns = format!("{m}/transactions/b1/returns");

    let (_driver, c) = start_browser().await;
    sign_in(&c, &base, "shop", &key).await;

    // The card's page shows the bill with a Return button; no returns yet.
    go(&c, &base, &format!("cards/{card}")).await;
    wait_text(&c, "#ledger-head", "Ledger").await;
    let row = wait_text(&c, "tbody tr", "b1").await;
    assert!(row.contains("+100"), "{row}");
    wait_text(&c, "strong.points", "100").await;
    let open = "button.return-open[data-order=b1]";
    wait_click(&c, open).await;
    let form = "tr.return-row[data-order=b1]";
    wait_text(
        &c,
        &format!("{form} .return-form"),
        "Espresso (line 1): 2 bought",
    )
    .await;
    wait_text(
        &c,
        &format!("{form} .return-form"),
        "Cake (line 2): 1 bought",
    )
    .await;
    let id = wait_find(&c, &format!("{form} input[name=returnId]")).await;
    assert_eq!(id.prop("value").await.unwrap().as_deref(), Some("R-b1-1"));

    // Three espressos of two: the API's words, naming the line; nothing recorded.
    wait_click(&c, &format!("{form} input.return-lines")).await;
    fill(&c, &format!("{form} input[name=qty-1]"), "3").await;
    click_button(&c, "Record return").await;
    let error = wait_text(&c, ".return-out .error", "Bill b1 not returned").await;
    assert!(
        error.contains("lines[0]: 3 returned of line '1', which has 2"),
        "{error}"
    );
    assert!(error.contains("HTTP 400"), "{error}");
    assert_eq!(
        api(&server, "GET", &returns, &key, "").await.1,
        json!({"items": []})
    );
    assert_eq!(
        api(&server, "GET", &card_path, &key, "").await.1["points"],
        100
    );

    // One espresso of two: 25.00 of 100.00 takes 25 of the 100 points back.
    fill(&c, &format!("{form} input[name=qty-1]"), "1").await;
    click_button(&c, "Record return").await;
    let said = wait_text(&c, ".return-out .success", "The card has 75 points now").await;
    assert!(said.contains("Return R-b1-1 of bill b1"), "{said}");
    assert!(said.contains("25.00 EUR returned"), "{said}");
    assert!(
        said.contains("25 points taken back, 0 given back"),
        "{said}"
    );
    assert!(!said.contains("returned whole"), "{said}");
    wait_text(&c, "strong.points", "75").await;
    // The ledger is read again: the bill's return is listed under its row.
    let listed = wait_text(&c, &format!("{form} .return-item"), "R-b1-1").await;
    assert!(listed.contains("25.00 EUR"), "{listed}");
    assert!(listed.contains("line 1 × 1"), "{listed}");
    assert!(listed.contains("−25 points"), "{listed}");
    let recorded = eventually(&server, &key, &returns, |r| {
        r["items"].as_array().is_some_and(|items| items.len() == 1)
    })
    .await;
    let first = &recorded["items"][0];
    assert_eq!(first["returnId"], "R-b1-1", "{recorded}");
    assert_eq!(first["value"], "25.00", "{recorded}");
    assert_eq!(first["whole"], false, "{recorded}");
    assert_eq!(first["lines"], json!({"1": "1"}), "{recorded}");
    assert_eq!(first["pointsTaken"], 25, "{recorded}");
    assert_eq!(
        api(&server, "GET", &card_path, &key, "").await.1["points"],
        75
    );

    // The rest whole: the form is prefilled with the next return id and says what is back.
    wait_click(&c, open).await;
    wait_text(
        &c,
        &format!("{form} .return-form"),
        "Espresso (line 1): 2 bought, 1 returned",
    )
    .await;
    let id = wait_find(&c, &format!("{form} input[name=returnId]")).await;
    assert_eq!(id.prop("value").await.unwrap().as_deref(), Some("R-b1-2"));
    wait_click(&c, &format!("{form} input.return-whole")).await;
    click_button(&c, "Record return").await;
    let said = wait_text(&c, ".return-out .success", "The card has 0 points now").await;
    assert!(said.contains("Return R-b1-2 of bill b1"), "{said}");
    assert!(
        said.contains("75.00 EUR returned, the bill is now returned whole"),
        "{said}"
    );
    assert!(said.contains("75 points taken back"), "{said}");
    let balance = wait_find(&c, "strong.points").await.text().await.unwrap();
    assert_eq!(balance, "0");
    wait_text(&c, &format!("{form} .return-item"), "R-b1-2").await;
    wait_text(&c, open, "Returned").await;
    let recorded = eventually(&server, &key, &returns, |r| {
        r["items"].as_array().is_some_and(|items| items.len() == 2)
    })
    .await;
    let rest = &recorded["items"][1];
    assert_eq!(rest["returnId"], "R-b1-2", "{recorded}");
    assert_eq!(rest["value"], "75.00", "{recorded}");
    assert_eq!(rest["whole"], true, "{recorded}");
    assert_eq!(rest["pointsTaken"], 75, "{recorded}");
    assert_eq!(rest["shortfall"], 0, "{recorded}");
    assert_eq!(
        api(&server, "GET", &card_path, &key, "").await.1["points"],
        0
    );
    shot(&c, true, "card-returns", Some(".return-out")).await;

    // A fresh page lists both returns under the bill, and the button says it is returned.
    go(&c, &base, "overview").await;
    wait_text(&c, "h1", "Overview").await;
    go(&c, &base, &format!("cards/{card}")).await;
    wait_text(&c, &format!("{form} .return-item"), "R-b1-1").await;
    wait_text(&c, &format!("{form} .return-item"), "R-b1-2").await;
    wait_text(&c, open, "Returned").await;

    // The refused return is the only failed load; nothing else went wrong.
    let problems: Vec<String> = browser_problems(&c)
        .await
        .into_iter()
        .filter(|p| !p.contains("the server responded with a status of"))
        .collect();
    assert!(problems.is_empty(), "{problems:#?}");
    c.close().await.unwrap();
}
