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
fn welcome_coupon_only_on_the_first_visit() {
    let (ok, json) = run(
        "welcome-coupon",
        "papaya-discount-request.json",
        "new-customer.json",
        &[],
    );
    assert!(ok, "{json}");
    assert_eq!(total(&json), "5.00");
    let discount = &json["decision"]["response"]["discounts"][0];
    assert_eq!(discount["type"], "coupon_zero_vat");
    assert_eq!(discount["vatRate"], 0);
    assert_eq!(discount["couponCode"], "WELCOME5");
    let (_, json) = run(
        "welcome-coupon",
        "papaya-discount-request.json",
        "gold.json",
        &[],
    );
    assert_eq!(total(&json), "0.00");
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
fn failures_exit_non_zero_with_one_clear_line() {
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

    // A policy failure: the till would get no discount, and the exit says so.
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
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(stderr.contains("boom: card tier missing"), "{stderr}");
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
