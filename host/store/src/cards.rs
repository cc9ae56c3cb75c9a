//! Loyalty cards. The merchant sets identity fields and may set the points balance; visits,
//! total spent and visit times move only through recorded transactions (`ledger.rs`).
//! A balance set here still leaves a ledger row, so the ledger explains every balance.

use std::str::FromStr;

use rust_decimal::Decimal;

use super::error::merchant_or_db;
use super::ledger::INSERT_ADJUSTMENT;
use super::page::{self, Page};
use super::{AuditOf, Entity, Result, Store, StoreError, now_ms};
use rabat_domain::model::Card;

/// What [`Store::upsert_card`] did.
#[derive(Debug, Clone, PartialEq)]
pub struct UpsertedCard {
    /// The card as stored now.
    pub card: Card,
    pub created: bool,
    /// The balance before, for an existing card.
    pub previous_points: Option<i64>,
}

/// A card row as stored; `into_card` checks what the database cannot.
#[derive(sqlx::FromRow)]
pub(crate) struct CardRow {
    pub(crate) card_id: String,
    pub(crate) customer_id: Option<String>,
    pub(crate) name: Option<String>,
    pub(crate) tier: Option<String>,
    pub(crate) tags: String,
    pub(crate) points: i64,
    pub(crate) pending_points: i64,
    pub(crate) visits: i64,
    pub(crate) total_spent: String,
    pub(crate) first_visit: Option<i64>,
    pub(crate) last_visit: Option<i64>,
}

/// One card by its id: the till's read.
const CARD: &str = "SELECT card_id, customer_id, name, tier, tags, points, pending_points, visits,
            total_spent, first_visit, last_visit
     FROM cards WHERE merchant_id = $1 AND card_id = $2";

impl CardRow {
    pub(crate) fn into_card(self) -> Result<Card> {
        Ok(Card {
            tags: serde_json::from_str(&self.tags).map_err(StoreError::corrupt)?,
            visits: u32::try_from(self.visits).map_err(StoreError::corrupt)?,
            total_spent: Decimal::from_str(&self.total_spent).map_err(StoreError::corrupt)?,
            card_id: self.card_id,
            customer_id: self.customer_id,
            name: self.name,
            tier: self.tier,
            points: self.points,
            pending_points: self.pending_points,
            first_visit: self.first_visit,
            last_visit: self.last_visit,
        })
    }
}

/// Locks the card row for the rest of the transaction and returns it. An UPDATE rather
/// than `SELECT … FOR UPDATE` because it means the same on both engines: PostgreSQL takes
/// the row lock (and returns the latest committed values after waiting for it); SQLite
/// already holds the write lock from `BEGIN IMMEDIATE`.
pub(crate) const LOCK_CARD: &str = "UPDATE cards SET updated_at = $3
     WHERE merchant_id = $1 AND card_id = $2
     RETURNING card_id, customer_id, name, tier, tags, points, pending_points, visits, total_spent,
               first_visit, last_visit";

/// Writes what a transaction or adjustment changed on a locked card.
pub(crate) const UPDATE_TOTALS: &str = "UPDATE cards
     SET points = $3, visits = $4, total_spent = $5, first_visit = $6, last_visit = $7
     WHERE merchant_id = $1 AND card_id = $2";

impl Store {
    /// Creates the card or updates its customer id, name, tier and tags, and sets its
    /// points balance to `points` when given (other fields of `card`, its `points`
    /// included, are ignored: they belong to the ledger). With `points` left out the
    /// balance column is not written at all, so points recorded meanwhile are never set
    /// back. A changed balance is logged as an adjustment; the change's audit row is
    /// written in the same transaction.
    pub async fn upsert_card(
        &self,
        merchant: &str,
        card: &Card,
        points: Option<i64>,
        audit: impl AuditOf<UpsertedCard>,
    ) -> Result<UpsertedCard> {
        if card.card_id.is_empty() {
            return Err(StoreError::Invalid("card id must not be empty".into()));
        }
        let tags =
            serde_json::to_string(&card.tags).map_err(|e| StoreError::Invalid(e.to_string()))?;
        let now = now_ms();
        let upserted = with_pool!(self, pool => {
            let mut tx = self.turn.begin(pool).await?;
            // Insert-if-absent first, then lock: two concurrent creators cannot both insert
            // (PostgreSQL makes the second wait, then skip), so no retry loop is needed.
            let inserted: Option<(String,)> = sqlx::query_as(
                "INSERT INTO cards (merchant_id, card_id, created_at, updated_at)
                 VALUES ($1, $2, $3, $3) ON CONFLICT (merchant_id, card_id) DO NOTHING
                 RETURNING card_id",
            )
            .bind(merchant)
            .bind(&card.card_id)
            .bind(now)
            .fetch_optional(&mut *tx)
            .await
            .map_err(|e| merchant_or_db(e, merchant))?;
            // The row lock is held from here to the commit: the balance read here is the
            // one any concurrent ledger write must wait for.
            let old: Option<CardRow> = sqlx::query_as(LOCK_CARD)
                .bind(merchant)
                .bind(&card.card_id)
                .bind(now)
                .fetch_optional(&mut *tx)
                .await?;
            let old = old
                .ok_or_else(|| StoreError::not_found(Entity::Card, &card.card_id))?
                .into_card()?;
            sqlx::query(
                "UPDATE cards SET customer_id = $3, name = $4, tier = $5, tags = $6
                 WHERE merchant_id = $1 AND card_id = $2",
            )
            .bind(merchant)
            .bind(&card.card_id)
            .bind(&card.customer_id)
            .bind(&card.name)
            .bind(&card.tier)
            .bind(&tags)
            .execute(&mut *tx)
            .await?;
            if let Some(points) = points.filter(|p| *p != old.points) {
                let delta = points.checked_sub(old.points).ok_or_else(|| {
                    StoreError::Invalid("points change is out of range".into())
                })?;
                sqlx::query("UPDATE cards SET points = $3 WHERE merchant_id = $1 AND card_id = $2")
                    .bind(merchant)
                    .bind(&card.card_id)
                    .bind(points)
                    .execute(&mut *tx)
                    .await?;
                let (id,): (i64,) = sqlx::query_as(INSERT_ADJUSTMENT)
                    .bind(merchant)
                    .bind(&card.card_id)
                    .bind(delta)
                    .bind(points)
                    .bind("balance set on the card")
                    .bind(now)
                    .fetch_one(&mut *tx)
                    .await?;
                crate::lots::move_points(
                    &mut crate::engine::WriteConn::from(&mut *tx), merchant, &card.card_id,
                    crate::lots::Movement::earned(delta, id), now,
                )
                .await?;
            }
            let created = inserted.is_some();
            let previous_points = (!created).then_some(old.points);
            let upserted = UpsertedCard {
                card: Card {
                    customer_id: card.customer_id.clone(),
                    name: card.name.clone(),
                    tier: card.tier.clone(),
                    tags: card.tags.clone(),
                    points: points.unwrap_or(old.points),
                    ..old
                },
                created,
                previous_points,
            };
            insert_audit!(tx, merchant, &audit(&upserted))?;
            tx.commit().await?;
            upserted
        });
        Ok(upserted)
    }

    /// The card, if the merchant has it.
    pub async fn card(&self, merchant: &str, card_id: &str) -> Result<Option<Card>> {
        // SQLite: on this thread when it can (see `local_read`).
        if let Some(rows) = self.local.as_ref().and_then(|local| {
            local.rows(CARD, &[("$1", &merchant), ("$2", &card_id)], |row| {
                super::local_read::card_row(row, 0)
            })
        }) {
            return rows.into_iter().next().map(CardRow::into_card).transpose();
        }
        let row: Option<CardRow> = with_pool!(self, pool => {
            sqlx::query_as(CARD)
            .bind(merchant)
            .bind(card_id)
            .fetch_optional(pool)
            .await
        })?;
        row.map(CardRow::into_card).transpose()
    }

    /// Deletes the card, with its audit row. Its ledger rows stay: they are the
    /// merchant's history.
    pub async fn delete_card(
        &self,
        merchant: &str,
        card_id: &str,
        audit: impl AuditOf<()>,
    ) -> Result<()> {
        with_pool!(self, pool => {
            let mut tx = self.turn.begin(pool).await?;
            let done = sqlx::query("DELETE FROM cards WHERE merchant_id = $1 AND card_id = $2")
                .bind(merchant)
                .bind(card_id)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            if done == 0 {
                return Err(StoreError::not_found(Entity::Card, card_id));
            }
            // Its holds and lots go with it: a card created again under this id starts
            // unheld and with no points.
            sqlx::query("DELETE FROM holds WHERE merchant_id = $1 AND card_id = $2")
                .bind(merchant)
                .bind(card_id)
                .execute(&mut *tx)
                .await?;
            crate::lots::forget_card(&mut crate::engine::WriteConn::from(&mut *tx), merchant, card_id).await?;
            insert_audit!(tx, merchant, &audit(&()))?;
            tx.commit().await?;
        });
        Ok(())
    }

    /// The merchant's cards in card-id order, `limit` (at most 500) per page.
    pub async fn list_cards(
        &self,
        merchant: &str,
        limit: u32,
        cursor: Option<&str>,
    ) -> Result<Page<Card>> {
        let after = cursor
            .map(page::decode_text)
            .transpose()?
            .unwrap_or_default();
        let rows: Vec<CardRow> = with_pool!(self, pool => {
            sqlx::query_as(
                "SELECT card_id, customer_id, name, tier, tags, points, pending_points, visits, total_spent,
                        first_visit, last_visit
                 FROM cards WHERE merchant_id = $1 AND card_id > $2
                 ORDER BY card_id LIMIT $3",
            )
            .bind(merchant)
            .bind(&after)
            .bind(page::fetch_count(limit))
            .fetch_all(pool)
            .await
        })?;
        let cards = rows
            .into_iter()
            .map(CardRow::into_card)
            .collect::<Result<Vec<_>>>()?;
        Ok(page::finish(cards, limit, |card| card.card_id.clone()))
    }

    /// One page of the cards of one customer, by card id (a customer may hold any number
    /// of cards: one per shop, a replaced one, a family's). `limit` and `cursor` as in
    /// [`Store::list_cards`].
    pub async fn list_customer_cards(
        &self,
        merchant: &str,
        customer_id: &str,
        limit: u32,
        cursor: Option<&str>,
    ) -> Result<Page<Card>> {
        let after = cursor
            .map(page::decode_text)
            .transpose()?
            .unwrap_or_default();
        let rows: Vec<CardRow> = with_pool!(self, pool => {
            sqlx::query_as(
                "SELECT card_id, customer_id, name, tier, tags, points, pending_points, visits, total_spent,
                        first_visit, last_visit
                 FROM cards WHERE merchant_id = $1 AND customer_id = $2 AND card_id > $3
                 ORDER BY card_id LIMIT $4",
            )
            .bind(merchant)
            .bind(customer_id)
            .bind(&after)
            .bind(page::fetch_count(limit))
            .fetch_all(pool)
            .await
        })?;
        let cards = rows
            .into_iter()
            .map(CardRow::into_card)
            .collect::<Result<Vec<_>>>()?;
        Ok(page::finish(cards, limit, |card| card.card_id.clone()))
    }
}
