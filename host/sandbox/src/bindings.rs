//! The host side of the WIT contracts: `rabat:rules@0.1.0` (`wit/v0_1/rules.wit`, the
//! bindings at this module's top, and the conversions between its types and the host's own
//! (`crate::model`)), `rabat:rules@0.2.0` (`wit/v0_2/rules.wit`, [`v0_2`]) and
//! `rabat:rules@0.3.0` (`wit/rules.wit`, [`v0_3`]); the input of 0.2 and 0.3 is one buffer
//! written by [`crate::input`], their answers are read by [`crate::lift`].

use rust_decimal::Decimal;

use rabat_domain::model;

wasmtime::component::bindgen!({
    path: "../../wit/v0_1",
    world: "rabat:rules/policy",
});

pub use self::rabat::rules::host::Level;

/// The bindings of contract 0.2 (`wit/v0_2/rules.wit`): used to check that a component
/// is a 0.2 policy (its exports' types); calls go through [`crate::lift`]'s bounded types.
pub mod v0_2 {
    wasmtime::component::bindgen!({
        path: "../../wit/v0_2",
        world: "rabat:rules/policy",
    });
}

/// The bindings of contract 0.3 (`wit/rules.wit`), used like [`v0_2`]'s.
pub mod v0_3 {
    wasmtime::component::bindgen!({
        path: "../../wit",
        world: "rabat:rules/policy",
    });
}
use self::rabat::rules::types as wit;

/// Why a value a policy returned cannot be turned into the host's types.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ConversionError(pub String);

pub fn decimal_to_wit(value: Decimal) -> wit::Decimal {
    // Every amount the host hands a policy was parsed from a POS's JSON or the store and is
    // far below i64's range at scale ≤ 28; saturate rather than fail if one ever is not,
    // by rescaling down until it fits.
    let mut value = value;
    loop {
        let mantissa = value.mantissa();
        if let Ok(m) = i64::try_from(mantissa) {
            return wit::Decimal {
                mantissa: m,
                scale: value.scale() as u8,
            };
        }
        if value.scale() == 0 {
            let m = if mantissa < 0 { i64::MIN } else { i64::MAX };
            return wit::Decimal {
                mantissa: m,
                scale: 0,
            };
        }
        value = value.round_dp(value.scale() - 1);
    }
}

pub fn decimal_from_wit(value: wit::Decimal, what: &str) -> Result<Decimal, ConversionError> {
    Decimal::try_from_i128_with_scale(i128::from(value.mantissa), u32::from(value.scale)).map_err(
        |_| {
            ConversionError(format!(
                "{what}: scale {} is over 28 (decimal {{ mantissa: {}, scale: {} }})",
                value.scale, value.mantissa, value.scale
            ))
        },
    )
}

fn item_to_wit(item: &model::OrderItem) -> wit::OrderItem {
    wit::OrderItem {
        id: item.id.clone(),
        product_id: item.product_id.clone(),
        name: item.name.clone(),
        description: item.description.clone(),
        quantity: decimal_to_wit(item.quantity),
        unit_price: decimal_to_wit(item.unit_price),
        total_price: decimal_to_wit(item.total_price),
        vat: item.vat.map(decimal_to_wit),
        vat_rate: item.vat_rate.map(decimal_to_wit),
        category_id: item.category_id.clone(),
        category_name: item.category_name.clone(),
        ean: item.ean.clone(),
        note: item.note.clone(),
    }
}

pub fn order_to_wit(order: &model::Order) -> wit::Order {
    wit::Order {
        order_id: order.order_id.clone(),
        pos: order.pos.as_str().to_owned(),
        status: order.status.clone(),
        total: decimal_to_wit(order.total),
        total_without_vat: order.total_without_vat.map(decimal_to_wit),
        vat: order.vat.map(decimal_to_wit),
        currency: order.currency.clone(),
        created: order.created,
        updated: order.updated,
        branch_id: order.branch_id.clone(),
        note: order.note.clone(),
        items: order.items.iter().map(item_to_wit).collect(),
        attributes: order
            .attributes
            .iter()
            .map(|(key, value)| wit::Attribute {
                key: key.clone(),
                value: value.clone(),
            })
            .collect(),
    }
}

pub fn card_to_wit(card: &model::Card) -> wit::Card {
    wit::Card {
        card_id: card.card_id.clone(),
        customer_id: card.customer_id.clone(),
        name: card.name.clone(),
        tier: card.tier.clone(),
        tags: card.tags.clone(),
        points: card.spendable_points(),
        visits: card.visits,
        total_spent: decimal_to_wit(card.total_spent),
        first_visit: card.first_visit,
        last_visit: card.last_visit,
    }
}

pub fn context_to_wit(
    order: &model::Order,
    card: Option<&model::Card>,
    config: &str,
) -> wit::Context {
    wit::Context {
        order: order_to_wit(order),
        card: card.map(card_to_wit),
        config: config.to_owned(),
    }
}

pub fn evaluation_from_wit(value: wit::Evaluation) -> Result<model::Evaluation, ConversionError> {
    let discounts = value
        .discounts
        .into_iter()
        .enumerate()
        .map(|(i, d)| {
            let what = format!("discounts[{i}]");
            let kind = match d.kind {
                wit::DiscountKind::PercentageOnBill(p) => model::DiscountKind::PercentageOnBill {
                    percentage: decimal_from_wit(p, &format!("{what}.percentage"))?,
                },
                wit::DiscountKind::PercentageOnItem(item) => {
                    model::DiscountKind::PercentageOnItem {
                        product_id: item.product_id,
                        percentage: decimal_from_wit(
                            item.percentage,
                            &format!("{what}.percentage"),
                        )?,
                    }
                }
                wit::DiscountKind::CouponZeroVat(coupon) => model::DiscountKind::CouponZeroVat {
                    amount: decimal_from_wit(coupon.amount, &format!("{what}.amount"))?,
                    code: coupon.code,
                },
            };
            Ok(model::DiscountRequest {
                kind,
                description: d.description,
                points: 0,
                coupon: None,
                divisible: false,
            })
        })
        .collect::<Result<Vec<_>, ConversionError>>()?;
    Ok(model::Evaluation {
        discounts,
        message: value.message,
    })
}

pub fn accrual_from_wit(value: wit::Accrual) -> model::Accrual {
    model::Accrual {
        points: value.points,
        reason: value.reason,
        ..model::Accrual::default()
    }
}

/// Bytes of text in an answer: what the output-size limit counts.
pub fn evaluation_size(value: &wit::Evaluation) -> usize {
    let discounts: usize = value
        .discounts
        .iter()
        .map(|d| {
            d.description.len()
                + 16
                + match &d.kind {
                    wit::DiscountKind::PercentageOnItem(item) => item.product_id.len(),
                    wit::DiscountKind::CouponZeroVat(coupon) => coupon.code.len(),
                    wit::DiscountKind::PercentageOnBill(_) => 0,
                }
        })
        .sum();
    discounts + value.message.as_ref().map_or(0, String::len)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    #[test]
    fn decimals_cross_exactly() {
        for text in [
            "0",
            "12.50",
            "-3.333",
            "0.0000000001",
            "92233720368.54775807",
        ] {
            let d = Decimal::from_str(text).unwrap();
            let back = decimal_from_wit(decimal_to_wit(d), "x").unwrap();
            assert_eq!(back, d);
            assert_eq!(back.to_string(), d.to_string(), "scale kept for {text}");
        }
    }

    #[test]
    fn oversized_scale_is_named() {
        let err = decimal_from_wit(
            wit::Decimal {
                mantissa: 1,
                scale: 40,
            },
            "discounts[2].percentage",
        )
        .unwrap_err();
        assert!(err.0.contains("discounts[2].percentage"), "{err}");
        assert!(err.0.contains("scale 40"), "{err}");
    }
}
