//! The wall clock, as rabat stores and logs it: epoch milliseconds, UTC.

use std::time::{SystemTime, UNIX_EPOCH};

/// Now, as epoch milliseconds (UTC). A clock before 1970 reads as 0; one past
/// `i64::MAX` ms (in 292 million years) as `i64::MAX`.
pub fn now_ms() -> i64 {
    let since = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    i64::try_from(since.as_millis()).unwrap_or(i64::MAX)
}
