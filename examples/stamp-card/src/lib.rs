//! Stamp card: every Nth coffee is free. Config: `{"every": 5, "category": "Hot Beverages"}`.
//!
//! - `accrue` (a completed bill) stamps the card: one point per coffee, i.e. per whole unit
//!   of the lines in `category`.
//! - `evaluate` (an open bill): once the card holds `every` stamps and the bill has a
//!   coffee, one coffee is free: the coffee with the highest unit price (the first such
//!   line on a tie). An item discount covers *every* line of its product, so the policy
//!   asks for the share of that product's lines that one unit is
//!   ([`Order::share_of_product`]): for 2 espressos at 2.50 (5.00 in all) that is 50 %,
//!   i.e. 2.50 off.
//! - The bill that redeems the reward pays `every` stamps, and its free coffee earns none.
use rabat_rules::prelude::*;

#[derive(serde::Deserialize)]
struct Config {
    every: u32,
    category: String,
}

impl Config {
    fn read(ctx: &Context) -> Result<Config, String> {
        let config: Config = ctx.config()?;
        if config.every == 0 {
            return Err("config: every must be at least 1".into());
        }
        Ok(config)
    }

    /// Whether the card holds a full set of stamps.
    fn full(&self, card: Option<Card>) -> bool {
        card.is_some_and(|card| card.points() >= i64::from(self.every))
    }
}

/// The policy: stamps as points, a free coffee per `every` stamps.
pub struct StampCard;

impl Policy for StampCard {
    fn evaluate(ctx: &Context) -> Result<Evaluation, String> {
        let config = Config::read(ctx)?;
        if !config.full(ctx.card()) {
            return Ok(Evaluation::none());
        }
        let coffees = ctx.order().lines_in_category(&config.category);
        let dearest = coffees.reduce(|best, line| {
            if line.unit_price() > best.unit_price() {
                line
            } else {
                best
            }
        });
        // One unit's share of its product's lines (several lines may share the product).
        let Some((free, share)) = dearest.and_then(|line| {
            Some((
                line,
                ctx.order()
                    .share_of_product(line.product_id(), line.unit_price())?,
            ))
        }) else {
            return Ok(Evaluation::none());
        };
        let description = format!("Free {} (stamp card: {} stamps)", free.name(), config.every);
        Ok(Discount::percentage_on_item(free.product_id(), share, description).into())
    }

    fn accrue(ctx: &Context) -> Result<Accrual, String> {
        let config = Config::read(ctx)?;
        // Whole units: 2 espressos are 2 stamps; a fractional quantity counts its whole part.
        let coffees: i64 = ctx
            .order()
            .lines_in_category(&config.category)
            .map(|line| i64::try_from(line.quantity().trunc()).unwrap_or(0).max(0))
            .sum();
        if coffees > 0 && config.full(ctx.card()) {
            let points = coffees - 1 - i64::from(config.every);
            return Ok(Accrual::points(
                points,
                format!(
                    "free coffee: {} stamps redeemed, {} stamped",
                    config.every,
                    coffees_text(coffees - 1)
                ),
            ));
        }
        Ok(Accrual::points(
            coffees,
            format!("{} stamped", coffees_text(coffees)),
        ))
    }
}

fn coffees_text(n: i64) -> String {
    format!("{n} coffee{}", if n == 1 { "" } else { "s" })
}

export_policy!(StampCard);

#[cfg(test)]
mod tests {
    use super::*;

    const CONFIG: &str = r#"{"every": 5, "category": "Hot Beverages"}"#;

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

    fn ctx(order: OrderData, points: i64) -> Context {
        Context::new(order)
            .with_card(Card::builder().points(points).build())
            .with_config(CONFIG)
    }

    #[test]
    fn a_full_card_gets_one_espresso_of_two_free() {
        let evaluation = StampCard::evaluate(&ctx(seed_bill(), 5));
        let free =
            Discount::percentage_on_item("11111", 50, "Free Espresso (stamp card: 5 stamps)");
        assert_eq!(evaluation, Ok(free.into()));
    }

    #[test]
    fn the_dearest_coffee_is_free_and_its_share_is_exact_enough() {
        let order = Order::builder()
            .item(OrderItem::new("11111", "Espresso", 1, dec!(2.50)).with_category("Hot Beverages"))
            .item(
                OrderItem::new("11114", "Caffe Latte", 3, dec!(3.60))
                    .with_category("Hot Beverages"),
            )
            .build();
        let ctx = ctx(order, 7);
        let evaluation = StampCard::evaluate(&ctx);
        let expected = Discount::percentage_on_item(
            "11114",
            dec!(33.333333),
            "Free Caffe Latte (stamp card: 5 stamps)",
        );
        assert_eq!(evaluation.clone().map(|e| e.discounts), Ok(vec![expected]));
        assert_eq!(evaluation.and_then(|e| e.validate(&ctx.order())), Ok(()));
        // 10.80 × 33.333333 % = 3.5999999… → 3.60 once the host rounds to cents.
        let amount = dec!(10.80) * dec!(33.333333) / Decimal::ONE_HUNDRED;
        assert_eq!(amount.round_dp(2), dec!(3.60));
    }

    #[test]
    fn no_reward_before_the_card_is_full_or_without_coffee() {
        assert_eq!(
            StampCard::evaluate(&ctx(seed_bill(), 4)),
            Ok(Evaluation::none())
        );
        let no_coffee = Order::builder()
            .item(OrderItem::new("22222", "Butter Croissant", 1, dec!(3.50)))
            .build();
        assert_eq!(
            StampCard::evaluate(&ctx(no_coffee, 5)),
            Ok(Evaluation::none())
        );
        let no_card = Context::new(seed_bill()).with_config(CONFIG);
        assert_eq!(StampCard::evaluate(&no_card), Ok(Evaluation::none()));
    }

    #[test]
    fn each_coffee_is_a_stamp_and_redeeming_pays_the_stamps() {
        assert_eq!(
            StampCard::accrue(&ctx(seed_bill(), 2)),
            Ok(Accrual::points(2, "2 coffees stamped"))
        );
        assert_eq!(
            StampCard::accrue(&ctx(seed_bill(), 5)),
            Ok(Accrual::points(
                -4,
                "free coffee: 5 stamps redeemed, 1 coffee stamped"
            ))
        );
        let no_category = Order::builder()
            .item(OrderItem::new("11111", "Espresso", 2, dec!(2.50)))
            .build();
        assert_eq!(
            StampCard::accrue(&ctx(no_category, 0)),
            Ok(Accrual::points(0, "0 coffees stamped"))
        );
    }

    #[test]
    fn every_must_be_positive() {
        let ctx =
            Context::new(seed_bill()).with_config(r#"{"every": 0, "category": "Hot Beverages"}"#);
        assert_eq!(
            StampCard::evaluate(&ctx),
            Err("config: every must be at least 1".into())
        );
    }
}
