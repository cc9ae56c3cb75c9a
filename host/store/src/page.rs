//! Cursor pagination. Cursors are opaque to callers: pass `next_cursor` back unchanged.
//! Inside, a cursor is the hex of the last key returned (a row id or a card id), so a page
//! boundary stays put while rows are added.

use serde::Serialize;

use super::{Result, StoreError};

/// The most rows one call returns, whatever limit was asked for.
pub const MAX_LIMIT: u32 = 500;

/// One page of a listing.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Page<T> {
    pub items: Vec<T>,
    /// Present when more rows follow; pass it as `cursor` to get them.
    pub next_cursor: Option<String>,
}

/// The row count to fetch for `limit`: clamped to 1..=MAX_LIMIT, plus one to learn
/// whether another page follows.
pub(crate) fn fetch_count(limit: u32) -> i64 {
    i64::from(limit.clamp(1, MAX_LIMIT)) + 1
}

/// Trims the extra row fetched by [`fetch_count`] and makes the next cursor from the last
/// item kept.
pub(crate) fn finish<T>(mut items: Vec<T>, limit: u32, key: impl Fn(&T) -> String) -> Page<T> {
    let limit = limit.clamp(1, MAX_LIMIT) as usize;
    let next_cursor = if items.len() > limit {
        items.truncate(limit);
        items.last().map(|item| hex::encode(key(item)))
    } else {
        None
    };
    Page { items, next_cursor }
}

/// The text key inside a cursor. Keys rabat hands out never hold a control character
/// (and PostgreSQL cannot compare text with a NUL), so a cursor holding one is invalid.
pub(crate) fn decode_text(cursor: &str) -> Result<String> {
    hex::decode(cursor)
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .filter(|text| !text.chars().any(char::is_control))
        .ok_or_else(|| StoreError::Invalid("cursor is not valid".to_owned()))
}

/// The row id inside a cursor; no cursor means "from the newest".
pub(crate) fn decode_id(cursor: Option<&str>) -> Result<i64> {
    match cursor {
        None => Ok(i64::MAX),
        Some(cursor) => decode_text(cursor)?
            .parse()
            .map_err(|_| StoreError::Invalid("cursor is not valid".to_owned())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_cursor_only_when_more_rows_follow() {
        let page = finish(vec![5i64, 4, 3], 2, |id| id.to_string());
        assert_eq!(page.items, vec![5, 4]);
        assert_eq!(decode_id(page.next_cursor.as_deref()).ok(), Some(4));
        assert_eq!(
            finish(vec![5i64, 4], 2, |id| id.to_string()).next_cursor,
            None
        );
        assert!(decode_id(Some("not hex")).is_err());
        assert!(decode_text("00").is_err());
        assert!(decode_text("610a").is_err());
        assert_eq!(decode_text("6162").ok().as_deref(), Some("ab"));
    }
}
