//! Contract 0.2 end to end on the real runtime: the new examples built to real
//! components, the input crossing as one buffer (offer included), the new answers
//! (points, amount off a product, redeem, tier) lifted, and the host's money on them.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::wasm::{example, fixture};
use rabat_domain::model::{
    Accrual, Card, DiscountKind, Offer, OfferedDiscount, Order, OrderItem, Pos,
};
use rabat_domain::money;
use rabat_sandbox::{CallInput, Contract, Limits, Runtime, RuntimeConfig};
use rust_decimal::Decimal;

fn runtime() -> Runtime {
    Runtime::new(RuntimeConfig {
        max_instances: 8,
        ..RuntimeConfig::default()
    })
    .unwrap()
}

fn line(product_id: &str, name: &str, quantity: i64, cents: i64, category: &str) -> OrderItem {
    let unit_price = Decimal::new(cents, 2);
    OrderItem {
        id: format!("{product_id}-{quantity}"),
        product_id: product_id.into(),
        name: name.into(),
        description: None,
        quantity: quantity.into(),
        unit_price,
        total_price: unit_price * Decimal::from(quantity),
        vat: None,
        vat_rate: None,
        category_id: None,
        category_name: Some(category.into()),
        ean: None,
        note: None,
    }
}

fn order(items: Vec<OrderItem>) -> Order {
    let total = items.iter().map(|i| i.total_price).sum();
    Order {
        order_id: "o-1".into(),
        pos: Pos::Papaya,
        status: "open".into(),
        total,
        total_without_vat: None,
        vat: None,
        currency: "EUR".into(),
        created: None,
        updated: None,
        branch_id: None,
        note: None,
        items,
        attributes: Vec::new(),
    }
}

fn input<'a>(
    order: &'a Order,
    card: Option<&'a Card>,
    config: &'a str,
    offer: Option<&'a Offer>,
    limits: &'a Limits,
) -> CallInput<'a> {
    CallInput {
        order,
        card,
        config,
        offer,
        extras: None,
        limits,
    }
}

#[test]
fn three_for_two_takes_an_exact_amount_off_through_the_host() {
    let runtime = runtime();
    let policy = runtime.compile(&example("three-for-two")).unwrap();
    assert_eq!(policy.contract(), Contract::V0_2);
    let bill = order(vec![
        line("22222", "Croissant", 7, 115, "Bakery"),
        line("11111", "Espresso", 3, 250, "Hot Beverages"),
    ]);
    let limits = Limits::default();
    let report = runtime.evaluate(
        &policy,
        input(&bill, None, r#"{"categories": ["Bakery"]}"#, None, &limits),
    );
    let evaluation = report.result.unwrap();
    assert_eq!(
        evaluation.discounts[0].kind,
        DiscountKind::AmountOffItem {
            product_id: "22222".into(),
            amount: Decimal::new(230, 2),
        }
    );
    let response = money::discount_response(&bill, &evaluation).unwrap();
    assert_eq!(response.total_discount, Decimal::new(230, 2));
}

#[test]
fn pay_with_points_costs_points_and_redeems_the_offer() {
    let runtime = runtime();
    let policy = runtime.compile(&example("pay-with-points")).unwrap();
    let bill = order(vec![line("11111", "Espresso", 2, 250, "Hot Beverages")]);
    let mut card = Card::new("c");
    card.points = 300;
    let config = r#"{"pointsPerUnit": 100, "maxShare": 50}"#;
    let limits = Limits::default();
    let evaluation = runtime
        .evaluate(&policy, input(&bill, Some(&card), config, None, &limits))
        .result
        .unwrap();
    // Half of 5.00 is 2.50, which 250 of the 300 points pay.
    assert_eq!(evaluation.discounts.len(), 1);
    assert_eq!(evaluation.discounts[0].points, 250);
    let offer = Offer {
        discounts: vec![OfferedDiscount {
            kind: "coupon_zero_vat".into(),
            product_id: None,
            code: Some("POINTS".into()),
            description: "Paid with 250 points".into(),
            amount: Decimal::new(250, 2),
            points: 250,
        }],
        total_discount: Decimal::new(250, 2),
        held_points: 250,
        offered_at: 1,
    };
    let mut completed = bill.clone();
    completed.status = "closed".into();
    let mut coupon = line("POINTS", "POINTS", 1, -250, "");
    coupon.category_name = None;
    completed.items.push(coupon);
    let accrual = runtime
        .accrue(
            &policy,
            input(&completed, Some(&card), config, Some(&offer), &limits),
        )
        .result
        .unwrap();
    assert_eq!(accrual.redeem, 250);
    // Without the offer, nothing is redeemed.
    let accrual = runtime
        .accrue(
            &policy,
            input(&completed, Some(&card), config, None, &limits),
        )
        .result
        .unwrap();
    assert_eq!(accrual, Accrual::default());
}

#[test]
fn tier_upgrade_sets_the_tier() {
    let runtime = runtime();
    let policy = runtime.compile(&example("tier-upgrade")).unwrap();
    let bill = order(Vec::new());
    let mut card = Card::new("c");
    card.visits = 2;
    let config = r#"{"tiers": [{"tier": "silver", "visits": 3}, {"tier": "gold", "visits": 10}]}"#;
    let limits = Limits::default();
    let accrual = runtime
        .accrue(&policy, input(&bill, Some(&card), config, None, &limits))
        .result
        .unwrap();
    assert_eq!(accrual.set_tier.as_deref(), Some("silver"));
    assert_eq!(accrual.reason.as_deref(), Some("3 visits: silver"));
}

#[test]
fn the_empty_floor_is_a_0_2_component_that_does_nothing() {
    let runtime = runtime();
    let policy = runtime.compile(&fixture("empty")).unwrap();
    assert_eq!(policy.contract(), Contract::V0_2);
    let bill = order(vec![line("11111", "Espresso", 2, 250, "Hot Beverages")]);
    let limits = Limits::default();
    let report = runtime.evaluate(&policy, input(&bill, None, "{}", None, &limits));
    assert_eq!(report.result.unwrap().discounts.len(), 0);
    let report = runtime.accrue(&policy, input(&bill, None, "{}", None, &limits));
    assert_eq!(report.result.unwrap(), Accrual::default());
}

/// The contract read off a stored module without compiling it (for versions stored before
/// rabat kept it) is the one compiling says, for every example and for modules of both
/// contracts with and without imports.
#[test]
fn the_contract_read_without_compiling_is_the_compiled_one() {
    let runtime = runtime();
    let v0_1 = common::wasm::fixtures_dir().join("v0_1");
    let mut modules: Vec<(String, Vec<u8>)> = [
        "tier-discount",
        "category-discount",
        "welcome-coupon",
        "stamp-card",
        "happy-hour",
        "tier-category",
        "pay-with-points",
        "three-for-two",
        "tier-upgrade",
    ]
    .iter()
    .map(|name| (name.to_string(), example(name)))
    .collect();
    // `empty` imports nothing (its contract is in `evaluate`'s parameter); `wasi-clock`
    // imports WASI beside rabat's host.
    for name in ["empty", "panic", "wasi-clock"] {
        modules.push((name.into(), fixture(name)));
    }
    for name in ["stamp-card.wasm", "tier-category.wasm"] {
        modules.push((
            format!("v0_1/{name}"),
            std::fs::read(v0_1.join(name)).unwrap(),
        ));
    }
    let mut seen = std::collections::BTreeSet::new();
    for (name, wasm) in &modules {
        let compiled = runtime.compile(wasm).unwrap().contract();
        let read = rabat_sandbox::contract::read_contract(wasm).unwrap();
        assert_eq!(read, compiled, "{name}");
        seen.insert(read.name());
    }
    assert_eq!(seen.len(), 2, "both contracts covered: {seen:?}");
    let not_a_component = rabat_sandbox::contract::read_contract(b"\0asm\x01\0\0\0");
    assert!(not_a_component.is_err(), "{not_a_component:?}");
}
