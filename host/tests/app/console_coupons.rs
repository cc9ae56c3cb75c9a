//! The console's Coupons page and a card's wallet and profile in a real browser (headless
//! Chromium over WebDriver, the harness of `console.rs`) against a real `rabat serve`
//! process: a merchant creates a batch of generated codes from the form, generates more,
//! pages through its codes, imports a CSV with bad lines (every bad line named, nothing
//! imported) and a good one, exports every page of the CSV as one file; on a card's page
//! it issues a code of the batch, voids and restores it, assigns a flyer code and sets
//! the profile. Each step is checked through the API too.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use fantoccini::Client;
use serde_json::{Value, json};

use crate::common::app::audit;
use crate::common::db::{Target, TestDb};
use crate::common::process::Server;
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

/// Chooses `path` in the file input `css` (emptied first).
async fn choose_file(c: &Client, css: &str, path: &std::path::Path) {
    let input = wait_find(c, css).await;
    let arg = serde_json::to_value(&input).unwrap();
    c.execute("arguments[0].value = '';", vec![arg])
        .await
        .unwrap();
    input.send_keys(&path.display().to_string()).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_coupons_in_a_real_browser() {
    let db = TestDb::sqlite().await;
    let Target::Sqlite { path, .. } = &db.target else {
        unreachable!()
    };
    let url = format!("sqlite://{}", path.display());
    let key = credentials::new_api_key();
    let pos = credentials::new_pos_token();
    db.store
        .create_merchant("shop", "Corner Café", &key.hash, &pos.hash, audit)
        .await
        .unwrap();
    db.store.close().await;
    let files = tempfile::tempdir().unwrap();

    let server = Server::start(&url, None).await;
    let base = format!("http://127.0.0.1:{}", server.port);
    let key = key.plaintext;
    let m = "/admin/v1/merchants/shop";
    let (_driver, c) = start_browser().await;
    sign_in(&c, &base, "shop", &key).await;

    // The page from the navigation: no batch yet.
    click_button(&c, "Coupons").await;
    wait_text(&c, "h1", "Coupons").await;
    wait_text(&c, ".empty", "No coupon batch yet").await;

    // A refused batch shows the API's words (a pattern with too few symbols).
    fill(&c, "input[name=batchName]", "welcome").await;
    fill(&c, "input[name=value]", "5.00").await;
    fill(&c, "input[name=minBill]", "10").await;
    fill(&c, "input[name=validDays]", "30").await;
    fill(&c, "input[name=pattern]", "W-###").await;
    fill(&c, "input[name=generate]", "40").await;
    click_button(&c, "Create batch").await;
    wait_text(&c, ".error", "Not created").await;
    assert_eq!(
        api(&server, "GET", &format!("{m}/coupon-batches"), &key, "")
            .await
            .1["items"],
        json!([])
    );

    // Then a batch of 40 generated codes: its page shows the counts.
    fill(&c, "input[name=pattern]", "WELCOME-#####-#####").await;
    click_button(&c, "Create batch").await;
    wait_text(&c, "h1", "Batch welcome").await;
    wait_text(&c, ".batch-counts", "40 codes, 0 issued, 0 redeemed").await;
    let (status, listed) = api(&server, "GET", &format!("{m}/coupon-batches"), &key, "").await;
    assert_eq!(status, 200);
    let made = listed["items"][0].clone();
    assert_eq!(made["name"], "welcome");
    assert_eq!(made["value"]["kind"], "amount");
    assert_eq!(made["value"]["amount"].to_string(), "5.00", "{made}");
    assert_eq!(made["minBill"], "10");
    assert_eq!(made["validDays"], 30);
    assert_eq!(made["usesPerCode"], 1);
    assert_eq!(made["pattern"], "WELCOME-#####-#####");
    assert_eq!(made["codes"], 40);
    let id = made["id"].as_i64().unwrap();
    let one = format!("{m}/coupon-batches/{id}");

    // Generate more: 520 codes, more than one page of the table and of the export.
    fill(&c, "input[name=generateCount]", "480").await;
    click_button(&c, "Generate").await;
    wait_text(&c, ".success", "480 codes generated").await;
    wait_text(&c, ".batch-counts", "520 codes, 0 issued, 0 redeemed").await;
    assert_eq!(api(&server, "GET", &one, &key, "").await.1["codes"], 520);

    // The codes a page at a time.
    wait_text(&c, "caption", "Codes 1–50").await;
    let first_page = wait_text(&c, "tbody", "WELCOME-").await;
    click_button(&c, "Next").await;
    wait_text(&c, "caption", "Codes 51–100").await;
    let second_page = wait_text(&c, "tbody", "WELCOME-").await;
    assert_ne!(first_page, second_page);
    click_button(&c, "Previous").await;
    wait_text(&c, "caption", "Codes 1–50").await;
    let (_, codes) = api(&server, "GET", &format!("{one}/codes?limit=1"), &key, "").await;
    let lowest = codes["items"][0]["code"].as_str().unwrap().to_owned();
    wait_text(&c, "tbody tr:first-child", &lowest).await;

    // A CSV with bad lines: every one named with its line number, nothing imported.
    let bad = files.path().join("bad.csv");
    std::fs::write(&bad, "code\nSPRING-1\nbad code\nSPRING-1\nSPRING-2\n").unwrap();
    choose_file(&c, "input[name=csvFile]", &bad).await;
    click_button(&c, "Import CSV").await;
    let error = wait_text(&c, ".import-out .error", "Not imported").await;
    assert!(error.contains("nothing imported: 2 bad line(s)"), "{error}");
    assert!(error.contains("line 3: code may hold only"), "{error}");
    assert!(
        error.contains("line 4: code 'SPRING-1' is on line 2 already"),
        "{error}"
    );
    assert!(error.contains("HTTP 400"), "{error}");
    assert_eq!(api(&server, "GET", &one, &key, "").await.1["codes"], 520);
    let (status, _) = api(&server, "GET", &format!("{m}/coupons/SPRING-1"), &key, "").await;
    assert_eq!(status, 404, "nothing imported");

    // A good one.
    let good = files.path().join("good.csv");
    std::fs::write(&good, "code\nspring-1\nspring-2\n").unwrap();
    choose_file(&c, "input[name=csvFile]", &good).await;
    click_button(&c, "Import CSV").await;
    wait_text(&c, ".import-out .success", "2 codes imported from good.csv").await;
    wait_text(&c, ".batch-counts", "522 codes").await;
    let (status, spring) = api(&server, "GET", &format!("{m}/coupons/spring-1"), &key, "").await;
    assert_eq!(status, 200);
    assert_eq!(spring["batchId"], id);
    assert_eq!(spring["state"], "available");

    // Export: two pages of the API (500 codes a page) as one file.
    click_button(&c, "Export CSV").await;
    wait_text(&c, ".export-out", "522 codes.").await;
    let link = wait_find(&c, "a.export-link").await;
    assert_eq!(
        link.attr("download").await.unwrap().as_deref(),
        Some("welcome.csv")
    );
    assert!(
        link.attr("href")
            .await
            .unwrap()
            .unwrap_or_default()
            .starts_with("blob:")
    );
    let text = c
        .execute_async(
            "const done = arguments[arguments.length - 1];
             document.querySelector('a.export-link').blob.text().then(done);",
            vec![],
        )
        .await
        .unwrap();
    let text = text.as_str().unwrap().to_owned();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines[0],
        "code,cardId,state,uses,maxUses,validFrom,validUntil"
    );
    assert_eq!(lines.len(), 523, "the header once, then every code");
    let mut all = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(cursor) => format!("{one}/codes?limit=500&cursor={cursor}"),
            None => format!("{one}/codes?limit=500"),
        };
        let (_, page) = api(&server, "GET", &path, &key, "").await;
        for item in page["items"].as_array().unwrap() {
            all.push(item["code"].as_str().unwrap().to_owned());
        }
        match page["nextCursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    let exported: Vec<&str> = lines[1..]
        .iter()
        .map(|line| line.split(',').next().unwrap())
        .collect();
    assert_eq!(exported, all);
    assert!(lines.contains(&"SPRING-1,,available,0,1,,"), "{}", lines[1]);
    shot(&c, true, "coupon-batch", None).await;

    // The list: the batch's terms and counts.
    go(&c, &base, "coupons").await;
    let row = wait_text(&c, "tr", "welcome").await;
    assert!(row.contains("5.00 off"), "{row}");
    assert!(row.contains("30 days from issue"), "{row}");
    assert!(row.contains("522"), "{row}");
    shot(&c, true, "coupons", None).await;

    // A card's wallet: issue a code of the batch.
    let card = "4006381333931";
    let (status, _) = api(&server, "PUT", &format!("{m}/cards/{card}"), &key, "{}").await;
    assert_eq!(status, 201, "a new card");
    let wallet = format!("{m}/cards/{card}/coupons");
    go(&c, &base, &format!("cards/{card}")).await;
    wait_text(&c, "#wallet-head", "Wallet").await;
    wait_text(&c, ".wallet-list", "No coupons on this card yet").await;
    wait_text(&c, "select[name=issueBatch]", "welcome").await;
    wait_find(&c, "select[name=issueBatch]")
        .await
        .select_by_value(&id.to_string())
        .await
        .unwrap();
    click_button(&c, "Issue coupon").await;
    let said = wait_text(&c, ".wallet-out .success", "is in the wallet").await;
    let code = said.split_whitespace().next().unwrap().to_owned();
    assert!(code.starts_with("WELCOME-"), "{said}");
    wait_text(&c, ".wallet-list tr", &code).await;
    let issued = eventually(&server, &key, &wallet, |w| w["items"][0]["code"] == code).await;
    assert_eq!(issued["items"][0]["state"], "available");
    assert_eq!(issued["items"][0]["batchId"], id);
    assert_eq!(api(&server, "GET", &one, &key, "").await.1["issued"], 1);

    // Void it, then restore it.
    let coupon = format!("{m}/coupons/{code}");
    wait_click(&c, ".coupon-void").await;
    wait_text(&c, ".wallet-list tr", "voided").await;
    eventually(&server, &key, &coupon, |v| v["state"] == "voided").await;
    wait_click(&c, ".coupon-restore").await;
    wait_text(&c, ".wallet-list tr", "available").await;
    eventually(&server, &key, &coupon, |v| v["state"] == "available").await;

    // Assign the flyer code; a second time is refused in the API's words.
    fill(&c, "input[name=assignCode]", "spring-1").await;
    click_button(&c, "Issue coupon").await;
    wait_text(&c, ".wallet-list", "SPRING-1").await;
    let assigned = eventually(&server, &key, &format!("{m}/coupons/SPRING-1"), |v| {
        v["cardId"] == card
    })
    .await;
    assert_eq!(assigned["state"], "available");
    fill(&c, "input[name=assignCode]", "spring-1").await;
    click_button(&c, "Issue coupon").await;
    wait_text(&c, ".wallet-out .error", "Not issued").await;
    assert_eq!(
        api(&server, "GET", &wallet, &key, "").await.1["items"]
            .as_array()
            .unwrap()
            .len(),
        2
    );

    // The profile: a day the month lacks is refused, then the birthday and attributes saved.
    let profile = format!("{m}/cards/{card}/profile");
    wait_find(&c, "select[name=birthMonth]")
        .await
        .select_by_value("2")
        .await
        .unwrap();
    fill(&c, "input[name=birthDay]", "31").await;
    fill(
        &c,
        "textarea[name=attributes]",
        "favourite=flat white\nstore=Main St",
    )
    .await;
    click_button(&c, "Save profile").await;
    wait_text(&c, ".profile-out .error", "not a day of month 2").await;
    assert_eq!(api(&server, "GET", &profile, &key, "").await.1, json!({}));
    wait_find(&c, "select[name=birthMonth]")
        .await
        .select_by_value("7")
        .await
        .unwrap();
    fill(&c, "input[name=birthDay]", "15").await;
    fill(&c, "input[name=birthYear]", "1990").await;
    click_button(&c, "Save profile").await;
    wait_text(&c, ".profile-out .success", "Profile saved").await;
    let saved = api(&server, "GET", &profile, &key, "").await.1;
    assert_eq!(
        saved,
        json!({"birthday": {"month": 7, "day": 15, "year": 1990},
               "attributes": {"favourite": "flat white", "store": "Main St"}})
    );

    // Read back on a fresh page.
    go(&c, &base, "overview").await;
    wait_text(&c, "h1", "Overview").await;
    go(&c, &base, &format!("cards/{card}")).await;
    wait_text(&c, ".wallet-list", "SPRING-1").await;
    let started = std::time::Instant::now();
    loop {
        let day = wait_find(&c, "input[name=birthDay]").await;
        if day.prop("value").await.unwrap().as_deref() == Some("15") {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(30), "no profile");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let attributes = wait_find(&c, "textarea[name=attributes]").await;
    assert_eq!(
        attributes.prop("value").await.unwrap().as_deref(),
        Some("favourite=flat white\nstore=Main St")
    );
    shot(&c, true, "wallet", Some(".wallet")).await;

    // Every step is in the audit trail.
    let (_, trail) = api(&server, "GET", &format!("{m}/audit?limit=50"), &key, "").await;
    let actions: Vec<&str> = trail["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["action"].as_str())
        .filter(|a| a.starts_with("coupon") || a.starts_with("card.profile"))
        .collect();
    assert_eq!(
        actions,
        [
            "card.profile",
            "coupon.issue",
            "coupon.restore",
            "coupon.void",
            "coupon.issue",
            "coupon_batch.import",
            "coupon_batch.generate",
            "coupon_batch.create"
        ]
    );
    // The refusals above are the only failed loads; nothing else went wrong.
    let problems: Vec<String> = browser_problems(&c)
        .await
        .into_iter()
        .filter(|p| !p.contains("the server responded with a status of"))
        .collect();
    assert!(problems.is_empty(), "{problems:#?}");
    c.close().await.unwrap();
}
