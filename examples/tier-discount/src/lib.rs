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
