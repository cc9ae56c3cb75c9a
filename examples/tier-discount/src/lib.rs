//! Tier discount: a percentage off the whole bill by the card's tier.
//! Config: `{"tiers": {"gold": 10, "silver": 5}}` (tier → percent; other tiers get nothing).
use rabat_rules::prelude::*;

#[derive(serde::Deserialize)]
struct Config {
    tiers: Table<Percentage>,
}

/// The policy: `tiers[card.tier]` percent off the bill.
pub struct TierDiscount;

impl Policy for TierDiscount {
    fn evaluate(ctx: &Context) -> Result<Evaluation, String> {
        let Config { tiers } = ctx.config()?;
        let tier = ctx.tier().unwrap_or_default();
        let discount = tiers.get(tier).map(|pct| {
            Discount::percentage_on_bill(*pct, format!("{pct}% {tier} member discount"))
        });
        Ok(discount.into())
    }
}

export_policy!(TierDiscount);

#[cfg(test)]
mod tests {
    use super::*;

    const CONFIG: &str = r#"{"tiers": {"gold": 10, "silver": 5}}"#;

    /// The seed's bill (Papaya endpoint 1): its total is 50.00, more than its lines.
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

    fn evaluate(card: Option<CardData>, config: &str) -> Result<Evaluation, String> {
        let ctx = Context::new(seed_bill()).with_config(config);
        TierDiscount::evaluate(&match card {
            Some(card) => ctx.with_card(card),
            None => ctx,
        })
    }

    #[test]
    fn each_tier_gets_its_percentage_off_the_bill() {
        let gold = Card::builder()
            .card_id("memberCardId")
            .tier("gold")
            .visits(12)
            .build();
        let expected = Discount::percentage_on_bill(10, "10% gold member discount");
        assert_eq!(evaluate(Some(gold), CONFIG), Ok(expected.into()));
        let silver = Card::builder().tier("silver").build();
        let expected = Discount::percentage_on_bill(5, "5% silver member discount");
        assert_eq!(evaluate(Some(silver), CONFIG), Ok(expected.into()));
    }

    #[test]
    fn no_tier_an_unknown_tier_or_no_card_gets_nothing() {
        assert_eq!(
            evaluate(Some(Card::builder().build()), CONFIG),
            Ok(Evaluation::none())
        );
        let bronze = Card::builder().tier("bronze").build();
        assert_eq!(evaluate(Some(bronze), CONFIG), Ok(Evaluation::none()));
        assert_eq!(evaluate(None, CONFIG), Ok(Evaluation::none()));
    }

    #[test]
    fn fractional_percentages_are_exact() {
        let gold = Card::builder().tier("gold").build();
        let discounts = evaluate(Some(gold), r#"{"tiers": {"gold": 7.5}}"#).map(|e| e.discounts);
        let expected = Discount::percentage_on_bill(dec!(7.5), "7.5% gold member discount");
        assert_eq!(discounts, Ok(vec![expected]));
    }

    #[test]
    fn a_bad_config_is_an_error_that_says_where() {
        let gold = || Some(Card::builder().tier("gold").build());
        assert_eq!(
            evaluate(gold(), r#"{"tiers": {"gold": 150}}"#),
            Err(
                "config: tiers.gold: 150 is not a percentage in (0, 100] (line 1, column 23)"
                    .into()
            )
        );
        assert_eq!(
            evaluate(gold(), "{}"),
            Err("config: missing field `tiers` (line 1, column 2)".into())
        );
    }
}
