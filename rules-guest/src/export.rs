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

#[inline(never)]
fn decimal(value: wit::Decimal, field: &str) -> Result<Decimal, String> {
    Decimal::try_new(value.mantissa, u32::from(value.scale)).map_err(|_| {
        format!(
            "the host sent {field} with scale {}; at most 28 is possible",
            value.scale
        )
    })
}

fn optional(value: Option<wit::Decimal>, field: &str) -> Result<Option<Decimal>, String> {
    value.map(|v| decimal(v, field)).transpose()
}

fn context(ctx: wit::Context) -> Result<Context, String> {
    let wit::Context {
        order,
        card,
        config,
    } = ctx;
    Ok(Context {
        order: self::order(order)?,
        card: card.map(self::card).transpose()?,
        config,
    })
}

fn order(order: wit::Order) -> Result<Order, String> {
    let items = order
        .items
        .into_iter()
        .map(item)
        .collect::<Result<_, _>>()?;
    Ok(Order {
        order_id: order.order_id,
        pos: order.pos,
        status: order.status,
        total: decimal(order.total, "order.total")?,
        total_without_vat: optional(order.total_without_vat, "order.totalWithoutVat")?,
        vat: optional(order.vat, "order.vat")?,
        currency: order.currency,
        created: order.created,
        updated: order.updated,
        branch_id: order.branch_id,
        note: order.note,
        items,
        attributes: order
            .attributes
            .into_iter()
            .map(|a| (a.key, a.value))
            .collect(),
    })
}

fn item(item: wit::OrderItem) -> Result<OrderItem, String> {
    Ok(OrderItem {
        quantity: decimal(item.quantity, "an item's quantity")?,
        unit_price: decimal(item.unit_price, "an item's unitPrice")?,
        total_price: decimal(item.total_price, "an item's totalPrice")?,
        vat: optional(item.vat, "an item's vat")?,
        vat_rate: optional(item.vat_rate, "an item's vatRate")?,
        id: item.id,
        product_id: item.product_id,
        name: item.name,
        description: item.description,
        category_id: item.category_id,
        category_name: item.category_name,
        ean: item.ean,
        note: item.note,
    })
}

fn card(card: wit::Card) -> Result<Card, String> {
    Ok(Card {
        total_spent: decimal(card.total_spent, "card.totalSpent")?,
        card_id: card.card_id,
        customer_id: card.customer_id,
        name: card.name,
        tier: card.tier,
        tags: card.tags,
        points: card.points,
        visits: card.visits,
        first_visit: card.first_visit,
        last_visit: card.last_visit,
    })
}

/// Converts a decimal for the host, whose decimals carry a 64-bit mantissa (18 digits
/// always fit). Trailing zeros are dropped first if that makes it fit.
fn to_wit(value: Decimal, what: impl FnOnce() -> String) -> Result<wit::Decimal, String> {
    let fit = |d: Decimal| {
        let mantissa = i64::try_from(d.mantissa()).ok()?;
        let scale = u8::try_from(d.scale()).ok()?;
        Some(wit::Decimal { mantissa, scale })
    };
    fit(value)
        .or_else(|| fit(value.normalize()))
        .ok_or_else(|| {
            format!(
                "{} = {value} has too many digits for the host (at most 18 significant digits); \
             round it first, e.g. with `.round_dp(6)`",
                what()
            )
        })
}

fn evaluation(evaluation: Evaluation) -> Result<wit::Evaluation, String> {
    let mut discounts = Vec::with_capacity(evaluation.discounts.len());
    for (i, discount) in evaluation.discounts.into_iter().enumerate() {
        let kind = match discount.kind {
            DiscountKind::PercentageOnBill(p) => {
                wit::DiscountKind::PercentageOnBill(to_wit(p, || {
                    format!("discounts[{i}].percentage")
                })?)
            }
            DiscountKind::PercentageOnItem {
                product_id,
                percentage,
            } => wit::DiscountKind::PercentageOnItem(wit::ItemPercentage {
                percentage: to_wit(percentage, || format!("discounts[{i}].percentage"))?,
                product_id,
            }),
            DiscountKind::CouponZeroVat { amount, code } => {
                wit::DiscountKind::CouponZeroVat(wit::Coupon {
                    amount: to_wit(amount, || format!("discounts[{i}].amount"))?,
                    code,
                })
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
        let d = decimal(
            wit::Decimal {
                mantissa: 1250,
                scale: 2,
            },
            "x",
        );
        assert_eq!(d, Ok(Decimal::new(1250, 2)));
        assert!(
            decimal(
                wit::Decimal {
                    mantissa: 1,
                    scale: 29
                },
                "x"
            )
            .is_err()
        );

        let back = to_wit(Decimal::new(1250, 2), String::new).map(|d| (d.mantissa, d.scale));
        assert_eq!(back, Ok((1250, 2)));
        // 10^20 with scale 20 is 1: it fits once normalized.
        let one = Decimal::from_i128_with_scale(10i128.pow(20), 20);
        assert_eq!(
            to_wit(one, String::new).map(|d| (d.mantissa, d.scale)),
            Ok((1, 0))
        );
        let third = Decimal::ONE / Decimal::from(3);
        let err = to_wit(third, || "discounts[0].percentage".into())
            .err()
            .unwrap_or_default();
        assert!(err.starts_with("discounts[0].percentage = 0.3333"), "{err}");
        assert!(err.contains("round_dp"), "{err}");
    }
}
