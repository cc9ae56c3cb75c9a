//! The merchant console in a real browser: headless Chromium driven over WebDriver
//! (Debian's `chromedriver`, through `fantoccini`) against a real `rabat serve` process.
//! A merchant signs in, uploads and tries policies, replays, activates and rolls back,
//! reads a card's ledger after endpoint 2 and a failing run in the evaluation log, and
//! signs out; a wrong key is refused and one merchant's key never shows another's data.
//! Screenshots of the main pages go to `target/console-screenshots/`, or to the README's
//! `docs/console/` with `RABAT_UPDATE_SCREENSHOTS=1`.
//!
//! Chromium and chromedriver are found at `/usr/bin` (or `RABAT_CHROMIUM` /
//! `RABAT_CHROMEDRIVER`); when missing and running as root, this test installs Debian's
//! `chromium` and `chromium-driver` itself; otherwise it fails saying so (never skips).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::db::{Target, TestDb};
use crate::common::process::{OPERATOR, Server};
use crate::common::wasm::{data, example, fixture};
use fantoccini::{Client, ClientBuilder, Locator};
use rabat::store::EvaluationRecord;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const WAIT: Duration = Duration::from_secs(30);

/// Collects any CSP violation and script error of the tab's document in `window.problems`.
const WATCH_PROBLEMS: &str = "window.problems = [];
     document.addEventListener('securitypolicyviolation',
       (e) => window.problems.push('CSP ' + e.violatedDirective + ' ' + e.blockedURI));
     window.addEventListener('error', (e) => window.problems.push('error ' + e.message));
     window.addEventListener('unhandledrejection',
       (e) => window.problems.push('rejection ' + e.reason));";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_console_in_a_real_browser() {
    let db = TestDb::sqlite().await;
    let Target::Sqlite { path, .. } = &db.target else {
        unreachable!()
    };
    let url = format!("sqlite://{}", path.display());
    scenario(&db, &url, None, true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_console_in_a_real_browser() {
    let Some(db) = TestDb::postgres().await else {
        return;
    };
    let Target::Postgres { url, schema } = &db.target else {
        unreachable!()
    };
    scenario(&db, url, Some(schema), false).await;
}

// ---------------------------------------------------------------------------------------
// The browser

pub(crate) struct Driver {
    child: Child,
    port: u16,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn found(env: &str, default: &str) -> Option<PathBuf> {
    let path = std::env::var_os(env).map_or_else(|| PathBuf::from(default), PathBuf::from);
    path.exists().then_some(path)
}

/// Chromium and chromedriver, installed from Debian's packages when missing (as root).
fn browser() -> (PathBuf, PathBuf) {
    // Both tests of this file run at once: one apt-get at a time.
    static INSTALL: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _one = INSTALL.lock().unwrap_or_else(|e| e.into_inner());
    let look = || {
        Some((
            found("RABAT_CHROMIUM", "/usr/bin/chromium")?,
            found("RABAT_CHROMEDRIVER", "/usr/bin/chromedriver")?,
        ))
    };
    if let Some(both) = look() {
        return both;
    }
    assert!(
        rustix::process::geteuid().is_root(),
        "the console test needs Chromium and chromedriver: install Debian's packages \
         (`apt-get install -y chromium chromium-driver`) or set RABAT_CHROMIUM and \
         RABAT_CHROMEDRIVER"
    );
    eprintln!("chromium/chromedriver missing: installing Debian's packages");
    for args in [
        &["update"][..],
        &[
            "install",
            "-y",
            "--no-install-recommends",
            "chromium",
            "chromium-driver",
        ][..],
    ] {
        let status = Command::new("apt-get")
            .args(args)
            .env("DEBIAN_FRONTEND", "noninteractive")
            .status()
            .expect("running apt-get");
        assert!(status.success(), "apt-get {args:?} failed: {status}");
    }
    look().expect("chromium and chromedriver are still missing after apt-get install")
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub(crate) async fn start_browser() -> (Driver, Client) {
    let (chromium, chromedriver) = browser();
    let port = free_port();
    let child = Command::new(&chromedriver)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("starting chromedriver");
    let driver = Driver { child, port };
    let started = Instant::now();
    while tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .is_err()
    {
        assert!(started.elapsed() < WAIT, "chromedriver did not start");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        json!({
            "binary": chromium,
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu",
                     "--disable-dev-shm-usage", "--window-size=1280,1000",
                     "--force-device-scale-factor=1", "--lang=en-US"],
        }),
    );
    // Chromium's own console (what a merchant sees in the developer tools), read back
    // with `browser_log`.
    caps.insert("goog:loggingPrefs".into(), json!({"browser": "ALL"}));
    let connector = hyper_util::client::legacy::connect::HttpConnector::new();
    let client = ClientBuilder::new(connector)
        .capabilities(caps)
        .connect(&format!("http://127.0.0.1:{}", driver.port))
        .await
        .expect("a WebDriver session with headless Chromium");
    (driver, client)
}

// ---------------------------------------------------------------------------------------
// Small steps

/// Waits until an element matching `css` has text containing `needle`; returns its text.
pub(crate) async fn wait_text(c: &Client, css: &str, needle: &str) -> String {
    let started = Instant::now();
    loop {
        if let Ok(elements) = c.find_all(Locator::Css(css)).await {
            for element in elements {
                if let Ok(text) = element.text().await
                    && text.contains(needle)
                {
                    return text;
                }
            }
        }
        if started.elapsed() > WAIT {
            let body = page_text(c).await;
            panic!("no `{css}` containing {needle:?} within {WAIT:?}; the page says:\n{body}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

pub(crate) async fn page_text(c: &Client) -> String {
    c.execute("return document.body.innerText", vec![])
        .await
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

pub(crate) async fn wait_find(c: &Client, css: &str) -> fantoccini::elements::Element {
    let started = Instant::now();
    loop {
        if let Ok(element) = c.find(Locator::Css(css)).await
            && element.is_displayed().await.unwrap_or(false)
        {
            return element;
        }
        if started.elapsed() > WAIT {
            let body = page_text(c).await;
            panic!("no visible `{css}` within {WAIT:?}; the page says:\n{body}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Clicks the first visible element matching `css`, finding it again when the page
/// re-rendered it between the find and the click (a stale element reference).
pub(crate) async fn wait_click(c: &Client, css: &str) {
    let started = Instant::now();
    loop {
        let element = wait_find(c, css).await;
        match element.click().await {
            Ok(_) => return,
            Err(error) if started.elapsed() > WAIT => {
                panic!("`{css}` could not be clicked within {WAIT:?}: {error}")
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
}

pub(crate) async fn click_button(c: &Client, text: &str) {
    let xpath = format!("//button[normalize-space()='{text}'] | //a[normalize-space()='{text}']");
    let started = Instant::now();
    loop {
        if let Ok(elements) = c.find_all(Locator::XPath(&xpath)).await {
            for element in elements {
                if element.is_displayed().await.unwrap_or(false)
                    && element.is_enabled().await.unwrap_or(false)
                {
                    element.click().await.unwrap();
                    return;
                }
            }
        }
        if started.elapsed() > WAIT {
            panic!("no button {text:?}; the page says:\n{}", page_text(c).await);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

pub(crate) async fn fill(c: &Client, css: &str, text: &str) {
    let element = wait_find(c, css).await;
    element.clear().await.unwrap();
    element.send_keys(text).await.unwrap();
}

/// Sets a textarea's value as a paste would (typing long JSON key by key is slow).
async fn paste(c: &Client, css: &str, text: &str) {
    let element = wait_find(c, css).await;
    let arg = serde_json::to_value(&element).unwrap();
    c.execute(
        "arguments[0].value = arguments[1]; arguments[0].dispatchEvent(new Event('input'));",
        vec![arg, json!(text)],
    )
    .await
    .unwrap();
}

pub(crate) async fn go(c: &Client, base: &str, route: &str) {
    c.goto(&format!("{base}/console/#/{route}")).await.unwrap();
}

/// Saves a screenshot of the window, scrolled to `at` (a CSS selector) when given.
pub(crate) async fn shot(c: &Client, save: bool, name: &str, at: Option<&str>) {
    if !save {
        return;
    }
    // The README's screenshots are refreshed on request only, so an ordinary test run
    // leaves the work tree clean: RABAT_UPDATE_SCREENSHOTS=1 cargo test … console.
    let dir = if std::env::var_os("RABAT_UPDATE_SCREENSHOTS").is_some() {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/console")
    } else {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/console-screenshots")
    };
    std::fs::create_dir_all(&dir).unwrap();
    if let Some(css) = at {
        let element = wait_find(c, css).await;
        let arg = serde_json::to_value(&element).unwrap();
        c.execute("arguments[0].scrollIntoView({block: 'start'})", vec![arg])
            .await
            .unwrap();
    } else {
        c.execute("window.scrollTo(0, 0)", vec![]).await.unwrap();
    }
    // Let charts and fonts settle.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let png = c.screenshot().await.unwrap();
    std::fs::write(dir.join(format!("{name}.png")), png).unwrap();
}

/// Confirms the open dialog after checking it says `says`.
pub(crate) async fn confirm(c: &Client, says: &str) {
    wait_text(c, "#confirm-body", says).await;
    c.find(Locator::Css("#confirm-ok"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
}

// ---------------------------------------------------------------------------------------
// HTTP, as the tills and the test's own checks

pub(crate) async fn api(
    server: &Server,
    method: &str,
    path: &str,
    token: &str,
    body: &str,
) -> (u16, Value) {
    let (status, text) = server.call(method, path, Some(token), body).await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// The raw response (head and body) of a GET, to read headers.
async fn raw_get(port: u16, path: &str) -> String {
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    let request = format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut out = Vec::new();
    stream.read_to_end(&mut out).await.unwrap();
    String::from_utf8_lossy(&out).into_owned()
}

async fn evaluations(server: &Server, merchant: &str, key: &str, outcome: &str) -> Vec<Value> {
    let path = format!("/admin/v1/merchants/{merchant}/evaluations?outcome={outcome}");
    let (status, body) = api(server, "GET", &path, key, "").await;
    assert_eq!(status, 200, "{body}");
    body["items"].as_array().cloned().unwrap_or_default()
}

/// Waits until the evaluation log (written in the background) holds `n` runs.
async fn logged(server: &Server, merchant: &str, key: &str, outcome: &str, n: usize) {
    let started = Instant::now();
    while evaluations(server, merchant, key, outcome).await.len() < n {
        assert!(started.elapsed() < WAIT, "{n} {outcome} runs never logged");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Writes runs for 12 earlier UTC days into the log (days 1 to 12 back): per day some
/// answers with a discount of 5.00 or 2.50 (and one of 0.00, not counted as a discount)
/// and some traps. Returns (days back, answers, traps, discount total).
async fn seed_history(db: &TestDb) -> Vec<(usize, u64, u64, String)> {
    const DAY: i64 = 86_400_000;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let today = now.div_euclid(DAY) * DAY;
    let mut rows = Vec::new();
    let mut seeded = Vec::new();
    for back in 1..=12usize {
        let fives = 6 + (back * 7) % 11;
        let halves = 2 + back % 4;
        let traps = (back % 3) as u64;
        let at = today - back as i64 * DAY + 9 * 3_600_000;
        let mut n = 0;
        let mut row = |outcome: &str, discount: Option<&str>| {
            n += 1;
            let order_id = format!("H-{back}-{n}");
            rows.push(EvaluationRecord {
                merchant_id: "shop".into(),
                at: at + n * 60_000,
                order_id: order_id.clone(),
                card_id: Some("memberCardId".into()),
                policy_version: Some(1),
                outcome: outcome.into(),
                total_discount: discount.map(|d| d.parse().unwrap()),
                fuel: Some(1000),
                duration_us: 900,
                request: json!({"orderId": order_id, "currency": "EUR"}),
                card: None,
                response: None,
                logs: json!([]),
                error: None,
            });
        };
        for _ in 0..fives {
            row("answer", Some("5.00"));
        }
        for _ in 0..halves {
            row("answer", Some("2.50"));
        }
        row("answer", Some("0.00"));
        for _ in 0..traps {
            row("trap", None);
        }
        let cents = fives * 500 + halves * 250;
        seeded.push((
            back,
            (fives + halves + 1) as u64,
            traps,
            format!("{}.{:02}", cents / 100, cents % 100),
        ));
    }
    // Through the store, as the evaluation writer would have (compressed, with expiry).
    db.store.insert_evaluations(&rows).await.unwrap();
    seeded
}

fn bill(order_id: &str) -> String {
    let mut bill: Value =
        serde_json::from_slice(&data("bills/papaya-discount-request.json")).unwrap();
    bill["orderId"] = json!(order_id);
    bill.to_string()
}

// ---------------------------------------------------------------------------------------
// The scenario

async fn scenario(db: &TestDb, database_url: &str, schema: Option<&str>, save: bool) {
    // Build the policies first: that is not what the waits below are about.
    let tier = example("tier-discount");
    let trap = fixture("panic");
    let started = Instant::now();
    // A secrets key, so the BIFIT connector can keep its tokens.
    let secrets = ["--secrets-key", crate::common::app::TEST_SECRETS_KEY];
    let server = Server::start_with(database_url, schema, &secrets).await;
    let base = format!("http://127.0.0.1:{}", server.port);

    // The page and its assets: headers, types, redirect, 404.
    let page = raw_get(server.port, "/console/").await.to_lowercase();
    assert!(page.starts_with("http/1.1 200"), "{page}");
    for header in [
        "content-type: text/html; charset=utf-8",
        "content-security-policy: default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
        "x-content-type-options: nosniff",
        "referrer-policy: no-referrer",
        "cache-control: no-cache",
        "etag: \"",
    ] {
        assert!(page.contains(header), "/console/ lacks `{header}`:\n{page}");
    }
    assert!(
        !page.contains(" style=") && !page.contains("<script>"),
        "inline script or style"
    );
    let js = raw_get(server.port, "/console/assets/app.js")
        .await
        .to_lowercase();
    assert!(js.contains("content-type: text/javascript"), "{js}");
    let css = raw_get(server.port, "/console/assets/console.css")
        .await
        .to_lowercase();
    assert!(css.contains("content-type: text/css"), "{css}");
    let moved = raw_get(server.port, "/console").await.to_lowercase();
    assert!(
        moved.starts_with("http/1.1 308") && moved.contains("location: /console/"),
        "{moved}"
    );
    let missing = raw_get(server.port, "/console/assets/nope.js").await;
    assert!(missing.starts_with("HTTP/1.1 404"), "{missing}");
    // The console is not API: not in the OpenAPI document.
    let (_, spec) = server.call("GET", "/openapi.json", None, "").await.unwrap();
    assert!(!spec.contains("/console"));

    // Two merchants, made by the operator over HTTP.
    let mut keys = Vec::new();
    for (id, name) in [("shop", "Corner Café"), ("other", "Other Shop")] {
        let body = json!({"id": id, "name": name}).to_string();
        let (status, made) = api(&server, "POST", "/admin/v1/merchants", OPERATOR, &body).await;
        assert_eq!(status, 201, "{made}");
        keys.push((
            made["apiKey"].as_str().unwrap().to_owned(),
            made["posToken"].as_str().unwrap().to_owned(),
        ));
    }
    let (key, pos) = keys[0].clone();
    let (other_key, _) = keys[1].clone();
    // The sample gold card's identity (its visits and spend are the ledger's).
    let gold = json!({"customerId": "cust-0042", "name": "Jana Nováková", "tier": "gold",
                      "tags": ["newsletter"], "points": 3});
    let (status, made) = api(
        &server,
        "PUT",
        "/admin/v1/merchants/shop/cards/memberCardId",
        &key,
        &gold.to_string(),
    )
    .await;
    assert_eq!(status, 201, "{made}");
    let secret = json!({"name": "Secret Customer B", "tier": "gold"}).to_string();
    let (status, _) = api(
        &server,
        "PUT",
        "/admin/v1/merchants/other/cards/secret-card-b",
        &other_key,
        &secret,
    )
    .await;
    assert_eq!(status, 201);

    let (_driver, c) = start_browser().await;

    // A wrong key is refused, in the API's words.
    go(&c, &base, "overview").await;
    wait_text(&c, "h1", "Sign in").await;
    fill(&c, "input[name=merchant]", "shop").await;
    fill(&c, "input[name=apiKey]", "not-the-key").await;
    click_button(&c, "Sign in").await;
    wait_text(&c, ".error .api-message", "The API key is not valid").await;
    shot(&c, save, "sign-in", None).await;

    // Signed in: no policy yet.
    fill(&c, "input[name=apiKey]", &key).await;
    click_button(&c, "Sign in").await;
    wait_text(&c, "h1", "Overview").await;
    wait_text(&c, ".empty", "No policy is active").await;
    wait_text(&c, "#who", "Merchant shop").await;
    // From here on the tab stays one document (only the hash changes): collect any CSP
    // violation and any script error until sign-out.
    // (One reload below, of a run's own page, starts a new document: the problems so far
    // are checked then, and collecting starts again.)
    c.execute(WATCH_PROBLEMS, vec![]).await.unwrap();
    let url = c.current_url().await.unwrap().to_string();
    assert!(!url.contains(&key), "the key is in the URL: {url}");
    let cookies = c.execute("return document.cookie", vec![]).await.unwrap();
    assert_eq!(cookies, json!(""), "sign-in made a cookie");

    // Upload: a module rabat refuses shows rabat's reason, word for word.
    let dir = tempfile::tempdir().unwrap();
    let junk = dir.path().join("junk.wasm");
    std::fs::write(&junk, b"this is not wasm").unwrap();
    let (status, refusal) = api(
        &server,
        "POST",
        "/admin/v1/merchants/other/policies",
        &other_key,
        "this is not wasm",
    )
    .await;
    assert_eq!(status, 422, "{refusal}");
    go(&c, &base, "policies").await;
    wait_text(&c, "h1", "Policies").await;
    wait_text(&c, ".empty", "No policy uploaded yet").await;
    wait_find(&c, "input[name=wasm]")
        .await
        .send_keys(junk.to_str().unwrap())
        .await
        .unwrap();
    click_button(&c, "Upload").await;
    let shown = wait_text(&c, ".upload-result .api-message", "").await;
    assert_eq!(shown, refusal["message"].as_str().unwrap());

    // Upload the tier discount.
    let tier_path = dir.path().join("tier-discount.wasm");
    std::fs::write(&tier_path, &tier).unwrap();
    wait_find(&c, "input[name=wasm]")
        .await
        .send_keys(tier_path.to_str().unwrap())
        .await
        .unwrap();
    fill(&c, "input[name=note]", "gold 10%").await;
    click_button(&c, "Upload").await;
    wait_text(&c, ".upload-result", "Version 1 uploaded").await;
    wait_text(&c, "table", "gold 10%").await;

    // Config: a refusal shown in place, then saved.
    go(&c, &base, "config").await;
    wait_text(&c, "h1", "Policy config").await;
    paste(&c, "textarea[name=config]", "{\"tiers\": ").await;
    click_button(&c, "Save config").await;
    wait_text(&c, "#config-problem", "Not JSON").await;
    let (status, not_object) = api(
        &server,
        "PUT",
        "/admin/v1/merchants/other/policy-config",
        &other_key,
        "[1]",
    )
    .await;
    assert_eq!(status, 400);
    paste(&c, "textarea[name=config]", "[1]").await;
    click_button(&c, "Save config").await;
    let shown = wait_text(&c, "#config-problem .api-message", "").await;
    assert_eq!(shown, not_object["message"].as_str().unwrap());
    paste(
        &c,
        "textarea[name=config]",
        "{\"tiers\": {\"gold\": 10, \"silver\": 5}}",
    )
    .await;
    click_button(&c, "Save config").await;
    wait_text(&c, "#config-problem", "Saved.").await;

    // Activate version 1, confirming what changes.
    go(&c, &base, "policies").await;
    wait_find(&c, "button[data-version='1']")
        .await
        .click()
        .await
        .unwrap();
    confirm(&c, "No policy is active now").await;
    wait_text(&c, ".badge.ok", "active").await;

    // The tills ask (endpoint 1, POS token): three bills, 10% of 50.00 each.
    for order in ["A-1001", "A-1002", "00123487979878"] {
        let (status, body) = api(
            &server,
            "POST",
            "/pos/papaya/v1/discounts",
            &pos,
            &bill(order),
        )
        .await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["totalDiscount"].to_string(), "5.00");
    }
    logged(&server, "shop", &key, "answer", 3).await;

    // Try it on a recorded bill: the amounts the till would get.
    go(&c, &base, "policies/1/try").await;
    wait_text(&c, "h1", "Try version 1").await;
    wait_text(&c, "select[name=bill]", "00123487979878").await;
    click_button(&c, "Run").await;
    wait_text(&c, ".total-discount", "5.00 EUR").await;
    wait_text(&c, "td.amount", "5.00 EUR").await;
    wait_text(&c, ".try-result", "Fuel").await;
    wait_text(&c, ".cashier-message", "10% gold member discount").await;
    shot(&c, save, "try-it", Some(".try-result")).await;

    // A pasted bill and an inline card: a silver card gets 5%.
    let silver = json!({"tier": "silver"}).to_string();
    paste(&c, "textarea[name=card]", &silver).await;
    click_button(&c, "Run").await;
    wait_text(&c, ".total-discount", "2.50 EUR").await;

    // Upload a policy that traps, and replay the recorded bills against it.
    go(&c, &base, "policies").await;
    let trap_path = dir.path().join("panic.wasm");
    std::fs::write(&trap_path, &trap).unwrap();
    wait_find(&c, "input[name=wasm]")
        .await
        .send_keys(trap_path.to_str().unwrap())
        .await
        .unwrap();
    fill(&c, "input[name=note]", "panics").await;
    click_button(&c, "Upload").await;
    wait_text(&c, ".upload-result", "Version 2 uploaded").await;
    go(&c, &base, "policies/2/replay").await;
    wait_text(&c, "h1", "Replay version 2").await;
    click_button(&c, "Replay").await;
    wait_text(&c, ".orders-compared", "3").await;
    wait_text(&c, ".orders-changed", "3").await;
    wait_text(&c, ".replay-result", "Failures by outcome: trap 3").await;
    wait_text(&c, ".replay-result td.difference", "-15.00 EUR").await;
    wait_find(&c, ".replay-result svg.chart").await;
    wait_text(&c, ".replay-result table", "A-1001").await;
    shot(&c, save, "replay", Some(".replay-result")).await;
    // Each changed order links to its logged run, which opens on a page of its own.
    let link = wait_find(&c, ".replay-result a.evaluation-link").await;
    let href = link.attr("href").await.unwrap().unwrap_or_default();
    assert!(href.starts_with("#/evaluations/"), "{href}");
    let order = link.text().await.unwrap();
    link.click().await.unwrap();
    wait_text(&c, "h1", "Run ").await;
    wait_text(&c, ".detail h2", &format!("order {order}")).await;
    wait_text(&c, ".detail", "Bill (as the policy saw it)").await;
    // A run that is not in the log: the API's own words, no page of nothing.
    go(&c, &base, "evaluations/999999999").await;
    wait_text(
        &c,
        ".error .api-message",
        "evaluation '999999999' not found",
    )
    .await;
    wait_text(&c, ".error", "error 9").await;
    go(&c, &base, "policies/2/replay").await;
    wait_text(&c, "h1", "Replay version 2").await;
    // Since a day: today has the three bills, tomorrow none (an empty state, not an error).
    let today = time::OffsetDateTime::now_utc().date();
    wait_find(&c, "select[name=mode]")
        .await
        .select_by_value("since")
        .await
        .unwrap();
    for (day, compared) in [(today, "3"), (today.next_day().unwrap(), "0")] {
        paste(&c, "input[name=since]", &day.to_string()).await;
        click_button(&c, "Replay").await;
        wait_text(&c, ".orders-compared", compared).await;
    }
    wait_text(
        &c,
        ".replay-result .empty",
        "No recorded bill in this range",
    )
    .await;

    // Activate it (the confirmation names both versions); the till gets the fail-safe.
    go(&c, &base, "policies").await;
    wait_find(&c, "button[data-version='2']")
        .await
        .click()
        .await
        .unwrap();
    confirm(&c, "now run version 1").await;
    wait_find(&c, "button[data-version='1']").await;
    let started_trap = Instant::now();
    loop {
        let (status, body) = api(
            &server,
            "POST",
            "/pos/papaya/v1/discounts",
            &pos,
            &bill("A-2001"),
        )
        .await;
        assert_eq!(status, 200, "{body}");
        if body["discounts"] == json!([]) {
            break;
        }
        assert!(started_trap.elapsed() < WAIT, "version 2 never ran: {body}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    logged(&server, "shop", &key, "trap", 1).await;

    // The failing run in the evaluation log, opened.
    go(&c, &base, "evaluations").await;
    wait_text(&c, "h1", "Evaluations").await;
    wait_find(&c, "select[name=outcome]")
        .await
        .select_by_value("trap")
        .await
        .unwrap();
    wait_text(&c, "table", "A-2001").await;
    // (The list re-renders when the filter's answer arrives: find the button again then.)
    wait_click(&c, "button[data-evaluation]").await;
    wait_text(&c, ".detail h2", "order A-2001").await;
    let error = wait_text(&c, ".evaluation-error", "").await;
    assert!(!error.is_empty());
    wait_text(&c, ".detail", "Bill (as the policy saw it)").await;
    shot(&c, save, "evaluations", Some(".toolbar")).await;
    // The order in the list links to the run's own page, which can be reloaded as it is.
    wait_find(&c, "table a.evaluation-link")
        .await
        .click()
        .await
        .unwrap();
    wait_text(&c, "h1", "Run ").await;
    wait_text(&c, ".detail h2", "order A-2001").await;
    let address = c.current_url().await.unwrap();
    assert!(
        address
            .fragment()
            .unwrap_or("")
            .starts_with("/evaluations/"),
        "{address}"
    );
    let problems = c.execute("return window.problems", vec![]).await.unwrap();
    assert_eq!(problems, json!([]), "CSP violations or script errors");
    c.refresh().await.unwrap();
    c.execute(WATCH_PROBLEMS, vec![]).await.unwrap();
    wait_text(&c, ".detail h2", "order A-2001").await;
    wait_text(&c, ".evaluation-error", "").await;

    // Roll back to version 1.
    go(&c, &base, "policies").await;
    let rollback = wait_find(&c, "button[data-version='1']").await;
    assert_eq!(rollback.text().await.unwrap(), "Roll back");
    rollback.click().await.unwrap();
    confirm(&c, "roll back").await;
    wait_find(&c, "button[data-version='2']").await;
    let (_, list) = api(
        &server,
        "GET",
        "/admin/v1/merchants/shop/policies",
        &key,
        "",
    )
    .await;
    assert_eq!(list["activeVersion"], json!(1), "{list}");
    shot(&c, save, "policies", None).await;

    // Endpoint 2 records the bill; the card's ledger shows it. Then adjust points.
    let closed = data("bills/papaya-transaction.json");
    let (status, body) = api(
        &server,
        "POST",
        "/pos/papaya/v1/transactions",
        &pos,
        std::str::from_utf8(&closed).unwrap(),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    go(&c, &base, "cards").await;
    wait_text(&c, "h1", "Cards").await;
    wait_find(&c, "select[name=by]")
        .await
        .select_by_value("customer")
        .await
        .unwrap();
    fill(&c, "input[name=q]", "cust-0042").await;
    click_button(&c, "Find").await;
    wait_text(&c, "h1", "Card memberCardId").await;
    wait_text(&c, "table", "00123487979878").await;
    wait_text(&c, "table", "25.50").await;
    fill(&c, "input[name=delta]", "7").await;
    fill(&c, "input[name=reason]", "birthday present").await;
    click_button(&c, "Adjust points").await;
    wait_text(&c, "table", "birthday present").await;
    wait_text(&c, "table", "+7").await;
    shot(&c, save, "card", None).await;

    // A till's hold on the card (written as endpoint 1 writes one), released from the
    // card page: audited, and the points are available again at once.
    let now = rabat::clock::now_ms();
    db.store
        .hold_points("shop", "memberCardId", "open-bill", now, 3_600_000, |_| {
            let hold = rabat::store::NewHold {
                points: 5,
                offer: "{}".into(),
            };
            (Some(hold), ())
        })
        .await
        .unwrap();
    go(&c, &base, "cards").await;
    go(&c, &base, "cards/memberCardId").await;
    wait_find(&c, "button.release-holds").await;
    click_button(&c, "Release holds").await;
    confirm(&c, "become available again now").await;
    let started_release = Instant::now();
    loop {
        let buttons = c
            .find_all(Locator::Css("button.release-holds"))
            .await
            .unwrap();
        if buttons.is_empty() && page_text(&c).await.contains("Card memberCardId") {
            break;
        }
        assert!(
            started_release.elapsed() < WAIT,
            "the holds were not released: {}",
            page_text(&c).await
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let path = "/admin/v1/merchants/shop/cards/memberCardId";
    let (status, card) = api(&server, "GET", path, &key, "").await;
    assert_eq!(
        (status, card["heldPoints"].as_i64()),
        (200, Some(0)),
        "{card}"
    );
    let (status, audit) = api(&server, "GET", "/admin/v1/merchants/shop/audit", &key, "").await;
    assert_eq!(status, 200, "{audit}");
    let release = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|row| row["action"] == "card.holds_release")
        .unwrap_or_else(|| panic!("no card.holds_release in {audit}"));
    assert_eq!(release["detail"]["releasedPoints"], 5, "{release}");

    // The overview: active version, charts of calls and discounts. The log gets twelve
    // earlier days of runs first (written straight to the table, as the evaluation writer
    // would have), so the charts and the daily figures span several days.
    let seeded = seed_history(db).await;
    go(&c, &base, "overview").await;
    wait_text(&c, ".active-version", "v1").await;
    wait_text(&c, ".facts", "by merchant:shop").await;
    wait_find(&c, "svg.chart[aria-label^='Endpoint-1 calls per day']").await;
    wait_find(
        &c,
        "svg.chart[aria-label^='Discount amount per day in EUR']",
    )
    .await;
    wait_text(&c, ".kpi", "Endpoint-1 calls").await;
    shot(&c, save, "overview", None).await;
    shot(&c, save, "overview-charts", Some(".kpis")).await;
    let (status, stats) = api(
        &server,
        "GET",
        "/admin/v1/merchants/shop/stats?days=7",
        &key,
        "",
    )
    .await;
    assert_eq!(status, 200, "{stats}");
    let today = stats["items"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(today["outcomes"]["answer"], json!(3), "{today}");
    assert_eq!(
        today["discounts"][0]["amount"].to_string(),
        "15.00",
        "{today}"
    );
    let (status, stats) = api(&server, "GET", "/admin/v1/merchants/shop/stats", &key, "").await;
    assert_eq!(status, 200, "{stats}");
    let items = stats["items"].as_array().unwrap();
    assert_eq!(items.len(), 14, "14 days by default, every day present");
    for (back, answers, traps, amount) in &seeded {
        let day = &items[13 - back];
        assert_eq!(day["outcomes"]["answer"], json!(answers), "{day}");
        assert_eq!(
            day["outcomes"].get("trap").cloned().unwrap_or(json!(0)),
            json!(traps),
            "{day}"
        );
        assert_eq!(day["calls"], json!(answers + traps), "{day}");
        assert_eq!(day["discounts"][0]["amount"].to_string(), *amount, "{day}");
        assert_eq!(day["discounts"][0]["currency"], json!("EUR"), "{day}");
    }
    for (query, status_wanted) in [
        ("?days=0", 400),
        ("?days=91", 400),
        ("?days=x", 400),
        ("?weeks=2", 400),
        ("?days=90", 200),
    ] {
        let path = format!("/admin/v1/merchants/shop/stats{query}");
        let (status, body) = api(&server, "GET", &path, &key, "").await;
        assert_eq!(status, status_wanted, "{query}: {body}");
    }
    let (status, body) = api(&server, "GET", "/admin/v1/merchants/other/stats", &key, "").await;
    assert_eq!(status, 403, "{body}");

    // Audit trail, POS tokens (issue, revoke), BIFIT (no connector yet).
    go(&c, &base, "audit").await;
    wait_text(&c, "table", "policy.activate").await;
    go(&c, &base, "tokens").await;
    wait_text(&c, "h1", "POS tokens").await;
    click_button(&c, "Issue a POS token").await;
    let token = wait_text(&c, ".secret .pos-token", "").await;
    let (status, _) = api(
        &server,
        "POST",
        "/pos/papaya/v1/discounts",
        &token,
        &bill("T-1"),
    )
    .await;
    assert_eq!(status, 200);
    let revoke = c
        .find_all(Locator::XPath("//button[normalize-space()='Revoke']"))
        .await
        .unwrap();
    assert_eq!(revoke.len(), 2);
    revoke[1].click().await.unwrap();
    confirm(&c, "refused from now on").await;
    wait_text(&c, "table", "UTC").await;
    let started_revoke = Instant::now();
    loop {
        let (status, _) = api(
            &server,
            "POST",
            "/pos/papaya/v1/discounts",
            &token,
            &bill("T-2"),
        )
        .await;
        if status == 401 {
            break;
        }
        assert!(
            started_revoke.elapsed() < WAIT,
            "the revoked token still works"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    go(&c, &base, "bifit").await;
    wait_text(&c, ".empty", "No BIFIT connector is set up").await;
    wait_text(&c, ".empty", "No BIFIT order tracked yet").await;
    // Connecting BIFIT: a refusal in the API's words, then settings that never show a token.
    let bifit_secret = "bifit-access-token-never-shown";
    fill(&c, "input[name=baseUrl]", "http://127.0.0.1:9").await;
    fill(&c, "input[name=accessToken]", bifit_secret).await;
    click_button(&c, "Connect").await;
    wait_text(&c, ".api-message", "must be an https:// URL").await;
    fill(&c, "input[name=baseUrl]", "https://kassa.example.com").await;
    fill(
        &c,
        "input[name=tokenUrl]",
        "https://kassa.example.com/token",
    )
    .await;
    click_button(&c, "Connect").await;
    wait_text(&c, ".api-message", "refreshToken and tokenUrl go together").await;
    fill(&c, "input[name=tokenUrl]", "").await;
    click_button(&c, "Connect").await;
    wait_text(&c, ".facts", "set (never shown)").await;
    wait_text(&c, ".facts", "https://kassa.example.com").await;
    assert!(!c.source().await.unwrap().contains(bifit_secret));
    assert!(!page_text(&c).await.contains(bifit_secret));

    let problems = c.execute("return window.problems", vec![]).await.unwrap();
    assert_eq!(problems, json!([]), "CSP violations or script errors");

    // Sign out: the key is gone from the tab.
    click_button(&c, "Sign out").await;
    wait_text(&c, "h1", "Sign in").await;
    let stored = c
        .execute("return sessionStorage.length", vec![])
        .await
        .unwrap();
    assert_eq!(stored, json!(0));
    go(&c, &base, "cards").await;
    wait_text(&c, "h1", "Sign in").await;

    // One merchant never sees another's data: shop's key on other's pages is the API's 403.
    fill(&c, "input[name=merchant]", "other").await;
    fill(&c, "input[name=apiKey]", &key).await;
    click_button(&c, "Sign in").await;
    wait_text(
        &c,
        ".error .api-message",
        "This API key belongs to another merchant",
    )
    .await;
    let session = json!({"kind": "merchant", "merchant": "other", "key": key}).to_string();
    c.execute(
        "sessionStorage.setItem('rabat.console.session', arguments[0])",
        vec![json!(session)],
    )
    .await
    .unwrap();
    go(&c, &base, "cards").await;
    c.refresh().await.unwrap();
    wait_text(
        &c,
        ".error .api-message",
        "This API key belongs to another merchant",
    )
    .await;
    assert!(!page_text(&c).await.contains("secret-card-b"));
    go(&c, &base, "overview").await;
    wait_text(
        &c,
        ".error .api-message",
        "This API key belongs to another merchant",
    )
    .await;
    click_button(&c, "Sign out").await;

    // The operator creates a merchant; its key is shown once and signs in.
    wait_text(&c, "h1", "Sign in").await;
    fill(&c, "input[name=operatorToken]", "wrong-operator").await;
    click_button(&c, "Sign in as operator").await;
    wait_text(&c, ".error .api-message", "operator token is not valid").await;
    fill(&c, "input[name=operatorToken]", OPERATOR).await;
    click_button(&c, "Sign in as operator").await;
    wait_text(&c, "h1", "Operator").await;
    fill(&c, "input[name=id]", "bakery").await;
    fill(&c, "input[name=name]", "The Bakery").await;
    click_button(&c, "Create merchant").await;
    let new_key = wait_text(&c, ".secret .api-key", "").await;
    wait_text(&c, ".secret .pos-token", "").await;
    click_button(&c, "Sign out").await;
    fill(&c, "input[name=merchant]", "bakery").await;
    fill(&c, "input[name=apiKey]", &new_key).await;
    click_button(&c, "Sign in").await;
    wait_text(&c, "h2", "The Bakery (bakery)").await;

    // A tablet-sized window still shows the navigation and the page.
    c.set_window_size(820, 1100).await.unwrap();
    go(&c, &base, "policies").await;
    wait_text(&c, "nav", "Evaluations").await;
    wait_text(&c, ".empty", "No policy uploaded yet").await;
    shot(&c, save, "tablet", None).await;

    c.close().await.unwrap();
    eprintln!("console scenario took {:?}", started.elapsed());
}

// ---------------------------------------------------------------------------------------
// Chromium's console log

/// chromedriver's `POST /session/{id}/se/log` for the `browser` log: what Chromium's
/// console printed since the last read (errors such as a failed load are `SEVERE`).
#[derive(Debug)]
struct BrowserLog;

impl fantoccini::wd::WebDriverCompatibleCommand for BrowserLog {
    fn endpoint(
        &self,
        base_url: &url::Url,
        session_id: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        base_url.join(&format!(
            "session/{}/se/log",
            session_id.unwrap_or_default()
        ))
    }

    fn method_and_body(&self, _: &url::Url) -> (axum::http::Method, Option<String>) {
        (
            axum::http::Method::POST,
            Some(json!({"type": "browser"}).to_string()),
        )
    }
}

/// The console's errors and warnings since the last call.
/// Opens the console at `base` and signs in as `merchant` with its API key; returns once
/// the Overview shows.
pub(crate) async fn sign_in(c: &Client, base: &str, merchant: &str, key: &str) {
    go(c, base, "overview").await;
    wait_text(c, "h1", "Sign in").await;
    fill(c, "input[name=merchant]", merchant).await;
    fill(c, "input[name=apiKey]", key).await;
    click_button(c, "Sign in").await;
    wait_text(c, "h1", "Overview").await;
}

pub(crate) async fn browser_problems(c: &Client) -> Vec<String> {
    let log = c
        .issue_cmd(BrowserLog)
        .await
        .expect("reading Chromium's log");
    log.as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .filter(|entry| entry["level"] != "INFO" && entry["level"] != "DEBUG")
        .map(|entry| format!("{}: {}", entry["level"], entry["message"]))
        .collect()
}

/// Waits until `css` matches `n` elements; returns them.
async fn wait_count(c: &Client, css: &str, n: usize) -> Vec<fantoccini::elements::Element> {
    let started = Instant::now();
    loop {
        let found = c.find_all(Locator::Css(css)).await.unwrap_or_default();
        if found.len() == n {
            return found;
        }
        if started.elapsed() > WAIT {
            panic!(
                "{} `{css}`, not {n}, within {WAIT:?}; the page says:\n{}",
                found.len(),
                page_text(c).await
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A merchant's first visit and the lists of this round: the sign-in page offers no
/// "Sign out", nothing fails to load (the browser asks for an icon: there is one), the
/// policy list has a contract column, and a customer's cards come a page at a time.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn console_loads_cleanly_and_pages_a_customers_cards() {
    let tier = example("tier-discount");
    let db = TestDb::sqlite().await;
    let Target::Sqlite { path, .. } = &db.target else {
        unreachable!()
    };
    let server = Server::start(&format!("sqlite://{}", path.display()), None).await;
    let base = format!("http://127.0.0.1:{}", server.port);
    let body = json!({"id": "shop", "name": "Corner Café"}).to_string();
    let (status, made) = api(&server, "POST", "/admin/v1/merchants", OPERATOR, &body).await;
    assert_eq!(status, 201, "{made}");
    let key = made["apiKey"].as_str().unwrap().to_owned();

    // The icon a browser asks for, at the origin and where the page declares it.
    for path in ["/favicon.ico", "/console/assets/favicon.svg"] {
        let icon = raw_get(server.port, path).await.to_lowercase();
        assert!(icon.starts_with("http/1.1 200"), "{path}: {icon}");
        assert!(
            icon.contains("content-type: image/svg+xml"),
            "{path}: {icon}"
        );
        assert!(icon.contains("<svg"), "{path}: {icon}");
    }

    let (_driver, c) = start_browser().await;
    go(&c, &base, "overview").await;
    wait_text(&c, "h1", "Sign in").await;
    // Nobody signed in: no "Sign out" to see or press.
    let signout = c.find(Locator::Css("#signout")).await.unwrap();
    assert!(
        !signout.is_displayed().await.unwrap(),
        "the sign-in page shows a Sign out button"
    );
    assert!(
        page_text(&c).await.lines().all(|l| l.trim() != "Sign out"),
        "{}",
        page_text(&c).await
    );
    let icon = c
        .execute(
            "return document.querySelector('link[rel=icon]').href",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(icon, json!(format!("{base}/console/assets/favicon.svg")));
    fill(&c, "input[name=merchant]", "shop").await;
    fill(&c, "input[name=apiKey]", &key).await;
    click_button(&c, "Sign in").await;
    wait_text(&c, "h1", "Overview").await;
    assert!(
        c.find(Locator::Css("#signout"))
            .await
            .unwrap()
            .is_displayed()
            .await
            .unwrap()
    );

    // The policy list's contract column, as the API and `rabat check` say it.
    let (status, uploaded) = server
        .call(
            "POST",
            "/admin/v1/merchants/shop/policies",
            Some(&key),
            &tier,
        )
        .await
        .unwrap();
    assert_eq!(status, 201, "{uploaded}");
    go(&c, &base, "policies").await;
    wait_text(&c, "table code.contract", "rabat:rules@0.3.0").await;
    // (Headings are shown in capitals by the stylesheet: look at the document's text.)
    let headings = c
        .execute(
            "return [...document.querySelectorAll('thead th')].map((th) => th.textContent)",
            vec![],
        )
        .await
        .unwrap();
    assert!(
        headings.as_array().unwrap().contains(&json!("Contract")),
        "{headings}"
    );

    // 60 cards of one customer: 50, then the rest on "More cards".
    for i in 0..60 {
        let card = json!({"customerId": "cust-60"}).to_string();
        let path = format!("/admin/v1/merchants/shop/cards/fam-{i:02}");
        let (status, made) = api(&server, "PUT", &path, &key, &card).await;
        assert_eq!(status, 201, "{made}");
    }
    go(&c, &base, "cards").await;
    wait_text(&c, "h1", "Cards").await;
    wait_find(&c, "select[name=by]")
        .await
        .select_by_value("customer")
        .await
        .unwrap();
    fill(&c, "input[name=q]", "cust-60").await;
    click_button(&c, "Find").await;
    wait_count(&c, ".customer-cards tbody tr", 50).await;
    c.find(Locator::Css(".customer-cards .more"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let rows = wait_count(&c, ".customer-cards tbody tr", 60).await;
    assert!(rows[59].text().await.unwrap().contains("fam-59"));
    assert!(c.find(Locator::Css(".customer-cards .more")).await.is_err());

    // Nothing Chromium complained about, from the first load to here.
    let problems = browser_problems(&c).await;
    assert!(problems.is_empty(), "Chromium's console: {problems:#?}");
    c.close().await.unwrap();
}
