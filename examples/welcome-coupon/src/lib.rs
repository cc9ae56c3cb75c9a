//! Welcome coupon (contract `rabat:rules@0.3.0`): a coupon of the merchant's batch
//! `welcome` is issued to a card on its first completed bill, and offered from the card's
//! wallet on a later bill. Config: `{"batch": "welcome", "description": "Welcome coupon"}`
//! (`description` optional).
//!
//! - `accrue`: on the card's first completed bill (no visit recorded before it), issue
//!   one coupon from the batch ([`Accrual::issue_coupon`]); and redeem every coupon of the
//!   till's offer that the completed bill took ([`OfferedDiscount::taken_by`]).
//! - `evaluate`: offer the wallet's coupon of the batch that expires soonest (among those
//!   whose min bill the bill meets) by its code: an amount coupon as a zero-VAT coupon
//!   line, a percentage coupon as a bill percentage, each redeeming the code
//!   ([`Discount::with_coupon`]).
//!
//! The batch (its value, min bill and validity — 30 days for `welcome`) is the merchant's,
//! set up on the host; the host holds the code for the order and drops the discount,
//! saying why, if the coupon cannot be used.
//!
//! Tax sense: an amount coupon is offered as a zero-VAT line: right for a welcome credit
//! that works like a payment (a multi-purpose voucher, Directive 2016/1065). A percentage
//! coupon reduces the taxable amount.
use rabat_rules::prelude::*;

#[derive(serde::Deserialize)]
struct Config {
    batch: String,
    #[serde(default)]
    description: Option<String>,
}

/// The policy: issue on the first bill, offer from the wallet, redeem what was taken.
pub struct WelcomeCoupon;

impl Policy for WelcomeCoupon {
    fn evaluate(ctx: &Context) -> Result<Evaluation, String> {
        let config: Config = ctx.config()?;
        let Some(card) = ctx.card() else {
            return Ok(Evaluation::none());
        };
        let total = ctx.order().total();
        let coupon = card
            .wallet()
            .filter(|c| c.batch() == config.batch && c.applies_to(total))
            .min_by_key(|c| c.valid_until().unwrap_or(i64::MAX));
        let Some(coupon) = coupon else {
            return Ok(Evaluation::none());
        };
        let code = coupon.code();
        let description = config
            .description
            .unwrap_or_else(|| "Welcome coupon".into());
        info!("card {}: offering coupon {code}", card.card_id());
        let discount = match coupon.value() {
            CouponValue::Amount(amount) => Discount::coupon_zero_vat(amount, code, description),
            CouponValue::Percentage(percentage) => {
                Discount::percentage_on_bill(percentage, description)
            }
        };
        Ok(discount.with_coupon(code).into())
    }

    fn accrue(ctx: &Context) -> Result<Accrual, String> {
        let config: Config = ctx.config()?;
        let order = ctx.order();
        let mut accrual = Accrual::none();
        let mut reasons = Vec::new();
        for offered in ctx.offer().iter().flat_map(|offer| offer.discounts()) {
            if let Some(code) = offered.code().filter(|_| offered.taken_by(&order)) {
                reasons.push(format!("coupon {code} redeemed"));
                accrual = accrual.redeem_coupon(code);
            }
        }
        if ctx.card().is_some_and(|card| card.is_first_visit()) {
            reasons.push(format!("first visit: a {} coupon issued", config.batch));
            accrual = accrual.issue_coupon(config.batch);
        }
        if !reasons.is_empty() {
            accrual.reason = Some(reasons.join("; "));
        }
        Ok(accrual)
    }
}

export_policy!(WelcomeCoupon);

#[cfg(test)]
mod tests {
    use super::*;

    const CONFIG: &str = r#"{"batch": "welcome"}"#;

    fn bill(total: Decimal) -> OrderData {
        Order::builder()
            .item(OrderItem::new("11111", "Espresso", 2, dec!(2.50)).with_category("Hot Beverages"))
            .item(OrderItem::new("22222", "Butter Croissant", 1, dec!(3.50)))
            .total(total)
            .build()
    }

    fn amount_coupon(code: &str, valid_until: i64) -> WalletCouponData {
        WalletCouponData::new(code, "welcome", CouponValue::Amount(dec!(5.00)))
            .min_bill(dec!(8.00))
            .valid_until(valid_until)
    }

    #[test]
    fn the_soonest_to_expire_coupon_of_the_batch_is_offered() {
        let card = Card::builder()
            .visits(1)
            .coupon(amount_coupon("WELCOME-LATE", 2_000))
            .coupon(amount_coupon("WELCOME-SOON", 1_000))
            .coupon(WalletCouponData::new(
                "OTHER-1",
                "other",
                CouponValue::Amount(dec!(50)),
            ))
            .build();
        let ctx = Context::new(bill(dec!(8.50)))
            .with_card(card)
            .with_config(CONFIG);
        let evaluation = WelcomeCoupon::evaluate(&ctx).unwrap();
        assert_eq!(
            evaluation.discounts,
            [
                Discount::coupon_zero_vat(dec!(5.00), "WELCOME-SOON", "Welcome coupon")
                    .with_coupon("WELCOME-SOON")
            ]
        );
        assert_eq!(evaluation.amounts(&ctx).unwrap().total_discount, dec!(5.00));
    }

    #[test]
    fn a_percentage_coupon_is_a_bill_percentage() {
        let card = Card::builder()
            .coupon(WalletCouponData::new(
                "WELCOME-PCT",
                "welcome",
                CouponValue::Percentage(dec!(15)),
            ))
            .build();
        let ctx = Context::new(bill(dec!(8.50)))
            .with_card(card)
            .with_config(r#"{"batch": "welcome", "description": "15% welcome"}"#);
        let evaluation = WelcomeCoupon::evaluate(&ctx).unwrap();
        assert_eq!(
            evaluation.discounts,
            [Discount::percentage_on_bill(15, "15% welcome").with_coupon("WELCOME-PCT")]
        );
        // 15 % of 8.50 is 1.275, rounded half away from zero.
        assert_eq!(evaluation.amounts(&ctx).unwrap().total_discount, dec!(1.28));
    }

    #[test]
    fn below_the_min_bill_without_a_coupon_or_a_card_nothing() {
        let card = Card::builder()
            .coupon(amount_coupon("WELCOME-1", 1_000))
            .build();
        let small = Context::new(bill(dec!(7.99)))
            .with_card(card)
            .with_config(CONFIG);
        assert_eq!(WelcomeCoupon::evaluate(&small), Ok(Evaluation::none()));
        let empty = Context::new(bill(dec!(8.50)))
            .with_card(Card::builder().build())
            .with_config(CONFIG);
        assert_eq!(WelcomeCoupon::evaluate(&empty), Ok(Evaluation::none()));
        let no_card = Context::new(bill(dec!(8.50))).with_config(CONFIG);
        assert_eq!(WelcomeCoupon::evaluate(&no_card), Ok(Evaluation::none()));
    }

    #[test]
    fn the_first_completed_bill_issues_one_coupon() {
        let ctx = Context::new(bill(dec!(8.50)))
            .with_card(Card::builder().visits(0).build())
            .with_config(CONFIG);
        let accrual = WelcomeCoupon::accrue(&ctx).unwrap();
        assert_eq!(accrual.issue_coupons, ["welcome"]);
        assert!(accrual.redeem_coupons.is_empty());
        assert_eq!(
            accrual.reason.as_deref(),
            Some("first visit: a welcome coupon issued")
        );
        // A returning customer gets none.
        let ctx = Context::new(bill(dec!(8.50)))
            .with_card(Card::builder().visits(3).build())
            .with_config(CONFIG);
        assert_eq!(WelcomeCoupon::accrue(&ctx), Ok(Accrual::none()));
    }

    #[test]
    fn a_coupon_the_bill_took_is_redeemed_and_one_it_did_not_is_not() {
        let offer = Offer::builder()
            .coupon("WELCOME-SOON", dec!(5.00), 0, "Welcome coupon")
            .build();
        let taken = Order::builder()
            .status("closed")
            .item(OrderItem::new("11111", "Espresso", 2, dec!(2.50)))
            .item(OrderItem::new(
                "WELCOME-SOON",
                "WELCOME-SOON",
                1,
                dec!(-5.00),
            ))
            .build();
        let ctx = Context::new(taken)
            .with_card(Card::builder().visits(2).build())
            .with_config(CONFIG)
            .with_offer(offer.clone());
        let accrual = WelcomeCoupon::accrue(&ctx).unwrap();
        assert_eq!(accrual.redeem_coupons, ["WELCOME-SOON"]);
        assert!(accrual.issue_coupons.is_empty());
        assert_eq!(
            accrual.reason.as_deref(),
            Some("coupon WELCOME-SOON redeemed")
        );
        let not_taken = Order::builder()
            .status("closed")
            .item(OrderItem::new("11111", "Espresso", 2, dec!(2.50)))
            .build();
        let ctx = Context::new(not_taken)
            .with_card(Card::builder().visits(2).build())
            .with_config(CONFIG)
            .with_offer(offer);
        assert_eq!(WelcomeCoupon::accrue(&ctx), Ok(Accrual::none()));
    }

    #[test]
    fn the_batch_is_required() {
        let ctx = Context::new(bill(dec!(8.50))).with_card(Card::builder().build());
        let err = WelcomeCoupon::evaluate(&ctx).unwrap_err();
        assert!(err.contains("batch"), "{err}");
    }
}
