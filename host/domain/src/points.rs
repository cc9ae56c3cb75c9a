//! Paying with points, the host's half (contract 0.2): which of a policy's points-costing
//! discounts a card can afford, and the offer a till was made — what the host holds for
//! the order and what `accrue` sees when the bill completes.
//!
//! The host enforces the rules; a policy only names costs. A discount that costs points
//! passes only while the card's *available* points (its balance minus what its other open
//! orders hold) cover the running sum of what passed before it, in the policy's order; a
//! free discount always passes. What passes is then turned into money like any answer,
//! and only what the till was really offered (a line with an amount > 0) is held.

use std::str::FromStr;

use rust_decimal::Decimal;
use serde_json::Value;

use crate::coupon::{CouponTerms, CouponValue};
use crate::model::{DiscountKind, DiscountRequest, Offer, OfferedDiscount};
use crate::money::DiscountResponse;

/// Whether any discount of the answer costs points or redeems a coupon: only then does
/// endpoint 1 reserve under the card's lock (answers without either stay on the cheap
/// path).
pub fn costs_points(discounts: &[DiscountRequest]) -> bool {
    discounts.iter().any(|d| d.points > 0 || d.coupon.is_some())
}

/// The discounts a card can afford, and why the others were dropped.
#[derive(Debug, Clone, PartialEq)]
pub struct Afforded {
    /// What passed, in the policy's order (a divisible one possibly cut).
    pub kept: Vec<DiscountRequest>,
    /// For each of `kept`, its index in the policy's answer.
    pub kept_from: Vec<usize>,
    /// One line per dropped or cut discount, naming it by its index in the policy's
    /// answer, e.g. `discounts[1] dropped: costs 500 points, card has 300 available`.
    pub dropped: Vec<String>,
    /// Why the first discount was dropped, in a few words for the cashier (`None` when
    /// nothing was dropped), e.g. `not enough points` or `coupon AB12 already redeemed`.
    pub cashier: Option<String>,
}

/// What is known of the coupon codes an answer names: per code, its terms or why the
/// order may not hold it. A code the lookup does not know is dropped as unchecked.
pub type CouponLookup<'a> = &'a dyn Fn(&str) -> Option<Result<CouponTerms, String>>;

/// [`settle`] without coupons: an answer naming a coupon has it dropped.
pub fn afford(discounts: &[DiscountRequest], available: i64) -> Afforded {
    settle(discounts, available, None, 4, &|_| None)
}

/// The host's gates on an answer, in the policy's order, before the money rules:
///
/// - **coupons**: a discount redeeming a coupon passes only when the code is usable by this
///   order (`coupons`), not already used earlier in the answer, the bill reaches the
///   coupon's least bill (`bill` total; not checked when `None`), and the discount is no
///   more than the coupon is worth (an amount coupon: a `coupon-zero-vat` or an amount off a
///   product of at most its amount; a percentage coupon: a percentage of at most its own);
/// - **points**: a discount that costs points passes only while `available` points cover
///   the running sum of the points-costing ones kept so far (a later, cheaper one may still
///   pass after a dearer one was dropped); a **divisible** one that does not fit whole is
///   cut to the points left instead — its amount (or percentage) and its cost scaled down
///   together, an amount rounded down to the currency's `places` (a percentage to 4) and
///   the cost rounded up, so the card never pays more per unit than asked. `available` may be negative (a card in debt
///   affords nothing that costs points).
pub fn settle(
    discounts: &[DiscountRequest],
    available: i64,
    bill: Option<Decimal>,
    places: u32,
    coupons: CouponLookup<'_>,
) -> Afforded {
    let mut left = i128::from(available);
    let mut afforded = Afforded {
        kept: Vec::with_capacity(discounts.len()),
        kept_from: Vec::with_capacity(discounts.len()),
        dropped: Vec::new(),
        cashier: None,
    };
    let mut used_codes: Vec<&str> = Vec::new();
    for (index, discount) in discounts.iter().enumerate() {
        if let Some(code) = discount.coupon.as_deref() {
            let problem = if used_codes.contains(&code) {
                Some(format!("coupon {code} is already in this answer"))
            } else {
                match coupons(code) {
                    None => Some(format!("coupon {code} was not checked")),
                    Some(Err(why)) => Some(why),
                    Some(Ok(terms)) => coupon_problem(discount, code, &terms, bill),
                }
            };
            if let Some(problem) = problem {
                afforded
                    .dropped
                    .push(format!("discounts[{index}] dropped: {problem}"));
                afforded.cashier.get_or_insert(problem);
                continue;
            }
            used_codes.push(code);
        }
        let cost = i128::from(discount.points);
        let mut discount = discount.clone();
        if cost > 0 && cost > left {
            let has = left.max(0);
            match cut(&discount, has, places) {
                Some(smaller) if discount.divisible => {
                    afforded.dropped.push(format!(
                        "discounts[{index}] cut: costs {cost} points, card has {has} available; cut to {} points",
                        smaller.points
                    ));
                    discount = smaller;
                }
                _ => {
                    afforded.dropped.push(format!(
                        "discounts[{index}] dropped: costs {cost} points, card has {has} available"
                    ));
                    afforded
                        .cashier
                        .get_or_insert_with(|| format!("not enough points ({has} available)"));
                    continue;
                }
            }
        }
        left -= i128::from(discount.points);
        afforded.kept.push(discount);
        afforded.kept_from.push(index);
    }
    afforded
}

/// Why `discount` may not redeem the coupon `code` of `terms` on a bill of `bill`.
fn coupon_problem(
    discount: &DiscountRequest,
    code: &str,
    terms: &CouponTerms,
    bill: Option<Decimal>,
) -> Option<String> {
    if let (Some(least), Some(bill)) = (terms.min_bill, bill)
        && bill < least
    {
        return Some(format!("coupon {code} needs a bill of at least {least}"));
    }
    match (&terms.value, &discount.kind) {
        (
            CouponValue::Amount { amount: worth },
            DiscountKind::CouponZeroVat { amount, .. } | DiscountKind::AmountOffItem { amount, .. },
        ) => (amount > worth).then(|| format!("coupon {code} is worth {worth}, not {amount}")),
        (
            CouponValue::Percentage { percentage: worth },
            DiscountKind::PercentageOnBill { percentage }
            | DiscountKind::PercentageOnItem { percentage, .. },
        ) => (percentage > worth)
            .then(|| format!("coupon {code} is worth {worth}%, not {percentage}%")),
        (CouponValue::Amount { amount }, _) => Some(format!(
            "coupon {code} is an amount ({amount}): redeem it as a coupon or an amount off a product"
        )),
        (CouponValue::Percentage { percentage }, _) => Some(format!(
            "coupon {code} is a percentage ({percentage}%): redeem it as a percentage discount"
        )),
    }
}

/// `discount` cut to cost at most `points` (> 0), its value scaled down with its cost:
/// `None` when nothing is left of it.
fn cut(discount: &DiscountRequest, points: i128, places: u32) -> Option<DiscountRequest> {
    let cost = Decimal::from(discount.points);
    let points = Decimal::from(u64::try_from(points).ok().filter(|p| *p > 0)?);
    if cost <= Decimal::ZERO {
        return None;
    }
    let share = |value: Decimal, places: u32| -> Option<Decimal> {
        let cut = value.checked_mul(points)?.checked_div(cost)?;
        let cut = cut.round_dp_with_strategy(places, rust_decimal::RoundingStrategy::ToZero);
        (cut > Decimal::ZERO).then_some(cut)
    };
    let mut smaller = discount.clone();
    let (value, new_value) = match &mut smaller.kind {
        DiscountKind::CouponZeroVat { amount, .. } | DiscountKind::AmountOffItem { amount, .. } => {
            let value = *amount;
            *amount = share(value, places)?;
            (value, *amount)
        }
        DiscountKind::PercentageOnBill { percentage }
        | DiscountKind::PercentageOnItem { percentage, .. } => {
            let value = *percentage;
            *percentage = share(value, 4)?;
            (value, *percentage)
        }
    };
    // The cost of what is left, rounded up: never more per unit than the policy asked.
    let new_cost = new_value
        .checked_mul(cost)?
        .checked_div(value)?
        .round_dp_with_strategy(0, rust_decimal::RoundingStrategy::AwayFromZero);
    smaller.points = u64::try_from(new_cost.mantissa())
        .ok()?
        .min(discount.points);
    let points = u64::try_from(points.mantissa()).ok()?;
    smaller.points = smaller.points.min(points);
    Some(smaller)
}

/// The offer a till got: each line of `response` with the discount it came from
/// (`sources[i]` indexes `discounts`, as `money::discount_response_traced` gives them),
/// and the points held: the sum of the costs of the discounts that made a line.
pub fn offer(
    discounts: &[DiscountRequest],
    response: &DiscountResponse,
    sources: &[usize],
    offered_at: i64,
) -> Offer {
    let mut held_points: u64 = 0;
    let lines = response
        .discounts
        .iter()
        .zip(sources)
        .filter_map(|(line, source)| {
            let request = discounts.get(*source)?;
            held_points = held_points.saturating_add(request.points);
            let (kind, product_id, code) = match &request.kind {
                DiscountKind::PercentageOnBill { .. } => ("percentage_on_bill", None, None),
                DiscountKind::PercentageOnItem { product_id, .. } => {
                    ("percentage_on_item", Some(product_id.clone()), None)
                }
                DiscountKind::CouponZeroVat { code, .. } => {
                    ("coupon_zero_vat", None, Some(code.clone()))
                }
                DiscountKind::AmountOffItem { product_id, .. } => {
                    ("amount_off_item", Some(product_id.clone()), None)
                }
            };
            Some(OfferedDiscount {
                kind: kind.to_owned(),
                product_id,
                // A discount that redeems a rabat coupon carries that coupon's code.
                code: request.coupon.clone().or(code),
                description: line.description().to_owned(),
                amount: line.amount(),
                points: request.points,
            })
        })
        .collect();
    Offer {
        discounts: lines,
        total_discount: response.total_discount,
        held_points,
        offered_at,
    }
}

/// The offer read back from an endpoint-1 answer as the evaluation log keeps it (Papaya's
/// shape), for an order that holds no points: nothing in it cost points. An amount off a
/// product reads back as `percentage_on_item`, the type Papaya was sent. `None` when the
/// stored answer does not have the answer's shape.
pub fn offer_from_answer(answer: &Value, offered_at: i64) -> Option<Offer> {
    let amount = |value: &Value| match value {
        Value::Number(n) => crate::money::json::from_number(n),
        Value::String(s) => Decimal::from_str(s).ok(),
        _ => None,
    };
    let text = |line: &Value, key: &str| line.get(key).and_then(Value::as_str).map(str::to_owned);
    let discounts = answer
        .get("discounts")?
        .as_array()?
        .iter()
        .map(|line| {
            Some(OfferedDiscount {
                kind: text(line, "type")?,
                product_id: text(line, "productId"),
                code: text(line, "couponCode"),
                description: text(line, "description").unwrap_or_default(),
                amount: amount(line.get("amount")?)?,
                points: 0,
            })
        })
        .collect::<Option<Vec<_>>>()?;
    Some(Offer {
        discounts,
        total_discount: amount(answer.get("totalDiscount")?)?,
        held_points: 0,
        offered_at,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Evaluation, Order, OrderItem, Pos};
    use crate::money::discount_response_traced;

    fn dec(text: &str) -> Decimal {
        Decimal::from_str(text).unwrap_or_default()
    }

    fn coupon(amount: &str, points: u64) -> DiscountRequest {
        DiscountRequest {
            kind: DiscountKind::CouponZeroVat {
                amount: dec(amount),
                code: "POINTS".into(),
            },
            description: String::new(),
            points,
            coupon: None,
            divisible: false,
        }
    }

    fn bill_percent(percentage: &str) -> DiscountRequest {
        DiscountRequest {
            kind: DiscountKind::PercentageOnBill {
                percentage: dec(percentage),
            },
            description: String::new(),
            points: 0,
            coupon: None,
            divisible: false,
        }
    }

    fn order(total: &str) -> Order {
        Order {
            order_id: "o-1".into(),
            pos: Pos::Papaya,
            status: "OPEN".into(),
            total: dec(total),
            total_without_vat: None,
            vat: None,
            currency: "EUR".into(),
            created: None,
            updated: None,
            branch_id: None,
            note: None,
            items: vec![OrderItem {
                id: "i-1".into(),
                product_id: "p-1".into(),
                name: "Bread".into(),
                description: None,
                quantity: Decimal::ONE,
                unit_price: dec(total),
                total_price: dec(total),
                vat: None,
                vat_rate: None,
                category_id: None,
                category_name: None,
                ean: None,
                note: None,
            }],
            attributes: Vec::new(),
        }
    }

    #[test]
    fn free_discounts_always_pass_and_cost_nothing() {
        let asked = [bill_percent("10"), bill_percent("5")];
        assert!(!costs_points(&asked));
        let afforded = afford(&asked, -50);
        assert_eq!(afforded.kept, asked);
        assert_eq!(afforded.kept_from, [0, 1]);
        assert!(afforded.dropped.is_empty());
    }

    #[test]
    fn a_discount_passes_only_while_the_running_sum_is_covered() {
        let asked = [
            coupon("2", 200),
            bill_percent("10"),
            coupon("5", 500),
            coupon("1", 100),
        ];
        assert!(costs_points(&asked));
        let afforded = afford(&asked, 300);
        // 200 passes (100 left), the free one passes, 500 does not, 100 still does.
        assert_eq!(afforded.kept_from, [0, 1, 3]);
        assert_eq!(
            afforded.dropped,
            ["discounts[2] dropped: costs 500 points, card has 100 available"]
        );
    }

    #[test]
    fn exactly_the_available_points_pass_and_one_more_does_not() {
        assert_eq!(afford(&[coupon("3", 300)], 300).kept.len(), 1);
        let afforded = afford(&[coupon("3", 301)], 300);
        assert!(afforded.kept.is_empty());
        assert_eq!(
            afforded.dropped,
            ["discounts[0] dropped: costs 301 points, card has 300 available"]
        );
    }

    #[test]
    fn a_card_in_debt_or_a_huge_cost_affords_nothing() {
        let afforded = afford(&[coupon("1", 1)], -10);
        assert_eq!(
            afforded.dropped,
            ["discounts[0] dropped: costs 1 points, card has 0 available"]
        );
        let afforded = afford(&[coupon("1", u64::MAX)], i64::MAX);
        assert!(afforded.kept.is_empty());
    }

    fn with_coupon(mut discount: DiscountRequest, code: &str) -> DiscountRequest {
        discount.coupon = Some(code.into());
        discount
    }

    fn five_off(code: &str) -> Option<Result<CouponTerms, String>> {
        match code {
            "GOOD" | "OTHER" => Some(Ok(CouponTerms {
                batch: "welcome".into(),
                value: CouponValue::Amount { amount: dec("5") },
                min_bill: Some(dec("20")),
            })),
            "USED" => Some(Err("coupon USED is already redeemed".into())),
            _ => None,
        }
    }

    #[test]
    fn coupons_pass_only_usable_within_their_terms_and_once() {
        let asked = [
            with_coupon(coupon("5", 0), "GOOD"),
            with_coupon(coupon("5", 0), "GOOD"),
            with_coupon(coupon("5", 0), "USED"),
            with_coupon(coupon("6", 0), "OTHER"),
            with_coupon(bill_percent("10"), "OTHER"),
            with_coupon(coupon("1", 0), "NOPE"),
        ];
        assert!(costs_points(&asked[..1]));
        let settled = settle(&asked, 0, Some(dec("30")), 2, &five_off);
        assert_eq!(settled.kept_from, [0]);
        assert_eq!(
            settled.dropped,
            [
                "discounts[1] dropped: coupon GOOD is already in this answer",
                "discounts[2] dropped: coupon USED is already redeemed",
                "discounts[3] dropped: coupon OTHER is worth 5, not 6",
                "discounts[4] dropped: coupon OTHER is an amount (5): redeem it as a coupon or an amount off a product",
                "discounts[5] dropped: coupon NOPE was not checked",
            ]
        );
        assert_eq!(
            settled.cashier.as_deref(),
            Some("coupon GOOD is already in this answer")
        );
        // Below the least bill.
        let settled = settle(&asked[..1], 0, Some(dec("19.99")), 2, &five_off);
        assert_eq!(
            settled.dropped,
            ["discounts[0] dropped: coupon GOOD needs a bill of at least 20"]
        );
    }

    #[test]
    fn a_divisible_discount_is_cut_to_the_points_available() {
        let mut pay = coupon("5.00", 500);
        pay.divisible = true;
        let settled = settle(std::slice::from_ref(&pay), 333, None, 2, &|_| None);
        assert_eq!(settled.kept.len(), 1);
        // 5.00 × 333 / 500 = 3.33 exactly; it costs 333 points.
        assert_eq!(
            settled.kept[0].kind,
            DiscountKind::CouponZeroVat {
                amount: dec("3.33"),
                code: "POINTS".into()
            }
        );
        assert_eq!(settled.kept[0].points, 333);
        assert_eq!(settled.cashier, None);
        // 5.00 × 100 / 300 = 1.666…: 1.66 off, costing ceil(1.66 × 300 / 5) = 100 points.
        let mut pay = coupon("5.00", 300);
        pay.divisible = true;
        let settled = settle(std::slice::from_ref(&pay), 100, None, 2, &|_| None);
        assert_eq!(
            settled.kept[0].kind,
            DiscountKind::CouponZeroVat {
                amount: dec("1.66"),
                code: "POINTS".into()
            }
        );
        assert_eq!(settled.kept[0].points, 100);
        // Nothing available: dropped, and the cashier is told.
        let settled = settle(std::slice::from_ref(&pay), 0, None, 2, &|_| None);
        assert!(settled.kept.is_empty());
        assert_eq!(
            settled.cashier.as_deref(),
            Some("not enough points (0 available)")
        );
        // Not divisible: dropped whole, as before.
        pay.divisible = false;
        assert!(settle(&[pay], 100, None, 2, &|_| None).kept.is_empty());
    }

    #[test]
    fn the_offer_holds_only_what_made_a_line() {
        // The bill is 4.00: the first coupon takes it all, so the second comes to zero,
        // is not on the answer and holds nothing.
        let kept = vec![coupon("4", 400), coupon("1", 100), bill_percent("10")];
        let evaluation = Evaluation {
            discounts: kept.clone(),
            message: None,
        };
        let (response, sources) =
            discount_response_traced(&order("4.00"), &evaluation).unwrap_or_else(|e| panic!("{e}"));
        let offer = offer(&kept, &response, &sources, 7);
        assert_eq!(offer.held_points, 400);
        assert_eq!(offer.total_discount, dec("4.00"));
        assert_eq!(offer.offered_at, 7);
        // The bill percentage applies first (0.40), the first coupon takes the rest.
        let kinds: Vec<_> = offer
            .discounts
            .iter()
            .map(|d| (d.kind.as_str(), d.amount, d.points))
            .collect();
        assert_eq!(
            kinds,
            [
                ("percentage_on_bill", dec("0.40"), 0),
                ("coupon_zero_vat", dec("3.60"), 400)
            ]
        );
        assert_eq!(offer.discounts[1].code.as_deref(), Some("POINTS"));
    }

    #[test]
    fn an_offer_reads_back_from_a_logged_answer() {
        let evaluation = Evaluation {
            discounts: vec![bill_percent("10"), coupon("2", 0)],
            message: None,
        };
        let (response, _) = discount_response_traced(&order("10.00"), &evaluation)
            .unwrap_or_else(|e| panic!("{e}"));
        let stored = serde_json::to_value(&response).unwrap_or_default();
        let offer = offer_from_answer(&stored, 9).unwrap_or_default();
        assert_eq!(offer.total_discount, dec("3.00"));
        assert_eq!(offer.held_points, 0);
        assert_eq!(offer.discounts.len(), 2);
        assert_eq!(offer.discounts[1].code.as_deref(), Some("POINTS"));
        assert_eq!(offer.discounts[1].amount, dec("2.00"));
        assert_eq!(offer_from_answer(&Value::Null, 9), None);
    }
}
