//! GoRules Zen running the `tier-category` example's policy — gold → 10 % off the bill,
//! "Hot Beverages" lines → 20 % off — as a JDM decision (`decision.json`: a decision table
//! on `card.tier`, then an expression node filtering the bill's lines by category).
//!
//! Set up as in rabat's `cargo bench -p rabat-sandbox --bench evaluate` (same bills, same
//! group names, so `bench/zen.sh` can put both in one table): the decision is compiled once
//! (`Decision::compile`: expressions and table indexes precompiled), the input (card +
//! Papaya's bill as JSON) is converted to Zen's `Variable` once, outside the timed loop. A
//! call is one `Decision::evaluate` on a current-thread tokio runtime. Zen answers
//! percentages; it does no money arithmetic (rabat's figures include the host's money
//! rules), has no sandbox, fuel or deadline.

#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::path::Path;
use std::sync::Arc;

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use serde_json::{Value, json};
use zen_engine::Decision;
use zen_engine::model::DecisionContent;

fn bill(name: &str) -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples/data/bills")
        .join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap()
}

fn zen(c: &mut Criterion) {
    let content: DecisionContent =
        serde_json::from_str(include_str!("../decision.json")).expect("the JDM decision");
    let graph = Arc::new(content).into_graph_arc().expect("a graph decision");
    let mut decision = Decision::from(graph);
    decision.compile();
    let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();

    for (label, file, hot) in [
        ("3-items", "papaya-discount-request.json", 1),
        ("200-items", "big-200.json", usize::MAX),
        ("1000-items", "big-1000.json", usize::MAX),
    ] {
        let order = bill(file);
        let hot_lines = order["orderItems"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|line| line["categoryName"] == "Hot Beverages")
            .count();
        assert!(hot == usize::MAX || hot == hot_lines);
        let input: zen_engine::Variable =
            json!({ "card": { "cardId": "memberCardId", "tier": "gold", "visits": 12 }, "order": order })
                .into();
        // The decision must answer what the policy answers before its speed means anything,
        // and must not change its input (each call below reuses it).
        let before = input.to_value();
        let answer = rt.block_on(decision.evaluate(input.clone())).expect("evaluate").result.to_value();
        assert_eq!(answer["billPercentage"], json!(10), "{answer}");
        assert_eq!(answer["itemDiscounts"].as_array().unwrap().len(), hot_lines, "{answer}");
        assert_eq!(input.to_value(), before, "the decision left its input as it was");

        let mut group = c.benchmark_group(format!("evaluate/{label}"));
        group.bench_function(BenchmarkId::new("zen", label), |b| {
            b.iter(|| rt.block_on(decision.evaluate(input.clone())).expect("evaluate"))
        });
        group.finish();
    }
}

criterion_group!(benches, zen);
criterion_main!(benches);
