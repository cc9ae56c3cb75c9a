//! The evaluation log: what each policy run saw and did, failures included, so a merchant
//! can see why a bill got (or did not get) a discount and replay bills against a new
//! version. Kept for a number of days per merchant, with a row cap as a safety bound
//! (`housekeeping.rs` removes what is older); the JSON of each run is kept zstd-compressed.

use std::collections::BTreeMap;
use std::io::Read;
use std::str::FromStr;

use rust_decimal::Decimal;
use serde::Serialize;
use serde_json::Value;
use serde_json::value::RawValue;

use super::page::{self, Page};
use super::{Entity, Result, Store, StoreError};

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

/// How long the log keeps what it is given, set by the operator: each merchant's
/// retention in days (its own setting, else `default_days`, never above `max_days`), and
/// `max_rows` per merchant as a safety bound whatever the age.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EvaluationRetention {
    pub default_days: u32,
    pub max_days: u32,
    pub max_rows: u64,
}

impl Default for EvaluationRetention {
    fn default() -> Self {
        EvaluationRetention {
            default_days: 35,
            max_days: 90,
            max_rows: 200_000,
        }
    }
}

/// A run ready to be written: its JSON compressed into the stored payload (see
/// [`PendingEvaluation::encode`]), and the two facts the queries need from the JSON.
#[derive(Debug, Clone, PartialEq)]
pub struct EncodedEvaluation {
    pub merchant_id: String,
    pub at: i64,
    pub order_id: String,
    pub card_id: Option<String>,
    pub policy_version: Option<i64>,
    pub outcome: String,
    pub total_discount: Option<Decimal>,
    pub fuel: Option<u64>,
    pub duration_us: u64,
    pub error: Option<String>,
    /// The bill's currency, as the stats group by it.
    pub currency: Option<String>,
    /// A response was logged (what the offer lookup asks for).
    pub answered: bool,
    pub payload: Vec<u8>,
}

/// zstd's level for the payload: 3 (its default) took a 47 kB 200-item bill to 3.4 kB;
/// higher levels gain little on JSON and cost the writer more.
const ZSTD_LEVEL: i32 = 3;
/// zstd's frame magic number: a payload starting with it is compressed; one starting with
/// `{` is plain JSON text (rows migrated from before compression).
const ZSTD_MAGIC: [u8; 4] = [0x28, 0xb5, 0x2f, 0xfd];
/// The largest payload read back: far above anything the writer is given (a bill is
/// bounded by the body limit), so only a corrupt row can reach it.
const MAX_PAYLOAD_BYTES: u64 = 64 << 20;

/// A zstd compression context for evaluation payloads, reused across the records of a
/// batch: creating one per record was 0.8 % of endpoint 1's profile (BENCHMARKS.md).
pub struct EvaluationCompressor(zstd::bulk::Compressor<'static>);

impl EvaluationCompressor {
    pub fn new() -> Result<Self> {
        zstd::bulk::Compressor::new(ZSTD_LEVEL)
            .map(EvaluationCompressor)
            .map_err(|e| StoreError::Invalid(format!("could not set up zstd: {e}")))
    }
}

impl std::fmt::Debug for EvaluationCompressor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("EvaluationCompressor")
    }
}

impl PendingEvaluation {
    /// Compresses the run's JSON texts into one payload (a zstd frame of
    /// `{"request":…,"card":…,"response":…,"logs":…}`, the texts spliced in as they are) and
    /// reads the bill's currency. CPU work: the writer does it off the async threads.
    pub fn encode(&self) -> Result<EncodedEvaluation> {
        self.encode_with(&mut EvaluationCompressor::new()?)
    }

    /// [`PendingEvaluation::encode`] with a compressor the caller keeps across records
    /// (zstd's context is set up once per batch, not once per record).
    pub fn encode_with(&self, compressor: &mut EvaluationCompressor) -> Result<EncodedEvaluation> {
        let null = "null";
        let card = self.card.as_deref().unwrap_or(null);
        let response = self.response.as_deref().unwrap_or(null);
        let mut text = String::with_capacity(
            48 + self.request.len() + card.len() + response.len() + self.logs.len(),
        );
        for (key, value) in [
            ("{\"request\":", self.request.as_str()),
            (",\"card\":", card),
            (",\"response\":", response),
            (",\"logs\":", self.logs.as_str()),
        ] {
            text.push_str(key);
            text.push_str(value);
        }
        text.push('}');
        let payload = compressor
            .0
            .compress(text.as_bytes())
            .map_err(|e| StoreError::Invalid(format!("could not compress an evaluation: {e}")))?;
        #[derive(serde::Deserialize)]
        struct Currency {
            currency: Option<String>,
        }
        let currency = serde_json::from_str::<Currency>(&self.request)
            .ok()
            .and_then(|c| c.currency);
        Ok(EncodedEvaluation {
            merchant_id: self.merchant_id.clone(),
            at: self.at,
            order_id: self.order_id.clone(),
            card_id: self.card_id.clone(),
            policy_version: self.policy_version,
            outcome: self.outcome.clone(),
            total_discount: self.total_discount,
            fuel: self.fuel,
            duration_us: self.duration_us,
            error: self.error.clone(),
            currency,
            answered: self.response.is_some(),
            payload,
        })
    }
}

/// A stored payload's JSON texts, borrowed from the decompressed text.
#[derive(serde::Deserialize)]
struct PayloadTexts<'a> {
    #[serde(borrow)]
    request: &'a RawValue,
    #[serde(borrow)]
    card: Option<&'a RawValue>,
    #[serde(borrow)]
    response: Option<&'a RawValue>,
    #[serde(borrow)]
    logs: Option<&'a RawValue>,
}

/// A stored payload as text: decompressed (at most [`MAX_PAYLOAD_BYTES`]), or as it is
/// when it was migrated uncompressed.
fn payload_text(payload: &[u8]) -> Result<String> {
    let bytes = if payload.starts_with(&ZSTD_MAGIC) {
        let mut out = Vec::new();
        zstd::stream::read::Decoder::new(payload)
            .and_then(|decoder| decoder.take(MAX_PAYLOAD_BYTES + 1).read_to_end(&mut out))
            .map_err(StoreError::corrupt)?;
        if out.len() as u64 > MAX_PAYLOAD_BYTES {
            return Err(StoreError::corrupt("an evaluation payload beyond 64 MiB"));
        }
        out
    } else {
        payload.to_vec()
    };
    String::from_utf8(bytes).map_err(StoreError::corrupt)
}

/// The JSON texts of a stored payload: request, card, response (`None` for JSON null) and
/// logs.
type Texts = (String, Option<String>, Option<String>, String);

fn payload_texts(payload: &[u8]) -> Result<Texts> {
    let text = payload_text(payload)?;
    let texts: PayloadTexts<'_> = serde_json::from_str(&text).map_err(StoreError::corrupt)?;
    let present = |raw: Option<&RawValue>| {
        raw.map(RawValue::get)
            .filter(|t| *t != "null")
            .map(str::to_owned)
    };
    Ok((
        texts.request.get().to_owned(),
        present(texts.card),
        present(texts.response),
        texts
            .logs
            .map_or_else(|| "[]".to_owned(), |l| l.get().to_owned()),
    ))
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
    error: Option<String>,
    payload: Vec<u8>,
}

fn json(text: &str) -> Result<Value> {
    serde_json::from_str(text).map_err(StoreError::corrupt)
}

impl EvaluationRow {
    fn into_stored(self) -> Result<StoredEvaluation> {
        let total_discount = self.total_discount.as_deref().map(Decimal::from_str);
        let (request, card, response, logs) = payload_texts(&self.payload)?;
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
                request: json(&request)?,
                card: card.as_deref().map(json).transpose()?,
                response: response.as_deref().map(json).transpose()?,
                logs: json(&logs)?,
                error: self.error,
            },
        })
    }
}

fn saturating_i64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

const COLUMNS: &str = "id, merchant_id, at, order_id, card_id, policy_version, outcome,
            total_discount, fuel, duration_us, error, payload";

// Both walk `evaluations_by_merchant` / `evaluations_by_outcome` backwards from the cursor.
const LIST_ALL: &str = "SELECT id, merchant_id, at, order_id, card_id, policy_version, outcome,
            total_discount, fuel, duration_us, error, payload
     FROM evaluations WHERE merchant_id = $1 AND id < $2 ORDER BY id DESC LIMIT $3";

const LIST_BY_OUTCOME: &str = "SELECT id, merchant_id, at, order_id, card_id, policy_version,
            outcome, total_discount, fuel, duration_us, error, payload
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
    payload: Vec<u8>,
}

// The newest run of each order (a till may ask again as a bill grows; its last answer is
// what the customer got), newest orders first, one page below a row id. The inner query
// reads `evaluations_by_time` for the period, the outer one the primary key.
const REPLAY: &str = "SELECT id, at, order_id, policy_version, outcome, total_discount, payload
     FROM evaluations
     WHERE merchant_id = $1
       AND id IN (SELECT MAX(id) FROM evaluations
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
                let (request, card, response, _) = payload_texts(&row.payload)?;
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
                    request,
                    card,
                    response,
                })
            })
            .collect()
    }

    /// The order's latest logged endpoint-1 answer, as the till got it: when, and the
    /// answer as JSON text. `None` when no answer for the order is logged (yet). The till
    /// no longer reads it (the order's hold row carries its latest offer, written in the
    /// request); it is the log's by-order lookup, kept for tools and measured in the
    /// housekeeping bench.
    pub async fn latest_answer(
        &self,
        merchant: &str,
        order_id: &str,
    ) -> Result<Option<(i64, String)>> {
        // `evaluations_by_order`, newest first: one index probe (per partition on PostgreSQL).
        let row: Option<(i64, Vec<u8>)> = with_pool!(self, pool => sqlx::query_as(
            "SELECT at, payload FROM evaluations
             WHERE merchant_id = $1 AND order_id = $2 AND answered
             ORDER BY id DESC LIMIT 1",
        )
        .bind(merchant)
        .bind(order_id)
        .fetch_optional(pool)
        .await)?;
        let Some((at, payload)) = row else {
            return Ok(None);
        };
        let (_, _, response, _) = payload_texts(&payload)?;
        Ok(response.map(|response| (at, response)))
    }

    /// Appends a batch of runs (any merchants) in one transaction, kept as long as the
    /// default [`EvaluationRetention`] says (tests and tools; the server's writer passes
    /// the operator's settings to [`Store::insert_encoded_evaluations`]).
    pub async fn insert_evaluations(&self, records: &[EvaluationRecord]) -> Result<()> {
        let pending: Vec<PendingEvaluation> = records.iter().map(PendingEvaluation::from).collect();
        self.insert_pending_evaluations(&pending, &EvaluationRetention::default())
            .await
    }

    /// [`Store::insert_evaluations`] for runs whose JSON is already text, compressed here.
    pub async fn insert_pending_evaluations(
        &self,
        records: &[PendingEvaluation],
        retention: &EvaluationRetention,
    ) -> Result<()> {
        let encoded = records
            .iter()
            .map(PendingEvaluation::encode)
            .collect::<Result<Vec<_>>>()?;
        self.insert_encoded_evaluations(&encoded, retention).await
    }

    /// Appends a batch of compressed runs (any merchants) in one transaction: one disk sync
    /// for the lot, which is why the hot path hands these to a background writer. Each row
    /// expires its merchant's retention (its own setting or `retention.default_days`, at
    /// most `retention.max_days`) after it ran; each merchant's row count goes up in the
    /// same transaction, after the rows (the table's lock before the count rows', as
    /// housekeeping takes them, and merchants in id order, so concurrent writers and a
    /// pass never deadlock on PostgreSQL).
    pub async fn insert_encoded_evaluations(
        &self,
        records: &[EncodedEvaluation],
        retention: &EvaluationRetention,
    ) -> Result<()> {
        if records.is_empty() {
            return Ok(());
        }
        let mut per_merchant: BTreeMap<&str, i64> = BTreeMap::new();
        for r in records {
            *per_merchant.entry(r.merchant_id.as_str()).or_default() += 1;
        }
        let default_days = i64::from(retention.default_days.max(1));
        let max_days = i64::from(retention.max_days.max(1));
        with_pool!(self, pool => {
            let mut tx = self.turn.begin(pool).await?;
            for r in records {
                sqlx::query(
                    "INSERT INTO evaluations (merchant_id, at, expires_at, order_id, card_id,
                        policy_version, outcome, total_discount, currency, fuel, duration_us,
                        answered, error, payload)
                     VALUES ($1, $2, $2 + 86400000 * (
                            SELECT CASE WHEN d > $15 THEN $15 ELSE d END FROM (
                                SELECT COALESCE((SELECT evaluation_retention_days
                                                 FROM merchants WHERE id = $1), $14) AS d) r),
                        $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
                )
                .bind(&r.merchant_id)
                .bind(r.at)
                .bind(&r.order_id)
                .bind(&r.card_id)
                .bind(r.policy_version)
                .bind(&r.outcome)
                .bind(r.total_discount.map(|d| d.to_string()))
                .bind(&r.currency)
                .bind(r.fuel.map(saturating_i64))
                .bind(saturating_i64(r.duration_us))
                .bind(r.answered)
                .bind(&r.error)
                .bind(&r.payload)
                .bind(default_days)
                .bind(max_days)
                .execute(&mut *tx)
                .await?;
            }
            for (merchant, n) in &per_merchant {
                sqlx::query(
                    "INSERT INTO evaluation_counts (merchant_id, logged) VALUES ($1, $2)
                     ON CONFLICT (merchant_id)
                     DO UPDATE SET logged = evaluation_counts.logged + excluded.logged",
                )
                .bind(*merchant)
                .bind(*n)
                .execute(&mut *tx)
                .await?;
            }
            tx.commit().await?;
        });
        Ok(())
    }

    /// One of the merchant's logged runs, by its id.
    pub async fn evaluation(&self, merchant: &str, id: i64) -> Result<StoredEvaluation> {
        let sql = format!("SELECT {COLUMNS} FROM evaluations WHERE merchant_id = $1 AND id = $2");
        let row: Option<EvaluationRow> = with_pool!(self, pool => {
            sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str()))
                .bind(merchant)
                .bind(id)
                .fetch_optional(pool)
                .await
        })?;
        row.ok_or_else(|| StoreError::not_found(Entity::Evaluation, id.to_string()))?
            .into_stored()
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
}
