//! Category discount: a percentage off every product of one category, for every bill.
//! Config: `{"category": "Hot Beverages", "percentage": 20}` (the category name exactly as
//! the POS sends it).
use rabat_rules::prelude::*;

#[derive(serde::Deserialize)]
struct Config {
    category: String,
    percentage: Percentage,
}

/// The policy: `percentage` off each product whose lines are in `category`.
pub struct CategoryDiscount;

impl Policy for CategoryDiscount {
    fn evaluate(ctx: &Context) -> Result<Evaluation, String> {
        let Config {
            category,
            percentage,
        } = ctx.config()?;
        let lines = || ctx.order().lines_in_category(&category);
        let mut evaluation = Evaluation::none();
        // One item discount covers every line of its product, so ask once per product.
        for product_id in Order::products(lines()) {
            if evaluation.discounts.len() == rabat_rules::MAX_DISCOUNTS {
                rabat_rules::warn!(
                    "more than {} products in {category}; the rest get no discount",
                    rabat_rules::MAX_DISCOUNTS
                );
                break;
            }
            let name = lines()
                .find(|line| line.product_id() == product_id)
                .map_or("", |line| line.name());
            evaluation = evaluation.with(Discount::percentage_on_item(
                product_id,
                percentage,
                format!("{percentage}% off {name}"),
            ));
        }
        Ok(evaluation)
    }
}

export_policy!(CategoryDiscount);

#[cfg(test)]
mod tests {
    use super::*;

    /// The seed's bill (Papaya endpoint 1): two espressos, a croissant, a sandwich.
    fn seed_bill() -> OrderData {
        Order::builder()
            .item(OrderItem::new("11111", "Espresso", 2, dec!(2.50)).with_category("Hot Beverages"))
            .item(
                OrderItem::new("22222", "Butter Croissant", 1, dec!(3.50)).with_category("Bakery"),
            )
            .item(
                OrderItem::new("3333332131", "Club Sandwich", 1, dec!(6.50)).with_category("Food"),
            )
            .total(dec!(50.00))
            .build()
    }

    const CONFIG: &str = r#"{"category": "Hot Beverages", "percentage": 20}"#;

    #[test]
    fn discounts_each_product_of_the_category_once() {
        let order = Order::builder()
            .item(OrderItem::new("11111", "Espresso", 1, dec!(2.50)).with_category("Hot Beverages"))
            .item(
                OrderItem::new("22222", "Butter Croissant", 1, dec!(3.50)).with_category("Bakery"),
            )
            .item(
                OrderItem::new("11111", "Espresso", 1, dec!(2.50))
                    .with_category("Hot Beverages")
                    .with_id("again"),
            )
            .item(
                OrderItem::new("11113", "Cappuccino", 1, dec!(3.40)).with_category("Hot Beverages"),
            )
            .build();
        let ctx = Context::new(order).with_config(CONFIG);
        let evaluation = CategoryDiscount::evaluate(&ctx);
        assert_eq!(
            evaluation.as_ref().map(|e| e.discounts.clone()),
            Ok(vec![
                Discount::percentage_on_item("11111", 20, "20% off Espresso"),
                Discount::percentage_on_item("11113", 20, "20% off Cappuccino"),
            ])
        );
        assert_eq!(evaluation.and_then(|e| e.validate(&ctx.order())), Ok(()));
    }

    #[test]
    fn seed_bill_gets_20_percent_off_the_espressos() {
        let ctx = Context::new(seed_bill()).with_config(CONFIG);
        let discounts = CategoryDiscount::evaluate(&ctx).map(|e| e.discounts);
        assert_eq!(
            discounts,
            Ok(vec![Discount::percentage_on_item(
                "11111",
                20,
                "20% off Espresso"
            )])
        );
    }

    #[test]
    fn no_line_in_the_category_means_no_discount() {
        let ctx =
            Context::new(seed_bill()).with_config(r#"{"category": "Desserts", "percentage": 20}"#);
        assert_eq!(CategoryDiscount::evaluate(&ctx), Ok(Evaluation::none()));
    }

    #[test]
    fn never_asks_for_more_than_64_discounts() {
        let order = (0..100).fold(Order::builder(), |order, i| {
            order.item(
                OrderItem::new(format!("p{i}"), "Tea", 1, dec!(2.00))
                    .with_category("Hot Beverages"),
            )
        });
        let ctx = Context::new(order.build()).with_config(CONFIG);
        let evaluation = CategoryDiscount::evaluate(&ctx);
        assert_eq!(
            evaluation.as_ref().map(|e| e.discounts.len()),
            Ok(rabat_rules::MAX_DISCOUNTS)
        );
        assert_eq!(evaluation.and_then(|e| e.validate(&ctx.order())), Ok(()));
    }

    #[test]
    fn a_bad_config_says_what_is_wrong() {
        let ctx = Context::new(seed_bill())
            .with_config(r#"{"category": "Hot Beverages", "percentage": 120}"#);
        assert_eq!(
            CategoryDiscount::evaluate(&ctx),
            Err(
                "config: percentage: 120 is not a percentage in (0, 100] (line 1, column 48)"
                    .into()
            )
        );
        let ctx = Context::new(seed_bill());
        assert_eq!(
            CategoryDiscount::evaluate(&ctx),
            Err("config: missing field `category` (line 1, column 2)".into())
        );
    }
}
