//! Coupons and the card's wallet (issue 18, contract `rabat:rules@0.3.0`): what a coupon is
//! worth, what a policy sees of a card beyond its balance (the points its other open orders
//! do not hold, its usable coupons, its profile), and the bounds on all of it.
//!
//! The host keeps coupons exactly (held for an order under the card's lock, redeemed once
//! by the bill that took them); a policy only offers them by code. What a code may be:
//! [`code_problem`]; how generated codes are made: [`CodePattern`].

use std::collections::BTreeMap;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

/// The longest coupon code, in characters.
pub const MAX_CODE_CHARS: usize = 64;
/// The longest coupon batch name, in characters.
pub const MAX_BATCH_NAME_CHARS: usize = 64;
/// The most codes one batch generates or imports at once.
pub const MAX_CODES_PER_BATCH: usize = 100_000;
/// The largest CSV import, in bytes.
pub const MAX_IMPORT_BYTES: usize = 4 * 1024 * 1024;
/// The most uses one code may have.
pub const MAX_USES_PER_CODE: i64 = 1_000_000;
/// The most coupons a card's wallet shows a policy (the soonest to expire first).
pub const MAX_WALLET_COUPONS: usize = 32;
/// The most coupons one completed bill may issue (`accrue`'s `issue-coupons`).
pub const MAX_ISSUED_PER_BILL: usize = 3;
/// The most custom attributes a card's profile holds.
pub const MAX_PROFILE_ATTRIBUTES: usize = 32;
/// The longest profile attribute key, in characters.
pub const MAX_ATTRIBUTE_KEY_CHARS: usize = 64;
/// The longest profile attribute value, in characters.
pub const MAX_ATTRIBUTE_VALUE_CHARS: usize = 256;

/// What a coupon is worth.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", tag = "kind")]
pub enum CouponValue {
    /// An amount in the merchant's currency.
    Amount {
        #[serde(with = "rust_decimal::serde::arbitrary_precision")]
        #[schema(value_type = f64)]
        amount: Decimal,
    },
    /// A percentage of the bill, in (0, 100].
    Percentage {
        #[serde(with = "rust_decimal::serde::arbitrary_precision")]
        #[schema(value_type = f64)]
        percentage: Decimal,
    },
}

impl CouponValue {
    /// What is wrong with the value, if anything.
    pub fn problem(&self) -> Option<String> {
        match self {
            CouponValue::Amount { amount } => (*amount <= Decimal::ZERO
                || !crate::limits::amount_in_range(*amount)
                || amount.scale() > 4)
                .then(|| {
                    "amount must be greater than 0, at most 10^12, with at most 4 decimal places"
                        .to_owned()
                }),
            CouponValue::Percentage { percentage } => (*percentage <= Decimal::ZERO
                || *percentage > Decimal::ONE_HUNDRED
                || percentage.scale() > 4)
                .then(|| {
                    "percentage must be in (0, 100], with at most 4 decimal places".to_owned()
                }),
        }
    }
}

/// What a coupon's batch says it is worth, checked when an answer redeems it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CouponTerms {
    /// The batch's name.
    pub batch: String,
    pub value: CouponValue,
    pub min_bill: Option<Decimal>,
}

/// One usable coupon of a card's wallet, as a policy sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WalletCoupon {
    pub code: String,
    /// The batch's name, e.g. `welcome`.
    pub batch: String,
    pub value: CouponValue,
    /// The least bill total the coupon applies to.
    #[serde(default, with = "rust_decimal::serde::arbitrary_precision_option")]
    pub min_bill: Option<Decimal>,
    /// Epoch ms, UTC; `None`: no end.
    #[serde(default)]
    pub valid_until: Option<i64>,
}

/// A customer's birthday: month and day, the year when known.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Birthday {
    /// 1–12.
    pub month: u8,
    /// 1–31, a day the month has (29 February allowed).
    pub day: u8,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub year: Option<u16>,
}

impl Birthday {
    /// What is wrong with it, if anything.
    pub fn problem(&self) -> Option<String> {
        let days = match self.month {
            1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
            4 | 6 | 9 | 11 => 30,
            2 => 29,
            _ => return Some(format!("month {} is not 1-12", self.month)),
        };
        if self.day == 0 || self.day > days {
            return Some(format!(
                "day {} is not a day of month {}",
                self.day, self.month
            ));
        }
        if let Some(year) = self.year
            && !(1900..=2100).contains(&year)
        {
            return Some(format!("year {year} is not within 1900-2100"));
        }
        // 29 February is kept whatever the year (a year without one counts 28 February).
        None
    }
}

/// A card's profile: what the merchant knows of the customer beyond the card.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Profile {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub birthday: Option<Birthday>,
    /// Custom attributes (at most 32; keys up to 64 characters, values up to 256).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub attributes: BTreeMap<String, String>,
}

impl Profile {
    /// What is wrong with the profile, naming the field, if anything.
    pub fn problem(&self) -> Option<String> {
        if let Some(problem) = self.birthday.as_ref().and_then(Birthday::problem) {
            return Some(format!("birthday: {problem}"));
        }
        if self.attributes.len() > MAX_PROFILE_ATTRIBUTES {
            return Some(format!(
                "attributes: at most {MAX_PROFILE_ATTRIBUTES} are allowed, got {}",
                self.attributes.len()
            ));
        }
        for (key, value) in &self.attributes {
            if let Some(problem) = crate::limits::card_label_problem(key, MAX_ATTRIBUTE_KEY_CHARS) {
                return Some(format!("attributes key '{key}' {problem}"));
            }
            if value.chars().count() > MAX_ATTRIBUTE_VALUE_CHARS {
                return Some(format!(
                    "attributes['{key}'] must be at most {MAX_ATTRIBUTE_VALUE_CHARS} characters"
                ));
            }
            if value.contains('\0') {
                return Some(format!("attributes['{key}'] must not contain NUL"));
            }
        }
        None
    }

    pub fn is_empty(&self) -> bool {
        self.birthday.is_none() && self.attributes.is_empty()
    }
}

/// What a contract-0.3 policy sees of a card beyond [`crate::model::Card`].
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CardExtras {
    /// The balance minus what the card's other open orders hold.
    pub available_points: i64,
    /// The usable coupons (available, valid now, at most [`MAX_WALLET_COUPONS`]).
    pub wallet: Vec<WalletCoupon>,
    pub profile: Profile,
    /// When the card's next points expire, and how many (none: nothing is due to expire).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_expiry: Option<crate::lots::NextExpiry>,
    /// Why a code the bill carries (`couponCode`) is not in `wallet`, for the evaluation
    /// log (never sent to the policy).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

/// The top-level field of a Papaya bill that carries a code the customer typed in: kept
/// with the bill's other extra fields (`Order::attributes`), and put into the card's wallet
/// for the policy when the card may use it.
pub const TYPED_CODE_ATTRIBUTE: &str = "couponCode";

/// What is wrong with `code` as a coupon code, if anything: 1 to [`MAX_CODE_CHARS`]
/// characters of ASCII letters, digits, `-` and `_`. Codes are compared as upper case.
pub fn code_problem(code: &str) -> Option<String> {
    if code.is_empty() {
        return Some("must not be empty".into());
    }
    if code.chars().count() > MAX_CODE_CHARS {
        return Some(format!("must be at most {MAX_CODE_CHARS} characters"));
    }
    if let Some(bad) = code
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || *c == '-' || *c == '_'))
    {
        return Some(format!(
            "may hold only letters A-Z, digits, '-' and '_', not {bad:?}"
        ));
    }
    None
}

/// A code as it is stored and compared: upper case (a customer typing `welcome-ab12`
/// means `WELCOME-AB12`).
pub fn normalize_code(code: &str) -> String {
    code.trim().to_ascii_uppercase()
}

/// The alphabet of generated codes: upper-case letters and digits without the look-alikes
/// 0/O, 1/I/L, 2/Z, 5/S, 8/B: 25 symbols, log2(25) ≈ 4.64 bits each.
pub const ALPHABET: &[u8] = b"ACDEFGHJKMNPQRTUVWXY34679";

/// A pattern of generated codes: `#` is one random symbol of [`ALPHABET`], anything else
/// (letters, digits, `-`, `_`) is kept, e.g. `WELCOME-####-####`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodePattern {
    pattern: String,
    randoms: usize,
}

/// The fewest random symbols a pattern must have: 25^10 ≈ 9.5 × 10^13 codes, 46 bits.
pub const MIN_RANDOM_SYMBOLS: usize = 10;

impl CodePattern {
    /// Parses a pattern, naming what is wrong.
    pub fn parse(pattern: &str) -> Result<Self, String> {
        let pattern = normalize_code(pattern);
        if let Some(problem) = code_problem(&pattern.replace('#', "A")) {
            return Err(format!("pattern {problem}"));
        }
        let randoms = pattern.chars().filter(|c| *c == '#').count();
        if randoms < MIN_RANDOM_SYMBOLS {
            return Err(format!(
                "pattern must have at least {MIN_RANDOM_SYMBOLS} '#' (random symbols), has {randoms}"
            ));
        }
        Ok(CodePattern { pattern, randoms })
    }

    /// Bits of entropy of one code: `#` count × log2(25).
    pub fn entropy_bits(&self) -> f64 {
        // Not money: a figure for the operator.
        self.randoms as f64 * (ALPHABET.len() as f64).log2()
    }

    /// The random symbols one code takes.
    pub fn randoms(&self) -> usize {
        self.randoms
    }

    /// A code from `random` (one byte per `#`, each drawn uniformly below [`ALPHABET`]'s
    /// length by the caller's CSPRNG: see [`uniform_symbol`]).
    pub fn fill(&self, mut symbol: impl FnMut() -> u8) -> String {
        self.pattern
            .chars()
            .map(|c| {
                if c == '#' {
                    char::from(ALPHABET[usize::from(symbol()) % ALPHABET.len()])
                } else {
                    c
                }
            })
            .collect()
    }
}

/// A symbol index below [`ALPHABET`]'s length from uniformly random bytes, by rejection
/// (no modulo bias): bytes of 250 and above are drawn again.
pub fn uniform_symbol(mut byte: impl FnMut() -> u8) -> u8 {
    let n = ALPHABET.len() as u8;
    let limit = 256 - (256 % u16::from(n)) as u8 as u16;
    loop {
        let b = byte();
        if u16::from(b) < limit {
            return b % n;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_checked_and_normalized() {
        assert_eq!(code_problem("WELCOME-AB12"), None);
        assert!(code_problem("").is_some());
        assert!(code_problem("a b").unwrap().contains("' '"));
        assert!(code_problem(&"A".repeat(65)).is_some());
        assert_eq!(normalize_code(" welcome-ab12 "), "WELCOME-AB12");
    }

    #[test]
    fn patterns_need_entropy_and_fill_from_the_alphabet() {
        assert!(CodePattern::parse("WELCOME-####").is_err());
        let pattern = CodePattern::parse("welcome-#####-#####").unwrap();
        assert_eq!(pattern.randoms(), 10);
        assert!(pattern.entropy_bits() > 46.0);
        let mut i = 0u8;
        let code = pattern.fill(|| {
            i = i.wrapping_add(1);
            i
        });
        assert!(code.starts_with("WELCOME-"), "{code}");
        assert_eq!(code.len(), "WELCOME-#####-#####".len());
        assert!(
            code[8..]
                .bytes()
                .all(|b| b == b'-' || ALPHABET.contains(&b))
        );
        // No look-alikes.
        for c in b"0O1IL2Z5S8B" {
            assert!(!ALPHABET.contains(c));
        }
    }

    #[test]
    fn uniform_symbols_reject_the_biased_tail() {
        let mut bytes = [255u8, 250, 7].into_iter();
        assert_eq!(uniform_symbol(|| bytes.next().unwrap_or(0)), 7);
    }

    #[test]
    fn profiles_are_bounded() {
        let mut profile = Profile {
            birthday: Some(Birthday {
                month: 2,
                day: 29,
                year: Some(2001),
            }),
            ..Profile::default()
        };
        assert_eq!(profile.problem(), None);
        profile.birthday = Some(Birthday {
            month: 2,
            day: 29,
            year: None,
        });
        assert_eq!(profile.problem(), None);
        profile.attributes.insert("".into(), "x".into());
        assert!(profile.problem().unwrap().contains("must not be empty"));
    }
}
