//! The evaluation log: what each policy run saw and did, failures included, so a merchant
//! can see why a bill got (or did not get) a discount and replay bills against a new
//! version. Bounded: pruning keeps the newest N rows per merchant.

use std::str::FromStr;

use rust_decimal::Decimal;
use serde::Serialize;
use serde_json::Value;

use super::engine::WritePool;
use super::page::{self, Page};
use super::{Result, Store, StoreError};

/// One policy run to log.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EvaluationRecord {
    pub merchant_id: String,
    /// When it ran, epoch ms.
    pub at: i64,
    pub order_id: String,
    pub card_id: Option<String>,
    pub policy_version: Option<i64>,
    /// `answer`, `policy_error`, `trap`, `out_of_fuel`, `timeout`, `invalid_answer` or
    /// `no_policy` (free text to the store: the policy runtime owns the list).
    pub outcome: String,
    #[serde(with = "rust_decimal::serde::arbitrary_precision_option")]
    pub total_discount: Option<Decimal>,
    pub fuel: Option<u64>,
    pub duration_us: u64,
    /// The canonical request, as handed to the policy (replay re-runs it).
    pub request: Value,
    pub card: Option<Value>,
    pub response: Option<Value>,
    pub logs: Value,
    pub error: Option<String>,
}

/// A run waiting to be written, its JSON already as text: compact in memory, and its
/// size known, so a queue of them can be bounded in bytes.
#[derive(Debug, Clone, PartialEq)]
pub struct PendingEvaluation {
    pub merchant_id: String,
    pub at: i64,
    pub order_id: String,
    pub card_id: Option<String>,
    pub policy_version: Option<i64>,
    pub outcome: String,
    pub total_discount: Option<Decimal>,
    pub fuel: Option<u64>,
    pub duration_us: u64,
    pub request: String,
    pub card: Option<String>,
    pub response: Option<String>,
    pub logs: String,
    pub error: Option<String>,
}

impl PendingEvaluation {
    /// The memory it holds, near enough: its texts and itself.
    pub fn bytes(&self) -> usize {
        let optional = |text: &Option<String>| text.as_ref().map_or(0, String::len);
        std::mem::size_of::<Self>()
            + self.merchant_id.len()
            + self.order_id.len()
            + optional(&self.card_id)
            + self.outcome.len()
            + self.request.len()
            + optional(&self.card)
            + optional(&self.response)
            + self.logs.len()
            + optional(&self.error)
    }
}

impl From<&EvaluationRecord> for PendingEvaluation {
    fn from(r: &EvaluationRecord) -> Self {
        PendingEvaluation {
            merchant_id: r.merchant_id.clone(),
            at: r.at,
            order_id: r.order_id.clone(),
            card_id: r.card_id.clone(),
            policy_version: r.policy_version,
            outcome: r.outcome.clone(),
            total_discount: r.total_discount,
            fuel: r.fuel,
            duration_us: r.duration_us,
            request: r.request.to_string(),
            card: r.card.as_ref().map(Value::to_string),
            response: r.response.as_ref().map(Value::to_string),
            logs: r.logs.to_string(),
            error: r.error.clone(),
        }
    }
}

/// A logged run, with its id.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct StoredEvaluation {
    pub id: i64,
    #[serde(flatten)]
    pub record: EvaluationRecord,
}

/// Which logged runs to list.
#[derive(Debug, Clone, Copy, Default)]
pub struct EvaluationQuery<'a> {
    /// Rows per page, clamped to 1..=500.
    pub limit: u32,
    pub cursor: Option<&'a str>,
    /// Only runs with this outcome.
    pub outcome: Option<&'a str>,
}

#[derive(sqlx::FromRow)]
struct EvaluationRow {
    id: i64,
    merchant_id: String,
    at: i64,
    order_id: String,
    card_id: Option<String>,
    policy_version: Option<i64>,
    outcome: String,
    total_discount: Option<String>,
    fuel: Option<i64>,
    duration_us: i64,
    request: String,
    card: Option<String>,
    response: Option<String>,
    logs: String,
    error: Option<String>,
}

fn json(text: &str) -> Result<Value> {
    serde_json::from_str(text).map_err(StoreError::corrupt)
}

impl EvaluationRow {
    fn into_stored(self) -> Result<StoredEvaluation> {
        let total_discount = self.total_discount.as_deref().map(Decimal::from_str);
        Ok(StoredEvaluation {
            id: self.id,
            record: EvaluationRecord {
                merchant_id: self.merchant_id,
                at: self.at,
                order_id: self.order_id,
                card_id: self.card_id,
                policy_version: self.policy_version,
                outcome: self.outcome,
                total_discount: total_discount.transpose().map_err(StoreError::corrupt)?,
                fuel: self
                    .fuel
                    .map(u64::try_from)
                    .transpose()
                    .map_err(StoreError::corrupt)?,
                duration_us: u64::try_from(self.duration_us).map_err(StoreError::corrupt)?,
                request: json(&self.request)?,
                card: self.card.as_deref().map(json).transpose()?,
                response: self.response.as_deref().map(json).transpose()?,
                logs: json(&self.logs)?,
                error: self.error,
            },
        })
    }
}

fn saturating_i64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

const LIST_ALL: &str = "SELECT id, merchant_id, at, order_id, card_id, policy_version, outcome,
            total_discount, fuel, duration_us, request, card, response, logs, error
     FROM evaluations WHERE merchant_id = $1 AND id < $2 ORDER BY id DESC LIMIT $3";

const LIST_BY_OUTCOME: &str = "SELECT id, merchant_id, at, order_id, card_id, policy_version,
            outcome, total_discount, fuel, duration_us, request, card, response, logs, error
     FROM evaluations WHERE merchant_id = $1 AND id < $2 AND outcome = $4
     ORDER BY id DESC LIMIT $3";

/// A logged endpoint-1 run to replay: what the policy saw and what the till got.
#[derive(Debug, Clone, PartialEq)]
pub struct ReplaySource {
    pub id: i64,
    pub at: i64,
    pub order_id: String,
    pub policy_version: Option<i64>,
    pub outcome: String,
    pub total_discount: Option<Decimal>,
    /// The JSON texts as stored: parsing them is left to the replay thread, off the
    /// async workers that serve the tills.
    pub request: String,
    pub card: Option<String>,
    pub response: Option<String>,
}

#[derive(sqlx::FromRow)]
struct ReplayRow {
    id: i64,
    at: i64,
    order_id: String,
    policy_version: Option<i64>,
    outcome: String,
    total_discount: Option<String>,
    request: String,
    card: Option<String>,
    response: Option<String>,
}

// The newest run of each order (a till may ask again as a bill grows; its last answer is
// what the customer got), newest orders first, one page below a row id.
const REPLAY: &str = "SELECT id, at, order_id, policy_version, outcome, total_discount, request,
            card, response
     FROM evaluations
     WHERE id IN (SELECT MAX(id) FROM evaluations
                  WHERE merchant_id = $1 AND at >= $2 GROUP BY order_id)
       AND id < $4
     ORDER BY id DESC LIMIT $3";

impl Store {
    /// The newest logged run of each of the merchant's orders since `since` (epoch ms),
    /// newest first, at most `limit` of them with row ids below `before` (`i64::MAX` for
    /// the first page; then the last id of the previous page): what a what-if replay
    /// re-runs, one page at a time so a long replay never holds every bill in memory.
    pub async fn replay_sources(
        &self,
        merchant: &str,
        since: i64,
        before: i64,
        limit: u32,
    ) -> Result<Vec<ReplaySource>> {
        let rows: Vec<ReplayRow> = with_pool!(self, pool => sqlx::query_as(REPLAY)
            .bind(merchant)
            .bind(since)
            .bind(i64::from(limit))
            .bind(before)
            .fetch_all(pool)
            .await)?;
        rows.into_iter()
            .map(|row| {
                Ok(ReplaySource {
                    id: row.id,
                    at: row.at,
                    order_id: row.order_id,
                    policy_version: row.policy_version,
                    outcome: row.outcome,
                    total_discount: row
                        .total_discount
                        .as_deref()
                        .map(Decimal::from_str)
                        .transpose()
                        .map_err(StoreError::corrupt)?,
                    request: row.request,
                    card: row.card,
                    response: row.response,
                })
            })
            .collect()
    }

    /// Appends a batch of runs (any merchants) in one transaction: one disk sync for the
    /// lot, which is why the hot path hands these to a background writer.
    pub async fn insert_evaluations(&self, records: &[EvaluationRecord]) -> Result<()> {
        let pending: Vec<PendingEvaluation> = records.iter().map(PendingEvaluation::from).collect();
        self.insert_pending_evaluations(&pending).await
    }

    /// [`Store::insert_evaluations`] for runs whose JSON is already text.
    pub async fn insert_pending_evaluations(&self, records: &[PendingEvaluation]) -> Result<()> {
        if records.is_empty() {
            return Ok(());
        }
        with_pool!(self, pool => {
            let mut tx = pool.begin_write().await?;
            for r in records {
                sqlx::query(
                    "INSERT INTO evaluations (merchant_id, at, order_id, card_id, policy_version,
                        outcome, total_discount, fuel, duration_us, request, card, response,
                        logs, error)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
                )
                .bind(&r.merchant_id)
                .bind(r.at)
                .bind(&r.order_id)
                .bind(&r.card_id)
                .bind(r.policy_version)
                .bind(&r.outcome)
                .bind(r.total_discount.map(|d| d.to_string()))
                .bind(r.fuel.map(saturating_i64))
                .bind(saturating_i64(r.duration_us))
                .bind(&r.request)
                .bind(&r.card)
                .bind(&r.response)
                .bind(&r.logs)
                .bind(&r.error)
                .execute(&mut *tx)
                .await?;
            }
            tx.commit().await?;
        });
        Ok(())
    }

    /// The merchant's logged runs, newest first.
    pub async fn list_evaluations(
        &self,
        merchant: &str,
        query: &EvaluationQuery<'_>,
    ) -> Result<Page<StoredEvaluation>> {
        let before = page::decode_id(query.cursor)?;
        let fetch = page::fetch_count(query.limit);
        let rows: Vec<EvaluationRow> = with_pool!(self, pool => match query.outcome {
            None => sqlx::query_as(LIST_ALL)
                .bind(merchant)
                .bind(before)
                .bind(fetch)
                .fetch_all(pool)
                .await,
            Some(outcome) => sqlx::query_as(LIST_BY_OUTCOME)
                .bind(merchant)
                .bind(before)
                .bind(fetch)
                .bind(outcome)
                .fetch_all(pool)
                .await,
        })?;
        let items = rows
            .into_iter()
            .map(EvaluationRow::into_stored)
            .collect::<Result<Vec<_>>>()?;
        Ok(page::finish(items, query.limit, |e| e.id.to_string()))
    }

    /// Deletes all but the merchant's newest `keep` runs; returns how many went.
    pub async fn prune_evaluations(&self, merchant: &str, keep: u32) -> Result<u64> {
        // The cut-off is the id of the (keep+1)-th newest row; with fewer rows the
        // subquery is NULL and nothing matches.
        let done = with_pool!(self, pool => {
            sqlx::query(
                "DELETE FROM evaluations WHERE merchant_id = $1 AND id <= (
                    SELECT id FROM evaluations WHERE merchant_id = $1
                    ORDER BY id DESC LIMIT 1 OFFSET $2)",
            )
            .bind(merchant)
            .bind(i64::from(keep))
            .execute(pool)
            .await
            .map(|done| done.rows_affected())
        })?;
        Ok(done)
    }

    /// Retention for every merchant at once (a periodic job): keeps the newest `keep` runs
    /// per merchant; returns how many went.
    pub async fn prune_all_evaluations(&self, keep: u32) -> Result<u64> {
        let done = with_pool!(self, pool => {
            sqlx::query(
                "DELETE FROM evaluations WHERE id IN (
                    SELECT id FROM (
                        SELECT id, ROW_NUMBER() OVER (PARTITION BY merchant_id ORDER BY id DESC) AS n
                        FROM evaluations) ranked
                    WHERE n > $1)",
            )
            .bind(i64::from(keep))
            .execute(pool)
            .await
            .map(|done| done.rows_affected())
        })?;
        Ok(done)
    }
}
