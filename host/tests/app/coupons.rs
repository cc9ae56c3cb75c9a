//! Coupons over HTTP (issue 18), on SQLite and (when configured) PostgreSQL: batches made
//! with generated codes, more generated, codes imported from CSV (every bad line named,
//! nothing imported when one is bad), listed and exported in pages; a card's wallet
//! (issue, assign, void, restore, each audited) and its profile, every refusal naming
//! what was wrong.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use rabat::model::Card;
use serde_json::{Value, json};

use crate::common::app::{TestApp, TestMerchant};

app_on_both_engines!(
    batches_are_created_generated_imported_listed_and_exported,
    a_cards_wallet_is_issued_voided_restored_and_audited,
    a_cards_profile_is_set_and_checked,
    the_welcome_coupon_is_issued_held_and_redeemed_once,
    typed_voided_and_expired_codes_follow_the_rules,
    a_returned_bill_gives_its_coupon_back_once,
);

const DISCOUNTS: &str = "/pos/papaya/v1/discounts";
const TRANSACTIONS: &str = "/pos/papaya/v1/transactions";

/// An open bill of 50.00 for `card_id`, with `extra` top-level fields.
fn open_bill(order_id: &str, card_id: &str, extra: Value) -> Value {
    let mut bill = json!({
        "orderId": order_id, "cardId": card_id, "total": 50.00, "currency": "EUR",
        "orderItems": [{"id": "1", "productId": "11111", "name": "Espresso", "quantity": 2,
                        "unitPrice": 25.00, "totalPrice": 50.00, "vatRate": 20}]
    });
    if let (Value::Object(bill), Value::Object(extra)) = (&mut bill, extra) {
        bill.extend(extra);
    }
    bill
}

/// The completed bill; `coupon` adds the line a till prints for a taken coupon (Papaya's
/// negative line named with the code).
fn closed_bill(order_id: &str, card_id: &str, coupon: Option<(&str, &str)>) -> Value {
    let mut items = vec![json!({"id": "1", "productId": "11111", "name": "Espresso",
        "quantity": 2, "unitPrice": 25.00, "totalPrice": 50.00, "vatRate": 20})];
    let mut total = rust_decimal::Decimal::new(5000, 2);
    if let Some((code, amount)) = coupon {
        let minus: Value = serde_json::from_str(&format!("-{amount}")).unwrap();
        items.push(
            json!({"id": "2", "productId": code, "name": code, "quantity": 1,
            "unitPrice": minus, "totalPrice": minus, "vat": 0, "vatRate": 0}),
        );
        total -= amount.parse::<rust_decimal::Decimal>().unwrap();
    }
    let total: Value = serde_json::from_str(&total.to_string()).unwrap();
    json!({
      "event": "order.completed", "orderId": order_id, "cardId": card_id, "paid": 1,
      "status": "closed", "total": total, "currency": "EUR",
      "completed": "2025-10-21T10:35:12.000Z", "orderItems": items
    })
}

/// A shop running the welcome-coupon example over a `welcome` batch of 5.00 coupons.
async fn welcome_shop(app: &TestApp, id: &str) -> TestMerchant {
    let shop = app.merchant(id).await;
    let batch = post(
        app,
        &shop,
        "/coupon-batches",
        &json!({"name": "welcome", "value": {"kind": "amount", "amount": 5.00}, "minBill": 10,
                "validDays": 30, "pattern": "W-#####-#####"}),
    )
    .await;
    assert_eq!(batch.status, 201, "{}", batch.text);
    app.activate(
        &shop,
        &crate::common::wasm::example("welcome-coupon"),
        json!({"batch": "welcome"}),
    )
    .await;
    shop
}

async fn wallet_of(app: &TestApp, shop: &TestMerchant, card: &str) -> Vec<Value> {
    get(app, shop, &format!("/cards/{card}/coupons")).await.json["items"]
        .as_array()
        .unwrap()
        .clone()
}

/// The coupon lines of an endpoint-1 answer: (code, amount).
fn coupons_in(answer: &Value) -> Vec<(String, String)> {
    answer["discounts"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["type"] == "coupon_zero_vat")
        .map(|d| {
            (
                d["couponCode"].as_str().unwrap().to_owned(),
                d["amount"].to_string(),
            )
        })
        .collect()
}

async fn the_welcome_coupon_is_issued_held_and_redeemed_once(app: &TestApp) {
    let shop = welcome_shop(app, "welcome-a").await;
    app.card(&shop, Card::new("c1")).await;
    let pos = |path: &'static str, body: Value| {
        let token = shop.pos_token.clone();
        async move { app.post_json(path, &token, &body).await }
    };
    // The first completed bill issues the welcome coupon into the wallet.
    let first = pos(TRANSACTIONS, closed_bill("o1", "c1", None)).await;
    assert_eq!(first.status, 200, "{}", first.text);
    let wallet = wallet_of(app, &shop, "c1").await;
    assert_eq!(wallet.len(), 1, "{wallet:?}");
    let code = wallet[0]["code"].as_str().unwrap().to_owned();
    assert_eq!(wallet[0]["state"], "available");
    // The next open bill is offered it, and the host holds it for that order.
    let offered = pos(DISCOUNTS, open_bill("o2", "c1", json!({}))).await;
    assert_eq!(offered.status, 200, "{}", offered.text);
    assert_eq!(
        coupons_in(&offered.json),
        [(code.clone(), "5.00".to_owned())],
        "{}",
        offered.text
    );
    assert_eq!(
        get(app, &shop, &format!("/coupons/{code}")).await.json["state"],
        "held"
    );
    // A second open bill of the card does not get it while o2 holds it.
    let other = pos(DISCOUNTS, open_bill("o3", "c1", json!({}))).await;
    assert!(coupons_in(&other.json).is_empty(), "{}", other.text);
    // o2 completes with the coupon's line: redeemed once; a repeat takes nothing more.
    let closed = closed_bill("o2", "c1", Some((&code, "5.00")));
    for _ in 0..2 {
        let done = pos(TRANSACTIONS, closed.clone()).await;
        assert_eq!(done.status, 200, "{}", done.text);
    }
    let after = get(app, &shop, &format!("/coupons/{code}")).await.json;
    assert_eq!(
        (after["state"].as_str(), after["uses"].as_i64()),
        (Some("redeemed"), Some(1)),
        "{after}"
    );
    let again = pos(DISCOUNTS, open_bill("o4", "c1", json!({}))).await;
    assert!(coupons_in(&again.json).is_empty(), "{}", again.text);
    // o3 completes without it: nothing more is redeemed, and no second coupon is issued
    // (not a first visit).
    pos(TRANSACTIONS, closed_bill("o3", "c1", Some((&code, "5.00")))).await;
    assert_eq!(
        get(app, &shop, &format!("/coupons/{code}")).await.json["uses"],
        1
    );
    assert_eq!(wallet_of(app, &shop, "c1").await.len(), 1);
}

async fn typed_voided_and_expired_codes_follow_the_rules(app: &TestApp) {
    let shop = welcome_shop(app, "welcome-b").await;
    let theirs = welcome_shop(app, "welcome-c").await;
    app.card(&shop, Card::new("c1")).await;
    app.card(&shop, Card::new("c2")).await;
    let batch = get(app, &shop, "/coupon-batches").await.json["items"][0]["id"]
        .as_i64()
        .unwrap();
    let their_batch = get(app, &theirs, "/coupon-batches").await.json["items"][0]["id"]
        .as_i64()
        .unwrap();
    let import = |who: &TestMerchant, batch: i64, csv: &'static str| {
        let (path, key) = (
            path(who, &format!("/coupon-batches/{batch}/import")),
            who.api_key.clone(),
        );
        async move { app.call("POST", &path, Some(&key), csv).await }
    };
    assert_eq!(
        import(&shop, batch, "code\nFLYER-1\nFLYER-2\n")
            .await
            .status,
        200
    );
    assert_eq!(
        import(&theirs, their_batch, "code\nTHEIRS-1\n")
            .await
            .status,
        200
    );
    let pos = |body: Value| {
        let token = shop.pos_token.clone();
        async move { app.post_json(DISCOUNTS, &token, &body).await }
    };
    // A flyer code the customer typed (the bill's couponCode) is offered and held.
    let typed = pos(open_bill("t1", "c1", json!({"couponCode": "flyer-1"}))).await;
    assert_eq!(
        coupons_in(&typed.json),
        [("FLYER-1".to_owned(), "5.00".to_owned())],
        "{}",
        typed.text
    );
    // The same code on another card's open bill: held, so not offered, and the cashier
    // hears why.
    let twice = pos(open_bill("t2", "c2", json!({"couponCode": "FLYER-1"}))).await;
    assert!(coupons_in(&twice.json).is_empty(), "{}", twice.text);
    assert!(
        twice.json["message"]
            .as_str()
            .unwrap()
            .contains("coupon FLYER-1 is held by another open bill"),
        "{}",
        twice.text
    );
    // Another merchant's code is unknown here.
    let foreign = pos(open_bill("t3", "c2", json!({"couponCode": "THEIRS-1"}))).await;
    assert!(coupons_in(&foreign.json).is_empty(), "{}", foreign.text);
    assert!(
        foreign.json["message"]
            .as_str()
            .unwrap()
            .contains("coupon THEIRS-1 is unknown"),
        "{}",
        foreign.text
    );
    // A voided code, or an expired one, is never offered.
    let issued = post(app, &shop, "/cards/c2/coupons", &json!({"batchId": batch})).await;
    let code = issued.json["code"].as_str().unwrap().to_owned();
    post(app, &shop, &format!("/coupons/{code}/void"), &json!({})).await;
    let voided = pos(open_bill("t4", "c2", json!({}))).await;
    assert!(coupons_in(&voided.json).is_empty(), "{}", voided.text);
    let typed_voided = pos(open_bill("t5", "c2", json!({"couponCode": code}))).await;
    assert!(
        typed_voided.json["message"]
            .as_str()
            .unwrap()
            .contains("is voided"),
        "{}",
        typed_voided.text
    );
    post(app, &shop, &format!("/coupons/{code}/restore"), &json!({})).await;
    let restored = pos(open_bill("t6", "c2", json!({}))).await;
    assert_eq!(coupons_in(&restored.json).len(), 1, "{}", restored.text);
    app.db
        .execute(&format!(
            "UPDATE coupons SET valid_until = 1 WHERE code = '{code}'"
        ))
        .await;
    let expired = pos(open_bill("t7", "c2", json!({}))).await;
    assert!(coupons_in(&expired.json).is_empty(), "{}", expired.text);
    // The evaluation log says why the typed code was not offered.
    app.flush_evaluations().await;
    let log = get(app, &shop, "/evaluations?limit=50").await;
    assert!(
        log.text.contains("coupon THEIRS-1 is unknown"),
        "{}",
        log.text
    );
}

fn path(shop: &TestMerchant, rest: &str) -> String {
    format!("/admin/v1/merchants/{}{rest}", shop.id)
}

async fn get(app: &TestApp, shop: &TestMerchant, rest: &str) -> crate::common::app::Reply {
    app.call("GET", &path(shop, rest), Some(&shop.api_key), "")
        .await
}

async fn post(
    app: &TestApp,
    shop: &TestMerchant,
    rest: &str,
    body: &Value,
) -> crate::common::app::Reply {
    app.post_json(&path(shop, rest), &shop.api_key, body).await
}

fn message(reply: &crate::common::app::Reply) -> String {
    reply.json["message"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

async fn batches_are_created_generated_imported_listed_and_exported(app: &TestApp) {
    let shop = app.merchant("coupons-a").await;
    let created = post(
        app,
        &shop,
        "/coupon-batches",
        &json!({"name": "welcome", "value": {"kind": "amount", "amount": 5.00},
                "minBill": 10, "validDays": 30, "pattern": "welcome-#####-#####", "generate": 20}),
    )
    .await;
    assert_eq!(created.status, 201, "{}", created.text);
    let id = created.json["id"].as_i64().unwrap();
    assert_eq!(created.json["codes"], 20);
    assert_eq!(created.json["pattern"], "WELCOME-#####-#####");
    assert_eq!(
        created.json["value"],
        json!({"kind": "amount", "amount": 5.00})
    );
    let more = post(
        app,
        &shop,
        &format!("/coupon-batches/{id}/generate"),
        &json!({"count": 5}),
    )
    .await;
    assert_eq!(
        (more.status.as_u16(), more.json["codes"].as_i64()),
        (200, Some(25)),
        "{}",
        more.text
    );
    // Paged: 10 + 10 + 5, in code order, no code twice.
    let mut codes = Vec::new();
    let mut cursor = String::new();
    for _ in 0..5 {
        let page = get(
            app,
            &shop,
            &format!("/coupon-batches/{id}/codes?limit=10{cursor}"),
        )
        .await;
        assert_eq!(page.status, 200, "{}", page.text);
        codes.extend(
            page.json["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| c["code"].as_str().unwrap().to_owned()),
        );
        match page.json["nextCursor"].as_str() {
            Some(next) => cursor = format!("&cursor={next}"),
            None => break,
        }
    }
    assert_eq!(codes.len(), 25);
    assert!(codes.windows(2).all(|w| w[0] < w[1]));
    // The export: a CSV page, the next cursor in a header.
    let export = app
        .call(
            "GET",
            &path(&shop, &format!("/coupon-batches/{id}/export?limit=20")),
            Some(&shop.api_key),
            "",
        )
        .await;
    assert_eq!(export.status, 200);
    let lines: Vec<&str> = export.text.lines().collect();
    assert_eq!(
        lines[0],
        "code,cardId,state,uses,maxUses,validFrom,validUntil"
    );
    assert_eq!(lines.len(), 21);
    assert!(
        lines[1].starts_with(&format!("{},,available,0,1,", codes[0])),
        "{}",
        lines[1]
    );

    // An imported batch: a CSV file, all or nothing.
    let flyer = post(
        app,
        &shop,
        "/coupon-batches",
        &json!({"name": "flyer", "value": {"kind": "percentage", "percentage": 15}}),
    )
    .await;
    assert_eq!(flyer.status, 201, "{}", flyer.text);
    let flyer_id = flyer.json["id"].as_i64().unwrap();
    let import_path = path(&shop, &format!("/coupon-batches/{flyer_id}/import"));
    let import = |body: String| app.call("POST", &import_path, Some(&shop.api_key), body);
    let bad = import("code\nSPRING-1\nnot a code\nSPRING-1\n".into()).await;
    assert_eq!(bad.status, 400);
    let why = message(&bad);
    assert!(why.contains("line 3: code may hold only"), "{why}");
    assert!(
        why.contains("line 4: code 'SPRING-1' is on line 2 already"),
        "{why}"
    );
    let good = import("code\nspring-1\nSPRING-2\n".into()).await;
    assert_eq!(
        (good.status.as_u16(), good.json["codes"].as_i64()),
        (200, Some(2)),
        "{}",
        good.text
    );
    let clash = import(format!("code\nSPRING-3\n{}\n", codes[3])).await;
    assert_eq!(clash.status, 400);
    assert!(
        message(&clash).contains(&format!("line 3: code '{}' exists already", codes[3])),
        "{}",
        clash.text
    );
    assert_eq!(
        get(app, &shop, &format!("/coupon-batches/{flyer_id}"))
            .await
            .json["codes"],
        2
    );
    // An imported batch generates nothing; a name is used once.
    let generate = post(
        app,
        &shop,
        &format!("/coupon-batches/{flyer_id}/generate"),
        &json!({"count": 1}),
    )
    .await;
    assert_eq!(generate.status, 409, "{}", generate.text);
    let again = post(
        app,
        &shop,
        "/coupon-batches",
        &json!({"name": "flyer", "value": {"kind": "amount", "amount": 1}}),
    )
    .await;
    assert_eq!(again.status, 409, "{}", again.text);
    // Every refusal names its field.
    for (body, says) in [
        (
            json!({"name": "x", "value": {"kind": "gift", "amount": 1}}),
            "value.kind must be amount or percentage",
        ),
        (
            json!({"name": "x", "value": {"kind": "percentage", "percentage": 120}}),
            "percentage must be in (0, 100]",
        ),
        (
            json!({"name": "x", "value": {"kind": "amount", "amount": 1}, "pattern": "W-####"}),
            "at least 10 '#'",
        ),
        (
            json!({"name": "x", "value": {"kind": "amount", "amount": 1}, "generate": 5}),
            "generate needs a pattern",
        ),
        (
            json!({"name": "x", "value": {"kind": "amount", "amount": 1}, "validFrom": 5, "validUntil": 5}),
            "validFrom (5) must be before validUntil",
        ),
        (
            json!({"name": "x", "value": {"kind": "amount", "amount": 1}, "usesPerCode": 0}),
            "usesPerCode must be",
        ),
        (
            json!({"name": "x", "value": {"kind": "amount", "amount": 1}, "colour": "red"}),
            "colour is not a known field",
        ),
    ] {
        let reply = post(app, &shop, "/coupon-batches", &body).await;
        assert_eq!(reply.status, 400, "{body}: {}", reply.text);
        assert!(message(&reply).contains(says), "{body}: {}", reply.text);
    }
    let listed = get(app, &shop, "/coupon-batches").await;
    let names: Vec<&str> = listed.json["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["flyer", "welcome"]);
    assert_eq!(get(app, &shop, "/coupon-batches/999999").await.status, 404);
    // An id in a number's other forms is that id (JSON Schema's integer; Schemathesis sent
    // `1.0`); a fraction is not an id.
    let same = get(app, &shop, &format!("/coupon-batches/{id}.0")).await;
    assert_eq!(
        (same.status.as_u16(), same.json["id"].as_i64()),
        (200, Some(id)),
        "{}",
        same.text
    );
    assert_eq!(
        get(app, &shop, &format!("/coupon-batches/{id}.5"))
            .await
            .status,
        400
    );
}

async fn a_cards_wallet_is_issued_voided_restored_and_audited(app: &TestApp) {
    let shop = app.merchant("coupons-b").await;
    app.card(&shop, Card::new("c1")).await;
    app.card(&shop, Card::new("c2")).await;
    let batch = post(
        app,
        &shop,
        "/coupon-batches",
        &json!({"name": "birthday", "value": {"kind": "amount", "amount": 3}, "validDays": 30,
                "pattern": "BDAY-##########"}),
    )
    .await;
    let batch_id = batch.json["id"].as_i64().unwrap();
    post(
        app,
        &shop,
        "/coupon-batches",
        &json!({"name": "flyer", "value": {"kind": "amount", "amount": 2}}),
    )
    .await;
    let flyer_id = get(app, &shop, "/coupon-batches").await.json["items"][0]["id"]
        .as_i64()
        .unwrap();
    let imported = app
        .call(
            "POST",
            &path(&shop, &format!("/coupon-batches/{flyer_id}/import")),
            Some(&shop.api_key),
            "code\nFLY-1\n",
        )
        .await;
    assert_eq!(imported.status, 200, "{}", imported.text);

    let issued = post(
        app,
        &shop,
        "/cards/c1/coupons",
        &json!({"batchId": batch_id}),
    )
    .await;
    assert_eq!(issued.status, 201, "{}", issued.text);
    assert_eq!(issued.json["cardId"], "c1");
    assert_eq!(issued.json["state"], "available");
    let code = issued.json["code"].as_str().unwrap().to_owned();
    assert!(code.starts_with("BDAY-"));
    // A flyer code is assigned (any case), once.
    let assigned = post(app, &shop, "/cards/c1/coupons", &json!({"code": "fly-1"})).await;
    assert_eq!(
        (assigned.status.as_u16(), assigned.json["code"].as_str()),
        (201, Some("FLY-1")),
        "{}",
        assigned.text
    );
    let taken = post(app, &shop, "/cards/c2/coupons", &json!({"code": "FLY-1"})).await;
    assert_eq!(taken.status, 409, "{}", taken.text);
    assert!(
        message(&taken).contains("belongs to another card"),
        "{}",
        taken.text
    );
    for (body, status) in [
        (json!({"batchId": 999999}), 404),
        (json!({"code": "NOPE-1"}), 404),
        (json!({"batchId": batch_id, "code": "FLY-1"}), 400),
        (json!({}), 400),
    ] {
        let reply = post(app, &shop, "/cards/c2/coupons", &body).await;
        assert_eq!(reply.status, status, "{body}: {}", reply.text);
    }
    assert_eq!(
        post(
            app,
            &shop,
            "/cards/nobody/coupons",
            &json!({"batchId": batch_id})
        )
        .await
        .status,
        404
    );
    let wallet = get(app, &shop, "/cards/c1/coupons").await;
    assert_eq!(
        wallet.json["items"].as_array().unwrap().len(),
        2,
        "{}",
        wallet.text
    );
    assert_eq!(get(app, &shop, "/cards/nobody/coupons").await.status, 404);

    // Void, then restore, each once; audited.
    let void = post(app, &shop, &format!("/coupons/{code}/void"), &json!({})).await;
    assert_eq!(
        (void.status.as_u16(), void.json["state"].as_str()),
        (200, Some("voided")),
        "{}",
        void.text
    );
    assert_eq!(
        post(app, &shop, &format!("/coupons/{code}/void"), &json!({}))
            .await
            .status,
        409
    );
    let restored = post(
        app,
        &shop,
        &format!("/coupons/{}/restore", code.to_lowercase()),
        &json!({}),
    )
    .await;
    assert_eq!(restored.json["state"], "available", "{}", restored.text);
    assert_eq!(
        post(app, &shop, &format!("/coupons/{code}/restore"), &json!({}))
            .await
            .status,
        409
    );
    assert_eq!(
        get(app, &shop, &format!("/coupons/{code}")).await.json["state"],
        "available"
    );
    assert_eq!(get(app, &shop, "/coupons/has%20space").await.status, 400);
    let audit = get(app, &shop, "/audit?limit=50").await;
    let actions: Vec<&str> = audit.json["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["action"].as_str().unwrap())
        .collect();
    for action in [
        "coupon_batch.create",
        "coupon_batch.import",
        "coupon.issue",
        "coupon.void",
        "coupon.restore",
    ] {
        assert!(actions.contains(&action), "{action} not in {actions:?}");
    }
}

async fn a_cards_profile_is_set_and_checked(app: &TestApp) {
    let shop = app.merchant("coupons-c").await;
    app.card(&shop, Card::new("c1")).await;
    let empty = get(app, &shop, "/cards/c1/profile").await;
    assert_eq!((empty.status.as_u16(), &empty.json), (200, &json!({})));
    let body =
        json!({"birthday": {"month": 2, "day": 29}, "attributes": {"favourite": "flat white"}});
    let put = app
        .call(
            "PUT",
            &path(&shop, "/cards/c1/profile"),
            Some(&shop.api_key),
            body.to_string(),
        )
        .await;
    assert_eq!(put.status, 200, "{}", put.text);
    assert_eq!(get(app, &shop, "/cards/c1/profile").await.json, body);
    for (body, says) in [
        (
            json!({"birthday": {"month": 4, "day": 31}}),
            "day 31 is not a day of month 4",
        ),
        (
            json!({"birthday": {"month": 13, "day": 1}}),
            "birthday.month must be a whole number from 1 to 12",
        ),
        (
            json!({"birthday": {"month": 1}}),
            "birthday.day is required",
        ),
        (
            json!({"attributes": {"a": 1}}),
            "attributes['a'] must be a string",
        ),
        (json!({"nickname": "x"}), "nickname is not a known field"),
    ] {
        let reply = app
            .call(
                "PUT",
                &path(&shop, "/cards/c1/profile"),
                Some(&shop.api_key),
                body.to_string(),
            )
            .await;
        assert_eq!(reply.status, 400, "{body}: {}", reply.text);
        assert!(message(&reply).contains(says), "{body}: {}", reply.text);
    }
    let nobody = app
        .call(
            "PUT",
            &path(&shop, "/cards/nobody/profile"),
            Some(&shop.api_key),
            "{}",
        )
        .await;
    assert_eq!(nobody.status, 404);
}

async fn a_returned_bill_gives_its_coupon_back_once(app: &TestApp) {
    let shop = welcome_shop(app, "welcome-r").await;
    app.card(&shop, Card::new("c1")).await;
    let pos = |path: &'static str, body: Value| {
        let token = shop.pos_token.clone();
        async move { app.post_json(path, &token, &body).await }
    };
    pos(TRANSACTIONS, closed_bill("o1", "c1", None)).await;
    let code = wallet_of(app, &shop, "c1").await[0]["code"]
        .as_str()
        .unwrap()
        .to_owned();
    pos(DISCOUNTS, open_bill("o2", "c1", json!({}))).await;
    pos(TRANSACTIONS, closed_bill("o2", "c1", Some((&code, "5.00")))).await;
    assert_eq!(
        get(app, &shop, &format!("/coupons/{code}")).await.json["state"],
        "redeemed"
    );
    let returns = "/transactions/o2/returns";
    // Lines are checked against the bill: an unknown line, more than bought, named.
    for (body, says) in [
        (
            json!({"returnId": "r0", "lines": [{"lineId": "9", "quantity": 1}]}),
            "lines[0]: the bill has no line '9'",
        ),
        (
            json!({"returnId": "r0", "lines": [{"lineId": "1", "quantity": 3}]}),
            "lines[0]: 3 returned of line '1', which has 2",
        ),
        (
            json!({"returnId": "r0", "lines": [{"lineId": "1", "quantity": 0}]}),
            "lines[0].quantity must be greater than 0",
        ),
        (json!({"lines": []}), "returnId is required"),
    ] {
        let reply = post(app, &shop, returns, &body).await;
        assert_eq!(reply.status, 400, "{body}: {}", reply.text);
        assert!(message(&reply).contains(says), "{body}: {}", reply.text);
    }
    // One espresso of two: not whole, the coupon stays redeemed.
    let part = post(
        app,
        &shop,
        returns,
        &json!({"returnId": "r1", "lines": [{"lineId": "1", "quantity": 1}]}),
    )
    .await;
    assert_eq!(part.status, 201, "{}", part.text);
    assert_eq!(
        (part.json["whole"].as_bool(), part.json["value"].as_str()),
        (Some(false), Some("25.00")),
        "{}",
        part.text
    );
    assert_eq!(
        get(app, &shop, &format!("/coupons/{code}")).await.json["state"],
        "redeemed"
    );
    // The rest, whole: the coupon is given back, once.
    let rest = post(app, &shop, returns, &json!({"returnId": "r2"})).await;
    assert_eq!(rest.status, 201, "{}", rest.text);
    assert_eq!(rest.json["whole"], true);
    assert_eq!(rest.json["coupons"], json!([code]));
    let again = post(app, &shop, returns, &json!({"returnId": "r2"})).await;
    assert_eq!(again.status, 200, "{}", again.text);
    let other = post(
        app,
        &shop,
        returns,
        &json!({"returnId": "r2", "lines": [{"lineId": "1", "quantity": 1}]}),
    )
    .await;
    assert_eq!(other.status, 409, "{}", other.text);
    let after = get(app, &shop, &format!("/coupons/{code}")).await.json;
    assert_eq!(
        (after["state"].as_str(), after["uses"].as_i64()),
        (Some("available"), Some(0)),
        "{after}"
    );
    let listed = get(app, &shop, returns).await;
    assert_eq!(
        listed.json["items"].as_array().unwrap().len(),
        2,
        "{}",
        listed.text
    );
    assert_eq!(
        post(
            app,
            &shop,
            "/transactions/nope/returns",
            &json!({"returnId": "x"})
        )
        .await
        .status,
        404
    );
}
