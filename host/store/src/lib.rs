//! Storage: one [`Store`] over two engines, SQLite (a local file, the default) and
//! PostgreSQL (shared by replicas). Callers never learn which engine they talk to.
//!
//! Every method that touches a merchant's data takes the merchant id and filters on it, so
//! no call can reach another merchant's rows. Money is kept as exact decimal text, times as
//! epoch milliseconds (UTC), secrets only as SHA-256 hashes (see [`credentials`]).
//!
//! Both engines run the same SQL (`$n` placeholders work on both); the only differences —
//! how a write transaction starts and how each connection is configured — live in
//! `engine.rs`.

/// Runs `$body` with `$pool` bound to the concrete pool of whichever engine `$store` uses.
/// The body is compiled once per engine, so it can use each driver's concrete types.
macro_rules! with_pool {
    ($store:expr, $pool:ident => $body:expr) => {
        match &$store.pool {
            $crate::engine::Pool::Sqlite($pool) => $body,
            $crate::engine::Pool::Postgres($pool) => $body,
        }
    };
}

/// Runs `$body` with `$conn` bound to the concrete connection of a `WriteConn` (an open
/// write transaction on either engine); like `with_pool!`, the body is compiled per engine.
macro_rules! with_conn {
    ($write:expr, $conn:ident => $body:expr) => {
        match $write {
            $crate::engine::WriteConn::Sqlite($conn) => $body,
            $crate::engine::WriteConn::Postgres($conn) => $body,
        }
    };
}

/// Inserts a change's audit row inside the change's own transaction (`$tx`), so the
/// change and its row commit together or not at all. Evaluates to the insert's result.
macro_rules! insert_audit {
    ($tx:expr, $merchant:expr, $record:expr) => {{
        let record: &$crate::AuditRecord = $record;
        sqlx::query(
            "INSERT INTO audit_log (merchant_id, at, actor, action, detail)
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind($merchant)
        .bind(record.at)
        .bind(&record.actor)
        .bind(&record.action)
        .bind(record.detail.to_string())
        .execute(&mut *$tx)
        .await
    }};
}

mod audit;
mod bifit;
#[macro_use]
mod burn;
#[macro_use]
mod campaigns;
mod cards;
mod compiled;
mod coupons;
pub mod credentials;
mod engine;
mod error;
mod evaluations;
mod group_commit;
mod holds;
mod housekeeping;
mod ledger;
mod local_read;
mod lots;
mod merchants;
mod notify;
mod page;
mod policies;
mod reservations;
mod reserve_queue;
mod returns;
pub mod stats;

pub use audit::{AuditEntry, AuditOf, AuditRecord};
pub use bifit::{BifitConnectorRow, ClaimedOrder, TrackState, TrackedOrder};
pub use burn::{Settled, Settlement};
pub use campaigns::{
    Campaign, CampaignChange, CampaignEdit, CampaignState, DEFAULT_CAMPAIGN, NewCampaign,
    RunnableCampaign, StackingMode,
};
pub use cards::UpsertedCard;
pub use compiled::CompiledArtifact;
pub use coupons::{Batch, Coupon, CouponCheck, CouponFilter, CouponState, NewBatch, NewCodes};
pub use engine::{EngineKind, StoreOptions};
pub use error::{Entity, StoreError};
pub use evaluations::{
    EncodedEvaluation, EvaluationCompressor, EvaluationQuery, EvaluationRecord,
    EvaluationRetention, PendingEvaluation, ReplaySource, StoredEvaluation,
};
pub use group_commit::GroupCommit;
pub use holds::{Hold, NewHold, ReleasedHolds};
pub use housekeeping::{Housekeeping, HousekeepingOptions, HousekeepingReport};
pub use ledger::{EntryKind, LedgerEntry, LedgerQuery, Recorded, TransactionRecord};
pub use local_read::LocalReadStats;
pub use lots::{AgingReport, Lot, LotSource, NextExpiry, PointsSummary};
pub use merchants::{Merchant, PosToken};
pub use notify::{Change, ChangeListener};
pub use page::Page;
pub use policies::{ActivePolicy, PolicyQuota, PolicyState, PolicyVersion};
pub use reservations::{Available, PoolUse, Reservation, Reserved};
pub use returns::{NewReturn, Return, ReturnedLine, UsageGiven};

/// Result of a storage call.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// The storage interface. Cheap to clone: clones share one connection pool.
#[derive(Clone, Debug)]
pub struct Store {
    pool: engine::Pool,
    /// This process's SQLite writers, one at a time (see [`engine::WriterTurn`]).
    turn: engine::WriterTurn,
    /// SQLite: endpoint 1's reservations, committed in groups (see `reserve_queue`).
    reserve_queue: Option<reserve_queue::ReserveQueue>,
    /// SQLite on a file: endpoint 1's card read on the caller's thread (see `local_read`).
    local: Option<std::sync::Arc<local_read::LocalReads>>,
}

impl Store {
    /// Opens the database named by `url` with default options and brings its schema up to
    /// date. `url` is `postgres://…` / `postgresql://…`, `sqlite://path`, or a bare file path
    /// (SQLite; the file is created if absent).
    pub async fn connect(url: &str) -> Result<Store> {
        Store::connect_with(&StoreOptions::new(url)).await
    }

    /// Like [`Store::connect`], with pool size, timeouts and (PostgreSQL) schema chosen.
    pub async fn connect_with(options: &StoreOptions) -> Result<Store> {
        let pool = engine::open(options).await?;
        let turn = engine::WriterTurn::default();
        let reserve_queue = match &pool {
            engine::Pool::Sqlite(sqlite) => Some(reserve_queue::ReserveQueue::start(
                sqlite.clone(),
                turn.clone(),
            )),
            engine::Pool::Postgres(_) => None,
        };
        let local = match &pool {
            engine::Pool::Sqlite(sqlite) if options.local_reads => {
                local_read::LocalReads::new(sqlite.connect_options().get_filename())
                    .map(std::sync::Arc::new)
            }
            _ => None,
        };
        Ok(Store {
            pool,
            turn,
            reserve_queue,
            local,
        })
    }

    /// SQLite on a file: how many card reads ran on the caller's thread, and how many fell
    /// back to the pool (`None`: reads go through the pool).
    pub fn local_reads(&self) -> Option<LocalReadStats> {
        self.local.as_ref().map(|local| local.stats())
    }

    /// Which engine this store runs on (for logs and metrics labels).
    pub fn engine(&self) -> EngineKind {
        self.pool.kind()
    }

    /// Readiness: a round trip to the database.
    pub async fn ping(&self) -> Result<()> {
        with_pool!(self, pool => sqlx::query("SELECT 1").execute(pool).await.map(drop))?;
        Ok(())
    }

    /// Waits for checked-out connections to come back, then closes the pool (graceful
    /// shutdown; SQLite checkpoints its WAL on the last close).
    pub async fn close(&self) {
        if let Some(local) = &self.local {
            local.close();
        }
        with_pool!(self, pool => pool.close().await)
    }
}

/// The store's clock for `created_at`/`recorded_at`.
use rabat_domain::clock::now_ms;
