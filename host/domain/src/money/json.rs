//! Decimals to and from JSON numbers, exactly: with serde_json's `arbitrary_precision` a
//! `Number` is its text, so `5.00` stays `5.00` and no amount ever passes through `f64`.

use std::str::FromStr;

use rust_decimal::Decimal;
use serde::{Serialize, Serializer, ser::Error as _};
use serde_json::Number;

/// The JSON number for `value`, written as the decimal is (`5.00`, `12.5`, `-3`).
pub fn to_number(value: &Decimal) -> Result<Number, serde_json::Error> {
    Number::from_str(&value.to_string())
}

/// The decimal a JSON number stands for, or `None` when it cannot be held exactly
/// (more than 28 significant digits, or beyond ±7.9 × 10²⁸). Exponents (`1e3`) are
/// understood; `-0` becomes plain `0`. The scale is kept: `5.00` has two places.
pub fn from_number(number: &Number) -> Option<Decimal> {
    let text = number.as_str();
    let parsed = if text.contains(['e', 'E']) {
        Decimal::from_scientific(text)
    } else {
        Decimal::from_str_exact(text)
    };
    let mut value = parsed.ok()?;
    if value.is_zero() {
        value.set_sign_positive(true);
    }
    Some(value)
}

/// The decimal a JSON number from a POS stands for, to the 28 decimal places a `Decimal`
/// holds: exactly when it can be held ([`from_number`]), else rounded there (`5e-324` is
/// 0, `0.12345678901234567890123456789` ends in …679). `None` only beyond a `Decimal`'s
/// range. A JSON Schema `number` cannot say "at most 28 places", so rabat does not refuse
/// a bill for digits far below any currency's minor unit (the OpenAPI document's promise).
pub fn from_number_rounded(number: &Number) -> Option<Decimal> {
    if let Some(value) = from_number(number) {
        return Some(value);
    }
    let text = number.as_str();
    let (mantissa, exponent) = match text.split_once(['e', 'E']) {
        Some((mantissa, exponent)) => (mantissa, exponent.parse::<i64>().ok()?),
        None => (text, 0),
    };
    let (negative, mantissa) = match mantissa.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, mantissa),
    };
    let (whole, fraction) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let digits = format!("{whole}{fraction}");
    let significant = digits.trim_start_matches('0');
    if significant.is_empty() {
        return Some(Decimal::ZERO);
    }
    // value = digits × 10^(exponent − fraction.len()); the point sits `point` digits into
    // `digits` (negative: that many zeros before them).
    let point = i64::try_from(whole.len()).ok()?.checked_add(exponent)?;
    let places = Decimal::MAX_SCALE as i64 + 2;
    let plain = if point <= 0 {
        if -point > places {
            // Below 10⁻³⁰: zero at 28 places.
            return Some(Decimal::ZERO);
        }
        format!("0.{}{digits}", "0".repeat(usize::try_from(-point).ok()?))
    } else {
        let point = usize::try_from(point).ok()?;
        if point > digits.len() {
            // A whole number longer than a Decimal: from_number already said no.
            return None;
        }
        format!("{}.{}", &digits[..point], &digits[point..])
    };
    let mut value = Decimal::from_str(&plain).ok()?;
    if value.is_zero() {
        // Nothing left at 28 places: plain 0, neither -0 nor 0.000…0.
        return Some(Decimal::ZERO);
    }
    value.set_sign_negative(negative);
    Some(value)
}

/// Serializes a decimal as a JSON number (rather than rust_decimal's default string).
pub struct AsNumber<'a>(pub &'a Decimal);

impl Serialize for AsNumber<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        to_number(self.0)
            .map_err(S::Error::custom)?
            .serialize(serializer)
    }
}

/// `json` without the whitespace between tokens (strings kept as they are): lets tests
/// compare bodies with the seed's pretty-printed examples, key order included.
#[cfg(test)]
pub(crate) fn compact(json: &str) -> String {
    let mut out = String::with_capacity(json.len());
    let (mut in_string, mut escaped) = (false, false);
    for c in json.chars() {
        if in_string {
            out.push(c);
            match c {
                _ if escaped => escaped = false,
                '\\' => escaped = true,
                '"' => in_string = false,
                _ => {}
            }
        } else if !c.is_whitespace() {
            in_string = c == '"';
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn number(text: &str) -> Number {
        Number::from_str(text).unwrap()
    }

    #[test]
    fn numbers_keep_their_text_both_ways() {
        for text in [
            "5.00",
            "0.00",
            "12.5",
            "10",
            "-3.10",
            "123456789012345678.90",
        ] {
            let value = from_number(&number(text)).unwrap();
            assert_eq!(value.to_string(), text);
            assert_eq!(to_number(&value).unwrap().as_str(), text);
            assert_eq!(serde_json::to_string(&AsNumber(&value)).unwrap(), text);
        }
    }

    #[test]
    fn compact_keeps_strings_intact() {
        assert_eq!(
            compact(r#"{ "a b": "c \" d" , "e" : [1, 2] }"#),
            r#"{"a b":"c \" d","e":[1,2]}"#
        );
    }

    #[test]
    fn exponents_are_exact() {
        assert_eq!(from_number(&number("1e3")).unwrap().to_string(), "1000");
        assert_eq!(from_number(&number("2.5E-1")).unwrap().to_string(), "0.25");
    }

    #[test]
    fn negative_zero_is_zero() {
        let zero = from_number(&number("-0.00")).unwrap();
        assert!(zero.is_sign_positive());
        assert_eq!(zero.to_string(), "0.00");
    }

    #[test]
    fn pos_numbers_round_at_28_places_and_refuse_only_beyond_range() {
        let rounded = |text: &str| from_number_rounded(&number(text)).map(|d| d.to_string());
        assert_eq!(rounded("5.00").as_deref(), Some("5.00"));
        assert_eq!(rounded("5e-324").as_deref(), Some("0"));
        assert_eq!(rounded("-2.2250738585072014e-308").as_deref(), Some("0"));
        assert_eq!(
            rounded("3.785649724300453e-22").as_deref(),
            Some("0.0000000000000000000003785650")
        );
        assert_eq!(
            rounded("0.12345678901234567890123456789").as_deref(),
            Some("0.1234567890123456789012345679")
        );
        assert_eq!(rounded("-1.5e-30").as_deref(), Some("0"));
        assert_eq!(rounded("1e400"), None);
        assert_eq!(rounded("100000000000000000000000000000"), None);
    }

    #[test]
    fn what_a_decimal_cannot_hold_is_refused_not_rounded() {
        assert_eq!(from_number(&number("1e400")), None);
        assert_eq!(from_number(&number("100000000000000000000000000000")), None);
        assert_eq!(
            from_number(&number("0.12345678901234567890123456789")),
            None
        );
    }
}
