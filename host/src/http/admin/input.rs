//! Reading admin request bodies: a JSON object, field by field, so every error names its
//! field by its path (`card.tags[1] must be a string`).

use axum::extract::rejection::BytesRejection;
use bytes::Bytes;
use rabat_domain::limits;
use rust_decimal::Decimal;
use serde_json::{Map, Value};

use crate::http::body;
use crate::http::error::ApiError;

/// A request body as axum hands it over (the size limit is checked by [`body::bytes`]).
pub type Raw = Result<Bytes, BytesRejection>;

/// The JSON type of a value, for messages.
pub fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// The body as a JSON object: not JSON is id 6, JSON of another type id 7.
pub fn object(raw: Raw, limit: usize) -> Result<Map<String, Value>, ApiError> {
    let bytes = body::bytes(raw, limit)?;
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::MalformedJson(
            "The request body is empty: send a JSON object".into(),
        ));
    }
    let value: Value = serde_json::from_slice(&bytes)
        .map_err(|e| ApiError::MalformedJson(format!("The request body is not valid JSON: {e}")))?;
    // Bodies may be stored inside other JSON (an audit row wraps a config): keep them well
    // within the depth serde_json reads back.
    let depth = limits::json_depth(&value);
    if depth > limits::MAX_JSON_DEPTH {
        return Err(invalid(format!(
            "The request body nests JSON {depth} levels deep; at most {} are allowed",
            limits::MAX_JSON_DEPTH
        )));
    }
    match value {
        Value::Object(map) => Ok(map),
        other => Err(ApiError::InvalidField(format!(
            "The request body must be a JSON object, not {}",
            kind(&other)
        ))),
    }
}

fn invalid(message: String) -> ApiError {
    ApiError::InvalidField(message)
}

/// The fields of one JSON object; errors name a field by its path (`card.tier`).
#[derive(Debug, Clone, Copy)]
pub struct Fields<'a> {
    map: &'a Map<String, Value>,
    prefix: &'a str,
}

impl<'a> Fields<'a> {
    pub fn new(map: &'a Map<String, Value>, prefix: &'a str) -> Self {
        Fields { map, prefix }
    }

    pub fn name(&self, key: &str) -> String {
        if self.prefix.is_empty() {
            key.to_owned()
        } else {
            format!("{}.{key}", self.prefix)
        }
    }

    /// Refuses fields outside `allowed`, so a typo (`teir`) is not silently dropped.
    pub fn only(&self, allowed: &[&str]) -> Result<(), ApiError> {
        match self.map.keys().find(|k| !allowed.contains(&k.as_str())) {
            None => Ok(()),
            Some(key) => Err(invalid(format!(
                "{} is not a known field (known: {})",
                self.name(key),
                allowed.join(", ")
            ))),
        }
    }

    /// Refuses fields that exist but may not be set here, saying why.
    pub fn refuse(&self, keys: &[&str], why: &str) -> Result<(), ApiError> {
        match keys.iter().find(|k| self.map.contains_key(**k)) {
            None => Ok(()),
            Some(key) => Err(invalid(format!("{} {why}", self.name(key)))),
        }
    }

    /// The value, with `null` read as absent.
    pub fn get(&self, key: &str) -> Option<&'a Value> {
        self.map.get(key).filter(|v| !v.is_null())
    }

    /// A non-empty string of at most `max` characters without control characters.
    pub fn string(&self, key: &str, max: usize) -> Result<Option<String>, ApiError> {
        let Some(value) = self.get(key) else {
            return Ok(None);
        };
        let text = value.as_str().ok_or_else(|| {
            invalid(format!(
                "{} must be a string, not {}",
                self.name(key),
                kind(value)
            ))
        })?;
        text_ok(&self.name(key), text, max)?;
        Ok(Some(text.to_owned()))
    }

    pub fn required_string(&self, key: &str, max: usize) -> Result<String, ApiError> {
        self.string(key, max)?
            .ok_or_else(|| invalid(format!("{} is required", self.name(key))))
    }

    /// A whole number that fits an i64.
    pub fn integer(&self, key: &str) -> Result<Option<i64>, ApiError> {
        let Some(value) = self.get(key) else {
            return Ok(None);
        };
        match value {
            // JSON Schema's `integer` is any number without a fraction: `5.0` and `5e3`
            // are whole numbers too.
            Value::Number(n) => n.as_i64().or_else(|| whole(n)).map(Some).ok_or_else(|| {
                invalid(format!(
                    "{} must be a whole number between {} and {}, not {n}",
                    self.name(key),
                    i64::MIN,
                    i64::MAX
                ))
            }),
            other => Err(invalid(format!(
                "{} must be a number, not {}",
                self.name(key),
                kind(other)
            ))),
        }
    }

    pub fn required_integer(&self, key: &str) -> Result<i64, ApiError> {
        self.integer(key)?
            .ok_or_else(|| invalid(format!("{} is required", self.name(key))))
    }

    /// An exact decimal from a JSON number (its text, never through `f64`).
    pub fn decimal(&self, key: &str) -> Result<Option<Decimal>, ApiError> {
        let Some(value) = self.get(key) else {
            return Ok(None);
        };
        let Value::Number(n) = value else {
            return Err(invalid(format!(
                "{} must be a number, not {}",
                self.name(key),
                kind(value)
            )));
        };
        rabat_domain::money::json::from_number_rounded(n)
            .map(Some)
            .ok_or_else(|| {
                invalid(format!(
                    "{} is not a number rabat can hold exactly",
                    self.name(key)
                ))
            })
    }

    /// [`Fields::decimal`] that must not be below zero: a negative number too small to
    /// survive the rounding (`-1e-86`) is refused as well, by its own text (`-0` is zero).
    pub fn non_negative_decimal(&self, key: &str) -> Result<Option<Decimal>, ApiError> {
        let below_zero = match self.get(key) {
            Some(Value::Number(n)) => {
                let text = n.to_string();
                let mantissa = text.split(['e', 'E']).next().unwrap_or_default();
                text.starts_with('-') && mantissa.bytes().any(|b| (b'1'..=b'9').contains(&b))
            }
            _ => false,
        };
        let value = self.decimal(key)?;
        if below_zero || value.is_some_and(|v| v.is_sign_negative() && !v.is_zero()) {
            return Err(invalid(format!("{} must not be negative", self.name(key))));
        }
        Ok(value)
    }

    /// A list of at most `max_items` strings, each as [`Fields::string`] checks them.
    pub fn strings(
        &self,
        key: &str,
        max_items: usize,
        max_len: usize,
    ) -> Result<Option<Vec<String>>, ApiError> {
        let Some(value) = self.get(key) else {
            return Ok(None);
        };
        let items = value.as_array().ok_or_else(|| {
            invalid(format!(
                "{} must be an array of strings, not {}",
                self.name(key),
                kind(value)
            ))
        })?;
        if items.len() > max_items {
            return Err(invalid(format!(
                "{} has {} entries; at most {max_items} are allowed",
                self.name(key),
                items.len()
            )));
        }
        items
            .iter()
            .enumerate()
            .map(|(i, item)| {
                let name = format!("{}[{i}]", self.name(key));
                let text = item.as_str().ok_or_else(|| {
                    invalid(format!("{name} must be a string, not {}", kind(item)))
                })?;
                text_ok(&name, text, max_len)?;
                Ok(text.to_owned())
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Some)
    }
}

/// A number written with a fraction or an exponent that is still a whole number (`5.0`,
/// `-2e3`), read exactly.
pub fn whole(number: &serde_json::Number) -> Option<i64> {
    use rust_decimal::prelude::ToPrimitive;
    rabat_domain::money::json::from_number(number)
        .filter(|value| value.fract().is_zero())
        .and_then(|value| value.to_i64())
}

/// A path segment as a positive id: digits, or a whole number in another JSON form
/// (`1.0`, `1e0`), as JSON Schema's `integer` reads it.
pub fn positive_id(text: &str) -> Option<i64> {
    let id = text.parse::<i64>().ok().or_else(|| {
        serde_json::from_str::<serde_json::Number>(text)
            .ok()
            .and_then(|n| whole(&n))
    })?;
    (id > 0).then_some(id)
}

/// Text a merchant may store: not empty, not too long, no control characters.
pub fn text_ok(name: &str, text: &str, max: usize) -> Result<(), ApiError> {
    if text.is_empty() {
        return Err(invalid(format!(
            "{name} must not be empty (leave it out or send null instead)"
        )));
    }
    if text.chars().count() > max {
        return Err(invalid(format!("{name} must be at most {max} characters")));
    }
    if text.chars().any(char::is_control) {
        return Err(invalid(format!(
            "{name} must not contain control characters"
        )));
    }
    Ok(())
}
