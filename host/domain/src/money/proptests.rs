#![allow(clippy::unwrap_used)]

use proptest::prelude::*;
use rust_decimal::Decimal;
use serde_json::Value;

use super::json::from_number;
use super::tests::{item, order};
use super::*;
use crate::model::Order;

const PRODUCTS: [&str; 4] = ["a", "b", "c", "d"];

fn money(max: i64, scale: u32) -> impl Strategy<Value = Decimal> {
    (0..=max, 0..=scale).prop_map(|(mantissa, scale)| Decimal::new(mantissa, scale))
}

fn signed_money() -> impl Strategy<Value = Decimal> {
    (-5_000i64..100_000, 0..=4u32).prop_map(|(mantissa, scale)| Decimal::new(mantissa, scale))
}

/// A percentage in (0, 100], with up to 3 places.
fn percentage() -> impl Strategy<Value = Decimal> {
    (1i64..=100_000).prop_map(|thousandths| Decimal::new(thousandths, 3))
}

fn request() -> impl Strategy<Value = DiscountRequest> {
    let kind = prop_oneof![
        percentage().prop_map(|percentage| DiscountKind::PercentageOnBill { percentage }),
        (0..PRODUCTS.len(), percentage()).prop_map(|(p, percentage)| {
            DiscountKind::PercentageOnItem {
                product_id: PRODUCTS[p].to_owned(),
                percentage,
            }
        }),
        (1i64..50_000, 0..=3u32, "[A-Z0-9]{1,8}").prop_map(|(m, s, code)| {
            DiscountKind::CouponZeroVat {
                amount: Decimal::new(m, s),
                code,
            }
        }),
    ];
    (kind, "[a-z %]{0,12}").prop_map(|(kind, description)| DiscountRequest {
        kind,
        description,
        points: 0,
        coupon: None,
        divisible: false,
    })
}

/// A bill and a valid answer for it (item discounts only name products on the bill).
fn bill_and_answer() -> impl Strategy<Value = (Order, Evaluation)> {
    let items = prop::collection::vec((0..PRODUCTS.len(), signed_money()), 0..8);
    let currency = prop::sample::select(vec!["EUR", "JPY", "KWD", "CZK", "XYZ"]);
    let requests = prop::collection::vec(request(), 0..12);
    let message = prop::option::of("[a-z ]{0,10}");
    (items, money(200_000, 3), currency, requests, message).prop_map(
        |(items, total, currency, requests, message)| {
            let items: Vec<_> = items
                .into_iter()
                .map(|(p, price)| item(PRODUCTS[p], PRODUCTS[p], price))
                .collect();
            let discounts = requests
                .into_iter()
                .filter(|request| match &request.kind {
                    DiscountKind::PercentageOnItem { product_id, .. } => {
                        items.iter().any(|item| item.product_id == *product_id)
                    }
                    _ => true,
                })
                .collect();
            (
                order(total, currency, items),
                Evaluation { discounts, message },
            )
        },
    )
}

fn product_value(order: &Order, product_id: &str) -> Decimal {
    order
        .items
        .iter()
        .filter(|item| item.product_id == product_id)
        .map(|item| item.total_price)
        .sum()
}

proptest! {
    #[test]
    fn the_total_is_the_sum_and_never_exceeds_the_bill((order, evaluation) in bill_and_answer()) {
        let response = discount_response(&order, &evaluation).unwrap();
        let sum: Decimal = response.discounts.iter().map(DiscountLine::amount).sum();
        prop_assert_eq!(response.total_discount, sum);
        prop_assert!(response.total_discount <= order.total.max(Decimal::ZERO));
        prop_assert!(response.discounts.len() <= evaluation.discounts.len());
    }

    #[test]
    fn every_amount_has_the_minor_units_scale_and_is_positive((order, evaluation) in bill_and_answer()) {
        let units = crate::currency::minor_units(&order.currency);
        let response = discount_response(&order, &evaluation).unwrap();
        prop_assert_eq!(response.total_discount.scale(), units);
        prop_assert!(response.total_discount >= Decimal::ZERO);
        for line in &response.discounts {
            prop_assert_eq!(line.amount().scale(), units);
            prop_assert!(line.amount() > Decimal::ZERO);
            prop_assert_eq!(line.amount(), crate::currency::round(line.amount(), units));
        }
    }

    #[test]
    fn item_discounts_never_exceed_their_products_value((order, evaluation) in bill_and_answer()) {
        let response = discount_response(&order, &evaluation).unwrap();
        for product in PRODUCTS {
            let discounted: Decimal = response
                .discounts
                .iter()
                .filter_map(|line| match line {
                    DiscountLine::PercentageOnItem { product_id, amount, .. }
                        if product_id == product => Some(*amount),
                    _ => None,
                })
                .sum();
            prop_assert!(discounted <= product_value(&order, product).max(Decimal::ZERO));
        }
    }

    #[test]
    fn a_single_bill_percentage_is_the_rounded_share(total in money(1_000_000, 4), p in percentage()) {
        let order = order(total, "EUR", vec![]);
        let request = DiscountRequest {
            kind: DiscountKind::PercentageOnBill { percentage: p },
            description: "x".to_owned(),
            points: 0,
        coupon: None,
divisible: false,
};
        let evaluation = Evaluation { discounts: vec![request], message: None };
        let response = discount_response(&order, &evaluation).unwrap();
        let expected = crate::currency::round(total * p / Decimal::ONE_HUNDRED, 2)
            .min(crate::currency::truncate(total, 2));
        prop_assert_eq!(response.total_discount, expected);
    }

    #[test]
    fn serialization_round_trips_exactly((order, evaluation) in bill_and_answer()) {
        let response = discount_response(&order, &evaluation).unwrap();
        let text = serde_json::to_string(&response).unwrap();

        // Every number on the wire reads back as the very decimal, places included.
        let value: Value = serde_json::from_str(&text).unwrap();
        let wire_total = from_number(value["totalDiscount"].as_number().unwrap()).unwrap();
        prop_assert_eq!(wire_total.to_string(), response.total_discount.to_string());
        let lines = value["discounts"].as_array().unwrap();
        prop_assert_eq!(lines.len(), response.discounts.len());
        for (wire, line) in lines.iter().zip(&response.discounts) {
            let amount = from_number(wire["amount"].as_number().unwrap()).unwrap();
            prop_assert_eq!(amount.to_string(), line.amount().to_string());
        }

        let back: DiscountResponse = serde_json::from_str(&text).unwrap();
        prop_assert_eq!(&back, &response);
        prop_assert_eq!(serde_json::to_string(&back).unwrap(), text);
    }
}
