//! Three for two: every third unit of each product in the configured categories is free.
//! Config: `{"categories": ["Bakery"]}`.
//!
//! For each product of those categories on the bill, its whole units are counted over all
//! its lines (7 croissants on two lines are 7); every third is free, at the product's
//! lowest unit price on the bill, as an exact amount off that product
//! ([`Discount::amount_off_item`]): 3 croissants at 1.15 take exactly 1.15 off, 7 take
//! 2.30 off. Fractional quantities (weighed goods) count their whole units only.
use rabat_rules::prelude::*;

#[derive(serde::Deserialize)]
struct Config {
    categories: Vec<String>,
}

/// The policy: one exact amount off per product with at least three units.
pub struct ThreeForTwo;

impl Policy for ThreeForTwo {
    fn evaluate(ctx: &Context) -> Result<Evaluation, String> {
        let Config { categories } = ctx.config()?;
        let order = ctx.order();
        let in_categories = order.items().filter(|line| {
            line.category_name()
                .is_some_and(|c| categories.iter().any(|k| k == c))
        });
        let mut evaluation = Evaluation::none();
        for product_id in Order::products(in_categories) {
            if evaluation.discounts.len() == rabat_rules::MAX_DISCOUNTS {
                break;
            }
            let lines = || order.lines_of_product(product_id);
            let units = Order::quantity(lines()).trunc();
            let free = (units / Decimal::from(3)).trunc();
            let Some(cheapest) = lines().min_by_key(|line| line.unit_price()) else {
                continue;
            };
            if free <= Decimal::ZERO || cheapest.unit_price() <= Decimal::ZERO {
                continue;
            }
            let amount = free * cheapest.unit_price();
            evaluation = evaluation.with(Discount::amount_off_item(
                product_id,
                amount,
                format!("3 for 2: {free} × {} free", cheapest.name()),
            ));
        }
        Ok(evaluation)
    }
}

export_policy!(ThreeForTwo);

#[cfg(test)]
mod tests {
    use super::*;

    const CONFIG: &str = r#"{"categories": ["Bakery"]}"#;

    fn ctx(order: OrderData) -> Context {
        Context::new(order).with_config(CONFIG)
    }

    #[test]
    fn every_third_croissant_is_free_to_the_cent() {
        let ctx = ctx(Order::builder()
            .item(OrderItem::new("22222", "Croissant", 3, dec!(1.15)).with_category("Bakery"))
            .item(OrderItem::new("11111", "Espresso", 3, dec!(2.50)).with_category("Hot Beverages"))
            .build());
        let evaluation = ThreeForTwo::evaluate(&ctx).unwrap();
        assert_eq!(
            evaluation.discounts,
            [Discount::amount_off_item(
                "22222",
                dec!(1.15),
                "3 for 2: 1 × Croissant free"
            )]
        );
        assert_eq!(evaluation.validate(&ctx.order()), Ok(()));
        let amounts = evaluation.amounts(&ctx).unwrap();
        assert_eq!(amounts.total_discount, dec!(1.15));
        assert_eq!(amounts.discounts[0].amount(), dec!(1.15));
    }

    #[test]
    fn units_add_up_across_lines_and_products_count_apart() {
        // 4 + 3 = 7 croissants (2 free, 2.30), 2 rolls (none free), 6 buns at 0.35 (0.70).
        let ctx = ctx(Order::builder()
            .item(OrderItem::new("22222", "Croissant", 4, dec!(1.15)).with_category("Bakery"))
            .item(OrderItem::new("33333", "Roll", 2, dec!(0.40)).with_category("Bakery"))
            .item(
                OrderItem::new("22222", "Croissant", 3, dec!(1.15))
                    .with_id("second-line")
                    .with_category("Bakery"),
            )
            .item(OrderItem::new("44444", "Bun", 6, dec!(0.35)).with_category("Bakery"))
            .build());
        let evaluation = ThreeForTwo::evaluate(&ctx).unwrap();
        let amounts = evaluation.amounts(&ctx).unwrap();
        let got: Vec<_> = amounts.discounts.iter().map(|d| d.amount()).collect();
        assert_eq!(got, [dec!(2.30), dec!(0.70)]);
        assert_eq!(amounts.total_discount, dec!(3.00));
    }

    #[test]
    fn weighed_goods_count_whole_units_and_other_categories_nothing() {
        let ctx = ctx(Order::builder()
            .item(
                OrderItem::new("55555", "Bread by weight", dec!(2.9), dec!(3.20))
                    .with_category("Bakery"),
            )
            .item(OrderItem::new("11111", "Espresso", 9, dec!(2.50)).with_category("Hot Beverages"))
            .build());
        assert_eq!(ThreeForTwo::evaluate(&ctx), Ok(Evaluation::none()));
    }

    #[test]
    fn a_config_without_categories_is_named() {
        let ctx = Context::new(Order::builder().build()).with_config("{}");
        let err = ThreeForTwo::evaluate(&ctx).unwrap_err();
        assert!(err.contains("categories"), "{err}");
    }
}
