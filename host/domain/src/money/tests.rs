#![allow(clippy::unwrap_used)]

use rust_decimal::Decimal;

use super::json::compact;
use super::*;
use crate::model::{Order, OrderItem, Pos};

pub(super) fn d(text: &str) -> Decimal {
    text.parse().unwrap_or_else(|e| panic!("{text}: {e}"))
}

pub(super) fn item(product_id: &str, name: &str, total_price: Decimal) -> OrderItem {
    OrderItem {
        id: format!("line-{product_id}"),
        product_id: product_id.to_owned(),
        name: name.to_owned(),
        description: None,
        quantity: Decimal::ONE,
        unit_price: total_price,
        total_price,
        vat: None,
        vat_rate: None,
        category_id: None,
        category_name: None,
        ean: None,
        note: None,
    }
}

pub(super) fn order(total: Decimal, currency: &str, items: Vec<OrderItem>) -> Order {
    Order {
        order_id: "00123487979878".to_owned(),
        pos: Pos::Papaya,
        status: "open".to_owned(),
        total,
        total_without_vat: None,
        vat: None,
        currency: currency.to_owned(),
        created: None,
        updated: None,
        branch_id: None,
        note: None,
        items,
        attributes: Vec::new(),
    }
}

fn eur(total: &str, items: &[(&str, &str, &str)]) -> Order {
    let items = items
        .iter()
        .map(|(id, name, price)| item(id, name, d(price)))
        .collect();
    order(d(total), "EUR", items)
}

fn bill(percentage: &str, description: &str) -> DiscountRequest {
    DiscountRequest {
        kind: DiscountKind::PercentageOnBill {
            percentage: d(percentage),
        },
        description: description.to_owned(),
        points: 0,
        coupon: None,
        divisible: false,
    }
}

fn on_item(product_id: &str, percentage: &str, description: &str) -> DiscountRequest {
    DiscountRequest {
        kind: DiscountKind::PercentageOnItem {
            product_id: product_id.to_owned(),
            percentage: d(percentage),
        },
        description: description.to_owned(),
        points: 0,
        coupon: None,
        divisible: false,
    }
}

fn coupon(amount: &str, code: &str, description: &str) -> DiscountRequest {
    DiscountRequest {
        kind: DiscountKind::CouponZeroVat {
            amount: d(amount),
            code: code.to_owned(),
        },
        description: description.to_owned(),
        points: 0,
        coupon: None,
        divisible: false,
    }
}

fn asked(discounts: Vec<DiscountRequest>, message: Option<&str>) -> Evaluation {
    Evaluation {
        discounts,
        message: message.map(str::to_owned),
    }
}

fn answer(order: &Order, evaluation: &Evaluation) -> DiscountResponse {
    discount_response(order, evaluation).unwrap()
}

fn amounts(response: &DiscountResponse) -> Vec<String> {
    response
        .discounts
        .iter()
        .map(|line| line.amount().to_string())
        .collect()
}

fn rejection(order: &Order, discounts: Vec<DiscountRequest>) -> String {
    discount_response(order, &asked(discounts, None))
        .unwrap_err()
        .to_string()
}

fn assert_wire(response: &DiscountResponse, seed_body: &str) {
    assert_eq!(serde_json::to_string(response).unwrap(), compact(seed_body));
}

#[test]
fn seed_example_percentage_on_bill() {
    let order = eur("50.00", &[("11111", "Espresso", "5.00")]);
    let evaluation = asked(
        vec![bill("10", "10% loyalty discount")],
        Some("10% discount on entire bill"),
    );
    assert_wire(
        &answer(&order, &evaluation),
        r#"{
          "discounts": [
            { "type": "percentage_on_bill", "appliesTo": "bill", "percentage": 10,
              "amount": 5.00, "description": "10% loyalty discount" }
          ],
          "totalDiscount": 5.00,
          "message": "10% discount on entire bill"
        }"#,
    );
}

#[test]
fn seed_example_percentage_on_item() {
    let order = eur(
        "20.00",
        &[
            ("prod_201", "Premium Coffee Blend", "15.00"),
            ("x", "Tea", "5.00"),
        ],
    );
    let evaluation = asked(
        vec![on_item("prod_201", "20", "20% off Premium Coffee Blend")],
        Some("20% discount on Premium Coffee Blend"),
    );
    assert_wire(
        &answer(&order, &evaluation),
        r#"{
          "discounts": [
            { "type": "percentage_on_item", "appliesTo": "item", "percentage": 20,
              "amount": 3.00, "productId": "prod_201", "productName": "Premium Coffee Blend",
              "description": "20% off Premium Coffee Blend" }
          ],
          "totalDiscount": 3.00,
          "message": "20% discount on Premium Coffee Blend"
        }"#,
    );
}

#[test]
fn seed_example_coupon_zero_vat() {
    let order = eur("50.00", &[("11111", "Espresso", "5.00")]);
    let evaluation = asked(
        vec![coupon("5", "WELCOME5", "Welcome coupon")],
        Some("Coupon discount: €5 off"),
    );
    assert_wire(
        &answer(&order, &evaluation),
        r#"{
          "discounts": [
            { "type": "coupon_zero_vat", "appliesTo": "bill", "amount": 5.00, "vatRate": 0,
              "couponCode": "WELCOME5", "description": "Welcome coupon" }
          ],
          "totalDiscount": 5.00,
          "message": "Coupon discount: €5 off"
        }"#,
    );
}

#[test]
fn the_seeds_answers_read_back_to_the_same_text() {
    let order = eur("50.00", &[("11111", "Espresso", "5.00")]);
    let evaluation = asked(
        vec![
            on_item("11111", "12.50", ""),
            bill("10", "loyalty"),
            coupon("5", "WELCOME5", "Welcome coupon"),
        ],
        None,
    );
    let text = serde_json::to_string(&answer(&order, &evaluation)).unwrap();
    let back: DiscountResponse = serde_json::from_str(&text).unwrap();
    assert_eq!(serde_json::to_string(&back).unwrap(), text);
}

#[test]
fn fail_safe_answer_has_no_discounts_and_a_cashier_message() {
    assert_wire(
        &DiscountResponse::fail_safe("EUR"),
        r#"{"discounts": [], "totalDiscount": 0.00, "message": "Loyalty discount unavailable"}"#,
    );
    assert_eq!(
        serde_json::to_string(&DiscountResponse::fail_safe("JPY")).unwrap(),
        r#"{"discounts":[],"totalDiscount":0,"message":"Loyalty discount unavailable"}"#
    );
}

#[test]
fn item_percentage_is_on_the_sum_of_the_products_lines_named_after_the_first() {
    let order = eur(
        "30.00",
        &[
            ("11111", "Espresso", "5.00"),
            ("22222", "Croissant", "3.50"),
            ("11111", "Espresso (2)", "2.50"),
        ],
    );
    let response = answer(&order, &asked(vec![on_item("11111", "10", "")], None));
    assert_eq!(amounts(&response), ["0.75"]);
    match &response.discounts[0] {
        DiscountLine::PercentageOnItem {
            product_name,
            description,
            ..
        } => {
            assert_eq!(product_name, "Espresso");
            assert_eq!(description, "10% discount on Espresso");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn several_percentages_on_one_product_apply_one_after_another() {
    let order = eur("100.00", &[("a", "A", "10.00")]);
    let response = answer(
        &order,
        &asked(vec![on_item("a", "10", "x"), on_item("a", "10", "y")], None),
    );
    assert_eq!(amounts(&response), ["1.00", "0.90"]);
    assert_eq!(response.total_discount.to_string(), "1.90");
}

#[test]
fn items_then_bill_then_coupons_whatever_order_the_policy_used() {
    let order = eur("50.00", &[("a", "A", "20.00")]);
    let response = answer(
        &order,
        &asked(
            vec![
                coupon("5", "C", "coupon"),
                bill("10", "bill"),
                on_item("a", "50", "item"),
            ],
            None,
        ),
    );
    // item: 50% of 20.00; bill: 10% of the 40.00 left; coupon: 5.00 of the 36.00 left.
    let kinds: Vec<_> = response
        .discounts
        .iter()
        .map(DiscountLine::type_name)
        .collect();
    assert_eq!(
        kinds,
        [
            "percentage_on_item",
            "percentage_on_bill",
            "coupon_zero_vat"
        ]
    );
    assert_eq!(amounts(&response), ["10.00", "4.00", "5.00"]);
    assert_eq!(response.total_discount.to_string(), "19.00");
    assert_eq!(response.message, "item; bill; coupon");
}

#[test]
fn bill_percentages_apply_one_after_another() {
    let order = eur("10.00", &[]);
    let response = answer(&order, &asked(vec![bill("50", "a"), bill("50", "b")], None));
    assert_eq!(amounts(&response), ["5.00", "2.50"]);
}

#[test]
fn coupons_are_capped_at_what_is_left_and_dropped_when_nothing_is() {
    let order = eur("8.00", &[]);
    let response = answer(
        &order,
        &asked(
            vec![
                coupon("5", "A", "a"),
                coupon("5", "B", "b"),
                coupon("5", "C", "c"),
            ],
            None,
        ),
    );
    assert_eq!(amounts(&response), ["5.00", "3.00"]);
    assert_eq!(response.total_discount, d("8.00"));
    assert_eq!(response.message, "a; b");
}

#[test]
fn item_discounts_are_capped_by_the_bill_total() {
    // Item totals need not add up to `total`: the bill is the limit.
    let order = eur("1.00", &[("a", "A", "15.00")]);
    let response = answer(
        &order,
        &asked(vec![on_item("a", "50", "x"), bill("10", "y")], None),
    );
    assert_eq!(amounts(&response), ["1.00"]);
    assert_eq!(response.total_discount.to_string(), "1.00");
}

#[test]
fn a_product_worth_nothing_or_less_gets_no_discount() {
    let order = eur(
        "10.00",
        &[
            ("a", "A", "2.00"),
            ("a", "A refund", "-3.00"),
            ("z", "Zero", "0.00"),
        ],
    );
    let response = answer(
        &order,
        &asked(
            vec![on_item("a", "100", "x"), on_item("z", "50", "y")],
            None,
        ),
    );
    assert!(response.discounts.is_empty());
    assert_eq!(response.total_discount.to_string(), "0.00");
    assert_eq!(response.message, NO_DISCOUNT_MESSAGE);
}

#[test]
fn negative_lines_reduce_their_products_value() {
    let order = eur("10.00", &[("a", "A", "6.00"), ("a", "A voucher", "-2.00")]);
    let response = answer(&order, &asked(vec![on_item("a", "50", "x")], None));
    assert_eq!(amounts(&response), ["2.00"]);
}

#[test]
fn a_zero_bill_gets_nothing_but_keeps_the_policys_message() {
    let order = eur("0.00", &[("a", "A", "0.00")]);
    let evaluation = asked(
        vec![bill("10", "x"), coupon("5", "C", "c")],
        Some("Welcome back!"),
    );
    let response = answer(&order, &evaluation);
    assert!(response.discounts.is_empty());
    assert_eq!(
        serde_json::to_string(&response).unwrap(),
        r#"{"discounts":[],"totalDiscount":0.00,"message":"Welcome back!"}"#
    );
}

#[test]
fn a_negative_total_counts_as_zero() {
    let order = eur("-5.00", &[]);
    let response = answer(&order, &asked(vec![coupon("1", "C", "c")], None));
    assert!(response.discounts.is_empty());
    assert_eq!(response.total_discount.to_string(), "0.00");
}

#[test]
fn a_discount_that_rounds_to_zero_is_left_out() {
    let order = eur("0.04", &[]);
    let response = answer(
        &order,
        &asked(vec![bill("10", "x"), coupon("0.004", "C", "c")], None),
    );
    assert!(response.discounts.is_empty());
    assert_eq!(response.message, NO_DISCOUNT_MESSAGE);
}

#[test]
fn rounding_is_half_away_from_zero() {
    let order = eur("0.25", &[]);
    assert_eq!(
        amounts(&answer(&order, &asked(vec![bill("10", "x")], None))),
        ["0.03"]
    );
    let order = eur("100.00", &[]);
    let coupon = answer(&order, &asked(vec![coupon("5.005", "C", "c")], None));
    assert_eq!(amounts(&coupon), ["5.01"]);
}

#[test]
fn caps_are_cut_down_to_whole_minor_units() {
    let order = eur("3.335", &[("a", "A", "3.335")]);
    let response = answer(&order, &asked(vec![on_item("a", "100", "x")], None));
    assert_eq!(amounts(&response), ["3.33"]);
}

#[test]
fn amounts_follow_the_currencys_minor_unit() {
    let order = order(d("1005"), "JPY", vec![]);
    let response = answer(&order, &asked(vec![bill("10", "x")], None));
    assert_eq!(
        serde_json::to_string(&response).unwrap(),
        r#"{"discounts":[{"type":"percentage_on_bill","appliesTo":"bill","percentage":10,"amount":101,"description":"x"}],"totalDiscount":101,"message":"x"}"#
    );
    let kwd = super::tests::order(d("10"), "KWD", vec![]);
    assert_eq!(
        amounts(&answer(&kwd, &asked(vec![bill("12.345", "x")], None))),
        ["1.235"]
    );
    let unknown = super::tests::order(d("10"), "", vec![]);
    assert_eq!(
        amounts(&answer(&unknown, &asked(vec![bill("10", "x")], None))),
        ["1.00"]
    );
}

#[test]
fn percentages_are_written_normalized() {
    let order = eur("100.00", &[]);
    let text = serde_json::to_string(&answer(
        &order,
        &asked(vec![bill("12.50", "a"), bill("10.0", "b")], None),
    ))
    .unwrap();
    assert!(
        text.contains(r#""percentage":12.5,"amount":12.50"#),
        "{text}"
    );
    assert!(text.contains(r#""percentage":10,"amount":8.75"#), "{text}");
}

#[test]
fn empty_descriptions_get_defaults_in_the_seeds_style() {
    let order = eur(
        "50.00",
        &[
            ("prod_201", "Premium Coffee Blend", "15.00"),
            ("n", " ", "5.00"),
        ],
    );
    let response = answer(
        &order,
        &asked(
            vec![
                bill("10", ""),
                on_item("prod_201", "20", " "),
                on_item("n", "10", ""),
                coupon("5", "WELCOME5", ""),
            ],
            None,
        ),
    );
    let descriptions: Vec<_> = response
        .discounts
        .iter()
        .map(DiscountLine::description)
        .collect();
    assert_eq!(
        descriptions,
        [
            "20% discount on Premium Coffee Blend",
            "10% discount on n",
            "10% discount on entire bill",
            "Coupon WELCOME5: 5.00 EUR off",
        ]
    );
    assert_eq!(response.message, descriptions.join("; "));
}

#[test]
fn the_cashier_message_says_each_description_once_in_order_of_first_appearance() {
    let order = eur(
        "20.00",
        &[
            ("a", "Espresso", "2.50"),
            ("b", "Espresso", "3.00"),
            ("c", "Tea", "2.00"),
        ],
    );
    let response = answer(
        &order,
        &asked(
            vec![
                on_item("a", "20", "Happy hour: 20% off"),
                on_item("c", "10", "Tea time"),
                on_item("b", "20", "Happy hour: 20% off"),
                bill("5", "Tea time"),
            ],
            None,
        ),
    );
    // Every line keeps its description; the message says each one once.
    assert_eq!(response.discounts.len(), 4);
    assert_eq!(response.message, "Happy hour: 20% off; Tea time");
}

#[test]
fn a_blank_policy_message_counts_as_none() {
    let order = eur("10.00", &[]);
    let response = answer(&order, &asked(vec![bill("10", "Ten off")], Some("  ")));
    assert_eq!(response.message, "Ten off");
    let nothing = answer(&order, &asked(vec![], None));
    assert_eq!(nothing.message, NO_DISCOUNT_MESSAGE);
    assert_eq!(nothing.total_discount.to_string(), "0.00");
}

#[test]
fn percentages_must_be_in_0_exclusive_to_100_inclusive() {
    let order = eur("10.00", &[("a", "A", "1.00")]);
    assert_eq!(
        rejection(
            &order,
            vec![
                bill("10", "ok"),
                bill("10", "ok"),
                bill("10", "ok"),
                bill("150", "x")
            ]
        ),
        "discounts[3]: percentage 150 is outside (0, 100]"
    );
    assert_eq!(
        rejection(&order, vec![bill("0", "x")]),
        "discounts[0]: percentage 0 is outside (0, 100]"
    );
    assert_eq!(
        rejection(&order, vec![on_item("a", "-5", "x")]),
        "discounts[0]: percentage -5 is outside (0, 100]"
    );
    assert_eq!(
        rejection(&order, vec![on_item("a", "100.01", "x")]),
        "discounts[0]: percentage 100.01 is outside (0, 100]"
    );
    assert!(discount_response(&order, &asked(vec![bill("100", "all")], None)).is_ok());
    assert!(discount_response(&order, &asked(vec![bill("0.01", "tiny")], None)).is_ok());
}

#[test]
fn an_item_discount_must_name_a_product_on_the_bill() {
    let order = eur("10.00", &[("a", "A", "1.00")]);
    assert_eq!(
        rejection(&order, vec![on_item("x", "10", "x")]),
        r#"discounts[0]: product "x" is not on the bill"#
    );
    assert_eq!(
        rejection(
            &order,
            vec![bill("5", "ok"), on_item("A", "10", "ids are exact")]
        ),
        r#"discounts[1]: product "A" is not on the bill"#
    );
}

#[test]
fn coupons_need_a_positive_amount_and_a_code() {
    let order = eur("10.00", &[]);
    assert_eq!(
        rejection(&order, vec![coupon("0", "C", "x")]),
        "discounts[0]: coupon amount 0 must be greater than 0"
    );
    assert_eq!(
        rejection(&order, vec![coupon("-5.00", "C", "x")]),
        "discounts[0]: coupon amount -5.00 must be greater than 0"
    );
    assert_eq!(
        rejection(&order, vec![coupon("5", "", "x")]),
        "discounts[0]: coupon code is empty"
    );
    assert_eq!(
        rejection(&order, vec![coupon("5", " \t", "x")]),
        "discounts[0]: coupon code is empty"
    );
    assert_eq!(
        rejection(&order, vec![coupon("5", &"C".repeat(65), "x")]),
        "discounts[0]: coupon code is 65 characters long; at most 64 are allowed"
    );
    assert!(
        discount_response(
            &order,
            &asked(vec![coupon("5", &"Č".repeat(64), "x")], None)
        )
        .is_ok()
    );
}

#[test]
fn at_most_64_discounts() {
    let order = eur("10.00", &[]);
    assert!(discount_response(&order, &asked(vec![bill("1", "x"); 64], None)).is_ok());
    assert_eq!(
        rejection(&order, vec![bill("1", "x"); 65]),
        "the policy asked for 65 discounts; at most 64 are allowed"
    );
}

#[test]
fn an_answer_that_is_partly_wrong_gives_nothing() {
    let order = eur("10.00", &[]);
    let result = discount_response(
        &order,
        &asked(vec![bill("10", "fine"), coupon("0", "C", "bad")], None),
    );
    assert_eq!(
        result,
        Err(InvalidAnswer::CouponAmountNotPositive {
            index: 1,
            amount: d("0")
        })
    );
}

#[test]
fn astronomic_bills_fail_cleanly_instead_of_panicking() {
    let big = d("50000000000000000000000000000");
    let order = order(big, "EUR", vec![item("a", "A", big), item("a", "A", big)]);
    assert_eq!(
        discount_response(&order, &asked(vec![on_item("a", "10", "x")], None)),
        Err(InvalidAnswer::Overflow { index: 0 })
    );
    let huge = super::tests::order(d("1000000000000000000000000"), "EUR", vec![]);
    let response = answer(&huge, &asked(vec![bill("100", "all")], None));
    assert_eq!(
        response.total_discount.to_string(),
        "1000000000000000000000000.00"
    );
}

#[test]
fn reading_back_refuses_inconsistent_lines() {
    for bad in [
        r#"{"discounts":[{"type":"coupon_zero_vat","appliesTo":"bill","percentage":5,"amount":5.00,"vatRate":0,"couponCode":"C","description":"x"}],"totalDiscount":5.00,"message":"m"}"#,
        r#"{"discounts":[{"type":"percentage_on_item","appliesTo":"bill","percentage":5,"amount":5.00,"productId":"a","productName":"A","description":"x"}],"totalDiscount":5.00,"message":"m"}"#,
        r#"{"discounts":[{"type":"coupon_zero_vat","appliesTo":"bill","amount":5.00,"vatRate":20,"couponCode":"C","description":"x"}],"totalDiscount":5.00,"message":"m"}"#,
        r#"{"discounts":[{"type":"free_lunch","appliesTo":"bill","amount":5.00,"description":"x"}],"totalDiscount":5.00,"message":"m"}"#,
        r#"{"discounts":[],"totalDiscount":"5.00","message":"m"}"#,
    ] {
        assert!(
            serde_json::from_str::<DiscountResponse>(bad).is_err(),
            "{bad}"
        );
    }
}

fn amount_off(product_id: &str, amount: &str, description: &str) -> DiscountRequest {
    DiscountRequest {
        kind: DiscountKind::AmountOffItem {
            product_id: product_id.to_owned(),
            amount: d(amount),
        },
        description: description.to_owned(),
        points: 0,
        coupon: None,
        divisible: false,
    }
}

#[test]
fn an_amount_off_a_product_is_exact_and_goes_out_as_a_percentage_on_the_item() {
    // Three croissants at 1.15: "3 for 2" is exactly one croissant off, where a
    // percentage (33.33 %) would give 1.14.
    let order = eur("3.45", &[("croissant", "Croissant", "3.45")]);
    let evaluation = Evaluation {
        discounts: vec![amount_off("croissant", "1.15", "3 for 2")],
        message: None,
    };
    let response = discount_response(&order, &evaluation).unwrap();
    assert_eq!(response.total_discount, d("1.15"));
    match &response.discounts[0] {
        DiscountLine::PercentageOnItem {
            amount,
            percentage,
            product_id,
            ..
        } => {
            assert_eq!(*amount, d("1.15"));
            assert_eq!(*percentage, d("33.3333"));
            assert_eq!(product_id, "croissant");
        }
        other => panic!("expected a percentage_on_item line, got {other:?}"),
    }
}

#[test]
fn an_amount_off_a_product_is_capped_at_what_is_left_of_it() {
    let order = eur("10.00", &[("tea", "Tea", "2.00"), ("cake", "Cake", "8.00")]);
    let evaluation = Evaluation {
        discounts: vec![on_item("tea", "50", ""), amount_off("tea", "5", "")],
        message: None,
    };
    let response = discount_response(&order, &evaluation).unwrap();
    let amounts: Vec<Decimal> = response
        .discounts
        .iter()
        .map(DiscountLine::amount)
        .collect();
    assert_eq!(amounts, vec![d("1.00"), d("1.00")]);
    assert_eq!(response.discounts[1].description(), "1.00 EUR off Tea");
}

#[test]
fn an_amount_off_must_be_positive_and_name_a_product_on_the_bill() {
    let order = eur("2.00", &[("tea", "Tea", "2.00")]);
    let zero = Evaluation {
        discounts: vec![amount_off("tea", "0", "")],
        message: None,
    };
    assert_eq!(
        discount_response(&order, &zero).unwrap_err().to_string(),
        "discounts[0]: amount 0 off product \"tea\" must be greater than 0"
    );
    let elsewhere = Evaluation {
        discounts: vec![amount_off("coffee", "1", "")],
        message: None,
    };
    assert!(matches!(
        discount_response(&order, &elsewhere),
        Err(InvalidAnswer::ProductNotOnBill { .. })
    ));
}

/// Many item discounts on a bill whose products have several lines each, interleaved:
/// each discount takes its own product's lines (their sum, what earlier discounts left of
/// it) and names it by its first line, as when every discount scanned the bill itself.
#[test]
fn many_item_discounts_each_take_their_own_products_lines() {
    let products = 40;
    let mut items = Vec::new();
    for round in 0..3 {
        for p in 0..products {
            let name = if round == 0 && p % 5 == 0 {
                " ".to_owned() // a blank first name: the id stands for it
            } else {
                format!("Product {p} line {round}")
            };
            items.push(item(&format!("p{p}"), &name, d("1.00")));
        }
    }
    let order = order(d("120.00"), "EUR", items);
    // Every product once at 10 %, then the first ten again, 1.00 off what is left.
    let mut discounts: Vec<_> = (0..products)
        .map(|p| on_item(&format!("p{p}"), "10", ""))
        .collect();
    discounts.extend((0..10).map(|p| amount_off(&format!("p{p}"), "1.00", "")));
    let response = answer(&order, &asked(discounts, None));
    assert_eq!(response.discounts.len(), 50);
    for (p, line) in response.discounts.iter().take(40).enumerate() {
        let DiscountLine::PercentageOnItem {
            product_id,
            product_name,
            amount,
            ..
        } = line
        else {
            panic!("{line:?}");
        };
        assert_eq!(product_id, &format!("p{p}"));
        let first = if p % 5 == 0 {
            format!("p{p}")
        } else {
            format!("Product {p} line 0")
        };
        assert_eq!(product_name, &first);
        // 10 % of its three lines.
        assert_eq!(*amount, d("0.30"), "{line:?}");
    }
    for line in &response.discounts[40..] {
        let DiscountLine::PercentageOnItem { amount, .. } = line else {
            panic!("{line:?}");
        };
        // 1.00 off the 2.70 the percentage left.
        assert_eq!(*amount, d("1.00"), "{line:?}");
    }
    assert_eq!(response.total_discount, d("22.00"));
}
