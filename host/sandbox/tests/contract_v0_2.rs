//! Contract 0.2 end to end on the real runtime: modules built by the 0.2 SDK
//! (`fixtures/v0_2/`, from before the examples moved to 0.3) reading the one input buffer
//! the host now writes for 0.2 and 0.3 alike (offer included), their answers (points,
//! redeem) lifted, and the host's money on them, as recorded when they were built.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::wasm::{example, fixture, fixtures_dir};
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

/// A 0.2 module kept as built (`fixtures/v0_2/`).
fn v0_2(name: &str) -> Vec<u8> {
    std::fs::read(fixtures_dir().join("v0_2").join(name)).unwrap()
}

/// What `rabat run --json` printed for a 0.2 fixture when it was built.
fn recorded(name: &str) -> serde_json::Value {
    let text = std::fs::read(fixtures_dir().join("v0_2").join(name)).unwrap();
    serde_json::from_slice(&text).unwrap()
}

#[test]
fn a_0_2_tier_discount_answers_as_recorded() {
    let runtime = runtime();
    let policy = runtime.compile(&v0_2("tier-discount.wasm")).unwrap();
    assert_eq!(policy.contract(), Contract::V0_2);
    // The seed bill's total is 50.00; the gold card's 10 %.
    let mut bill = order(vec![line("11111", "Espresso", 20, 250, "Hot Beverages")]);
    bill.total = Decimal::new(5000, 2);
    let mut card = Card::new("memberCardId");
    card.tier = Some("gold".into());
    let limits = Limits::default();
    // The 0.3 extras are in the buffer too; a 0.2 module never reads them.
    let extras = rabat_domain::coupon::CardExtras {
        available_points: 1,
        wallet: Vec::new(),
        profile: rabat_domain::coupon::Profile {
            birthday: Some(rabat_domain::coupon::Birthday {
                month: 1,
                day: 2,
                year: None,
            }),
            attributes: [("k".to_string(), "v".to_string())].into(),
        },
        next_expiry: None,
        notes: Vec::new(),
    };
    let mut call = input(
        &bill,
        Some(&card),
        r#"{"tiers": {"gold": 10, "silver": 5}}"#,
        None,
        &limits,
    );
    call.extras = Some(&extras);
    let evaluation = runtime.evaluate(&policy, call).result.unwrap();
    let response = money::discount_response(&bill, &evaluation).unwrap();
    let recorded = &recorded("tier-discount.evaluate.gold.json")["decision"]["response"];
    assert_eq!(
        response.total_discount.to_string(),
        recorded["totalDiscount"].to_string()
    );
    assert_eq!(
        evaluation.discounts[0].description,
        recorded["discounts"][0]["description"].as_str().unwrap()
    );
    assert_eq!(
        evaluation.discounts[0].kind,
        DiscountKind::PercentageOnBill {
            percentage: Decimal::new(10, 0)
        }
    );
    assert_eq!(evaluation.discounts[0].coupon, None);
    assert!(!evaluation.discounts[0].divisible);
}

#[test]
fn a_0_2_pay_with_points_costs_points_and_redeems_the_offer() {
    let runtime = runtime();
    let policy = runtime.compile(&v0_2("pay-with-points.wasm")).unwrap();
    assert_eq!(policy.contract(), Contract::V0_2);
    let config = r#"{"pointsPerUnit": 100, "maxShare": 50}"#;
    let limits = Limits::default();
    // As recorded: the gold card's 3 points pay 0.03 of the seed bill.
    let seed = order(vec![line("11111", "Espresso", 20, 250, "Hot Beverages")]);
    let mut gold = Card::new("memberCardId");
    gold.points = 3;
    let evaluation = runtime
        .evaluate(&policy, input(&seed, Some(&gold), config, None, &limits))
        .result
        .unwrap();
    let evaluated = &recorded("pay-with-points.evaluate.gold.json")["decision"]["response"];
    assert_eq!(
        evaluation.discounts[0].description,
        evaluated["discounts"][0]["description"].as_str().unwrap()
    );
    assert_eq!(evaluation.discounts[0].points, 3);
    assert_eq!(
        money::discount_response(&seed, &evaluation)
            .unwrap()
            .total_discount
            .to_string(),
        evaluated["totalDiscount"].to_string()
    );
    // A 0.2 module sees the balance, not the 0.3 available points.
    let bill = order(vec![line("11111", "Espresso", 2, 250, "Hot Beverages")]);
    let mut card = Card::new("c");
    card.points = 300;
    let extras = rabat_domain::coupon::CardExtras {
        available_points: 100,
        ..Default::default()
    };
    let mut call = input(&bill, Some(&card), config, None, &limits);
    call.extras = Some(&extras);
    let evaluation = runtime.evaluate(&policy, call).result.unwrap();
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
    assert!(accrual.redeem_coupons.is_empty() && accrual.issue_coupons.is_empty());
    // Not taken, as recorded: nothing redeemed.
    let recorded = &recorded("pay-with-points.accrue.gold.json")["accrual"];
    let accrual = runtime
        .accrue(
            &policy,
            input(&bill, Some(&card), config, Some(&offer), &limits),
        )
        .result
        .unwrap();
    assert_eq!(accrual.redeem, 0);
    assert_eq!(accrual.reason.as_deref(), recorded["reason"].as_str());
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

/// The contract read off a stored module without compiling it (for versions stored before
/// rabat kept it) is the one compiling says, for every example and for modules of all
/// three contracts with and without imports.
#[test]
fn the_contract_read_without_compiling_is_the_compiled_one() {
    let runtime = runtime();
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
        "birthday-points",
    ]
    .iter()
    .map(|name| (name.to_string(), example(name)))
    .collect();
    // `empty` imports nothing (its contract is in `evaluate`'s types); `wasi-clock`
    // imports WASI beside rabat's host.
    for name in ["empty", "panic", "wasi-clock", "echo-v0-3"] {
        modules.push((name.into(), fixture(name)));
    }
    for (dir, name) in [
        ("v0_1", "stamp-card.wasm"),
        ("v0_1", "tier-category.wasm"),
        ("v0_2", "pay-with-points.wasm"),
        ("v0_2", "tier-discount.wasm"),
    ] {
        modules.push((
            format!("{dir}/{name}"),
            std::fs::read(fixtures_dir().join(dir).join(name)).unwrap(),
        ));
    }
    let mut seen = std::collections::BTreeSet::new();
    for (name, wasm) in &modules {
        let compiled = runtime.compile(wasm).unwrap().contract();
        let read = rabat_sandbox::contract::read_contract(wasm).unwrap();
        assert_eq!(read, compiled, "{name}");
        seen.insert(read.name());
    }
    assert_eq!(seen.len(), 3, "all contracts covered: {seen:?}");
    let not_a_component = rabat_sandbox::contract::read_contract(b"\0asm\x01\0\0\0");
    assert!(not_a_component.is_err(), "{not_a_component:?}");
}
