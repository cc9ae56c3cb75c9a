//! What a policy author and a merchant see, at the HTTP level on both engines: the
//! cashier's message says each description once, every policy version carries the
//! contract it was built for (as `rabat check` says it), and a customer's cards are paged
//! like every other list.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;

use crate::common::app::TestApp;
use crate::common::wasm::{example, fixtures_dir};
use rabat::model::Card;
use serde_json::{Value, json};

app_on_both_engines!(
    the_cashier_message_says_each_description_once,
    every_version_shows_its_contract,
    a_customers_cards_are_paged,
);

/// Two lines named alike (a small and a large "Espresso", two products) in the discounted
/// category: two discounts described alike, one mention in the cashier's message.
async fn the_cashier_message_says_each_description_once(app: &TestApp) {
    let shop = app.merchant("cafe").await;
    app.card(&shop, Card::new("memberCardId")).await;
    app.activate(
        &shop,
        &example("category-discount"),
        json!({"category": "Hot Beverages", "percentage": 20}),
    )
    .await;
    let line = |id: &str, product: &str, price: f64| {
        json!({"id": id, "productId": product, "name": "Espresso", "quantity": 1,
               "unitPrice": price, "totalPrice": price, "vat": 0, "vatRate": 20,
               "categoryName": "Hot Beverages"})
    };
    let bill = json!({
        "orderId": "M-1", "cardId": "memberCardId", "status": "open", "total": 8.50,
        "currency": "EUR", "created": "2025-10-21T10:30:00.000Z",
        "orderItems": [
            line("1", "espresso-small", 2.50),
            {"id": "2", "productId": "croissant", "name": "Croissant", "quantity": 1,
             "unitPrice": 3.50, "totalPrice": 3.50, "vat": 0, "vatRate": 20,
             "categoryName": "Bakery"},
            line("3", "espresso-large", 3.00),
        ],
    });
    let reply = app
        .post_json("/pos/papaya/v1/discounts", &shop.pos_token, &bill)
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    let descriptions: Vec<_> = reply.json["discounts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["description"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(descriptions, ["20% off Espresso", "20% off Espresso"]);
    assert_eq!(reply.json["totalDiscount"].to_string(), "1.10");
    assert_eq!(reply.json["message"], "20% off Espresso", "{}", reply.text);
}

/// `rabat check`'s `contract:` line for a module.
fn checked_contract(wasm: &[u8]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("policy.wasm");
    std::fs::write(&path, wasm).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_rabat"))
        .args(["check", path.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .find_map(|line| line.strip_prefix("contract: ").map(str::to_owned))
        .expect("rabat check prints the contract")
}

async fn every_version_shows_its_contract(app: &TestApp) {
    let shop = app.merchant("shop").await;
    let policies = "/admin/v1/merchants/shop/policies";
    let v0_3 = example("tier-discount");
    let v0_1 = std::fs::read(fixtures_dir().join("v0_1/stamp-card.wasm")).unwrap();
    // Uploaded: the answer says the contract, as `rabat check` does.
    for (version, wasm, contract) in [
        (1, &v0_3, "rabat:rules@0.3.0"),
        (2, &v0_1, "rabat:rules@0.1.0"),
    ] {
        let reply = app
            .call("POST", policies, Some(&shop.api_key), wasm.clone())
            .await;
        assert_eq!(reply.status, 201, "{}", reply.text);
        assert_eq!(reply.json["version"], version);
        assert_eq!(reply.json["contract"], contract, "{}", reply.text);
        assert_eq!(checked_contract(wasm), contract);
    }
    // A version stored before rabat kept contracts (no contract in its row) gets it when
    // listed, read off its module, and keeps it.
    let old = app
        .state
        .store()
        .add_policy(
            "shop",
            &v0_1,
            Some("from before"),
            crate::common::app::audit,
        )
        .await
        .unwrap();
    assert_eq!(old.contract, None);
    let rows = app.state.store().list_policies("shop").await.unwrap();
    assert_eq!(rows[0].contract, None, "stored without one");
    let reply = app.call("GET", policies, Some(&shop.api_key), "").await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    let listed: Vec<(i64, String)> = reply.json["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| {
            (
                v["version"].as_i64().unwrap(),
                v["contract"].as_str().unwrap_or("(none)").to_owned(),
            )
        })
        .collect();
    assert_eq!(
        listed,
        [
            (3, "rabat:rules@0.1.0".to_owned()),
            (2, "rabat:rules@0.1.0".to_owned()),
            (1, "rabat:rules@0.3.0".to_owned()),
        ]
    );
    let rows = app.state.store().list_policies("shop").await.unwrap();
    assert_eq!(
        rows[0].contract.as_deref(),
        Some("rabat:rules@0.1.0"),
        "kept"
    );
    // The audit trail of an upload names it too.
    let audit = app
        .call(
            "GET",
            "/admin/v1/merchants/shop/audit",
            Some(&shop.api_key),
            "",
        )
        .await;
    let uploads: Vec<&Value> = audit.json["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|row| row["action"] == "policy.upload")
        .collect();
    assert!(
        uploads
            .iter()
            .any(|row| row["detail"]["contract"] == "rabat:rules@0.3.0"),
        "{}",
        audit.text
    );
}

async fn a_customers_cards_are_paged(app: &TestApp) {
    let shop = app.merchant("shop").await;
    // Seven cards of one customer, two of another, one of none.
    for i in 0..7 {
        let mut card = Card::new(format!("family-{i}"));
        card.customer_id = Some("cust-7".into());
        app.card(&shop, card).await;
    }
    for i in 0..2 {
        let mut card = Card::new(format!("other-{i}"));
        card.customer_id = Some("cust-8".into());
        app.card(&shop, card).await;
    }
    app.card(&shop, Card::new("anonymous")).await;
    let key = Some(shop.api_key.as_str());
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let mut path = "/admin/v1/merchants/shop/cards?customerId=cust-7&limit=3".to_owned();
        if let Some(cursor) = &cursor {
            path.push_str(&format!("&cursor={cursor}"));
        }
        let reply = app.call("GET", &path, key, "").await;
        assert_eq!(reply.status, 200, "{}", reply.text);
        pages += 1;
        let items = reply.json["items"].as_array().unwrap();
        assert!(items.len() <= 3, "{}", reply.text);
        for item in items {
            assert_eq!(item["customerId"], "cust-7", "{}", reply.text);
            assert_eq!(item["heldPoints"], 0);
            seen.push(item["cardId"].as_str().unwrap().to_owned());
        }
        match reply.json["nextCursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    assert_eq!(pages, 3);
    let all: Vec<String> = (0..7).map(|i| format!("family-{i}")).collect();
    assert_eq!(seen, all, "each card once, in card-id order");
    // Without a limit: the default page holds them all; an unknown customer: none.
    let reply = app
        .call(
            "GET",
            "/admin/v1/merchants/shop/cards?customerId=cust-7",
            key,
            "",
        )
        .await;
    assert_eq!(
        reply.json["items"].as_array().unwrap().len(),
        7,
        "{}",
        reply.text
    );
    assert_eq!(reply.json["nextCursor"], Value::Null);
    let reply = app
        .call(
            "GET",
            "/admin/v1/merchants/shop/cards?customerId=nobody",
            key,
            "",
        )
        .await;
    assert_eq!(reply.json["items"], json!([]), "{}", reply.text);
    // A cursor rabat did not hand out is refused, as in every list.
    let reply = app
        .call(
            "GET",
            "/admin/v1/merchants/shop/cards?customerId=cust-7&cursor=zz",
            key,
            "",
        )
        .await;
    assert_eq!(reply.status, 400, "{}", reply.text);
    assert_eq!(reply.json["error_id"], 7);
}
