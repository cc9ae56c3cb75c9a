//! The host's money rules, natively (not in the policy module): what the till would get
//! for an [`Evaluation`], computed by the very code the host runs
//! (`rabat_domain::money::discount_response`), so a policy's tests assert exact amounts.
//!
//! ```
//! use rabat_rules::prelude::*;
//!
//! let ctx = Context::new(
//!     Order::builder().item(OrderItem::new("11111", "Espresso", 3, dec!(2.35))).build(),
//! );
//! let evaluation: Evaluation = Discount::percentage_on_bill(10, "10% off").into();
//! let amounts = evaluation.amounts(&ctx)?;
//! assert_eq!(amounts.total_discount, dec!(0.71)); // 10 % of 7.05, rounded half away from zero
//! # Ok::<(), String>(())
//! ```

use rabat_domain::model;
pub use rabat_domain::money::{DiscountLine, DiscountResponse};

use crate::{Context, DiscountKind, Evaluation, Order};

impl Evaluation {
    /// The exact answer the till gets for this evaluation on `ctx`'s bill: each discount's
    /// amount after the host's rounding, caps and order, the total and the cashier's
    /// message. The error is what the host would call an invalid answer (it would then
    /// give the till no discount), e.g. `discounts[0]: percentage 150 is outside (0, 100]`.
    ///
    /// Only in native builds (tests): the policy module does not carry the money rules.
    pub fn amounts(&self, ctx: &Context) -> Result<DiscountResponse, String> {
        rabat_domain::money::discount_response(&domain_order(ctx.order()), &domain(self))
            .map_err(|e| e.to_string())
    }
}

/// The host's type of an evaluation.
fn domain(evaluation: &Evaluation) -> model::Evaluation {
    model::Evaluation {
        discounts: evaluation
            .discounts
            .iter()
            .map(|d| model::DiscountRequest {
                kind: match &d.kind {
                    DiscountKind::PercentageOnBill(percentage) => {
                        model::DiscountKind::PercentageOnBill {
                            percentage: *percentage,
                        }
                    }
                    DiscountKind::PercentageOnItem {
                        product_id,
                        percentage,
                    } => model::DiscountKind::PercentageOnItem {
                        product_id: product_id.clone(),
                        percentage: *percentage,
                    },
                    DiscountKind::CouponZeroVat { amount, code } => {
                        model::DiscountKind::CouponZeroVat {
                            amount: *amount,
                            code: code.clone(),
                        }
                    }
                    DiscountKind::AmountOffItem { product_id, amount } => {
                        model::DiscountKind::AmountOffItem {
                            product_id: product_id.clone(),
                            amount: *amount,
                        }
                    }
                },
                description: d.description.clone(),
                points: d.points,
                coupon: d
                    .coupon
                    .as_deref()
                    .map(rabat_domain::coupon::normalize_code),
                divisible: d.divisible,
            })
            .collect(),
        message: evaluation.message.clone(),
    }
}

/// The host's type of the bill a policy sees.
fn domain_order(order: Order<'_>) -> model::Order {
    let owned = |s: Option<&str>| s.map(str::to_owned);
    model::Order {
        order_id: order.order_id().into(),
        pos: if order.pos() == "bifit" {
            model::Pos::Bifit
        } else {
            model::Pos::Papaya
        },
        status: order.status().into(),
        total: order.total(),
        total_without_vat: order.total_without_vat(),
        vat: order.vat(),
        currency: order.currency().into(),
        created: order.created(),
        updated: order.updated(),
        branch_id: owned(order.branch_id()),
        note: owned(order.note()),
        items: order
            .items()
            .map(|i| model::OrderItem {
                id: i.id().into(),
                product_id: i.product_id().into(),
                name: i.name().into(),
                description: owned(i.description()),
                quantity: i.quantity(),
                unit_price: i.unit_price(),
                total_price: i.total_price(),
                vat: i.vat(),
                vat_rate: i.vat_rate(),
                category_id: owned(i.category_id()),
                category_name: owned(i.category_name()),
                ean: owned(i.ean()),
                note: owned(i.note()),
            })
            .collect(),
        attributes: order
            .attributes()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect(),
    }
}
