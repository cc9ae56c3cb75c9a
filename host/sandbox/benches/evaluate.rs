//! The cost of one evaluation, host money included, on Papaya's 3-item bill and on
//! 200-item and 1 000-item bills:
//!
//! - `native`: the tier + category policy written as plain Rust in the host (the limit
//!   without a sandbox);
//! - `floor`: an empty contract-0.2 component (no SDK; takes the input buffer, reads
//!   nothing, returns no discounts, never grows its memory) instantiated fresh and called
//!   with the same engine settings (the sandbox's own cost);
//! - `wasm`: the `tier-category` example, fresh store and instance per call, as the
//!   server runs it.
//!
//! `cargo bench -p rabat-sandbox --bench evaluate`; results and reasoning in BENCHMARKS.md.

#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::path::Path;

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use rabat_domain::model::{Card, DiscountKind, DiscountRequest, Evaluation, Order};
use rabat_sandbox::build::{
    BuildOptions, Target, build_example, build_policy, policies_target_dir,
};
use rabat_sandbox::decide::decide;
use rabat_sandbox::{CallInput, Limits, Runtime, RuntimeConfig};
use rust_decimal::Decimal;

const CONFIG: &str =
    r#"{"tiers":{"gold":10,"silver":5},"category":"Hot Beverages","percentage":20}"#;

fn bill(name: &str) -> Order {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples/data/bills")
        .join(name);
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    match rabat_domain::papaya::parse_discount_query(&bytes) {
        Ok(query) => query.order,
        Err(e) => panic!("{}: {}", path.display(), e.body().message),
    }
}

fn gold() -> Card {
    let mut card = Card::new("memberCardId");
    card.tier = Some("gold".into());
    card.visits = 12;
    card
}

#[derive(serde::Deserialize)]
struct NativeConfig {
    tiers: BTreeMap<String, Decimal>,
    category: String,
    percentage: Decimal,
}

/// The tier + category policy as plain Rust: the same decisions as the example.
fn native_policy(order: &Order, card: &Card, config: &str) -> Evaluation {
    let Ok(config) = serde_json::from_str::<NativeConfig>(config) else {
        return Evaluation::default();
    };
    let mut discounts = Vec::new();
    if let Some(pct) = card.tier.as_ref().and_then(|t| config.tiers.get(t)) {
        discounts.push(DiscountRequest {
            kind: DiscountKind::PercentageOnBill { percentage: *pct },
            description: format!("{pct}% member discount"),
            points: 0,
            coupon: None,
            divisible: false,
        });
    }
    let mut seen: Vec<&str> = Vec::new();
    for item in &order.items {
        if item.category_name.as_deref() == Some(config.category.as_str())
            && !seen.contains(&item.product_id.as_str())
        {
            seen.push(&item.product_id);
            discounts.push(DiscountRequest {
                kind: DiscountKind::PercentageOnItem {
                    product_id: item.product_id.clone(),
                    percentage: config.percentage,
                },
                description: format!("{}% off {}", config.percentage, item.name),
                points: 0,
                coupon: None,
                divisible: false,
            });
        }
    }
    Evaluation {
        discounts,
        message: None,
    }
}

fn component(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn evaluate(c: &mut Criterion) {
    let mut config = RuntimeConfig::default();
    // For experiments: RABAT_BENCH_KEEP_RESIDENT=bytes.
    if let Some(bytes) = std::env::var("RABAT_BENCH_KEEP_RESIDENT")
        .ok()
        .and_then(|v| v.parse().ok())
    {
        config.keep_resident_bytes = bytes;
    }
    if let Some(bytes) = std::env::var("RABAT_BENCH_TABLE_KEEP_RESIDENT")
        .ok()
        .and_then(|v| v.parse().ok())
    {
        config.table_keep_resident_bytes = bytes;
    }
    if let Some(ms) = std::env::var("RABAT_BENCH_EPOCH_TICK_MS")
        .ok()
        .and_then(|v| v.parse().ok())
    {
        config.epoch_tick = std::time::Duration::from_millis(ms);
    }
    // RABAT_BENCH_PAGEMAP_SCAN / _COW = 0 or 1.
    let flag = |name: &str| std::env::var(name).ok().map(|v| v == "1");
    if let Some(on) = flag("RABAT_BENCH_PAGEMAP_SCAN") {
        config.pagemap_scan = on;
    }
    if let Some(on) = flag("RABAT_BENCH_TABLE_LAZY_INIT") {
        config.table_lazy_init = on;
    }
    if let Some(on) = flag("RABAT_BENCH_COW") {
        config.memory_init_cow = on;
    }
    // RABAT_BENCH_PERF_MAP=1: name the policies' functions for `perf` (bench/profile-evaluate.sh).
    config.perf_map = flag("RABAT_BENCH_PERF_MAP").unwrap_or(false);
    let runtime = Runtime::new(config).expect("engine");
    let policy_path = build_example("tier-category")
        .expect("build the tier-category example")
        .path;
    let policy = runtime
        .compile(&component(&policy_path))
        .expect("compile the example");
    let empty_path = build_policy(&BuildOptions {
        crate_dir: Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/empty"),
        target: Target::Wasm32UnknownUnknown,
        target_dir: Some(policies_target_dir()),
        quiet: true,
    })
    .expect("build the empty fixture")
    .path;
    let empty = runtime
        .compile(&component(&empty_path))
        .expect("compile the empty fixture");
    let limits = Limits::default();
    let card = gold();

    for (label, order) in [
        ("3-items", bill("papaya-discount-request.json")),
        ("200-items", bill("big-200.json")),
        ("1000-items", bill("big-1000.json")),
    ] {
        let mut group = c.benchmark_group(format!("evaluate/{label}"));
        let input = CallInput {
            order: &order,
            card: Some(&card),
            config: CONFIG,
            offer: None,
            extras: None,
            limits: &limits,
        };
        // The three must agree before their speed means anything.
        let native =
            rabat_domain::money::discount_response(&order, &native_policy(&order, &card, CONFIG))
                .expect("native");
        let wasm = decide(&runtime, &policy, input);
        assert_eq!(wasm.failure, None, "{:?}", wasm.report.logs);
        assert_eq!(
            wasm.response.total_discount, native.total_discount,
            "wasm and native agree"
        );

        group.bench_function(BenchmarkId::new("native", label), |b| {
            b.iter(|| {
                let evaluation = native_policy(&order, &card, CONFIG);
                rabat_domain::money::discount_response(&order, &evaluation)
            })
        });
        group.bench_function(BenchmarkId::new("floor", label), |b| {
            b.iter(|| decide(&runtime, &empty, input))
        });
        group.bench_function(BenchmarkId::new("wasm", label), |b| {
            b.iter(|| decide(&runtime, &policy, input))
        });
        group.finish();
    }
}

criterion_group!(benches, evaluate);
criterion_main!(benches);
