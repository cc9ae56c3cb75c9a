//! Tier + category: `tiers[card.tier]` percent off the bill, and `percentage` off every
//! product of `category`.
//! Config: `{"tiers": {"gold": 10}, "category": "Hot Beverages", "percentage": 20}`.
use rabat_rules::prelude::*;

#[derive(serde::Deserialize)]
struct Config {
    tiers: Table<Percentage>,
    category: String,
    percentage: Percentage,
}

/// The policy: the tier's bill discount plus the category's item discounts.
pub struct TierCategory;

impl Policy for TierCategory {
    fn evaluate(ctx: &Context) -> Result<Evaluation, String> {
        let config: Config = ctx.config()?;
        let mut evaluation = Evaluation::none();
        if let Some(tier) = ctx.tier()
            && let Some(pct) = config.tiers.get(tier)
        {
            evaluation = evaluation.with(Discount::percentage_on_bill(
                *pct,
                format!("{pct}% {tier} member discount"),
            ));
        }
        // One pass over the bill: each product of the category once, named by its first
        // line (one item discount covers every line of its product).
        let mut seen: Vec<&str> = Vec::new();
        for line in ctx.order().lines_in_category(&config.category) {
            let product_id = line.product_id();
            if seen.contains(&product_id) {
                continue;
            }
            if evaluation.discounts.len() == rabat_rules::MAX_DISCOUNTS {
                break;
            }
            seen.push(product_id);
            evaluation = evaluation.with(Discount::percentage_on_item(
                product_id,
                config.percentage,
                format!("{}% off {}", config.percentage, line.name()),
            ));
        }
        Ok(evaluation)
    }
}

export_policy!(TierCategory);

#[cfg(test)]
mod tests {
    use super::*;

    const CONFIG: &str =
        r#"{"tiers": {"gold": 10, "silver": 5}, "category": "Hot Beverages", "percentage": 20}"#;

    fn bill() -> OrderData {
        Order::builder()
            .item(OrderItem::new("11111", "Espresso", 2, dec!(2.50)).with_category("Hot Beverages"))
            .item(
                OrderItem::new("22222", "Butter Croissant", 1, dec!(3.50)).with_category("Bakery"),
            )
            .total(dec!(50.00))
            .build()
    }

    #[test]
    fn gold_card_gets_both_discounts() {
        let ctx = Context::new(bill())
            .with_card(Card::builder().tier("gold").build())
            .with_config(CONFIG);
        let evaluation = TierCategory::evaluate(&ctx);
        assert_eq!(
            evaluation.as_ref().map(|e| e.discounts.clone()),
            Ok(vec![
                Discount::percentage_on_bill(10, "10% gold member discount"),
                Discount::percentage_on_item("11111", 20, "20% off Espresso"),
            ])
        );
        assert_eq!(evaluation.and_then(|e| e.validate(&ctx.order())), Ok(()));
    }

    #[test]
    fn no_card_gets_only_the_category_discount() {
        let ctx = Context::new(bill()).with_config(CONFIG);
        assert_eq!(
            TierCategory::evaluate(&ctx).map(|e| e.discounts),
            Ok(vec![Discount::percentage_on_item(
                "11111",
                20,
                "20% off Espresso"
            )])
        );
    }
}
