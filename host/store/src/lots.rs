//! Points over time: lots, vesting and expiry (issue 19).
//!
//! Every earning is a lot in `point_lots` with its own vesting date and expiry, fixed from
//! the merchant's [`PointsRules`] when it is earned. Taking points (a redemption, a
//! negative adjustment or bill, a return taking back what a bill earned) consumes lots:
//! the lot a caller names first (a return takes back from its bill's own lot), then the
//! spendable lots oldest first, then pending ones; what is taken beyond every lot becomes a
//! debt lot that later earnings pay off first.
//!
//! **One lock.** Every change to a card's lots is made under the card's row lock (the
//! `UPDATE cards` a write transaction starts with; SQLite's single writer), in the same
//! transaction as the ledger row that says why. So for every card `SUM(remaining)` equals
//! `cards.points` equals the sum of its ledger rows, and `cards.pending_points` is the sum
//! of its pending lots.
//!
//! **Exactly once.** [`Store::age_points`] (the background task, on every replica) finds
//! cards with lots due, then per card locks it and reads its lots again under the lock:
//! a lot another replica expired meanwhile has nothing left, a crash rolls back the whole
//! card. An expired lot writes one `expire` ledger row.
//!
//! **Held points win.** A lot due while the card's other open orders hold points expires
//! only as far as the card's spendable points still cover those holds; the rest is expired
//! by the first run after the holds end (a redemption takes the oldest lots first, so it
//! usually takes exactly those).

use rabat_domain::lots::PointsRules;
use serde::Serialize;

use super::engine::WriteConn;

/// A card's next expiry as one row `(at, points)` for merchant `$1`, card `$2` (both NULL
/// when nothing is due to expire), through the card's lots' index: the earliest expiry of
/// its lots with points left, and how many points those lots hold. `remaining <> 0` is
/// the card index's own condition (SQLite uses a partial index only for a query that
/// states it; grouped by `expires_at` instead, it walked the expiry index of every
/// merchant's lots: 576 ms at 300 000 lots against 14 µs).
macro_rules! next_expiry_sql {
    () => {
        "SELECT MIN(expires_at) AS at,
                CAST(SUM(CASE WHEN expires_at = (
                         SELECT MIN(expires_at) FROM point_lots
                         WHERE merchant_id = $1 AND card_id = $2 AND remaining <> 0
                           AND remaining > 0)
                     THEN remaining ELSE 0 END) AS BIGINT) AS points
         FROM point_lots
         WHERE merchant_id = $1 AND card_id = $2 AND remaining <> 0 AND remaining > 0"
    };
}
use super::{AuditOf, Entity, Result, Store, StoreError, now_ms};
pub(crate) use next_expiry_sql;

/// Where a lot came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum LotSource {
    /// Points a bill or an adjustment added.
    Earned,
    /// Points a return gave back (the bill had burned them).
    Returned,
    /// The card's balance when lots were introduced.
    Migrated,
    /// Points taken beyond every lot (negative; paid off by the next earnings).
    Debt,
}

impl LotSource {
    fn as_str(self) -> &'static str {
        match self {
            LotSource::Earned => "earned",
            LotSource::Returned => "returned",
            LotSource::Migrated => "migrated",
            LotSource::Debt => "debt",
        }
    }

    fn parse(text: &str) -> Result<LotSource> {
        Ok(match text {
            "earned" => LotSource::Earned,
            "returned" => LotSource::Returned,
            "migrated" => LotSource::Migrated,
            "debt" => LotSource::Debt,
            other => return Err(StoreError::corrupt(format!("lot source '{other}'"))),
        })
    }
}

/// One lot of a card's points.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Lot {
    pub id: i64,
    pub source: LotSource,
    /// The ledger row that earned it, if any.
    pub ledger_id: Option<i64>,
    pub earned_at: i64,
    pub vests_at: i64,
    /// `None`: never expires.
    pub expires_at: Option<i64>,
    pub points: i64,
    pub remaining: i64,
    pub pending: bool,
}

/// A card's points over time: what it can spend, what is pending, what expires next.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PointsSummary {
    /// The balance: the sum of the card's ledger rows.
    pub balance: i64,
    /// Not vested yet (part of the balance, not spendable).
    pub pending_points: i64,
    /// Held by open orders at endpoint 1.
    pub held_points: i64,
    /// `balance - pending - held`, never below zero.
    pub available_points: i64,
    /// The next expiry: when, and how many points expire then.
    pub next_expiry: Option<NextExpiry>,
}

pub use rabat_domain::lots::NextExpiry;

/// What one run of the task did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AgingReport {
    pub cards: u64,
    pub lots_vested: u64,
    pub points_vested: i64,
    pub lots_expired: u64,
    pub points_expired: i64,
    /// Points due to expire that open holds still keep (expired after the holds end).
    pub points_kept_for_holds: i64,
}

type LotRow = (
    i64,
    String,
    Option<i64>,
    i64,
    i64,
    Option<i64>,
    i64,
    i64,
    i64,
);

const LOT_COLUMNS: &str =
    "id, source, ledger_id, earned_at, vests_at, expires_at, points, remaining, pending";

fn lot(row: LotRow) -> Result<Lot> {
    let (id, source, ledger_id, earned_at, vests_at, expires_at, points, remaining, pending) = row;
    Ok(Lot {
        id,
        source: LotSource::parse(&source)?,
        ledger_id,
        earned_at,
        vests_at,
        expires_at,
        points,
        remaining,
        pending: pending != 0,
    })
}

pub(crate) fn parse_rules(text: Option<String>) -> Result<PointsRules> {
    match text {
        None => Ok(PointsRules::default()),
        Some(text) => serde_json::from_str(&text).map_err(StoreError::corrupt),
    }
}

/// The merchant's rules, read inside the caller's transaction.
pub(crate) async fn rules_in(conn: &mut WriteConn<'_>, merchant: &str) -> Result<PointsRules> {
    let text: Option<(Option<String>,)> = with_conn!(conn, c => sqlx::query_as(
        "SELECT points_rules FROM merchants WHERE id = $1",
    )
    .bind(merchant)
    .fetch_optional(&mut **c)
    .await)?;
    parse_rules(text.and_then(|(t,)| t))
}

/// A change of a card's points, as its lots see it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Movement {
    /// Points added (positive) or taken (negative).
    pub delta: i64,
    /// What an added lot is.
    pub source: LotSource,
    /// The ledger row that says why.
    pub ledger_id: Option<i64>,
    /// When taking: the ledger row whose lot to take from first (a return's bill).
    pub prefer: Option<i64>,
}

impl Movement {
    /// `delta` points earned (or taken, when negative) by the ledger row `ledger_id`.
    pub(crate) fn earned(delta: i64, ledger_id: i64) -> Movement {
        Movement {
            delta,
            source: LotSource::Earned,
            ledger_id: Some(ledger_id),
            prefer: None,
        }
    }
}

/// Changes a locked card's lots by `movement` (the caller writes the ledger row and
/// `cards.points`): positive earns a lot (after paying off debt), negative takes from the
/// lots. Reads the merchant's rules only when it earns.
pub(crate) async fn move_points(
    conn: &mut WriteConn<'_>,
    merchant: &str,
    card_id: &str,
    movement: Movement,
    now: i64,
) -> Result<()> {
    let Movement {
        delta,
        source,
        ledger_id,
        prefer,
    } = movement;
    if delta > 0 {
        let rules = rules_in(conn, merchant).await?;
        earn(
            conn, merchant, card_id, delta, source, ledger_id, now, &rules,
        )
        .await
    } else if delta < 0 {
        take(conn, merchant, card_id, delta.saturating_neg(), prefer).await
    } else {
        Ok(())
    }
}

#[allow(clippy::too_many_arguments)]
async fn earn(
    conn: &mut WriteConn<'_>,
    merchant: &str,
    card_id: &str,
    points: i64,
    source: LotSource,
    ledger_id: Option<i64>,
    now: i64,
    rules: &PointsRules,
) -> Result<()> {
    let mut left = points;
    with_conn!(conn, c => {
        // Debt first, oldest first.
        let debts: Vec<(i64, i64)> = sqlx::query_as(
            "SELECT id, remaining FROM point_lots
             WHERE merchant_id = $1 AND card_id = $2 AND remaining <> 0 AND remaining < 0
             ORDER BY id",
        )
        .bind(merchant)
        .bind(card_id)
        .fetch_all(&mut **c)
        .await?;
        for (id, remaining) in debts {
            if left == 0 {
                break;
            }
            let paid = left.min(remaining.saturating_neg());
            sqlx::query("UPDATE point_lots SET remaining = remaining + $2 WHERE id = $1")
                .bind(id)
                .bind(paid)
                .execute(&mut **c)
                .await?;
            left -= paid;
        }
        if left > 0 {
            let vests_at = rules.vests_at(now);
            let pending = vests_at > now;
            sqlx::query(
                "INSERT INTO point_lots (merchant_id, card_id, source, ledger_id, earned_at,
                     vests_at, expires_at, points, remaining, pending)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8, $9)",
            )
            .bind(merchant)
            .bind(card_id)
            .bind(source.as_str())
            .bind(ledger_id)
            .bind(now)
            .bind(vests_at)
            .bind(rules.expires_at(now))
            .bind(left)
            .bind(i64::from(pending))
            .execute(&mut **c)
            .await?;
            if pending {
                sqlx::query(
                    "UPDATE cards SET pending_points = pending_points + $3
                     WHERE merchant_id = $1 AND card_id = $2",
                )
                .bind(merchant)
                .bind(card_id)
                .bind(left)
                .execute(&mut **c)
                .await?;
            }
        }
        Ok(())
    })
}

async fn take(
    conn: &mut WriteConn<'_>,
    merchant: &str,
    card_id: &str,
    points: i64,
    prefer: Option<i64>,
) -> Result<()> {
    let mut left = points;
    let mut from_pending = 0i64;
    with_conn!(conn, c => {
        let lots: Vec<(i64, i64, i64)> = sqlx::query_as(
            "SELECT id, remaining, pending FROM point_lots
             WHERE merchant_id = $1 AND card_id = $2 AND remaining <> 0 AND remaining > 0
             ORDER BY CASE WHEN ledger_id = $3 THEN 0 ELSE 1 END, pending, earned_at, id",
        )
        .bind(merchant)
        .bind(card_id)
        .bind(prefer.unwrap_or(-1))
        .fetch_all(&mut **c)
        .await?;
        for (id, remaining, pending) in lots {
            if left == 0 {
                break;
            }
            let taken = left.min(remaining);
            sqlx::query("UPDATE point_lots SET remaining = remaining - $2 WHERE id = $1")
                .bind(id)
                .bind(taken)
                .execute(&mut **c)
                .await?;
            if pending != 0 {
                from_pending += taken;
            }
            left -= taken;
        }
        if from_pending > 0 {
            sqlx::query(
                "UPDATE cards SET pending_points = pending_points - $3
                 WHERE merchant_id = $1 AND card_id = $2",
            )
            .bind(merchant)
            .bind(card_id)
            .bind(from_pending)
            .execute(&mut **c)
            .await?;
        }
        if left > 0 {
            sqlx::query(
                "INSERT INTO point_lots (merchant_id, card_id, source, earned_at, vests_at,
                     points, remaining, pending)
                 VALUES ($1, $2, 'debt', 0, 0, $3, $3, 0)",
            )
            .bind(merchant)
            .bind(card_id)
            .bind(left.saturating_neg())
            .execute(&mut **c)
            .await?;
        }
        Ok(())
    })
}

/// Deletes a deleted card's lots (its ledger rows stay, as history).
pub(crate) async fn forget_card(
    conn: &mut WriteConn<'_>,
    merchant: &str,
    card_id: &str,
) -> Result<()> {
    with_conn!(conn, c => sqlx::query(
        "DELETE FROM point_lots WHERE merchant_id = $1 AND card_id = $2",
    )
    .bind(merchant)
    .bind(card_id)
    .execute(&mut **c)
    .await
    .map(|_| ()))?;
    Ok(())
}

impl Store {
    /// The merchant's rules for points over time.
    pub async fn points_rules(&self, merchant: &str) -> Result<PointsRules> {
        let text: Option<(Option<String>,)> = with_pool!(self, pool => sqlx::query_as(
            "SELECT points_rules FROM merchants WHERE id = $1",
        )
        .bind(merchant)
        .fetch_optional(pool)
        .await)?;
        match text {
            None => Err(StoreError::not_found(Entity::Merchant, merchant)),
            Some((text,)) => parse_rules(text),
        }
    }

    /// Sets the merchant's rules for points over time, with its audit row. They apply to
    /// lots earned from now on; lots that have no expiry yet (earned while points never
    /// expired, or migrated) get one counted from now, so nothing a customer has expires
    /// sooner than a full term from the change. Answers how many lots got an expiry.
    pub async fn set_points_rules(
        &self,
        merchant: &str,
        rules: &PointsRules,
        audit: impl AuditOf<u64>,
    ) -> Result<u64> {
        let text = serde_json::to_string(rules).map_err(|e| StoreError::Invalid(e.to_string()))?;
        let now = now_ms();
        with_pool!(self, pool => {
            let mut tx = self.turn.begin(pool).await?;
            let done = sqlx::query("UPDATE merchants SET points_rules = $2 WHERE id = $1")
                .bind(merchant)
                .bind(&text)
                .execute(&mut *tx)
                .await?;
            if done.rows_affected() != 1 {
                return Err(StoreError::not_found(Entity::Merchant, merchant));
            }
            let mut dated = 0;
            if let Some(expires_at) = rules.expires_at(now) {
                dated = sqlx::query(
                    "UPDATE point_lots SET expires_at = $2
                     WHERE merchant_id = $1 AND expires_at IS NULL AND remaining > 0",
                )
                .bind(merchant)
                .bind(expires_at)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            }
            insert_audit!(tx, merchant, &audit(&dated))?;
            tx.commit().await?;
            Ok(dated)
        })
    }

    /// A card's lots with points left (or owed), oldest first.
    pub async fn card_lots(&self, merchant: &str, card_id: &str) -> Result<Vec<Lot>> {
        let sql = format!(
            "SELECT {LOT_COLUMNS} FROM point_lots
             WHERE merchant_id = $1 AND card_id = $2 AND remaining <> 0 ORDER BY id"
        );
        let rows: Vec<LotRow> = with_pool!(self, pool => sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(merchant)
            .bind(card_id)
            .fetch_all(pool)
            .await)?;
        rows.into_iter().map(lot).collect()
    }

    /// A card's points over time at `now`: balance, pending, held, available, next expiry.
    pub async fn points_summary(
        &self,
        merchant: &str,
        card_id: &str,
        now: i64,
    ) -> Result<PointsSummary> {
        type Row = (i64, i64, i64, Option<i64>, Option<i64>);
        let row: Option<Row> = with_pool!(self, pool => sqlx::query_as(concat!(
            "SELECT c.points, c.pending_points,
                    (SELECT CAST(COALESCE(SUM(h.points), 0) AS BIGINT) FROM holds h
                     WHERE h.merchant_id = c.merchant_id AND h.card_id = c.card_id
                       AND h.expires_at > $3),
                    n.at, n.points
             FROM cards c
             CROSS JOIN (",
            next_expiry_sql!(),
            ") n
             WHERE c.merchant_id = $1 AND c.card_id = $2"
            ),
        )
        .bind(merchant)
        .bind(card_id)
        .bind(now)
        .fetch_optional(pool)
        .await)?;
        let (balance, pending, held, at, points) =
            row.ok_or_else(|| StoreError::not_found(Entity::Card, card_id))?;
        Ok(PointsSummary {
            balance,
            pending_points: pending,
            held_points: held,
            available_points: balance.saturating_sub(pending).saturating_sub(held).max(0),
            next_expiry: at.zip(points).map(|(at, points)| NextExpiry { at, points }),
        })
    }

    /// One run of the points task at `now`: vests the lots whose vesting date has come and
    /// expires the lots past their expiry (an `expire` ledger row each), every card with a
    /// lot due once, `page` cards per read. Safe on every replica at once and across
    /// crashes: see the module documentation.
    pub async fn age_points(&self, now: i64, page: u32) -> Result<AgingReport> {
        let mut report = AgingReport::default();
        let mut after = (String::new(), String::new());
        loop {
            let due: Vec<(String, String)> = with_pool!(self, pool => sqlx::query_as(
                "SELECT merchant_id, card_id FROM (
                     SELECT merchant_id, card_id FROM point_lots
                     WHERE remaining > 0 AND expires_at IS NOT NULL AND expires_at <= $1
                     UNION
                     SELECT merchant_id, card_id FROM point_lots
                     WHERE pending = 1 AND vests_at <= $1) d
                 WHERE merchant_id > $2 OR (merchant_id = $2 AND card_id > $3)
                 ORDER BY merchant_id, card_id LIMIT $4",
            )
            .bind(now)
            .bind(&after.0)
            .bind(&after.1)
            .bind(i64::from(page.max(1)))
            .fetch_all(pool)
            .await)?;
            let full = due.len() >= page.max(1) as usize;
            for (merchant, card_id) in due {
                self.age_card(&merchant, &card_id, now, &mut report).await?;
                after = (merchant, card_id);
            }
            if !full {
                return Ok(report);
            }
        }
    }

    /// Vests and expires one card's due lots under its lock.
    async fn age_card(
        &self,
        merchant: &str,
        card_id: &str,
        now: i64,
        report: &mut AgingReport,
    ) -> Result<()> {
        with_pool!(self, pool => {
            let mut tx = self.turn.begin(pool).await?;
            // The card's lock: every change to its lots takes it first.
            let card: Option<(i64, i64)> = sqlx::query_as(
                "UPDATE cards SET updated_at = updated_at WHERE merchant_id = $1 AND card_id = $2
                 RETURNING points, pending_points",
            )
            .bind(merchant)
            .bind(card_id)
            .fetch_optional(&mut *tx)
            .await?;
            let Some((mut balance, mut pending)) = card else {
                // Deleted meanwhile: its lots go with it.
                forget_card(&mut WriteConn::from(&mut *tx), merchant, card_id).await?;
                tx.commit().await?;
                return Ok(());
            };
            report.cards += 1;
            // Vesting first: a lot that vests and expires at once is spendable, then gone.
            let vested: Vec<(i64,)> = sqlx::query_as(
                "UPDATE point_lots SET pending = 0
                 WHERE merchant_id = $1 AND card_id = $2 AND pending = 1 AND vests_at <= $3
                 RETURNING remaining",
            )
            .bind(merchant)
            .bind(card_id)
            .bind(now)
            .fetch_all(&mut *tx)
            .await?;
            let vested_points: i64 = vested.iter().map(|(r,)| *r).sum();
            if !vested.is_empty() {
                pending -= vested_points;
                sqlx::query(
                    "UPDATE cards SET pending_points = $3 WHERE merchant_id = $1 AND card_id = $2",
                )
                .bind(merchant)
                .bind(card_id)
                .bind(pending.max(0))
                .execute(&mut *tx)
                .await?;
                report.lots_vested += vested.len() as u64;
                report.points_vested += vested_points;
            }
            let due: Vec<(i64, i64, i64)> = sqlx::query_as(
                "SELECT id, remaining, pending FROM point_lots
                 WHERE merchant_id = $1 AND card_id = $2 AND remaining <> 0 AND remaining > 0
                   AND expires_at IS NOT NULL AND expires_at <= $3
                 ORDER BY expires_at, id",
            )
            .bind(merchant)
            .bind(card_id)
            .bind(now)
            .fetch_all(&mut *tx)
            .await?;
            if !due.is_empty() {
                let (held,): (i64,) = sqlx::query_as(
                    "SELECT CAST(COALESCE(SUM(points), 0) AS BIGINT) FROM holds
                     WHERE merchant_id = $1 AND card_id = $2 AND expires_at > $3",
                )
                .bind(merchant)
                .bind(card_id)
                .bind(now)
                .fetch_one(&mut *tx)
                .await?;
                for (lot_id, remaining, lot_pending) in due {
                    // What the holds still need stays until they end (pending points are
                    // not spendable, so holds never rely on them).
                    let spare = if lot_pending != 0 {
                        remaining
                    } else {
                        balance.saturating_sub(pending).saturating_sub(held).clamp(0, remaining)
                    };
                    report.points_kept_for_holds += remaining - spare;
                    if spare == 0 {
                        continue;
                    }
                    balance -= spare;
                    if lot_pending != 0 {
                        pending -= spare;
                    }
                    sqlx::query("UPDATE point_lots SET remaining = remaining - $2 WHERE id = $1")
                        .bind(lot_id)
                        .bind(spare)
                        .execute(&mut *tx)
                        .await?;
                    sqlx::query(
                        "INSERT INTO ledger (merchant_id, kind, card_id, points, points_balance,
                             reason, occurred_at, recorded_at, lot_id)
                         VALUES ($1, 'expire', $2, $3, $4, $5, $6, $6, $7)",
                    )
                    .bind(merchant)
                    .bind(card_id)
                    .bind(-spare)
                    .bind(balance)
                    .bind(format!("{spare} points of lot {lot_id} expired"))
                    .bind(now)
                    .bind(lot_id)
                    .execute(&mut *tx)
                    .await?;
                    report.lots_expired += 1;
                    report.points_expired += spare;
                }
                sqlx::query(
                    "UPDATE cards SET points = $3, pending_points = $4
                     WHERE merchant_id = $1 AND card_id = $2",
                )
                .bind(merchant)
                .bind(card_id)
                .bind(balance)
                .bind(pending.max(0))
                .execute(&mut *tx)
                .await?;
            }
            tx.commit().await?;
            Ok(())
        })
    }
}
