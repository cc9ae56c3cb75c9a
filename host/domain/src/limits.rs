//! The bounds on what a POS, a merchant or a policy may hand rabat, so that nothing they
//! send can overflow a stored total, be refused by the database or make a stored row
//! unreadable (the README's "Security" section).
//!
//! - **Amounts and quantities**: any number in a bill (total, VAT, prices, quantities,
//!   BIFIT's amounts) lies within ±[`MAX_AMOUNT`] = 10¹² currency units. That is far
//!   above any real bill (a trillion euros, or roubles), and far enough below
//!   `Decimal`'s ±7.9 × 10²⁸ that a card's total spent cannot overflow in 10¹⁶ bills.
//! - **Points per bill**: a policy may grant or take at most ±[`MAX_POINTS_PER_ACCRUAL`]
//!   (10⁹) points for one bill; an accrual beyond that is recorded with 0 points and the
//!   reason, never refused (the till is never blocked).
//! - **JSON depth**: a body or policy config nests at most [`MAX_JSON_DEPTH`] (32)
//!   levels, well below serde_json's recursion limit of 128, so whatever rabat stores
//!   inside another JSON document (an audit row wraps the config) still reads back.
//! - **Text**: no NUL character anywhere in a body (PostgreSQL's `TEXT` cannot hold it),
//!   and no control character in identifiers.
//! - **Identifiers**: every id a request can carry that the database indexes (an order,
//!   a card, a customer, a merchant, a POS token) is at most a few hundred bytes
//!   ([`MAX_ORDER_ID_CHARS`] and its neighbours), checked at the door with error 7 naming
//!   the field and the limit. PostgreSQL refuses a B-tree index entry above about 2.7 kB
//!   (a page's third) — a long `orderId` was a 503 on every retry there while SQLite
//!   accepted it — so both engines are held to the same, much lower bound. The longest
//!   index entry these make (merchant + order id + kind, at 4 bytes a character) stays
//!   far below PostgreSQL's.

use rust_decimal::Decimal;
use serde_json::Value;

/// The largest magnitude of any amount or quantity rabat accepts: 10¹² currency units.
pub const MAX_AMOUNT: Decimal = Decimal::from_parts(0xD4A5_1000, 0xE8, 0, false, 0);

/// The most points one accrual may grant (or, negated, take away).
pub const MAX_POINTS_PER_ACCRUAL: i64 = 1_000_000_000;

/// The longest order id (Papaya's `orderId`; the ledger keeps BIFIT's as `bifit:<id>`, an
/// i64), in characters.
pub const MAX_ORDER_ID_CHARS: usize = 128;
/// The longest card id (`cardId` in every POS body, admin path and query), in characters.
pub const MAX_CARD_ID_CHARS: usize = 128;
/// The longest customer id of a card (BIFIT's `clientId` is matched against it).
pub const MAX_CUSTOMER_ID_CHARS: usize = 128;
/// The longest merchant id.
pub const MAX_MERCHANT_ID_CHARS: usize = 64;
/// The longest POS token id (rabat makes them: `pt_` and 16 hex digits).
pub const MAX_TOKEN_ID_CHARS: usize = 64;

/// What is wrong with `id` as an identifier of at most `max` characters, if it is too
/// long: the message's end after the field's name (`must be at most 128 characters`).
pub fn id_too_long(id: &str, max: usize) -> Option<String> {
    (id.chars().count() > max).then(|| format!("must be at most {max} characters"))
}

/// The longest card tier, in characters (the admin API's bound, and a policy's).
pub const MAX_TIER_CHARS: usize = 64;
/// The most tags a card may carry.
pub const MAX_CARD_TAGS: usize = 64;
/// The longest card tag, in characters.
pub const MAX_TAG_CHARS: usize = 64;

/// What is wrong with `text` as a card's tier or tag (at most `max` characters, not empty,
/// no control character), if anything: the same rule the admin API applies.
pub fn card_label_problem(text: &str, max: usize) -> Option<String> {
    if text.is_empty() {
        Some("must not be empty".into())
    } else if text.chars().count() > max {
        Some(format!("must be at most {max} characters"))
    } else if text.chars().any(char::is_control) {
        Some("must not contain control characters".into())
    } else {
        None
    }
}

/// The deepest nesting of arrays and objects accepted in a body or a policy config.
pub const MAX_JSON_DEPTH: usize = 32;

/// Whether `value` lies within ±[`MAX_AMOUNT`].
pub fn amount_in_range(value: Decimal) -> bool {
    value.abs() <= MAX_AMOUNT
}

/// What an out-of-range amount's message says after its field's name.
pub fn amount_problem() -> String {
    format!("must be between -{MAX_AMOUNT} and {MAX_AMOUNT}")
}

/// How deeply `value` nests arrays and objects: 0 for a scalar, 1 for `{}` or `[1]`.
/// Iterative, so it cannot itself run out of stack.
pub fn json_depth(value: &Value) -> usize {
    let mut deepest = 0;
    let mut stack = vec![(value, 1usize)];
    while let Some((value, depth)) = stack.pop() {
        match value {
            Value::Array(items) => {
                deepest = deepest.max(depth);
                stack.extend(items.iter().map(|item| (item, depth + 1)));
            }
            Value::Object(map) => {
                deepest = deepest.max(depth);
                stack.extend(map.values().map(|item| (item, depth + 1)));
            }
            _ => {}
        }
    }
    deepest
}

/// The path (`orderItems[0].note`, `tags[1]`, `a.b`; `""` for the value itself) of the
/// first string or key in `value` that holds a NUL character, if any.
pub fn find_nul(value: &Value) -> Option<String> {
    let mut stack = vec![(value, String::new())];
    while let Some((value, path)) = stack.pop() {
        match value {
            Value::String(text) if text.contains('\0') => return Some(path),
            Value::Array(items) => {
                for (index, item) in items.iter().enumerate().rev() {
                    stack.push((item, format!("{path}[{index}]")));
                }
            }
            Value::Object(map) => {
                for (key, item) in map.iter().rev() {
                    let child = if path.is_empty() {
                        key.clone()
                    } else {
                        format!("{path}.{key}")
                    };
                    if key.contains('\0') {
                        return Some(child);
                    }
                    stack.push((item, child));
                }
            }
            _ => {}
        }
    }
    None
}

/// `text` with every NUL replaced by U+FFFD, for text rabat stores from a policy (a
/// reason, an error message) that it must not refuse.
pub fn without_nul(text: &str) -> String {
    text.replace('\0', "\u{FFFD}")
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use serde_json::json;

    use super::*;

    #[test]
    fn max_amount_is_ten_to_the_twelfth() {
        assert_eq!(MAX_AMOUNT, Decimal::from_str("1000000000000").unwrap());
        assert!(amount_in_range(MAX_AMOUNT));
        assert!(amount_in_range(-MAX_AMOUNT));
        assert!(!amount_in_range(MAX_AMOUNT + Decimal::new(1, 2)));
        assert!(!amount_in_range(Decimal::MAX));
    }

    #[test]
    fn depth_counts_containers() {
        assert_eq!(json_depth(&json!(1)), 0);
        assert_eq!(json_depth(&json!({})), 1);
        assert_eq!(json_depth(&json!({"a": [1, {"b": []}]})), 4);
    }

    #[test]
    fn nul_is_found_with_its_path() {
        assert_eq!(find_nul(&json!({"a": "ok"})), None);
        assert_eq!(
            find_nul(&json!({"a": [1, "x\u{0}"]})),
            Some("a[1]".to_owned())
        );
        assert_eq!(find_nul(&json!({"k\u{0}": 1})), Some("k\u{0}".to_owned()));
        assert_eq!(find_nul(&json!("\u{0}")), Some(String::new()));
        assert_eq!(without_nul("a\u{0}b"), "a\u{FFFD}b");
    }
}
