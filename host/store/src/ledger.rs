//! The ledger: an append-only record of completed bills and points adjustments, and the
//! only way a card's visits, spend and (apart from a balance set on the card) points change.
//!
//! Exactly-once recording rests on the unique (merchant_id, order_id) constraint plus one
//! write transaction per call: the ledger row and the card update commit together or not
//! at all. On SQLite `BEGIN IMMEDIATE` serialises the whole call. On PostgreSQL the card
//! row is locked first, so concurrent calls for one card queue; a racer for the same
//! order whose `INSERT … ON CONFLICT DO NOTHING` inserts nothing rolls back and answers
//! from the committed row. Either way, N identical calls give one row and one card update.

use std::str::FromStr;

use rust_decimal::Decimal;
use serde::Serialize;
use serde_json::Value;

use super::burn::{Settled, Settlement};
use super::cards::{CardRow, LOCK_CARD, UPDATE_TOTALS};
use super::engine::WriteConn;
use super::page::{self, Page};
use super::reservations::{Usage, add_usage};
use super::{AuditOf, Entity, Result, Store, StoreError, now_ms};
use rabat_domain::model::Pos;

/// What a ledger row records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum EntryKind {
    /// A completed bill reported by a POS.
    Transaction,
    /// A points change made by the merchant.
    Adjustment,
    /// Points held for an order and redeemed when its bill completed (contract 0.2): its
    /// own row beside the bill's, under the same order id, with negative points.
    Burn,
    /// Points of a lot that expired (issue 19), written by the points task; its reason
    /// names the lot.
    Expire,
}

/// A completed bill to record.
#[derive(Debug, Clone, PartialEq)]
pub struct TransactionRecord {
    pub order_id: String,
    pub card_id: String,
    /// Hex SHA-256 of the canonical request: tells an honest retry (same hash) from a
    /// different bill reusing the order id.
    pub request_hash: String,
    pub total: Decimal,
    /// Points the policy granted (may be negative for a redemption).
    pub points: i64,
    pub points_reason: Option<String>,
    /// When the bill was closed, epoch ms.
    pub occurred_at: i64,
    pub pos: Pos,
    /// The request as received, for the merchant's inspection.
    pub request: Option<Value>,
    /// Why accrual failed, if it did (the bill is recorded with zero points regardless).
    pub accrual_error: Option<String>,
    /// What the policy's `accrue` asked besides points (contract 0.2): a redemption of the
    /// order's held points, card changes. The default does nothing.
    pub settlement: Settlement,
}

/// One ledger row.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LedgerEntry {
    pub id: i64,
    pub kind: EntryKind,
    pub order_id: Option<String>,
    pub card_id: String,
    pub request_hash: Option<String>,
    #[serde(with = "rust_decimal::serde::arbitrary_precision_option")]
    pub total: Option<Decimal>,
    pub points: i64,
    /// The card's points balance right after this row.
    pub points_balance: i64,
    pub reason: Option<String>,
    pub occurred_at: i64,
    pub recorded_at: i64,
    pub pos: Option<Pos>,
    pub request: Option<Value>,
    pub accrual_error: Option<String>,
    /// What the policy changed on the card with this bill (tier, tags) and what it asked
    /// that was dropped: `{"tier": {"from", "to"}, "addedTags", "removedTags", "dropped"}`.
    pub card_changes: Option<Value>,
}

/// The outcome of [`Store::record_transaction`].
#[derive(Debug, Clone, PartialEq)]
pub enum Recorded {
    /// Recorded now; the card was updated.
    New(LedgerEntry),
    /// Already recorded with the same request; nothing changed.
    Duplicate(LedgerEntry),
}

impl Recorded {
    pub fn entry(&self) -> &LedgerEntry {
        match self {
            Recorded::New(entry) | Recorded::Duplicate(entry) => entry,
        }
    }
}

/// Which ledger rows to list.
#[derive(Debug, Clone, Copy, Default)]
pub struct LedgerQuery<'a> {
    pub card_id: Option<&'a str>,
    /// Rows per page, clamped to 1..=500.
    pub limit: u32,
    pub cursor: Option<&'a str>,
}

#[derive(sqlx::FromRow)]
struct LedgerRow {
    id: i64,
    kind: String,
    order_id: Option<String>,
    card_id: String,
    request_hash: Option<String>,
    total: Option<String>,
    points: i64,
    points_balance: i64,
    reason: Option<String>,
    occurred_at: i64,
    recorded_at: i64,
    pos: Option<String>,
    request: Option<String>,
    accrual_error: Option<String>,
    card_changes: Option<String>,
}

impl LedgerRow {
    fn into_entry(self) -> Result<LedgerEntry> {
        let kind = match self.kind.as_str() {
            "transaction" => EntryKind::Transaction,
            "adjustment" => EntryKind::Adjustment,
            "burn" => EntryKind::Burn,
            "expire" => EntryKind::Expire,
            other => return Err(StoreError::corrupt(format!("ledger kind '{other}'"))),
        };
        let total = self.total.as_deref().map(Decimal::from_str).transpose();
        let pos = self
            .pos
            .map(|pos| serde_json::from_value(Value::String(pos)));
        let request = self
            .request
            .as_deref()
            .map(serde_json::from_str)
            .transpose();
        let card_changes = self
            .card_changes
            .as_deref()
            .map(serde_json::from_str)
            .transpose();
        Ok(LedgerEntry {
            id: self.id,
            kind,
            order_id: self.order_id,
            card_id: self.card_id,
            request_hash: self.request_hash,
            total: total.map_err(StoreError::corrupt)?,
            points: self.points,
            points_balance: self.points_balance,
            reason: self.reason,
            occurred_at: self.occurred_at,
            recorded_at: self.recorded_at,
            pos: pos.transpose().map_err(StoreError::corrupt)?,
            request: request.map_err(StoreError::corrupt)?,
            accrual_error: self.accrual_error,
            card_changes: card_changes.map_err(StoreError::corrupt)?,
        })
    }
}

const SELECT_BY_ORDER: &str = "SELECT id, kind, order_id, card_id, request_hash, total, points,
            points_balance, reason, occurred_at, recorded_at, pos, request, accrual_error,
            card_changes
     FROM ledger WHERE merchant_id = $1 AND order_id = $2 AND kind = 'transaction'";

const SELECT_BURN_BY_ORDER: &str =
    "SELECT id, kind, order_id, card_id, request_hash, total, points,
            points_balance, reason, occurred_at, recorded_at, pos, request, accrual_error,
            card_changes
     FROM ledger WHERE merchant_id = $1 AND order_id = $2 AND kind = 'burn'";

const LIST_ALL: &str = "SELECT id, kind, order_id, card_id, request_hash, total, points,
            points_balance, reason, occurred_at, recorded_at, pos, request, accrual_error,
            card_changes
     FROM ledger WHERE merchant_id = $1 AND id < $2 ORDER BY id DESC LIMIT $3";

const LIST_BY_CARD: &str = "SELECT id, kind, order_id, card_id, request_hash, total, points,
            points_balance, reason, occurred_at, recorded_at, pos, request, accrual_error,
            card_changes
     FROM ledger WHERE merchant_id = $1 AND id < $2 AND card_id = $4
     ORDER BY id DESC LIMIT $3";

/// Appends an adjustment: $1 merchant, $2 card, $3 delta, $4 balance after, $5 reason,
/// $6 now. Returns the row id.
pub(crate) const INSERT_ADJUSTMENT: &str = "INSERT INTO ledger
       (merchant_id, kind, card_id, points, points_balance, reason, occurred_at, recorded_at)
     VALUES ($1, 'adjustment', $2, $3, $4, $5, $6, $6) RETURNING id";

/// Same request → the stored row; anything else under that order id → a conflict.
fn repeat_of(existing: LedgerEntry, record: &TransactionRecord) -> Result<Recorded> {
    judge_repeat(existing, &record.order_id, &record.request_hash)
}

fn judge_repeat(existing: LedgerEntry, order_id: &str, request_hash: &str) -> Result<Recorded> {
    if existing.kind == EntryKind::Transaction
        && existing.request_hash.as_deref() == Some(request_hash)
    {
        Ok(Recorded::Duplicate(existing))
    } else {
        Err(StoreError::Conflict {
            entity: Entity::Order,
            id: order_id.to_owned(),
            reason: "already recorded with a different request",
        })
    }
}

/// Why a bill was recorded with 0 points although its policy granted some.
pub const BALANCE_OUT_OF_RANGE: &str =
    "the points would take the card's balance out of range; the bill is recorded with 0 points";

fn out_of_range(what: &str) -> StoreError {
    StoreError::Invalid(format!("{what} is out of range"))
}

impl Store {
    /// The bill already recorded under (merchant, `order_id`), judged as
    /// [`Store::record_transaction`] would: the same `request_hash` is a
    /// [`Recorded::Duplicate`], another a [`StoreError::Conflict`]; `None` when the order
    /// is not recorded yet. Needs no card, so an honest retry is answered even after its
    /// card was deleted.
    pub async fn recorded_transaction(
        &self,
        merchant: &str,
        order_id: &str,
        request_hash: &str,
    ) -> Result<Option<Recorded>> {
        self.ledger_by_order(merchant, order_id)
            .await?
            .map(|entry| judge_repeat(entry, order_id, request_hash))
            .transpose()
    }

    /// The ledger row recorded under (merchant, `order_id`), if any.
    pub async fn ledger_by_order(
        &self,
        merchant: &str,
        order_id: &str,
    ) -> Result<Option<LedgerEntry>> {
        let row: Option<LedgerRow> = with_pool!(self, pool => sqlx::query_as(SELECT_BY_ORDER)
            .bind(merchant)
            .bind(order_id)
            .fetch_optional(pool)
            .await)?;
        row.map(LedgerRow::into_entry).transpose()
    }

    /// Records a completed bill on its card, exactly once per (merchant, order id), in a
    /// transaction of its own. See the module docs for how this holds under concurrency.
    /// An unknown card is [`StoreError::NotFound`]; a different request under a recorded
    /// order id is [`StoreError::Conflict`]. Bills arriving together are better recorded
    /// through [`GroupCommit`](crate::GroupCommit), which shares one commit among them.
    pub async fn record_transaction(
        &self,
        merchant: &str,
        record: &TransactionRecord,
    ) -> Result<Recorded> {
        let recorded_at = now_ms();
        with_pool!(self, pool => {
            let mut tx = self.turn.begin(pool).await?;
            let mut usage = Vec::new();
            let outcome = record_bill(&mut WriteConn::from(&mut *tx), merchant, record, recorded_at, &mut usage).await?;
            match outcome {
                Bill::Done(recorded) => {
                    if matches!(recorded, Recorded::New(_)) {
                        add_usage(&mut WriteConn::from(&mut *tx), usage).await?;
                        tx.commit().await?;
                    }
                    Ok(recorded)
                }
                Bill::LostRace => {
                    // Another call for this order (on another card) committed after our
                    // first look. Its row is committed, so a fresh read outside our
                    // transaction sees it.
                    tx.rollback().await?;
                    let existing: Option<LedgerRow> = sqlx::query_as(SELECT_BY_ORDER)
                        .bind(merchant)
                        .bind(&record.order_id)
                        .fetch_optional(pool)
                        .await?;
                    let existing = existing.ok_or_else(|| StoreError::corrupt("conflicting order row vanished"))?;
                    repeat_of(existing.into_entry()?, record)
                }
            }
        })
    }

    /// [`Store::record_transaction`] with `settlement` in place of the record's, saying what
    /// the settlement did: the redemption's `burn` row and the card changes as noted on
    /// the bill's row (nothing for a repeat).
    pub async fn record_bill(
        &self,
        merchant: &str,
        record: &TransactionRecord,
        settlement: &Settlement,
    ) -> Result<(Recorded, Settled)> {
        let record = TransactionRecord {
            settlement: settlement.clone(),
            ..record.clone()
        };
        let recorded = self.record_transaction(merchant, &record).await?;
        let settled = match &recorded {
            Recorded::New(entry) => {
                let burn: Option<LedgerRow> = with_pool!(self, pool => {
                    sqlx::query_as(SELECT_BURN_BY_ORDER)
                        .bind(merchant)
                        .bind(&record.order_id)
                        .fetch_optional(pool)
                        .await
                })?;
                Settled {
                    burn: burn.map(LedgerRow::into_entry).transpose()?,
                    card_changes: entry.card_changes.clone(),
                }
            }
            _ => Settled {
                burn: None,
                card_changes: None,
            },
        };
        Ok((recorded, settled))
    }

    /// Records a batch of completed bills in **one** write transaction, so they share one
    /// commit (one fsync). The batch is first tried as it comes: when every bill is recorded
    /// (or is an honest repeat) it commits as is. Otherwise — a bill refused (an unknown
    /// card, a conflicting repeat, a value the database will not hold) or lost to a racer —
    /// that attempt is rolled back and the batch is recorded again with each bill in a
    /// savepoint of its own, so the refused ones are rolled back alone and the others
    /// still commit. Answers one result per bill, in order.
    ///
    /// `Err` for the whole call means the transaction as a whole failed (the connection,
    /// the commit, a deadlock): nothing of it is committed, or — if the commit's answer was
    /// lost — all of it is; either way each bill can be recorded again safely, since a
    /// repeat with the same request is a duplicate.
    pub async fn record_transactions(
        &self,
        bills: &[(&str, &TransactionRecord)],
    ) -> Result<Vec<Result<Recorded>>> {
        if bills.is_empty() {
            return Ok(Vec::new());
        }
        let recorded_at = now_ms();
        // Two statements fewer per bill when nothing goes wrong, which is nearly always.
        let all_good = with_pool!(self, pool => {
            let mut tx = self.turn.begin(pool).await?;
            let mut recorded = Vec::with_capacity(bills.len());
            let mut usage = Vec::new();
            for (merchant, record) in bills {
                match record_bill(&mut WriteConn::from(&mut *tx), merchant, record, recorded_at, &mut usage).await {
                    Ok(Bill::Done(done)) => recorded.push(Ok(done)),
                    Ok(Bill::LostRace) | Err(_) => break,
                }
            }
            if recorded.len() == bills.len() {
                // The pools after every card of the batch: the lock order endpoint 1 keeps.
                add_usage(&mut WriteConn::from(&mut *tx), usage).await?;
                tx.commit().await?;
                Some(recorded)
            } else {
                tx.rollback().await?;
                None
            }
        });
        match all_good {
            Some(recorded) => Ok(recorded),
            None => {
                self.record_transactions_one_by_one(bills, recorded_at)
                    .await
            }
        }
    }

    /// [`Store::record_transactions`] with a savepoint per bill.
    async fn record_transactions_one_by_one(
        &self,
        bills: &[(&str, &TransactionRecord)],
        recorded_at: i64,
    ) -> Result<Vec<Result<Recorded>>> {
        let mut results = Vec::with_capacity(bills.len());
        with_pool!(self, pool => {
            let mut tx = self.turn.begin(pool).await?;
            let mut usage = Vec::new();
            for (merchant, record) in bills {
                sqlx::query("SAVEPOINT bill").execute(&mut *tx).await?;
                let mut used = Vec::new();
                let outcome = record_bill(&mut WriteConn::from(&mut *tx), merchant, record, recorded_at, &mut used).await;
                let result = match outcome {
                    Ok(Bill::Done(recorded @ Recorded::New(_))) => {
                        sqlx::query("RELEASE SAVEPOINT bill").execute(&mut *tx).await?;
                        usage.extend(used);
                        Ok(recorded)
                    }
                    Ok(Bill::Done(duplicate)) => {
                        sqlx::query("ROLLBACK TO SAVEPOINT bill").execute(&mut *tx).await?;
                        sqlx::query("RELEASE SAVEPOINT bill").execute(&mut *tx).await?;
                        Ok(duplicate)
                    }
                    Ok(Bill::LostRace) => {
                        // Committed by another transaction since our first look
                        // (PostgreSQL's READ COMMITTED: the next statement sees it).
                        sqlx::query("ROLLBACK TO SAVEPOINT bill").execute(&mut *tx).await?;
                        sqlx::query("RELEASE SAVEPOINT bill").execute(&mut *tx).await?;
                        let existing: Option<LedgerRow> = sqlx::query_as(SELECT_BY_ORDER)
                            .bind(*merchant)
                            .bind(&record.order_id)
                            .fetch_optional(&mut *tx)
                            .await?;
                        match existing {
                            Some(existing) => repeat_of(existing.into_entry()?, record),
                            None => Err(StoreError::corrupt("conflicting order row vanished")),
                        }
                    }
                    Err(error) if error.is_refusal() => {
                        sqlx::query("ROLLBACK TO SAVEPOINT bill").execute(&mut *tx).await?;
                        sqlx::query("RELEASE SAVEPOINT bill").execute(&mut *tx).await?;
                        Err(error)
                    }
                    // The connection or the transaction failed as a whole.
                    Err(error) => return Err(error),
                };
                results.push(result);
            }
            add_usage(&mut WriteConn::from(&mut *tx), usage).await?;
            tx.commit().await?;
        });
        Ok(results)
    }

    /// Adds `delta` points to the card (negative to take away) as an adjustment row; the
    /// card's balance, the ledger and the audit row change together. Returns the new row.
    pub async fn adjust_points(
        &self,
        merchant: &str,
        card_id: &str,
        delta: i64,
        reason: &str,
        audit: impl AuditOf<LedgerEntry>,
    ) -> Result<LedgerEntry> {
        if delta == 0 {
            return Err(StoreError::Invalid(
                "a points adjustment must not be zero".into(),
            ));
        }
        let now = now_ms();
        let entry = with_pool!(self, pool => {
            let mut tx = self.turn.begin(pool).await?;
            let card: Option<CardRow> = sqlx::query_as(LOCK_CARD)
                .bind(merchant)
                .bind(card_id)
                .bind(now)
                .fetch_optional(&mut *tx)
                .await?;
            let card = card
                .ok_or_else(|| StoreError::not_found(Entity::Card, card_id))?
                .into_card()?;
            let balance = card.points.checked_add(delta).ok_or_else(|| out_of_range("points balance"))?;
            sqlx::query("UPDATE cards SET points = $3 WHERE merchant_id = $1 AND card_id = $2")
                .bind(merchant)
                .bind(card_id)
                .bind(balance)
                .execute(&mut *tx)
                .await?;
            let (id,): (i64,) = sqlx::query_as(INSERT_ADJUSTMENT)
                .bind(merchant)
                .bind(card_id)
                .bind(delta)
                .bind(balance)
                .bind(reason)
                .bind(now)
                .fetch_one(&mut *tx)
                .await?;
            crate::lots::move_points(
                &mut WriteConn::from(&mut *tx), merchant, card_id,
                crate::lots::Movement::earned(delta, id), now,
            )
            .await?;
            let entry = adjustment(id, card_id, delta, balance, reason, now);
            insert_audit!(tx, merchant, &audit(&entry))?;
            tx.commit().await?;
            entry
        });
        Ok(entry)
    }

    /// The merchant's ledger, most recently recorded first, optionally for one card.
    pub async fn list_transactions(
        &self,
        merchant: &str,
        query: &LedgerQuery<'_>,
    ) -> Result<Page<LedgerEntry>> {
        let before = page::decode_id(query.cursor)?;
        let fetch = page::fetch_count(query.limit);
        let rows: Vec<LedgerRow> = with_pool!(self, pool => match query.card_id {
            None => sqlx::query_as(LIST_ALL)
                .bind(merchant)
                .bind(before)
                .bind(fetch)
                .fetch_all(pool)
                .await,
            Some(card_id) => sqlx::query_as(LIST_BY_CARD)
                .bind(merchant)
                .bind(before)
                .bind(fetch)
                .bind(card_id)
                .fetch_all(pool)
                .await,
        })?;
        let entries = rows
            .into_iter()
            .map(LedgerRow::into_entry)
            .collect::<Result<Vec<_>>>()?;
        Ok(page::finish(entries, query.limit, |e| e.id.to_string()))
    }
}

/// What [`record_bill`] did.
#[expect(
    clippy::large_enum_variant,
    reason = "lives for one call and is unpacked at once; boxing would cost an allocation per bill"
)]
pub(crate) enum Bill {
    /// Recorded now (written in the open transaction, not yet committed), or a repeat
    /// answered from the stored row (nothing written).
    Done(Recorded),
    /// Another transaction inserted this order id after our first look (PostgreSQL): our
    /// writes must be rolled back and the committed row read afresh.
    LostRace,
}

/// One completed bill's work inside an open write transaction: the repeat check, the card
/// lock, the ledger row and the card's totals. Everything a bill changes is done here, so
/// one bill recorded alone and a batch of them sharing a commit take the same steps.
pub(crate) async fn record_bill(
    conn: &mut WriteConn<'_>,
    merchant: &str,
    record: &TransactionRecord,
    recorded_at: i64,
    usage: &mut Vec<Usage>,
) -> Result<Bill> {
    let request = record.request.as_ref().map(Value::to_string);
    with_conn!(conn, c => {
        // A retry is answered before the card is even looked at, so it still succeeds
        // if the card was deleted since.
        let existing: Option<LedgerRow> = sqlx::query_as(SELECT_BY_ORDER)
            .bind(merchant)
            .bind(&record.order_id)
            .fetch_optional(&mut **c)
            .await?;
        if let Some(existing) = existing {
            return repeat_of(existing.into_entry()?, record).map(Bill::Done);
        }
        let card: Option<CardRow> = sqlx::query_as(LOCK_CARD)
            .bind(merchant)
            .bind(&record.card_id)
            .bind(recorded_at)
            .fetch_optional(&mut **c)
            .await?;
        let card = card
            .ok_or_else(|| StoreError::not_found(Entity::Card, &record.card_id))?
            .into_card()?;
        // A bill is always recorded: points that would take the balance out of range
        // are recorded as 0 with the reason, and the counters saturate, so no stored
        // card can refuse the next honest bill.
        let (granted, accrual_error, points) = match card.points.checked_add(record.points) {
            Some(points) => (record.points, record.accrual_error.clone(), points),
            None => (0, Some(BALANCE_OUT_OF_RANGE.to_owned()), card.points),
        };
        let visits = card.visits.saturating_add(1);
        let spent = card.total_spent.checked_add(record.total).unwrap_or(
            if record.total.is_sign_negative() { Decimal::MIN } else { Decimal::MAX },
        );
        // min/max rather than "latest wins": a late-synced bill must not move last_visit back.
        let first_visit = Some(card.first_visit.map_or(record.occurred_at, |t| t.min(record.occurred_at)));
        let last_visit = Some(card.last_visit.map_or(record.occurred_at, |t| t.max(record.occurred_at)));
        let inserted: Option<(i64,)> = sqlx::query_as(
            "INSERT INTO ledger (merchant_id, kind, order_id, card_id, request_hash, total,
                points, points_balance, reason, occurred_at, recorded_at, pos, request,
                accrual_error)
             VALUES ($1, 'transaction', $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
             ON CONFLICT (merchant_id, order_id, kind) DO NOTHING RETURNING id",
        )
        .bind(merchant)
        .bind(&record.order_id)
        .bind(&record.card_id)
        .bind(&record.request_hash)
        .bind(record.total.to_string())
        .bind(granted)
        .bind(points)
        .bind(&record.points_reason)
        .bind(record.occurred_at)
        .bind(recorded_at)
        .bind(record.pos.as_str())
        .bind(&request)
        .bind(&accrual_error)
        .fetch_optional(&mut **c)
        .await?;
        let Some((id,)) = inserted else {
            return Ok(Bill::LostRace);
        };
        sqlx::query(UPDATE_TOTALS)
            .bind(merchant)
            .bind(&record.card_id)
            .bind(points)
            .bind(i64::from(visits))
            .bind(spent.to_string())
            .bind(first_visit)
            .bind(last_visit)
            .execute(&mut **c)
            .await?;
        crate::lots::move_points(
            &mut WriteConn::from(&mut **c), merchant, &record.card_id,
            crate::lots::Movement::earned(granted, id), recorded_at,
        )
        .await?;
        let (settled, used) = apply_burn_and_card_changes!(
            *c, merchant, record, &record.settlement, &card, points, id, recorded_at
        )?;
        usage.extend(used);
        Ok(Bill::Done(Recorded::New(LedgerEntry {
            id,
            kind: EntryKind::Transaction,
            order_id: Some(record.order_id.clone()),
            card_id: record.card_id.clone(),
            request_hash: Some(record.request_hash.clone()),
            total: Some(record.total),
            points: granted,
            points_balance: points,
            reason: record.points_reason.clone(),
            occurred_at: record.occurred_at,
            recorded_at,
            pos: Some(record.pos),
            request: record.request.clone(),
            accrual_error,
            card_changes: settled.card_changes,
        })))
    })
}

fn adjustment(
    id: i64,
    card_id: &str,
    delta: i64,
    balance: i64,
    reason: &str,
    now: i64,
) -> LedgerEntry {
    LedgerEntry {
        id,
        kind: EntryKind::Adjustment,
        order_id: None,
        card_id: card_id.to_owned(),
        request_hash: None,
        total: None,
        points: delta,
        points_balance: balance,
        reason: Some(reason.to_owned()),
        occurred_at: now,
        recorded_at: now,
        pos: None,
        request: None,
        accrual_error: None,
        card_changes: None,
    }
}
