//! `rabat run`, `rabat check` and `rabat build` as a policy author uses them: the real
//! binary on every example and the sample bills, against hand-computed amounts.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn rabat(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_rabat"))
        .args(args)
        .current_dir(repo())
        .output()
        .unwrap()
}

/// The example's component, built by the same code as `rabat build`.
fn built(name: &str) -> String {
    crate::common::wasm::example(name);
    rabat::policy::build::policies_target_dir()
        .join("rabat")
        .join(format!("{name}.wasm"))
        .display()
        .to_string()
}

/// `rabat run --json` on an example; returns (exit ok, the JSON).
fn run(example: &str, bill: &str, card: &str, extra: &[&str]) -> (bool, Value) {
    let policy = built(example);
    let bill = format!("examples/data/bills/{bill}");
    let card = format!("examples/data/cards/{card}");
    let config = format!("examples/{example}/config.json");
    let mut args = vec![
        "run", "--json", "--policy", &policy, "--order", &bill, "--card", &card, "--config",
        &config,
    ];
    args.extend_from_slice(extra);
    let out = rabat(&args);
    let json: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{e}: {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out.status.success(), json)
}

/// The total discount as the JSON text (so `5.00` is checked to two places).
fn total(json: &Value) -> String {
    json["decision"]["response"]["totalDiscount"].to_string()
}

#[test]
fn tier_discount_on_the_seed_bill() {
    let (ok, json) = run(
        "tier-discount",
        "papaya-discount-request.json",
        "gold.json",
        &[],
    );
    assert!(ok, "{json}");
    assert_eq!(total(&json), "5.00");
    let discount = &json["decision"]["response"]["discounts"][0];
    assert_eq!(discount["type"], "percentage_on_bill");
    assert_eq!(discount["percentage"].to_string(), "10");
    assert!(json["decision"]["fuelUsed"].as_u64().unwrap() > 0);
    // Silver (stamps-full) gets 5% of 50.00; a card with no tier gets nothing.
    let (_, json) = run(
        "tier-discount",
        "papaya-discount-request.json",
        "stamps-full.json",
        &[],
    );
    assert_eq!(total(&json), "2.50");
    let (_, json) = run(
        "tier-discount",
        "papaya-discount-request.json",
        "new-customer.json",
        &[],
    );
    assert_eq!(total(&json), "0.00");
    // 10% of the 200-line bill's 1714.00.
    let (_, json) = run("tier-discount", "big-200.json", "gold.json", &[]);
    assert_eq!(total(&json), "171.40");
}

#[test]
fn category_discount_on_the_seed_bill() {
    // 20% of the Espresso lines (5.00).
    let (ok, json) = run(
        "category-discount",
        "papaya-discount-request.json",
        "gold.json",
        &[],
    );
    assert!(ok, "{json}");
    assert_eq!(total(&json), "1.00");
    let discount = &json["decision"]["response"]["discounts"][0];
    assert_eq!(discount["type"], "percentage_on_item");
    assert_eq!(discount["productId"], "11111");
    assert_eq!(discount["productName"], "Espresso");
}

#[test]
fn welcome_coupon_is_offered_from_the_cards_wallet() {
    // The card file carries a wallet (contract 0.3) with a 5.00 `welcome` coupon.
    let (ok, json) = run(
        "welcome-coupon",
        "papaya-discount-request.json",
        "welcome-wallet.json",
        &[],
    );
    assert!(ok, "{json}");
    assert_eq!(total(&json), "5.00");
    let discount = &json["decision"]["response"]["discounts"][0];
    assert_eq!(discount["type"], "coupon_zero_vat");
    assert_eq!(discount["vatRate"], 0);
    assert_eq!(discount["couponCode"], "WELCOME-7KQ4MX9TCA");
    // Without a coupon in the wallet, nothing; on the first completed bill, one is issued.
    let (_, json) = run(
        "welcome-coupon",
        "papaya-discount-request.json",
        "new-customer.json",
        &[],
    );
    assert_eq!(total(&json), "0.00");
    let (ok, json) = run(
        "welcome-coupon",
        "papaya-transaction.json",
        "new-customer.json",
        &["--accrue"],
    );
    assert!(ok, "{json}");
    assert_eq!(json["accrual"]["issueCoupons"][0], "welcome", "{json:#}");
}

#[test]
fn a_card_file_carries_the_0_3_profile_and_available_points() {
    // The sample card's birthday is 21 October, the transaction's date (Bratislava).
    let (ok, json) = run(
        "birthday-points",
        "papaya-transaction.json",
        "welcome-wallet.json",
        &["--accrue"],
    );
    assert!(ok, "{json}");
    assert_eq!(json["accrual"]["points"], 50, "{json:#}");
    // Its 600 available points (of 900) are what pay-with-points may spend.
    let (ok, json) = run(
        "pay-with-points",
        "papaya-discount-request.json",
        "welcome-wallet.json",
        &[],
    );
    assert!(ok, "{json}");
    assert_eq!(json["offer"]["heldPoints"], 600, "{json:#}");
    // A wallet coupon whose code cannot be one is refused by name.
    let dir = tempfile::tempdir().unwrap();
    let card = dir.path().join("card.json");
    std::fs::write(
        &card,
        r#"{"cardId": "c", "wallet": [{"code": "NO SPACE", "batch": "b",
            "value": {"kind": "amount", "amount": 1}}]}"#,
    )
    .unwrap();
    let out = rabat(&[
        "run",
        "--policy",
        &built("welcome-coupon"),
        "--order",
        "examples/data/bills/papaya-discount-request.json",
        "--card",
        card.to_str().unwrap(),
    ]);
    assert!(!out.status.success());
    let stderr = text(&out.stderr);
    assert!(stderr.contains("wallet[0].code"), "{stderr}");
}

#[test]
fn stamp_card_gives_a_free_coffee_and_counts_stamps() {
    // Five stamps: 50% of the two Espressos (5.00), i.e. one of them free.
    let (ok, json) = run(
        "stamp-card",
        "papaya-discount-request.json",
        "stamps-full.json",
        &[],
    );
    assert!(ok, "{json}");
    assert_eq!(total(&json), "2.50");
    let (_, json) = run(
        "stamp-card",
        "papaya-discount-request.json",
        "gold.json",
        &[],
    );
    assert_eq!(total(&json), "0.00");
    // accrue: two coffees on the bill are two stamps.
    let (ok, json) = run(
        "stamp-card",
        "papaya-discount-request.json",
        "gold.json",
        &["--accrue"],
    );
    assert!(ok, "{json}");
    assert_eq!(json["accrual"]["points"], 2);
}

#[test]
fn happy_hour_is_judged_on_the_order_time() {
    // 16:30 in Bratislava in summer (14:30 UTC) and in winter (15:30 UTC): 15% of 8.50 =
    // 1.275 → 1.28 (half away from zero).
    for bill in ["papaya-happy-hour.json", "papaya-happy-hour-winter.json"] {
        let (ok, json) = run("happy-hour", bill, "gold.json", &[]);
        assert!(ok, "{json}");
        assert_eq!(total(&json), "1.28", "{bill}");
    }
    // The seed bill was opened at 12:30 local: no happy hour.
    let (_, json) = run(
        "happy-hour",
        "papaya-discount-request.json",
        "gold.json",
        &[],
    );
    assert_eq!(total(&json), "0.00");
}

#[test]
fn tier_category_combines_both() {
    // 20% of the Espressos (1.00), then 10% of what is left of 50.00 (4.90).
    let (ok, json) = run(
        "tier-category",
        "papaya-discount-request.json",
        "gold.json",
        &[],
    );
    assert!(ok, "{json}");
    assert_eq!(total(&json), "5.90");
}

#[test]
fn human_output_is_the_exact_response_then_the_numbers() {
    let policy = built("tier-discount");
    let out = rabat(&[
        "run",
        "--policy",
        &policy,
        "--order",
        "examples/data/bills/papaya-discount-request.json",
        "--card",
        "examples/data/cards/gold.json",
        "--config",
        "examples/tier-discount/config.json",
    ]);
    assert!(out.status.success());
    let response: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(response["totalDiscount"].to_string(), "5.00");
    let stderr = String::from_utf8_lossy(&out.stderr);
    for label in ["fuel", "memory", "time", "module", "logs"] {
        assert!(stderr.contains(label), "{label} missing from:\n{stderr}");
    }
}

#[test]
fn failures_exit_non_zero_and_say_why() {
    let out = rabat(&[
        "run",
        "--policy",
        "README.md",
        "--order",
        "examples/data/bills/papaya-discount-request.json",
    ]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(stderr.contains("not WebAssembly"), "{stderr}");

    let policy = built("tier-discount");
    let out = rabat(&[
        "run",
        "--policy",
        &policy,
        "--order",
        "examples/data/bills/papaya-discount-request.json",
        "--config",
        "Cargo.toml",
    ]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("Cargo.toml"));

    // A policy failure: the fail-safe answer the till gets, the numbers, then why.
    let panic = crate::common::wasm::fixture("panic");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("panic.wasm");
    std::fs::write(&path, panic).unwrap();
    let out = rabat(&[
        "run",
        "--policy",
        path.to_str().unwrap(),
        "--order",
        "examples/data/bills/papaya-discount-request.json",
    ]);
    assert!(!out.status.success());
    let response: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(response["totalDiscount"].to_string(), "0.00");
    assert_eq!(response["discounts"], serde_json::json!([]));
    let stderr = String::from_utf8_lossy(&out.stderr);
    for label in ["fuel", "memory", "module", "logs"] {
        assert!(stderr.contains(label), "{label} missing from:\n{stderr}");
    }
    let last = stderr.trim().lines().last().unwrap_or_default();
    assert!(last.starts_with("error: "), "{stderr}");
    assert!(last.contains("boom: card tier missing"), "{stderr}");
}

#[test]
fn check_tells_what_a_file_is_before_how_big_it_is() {
    // Larger than any upload may be, and not WebAssembly: the second is what matters.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("photo.wasm");
    std::fs::write(&path, vec![0xffu8; 5 << 20]).unwrap();
    let out = rabat(&["check", path.to_str().unwrap()]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("not WebAssembly"), "{stderr}");
    assert!(!stderr.contains("limit"), "{stderr}");
}

#[test]
fn check_says_what_an_upload_would_say() {
    let out = rabat(&["check", &built("welcome-coupon")]);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("ok: "));
    let fs = crate::common::wasm::fixture("wasi-fs");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("fs.wasm");
    std::fs::write(&path, fs).unwrap();
    let out = rabat(&["check", path.to_str().unwrap()]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("wasi:filesystem"));
}

/// Splits a line as a POSIX shell would for what `rabat` prints: words, single quotes.
fn words(line: &str) -> Vec<String> {
    let (mut words, mut word, mut quoted, mut any) = (Vec::new(), String::new(), false, false);
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                quoted = !quoted;
                any = true;
            }
            '\\' if !quoted => word.extend(chars.next()),
            c if c.is_whitespace() && !quoted => {
                if any || !word.is_empty() {
                    words.push(std::mem::take(&mut word));
                    any = false;
                }
            }
            c => word.push(c),
        }
    }
    if any || !word.is_empty() {
        words.push(word);
    }
    words
}

/// `rabat` in `dir`, with the policies' shared build directory as CARGO_TARGET_DIR (so
/// the SDK's dependencies are built once for all the tests).
fn rabat_in(dir: &Path, args: &[String]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_rabat"))
        .args(args)
        .current_dir(dir)
        .env(
            "CARGO_TARGET_DIR",
            rabat::policy::build::policies_target_dir(),
        )
        .output()
        .unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A fresh clone's situation: the repository's root manifest (its members cut down to
/// the crates copied), lock file and toolchain, and the SDK's sources.
fn fresh_clone() -> tempfile::TempDir {
    let clone = tempfile::tempdir().unwrap();
    let root = repo();
    for file in ["Cargo.lock", "rust-toolchain.toml", "clippy.toml"] {
        std::fs::copy(root.join(file), clone.path().join(file)).unwrap();
    }
    let crates = ["host/domain", "rules-guest", "wire"];
    for dir in crates.iter().copied().chain(["wit"]) {
        copy_dir(&root.join(dir), &clone.path().join(dir));
    }
    let manifest = std::fs::read_to_string(root.join("Cargo.toml")).unwrap();
    let mut doc: toml_edit::DocumentMut = manifest.parse().unwrap();
    let members = doc["workspace"]["members"].as_array_mut().unwrap();
    members.retain(|m| crates.contains(&m.as_str().unwrap()));
    doc["workspace"].as_table_mut().unwrap().remove("exclude");
    std::fs::write(clone.path().join("Cargo.toml"), doc.to_string()).unwrap();
    clone
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let (source, target) = (entry.path(), to.join(entry.file_name()));
        if entry.file_type().unwrap().is_dir() {
            if entry.file_name() != "target" {
                copy_dir(&source, &target);
            }
        } else {
            std::fs::copy(&source, &target).unwrap();
        }
    }
}

/// The README's three commands, exactly, in a fresh clone: `rabat new`, `rabat build`,
/// then the `rabat run` line the build printed — and the policy answers.
#[test]
fn new_build_run_is_three_commands() {
    let clone = fresh_clone();
    let dir = clone.path();

    let out = rabat_in(dir, &words("new my-policy"));
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(stdout.contains("a member of the workspace"), "{stdout}");
    assert!(stdout.contains("next: rabat build my-policy"), "{stdout}");
    for file in [
        "src/lib.rs",
        "config.json",
        "samples/bill.json",
        "samples/card.json",
        "README.md",
    ] {
        assert!(dir.join("my-policy").join(file).is_file(), "{file}");
    }
    let manifest = std::fs::read_to_string(dir.join("Cargo.toml")).unwrap();
    assert!(manifest.contains("    \"my-policy\",\n"), "{manifest}");

    let out = rabat_in(dir, &words("build my-policy"));
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    let next = stdout
        .lines()
        .find_map(|l| l.strip_prefix("next: rabat "))
        .unwrap_or_else(|| panic!("no next command in:\n{stdout}"));
    // CARGO_TARGET_DIR is honoured: the component is where it says.
    let policies = rabat::policy::build::policies_target_dir();
    let wasm = policies.join("rabat/my-policy.wasm");
    assert!(
        next.starts_with(&format!("run --policy {} ", wasm.display())),
        "{next}"
    );
    assert!(
        next.ends_with(
            "--order my-policy/samples/bill.json --card my-policy/samples/card.json \
             --config my-policy/config.json"
        ),
        "{next}"
    );

    let out = rabat_in(dir, &words(next));
    assert!(out.status.success(), "{}", text(&out.stderr));
    // 10 % of the sample bill's 50.00 for the sample's gold card.
    let response: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(response["totalDiscount"].to_string(), "5.00");
    assert_eq!(response["discounts"][0]["type"], "percentage_on_bill");
    assert_eq!(
        response["discounts"][0]["description"],
        "10% off for gold members"
    );

    // Without `export_policy!` the build says what is missing.
    let lib = dir.join("my-policy/src/lib.rs");
    let source = std::fs::read_to_string(&lib).unwrap();
    let without: String = source
        .lines()
        .filter(|l| !l.starts_with("export_policy!"))
        .map(|l| format!("{l}\n"))
        .collect();
    assert_ne!(without, source);
    std::fs::write(&lib, without).unwrap();
    let out = rabat_in(dir, &words("build my-policy"));
    assert!(!out.status.success());
    let stderr = text(&out.stderr);
    assert!(stderr.contains("export_policy!(YourPolicy);"), "{stderr}");

    // A second `new` of the same name, and a bad name, are refused saying why.
    let out = rabat_in(dir, &words("new my-policy"));
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("my-policy already exists"));
    let out = rabat_in(dir, &words("new other --name 2fast"));
    assert!(!out.status.success());
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("invalid policy name \"2fast\": a crate name starts with a letter"),
        "{stderr}"
    );
    assert!(!dir.join("other").exists());
}

/// Outside any workspace: a crate of its own, depending on this repository's SDK.
#[test]
fn new_outside_a_workspace_is_standalone() {
    let dir = tempfile::tempdir().unwrap();
    let out = rabat_in(dir.path(), &words("new shop/happy-days"));
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("a workspace of its own"));
    let crate_dir = dir.path().join("shop/happy-days");
    let manifest = std::fs::read_to_string(crate_dir.join("Cargo.toml")).unwrap();
    let doc: toml_edit::DocumentMut = manifest.parse().unwrap();
    assert_eq!(doc["package"]["name"].as_str(), Some("happy-days"));
    assert!(doc.get("workspace").is_some(), "{manifest}");
    let sdk = Path::new(doc["dependencies"]["rabat-rules"]["path"].as_str().unwrap());
    assert!(sdk.join("src/time.rs").is_file(), "{manifest}");
    assert!(crate_dir.join("rust-toolchain.toml").is_file());
    let lib = std::fs::read_to_string(crate_dir.join("src/lib.rs")).unwrap();
    assert!(lib.contains("pub struct HappyDays;"));
    assert!(lib.contains("export_policy!(HappyDays);"));
    // cargo reads it as a package of its own.
    let out = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
        .args([
            "metadata",
            "--no-deps",
            "--format-version",
            "1",
            "--offline",
        ])
        .current_dir(&crate_dir)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
}

/// Every key of a JSON value, with its path, recursively.
fn keys(value: &Value, path: &str, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (key, inner) in map {
                out.push(format!("{path}.{key}"));
                keys(inner, &format!("{path}.{key}"), out);
            }
        }
        Value::Array(items) => {
            for (i, inner) in items.iter().enumerate() {
                keys(inner, &format!("{path}[{i}]"), out);
            }
        }
        _ => {}
    }
}

fn assert_camel_case(json: &Value) {
    let mut all = Vec::new();
    keys(json, "", &mut all);
    let snake: Vec<_> = all
        .iter()
        .filter(|k| k.rsplit('.').next().is_some_and(|key| key.contains('_')))
        .collect();
    assert!(snake.is_empty(), "snake_case keys {snake:?} in {json:#}");
}

#[test]
fn run_output_is_camel_case_everywhere() {
    // `accrue` setting a tier: the key was `set_tier`, beside camelCase everywhere else.
    // A silver card with 9 visits: this bill is its 10th, so gold.
    let (ok, json) = run(
        "tier-upgrade",
        "papaya-transaction.json",
        "stamps-full.json",
        &["--accrue"],
    );
    assert!(ok, "{json}");
    assert_eq!(json["accrual"]["setTier"], "gold", "{json:#}");
    assert_camel_case(&json);
    // The human output prints the accrual itself: the same keys.
    let policy = built("tier-upgrade");
    let out = rabat(&[
        "run",
        "--accrue",
        "--policy",
        &policy,
        "--order",
        "examples/data/bills/papaya-transaction.json",
        "--card",
        "examples/data/cards/stamps-full.json",
        "--config",
        "examples/tier-upgrade/config.json",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let accrual: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(accrual["setTier"], "gold", "{accrual:#}");
    assert_camel_case(&accrual);
    // An evaluation (with the offer it makes) and a failure too.
    let (_, json) = run(
        "pay-with-points",
        "papaya-discount-request.json",
        "gold.json",
        &[],
    );
    assert_camel_case(&json);
    let panic = crate::common::wasm::fixture("panic");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("panic.wasm");
    std::fs::write(&path, panic).unwrap();
    for extra in [&[][..], &["--accrue"][..]] {
        let mut args = vec![
            "run",
            "--json",
            "--policy",
            path.to_str().unwrap(),
            "--order",
            "examples/data/bills/papaya-discount-request.json",
        ];
        args.extend_from_slice(extra);
        let out = rabat(&args);
        assert!(!out.status.success());
        assert_camel_case(&serde_json::from_slice(&out.stdout).unwrap());
    }
}

/// Runs `rabat` with its stdout a pipe whose reading end is already closed, as
/// `rabat … | head -1` once `head` has its line.
fn rabat_into_a_closed_pipe(dir: &Path, args: &[&str]) -> Output {
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    Command::new(env!("CARGO_BIN_EXE_rabat"))
        .args(args)
        .current_dir(dir)
        .stdout(writer)
        .stderr(std::process::Stdio::piped())
        .output()
        .unwrap()
}

#[test]
fn a_closed_output_pipe_ends_every_command_quietly() {
    use std::os::unix::process::ExitStatusExt;
    let policy = std::fs::canonicalize(built("pay-with-points")).unwrap();
    let policy = policy.to_str().unwrap();
    let repo = repo().canonicalize().unwrap();
    let data = |p: &str| repo.join(p).display().to_string();
    let (bill, card) = (
        data("examples/data/bills/papaya-discount-request.json"),
        data("examples/data/cards/gold.json"),
    );
    let config = data("examples/pay-with-points/config.json");
    let dir = tempfile::tempdir().unwrap();
    let sdk = repo.join("rules-guest").display().to_string();
    let commands: Vec<Vec<&str>> = vec![
        vec!["new", "piped-policy", "--sdk", &sdk],
        vec!["check", policy],
        vec![
            "run", "--policy", policy, "--order", &bill, "--card", &card, "--config", &config,
        ],
        vec![
            "run", "--json", "--policy", policy, "--order", &bill, "--config", &config,
        ],
        vec![
            "run", "--accrue", "--policy", policy, "--order", &bill, "--config", &config,
        ],
        vec!["--help"],
    ];
    for args in commands {
        let out = rabat_into_a_closed_pipe(dir.path(), &args);
        let stderr = text(&out.stderr);
        assert!(
            !stderr.contains("panicked") && !stderr.contains("Broken pipe"),
            "rabat {args:?} into a closed pipe: {stderr}"
        );
        // Ended by SIGPIPE, as `ls` and `cargo` are (a shell shows 141), or done.
        assert!(
            out.status.success() || out.status.signal() == Some(13),
            "rabat {args:?} into a closed pipe ended with {:?}: {stderr}",
            out.status
        );
    }
    // `new` did its work before it printed.
    assert!(dir.path().join("piped-policy/src/lib.rs").is_file());
}

#[test]
fn a_redemption_can_be_tried_locally_with_the_tills_offer() {
    let policy = built("pay-with-points");
    let dir = tempfile::tempdir().unwrap();
    // A card with 1 000 points on a 8.50 bill: half the bill (4.25) paid with 425 points.
    let card = dir.path().join("card.json");
    std::fs::write(&card, r#"{"cardId": "memberCardId", "points": 1000}"#).unwrap();
    let open = dir.path().join("open.json");
    let mut bill: Value =
        serde_json::from_slice(&crate::common::wasm::data("bills/papaya-transaction.json"))
            .unwrap();
    let completed_bill = bill.clone();
    for key in ["event", "paid", "completed"] {
        bill.as_object_mut().unwrap().remove(key);
    }
    bill["status"] = "open".into();
    bill["total"] = serde_json::json!(8.50);
    std::fs::write(&open, bill.to_string()).unwrap();
    let offer = dir.path().join("offer.json");
    let config = "examples/pay-with-points/config.json";
    let out = rabat(&[
        "run",
        "--policy",
        &policy,
        "--order",
        open.to_str().unwrap(),
        "--card",
        card.to_str().unwrap(),
        "--config",
        config,
        "--save-offer",
        offer.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let response: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(response["totalDiscount"].to_string(), "4.25", "{response}");
    let saved: Value = serde_json::from_slice(&std::fs::read(&offer).unwrap()).unwrap();
    assert_eq!(saved["heldPoints"], 425, "{saved:#}");
    assert_eq!(saved["discounts"][0]["code"], "POINTS", "{saved:#}");
    assert_eq!(saved["discounts"][0]["amount"].to_string(), "4.25");
    assert!(text(&out.stderr).contains("425 points held"));

    // The bill completes with the coupon as a negative line: its points are redeemed.
    let accrue = |bill: &Value| {
        let path = dir.path().join("completed.json");
        std::fs::write(&path, bill.to_string()).unwrap();
        let out = rabat(&[
            "run",
            "--json",
            "--accrue",
            "--policy",
            &policy,
            "--order",
            path.to_str().unwrap(),
            "--card",
            card.to_str().unwrap(),
            "--config",
            config,
            "--offer",
            offer.to_str().unwrap(),
        ]);
        assert!(out.status.success(), "{}", text(&out.stderr));
        serde_json::from_slice::<Value>(&out.stdout).unwrap()["accrual"].clone()
    };
    let mut paid = completed_bill.clone();
    paid["orderItems"]
        .as_array_mut()
        .unwrap()
        .push(serde_json::json!({
            "id": "214124299", "productId": "POINTS", "name": "POINTS", "quantity": 1,
            "unitPrice": -4.25, "totalPrice": -4.25, "vat": 0, "vatRate": 0
        }));
    let accrual = accrue(&paid);
    assert_eq!(accrual["redeem"], 425, "{accrual:#}");
    assert_eq!(accrual["reason"], "paid 4.25 with 425 points");
    // Without the line, nothing is redeemed (the hold would be released).
    let accrual = accrue(&completed_bill);
    assert_eq!(accrual.get("redeem"), None, "{accrual:#}");
    assert_eq!(accrual["reason"], "points offer not taken");

    // A card whose points cannot pay offers nothing, as on the server; `--offer` needs
    // `--accrue`, and a broken offer file names itself.
    let poor = dir.path().join("poor.json");
    std::fs::write(&poor, r#"{"cardId": "memberCardId", "points": 0}"#).unwrap();
    let out = rabat(&[
        "run",
        "--policy",
        &policy,
        "--order",
        open.to_str().unwrap(),
        "--card",
        poor.to_str().unwrap(),
        "--config",
        config,
        "--offer",
        offer.to_str().unwrap(),
    ]);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("--accrue"),
        "{}",
        text(&out.stderr)
    );
    std::fs::write(&offer, "{\"discounts\": 7}").unwrap();
    let out = rabat(&[
        "run",
        "--accrue",
        "--policy",
        &policy,
        "--order",
        open.to_str().unwrap(),
        "--offer",
        offer.to_str().unwrap(),
    ]);
    assert!(!out.status.success());
    let stderr = text(&out.stderr);
    assert!(stderr.contains("offer.json is invalid"), "{stderr}");
}
