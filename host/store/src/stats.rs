//! Daily figures from the evaluation log, for the console's overview charts: endpoint-1
//! runs per UTC day and outcome, and the discounts answered per UTC day and currency.
//!
//! Counting and grouping happen in SQL. Discount amounts are decimal text in the log;
//! SQLite has no exact decimal sum (its `SUM` goes through floating point), so the query
//! groups by the amount's text as well and the exact sum is done here with `Decimal` —
//! there are few distinct amounts per day, so the rows stay few.

use std::collections::BTreeMap;
use std::str::FromStr;

use rust_decimal::Decimal;

use crate::{Result, Store, StoreError};

/// Milliseconds in a UTC day (the log's `at` is epoch milliseconds, UTC).
pub const DAY_MS: i64 = 86_400_000;

/// Runs with one outcome on one day.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DayOutcome {
    /// Days since 1970-01-01 (UTC).
    pub day: i64,
    pub outcome: String,
    pub count: i64,
}

/// Discounts answered on one day in one currency: how many runs answered a non-zero
/// total discount, and those totals added up exactly.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DayDiscount {
    pub day: i64,
    pub currency: String,
    pub amount: Decimal,
    pub count: i64,
}

/// What [`Store::evaluation_stats`] found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EvaluationStats {
    /// By day, then outcome.
    pub outcomes: Vec<DayOutcome>,
    /// By day, then currency.
    pub discounts: Vec<DayDiscount>,
}

// `at / 86400000` is integer division on both engines (INTEGER in SQLite, BIGINT in
// PostgreSQL), so it is the UTC day number.
const OUTCOMES: &str = "SELECT at / 86400000 AS day, outcome, COUNT(*) AS n
     FROM evaluations WHERE merchant_id = $1 AND at >= $2
     GROUP BY at / 86400000, outcome";

// The bill's currency is a column of its own (copied from the logged order when written),
// so neither query opens the compressed payload; both read `evaluations_by_time`.
const DISCOUNTS: &str = "SELECT at / 86400000 AS day, COALESCE(currency, '') AS currency,
            total_discount, COUNT(*) AS n
     FROM evaluations
     WHERE merchant_id = $1 AND at >= $2 AND outcome = 'answer'
       AND total_discount IS NOT NULL
     GROUP BY at / 86400000, COALESCE(currency, ''), total_discount";

impl Store {
    /// The merchant's endpoint-1 runs logged from `since` (epoch ms) on, counted per UTC
    /// day and outcome, and their non-zero discounts per UTC day and currency.
    pub async fn evaluation_stats(&self, merchant: &str, since: i64) -> Result<EvaluationStats> {
        let outcomes: Vec<(i64, String, i64)> = with_pool!(self, pool => {
            sqlx::query_as(OUTCOMES)
                .bind(merchant)
                .bind(since)
                .fetch_all(pool)
                .await
        })?;
        let amounts: Vec<(i64, String, String, i64)> = with_pool!(self, pool => {
            sqlx::query_as(DISCOUNTS)
                .bind(merchant)
                .bind(since)
                .fetch_all(pool)
                .await
        })?;
        let mut outcomes: Vec<DayOutcome> = outcomes
            .into_iter()
            .map(|(day, outcome, count)| DayOutcome {
                day,
                outcome,
                count,
            })
            .collect();
        outcomes.sort_by(|a, b| (a.day, &a.outcome).cmp(&(b.day, &b.outcome)));
        let mut sums: BTreeMap<(i64, String), (Decimal, i64)> = BTreeMap::new();
        for (day, currency, amount, count) in amounts {
            let amount = Decimal::from_str(&amount).map_err(StoreError::corrupt)?;
            if amount.is_zero() {
                continue;
            }
            let entry = sums.entry((day, currency)).or_default();
            // `count` runs each answered exactly `amount`.
            entry.0 += amount * Decimal::from(count);
            entry.1 += count;
        }
        let discounts = sums
            .into_iter()
            .map(|((day, currency), (amount, count))| DayDiscount {
                day,
                currency,
                amount,
                count,
            })
            .collect();
        Ok(EvaluationStats {
            outcomes,
            discounts,
        })
    }
}
