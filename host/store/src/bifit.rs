//! The BIFIT Kassa connector's rows: each merchant's connector settings (tokens sealed by
//! the caller, opaque here) and the online orders the follower tracks to a final status.
//!
//! Claiming due orders is safe with any number of followers: one statement sets a lease
//! (owner + expiry) on rows nobody holds. On PostgreSQL the rows are picked with
//! `FOR UPDATE SKIP LOCKED`, so concurrent claimers never wait for or take each other's
//! rows, and the lease is re-checked on the locked row; on SQLite the statement runs under
//! the database's single write lock. A follower that dies leaves its lease to expire, and
//! the rows are claimed again.

use serde::Serialize;

use super::engine::EngineKind;
use super::error::merchant_or_db;
use super::page::{self, Page};
use super::{AuditOf, Result, Store, StoreError, now_ms};

/// A merchant's connector as stored; the `*_sealed` fields are ciphertexts.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct BifitConnectorRow {
    pub base_url: String,
    pub access_token_sealed: String,
    pub refresh_token_sealed: Option<String>,
    pub token_url: Option<String>,
    pub oauth_client_id: Option<String>,
    pub oauth_client_secret_sealed: Option<String>,
    /// `clientId` or `caller`.
    pub card_lookup: String,
    pub updated_at: i64,
    pub tokens_refreshed_at: Option<i64>,
}

/// Where a tracked order stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum TrackState {
    /// Not final yet; the follower polls it.
    Tracking,
    /// `FINISHED` and recorded in the ledger.
    Recorded,
    /// `REFUSED` or `DELETED`: nothing recorded.
    Voided,
    /// Gave up: too many polls or too old.
    Expired,
    /// Gave up: a problem polling cannot fix (the order is gone, a conflicting record…).
    Failed,
}

impl TrackState {
    pub fn as_str(self) -> &'static str {
        match self {
            TrackState::Tracking => "tracking",
            TrackState::Recorded => "recorded",
            TrackState::Voided => "voided",
            TrackState::Expired => "expired",
            TrackState::Failed => "failed",
        }
    }

    pub fn parse(text: &str) -> Option<TrackState> {
        Some(match text {
            "tracking" => TrackState::Tracking,
            "recorded" => TrackState::Recorded,
            "voided" => TrackState::Voided,
            "expired" => TrackState::Expired,
            "failed" => TrackState::Failed,
            _ => return None,
        })
    }

    pub const ALL: [TrackState; 5] = [
        TrackState::Tracking,
        TrackState::Recorded,
        TrackState::Voided,
        TrackState::Expired,
        TrackState::Failed,
    ];
}

/// A tracked online order, as the admin API shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TrackedOrder {
    pub id: i64,
    pub order_id: String,
    pub card_id: Option<String>,
    pub state: TrackState,
    /// BIFIT's `currentStatusType` when last seen.
    pub bifit_status: Option<String>,
    pub attempts: i64,
    pub first_seen_at: i64,
    pub last_polled_at: Option<i64>,
    pub next_poll_at: Option<i64>,
    pub last_error: Option<String>,
    pub finished_at: Option<i64>,
}

/// A row a follower claimed.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct ClaimedOrder {
    pub id: i64,
    pub merchant_id: String,
    pub order_id: String,
    pub card_id: Option<String>,
    pub attempts: i64,
    pub first_seen_at: i64,
}

#[derive(sqlx::FromRow)]
struct TrackedRow {
    id: i64,
    order_id: String,
    card_id: Option<String>,
    state: String,
    bifit_status: Option<String>,
    attempts: i64,
    first_seen_at: i64,
    last_polled_at: Option<i64>,
    next_poll_at: i64,
    last_error: Option<String>,
    finished_at: Option<i64>,
}

impl TrackedRow {
    fn into_tracked(self) -> Result<TrackedOrder> {
        let state = TrackState::parse(&self.state)
            .ok_or_else(|| StoreError::corrupt(format!("bifit order state '{}'", self.state)))?;
        Ok(TrackedOrder {
            id: self.id,
            order_id: self.order_id,
            card_id: self.card_id,
            next_poll_at: (state == TrackState::Tracking).then_some(self.next_poll_at),
            state,
            bifit_status: self.bifit_status,
            attempts: self.attempts,
            first_seen_at: self.first_seen_at,
            last_polled_at: self.last_polled_at,
            last_error: self.last_error,
            finished_at: self.finished_at,
        })
    }
}

const TRACKED_COLUMNS: &str = "id, order_id, card_id, state, bifit_status, attempts, first_seen_at,
     last_polled_at, next_poll_at, last_error, finished_at";

/// SQLite: $1 owner, $2 lease end, $3 now, $4 batch size. One statement under the
/// database's write lock.
const CLAIM_SQLITE: &str = "UPDATE bifit_orders SET lease_owner = $1, lease_until = $2
     WHERE id IN (SELECT id FROM bifit_orders
                  WHERE state = 'tracking' AND next_poll_at <= $3
                    AND (lease_until IS NULL OR lease_until < $3)
                    AND NOT EXISTS (SELECT 1 FROM merchants
                                    WHERE merchants.id = bifit_orders.merchant_id
                                      AND merchants.disabled_at IS NOT NULL)
                  ORDER BY next_poll_at LIMIT $4)
     RETURNING id, merchant_id, order_id, card_id, attempts, first_seen_at";

/// PostgreSQL, same parameters. The locking pick is a materialized CTE: as an `IN`
/// subquery the planner may run it again per row, and with SKIP LOCKED every rerun
/// returns other rows, so LIMIT would not hold.
const CLAIM_POSTGRES: &str = "WITH due AS MATERIALIZED (
         SELECT id FROM bifit_orders
         WHERE state = 'tracking' AND next_poll_at <= $3
           AND (lease_until IS NULL OR lease_until < $3)
           AND NOT EXISTS (SELECT 1 FROM merchants
                           WHERE merchants.id = bifit_orders.merchant_id
                             AND merchants.disabled_at IS NOT NULL)
         ORDER BY next_poll_at LIMIT $4 FOR UPDATE OF bifit_orders SKIP LOCKED)
     UPDATE bifit_orders SET lease_owner = $1, lease_until = $2
     FROM due WHERE bifit_orders.id = due.id
     RETURNING bifit_orders.id, merchant_id, order_id, card_id, attempts, first_seen_at";

impl Store {
    /// The merchant's connector, if set up.
    pub async fn bifit_connector(&self, merchant: &str) -> Result<Option<BifitConnectorRow>> {
        let row = with_pool!(self, pool => {
            sqlx::query_as(
                "SELECT base_url, access_token AS access_token_sealed,
                        refresh_token AS refresh_token_sealed, token_url, oauth_client_id,
                        oauth_client_secret AS oauth_client_secret_sealed, card_lookup,
                        updated_at, tokens_refreshed_at
                 FROM bifit_connectors WHERE merchant_id = $1",
            )
            .bind(merchant)
            .fetch_optional(pool)
            .await
        })?;
        Ok(row)
    }

    /// Creates or replaces the merchant's connector, with its audit row; returns whether
    /// it was created.
    pub async fn put_bifit_connector(
        &self,
        merchant: &str,
        row: &BifitConnectorRow,
        audit: impl AuditOf<bool>,
    ) -> Result<bool> {
        let created = with_pool!(self, pool => {
            let mut tx = self.turn.begin(pool).await?;
            let before: Option<(String,)> = sqlx::query_as(
                "SELECT merchant_id FROM bifit_connectors WHERE merchant_id = $1",
            )
            .bind(merchant)
            .fetch_optional(&mut *tx)
            .await?;
            sqlx::query(
                "INSERT INTO bifit_connectors (merchant_id, base_url, access_token, refresh_token,
                    token_url, oauth_client_id, oauth_client_secret, card_lookup, updated_at,
                    tokens_refreshed_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
                 ON CONFLICT (merchant_id) DO UPDATE SET base_url = excluded.base_url,
                    access_token = excluded.access_token, refresh_token = excluded.refresh_token,
                    token_url = excluded.token_url, oauth_client_id = excluded.oauth_client_id,
                    oauth_client_secret = excluded.oauth_client_secret,
                    card_lookup = excluded.card_lookup, updated_at = excluded.updated_at,
                    tokens_refreshed_at = excluded.tokens_refreshed_at",
            )
            .bind(merchant)
            .bind(&row.base_url)
            .bind(&row.access_token_sealed)
            .bind(&row.refresh_token_sealed)
            .bind(&row.token_url)
            .bind(&row.oauth_client_id)
            .bind(&row.oauth_client_secret_sealed)
            .bind(&row.card_lookup)
            .bind(row.updated_at)
            .bind(row.tokens_refreshed_at)
            .execute(&mut *tx)
            .await
            .map_err(|e| merchant_or_db(e, merchant))?;
            let created = before.is_none();
            insert_audit!(tx, merchant, &audit(&created))?;
            tx.commit().await?;
            created
        });
        Ok(created)
    }

    /// Stores tokens from an OAuth2 refresh, unless another replica already replaced the
    /// access token the refresh started from. Returns whether these were stored.
    pub async fn set_bifit_tokens(
        &self,
        merchant: &str,
        previous_access_sealed: &str,
        access_sealed: &str,
        refresh_sealed: Option<&str>,
    ) -> Result<bool> {
        let now = now_ms();
        let done = with_pool!(self, pool => {
            sqlx::query(
                "UPDATE bifit_connectors
                 SET access_token = $3, refresh_token = COALESCE($4, refresh_token),
                     tokens_refreshed_at = $5
                 WHERE merchant_id = $1 AND access_token = $2",
            )
            .bind(merchant)
            .bind(previous_access_sealed)
            .bind(access_sealed)
            .bind(refresh_sealed)
            .bind(now)
            .execute(pool)
            .await
            .map(|done| done.rows_affected())
        })?;
        Ok(done > 0)
    }

    /// Starts tracking an online order (due now). An order already known keeps its state;
    /// a card id fills in one not known yet. Returns whether the order is new.
    pub async fn track_bifit_order(
        &self,
        merchant: &str,
        order_id: &str,
        card_id: Option<&str>,
        status: &str,
    ) -> Result<bool> {
        let now = now_ms();
        let inserted = with_pool!(self, pool => {
            let mut tx = self.turn.begin(pool).await?;
            let new: Option<(i64,)> = sqlx::query_as(
                "INSERT INTO bifit_orders (merchant_id, order_id, card_id, state, bifit_status,
                    first_seen_at, next_poll_at)
                 VALUES ($1, $2, $3, 'tracking', $4, $5, $5)
                 ON CONFLICT (merchant_id, order_id) DO NOTHING RETURNING id",
            )
            .bind(merchant)
            .bind(order_id)
            .bind(card_id)
            .bind(status)
            .bind(now)
            .fetch_optional(&mut *tx)
            .await
            .map_err(|e| merchant_or_db(e, merchant))?;
            if new.is_none() && card_id.is_some() {
                sqlx::query(
                    "UPDATE bifit_orders SET card_id = $3
                     WHERE merchant_id = $1 AND order_id = $2 AND card_id IS NULL",
                )
                .bind(merchant)
                .bind(order_id)
                .bind(card_id)
                .execute(&mut *tx)
                .await?;
            }
            tx.commit().await?;
            new.is_some()
        });
        Ok(inserted)
    }

    /// The tracked row for an order, if any.
    pub async fn bifit_order(
        &self,
        merchant: &str,
        order_id: &str,
    ) -> Result<Option<TrackedOrder>> {
        let sql = format!(
            "SELECT {TRACKED_COLUMNS} FROM bifit_orders WHERE merchant_id = $1 AND order_id = $2"
        );
        let row: Option<TrackedRow> = with_pool!(self, pool => {
            sqlx::query_as(sqlx::AssertSqlSafe(sql))
                .bind(merchant)
                .bind(order_id)
                .fetch_optional(pool)
                .await
        })?;
        row.map(TrackedRow::into_tracked).transpose()
    }

    /// Marks an order final (recorded, voided, failed, expired), tracked or not. A
    /// recorded order stays recorded.
    pub async fn finish_bifit_order(
        &self,
        merchant: &str,
        order_id: &str,
        state: TrackState,
        status: Option<&str>,
        error: Option<&str>,
    ) -> Result<()> {
        let now = now_ms();
        with_pool!(self, pool => {
            sqlx::query(
                "INSERT INTO bifit_orders (merchant_id, order_id, state, bifit_status, attempts,
                    first_seen_at, last_polled_at, next_poll_at, last_error, finished_at)
                 VALUES ($1, $2, $3, $4, 1, $5, $5, $5, $6, $5)
                 ON CONFLICT (merchant_id, order_id) DO UPDATE SET state = excluded.state,
                    bifit_status = COALESCE(excluded.bifit_status, bifit_orders.bifit_status),
                    attempts = bifit_orders.attempts + 1, last_polled_at = excluded.last_polled_at,
                    last_error = excluded.last_error, finished_at = excluded.finished_at,
                    lease_owner = NULL, lease_until = NULL
                 WHERE bifit_orders.state <> 'recorded'",
            )
            .bind(merchant)
            .bind(order_id)
            .bind(state.as_str())
            .bind(status)
            .bind(now)
            .bind(error)
            .execute(pool)
            .await
            .map(drop)
            .map_err(|e| merchant_or_db(e, merchant))
        })?;
        Ok(())
    }

    /// Claims up to `batch` orders due for a poll for `lease_ms`, for follower `owner`.
    /// A disabled merchant's orders are never claimed: its connector fetches nothing and
    /// records nothing until the merchant is enabled again (its orders stay due, so the
    /// next round after that polls them).
    pub async fn claim_bifit_orders(
        &self,
        owner: &str,
        batch: u32,
        lease_ms: i64,
    ) -> Result<Vec<ClaimedOrder>> {
        let now = now_ms();
        let sql = match self.engine() {
            EngineKind::Postgres => CLAIM_POSTGRES,
            EngineKind::Sqlite => CLAIM_SQLITE,
        };
        let rows = with_pool!(self, pool => {
            let mut tx = self.turn.begin(pool).await?;
            let rows: Vec<ClaimedOrder> = sqlx::query_as(sql)
                .bind(owner)
                .bind(now.saturating_add(lease_ms))
                .bind(now)
                .bind(i64::from(batch))
                .fetch_all(&mut *tx)
                .await?;
            tx.commit().await?;
            rows
        });
        Ok(rows)
    }

    /// After a poll that found the order still open (or failed): schedules the next poll,
    /// or ends tracking with `give_up`. Only the lease holder's update counts; returns
    /// whether it did.
    pub async fn reschedule_bifit_order(
        &self,
        id: i64,
        owner: &str,
        next_poll_at: i64,
        status: Option<&str>,
        error: Option<&str>,
        give_up: Option<TrackState>,
    ) -> Result<bool> {
        let now = now_ms();
        let state = give_up.unwrap_or(TrackState::Tracking);
        let finished_at = give_up.map(|_| now);
        let done = with_pool!(self, pool => {
            sqlx::query(
                "UPDATE bifit_orders SET attempts = attempts + 1, last_polled_at = $3,
                    next_poll_at = $4, bifit_status = COALESCE($5, bifit_status),
                    last_error = $6, state = $7, finished_at = $8,
                    lease_owner = NULL, lease_until = NULL
                 WHERE id = $1 AND lease_owner = $2 AND state = 'tracking'",
            )
            .bind(id)
            .bind(owner)
            .bind(now)
            .bind(next_poll_at)
            .bind(status)
            .bind(error)
            .bind(state.as_str())
            .bind(finished_at)
            .execute(pool)
            .await
            .map(|done| done.rows_affected())
        })?;
        Ok(done > 0)
    }

    /// Gives up every lease `owner` holds (a follower stopping), so the orders are due
    /// again at once instead of when the leases run out. Returns how many.
    pub async fn release_bifit_leases(&self, owner: &str) -> Result<u64> {
        let done = with_pool!(self, pool => {
            sqlx::query(
                "UPDATE bifit_orders SET lease_owner = NULL, lease_until = NULL
                 WHERE lease_owner = $1",
            )
            .bind(owner)
            .execute(pool)
            .await
            .map(|done| done.rows_affected())
        })?;
        Ok(done)
    }

    /// The merchant's tracked orders, most recently first seen first, optionally in one
    /// state.
    pub async fn list_bifit_orders(
        &self,
        merchant: &str,
        state: Option<TrackState>,
        limit: u32,
        cursor: Option<&str>,
    ) -> Result<Page<TrackedOrder>> {
        let before = page::decode_id(cursor)?;
        let filter = if state.is_some() {
            "AND state = $4"
        } else {
            ""
        };
        let sql = format!(
            "SELECT {TRACKED_COLUMNS} FROM bifit_orders
             WHERE merchant_id = $1 AND id < $2 {filter} ORDER BY id DESC LIMIT $3"
        );
        let rows: Vec<TrackedRow> = with_pool!(self, pool => {
            let mut query = sqlx::query_as(sqlx::AssertSqlSafe(sql.clone()))
                .bind(merchant)
                .bind(before)
                .bind(page::fetch_count(limit));
            if let Some(state) = state {
                query = query.bind(state.as_str());
            }
            query.fetch_all(pool).await
        })?;
        let items = rows
            .into_iter()
            .map(TrackedRow::into_tracked)
            .collect::<Result<Vec<_>>>()?;
        Ok(page::finish(items, limit, |t| t.id.to_string()))
    }

    /// How many orders are being tracked, over every merchant (for the follower's gauge).
    pub async fn count_tracked_bifit_orders(&self) -> Result<i64> {
        let (count,): (i64,) = with_pool!(self, pool => {
            sqlx::query_as("SELECT COUNT(*) FROM bifit_orders WHERE state = 'tracking'")
                .fetch_one(pool)
                .await
        })?;
        Ok(count)
    }

    /// Cards whose customer id is `customer_id` (BIFIT's `clientId`), at most two: enough
    /// to tell "none", "this one" and "ambiguous" apart.
    pub async fn cards_by_customer(
        &self,
        merchant: &str,
        customer_id: &str,
    ) -> Result<Vec<String>> {
        let rows: Vec<(String,)> = with_pool!(self, pool => {
            sqlx::query_as(
                "SELECT card_id FROM cards WHERE merchant_id = $1 AND customer_id = $2
                 ORDER BY card_id LIMIT 2",
            )
            .bind(merchant)
            .bind(customer_id)
            .fetch_all(pool)
            .await
        })?;
        Ok(rows.into_iter().map(|(id,)| id).collect())
    }
}
