//! Exact numbers for a policy's config: [`Percentage`] and [`Amount`].
//!
//! They read a JSON number (or a numeric string) exactly and check its range, so a bad
//! config is reported with its place (`tiers.gold: 150 is not a percentage in (0, 100]`).
//! `rust_decimal::Decimal` deserializes too, but its parser adds about 18 kB to a policy
//! module; these add well under 1 kB.

use core::fmt;

use rust_decimal::Decimal;
use serde::de::{self, Deserialize, Deserializer, Visitor};

/// A percentage in (0, 100], as a discount asks for it.
///
/// ```
/// # use rabat_rules::{json, Percentage, Decimal};
/// let p: Percentage = json::from_str("12.5")?;
/// assert_eq!(Decimal::from(p), Decimal::new(125, 1));
/// assert_eq!(json::from_str::<Percentage>("150").err().map(|e| e.to_string()),
///            Some("150 is not a percentage in (0, 100] (line 1, column 4)".to_string()));
/// # Ok::<(), json::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Percentage(Decimal);

/// A sum of money, 0 or more, in the bill's currency (e.g. a coupon's value).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Amount(Decimal);

impl Percentage {
    /// `value` if it is in (0, 100].
    pub fn new(value: Decimal) -> Option<Percentage> {
        (value > Decimal::ZERO && value <= Decimal::ONE_HUNDRED).then_some(Percentage(value))
    }

    /// The percentage as a decimal (12.5 for 12.5 %).
    pub fn get(self) -> Decimal {
        self.0
    }
}

impl Amount {
    /// `value` if it is 0 or more.
    pub fn new(value: Decimal) -> Option<Amount> {
        (value >= Decimal::ZERO).then_some(Amount(value))
    }

    /// The amount as a decimal.
    pub fn get(self) -> Decimal {
        self.0
    }
}

impl From<Percentage> for Decimal {
    fn from(p: Percentage) -> Decimal {
        p.0
    }
}

impl From<Amount> for Decimal {
    fn from(a: Amount) -> Decimal {
        a.0
    }
}

impl fmt::Display for Percentage {
    /// As written in the config: `12.5`, `10`, `7.50`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_decimal(self.0, f)
    }
}

impl fmt::Display for Amount {
    /// As written in the config: `5.00`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_decimal(self.0, f)
    }
}

impl<'de> Deserialize<'de> for Percentage {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Percentage, D::Error> {
        let value = deserializer.deserialize_any(ExactDecimal)?;
        Percentage::new(value).ok_or_else(|| {
            de::Error::custom(format_args!(
                "{} is not a percentage in (0, 100]",
                Amount(value)
            ))
        })
    }
}

impl<'de> Deserialize<'de> for Amount {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Amount, D::Error> {
        let value = deserializer.deserialize_any(ExactDecimal)?;
        Amount::new(value).ok_or_else(|| {
            let shown = Amount(value);
            de::Error::custom(format_args!(
                "{shown} is not an amount (it must be 0 or more)"
            ))
        })
    }
}

/// Reads a number exactly: integers as they are, anything else from its text.
struct ExactDecimal;

impl Visitor<'_> for ExactDecimal {
    type Value = Decimal;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a decimal number")
    }

    fn visit_u64<E: de::Error>(self, value: u64) -> Result<Decimal, E> {
        Ok(Decimal::from(value))
    }

    fn visit_i64<E: de::Error>(self, value: i64) -> Result<Decimal, E> {
        Ok(Decimal::from(value))
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<Decimal, E> {
        parse_decimal(text).ok_or_else(|| E::invalid_value(de::Unexpected::Str(text), &self))
    }
}

/// Parses `[-+]digits[.digits][(e|E)[-+]digits]` exactly, with up to 18 significant
/// digits (what the host's decimals carry); `None` if it is not such a number.
///
/// A small parser on purpose: `Decimal::from_str` and `from_scientific` are several kB of
/// code each in a policy module, and 128-bit arithmetic pulls in more.
pub(crate) fn parse_decimal(text: &str) -> Option<Decimal> {
    let mut bytes = text.as_bytes();
    let negative = bytes.first() == Some(&b'-');
    if let [b'-' | b'+', rest @ ..] = bytes {
        bytes = rest;
    }
    let mut mantissa: i64 = 0;
    let (mut scale, mut count, mut point) = (0i32, 0, false);
    let mut exponent: Option<(bool, i32)> = None;
    for (i, &b) in bytes.iter().enumerate() {
        match (b, &mut exponent) {
            (b'0'..=b'9', None) => {
                mantissa = mantissa.checked_mul(10)?.checked_add(i64::from(b - b'0'))?;
                count += 1;
                scale += i32::from(point);
            }
            (b'.', None) if !point => point = true,
            (b'e' | b'E', None) if count > 0 => exponent = Some((false, 0)),
            (b'-' | b'+', Some((negative, 0))) if matches!(bytes[i - 1], b'e' | b'E') => {
                *negative = b == b'-';
            }
            (b'0'..=b'9', Some((_, e))) => {
                *e = e.checked_mul(10)?.checked_add(i32::from(b - b'0'))?
            }
            _ => return None,
        }
    }
    if count == 0 || matches!(bytes.last(), Some(b'e' | b'E' | b'+' | b'-')) {
        return None;
    }
    let exponent = exponent.map_or(0, |(negative, e)| if negative { -e } else { e });
    scale = scale.checked_sub(exponent)?;
    while scale < 0 {
        mantissa = mantissa.checked_mul(10)?;
        scale += 1;
    }
    if mantissa == 0 {
        scale = scale.min(28);
    }
    // Trailing zeros past the 28 places a Decimal holds carry no value.
    while scale > 28 && mantissa % 10 == 0 {
        mantissa /= 10;
        scale -= 1;
    }
    if negative {
        mantissa = -mantissa;
    }
    Decimal::try_new(mantissa, u32::try_from(scale).ok()?).ok()
}

/// Writes a decimal as `Decimal`'s `Display` does, in much less code (that `Display`
/// costs about 3 kB of a policy module). A value with more than 18 significant digits,
/// which no config value has, shows its first 18.
fn write_decimal(value: Decimal, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    let mut mantissa = value.mantissa().unsigned_abs();
    let mut scale = value.scale() as usize;
    // Whole-number digits dropped to fit 64 bits, written back as zeros.
    let mut zeros = 0;
    while mantissa >= 1 << 63 {
        mantissa /= 10;
        match scale.checked_sub(1) {
            Some(s) => scale = s,
            None => zeros += 1,
        }
    }
    // Below 2^63: the cast cannot truncate, and 64-bit division is native.
    let mut rest = mantissa as u64;
    // Up to 19 digits, a point, 28 leading zeros, 10 trailing ones.
    let mut buf = [b'0'; 60];
    let mut at = buf.len() - zeros;
    let mut written = 0;
    while rest > 0 || written <= scale {
        if written == scale && scale > 0 {
            at -= 1;
            buf[at] = b'.';
        }
        at -= 1;
        buf[at] = b'0' + (rest % 10) as u8;
        rest /= 10;
        written += 1;
    }
    let digits = core::str::from_utf8(buf.get(at..).unwrap_or_default()).unwrap_or_default();
    f.pad_integral(!value.is_sign_negative(), "", digits)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json;

    #[test]
    fn parses_exactly() {
        let p = |s| parse_decimal(s).map(|d| d.to_string());
        assert_eq!(p("12.50").as_deref(), Some("12.50"));
        assert_eq!(p("-0.1").as_deref(), Some("-0.1"));
        assert_eq!(p("+7").as_deref(), Some("7"));
        assert_eq!(p("1e2").as_deref(), Some("100"));
        assert_eq!(p("1.5E-3").as_deref(), Some("0.0015"));
        assert_eq!(
            p("0e-100").as_deref(),
            Some("0.0000000000000000000000000000")
        );
        assert_eq!(
            p("922337203685477580.7").as_deref(),
            Some("922337203685477580.7")
        );
        for bad in [
            "",
            "-",
            ".",
            "1..2",
            "1e",
            "e5",
            "1e99",
            "9223372036854775808",
            "1x",
            "1e+",
            "1e-",
            "1e5e",
            "1.e",
            "--1",
            "0x10",
            "1e-40",
        ] {
            assert_eq!(p(bad), None, "{bad}");
        }
    }

    #[test]
    fn displays_as_written() {
        for text in [
            "12.5",
            "10",
            "7.50",
            "0.05",
            "100",
            "0.0000000000000000000000000001",
        ] {
            let p = parse_decimal(text)
                .and_then(Percentage::new)
                .map(|p| p.to_string());
            assert_eq!(p.as_deref(), Some(text));
        }
        let big = |m, s| Amount::new(Decimal::from_i128_with_scale(m, s)).map(|a| a.to_string());
        let digits = 123_456_789_012_345_678_901_234;
        assert_eq!(big(digits, 4).as_deref(), Some("12345678901234567890"));
        assert_eq!(big(digits, 0).as_deref(), Some("123456789012345678900000"));
        assert_eq!(big(1, 0).as_deref(), Some("1"));
        assert_eq!(big(0, 2).as_deref(), Some("0.00"));
        assert_eq!(
            format!(
                "{:>6}",
                Amount::new(dec(5)).map_or(String::new(), |a| a.to_string())
            ),
            "     5"
        );
    }

    fn dec(n: i64) -> Decimal {
        Decimal::from(n)
    }

    #[test]
    fn config_values_are_checked_with_their_place() {
        #[derive(serde::Deserialize, Debug)]
        struct Config {
            #[allow(dead_code)]
            gold: Percentage,
            #[allow(dead_code)]
            coupon: Amount,
        }
        let ok: Config =
            json::from_str(r#"{"gold": 7.5, "coupon": "5.00"}"#).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(ok.gold.get(), Decimal::new(75, 1));
        assert_eq!(ok.coupon.to_string(), "5.00");
        let err = |t| {
            json::from_str::<Config>(t)
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default()
        };
        assert_eq!(
            err(r#"{"gold": 0, "coupon": 1}"#),
            "gold: 0 is not a percentage in (0, 100] (line 1, column 11)"
        );
        assert_eq!(
            err(r#"{"gold": 1, "coupon": -1}"#),
            "coupon: -1 is not an amount (it must be 0 or more) (line 1, column 25)"
        );
        assert_eq!(
            err(r#"{"gold": "ten", "coupon": 1}"#),
            "gold: invalid value: string \"ten\", expected a decimal number (line 1, column 15)"
        );
        assert_eq!(
            err(r#"{"gold": true, "coupon": 1}"#),
            "gold: invalid type: boolean `true`, expected a decimal number (line 1, column 14)"
        );
    }
}
