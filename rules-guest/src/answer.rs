//! What a policy answers: the discounts it asks for ([`Evaluation`]) and the points and
//! card changes for a completed bill ([`Accrual`]). The host turns the discounts into
//! exact money.

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
    /// An exact amount, greater than 0, off the lines of one product ("3 for 2", "second
    /// one free"); a promotional discount that reduces the taxable amount. The host caps
    /// it at what is left of those lines. Papaya receives it as a `percentage_on_item`
    /// with this exact amount.
    AmountOffItem {
        /// Must be the `product_id` of at least one line of the bill.
        product_id: String,
        /// Greater than 0.
        amount: Decimal,
    },
}

/// One discount the policy asks for, with the text shown on the bill.
#[derive(Debug, Clone, PartialEq)]
pub struct Discount {
    /// What is asked for.
    pub kind: DiscountKind,
    /// Shown on the bill, e.g. `10% gold member discount`.
    pub description: String,
    /// What the discount costs the card in points; 0 (the default) for a free discount.
    /// See [`Discount::costing_points`].
    pub points: u64,
    /// The rabat coupon (a code from the card's wallet) this discount redeems, if any.
    /// See [`Discount::with_coupon`].
    pub coupon: Option<String>,
    /// Whether the host may cut this points-costing discount to the card's available
    /// points instead of dropping it. See [`Discount::divisible`].
    pub divisible: bool,
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
            points: 0,
            coupon: None,
            divisible: false,
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
            points: 0,
            coupon: None,
            divisible: false,
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
            points: 0,
            coupon: None,
            divisible: false,
        }
    }
}

impl Discount {
    /// An exact `amount` (greater than 0) off the lines of product `product_id`: for
    /// "3 for 2" or "second one free". A promotional discount: it reduces the taxable
    /// amount of those lines. The host rounds the amount to the currency's minor unit and
    /// caps it at what is left of the product's lines.
    pub fn amount_off_item(
        product_id: impl Into<String>,
        amount: Decimal,
        description: impl Into<String>,
    ) -> Discount {
        Discount {
            kind: DiscountKind::AmountOffItem {
                product_id: product_id.into(),
                amount,
            },
            description: description.into(),
            points: 0,
            coupon: None,
            divisible: false,
        }
    }

    /// This discount, costing the card `points`: the host lets it through only when the
    /// card's available points (its balance minus what its other open orders hold) cover
    /// it, and holds them for this order until `accrue` redeems them
    /// ([`Accrual::redeem`]) or the hold expires.
    pub fn costing_points(mut self, points: u64) -> Discount {
        self.points = points;
        self
    }

    /// This discount, redeeming the rabat coupon `code` (from the card's
    /// [wallet](crate::Card::wallet)). The host holds the code for this order and drops
    /// the discount, saying why, when the code is held by another open order, redeemed,
    /// expired, voided, of another card, or when its batch's value or min bill is not met.
    /// `accrue` redeems it ([`Accrual::redeem_coupon`]) when the completed bill took it.
    ///
    /// ```
    /// # use rabat_rules::prelude::*;
    /// let d = Discount::coupon_zero_vat(dec!(5), "WELCOME-7KQ4", "Welcome gift")
    ///     .with_coupon("WELCOME-7KQ4");
    /// assert_eq!(d.coupon.as_deref(), Some("WELCOME-7KQ4"));
    /// ```
    pub fn with_coupon(mut self, code: impl Into<String>) -> Discount {
        self.coupon = Some(code.into());
        self
    }

    /// This points-costing discount, which the host may cut to the card's available
    /// points (its amount in proportion) rather than drop when they do not cover it.
    pub fn divisible(mut self) -> Discount {
        self.divisible = true;
        self
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
    pub fn validate(&self, order: &Order<'_>) -> Result<(), String> {
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
                DiscountKind::AmountOffItem { amount, .. } if *amount <= Decimal::ZERO => {
                    return Err(format!("discounts[{i}]: amount {amount} is not > 0"));
                }
                DiscountKind::AmountOffItem { product_id, .. }
                    if order.lines_of_product(product_id).next().is_none() =>
                {
                    return Err(format!(
                        "discounts[{i}]: product {product_id} is not on the bill"
                    ));
                }
                _ => {}
            }
            if let Some(code) = &discount.coupon
                && let Some(problem) = code_problem(code)
            {
                return Err(format!("discounts[{i}].coupon: {problem}"));
            }
        }
        Ok(())
    }
}

/// What is wrong with `code` as a rabat coupon code (the host's rule): 1 to 64 letters,
/// digits, `-` or `_`.
fn code_problem(code: &str) -> Option<&'static str> {
    let code = code.trim();
    if code.is_empty() {
        Some("must not be empty")
    } else if code.chars().count() > 64 {
        Some("must be at most 64 characters")
    } else if !code
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        Some("may hold only letters A-Z, digits, '-' and '_'")
    } else {
        None
    }
}

impl From<Discount> for Evaluation {
    fn from(discount: Discount) -> Evaluation {
        Evaluation::none().with(discount)
    }
}

/// The policy's answer for a completed bill: points to add to the card, held points to
/// redeem, and changes to the card (tier, tags).
///
/// ```
/// # use rabat_rules::Accrual;
/// let accrual = Accrual::points(12, "12.00 spent").redeem(300).set_tier("silver").add_tag("regular");
/// assert_eq!(accrual.redeem, 300);
/// ```
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Accrual {
    /// Points to add (negative to take some away).
    pub points: i64,
    /// Why, for the ledger.
    pub reason: Option<String>,
    /// Of the points held for this order's offer, how many to take off the card (0 when
    /// the offer was not taken). The host never takes more than was held.
    pub redeem: u64,
    /// The card's new tier, if it changes.
    pub set_tier: Option<String>,
    /// Tags to add to the card.
    pub add_tags: Vec<String>,
    /// Tags to take off the card.
    pub remove_tags: Vec<String>,
    /// Codes of the coupons held for this order that the completed bill took (at most
    /// 64). See [`Accrual::redeem_coupon`].
    pub redeem_coupons: Vec<String>,
    /// Names of coupon batches to issue one code each from to the card (the host issues
    /// at most 3 per bill). See [`Accrual::issue_coupon`].
    pub issue_coupons: Vec<String>,
}

impl Accrual {
    /// No points, no change.
    pub fn none() -> Accrual {
        Accrual::default()
    }

    /// `points` with the reason written to the ledger.
    pub fn points(points: i64, reason: impl Into<String>) -> Accrual {
        Accrual {
            points,
            reason: Some(reason.into()),
            ..Accrual::default()
        }
    }

    /// Also takes `points` of the points held for this order's offer off the card (see
    /// [`Offer::held_points`](crate::Offer::held_points)). Redeem only what the completed
    /// bill shows was taken (on Papaya, a coupon is a negative line): see the crate docs,
    /// "Redeeming".
    pub fn redeem(mut self, points: u64) -> Accrual {
        self.redeem = points;
        self
    }

    /// Also sets the card's tier.
    pub fn set_tier(mut self, tier: impl Into<String>) -> Accrual {
        self.set_tier = Some(tier.into());
        self
    }

    /// Also adds `tag` to the card.
    pub fn add_tag(mut self, tag: impl Into<String>) -> Accrual {
        self.add_tags.push(tag.into());
        self
    }

    /// Also takes `tag` off the card.
    pub fn remove_tag(mut self, tag: impl Into<String>) -> Accrual {
        self.remove_tags.push(tag.into());
        self
    }

    /// Also redeems the coupon `code`, held for this order by an offered discount
    /// ([`Discount::with_coupon`]): only when the completed bill took it (see
    /// [`OfferedDiscount::taken_by`](crate::OfferedDiscount::taken_by)). Held coupons not
    /// redeemed are released.
    pub fn redeem_coupon(mut self, code: impl Into<String>) -> Accrual {
        self.redeem_coupons.push(code.into());
        self
    }

    /// Also issues one coupon from the merchant's batch `batch` (e.g. `welcome`) to the
    /// card; the batch sets its value and validity.
    pub fn issue_coupon(mut self, batch: impl Into<String>) -> Accrual {
        self.issue_coupons.push(batch.into());
        self
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
