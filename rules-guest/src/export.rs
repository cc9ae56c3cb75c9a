//! The glue `export_policy!` expands to: the `Guest` implementation that opens the
//! host's input buffer as a [`Context`] and converts the answer to the WIT types, and the
//! panic hook. Not part of the API.

use core::marker::PhantomData;

use rust_decimal::Decimal;

use crate::__bindings::rabat::rules::types as wit;
use crate::{Accrual, Context, DiscountKind, Evaluation, Policy};

/// Implements the generated `Guest` trait for any [`Policy`].
pub struct Exported<P>(PhantomData<P>);

impl<P: Policy> crate::__bindings::Guest for Exported<P> {
    fn evaluate(input: Vec<u8>) -> Result<wit::Evaluation, String> {
        install_panic_hook();
        let ctx = Context::from_input(input)?;
        let answer = P::evaluate(&ctx);
        // The instance is thrown away after this call: dropping would only cost code.
        core::mem::forget(ctx);
        evaluation(answer?)
    }

    fn accrue(input: Vec<u8>) -> Result<wit::Accrual, String> {
        install_panic_hook();
        let ctx = Context::from_input(input)?;
        let answer = P::accrue(&ctx);
        core::mem::forget(ctx);
        let Accrual {
            points,
            reason,
            redeem,
            set_tier,
            add_tags,
            remove_tags,
            redeem_coupons,
            issue_coupons,
        } = answer?;
        Ok(wit::Accrual {
            points,
            reason,
            redeem,
            set_tier,
            add_tags,
            remove_tags,
            redeem_coupons,
            issue_coupons,
        })
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
            DiscountKind::AmountOffItem { product_id, amount } => {
                let amount = to_wit(amount, i, "amount")?;
                wit::DiscountKind::AmountOffItem(wit::ItemAmount { product_id, amount })
            }
        };
        discounts.push(wit::Discount {
            kind,
            description: discount.description,
            points: discount.points,
            coupon: discount.coupon,
            divisible: discount.divisible,
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
    fn too_many_digits_is_an_error() {
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
