//! Tier upgrade: when a bill completes, the card's tier follows its visit count.
//! Config: `{"tiers": [{"tier": "silver", "visits": 3}, {"tier": "gold", "visits": 10}]}`.
//!
//! The completed bill counts as a visit: a card with 2 recorded visits completing a bill
//! has 3 and becomes `silver`. The card gets the highest tier whose `visits` it has
//! reached. Tiers only go up: a card already on a higher tier of the list keeps it, and a
//! tier the list does not name (set by hand, e.g. `staff`) is left alone. No discounts.
use rabat_rules::prelude::*;

#[derive(serde::Deserialize)]
struct Config {
    tiers: Vec<Tier>,
}

#[derive(serde::Deserialize)]
struct Tier {
    tier: String,
    visits: u32,
}

/// The policy: sets the tier in `accrue`.
pub struct TierUpgrade;

impl Policy for TierUpgrade {
    fn evaluate(_ctx: &Context) -> Result<Evaluation, String> {
        Ok(Evaluation::none())
    }

    fn accrue(ctx: &Context) -> Result<Accrual, String> {
        let Config { mut tiers } = ctx.config()?;
        let Some(card) = ctx.card() else {
            return Ok(Accrual::none());
        };
        tiers.sort_by_key(|t| t.visits);
        let visits = card.visits().saturating_add(1);
        let rank = |name: &str| tiers.iter().position(|t| t.tier == name);
        let Some(target) = tiers.iter().rposition(|t| t.visits <= visits) else {
            return Ok(Accrual::none());
        };
        let upgrade = match card.tier() {
            None => true,
            Some(current) => rank(current).is_some_and(|current| current < target),
        };
        if !upgrade {
            return Ok(Accrual::none());
        }
        let tier = &tiers[target].tier;
        Ok(Accrual::points(0, format!("{visits} visits: {tier}")).set_tier(tier))
    }
}

export_policy!(TierUpgrade);

#[cfg(test)]
mod tests {
    use super::*;

    const CONFIG: &str =
        r#"{"tiers": [{"tier": "silver", "visits": 3}, {"tier": "gold", "visits": 10}]}"#;

    fn accrue(card: Option<CardData>) -> Result<Accrual, String> {
        let ctx = Context::new(Order::builder().status("closed").build()).with_config(CONFIG);
        TierUpgrade::accrue(&match card {
            Some(card) => ctx.with_card(card),
            None => ctx,
        })
    }

    fn visits(n: u32) -> CardBuilder {
        Card::builder().visits(n)
    }

    use rabat_rules::CardBuilder;

    #[test]
    fn the_third_visit_makes_silver_and_the_tenth_gold() {
        assert_eq!(accrue(Some(visits(1).build())), Ok(Accrual::none()));
        assert_eq!(
            accrue(Some(visits(2).build())),
            Ok(Accrual::points(0, "3 visits: silver").set_tier("silver"))
        );
        assert_eq!(
            accrue(Some(visits(9).tier("silver").build())),
            Ok(Accrual::points(0, "10 visits: gold").set_tier("gold"))
        );
    }

    #[test]
    fn tiers_only_go_up_and_hand_set_tiers_stay() {
        assert_eq!(
            accrue(Some(visits(5).tier("silver").build())),
            Ok(Accrual::none())
        );
        assert_eq!(
            accrue(Some(visits(5).tier("gold").build())),
            Ok(Accrual::none())
        );
        assert_eq!(
            accrue(Some(visits(50).tier("staff").build())),
            Ok(Accrual::none())
        );
        assert_eq!(accrue(None), Ok(Accrual::none()));
    }

    #[test]
    fn it_asks_for_no_discount() {
        let ctx = Context::new(Order::builder().build())
            .with_card(visits(20).build())
            .with_config(CONFIG);
        assert_eq!(TierUpgrade::evaluate(&ctx), Ok(Evaluation::none()));
    }
}
