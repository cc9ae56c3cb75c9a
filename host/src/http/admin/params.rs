//! Reading the path (`{m}`, `{v}`, `{cardId}`, `{tokenId}`) and the query of listings
//! (`limit`, `cursor`, filters). No axum rejection gets through: every problem becomes an
//! [`ApiError`] naming the parameter.

use axum::extract::{FromRequestParts, Path, Query};
use axum::http::request::Parts;

use rabat_domain::limits;

use super::input::{positive_id, text_ok};
use crate::http::error::ApiError;

/// Rows per page when `limit` is not given.
pub const DEFAULT_LIMIT: u32 = 50;
/// The largest `limit` accepted (the store's own cap); more is refused, not clamped.
pub const MAX_LIMIT: u32 = 500;

fn invalid(message: String) -> ApiError {
    ApiError::InvalidField(message)
}

/// The path's parameters (`{m}`, `{v}`, `{cardId}`, `{tokenId}`), already percent-decoded.
#[derive(Debug, Clone)]
pub struct Params(Vec<(String, String)>);

impl<S: Send + Sync> FromRequestParts<S> for Params {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        match Path::<Vec<(String, String)>>::from_request_parts(parts, state).await {
            Ok(Path(params)) => {
                no_control("path parameter", &params)?;
                not_too_long(&params)?;
                Ok(Params(params))
            }
            Err(rejection) => Err(invalid(format!(
                "The path is not valid: {}",
                rejection.body_text()
            ))),
        }
    }
}

impl Params {
    /// A parameter the route declares (empty if it does not).
    pub fn get(&self, name: &str) -> &str {
        self.0
            .iter()
            .find(|(key, _)| key == name)
            .map_or("", |(_, value)| value.as_str())
    }

    /// The `{v}` of a policy route: a positive whole number.
    pub fn version(&self) -> Result<i64, ApiError> {
        let text = self.get("v");
        positive_id(text).ok_or_else(|| {
            invalid(format!(
                "policy version must be a positive whole number, not '{text}'"
            ))
        })
    }

    /// The `{id}` of an evaluation route: a logged run's id.
    pub fn evaluation_id(&self) -> Result<i64, ApiError> {
        let text = self.get("id");
        positive_id(text).ok_or_else(|| {
            invalid(format!(
                "evaluation id must be a positive whole number, not '{text}'"
            ))
        })
    }

    /// The `{cardId}` of a card route: what a POS sends as `cardId`.
    pub fn card_id(&self) -> Result<&str, ApiError> {
        let id = self.get("cardId");
        text_ok("cardId", id, MAX_CARD_ID)?;
        Ok(id)
    }
}

/// The longest card id accepted.
pub const MAX_CARD_ID: usize = limits::MAX_CARD_ID_CHARS;

/// The longest value of each path or query parameter that is an indexed id
/// ([`rabat_domain::limits`]): `{m}`, `{cardId}`, `{tokenId}`, `?cardId=`, `?customerId=`,
/// `?orderId=`.
fn id_limit(name: &str) -> Option<usize> {
    match name {
        "m" => Some(limits::MAX_MERCHANT_ID_CHARS),
        "cardId" => Some(limits::MAX_CARD_ID_CHARS),
        "tokenId" => Some(limits::MAX_TOKEN_ID_CHARS),
        "customerId" => Some(limits::MAX_CUSTOMER_ID_CHARS),
        "orderId" => Some(limits::MAX_ORDER_ID_CHARS),
        _ => None,
    }
}

/// Refuses an id parameter longer than its bound (400, id 7, naming it and the bound).
fn not_too_long(pairs: &[(String, String)]) -> Result<(), ApiError> {
    for (key, value) in pairs {
        if let Some(problem) = id_limit(key).and_then(|max| limits::id_too_long(value, max)) {
            let name = if key == "m" { "merchant id" } else { key };
            return Err(invalid(format!("{name} {problem}")));
        }
    }
    Ok(())
}

/// A listing's query string. Unknown and repeated parameters are refused by name.
#[derive(Debug, Clone)]
pub struct QueryParams(Vec<(String, String)>);

impl<S: Send + Sync> FromRequestParts<S> for QueryParams {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        match Query::<Vec<(String, String)>>::from_request_parts(parts, state).await {
            Ok(Query(pairs)) => {
                no_control("query parameter", &pairs)?;
                not_too_long(&pairs)?;
                Ok(QueryParams(pairs))
            }
            Err(rejection) => Err(invalid(format!(
                "The query string is not valid: {}",
                rejection.body_text()
            ))),
        }
    }
}

impl QueryParams {
    pub fn only(&self, allowed: &[&str]) -> Result<(), ApiError> {
        for (i, (key, _)) in self.0.iter().enumerate() {
            if !allowed.contains(&key.as_str()) {
                return Err(invalid(format!(
                    "{key} is not a known query parameter (known: {})",
                    allowed.join(", ")
                )));
            }
            if self.0[..i].iter().any(|(earlier, _)| earlier == key) {
                return Err(invalid(format!("{key} is given more than once")));
            }
        }
        Ok(())
    }

    /// A parameter's value; an empty one (`?cardId=`) counts as absent (numbers excepted:
    /// see [`QueryParams::raw`]).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
            .filter(|value| !value.is_empty())
    }

    /// A card id filter (`cardId`, `customerId`): absent when empty, else at most
    /// [`MAX_CARD_ID`] characters (no card has a longer one).
    pub fn card_id(&self, name: &str) -> Result<Option<&str>, ApiError> {
        match self.get(name) {
            Some(id) if id.chars().count() > MAX_CARD_ID => Err(invalid(format!(
                "{name} must be at most {MAX_CARD_ID} characters"
            ))),
            other => Ok(other),
        }
    }

    /// A parameter's value as sent, even empty: for numbers, where `?limit=` is not one.
    pub fn raw(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }

    /// `limit`: 1..=[`MAX_LIMIT`], [`DEFAULT_LIMIT`] when absent (an empty `limit=` is
    /// not a number, so it is refused like any other).
    pub fn limit(&self) -> Result<u32, ApiError> {
        let Some(text) = self.raw("limit") else {
            return Ok(DEFAULT_LIMIT);
        };
        text.parse::<u32>()
            .ok()
            .filter(|n| (1..=MAX_LIMIT).contains(n))
            .ok_or_else(|| {
                invalid(format!(
                    "limit must be a whole number from 1 to {MAX_LIMIT}, not '{text}'"
                ))
            })
    }

    /// `cursor`: the `nextCursor` of the previous page, passed back unchanged.
    pub fn cursor(&self) -> Result<Option<&str>, ApiError> {
        match self.get("cursor") {
            Some(cursor) if cursor.len() > 256 || hex_bad(cursor) => Err(invalid(
                "cursor is not valid: pass back the nextCursor of the previous page unchanged"
                    .into(),
            )),
            other => Ok(other),
        }
    }
}

/// Refuses a path or query value holding a control character (`%00` and the like): no
/// id, cursor or filter rabat knows holds one, and PostgreSQL cannot store or compare a NUL.
fn no_control(what: &str, pairs: &[(String, String)]) -> Result<(), ApiError> {
    match pairs
        .iter()
        .find(|(key, value)| key.chars().chain(value.chars()).any(char::is_control))
    {
        None => Ok(()),
        Some((key, _)) => Err(invalid(format!(
            "{what} {} must not contain control characters",
            key.escape_default()
        ))),
    }
}

fn hex_bad(text: &str) -> bool {
    !text.len().is_multiple_of(2) || !text.bytes().all(|b| b.is_ascii_hexdigit())
}
