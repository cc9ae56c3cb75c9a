//! What a policy answers: the discounts it asks for ([`Evaluation`]) and the points for a
//! completed bill ([`Accrual`]). The host turns the discounts into exact money.

use rust_decimal::Decimal;

use crate::Order;

/// The most discounts one evaluation may ask for.
pub const MAX_DISCOUNTS: usize = 64;

/// What kind of discount is asked for.
///
/// # Choosing a type: the tax sense
///
/// - A **promotional money-off** (a loyalty percentage, a happy hour, a free coffee) lowers
///   the price, so it must reduce the taxable amount: use
///   [`PercentageOnBill`](DiscountKind::PercentageOnBill) or
///   [`PercentageOnItem`](DiscountKind::PercentageOnItem). The POS reduces the lines and
///   their VAT.
/// - A [`CouponZeroVat`](DiscountKind::CouponZeroVat) is applied as a negative line with
///   0 % VAT, so it does not reduce the VAT of the bill. That is right for a voucher that
///   works like a payment: the EU's multi-purpose voucher (Council Directive (EU)
///   2016/1065), e.g. a prepaid gift card or a credit the customer already owns. Do not
///   use it for a promotional "5 € off": that understates the discount's VAT effect.
#[derive(Debug, Clone, PartialEq)]
pub enum DiscountKind {
    /// A percentage of the bill's total (after item discounts), in (0, 100].
    PercentageOnBill(Decimal),
    /// A percentage, in (0, 100], of every line of one product (the sum of their
    /// `total_price`).
    PercentageOnItem {
        /// Must be the `product_id` of at least one line of the bill.
        product_id: String,
        /// In (0, 100].
        percentage: Decimal,
    },
    /// A fixed amount, greater than 0, as a zero-VAT coupon line (a payment-like voucher;
    /// see the tax note above). The host caps it at what is left of the bill.
    CouponZeroVat {
        /// Greater than 0.
        amount: Decimal,
        /// Printed on the bill, e.g. `WELCOME5`.
        code: String,
    },
}

/// One discount the policy asks for, with the text shown on the bill.
#[derive(Debug, Clone, PartialEq)]
pub struct Discount {
    /// What is asked for.
    pub kind: DiscountKind,
    /// Shown on the bill, e.g. `10% gold member discount`.
    pub description: String,
}

impl Discount {
    /// A percentage (in (0, 100]) off the bill's total, after item discounts. A
    /// promotional discount: it reduces the taxable amount.
    pub fn percentage_on_bill(
        percentage: impl Into<Decimal>,
        description: impl Into<String>,
    ) -> Discount {
        Discount {
            kind: DiscountKind::PercentageOnBill(percentage.into()),
            description: description.into(),
        }
    }

    /// A percentage (in (0, 100]) off every line of product `product_id`. A promotional
    /// discount: it reduces the taxable amount of those lines.
    pub fn percentage_on_item(
        product_id: impl Into<String>,
        percentage: impl Into<Decimal>,
        description: impl Into<String>,
    ) -> Discount {
        Discount {
            kind: DiscountKind::PercentageOnItem {
                product_id: product_id.into(),
                percentage: percentage.into(),
            },
            description: description.into(),
        }
    }

    /// A zero-VAT coupon of `amount` with `code` printed on the bill. Only for a voucher
    /// that works like a payment (EU multi-purpose voucher, Directive 2016/1065); a
    /// promotional money-off belongs in the percentage types (see [`DiscountKind`]).
    pub fn coupon_zero_vat(
        amount: Decimal,
        code: impl Into<String>,
        description: impl Into<String>,
    ) -> Discount {
        Discount {
            kind: DiscountKind::CouponZeroVat {
                amount,
                code: code.into(),
            },
            description: description.into(),
        }
    }
}

/// The policy's answer for an open bill: up to [`MAX_DISCOUNTS`] discounts and an
/// optional message for the cashier.
///
/// The host applies item percentages first, then bill percentages on what is left, then
/// coupons, each capped at what is left; the total never exceeds the bill.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Evaluation {
    /// The discounts asked for, in any order.
    pub discounts: Vec<Discount>,
    /// Shown to the cashier; when `None`, the host writes one from the discounts.
    pub message: Option<String>,
}

impl Evaluation {
    /// No discount.
    pub fn none() -> Evaluation {
        Evaluation::default()
    }

    /// Adds a discount.
    pub fn with(mut self, discount: Discount) -> Evaluation {
        self.discounts.push(discount);
        self
    }

    /// Sets the cashier's message.
    pub fn with_message(mut self, message: impl Into<String>) -> Evaluation {
        self.message = Some(message.into());
        self
    }

    /// Checks the answer against the host's rules for `order` (what the host would call
    /// an invalid answer), so a policy's tests catch it: at most [`MAX_DISCOUNTS`],
    /// percentages in (0, 100], item discounts on products of the bill, coupons > 0.
    pub fn validate(&self, order: &Order) -> Result<(), String> {
        if self.discounts.len() > MAX_DISCOUNTS {
            return Err(format!(
                "{} discounts asked for; at most {MAX_DISCOUNTS} are allowed",
                self.discounts.len()
            ));
        }
        let hundred = Decimal::ONE_HUNDRED;
        for (i, discount) in self.discounts.iter().enumerate() {
            match &discount.kind {
                DiscountKind::PercentageOnBill(p) if *p <= Decimal::ZERO || *p > hundred => {
                    return Err(format!("discounts[{i}]: percentage {p} is not in (0, 100]"));
                }
                DiscountKind::PercentageOnItem { percentage: p, .. }
                    if *p <= Decimal::ZERO || *p > hundred =>
                {
                    return Err(format!("discounts[{i}]: percentage {p} is not in (0, 100]"));
                }
                DiscountKind::PercentageOnItem { product_id, .. }
                    if order.lines_of_product(product_id).next().is_none() =>
                {
                    return Err(format!(
                        "discounts[{i}]: product {product_id} is not on the bill"
                    ));
                }
                DiscountKind::CouponZeroVat { amount, .. } if *amount <= Decimal::ZERO => {
                    return Err(format!("discounts[{i}]: coupon amount {amount} is not > 0"));
                }
                _ => {}
            }
        }
        Ok(())
    }
}

impl From<Discount> for Evaluation {
    fn from(discount: Discount) -> Evaluation {
        Evaluation::none().with(discount)
    }
}

/// The policy's answer for a completed bill: points to add to the card.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Accrual {
    /// Points to add (negative to take some away).
    pub points: i64,
    /// Why, for the ledger.
    pub reason: Option<String>,
}

impl Accrual {
    /// No points.
    pub fn none() -> Accrual {
        Accrual::default()
    }

    /// `points` with the reason written to the ledger.
    pub fn points(points: i64, reason: impl Into<String>) -> Accrual {
        Accrual {
            points,
            reason: Some(reason.into()),
        }
    }
}

impl From<Option<Discount>> for Evaluation {
    /// One discount, or none.
    fn from(discount: Option<Discount>) -> Evaluation {
        Evaluation {
            discounts: discount.into_iter().collect(),
            message: None,
        }
    }
}
