//! Pay with points (contract `rabat:rules@0.3.0`): the card's points pay part of the bill.
//! Config: `{"pointsPerUnit": 100, "maxShare": 50, "minPoints": 500}` (`minPoints`
//! optional, default 0).
//!
//! - `evaluate` (an open bill): nothing when the card's *available* points (its balance
//!   minus what its other open bills hold, [`Card::available_points`]) are below
//!   `minPoints`. Otherwise `pointsPerUnit` points are worth 1.00 of the bill's currency;
//!   the available points pay at most `maxShare` % of the bill's total, in whole cents.
//!   The policy asks for a zero-VAT coupon `POINTS` of that amount (paying with points
//!   works like a payment: a multi-purpose voucher), costing the points it is worth
//!   ([`Discount::costing_points`]), and **divisible** ([`Discount::divisible`]): if
//!   another open bill holds points meanwhile, the host cuts it to what is available
//!   rather than dropping it. The host holds the points for this order.
//! - `accrue` (the bill completes): when the till's last offer held a `POINTS` coupon and
//!   the completed bill carries it (a negative line of that amount, or one named
//!   `POINTS`), the held points are redeemed ([`Accrual::redeem`]); otherwise none are,
//!   and the host releases the hold.
use rabat_rules::prelude::*;

/// The coupon code on the bill.
pub const CODE: &str = "POINTS";

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct Config {
    points_per_unit: u32,
    max_share: Percentage,
    #[serde(default)]
    min_points: u32,
}

impl Config {
    fn read(ctx: &Context) -> Result<Config, String> {
        let config: Config = ctx.config()?;
        if config.points_per_unit == 0 {
            return Err("config: pointsPerUnit must be at least 1".into());
        }
        Ok(config)
    }
}

/// The policy: a points coupon on open bills, the redemption when one completes.
pub struct PayWithPoints;

impl Policy for PayWithPoints {
    fn evaluate(ctx: &Context) -> Result<Evaluation, String> {
        let config = Config::read(ctx)?;
        let min = i64::from(config.min_points).max(1);
        let Some(points) = ctx
            .card()
            .map(|card| card.available_points())
            .filter(|p| *p >= min)
        else {
            return Ok(Evaluation::none());
        };
        let per_unit = i128::from(config.points_per_unit);
        // Whole cents: what the points are worth, and the share of the bill they may pay.
        let worth = i128::from(points) * 100 / per_unit;
        let share = ctx.order().total() * config.max_share.get() / Decimal::ONE_HUNDRED;
        let share = share
            .round_dp_with_strategy(2, RoundingStrategy::ToZero)
            .max(Decimal::ZERO);
        // `trunc` leaves scale 0, so the mantissa is the number of cents.
        let cents = worth.min((share * Decimal::ONE_HUNDRED).trunc().mantissa());
        if cents <= 0 {
            return Ok(Evaluation::none());
        }
        // The points those cents cost, rounded up (never fewer than they are worth).
        let cost = u64::try_from((cents * per_unit + 99) / 100).unwrap_or(u64::MAX);
        let amount = Decimal::from_i128_with_scale(cents, 2);
        let discount = Discount::coupon_zero_vat(amount, CODE, format!("Paid with {cost} points"))
            .costing_points(cost)
            .divisible();
        Ok(discount.into())
    }

    fn accrue(ctx: &Context) -> Result<Accrual, String> {
        let Some(offered) = ctx.offer().and_then(|offer| offer.coupon(CODE)) else {
            return Ok(Accrual::none());
        };
        // The evidence rule of the crate docs: a negative line of minus the offered amount,
        // or a negative line named (or with the product id) `POINTS`.
        if !offered.taken_by(&ctx.order()) {
            return Ok(Accrual::points(0, "points offer not taken"));
        }
        Ok(Accrual::points(
            0,
            format!("paid {} with {} points", offered.amount(), offered.points()),
        )
        .redeem(offered.points()))
    }
}

export_policy!(PayWithPoints);

#[cfg(test)]
mod tests {
    use super::*;
    use rabat_rules::Offer;

    const CONFIG: &str = r#"{"pointsPerUnit": 100, "maxShare": 50}"#;

    fn bill(total: Decimal) -> OrderData {
        Order::builder()
            .item(OrderItem::new("11111", "Espresso", 2, dec!(2.50)))
            .item(OrderItem::new("22222", "Croissant", 1, dec!(3.50)))
            .total(total)
            .build()
    }

    fn ctx(total: Decimal, points: i64) -> Context {
        Context::new(bill(total))
            .with_card(Card::builder().points(points).build())
            .with_config(CONFIG)
    }

    #[test]
    fn points_pay_what_they_are_worth() {
        // 300 points are 3.00; the bill is 8.50, half of it is 4.25.
        let ctx = ctx(dec!(8.50), 300);
        let evaluation = PayWithPoints::evaluate(&ctx).unwrap();
        assert_eq!(
            evaluation.discounts,
            [
                Discount::coupon_zero_vat(dec!(3.00), "POINTS", "Paid with 300 points")
                    .costing_points(300)
                    .divisible()
            ]
        );
        let amounts = evaluation.amounts(&ctx).unwrap();
        assert_eq!(amounts.total_discount, dec!(3.00));
    }

    #[test]
    fn at_most_half_the_bill() {
        // 10 000 points are 100.00, but half of 8.55 is 4.275 → 4.27 (whole cents, down).
        let ctx = ctx(dec!(8.55), 10_000);
        let evaluation = PayWithPoints::evaluate(&ctx).unwrap();
        assert_eq!(
            evaluation.discounts,
            [
                Discount::coupon_zero_vat(dec!(4.27), "POINTS", "Paid with 427 points")
                    .costing_points(427)
                    .divisible()
            ]
        );
        assert_eq!(evaluation.amounts(&ctx).unwrap().total_discount, dec!(4.27));
    }

    #[test]
    fn odd_rates_cost_whole_points_rounded_up() {
        // 7 points per unit: 10 points are worth 1.42 (1.428…), and 1.42 costs 9.94 → 10.
        let ctx = Context::new(bill(dec!(8.50)))
            .with_card(Card::builder().points(10).build())
            .with_config(r#"{"pointsPerUnit": 7, "maxShare": 50}"#);
        let evaluation = PayWithPoints::evaluate(&ctx).unwrap();
        assert_eq!(evaluation.discounts[0].points, 10);
        assert_eq!(evaluation.amounts(&ctx).unwrap().total_discount, dec!(1.42));
    }

    #[test]
    fn no_points_no_card_or_no_bill_no_offer() {
        assert_eq!(
            PayWithPoints::evaluate(&ctx(dec!(8.50), 0)),
            Ok(Evaluation::none())
        );
        assert_eq!(
            PayWithPoints::evaluate(&ctx(dec!(0), 500)),
            Ok(Evaluation::none())
        );
        let no_card = Context::new(bill(dec!(8.50))).with_config(CONFIG);
        assert_eq!(PayWithPoints::evaluate(&no_card), Ok(Evaluation::none()));
    }

    #[test]
    fn accrue_redeems_the_held_points_only_when_the_coupon_was_taken() {
        let offer = Offer::builder()
            .coupon("POINTS", dec!(3.00), 300, "Paid with 300 points")
            .build();
        let taken = Order::builder()
            .status("closed")
            .item(OrderItem::new("11111", "Espresso", 2, dec!(2.50)))
            .item(OrderItem::new("POINTS", "POINTS", 1, dec!(-3.00)))
            .build();
        let ctx = Context::new(taken)
            .with_config(CONFIG)
            .with_offer(offer.clone());
        assert_eq!(
            PayWithPoints::accrue(&ctx),
            Ok(Accrual::points(0, "paid 3.00 with 300 points").redeem(300))
        );
        let not_taken = Order::builder()
            .status("closed")
            .item(OrderItem::new("11111", "Espresso", 2, dec!(2.50)))
            .build();
        let ctx = Context::new(not_taken)
            .with_config(CONFIG)
            .with_offer(offer);
        assert_eq!(
            PayWithPoints::accrue(&ctx),
            Ok(Accrual::points(0, "points offer not taken"))
        );
        // No offer at all: nothing.
        let ctx = Context::new(bill(dec!(8.50))).with_config(CONFIG);
        assert_eq!(PayWithPoints::accrue(&ctx), Ok(Accrual::none()));
    }

    #[test]
    fn available_points_not_the_balance_and_a_minimum() {
        let config = r#"{"pointsPerUnit": 100, "maxShare": 50, "minPoints": 500}"#;
        let with = |balance: i64, available: i64| {
            Context::new(bill(dec!(20.00)))
                .with_card(
                    Card::builder()
                        .points(balance)
                        .available_points(available)
                        .build(),
                )
                .with_config(config)
        };
        // 900 points, 300 of them held by another open bill: 600 available pay 6.00.
        let ctx = with(900, 600);
        let evaluation = PayWithPoints::evaluate(&ctx).unwrap();
        assert_eq!(
            evaluation.discounts,
            [
                Discount::coupon_zero_vat(dec!(6.00), "POINTS", "Paid with 600 points")
                    .costing_points(600)
                    .divisible()
            ]
        );
        assert_eq!(evaluation.amounts(&ctx).unwrap().total_discount, dec!(6.00));
        // Exactly the minimum is enough; one point below it, nothing.
        assert_eq!(
            PayWithPoints::evaluate(&with(900, 500)).unwrap().discounts[0].points,
            500
        );
        assert_eq!(
            PayWithPoints::evaluate(&with(900, 499)),
            Ok(Evaluation::none())
        );
        // A balance over the minimum does not count when the available points are not.
        assert_eq!(
            PayWithPoints::evaluate(&with(5_000, 100)),
            Ok(Evaluation::none())
        );
    }

    #[test]
    fn a_zero_rate_is_refused_by_name() {
        let ctx =
            Context::new(bill(dec!(8.50))).with_config(r#"{"pointsPerUnit": 0, "maxShare": 50}"#);
        assert_eq!(
            PayWithPoints::evaluate(&ctx),
            Err("config: pointsPerUnit must be at least 1".into())
        );
    }
}
