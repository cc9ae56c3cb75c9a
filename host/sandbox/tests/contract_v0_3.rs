//! Contract 0.3 end to end on the real runtime: the examples (built by today's SDK, on
//! 0.3) and the `echo-v0-3` fixture as real components, the card's available points,
//! wallet and profile crossing in the one buffer, the new answers (a discount's coupon
//! and divisibility, an accrual's coupons to redeem and issue) lifted, and 0.2's features
//! (points, amount off a product, redeem, tier) still working on 0.3 modules.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::wasm::{example, fixture};
use rabat_domain::coupon::{Birthday, CardExtras, CouponValue, Profile, WalletCoupon};
use rabat_domain::model::{
    Accrual, Card, DiscountKind, Offer, OfferedDiscount, Order, OrderItem, Pos,
};
use rabat_domain::money;
use rabat_sandbox::Failure;
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
    assert_eq!(policy.contract(), Contract::V0_3);
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
fn the_empty_floor_is_a_0_3_component_that_does_nothing() {
    let runtime = runtime();
    let policy = runtime.compile(&fixture("empty")).unwrap();
    assert_eq!(policy.contract(), Contract::V0_3);
    let bill = order(vec![line("11111", "Espresso", 2, 250, "Hot Beverages")]);
    let limits = Limits::default();
    let report = runtime.evaluate(&policy, input(&bill, None, "{}", None, &limits));
    assert_eq!(report.result.unwrap().discounts.len(), 0);
    let report = runtime.accrue(&policy, input(&bill, None, "{}", None, &limits));
    assert_eq!(report.result.unwrap(), Accrual::default());
}

fn extras() -> CardExtras {
    CardExtras {
        available_points: 600,
        wallet: vec![
            WalletCoupon {
                code: "WELCOME-7KQ4".into(),
                batch: "welcome".into(),
                value: CouponValue::Amount {
                    amount: Decimal::new(500, 2),
                },
                min_bill: Some(Decimal::new(800, 2)),
                valid_until: Some(1_900_000_000_000),
            },
            WalletCoupon {
                code: "TEN-OFF".into(),
                batch: "ten".into(),
                value: CouponValue::Percentage {
                    percentage: Decimal::new(10, 0),
                },
                min_bill: None,
                valid_until: None,
            },
        ],
        profile: Profile {
            birthday: Some(Birthday {
                month: 2,
                day: 29,
                year: Some(1992),
            }),
            attributes: [
                ("favourite".to_string(), "espresso".to_string()),
                ("issue".to_string(), "welcome,birthday".to_string()),
            ]
            .into(),
        },
        next_expiry: Some(rabat_domain::lots::NextExpiry {
            at: 1_950_000_000_000,
            points: 120,
        }),
        notes: Vec::new(),
    }
}

#[test]
fn every_0_3_input_and_answer_field_crosses_the_runtime() {
    let runtime = runtime();
    let policy = runtime.compile(&fixture("echo-v0-3")).unwrap();
    assert_eq!(policy.contract(), Contract::V0_3);
    let bill = order(vec![line("11111", "Espresso", 4, 250, "Hot Beverages")]);
    let mut card = Card::new("c");
    card.points = 900;
    card.pending_points = 50;
    let extras = extras();
    let limits = Limits::default();
    let mut call = input(&bill, Some(&card), "{}", None, &limits);
    call.extras = Some(&extras);
    let evaluation = runtime.evaluate(&policy, call).result.unwrap();
    let d = &evaluation.discounts[0];
    assert_eq!(
        d.description,
        "available=600; coupon WELCOME-7KQ4 batch=welcome amount 5.00 min=Some(\"8.00\") \
         until=Some(1900000000000); coupon TEN-OFF batch=ten percentage 10 min=None \
         until=None; birthday 2-29 Some(1992); favourite=espresso; issue=welcome,birthday; \
         pending=50; 120 expire at 1950000000000"
    );
    // The code came back in lower case: the host normalizes it.
    assert_eq!(d.coupon.as_deref(), Some("WELCOME-7KQ4"));
    assert!(d.divisible);
    assert_eq!(d.points, 600);

    let mut call = input(&bill, Some(&card), "{}", None, &limits);
    call.extras = Some(&extras);
    let accrual = runtime.accrue(&policy, call).result.unwrap();
    assert_eq!(accrual.redeem_coupons, ["WELCOME-7KQ4", "TEN-OFF"]);
    assert_eq!(accrual.issue_coupons, ["welcome", "birthday"]);
    assert_eq!(accrual.points, 1);

    // Without extras: the balance is available, the wallet and profile are empty.
    let evaluation = runtime
        .evaluate(&policy, input(&bill, Some(&card), "{}", None, &limits))
        .result
        .unwrap();
    assert_eq!(
        evaluation.discounts[0].description, "available=850; pending=50",
        "the spendable points, the pending ones beside them, no expiry"
    );
    assert_eq!(evaluation.discounts[0].coupon, None);
}

#[test]
fn a_bad_coupon_code_or_too_many_coupons_is_an_invalid_answer() {
    let runtime = runtime();
    let policy = runtime.compile(&fixture("echo-v0-3")).unwrap();
    let bill = order(vec![line("11111", "Espresso", 4, 250, "Hot Beverages")]);
    let card = Card::new("c");
    let limits = Limits::default();
    let mut extras = extras();
    extras.wallet[0].code = "NOT A CODE".into();
    let mut call = input(&bill, Some(&card), "{}", None, &limits);
    call.extras = Some(&extras);
    let failure = runtime.evaluate(&policy, call).result.unwrap_err();
    let Failure::InvalidAnswer(message) = &failure else {
        panic!("{failure:?}");
    };
    assert!(message.starts_with("discounts[0].coupon:"), "{message}");
    let mut call = input(&bill, Some(&card), "{}", None, &limits);
    call.extras = Some(&extras);
    let failure = runtime.accrue(&policy, call).result.unwrap_err();
    assert!(
        matches!(&failure, Failure::InvalidAnswer(m) if m.starts_with("redeem-coupons[0]:")),
        "{failure:?}"
    );
    // 17 batches to issue from: more than 16.
    let mut extras = self::extras();
    let many = vec!["b"; 17].join(",");
    extras.profile.attributes.insert("issue".into(), many);
    let mut call = input(&bill, Some(&card), "{}", None, &limits);
    call.extras = Some(&extras);
    let failure = runtime.accrue(&policy, call).result.unwrap_err();
    assert!(
        matches!(&failure, Failure::InvalidAnswer(m) if m.contains("issue-coupons has 17")),
        "{failure:?}"
    );
}

#[test]
fn welcome_coupon_issues_offers_and_redeems() {
    let runtime = runtime();
    let policy = runtime.compile(&example("welcome-coupon")).unwrap();
    assert_eq!(policy.contract(), Contract::V0_3);
    let config = r#"{"batch": "welcome"}"#;
    let limits = Limits::default();
    let bill = order(vec![line("11111", "Espresso", 4, 250, "Hot Beverages")]);
    let mut card = Card::new("c");
    card.visits = 1;
    let extras = extras();
    let mut call = input(&bill, Some(&card), config, None, &limits);
    call.extras = Some(&extras);
    let evaluation = runtime.evaluate(&policy, call).result.unwrap();
    assert_eq!(
        evaluation.discounts[0].kind,
        DiscountKind::CouponZeroVat {
            amount: Decimal::new(500, 2),
            code: "WELCOME-7KQ4".into(),
        }
    );
    assert_eq!(
        evaluation.discounts[0].coupon.as_deref(),
        Some("WELCOME-7KQ4")
    );
    let response = money::discount_response(&bill, &evaluation).unwrap();
    assert_eq!(response.total_discount, Decimal::new(500, 2));

    // The bill completes with the coupon's line: it is redeemed.
    let offer = Offer {
        discounts: vec![OfferedDiscount {
            kind: "coupon_zero_vat".into(),
            product_id: None,
            code: Some("WELCOME-7KQ4".into()),
            description: "Welcome coupon".into(),
            amount: Decimal::new(500, 2),
            points: 0,
        }],
        total_discount: Decimal::new(500, 2),
        held_points: 0,
        offered_at: 1,
    };
    let mut completed = bill.clone();
    completed
        .items
        .push(line("WELCOME-7KQ4", "WELCOME-7KQ4", 1, -500, ""));
    let mut call = input(&completed, Some(&card), config, Some(&offer), &limits);
    call.extras = Some(&extras);
    let accrual = runtime.accrue(&policy, call).result.unwrap();
    assert_eq!(accrual.redeem_coupons, ["WELCOME-7KQ4"]);
    assert!(accrual.issue_coupons.is_empty());
    // The first completed bill issues one.
    let first = Card::new("new");
    let accrual = runtime
        .accrue(&policy, input(&bill, Some(&first), config, None, &limits))
        .result
        .unwrap();
    assert_eq!(accrual.issue_coupons, ["welcome"]);
}

#[test]
fn pay_with_points_spends_available_points_divisibly() {
    let runtime = runtime();
    let policy = runtime.compile(&example("pay-with-points")).unwrap();
    assert_eq!(policy.contract(), Contract::V0_3);
    let config = r#"{"pointsPerUnit": 100, "maxShare": 50, "minPoints": 500}"#;
    let limits = Limits::default();
    let bill = order(vec![line("11111", "Espresso", 8, 250, "Hot Beverages")]);
    let mut card = Card::new("c");
    card.points = 900;
    let extras = extras();
    let mut call = input(&bill, Some(&card), config, None, &limits);
    call.extras = Some(&extras);
    let evaluation = runtime.evaluate(&policy, call).result.unwrap();
    // 600 available of 900: 6.00 of the 20.00 bill.
    assert_eq!(evaluation.discounts[0].points, 600);
    assert!(evaluation.discounts[0].divisible);
    let response = money::discount_response(&bill, &evaluation).unwrap();
    assert_eq!(response.total_discount, Decimal::new(600, 2));
    // Below the minimum available: nothing.
    let low = CardExtras {
        available_points: 499,
        ..extras
    };
    let mut call = input(&bill, Some(&card), config, None, &limits);
    call.extras = Some(&low);
    assert!(
        runtime
            .evaluate(&policy, call)
            .result
            .unwrap()
            .discounts
            .is_empty()
    );
}

#[test]
fn birthday_points_double_in_the_birthday_week() {
    let runtime = runtime();
    let policy = runtime.compile(&example("birthday-points")).unwrap();
    assert_eq!(policy.contract(), Contract::V0_3);
    let config = r#"{"pointsPerUnit": 1, "timeZone": "Europe/Bratislava"}"#;
    let limits = Limits::default();
    let mut bill = order(vec![line("11111", "Espresso", 17, 250, "Hot Beverages")]);
    // 2026-03-01 10:00 UTC: 29 February's week in a year without one (28 Feb ± 3 days).
    bill.created = Some(1_772_359_200_000);
    let card = Card::new("c");
    let extras = extras();
    let mut call = input(&bill, Some(&card), config, None, &limits);
    call.extras = Some(&extras);
    let accrual = runtime.accrue(&policy, call).result.unwrap();
    assert_eq!(accrual.points, 84, "42.50 → 42 units, doubled");
    let accrual = runtime
        .accrue(&policy, input(&bill, Some(&card), config, None, &limits))
        .result
        .unwrap();
    assert_eq!(accrual.points, 42, "no birthday without the profile");
}
