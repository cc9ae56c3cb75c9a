//! Currencies' minor units (ISO 4217) and the two roundings money needs: to the nearest
//! minor unit for amounts, and down to it for caps.

use rust_decimal::{Decimal, RoundingStrategy};

/// Minor units used when a currency is not in [`EXCEPTIONS`]: most currencies (EUR, USD,
/// CZK, …) have cents, and an unknown code is far likelier to be one of them than not.
pub const DEFAULT_MINOR_UNITS: u32 = 2;

/// The ISO 4217 currencies whose minor unit is not 2 decimal places.
const EXCEPTIONS: &[(&str, u32)] = &[
    ("BHD", 3),
    ("BIF", 0),
    ("CLF", 4),
    ("CLP", 0),
    ("DJF", 0),
    ("GNF", 0),
    ("IQD", 3),
    ("ISK", 0),
    ("JOD", 3),
    ("JPY", 0),
    ("KMF", 0),
    ("KRW", 0),
    ("KWD", 3),
    ("LYD", 3),
    ("OMR", 3),
    ("PYG", 0),
    ("RWF", 0),
    ("TND", 3),
    ("UGX", 0),
    ("UYI", 0),
    ("UYW", 4),
    ("VND", 0),
    ("VUV", 0),
    ("XAF", 0),
    ("XOF", 0),
    ("XPF", 0),
];

/// Decimal places of `currency`'s minor unit (`EUR` 2, `JPY` 0, `KWD` 3); the code is
/// matched case-insensitively, and an unknown or empty code counts as 2.
pub fn minor_units(currency: &str) -> u32 {
    let code = currency.trim();
    EXCEPTIONS
        .iter()
        .find(|(c, _)| c.eq_ignore_ascii_case(code))
        .map_or(DEFAULT_MINOR_UNITS, |&(_, units)| units)
}

/// `amount` to the nearest minor unit, half away from zero, written with exactly `units`
/// decimal places (`5` → `5.00`), as answers must be.
pub fn round(amount: Decimal, units: u32) -> Decimal {
    with_scale(
        amount.round_dp_with_strategy(units, RoundingStrategy::MidpointAwayFromZero),
        units,
    )
}

/// `amount` cut toward zero to whole minor units: the most that may be taken from
/// something worth `amount` (3.335 → 3.33, never 3.34).
pub fn truncate(amount: Decimal, units: u32) -> Decimal {
    with_scale(
        amount.round_dp_with_strategy(units, RoundingStrategy::ToZero),
        units,
    )
}

/// Zero with the minor unit's scale (`0.00` for EUR).
pub fn zero(units: u32) -> Decimal {
    with_scale(Decimal::ZERO, units)
}

fn with_scale(mut amount: Decimal, units: u32) -> Decimal {
    // Padding zeros (5 → 5.00) never loses value; rounding already removed extra places.
    amount.rescale(units);
    if amount.is_zero() {
        // -0.004 rounds to "-0.00"; a discount is never negative, not even as text.
        amount.set_sign_positive(true);
    }
    amount
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(text: &str) -> Decimal {
        text.parse().unwrap_or_else(|e| panic!("{text}: {e}"))
    }

    #[test]
    fn minor_units_follow_iso_4217() {
        assert_eq!(minor_units("EUR"), 2);
        assert_eq!(minor_units("eur"), 2);
        assert_eq!(minor_units("JPY"), 0);
        assert_eq!(minor_units("jpy"), 0);
        assert_eq!(minor_units("KWD"), 3);
        assert_eq!(minor_units("CLF"), 4);
        assert_eq!(minor_units("CZK"), 2);
        assert_eq!(minor_units("XXX"), 2);
        assert_eq!(minor_units(""), 2);
    }

    #[test]
    fn round_is_half_away_from_zero_with_exact_scale() {
        assert_eq!(round(d("5"), 2).to_string(), "5.00");
        assert_eq!(round(d("0.005"), 2).to_string(), "0.01");
        assert_eq!(round(d("0.0049"), 2).to_string(), "0.00");
        assert_eq!(round(d("2.675"), 2).to_string(), "2.68");
        assert_eq!(round(d("-2.675"), 2).to_string(), "-2.68");
        assert_eq!(round(d("-0.004"), 2).to_string(), "0.00");
        assert_eq!(round(d("12.5"), 0).to_string(), "13");
        assert_eq!(round(d("1.2345"), 3).to_string(), "1.235");
    }

    #[test]
    fn truncate_never_rounds_up() {
        assert_eq!(truncate(d("3.335"), 2).to_string(), "3.33");
        assert_eq!(truncate(d("3.339999"), 2).to_string(), "3.33");
        assert_eq!(truncate(d("7"), 2).to_string(), "7.00");
        assert_eq!(truncate(d("99.9"), 0).to_string(), "99");
    }

    #[test]
    fn zero_has_the_minor_scale() {
        assert_eq!(zero(2).to_string(), "0.00");
        assert_eq!(zero(0).to_string(), "0");
    }
}
