//! The glue `export_policy!` expands to: the `Guest` implementation that converts the WIT
//! values to the SDK's types and back, and the panic hook. Not part of the API.

use core::marker::PhantomData;

use rust_decimal::Decimal;

use crate::__bindings::rabat::rules::types as wit;
use crate::{Accrual, Card, Context, DiscountKind, Evaluation, Order, OrderItem, Policy};

/// Implements the generated `Guest` trait for any [`Policy`].
pub struct Exported<P>(PhantomData<P>);

impl<P: Policy> crate::__bindings::Guest for Exported<P> {
    fn evaluate(ctx: wit::Context) -> Result<wit::Evaluation, String> {
        install_panic_hook();
        let ctx = context(ctx)?;
        let answer = P::evaluate(&ctx);
        // The instance is thrown away after this call: dropping would only cost code.
        core::mem::forget(ctx);
        evaluation(answer?)
    }

    fn accrue(ctx: wit::Context) -> Result<wit::Accrual, String> {
        install_panic_hook();
        let ctx = context(ctx)?;
        let answer = P::accrue(&ctx);
        core::mem::forget(ctx);
        let Accrual { points, reason } = answer?;
        Ok(wit::Accrual { points, reason })
    }
}

/// Checks, at compile time, that `export_policy!` was given a [`Policy`].
pub const fn assert_policy<P: Policy>() {}

/// `dec!`'s work: the literal's exact value.
pub fn decimal_literal(text: &str) -> Decimal {
    match crate::number::parse_decimal(text) {
        Some(value) => value,
        None => panic!("dec!({text}) is not a decimal that fits a Decimal"),
    }
}

/// Reports a panic's message to the host before the panic traps (`panic = "abort"`), so
/// the merchant sees "boom: card tier missing" instead of a bare trap.
fn install_panic_hook() {
    #[cfg(target_arch = "wasm32")]
    std::panic::set_hook(Box::new(|info| {
        let message = info
            .payload_as_str()
            .unwrap_or("panic with a non-text payload");
        let report = match info.location() {
            Some(at) => format!("{message} (at {}:{}:{})", at.file(), at.line(), at.column()),
            None => message.to_string(),
        };
        crate::__bindings::rabat::rules::host::report_panic(&report);
    }));
}

/// Converts the host's values. Infallible on purpose: a decimal the host should never
/// send (scale over 28) is noted in `bad_scale` and read as 0, and the call then fails,
/// so there are no early returns dropping half-converted values (less code).
struct Lift {
    bad_scale: Option<u8>,
}

impl Lift {
    #[inline(never)]
    fn decimal(&mut self, value: wit::Decimal) -> Decimal {
        Decimal::try_new(value.mantissa, u32::from(value.scale)).unwrap_or_else(|_| {
            self.bad_scale = Some(value.scale);
            Decimal::ZERO
        })
    }

    fn optional(&mut self, value: Option<wit::Decimal>) -> Option<Decimal> {
        value.map(|v| self.decimal(v))
    }

    fn order(&mut self, order: wit::Order) -> Order {
        Order {
            total: self.decimal(order.total),
            total_without_vat: self.optional(order.total_without_vat),
            vat: self.optional(order.vat),
            items: order
                .items
                .into_iter()
                .map(|item| self.item(item))
                .collect(),
            attributes: order
                .attributes
                .into_iter()
                .map(|a| (a.key, a.value))
                .collect(),
            order_id: order.order_id,
            pos: order.pos,
            status: order.status,
            currency: order.currency,
            created: order.created,
            updated: order.updated,
            branch_id: order.branch_id,
            note: order.note,
        }
    }

    fn item(&mut self, item: wit::OrderItem) -> OrderItem {
        OrderItem {
            quantity: self.decimal(item.quantity),
            unit_price: self.decimal(item.unit_price),
            total_price: self.decimal(item.total_price),
            vat: self.optional(item.vat),
            vat_rate: self.optional(item.vat_rate),
            id: item.id,
            product_id: item.product_id,
            name: item.name,
            description: item.description,
            category_id: item.category_id,
            category_name: item.category_name,
            ean: item.ean,
            note: item.note,
        }
    }

    fn card(&mut self, card: wit::Card) -> Card {
        Card {
            total_spent: self.decimal(card.total_spent),
            card_id: card.card_id,
            customer_id: card.customer_id,
            name: card.name,
            tier: card.tier,
            tags: card.tags,
            points: card.points,
            visits: card.visits,
            first_visit: card.first_visit,
            last_visit: card.last_visit,
        }
    }
}

fn context(ctx: wit::Context) -> Result<Context, String> {
    let mut lift = Lift { bad_scale: None };
    let wit::Context {
        order,
        card,
        config,
    } = ctx;
    let ctx = Context {
        order: lift.order(order),
        card: card.map(|card| lift.card(card)),
        config,
    };
    match lift.bad_scale {
        None => Ok(ctx),
        Some(scale) => {
            core::mem::forget(ctx);
            Err(format!(
                "the host sent a decimal with scale {scale}; at most 28 is possible"
            ))
        }
    }
}

/// Converts a decimal for the host, whose decimals carry a 64-bit mantissa (18 digits
/// always fit). Trailing zeros are dropped first if that makes it fit; otherwise the error
/// names the field, e.g. `discounts[0].percentage`.
#[inline(never)]
fn to_wit(value: Decimal, index: usize, field: &str) -> Result<wit::Decimal, String> {
    let fit = |d: Decimal| {
        let mantissa = i64::try_from(d.mantissa()).ok()?;
        let scale = u8::try_from(d.scale()).ok()?;
        Some(wit::Decimal { mantissa, scale })
    };
    fit(value)
        .or_else(|| fit(value.normalize()))
        .ok_or_else(|| {
            // Without the value: `Decimal`'s `Display` would add 3 kB to every policy module.
            format!(
                "discounts[{index}].{field} has too many digits for the host (at most 18 \
             significant digits); round it first, e.g. with `.round_dp(6)`"
            )
        })
}

fn evaluation(evaluation: Evaluation) -> Result<wit::Evaluation, String> {
    let mut discounts = Vec::with_capacity(evaluation.discounts.len());
    for (i, discount) in evaluation.discounts.into_iter().enumerate() {
        let kind = match discount.kind {
            DiscountKind::PercentageOnBill(p) => {
                wit::DiscountKind::PercentageOnBill(to_wit(p, i, "percentage")?)
            }
            DiscountKind::PercentageOnItem {
                product_id,
                percentage,
            } => {
                let percentage = to_wit(percentage, i, "percentage")?;
                wit::DiscountKind::PercentageOnItem(wit::ItemPercentage {
                    product_id,
                    percentage,
                })
            }
            DiscountKind::CouponZeroVat { amount, code } => {
                let amount = to_wit(amount, i, "amount")?;
                wit::DiscountKind::CouponZeroVat(wit::Coupon { amount, code })
            }
        };
        discounts.push(wit::Discount {
            kind,
            description: discount.description,
        });
    }
    Ok(wit::Evaluation {
        discounts,
        message: evaluation.message,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals_cross_exactly_and_too_many_digits_is_an_error() {
        let mut lift = Lift { bad_scale: None };
        let d = lift.decimal(wit::Decimal {
            mantissa: 1250,
            scale: 2,
        });
        assert_eq!(d, Decimal::new(1250, 2));
        assert_eq!(lift.bad_scale, None);
        assert_eq!(
            lift.decimal(wit::Decimal {
                mantissa: 1,
                scale: 29
            }),
            Decimal::ZERO
        );
        assert_eq!(lift.bad_scale, Some(29));

        let back = to_wit(Decimal::new(1250, 2), 0, "amount").map(|d| (d.mantissa, d.scale));
        assert_eq!(back, Ok((1250, 2)));
        // 10^20 with scale 20 is 1: it fits once normalized.
        let one = Decimal::from_i128_with_scale(10i128.pow(20), 20);
        assert_eq!(
            to_wit(one, 0, "amount").map(|d| (d.mantissa, d.scale)),
            Ok((1, 0))
        );
        let third = Decimal::ONE / Decimal::from(3);
        let err = to_wit(third, 0, "percentage").err().unwrap_or_default();
        assert!(
            err.starts_with("discounts[0].percentage has too many digits"),
            "{err}"
        );
        assert!(err.contains("round_dp"), "{err}");
    }
}
