//! Returns (issue 19): what a returned bill, whole or in part, takes back. Pure arithmetic;
//! the store applies it under the card's lock.
//!
//! **The rounding rule.** Points follow the returned *value*, pro rata and cumulatively:
//! after returns worth `V` of a bill of total `T` that earned `E` points, exactly
//! `floor(E × V / T)` points have been taken back, whatever the number of returns they
//! came in (each return takes the difference from what the returns before it took). A
//! whole return takes back exactly `E`. The points the bill burned (paid with) are given
//! back the same way. Rounding down takes back never more than the share returned.

use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;

/// `floor(points × value / total)`, for `0 ≤ value ≤ total`, `total > 0`, `points ≥ 0`;
/// 0 otherwise.
pub fn share(points: i64, value: Decimal, total: Decimal) -> i64 {
    if points <= 0 || total <= Decimal::ZERO || value <= Decimal::ZERO {
        return 0;
    }
    if value >= total {
        return points;
    }
    Decimal::from(points)
        .checked_mul(value)
        .and_then(|p| p.checked_div(total))
        .map(|p| p.floor())
        .and_then(|p| p.to_i64())
        .unwrap_or(0)
        .clamp(0, points)
}

/// What one return moves, given what the returns before it (`before`, a value) and this
/// one (`now`) returned: `share(points, before + now) − share(points, before)`.
pub fn this_return(points: i64, before: Decimal, now: Decimal, total: Decimal) -> i64 {
    let after = before.checked_add(now).unwrap_or(total);
    share(points, after, total) - share(points, before, total)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(text: &str) -> Decimal {
        text.parse().unwrap_or_default()
    }

    #[test]
    fn returns_take_back_the_cumulative_floor_exactly() {
        // 100 points on a 30.00 bill, returned in three parts of 10.00: 33, 33, 34.
        let parts = [
            this_return(100, d("0"), d("10"), d("30")),
            this_return(100, d("10"), d("10"), d("30")),
            this_return(100, d("20"), d("10"), d("30")),
        ];
        assert_eq!(parts, [33, 33, 34]);
        assert_eq!(parts.iter().sum::<i64>(), 100);
        assert_eq!(this_return(100, d("0"), d("30"), d("30")), 100);
        assert_eq!(this_return(7, d("0"), d("0.01"), d("30")), 0);
        assert_eq!(share(-5, d("1"), d("2")), 0);
        assert_eq!(share(5, d("1"), d("0")), 0);
    }
}
