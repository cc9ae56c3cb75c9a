//! The discount arithmetic: turns what a policy asked for ([`Evaluation`]) on a bill
//! ([`Order`]) into the exact amounts of Papaya's endpoint-1 answer. The policy says
//! *what*; the host decides *how much*, so no policy can return an inconsistent bill.
//!
//! The rules (the README's "Money" section): amounts are rounded to the currency's minor
//! unit, half away from zero. Item percentages apply first, on the sum of `totalPrice`
//! over every line of that product (several on one product, one after another on what is
//! left of it); then bill percentages on what is left of `total`; then coupons, each
//! capped at what is left. `totalDiscount` is the sum and never exceeds `total`.
//!
//! Edge cases, decided here:
//! - **A discount that comes to zero is left out** of the answer: a product whose lines
//!   sum to ≤ 0, a bill total of 0, a percentage too small to make one minor unit, a
//!   coupon with nothing left to take. A `0.00` line would only put noise on the receipt
//!   (and a coupon code on it that did nothing); what the policy asked is in the
//!   evaluation log anyway.
//! - **Negative line values** (a POS-side discount, or a coupon already applied, which
//!   Papaya books as a negative item) count in their product's sum; a product worth ≤ 0
//!   gets no discount, never a surcharge. A negative `total` counts as 0.
//! - **Caps are cut down to whole minor units**: what is left of 3.335 is 3.33, so no
//!   amount ever exceeds what it is taken from, even on bills with sub-cent prices.
//! - **Item discounts are capped by what is left of `total` too**: item totals need not add
//!   up to `total` (Papaya's own example does not), and the bill is the limit.
//! - **Coupon amounts** with more places than the currency has are rounded like any
//!   amount (5.005 EUR → 5.01).
//! - The answer lists discounts **in the order they were applied** (items, bill, coupons;
//!   the policy's order within each), so a POS re-applying them one by one gets the same
//!   amounts. Percentages are written normalized (`10`, `12.5`).
//! - **Texts**: an empty description gets a default in the seed's style ("10% discount
//!   on entire bill"); with no message from the policy the cashier sees the given
//!   discounts' descriptions joined by "; " (each description once, in the order it first
//!   appears), or [`NO_DISCOUNT_MESSAGE`] when none is left.

pub mod json;
mod response;

#[cfg(test)]
mod proptests;
#[cfg(test)]
mod tests;

use rust_decimal::Decimal;
use rustc_hash::FxHashMap;

pub use response::{DiscountLine, DiscountResponse, FAIL_SAFE_MESSAGE};

use crate::currency;
use crate::model::{DiscountKind, DiscountRequest, Evaluation, Order};

/// The most discounts one answer may ask for.
pub const MAX_DISCOUNTS: usize = 64;
/// The longest coupon code (in characters) a policy may hand out.
pub const MAX_COUPON_CODE_CHARS: usize = 64;
/// The cashier's message when no discount applies and the policy said nothing.
pub const NO_DISCOUNT_MESSAGE: &str = "No loyalty discount";

/// Why a policy's answer is invalid (the README's "Money" section). Checkout then goes on with
/// the fail-safe answer and this is recorded for the merchant; the text says what was
/// wrong and where, e.g. `discounts[3]: percentage 150 is outside (0, 100]`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidAnswer {
    #[error("the policy asked for {count} discounts; at most {MAX_DISCOUNTS} are allowed")]
    TooManyDiscounts { count: usize },
    #[error("discounts[{index}]: percentage {percentage} is outside (0, 100]")]
    PercentageOutOfRange { index: usize, percentage: Decimal },
    #[error("discounts[{index}]: product {product_id:?} is not on the bill")]
    ProductNotOnBill { index: usize, product_id: String },
    #[error("discounts[{index}]: coupon amount {amount} must be greater than 0")]
    CouponAmountNotPositive { index: usize, amount: Decimal },
    #[error(
        "discounts[{index}]: amount {amount} off product {product_id:?} must be greater than 0"
    )]
    ItemAmountNotPositive {
        index: usize,
        product_id: String,
        amount: Decimal,
    },
    #[error("discounts[{index}]: coupon code is empty")]
    EmptyCouponCode { index: usize },
    #[error(
        "discounts[{index}]: coupon code is {chars} characters long; at most {MAX_COUPON_CODE_CHARS} are allowed"
    )]
    CouponCodeTooLong { index: usize, chars: usize },
    /// Only a bill whose lines of one product sum beyond what a decimal holds (about
    /// 7.9 × 10²⁸) gets here.
    #[error("discounts[{index}]: the amounts are too large to compute")]
    Overflow { index: usize },
}

/// Turns `evaluation` on `order` into the exact endpoint-1 answer, or says why the
/// answer is invalid (nothing is computed from an answer that is partly wrong).
pub fn discount_response(
    order: &Order,
    evaluation: &Evaluation,
) -> Result<DiscountResponse, InvalidAnswer> {
    discount_response_traced(order, evaluation).map(|(response, _)| response)
}

/// [`discount_response`], and for each line of the answer the index of the discount in
/// `evaluation` it came from (discounts that came to zero have no line): what tells the
/// host which points-costing discounts the till was really offered.
pub fn discount_response_traced(
    order: &Order,
    evaluation: &Evaluation,
) -> Result<(DiscountResponse, Vec<usize>), InvalidAnswer> {
    let count = evaluation.discounts.len();
    if count > MAX_DISCOUNTS {
        return Err(InvalidAnswer::TooManyDiscounts { count });
    }
    let mut products = named_products(order, evaluation);
    check(evaluation, &products)?;
    let units = currency::minor_units(&order.currency);
    let zero = currency::zero(units);

    // Rule 2's order of application; the sort is stable, keeping the policy's order
    // within each kind.
    let mut requests: Vec<(usize, &DiscountRequest)> =
        evaluation.discounts.iter().enumerate().collect();
    requests.sort_by_key(|(_, request)| match request.kind {
        DiscountKind::PercentageOnItem { .. } | DiscountKind::AmountOffItem { .. } => 0,
        DiscountKind::PercentageOnBill { .. } => 1,
        DiscountKind::CouponZeroVat { .. } => 2,
    });

    let mut bill_left = order.total.max(Decimal::ZERO);
    let mut lines = Vec::with_capacity(requests.len());
    let mut sources = Vec::with_capacity(requests.len());
    for (index, request) in requests {
        let overflow = move || InvalidAnswer::Overflow { index };
        let line = match &request.kind {
            DiscountKind::PercentageOnItem {
                product_id,
                percentage,
            } => {
                let product = named(&mut products, index, product_id)?;
                let left = product.left.ok_or_else(overflow)?;
                let wanted = percent_of(left, *percentage, units).ok_or_else(overflow)?;
                let amount = capped(wanted, &[left, bill_left], units);
                product.left = Some(left - amount);
                bill_left -= amount;
                let percentage = percentage.normalize();
                let product_name = product.name(product_id);
                DiscountLine::PercentageOnItem {
                    description: described(&request.description, || {
                        format!("{percentage}% discount on {product_name}")
                    }),
                    percentage,
                    amount,
                    product_id: product_id.clone(),
                    product_name,
                }
            }
            DiscountKind::AmountOffItem { product_id, amount } => {
                let product = named(&mut products, index, product_id)?;
                let left = product.left.ok_or_else(overflow)?;
                let amount = capped(currency::round(*amount, units), &[left, bill_left], units);
                product.left = Some(left - amount);
                bill_left -= amount;
                let product_name = product.name(product_id);
                // Papaya has no amount-off kind: the line goes out as a percentage on the
                // item with this exact amount and the percentage of what was left of the
                // product that it amounts to.
                let percentage = share_of(amount, left);
                DiscountLine::PercentageOnItem {
                    description: described(&request.description, || match order.currency.trim() {
                        "" => format!("{amount} off {product_name}"),
                        currency => format!("{amount} {currency} off {product_name}"),
                    }),
                    percentage,
                    amount,
                    product_id: product_id.clone(),
                    product_name,
                }
            }
            DiscountKind::PercentageOnBill { percentage } => {
                let wanted = percent_of(bill_left, *percentage, units).ok_or_else(overflow)?;
                let amount = capped(wanted, &[bill_left], units);
                bill_left -= amount;
                let percentage = percentage.normalize();
                DiscountLine::PercentageOnBill {
                    description: described(&request.description, || {
                        format!("{percentage}% discount on entire bill")
                    }),
                    percentage,
                    amount,
                }
            }
            DiscountKind::CouponZeroVat { amount, code } => {
                let amount = capped(currency::round(*amount, units), &[bill_left], units);
                bill_left -= amount;
                DiscountLine::CouponZeroVat {
                    description: described(&request.description, || match order.currency.trim() {
                        "" => format!("Coupon {code}: {amount} off"),
                        currency => format!("Coupon {code}: {amount} {currency} off"),
                    }),
                    amount,
                    coupon_code: code.clone(),
                }
            }
        };
        if line.amount() > zero {
            lines.push(line);
            sources.push(index);
        }
    }

    // Cannot overflow: every amount was capped by what was left of `total`.
    let total_discount = lines
        .iter()
        .map(DiscountLine::amount)
        .fold(zero, |a, b| a + b);
    let message = match &evaluation.message {
        Some(message) if !message.trim().is_empty() => message.clone(),
        _ if lines.is_empty() => NO_DISCOUNT_MESSAGE.to_owned(),
        _ => cashier_message(&lines),
    };
    let response = DiscountResponse {
        discounts: lines,
        total_discount,
        message,
    };
    Ok((response, sources))
}

/// The cashier's message from the given lines' descriptions: each description once, in the
/// order it first appears, joined by "; " (two happy-hour lines are one "Happy hour …").
fn cashier_message(lines: &[DiscountLine]) -> String {
    let mut said: Vec<&str> = Vec::with_capacity(lines.len());
    for description in lines.iter().map(DiscountLine::description) {
        if !said.contains(&description) {
            said.push(description);
        }
    }
    said.join("; ")
}

/// Money rule 3, for the whole answer before anything is computed.
fn check(evaluation: &Evaluation, products: &Products<'_>) -> Result<(), InvalidAnswer> {
    let percentage_ok = |index: usize, percentage: Decimal| {
        if percentage > Decimal::ZERO && percentage <= Decimal::ONE_HUNDRED {
            Ok(())
        } else {
            Err(InvalidAnswer::PercentageOutOfRange { index, percentage })
        }
    };
    for (index, request) in evaluation.discounts.iter().enumerate() {
        match &request.kind {
            DiscountKind::PercentageOnBill { percentage } => percentage_ok(index, *percentage)?,
            DiscountKind::PercentageOnItem {
                product_id,
                percentage,
            } => {
                percentage_ok(index, *percentage)?;
                if !products
                    .get(product_id.as_str())
                    .is_some_and(|product| product.on_bill())
                {
                    return Err(InvalidAnswer::ProductNotOnBill {
                        index,
                        product_id: product_id.clone(),
                    });
                }
            }
            DiscountKind::AmountOffItem { product_id, amount } => {
                if *amount <= Decimal::ZERO {
                    return Err(InvalidAnswer::ItemAmountNotPositive {
                        index,
                        product_id: product_id.clone(),
                        amount: *amount,
                    });
                }
                if !products
                    .get(product_id.as_str())
                    .is_some_and(|product| product.on_bill())
                {
                    return Err(InvalidAnswer::ProductNotOnBill {
                        index,
                        product_id: product_id.clone(),
                    });
                }
            }
            DiscountKind::CouponZeroVat { amount, code } => {
                if *amount <= Decimal::ZERO {
                    return Err(InvalidAnswer::CouponAmountNotPositive {
                        index,
                        amount: *amount,
                    });
                }
                if code.trim().is_empty() {
                    return Err(InvalidAnswer::EmptyCouponCode { index });
                }
                let chars = code.chars().count();
                if chars > MAX_COUPON_CODE_CHARS {
                    return Err(InvalidAnswer::CouponCodeTooLong { index, chars });
                }
            }
        }
    }
    Ok(())
}

/// A product that item discounts name, as far as they have taken it.
#[derive(Debug, Clone, Copy)]
struct Product<'a> {
    /// What is left of the sum of its lines' `totalPrice` after the discounts so far
    /// (`None` only on overflow).
    left: Option<Decimal>,
    /// Its first line's name (`None`: it is not on the bill).
    first_name: Option<&'a str>,
}

impl Product<'_> {
    fn on_bill(&self) -> bool {
        self.first_name.is_some()
    }

    /// Its first line's name, or its id when that line has no name.
    fn name(&self, product_id: &str) -> String {
        self.first_name
            .filter(|name| !name.trim().is_empty())
            .unwrap_or(product_id)
            .to_owned()
    }
}

/// The products named by item discounts, by id.
type Products<'a> = FxHashMap<&'a str, Product<'a>>;

/// The products the item discounts of `evaluation` name, found in one pass over the bill
/// whatever the number of discounts (a scan per discount made an answer O(discounts ×
/// lines), three times over: 64 item discounts on a 1 000-line bill compared ids 192 000
/// times). The ids are the policy's (at most [`MAX_DISCOUNTS`]), so a fast hash suffices.
fn named_products<'a>(order: &'a Order, evaluation: &'a Evaluation) -> Products<'a> {
    let mut products = Products::default();
    for request in &evaluation.discounts {
        if let DiscountKind::PercentageOnItem { product_id, .. }
        | DiscountKind::AmountOffItem { product_id, .. } = &request.kind
        {
            products.insert(
                product_id,
                Product {
                    left: Some(Decimal::ZERO),
                    first_name: None,
                },
            );
        }
    }
    if products.is_empty() {
        return products;
    }
    for item in &order.items {
        if let Some(product) = products.get_mut(item.product_id.as_str()) {
            product.left = product
                .left
                .and_then(|sum| sum.checked_add(item.total_price));
            product.first_name.get_or_insert(item.name.as_str());
        }
    }
    products
}

/// The product the item discount at `index` names ([`check`] made sure it is on the bill).
fn named<'p, 'a>(
    products: &'p mut Products<'a>,
    index: usize,
    product_id: &str,
) -> Result<&'p mut Product<'a>, InvalidAnswer> {
    products
        .get_mut(product_id)
        .ok_or_else(|| InvalidAnswer::ProductNotOnBill {
            index,
            product_id: product_id.to_owned(),
        })
}

/// `percentage` % of `base`, rounded; nothing of a base worth ≤ 0 (`None` on overflow).
fn percent_of(base: Decimal, percentage: Decimal, units: u32) -> Option<Decimal> {
    if base <= Decimal::ZERO {
        return Some(currency::zero(units));
    }
    // Scaling the percentage first keeps the product no larger than `base`, so only a
    // base beyond what a decimal holds could overflow.
    let exact = base.checked_mul(percentage.checked_div(Decimal::ONE_HUNDRED)?)?;
    Some(currency::round(exact, units))
}

/// What percentage of `base` `amount` is, to 4 places (the percentage a fixed amount off a
/// product amounts to; the amount itself is what the till takes). Never 0 for a positive
/// amount: below 0.0001 % it is written with the places it needs.
fn share_of(amount: Decimal, base: Decimal) -> Decimal {
    if base <= Decimal::ZERO || amount <= Decimal::ZERO {
        return Decimal::ZERO;
    }
    let exact = match (amount * Decimal::ONE_HUNDRED).checked_div(base) {
        Some(exact) => exact.min(Decimal::ONE_HUNDRED),
        None => return Decimal::ONE_HUNDRED,
    };
    let rounded = exact.round_dp(4);
    if rounded.is_zero() { exact } else { rounded }.normalize()
}

/// `wanted`, but no more than any of `limits` cut down to whole minor units, and never
/// below zero.
fn capped(wanted: Decimal, limits: &[Decimal], units: u32) -> Decimal {
    let most = limits
        .iter()
        .map(|limit| currency::truncate(*limit, units))
        .fold(wanted, Decimal::min);
    most.max(currency::zero(units))
}

fn described(description: &str, default: impl FnOnce() -> String) -> String {
    if description.trim().is_empty() {
        default()
    } else {
        description.to_owned()
    }
}
