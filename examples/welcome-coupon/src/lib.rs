//! Welcome coupon: a 5.00 zero-VAT coupon `WELCOME5` on a card's first visit (no completed
//! bill recorded yet). Config (all optional): `{"amount": 5.00, "code": "WELCOME5",
//! "description": "Welcome coupon"}`.
//!
//! Tax sense: a zero-VAT coupon does not reduce the bill's VAT. That is right when the
//! welcome gift is a voucher that works like a payment (an EU multi-purpose voucher,
//! Directive 2016/1065: the customer is handed 5.00 of credit). A promotional money-off
//! must reduce the taxable amount instead: then ask for a percentage discount.
use rabat_rules::prelude::*;

#[derive(serde::Deserialize, Default)]
#[serde(default)]
struct Config {
    amount: Option<Amount>,
    code: Option<String>,
    description: Option<String>,
}

/// The policy: the coupon when the card has no recorded visit.
pub struct WelcomeCoupon;

impl Policy for WelcomeCoupon {
    fn evaluate(ctx: &Context) -> Result<Evaluation, String> {
        let config: Config = ctx.config()?;
        let Some(card) = ctx.card().filter(|card| card.is_first_visit()) else {
            return Ok(Evaluation::none());
        };
        let amount = config.amount.map_or(dec!(5.00), Amount::get);
        let code = config.code.unwrap_or_else(|| "WELCOME5".into());
        info!("first visit of card {}: coupon {code}", card.card_id());
        let description = config
            .description
            .unwrap_or_else(|| "Welcome coupon".into());
        Ok(Discount::coupon_zero_vat(amount, code, description).into())
    }
}

export_policy!(WelcomeCoupon);

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn first_visit_gets_the_coupon() {
        let ctx = Context::new(seed_bill()).with_card(Card::builder().visits(0).build());
        assert_eq!(
            WelcomeCoupon::evaluate(&ctx),
            Ok(Discount::coupon_zero_vat(dec!(5.00), "WELCOME5", "Welcome coupon").into())
        );
    }

    #[test]
    fn a_returning_customer_or_no_card_gets_nothing() {
        let returning = Context::new(seed_bill()).with_card(Card::builder().visits(12).build());
        assert_eq!(WelcomeCoupon::evaluate(&returning), Ok(Evaluation::none()));
        assert_eq!(
            WelcomeCoupon::evaluate(&Context::new(seed_bill())),
            Ok(Evaluation::none())
        );
    }

    #[test]
    fn the_config_sets_amount_and_code() {
        let ctx = Context::new(seed_bill())
            .with_card(Card::builder().build())
            .with_config(r#"{"amount": 10, "code": "HELLO10"}"#);
        assert_eq!(
            WelcomeCoupon::evaluate(&ctx),
            Ok(Discount::coupon_zero_vat(dec!(10), "HELLO10", "Welcome coupon").into())
        );
    }
}
