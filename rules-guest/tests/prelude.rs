//! What an author following the docs writes compiles with the prelude alone: a test
//! helper returning the [`ItemData`] `OrderItem::new` gives, and a loop bounded by
//! [`MAX_DISCOUNTS`] (both were missing: "cannot find type `ItemData` in this scope").
#![allow(clippy::unwrap_used)]

use rabat_rules::prelude::*;

/// A policy that asks for a percentage off every product, at most `MAX_DISCOUNTS`.
struct EveryProduct;

impl Policy for EveryProduct {
    fn evaluate(ctx: &Context) -> Result<Evaluation, String> {
        let mut evaluation = Evaluation::none();
        for product_id in Order::products(ctx.order().items()) {
            if evaluation.discounts.len() == MAX_DISCOUNTS {
                break;
            }
            evaluation = evaluation.with(Discount::percentage_on_item(product_id, 5, "5% off"));
        }
        Ok(evaluation)
    }
}

fn line(product: usize) -> ItemData {
    OrderItem::new(format!("p{product}"), "Tea", 1, dec!(2.00))
}

#[test]
fn item_data_and_max_discounts_come_with_the_prelude() {
    let order = (0..MAX_DISCOUNTS + 3)
        .fold(Order::builder(), |b, i| b.item(line(i)))
        .build();
    let ctx = Context::new(order);
    let evaluation = EveryProduct::evaluate(&ctx).unwrap();
    assert_eq!(evaluation.discounts.len(), MAX_DISCOUNTS);
    assert_eq!(evaluation.validate(&ctx.order()), Ok(()));
}
