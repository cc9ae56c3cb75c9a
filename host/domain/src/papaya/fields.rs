//! Reading one JSON object of a Papaya body field by field, with errors that name the
//! field's full path (`orderItems[2].quantity`). `null` counts as absent throughout:
//! Papaya sends `"note": null` for "no note".

use rust_decimal::Decimal;
use serde_json::{Map, Value};
use time::{OffsetDateTime, format_description::well_known::Rfc3339};

use super::PapayaError;
use crate::limits;
use crate::money::json::from_number_rounded;

type Result<T> = std::result::Result<T, PapayaError>;

pub(super) struct Fields<'a> {
    map: &'a Map<String, Value>,
    /// `""` at the top level, `orderItems[2].` inside a line.
    prefix: String,
}

impl<'a> Fields<'a> {
    pub(super) fn new(map: &'a Map<String, Value>, prefix: String) -> Self {
        Fields { map, prefix }
    }

    pub(super) fn path(&self, key: &str) -> String {
        format!("{}{key}", self.prefix)
    }

    pub(super) fn invalid(&self, key: &str, problem: &str) -> PapayaError {
        PapayaError::invalid(self.path(key), problem)
    }

    /// The value, unless absent or `null`.
    pub(super) fn get(&self, key: &str) -> Option<&'a Value> {
        self.map.get(key).filter(|value| !value.is_null())
    }

    pub(super) fn string(&self, key: &str) -> Result<Option<&'a str>> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::String(text)) => Ok(Some(text)),
            Some(_) => Err(self.invalid(key, "must be a string")),
        }
    }

    pub(super) fn owned_string(&self, key: &str) -> Result<Option<String>> {
        Ok(self.string(key)?.map(str::to_owned))
    }

    /// A required identifier: present, a string, and not blank.
    pub(super) fn id(&self, key: &str) -> Result<String> {
        match self.string(key)? {
            None => Err(PapayaError::missing(self.path(key))),
            Some(text) if text.trim().is_empty() => Err(self.invalid(key, "must not be empty")),
            Some(text) if text.chars().any(char::is_control) => {
                Err(self.invalid(key, "must not contain control characters"))
            }
            Some(text) => Ok(text.to_owned()),
        }
    }

    /// [`Fields::id`] of at most `max` characters (an id the database indexes).
    pub(super) fn bounded_id(&self, key: &str, max: usize) -> Result<String> {
        let id = self.id(key)?;
        match limits::id_too_long(&id, max) {
            Some(problem) => Err(self.invalid(key, &problem)),
            None => Ok(id),
        }
    }

    /// A JSON number, exactly. Quoted numbers (`"50.00"`) are refused like any string.
    pub(super) fn decimal(&self, key: &str) -> Result<Option<Decimal>> {
        match self.get(key) {
            None => Ok(None),
            // Digits beyond a Decimal's 28 places are rounded, not refused: no schema can
            // say "at most 28 places", and no currency has a minor unit near them.
            Some(Value::Number(number)) => match from_number_rounded(number) {
                Some(value) if limits::amount_in_range(value) => Ok(Some(value)),
                Some(_) => Err(self.invalid(key, &limits::amount_problem())),
                None => Err(self.invalid(key, "is too large or too precise for an amount")),
            },
            Some(_) => Err(self.invalid(key, "must be a number")),
        }
    }

    pub(super) fn required_decimal(&self, key: &str) -> Result<Decimal> {
        self.decimal(key)?
            .ok_or_else(|| PapayaError::missing(self.path(key)))
    }

    pub(super) fn non_negative(&self, key: &str, value: Decimal) -> Result<Decimal> {
        if value < Decimal::ZERO {
            Err(self.invalid(key, "must not be negative"))
        } else {
            Ok(value)
        }
    }

    /// An RFC 3339 date-time (`2025-10-21T10:30:00.000Z`) as epoch milliseconds, UTC.
    pub(super) fn time(&self, key: &str) -> Result<Option<i64>> {
        let problem = "must be an RFC 3339 date-time such as 2025-10-21T10:30:00.000Z";
        let Some(text) = self.get(key) else {
            return Ok(None);
        };
        let millis = text
            .as_str()
            .and_then(|text| OffsetDateTime::parse(text, &Rfc3339).ok())
            .and_then(|time| i64::try_from(time.unix_timestamp_nanos().div_euclid(1_000_000)).ok())
            .ok_or_else(|| self.invalid(key, problem))?;
        Ok(Some(millis))
    }
}
