//! An open order's reservation (paying with points): at endpoint 1 the points a till was
//! offered are held for that order until the bill completes (`burn.rs` takes what the
//! policy redeems and releases the hold), the order is voided, the merchant releases the
//! card's holds, or the hold expires. One hold per (merchant, *ledger* order id — BIFIT's
//! `bifit:<id>`, so two POSes' equal order numbers never share one): every later answer
//! of endpoint 1 for the order replaces it in the same request, one that reserves nothing
//! included (the row then holds 0 points and records that answer), so the row is always
//! the till's latest offer for the order, written synchronously — endpoint 2 never needs
//! the (asynchronous, lossy) evaluation log. An order that never reserved anything has no
//! row, and answers without a cost for it never write.
//!
//! No two open orders can be offered the same points: [`Store::hold_points`] reads the
//! card's available points and writes the order's hold in one write transaction that
//! first locks the card row — on PostgreSQL the row lock (`LOCK_CARD`), which every
//! replica's holds and bills on that card queue behind; on SQLite `BEGIN IMMEDIATE`, the
//! database's write lock. A bill recording on the card takes the same lock, so a
//! redemption and a new hold never interleave either.

use serde::Serialize;

use super::cards::{CardRow, LOCK_CARD};
use super::reservations::{HELD_ELSEWHERE, Reserved};
use super::{AuditOf, Entity, Result, Store, StoreError};

/// A hold to write for an order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewHold {
    /// The points held. 0 (an answer that reserves nothing) replaces the order's hold
    /// when it has one, so the hold records the latest offer, and writes nothing otherwise.
    pub points: u64,
    /// The offer the till got, as JSON text.
    pub offer: String,
}

/// What releasing a card's holds freed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ReleasedHolds {
    /// The orders whose holds were released (expired ones included).
    pub orders: u64,
    /// The points those holds kept from being offered (their unexpired holds' points):
    /// available again to the card's other orders.
    pub released_points: i64,
}

/// An order's hold as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
#[serde(rename_all = "camelCase")]
pub struct Hold {
    pub order_id: String,
    pub card_id: String,
    pub points: i64,
    /// The offer, as JSON text.
    pub offer: String,
    pub created_at: i64,
    pub expires_at: i64,
}

/// Whether the order has a hold (its points, unused).
const HAS_HOLD: &str = "SELECT points FROM holds WHERE merchant_id = $1 AND order_id = $2";

impl Store {
    /// Endpoint 1's check-and-hold of points alone ([`Store::reserve`] with no pools):
    /// `plan` gets the card's available points and decides the order's hold.
    /// Returns what `plan` returned besides. An unknown card is [`StoreError::NotFound`].
    pub async fn hold_points<T: Send>(
        &self,
        merchant: &str,
        card_id: &str,
        order_id: &str,
        now: i64,
        ttl_ms: i64,
        plan: impl FnOnce(i64) -> (Option<NewHold>, T) + Send,
    ) -> Result<T> {
        self.reserve(
            merchant,
            card_id,
            order_id,
            now,
            ttl_ms,
            &[],
            &[],
            |available| {
                let (hold, out) = plan(available.points);
                Reserved {
                    hold,
                    reservations: Vec::new(),
                    coupons: Vec::new(),
                    out,
                }
            },
        )
        .await
    }

    /// The points the card's unexpired holds keep from being offered again (what the
    /// admin API shows as `heldPoints`).
    pub async fn held_points(&self, merchant: &str, card_id: &str, now: i64) -> Result<i64> {
        let (held,): (i64,) = with_pool!(self, pool => sqlx::query_as(HELD_ELSEWHERE)
            .bind(merchant)
            .bind(card_id)
            .bind(now)
            .bind("")
            .fetch_one(pool)
            .await)?;
        Ok(held)
    }

    /// [`Store::held_points`] of every card with unexpired holds whose id lies in
    /// [`first`, `last`]: a page of the card listing in one query.
    pub async fn held_points_between(
        &self,
        merchant: &str,
        first: &str,
        last: &str,
        now: i64,
    ) -> Result<Vec<(String, i64)>> {
        let rows = with_pool!(self, pool => sqlx::query_as(
            "SELECT card_id, CAST(SUM(points) AS BIGINT) FROM holds
             WHERE merchant_id = $1 AND card_id >= $2 AND card_id <= $3 AND expires_at > $4
             GROUP BY card_id",
        )
        .bind(merchant)
        .bind(first)
        .bind(last)
        .bind(now)
        .fetch_all(pool)
        .await)?;
        Ok(rows)
    }

    /// Whether the order has a hold (of any points, expired or not): endpoint 1 replaces
    /// it with an answer that reserves nothing, and skips the write when there is none.
    pub async fn has_hold(&self, merchant: &str, order_id: &str) -> Result<bool> {
        // SQLite: on this thread when it can (see `local_read`): endpoint 1 asks after
        // every 0.2/0.3 policy's answer.
        if let Some(rows) = self.local.as_ref().and_then(|local| {
            local.rows(HAS_HOLD, &[("$1", &merchant), ("$2", &order_id)], |row| {
                row.get::<_, i64>(0)
            })
        }) {
            return Ok(!rows.is_empty());
        }
        let row: Option<(i64,)> = with_pool!(self, pool => sqlx::query_as(
            HAS_HOLD,
        )
        .bind(merchant)
        .bind(order_id)
        .fetch_optional(pool)
        .await)?;
        Ok(row.is_some())
    }

    /// The order's hold, expired or not (an expired hold is still the order's last offer).
    pub async fn hold(&self, merchant: &str, order_id: &str) -> Result<Option<Hold>> {
        let hold = with_pool!(self, pool => sqlx::query_as(
            "SELECT order_id, card_id, points, offer, created_at, expires_at
             FROM holds WHERE merchant_id = $1 AND order_id = $2",
        )
        .bind(merchant)
        .bind(order_id)
        .fetch_optional(pool)
        .await)?;
        Ok(hold)
    }

    /// Releases the order's hold (a BIFIT order cancelled in BIFIT), under its card's lock
    /// like every write of the holds. Returns the points it kept from being offered (0 for
    /// none, or an expired one). `order_id` is the ledger's order id.
    pub async fn release_order_hold(
        &self,
        merchant: &str,
        order_id: &str,
        now: i64,
    ) -> Result<i64> {
        let released = with_pool!(self, pool => {
            let mut tx = self.turn.begin(pool).await?;
            let card: Option<(String,)> = sqlx::query_as(
                "SELECT card_id FROM holds WHERE merchant_id = $1 AND order_id = $2",
            )
            .bind(merchant)
            .bind(order_id)
            .fetch_optional(&mut *tx)
            .await?;
            let mut released = 0;
            if let Some((card_id,)) = card {
                // The card may be gone (its holds went with it); the lock is then moot.
                let _locked: Option<CardRow> = sqlx::query_as(LOCK_CARD)
                    .bind(merchant)
                    .bind(&card_id)
                    .bind(now)
                    .fetch_optional(&mut *tx)
                    .await?;
                let gone: Option<(i64, i64)> = sqlx::query_as(
                    "DELETE FROM holds WHERE merchant_id = $1 AND order_id = $2
                     RETURNING points, expires_at",
                )
                .bind(merchant)
                .bind(order_id)
                .fetch_optional(&mut *tx)
                .await?;
                released = gone.map_or(0, |(points, expires_at)| if expires_at > now { points } else { 0 });
            }
            tx.commit().await?;
            released
        });
        Ok(released)
    }

    /// Releases every hold of the card (the merchant's way to free points an abandoned
    /// order keeps, before its hold expires), under the card's lock, with its audit row in
    /// the same transaction. An unknown card is [`StoreError::NotFound`].
    pub async fn release_card_holds(
        &self,
        merchant: &str,
        card_id: &str,
        now: i64,
        audit: impl AuditOf<ReleasedHolds>,
    ) -> Result<ReleasedHolds> {
        let released = with_pool!(self, pool => {
            let mut tx = self.turn.begin(pool).await?;
            let card: Option<CardRow> = sqlx::query_as(LOCK_CARD)
                .bind(merchant)
                .bind(card_id)
                .bind(now)
                .fetch_optional(&mut *tx)
                .await?;
            if card.is_none() {
                return Err(StoreError::not_found(Entity::Card, card_id));
            }
            let gone: Vec<(i64, i64)> = sqlx::query_as(
                "DELETE FROM holds WHERE merchant_id = $1 AND card_id = $2
                 RETURNING points, expires_at",
            )
            .bind(merchant)
            .bind(card_id)
            .fetch_all(&mut *tx)
            .await?;
            let released = ReleasedHolds {
                orders: gone.len() as u64,
                released_points: gone
                    .iter()
                    .filter(|(_, expires_at)| *expires_at > now)
                    .map(|(points, _)| *points)
                    .sum(),
            };
            insert_audit!(tx, merchant, &audit(&released))?;
            tx.commit().await?;
            released
        });
        Ok(released)
    }
}
