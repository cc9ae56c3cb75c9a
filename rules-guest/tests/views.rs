//! The SDK's views over a test's input (written by `rabat-wire` exactly as the host
//! writes it), the 0.2 answers, and the host's money rules natively.
#![allow(clippy::unwrap_used)]

use rabat_rules::prelude::*;
use rabat_rules::{DiscountKind, Offer};

fn bill() -> OrderData {
    Order::builder()
        .order_id("o-7")
        .item(
            OrderItem::new("11111", "Espresso", 2, dec!(2.50))
                .with_category("Hot Beverages")
                .with_vat(20, dec!(0.83)),
        )
        .item(OrderItem::new("22222", "Croissant", 3, dec!(1.15)).with_category_id("b7"))
        .attribute("taxSystem", "1")
        .created(1_700_000_000_000i64)
        .build()
}

#[test]
fn a_test_reads_the_bill_through_the_same_views_as_the_till() {
    let ctx = Context::new(bill())
        .with_card(
            Card::builder()
                .tier("gold")
                .tag("staff")
                .points(700)
                .build(),
        )
        .with_config(r#"{"a": 1}"#);
    let order = ctx.order();
    assert_eq!(order.order_id(), "o-7");
    assert_eq!(order.pos(), "papaya");
    assert_eq!(order.currency(), "EUR");
    assert_eq!(order.total(), dec!(8.45));
    assert_eq!(order.items().len(), 2);
    let espresso = order.items().next().unwrap();
    assert_eq!(espresso.category_name(), Some("Hot Beverages"));
    assert_eq!(espresso.vat_rate(), Some(dec!(20)));
    assert_eq!(espresso.total_price().to_string(), "5.00");
    assert_eq!(order.lines_in_category_id("b7").count(), 1);
    assert_eq!(Order::sum(order.lines_of_product("22222")), dec!(3.45));
    assert_eq!(order.attribute("taxSystem"), Some("1"));
    assert_eq!(order.created(), Some(1_700_000_000_000));
    assert_eq!(ctx.tier(), Some("gold"));
    assert!(ctx.has_tag("staff"));
    assert_eq!(ctx.card().unwrap().points(), 700);
    assert_eq!(ctx.config_text(), r#"{"a": 1}"#);
    assert!(ctx.offer().is_none());
    // The buffer is the host's layout: a context opened from it reads the same.
    let again = Context::from_input(ctx.input_bytes().to_vec()).unwrap();
    assert_eq!(again.order().items().nth(1).unwrap().name(), "Croissant");
    assert!(
        Context::from_input(vec![1, 2, 3])
            .unwrap_err()
            .contains("header")
    );
}

#[test]
fn accrue_sees_the_offer() {
    let offer = Offer::builder()
        .coupon("POINTS", dec!(3.00), 300, "Paid with 300 points")
        .build();
    let ctx = Context::new(bill()).with_offer(offer);
    let offer = ctx.offer().unwrap();
    assert_eq!(offer.held_points(), 300);
    assert_eq!(offer.total_discount(), dec!(3.00));
    let coupon = offer.coupon("POINTS").unwrap();
    assert_eq!(
        (coupon.kind(), coupon.amount(), coupon.points()),
        ("coupon_zero_vat", dec!(3.00), 300)
    );
    // Setting something else keeps the offer.
    assert_eq!(
        ctx.with_config("{}").offer().map(|o| o.held_points()),
        Some(300)
    );
}

#[test]
fn the_new_answers() {
    let d = Discount::amount_off_item("22222", dec!(1.15), "3 for 2").costing_points(0);
    assert_eq!(
        d.kind,
        DiscountKind::AmountOffItem {
            product_id: "22222".into(),
            amount: dec!(1.15)
        }
    );
    let paid = Discount::coupon_zero_vat(dec!(3), "POINTS", "points").costing_points(300);
    assert_eq!(paid.points, 300);
    let accrual = Accrual::points(5, "why")
        .redeem(300)
        .set_tier("silver")
        .add_tag("a")
        .remove_tag("b");
    assert_eq!(accrual.redeem, 300);
    assert_eq!(accrual.set_tier.as_deref(), Some("silver"));
    assert_eq!((accrual.add_tags.len(), accrual.remove_tags.len()), (1, 1));
    let ctx = Context::new(bill());
    let bad: Evaluation = Discount::amount_off_item("99999", dec!(1), "x").into();
    assert_eq!(
        bad.validate(&ctx.order()),
        Err("discounts[0]: product 99999 is not on the bill".into())
    );
}

#[test]
fn amounts_are_the_tills_exact_amounts() {
    let ctx = Context::new(bill());
    let evaluation = Evaluation::none()
        .with(Discount::percentage_on_bill(10, "10% off"))
        .with(Discount::amount_off_item(
            "22222",
            dec!(1.15),
            "Third croissant free",
        ));
    let amounts = evaluation.amounts(&ctx).unwrap();
    // The item amount first (1.15), then 10 % of what is left (7.30 → 0.73).
    let got: Vec<_> = amounts.discounts.iter().map(|d| d.amount()).collect();
    assert_eq!(got, [dec!(1.15), dec!(0.73)]);
    assert_eq!(amounts.total_discount, dec!(1.88));
    let invalid: Evaluation = Discount::percentage_on_bill(150, "too much").into();
    assert!(invalid.amounts(&ctx).unwrap_err().contains("150"));
}
