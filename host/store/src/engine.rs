//! Opening a database: choosing the engine from the URL, configuring each connection for
//! durability, and running that engine's migrations. Also the one behavioural difference
//! the queries need: how a write transaction begins.

use std::ops::{Deref, DerefMut};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{AssertSqlSafe, Postgres, Sqlite, Transaction};

use super::{Result, StoreError};

/// Which database engine a [`Store`](super::Store) runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EngineKind {
    Sqlite,
    Postgres,
}

impl EngineKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EngineKind::Sqlite => "sqlite",
            EngineKind::Postgres => "postgres",
        }
    }
}

/// How to open a store. `StoreOptions::new(url)` gives the defaults.
#[derive(Debug, Clone)]
pub struct StoreOptions {
    /// `postgres://…`, `postgresql://…`, `sqlite://path`, `sqlite:path` or a bare path.
    pub url: String,
    /// Pool size. SQLite serialises writers anyway; this bounds concurrent readers.
    pub max_connections: u32,
    /// How long a call waits for a free pooled connection before failing.
    pub acquire_timeout: Duration,
    /// SQLite: how long a writer waits for another writer's lock before failing.
    pub busy_timeout: Duration,
    /// PostgreSQL: keep rabat's tables in this schema (created if absent) instead of the
    /// connection's default. Lets several deployments, or tests, share one database.
    pub postgres_schema: Option<String>,
    /// SQLite: read the till's card on the calling thread with a connection of the
    /// store's own instead of through the pool's connection thread (`local_read`; on by
    /// default, off only to measure the difference).
    pub local_reads: bool,
}

impl StoreOptions {
    pub fn new(url: impl Into<String>) -> StoreOptions {
        StoreOptions {
            url: url.into(),
            max_connections: 10,
            acquire_timeout: Duration::from_secs(10),
            busy_timeout: Duration::from_secs(5),
            postgres_schema: None,
            local_reads: true,
        }
    }
}

/// The engine-specific pool behind a `Store`.
#[derive(Debug, Clone)]
pub(crate) enum Pool {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

impl Pool {
    pub(crate) fn kind(&self) -> EngineKind {
        match self {
            Pool::Sqlite(_) => EngineKind::Sqlite,
            Pool::Postgres(_) => EngineKind::Postgres,
        }
    }
}

pub(crate) async fn open(options: &StoreOptions) -> Result<Pool> {
    let url = options.url.trim();
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        open_postgres(url, options).await.map(Pool::Postgres)
    } else if url.starts_with("sqlite:") {
        let connect = SqliteConnectOptions::from_str(url)?;
        open_sqlite(connect, options).await.map(Pool::Sqlite)
    } else if url.contains("://") {
        Err(StoreError::Invalid(format!(
            "unsupported database URL '{url}': use postgres://…, sqlite://path or a file path"
        )))
    } else {
        let connect = SqliteConnectOptions::new().filename(url);
        open_sqlite(connect, options).await.map(Pool::Sqlite)
    }
}

async fn open_sqlite(connect: SqliteConnectOptions, options: &StoreOptions) -> Result<SqlitePool> {
    let connect = connect
        .create_if_missing(true)
        // WAL: readers never block the writer, and a commit is one sequential append.
        .journal_mode(SqliteJournalMode::Wal)
        // FULL, not NORMAL: in WAL mode NORMAL skips the fsync at commit, so a power cut
        // can lose the last acknowledged transactions (the database stays consistent, but
        // a POS was already told "recorded"). FULL syncs the WAL on every commit.
        .synchronous(SqliteSynchronous::Full)
        .busy_timeout(options.busy_timeout)
        .foreign_keys(true);
    let pool = SqlitePoolOptions::new()
        .max_connections(options.max_connections)
        .acquire_timeout(options.acquire_timeout)
        .connect_with(connect)
        .await?;
    sqlx::migrate!("./migrations/sqlite").run(&pool).await?;
    Ok(pool)
}

/// How long PostgreSQL lets a session sit idle inside a transaction before ending it (and
/// its locks).
const IDLE_IN_TRANSACTION_TIMEOUT: &str = "15s";

async fn open_postgres(url: &str, options: &StoreOptions) -> Result<PgPool> {
    let mut connect = PgConnectOptions::from_str(url)?.application_name("rabat");
    // Commit returns only once the WAL is flushed, whatever the server default says.
    let mut settings = vec![
        ("synchronous_commit", "on".to_owned()),
        // A task dropped inside a transaction (a cancelled request, an aborted pass) leaves
        // sqlx's ROLLBACK queued until the connection is next used: until then the session
        // is idle in a transaction and keeps its row locks (a card's, a budget's, the
        // housekeeping lease), and every writer of those rows waits — a hang seen in CI.
        // No transaction of rabat's waits between its statements for anything near this.
        (
            "idle_in_transaction_session_timeout",
            IDLE_IN_TRANSACTION_TIMEOUT.to_owned(),
        ),
    ];
    if let Some(schema) = &options.postgres_schema {
        check_identifier(schema)?;
        settings.push(("search_path", schema.clone()));
    }
    connect = connect.options(settings);
    let pool = PgPoolOptions::new()
        .max_connections(options.max_connections)
        .acquire_timeout(options.acquire_timeout)
        .connect_with(connect)
        .await?;
    if let Some(schema) = &options.postgres_schema {
        // Safe to splice: `check_identifier` allows only [a-z0-9_], quoted besides.
        let sql = format!("CREATE SCHEMA IF NOT EXISTS \"{schema}\"");
        sqlx::query(AssertSqlSafe(sql)).execute(&pool).await?;
    }
    sqlx::migrate!("./migrations/postgres").run(&pool).await?;
    Ok(pool)
}

fn check_identifier(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 63
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(StoreError::Invalid(format!(
            "PostgreSQL schema '{name}' must be 1–63 characters of a-z, 0-9 and _"
        )))
    }
}

/// Starting a transaction that will write.
pub(crate) trait WritePool {
    type Db: sqlx::Database;
    /// Whether this process's writers take turns before beginning (see [`WriterTurn`]).
    const TAKES_TURNS: bool;
    async fn begin_write(&self) -> Result<Transaction<'static, Self::Db>, sqlx::Error>;
}

/// SQLite has one writer at a time per database. Left to themselves, the pool's
/// connections race for it: the losers of `BEGIN IMMEDIATE` get `SQLITE_BUSY` and SQLite's
/// busy handler puts their thread to sleep for 1, 2, 5, 10 … 100 ms before trying again,
/// whether or not the lock was freed meanwhile — a burst of endpoint 1's reservations then
/// spends its time asleep, and p99 grows to the handler's longest sleeps. Instead, this
/// process's writers queue here, first come first served, and only the one whose turn it is
/// begins; the busy handler is left for writers of other processes on the same file.
/// PostgreSQL locks rows, not the database, and needs no turn.
#[derive(Debug, Clone)]
pub(crate) struct WriterTurn(Arc<Semaphore>);

impl Default for WriterTurn {
    fn default() -> Self {
        WriterTurn(Arc::new(Semaphore::new(1)))
    }
}

impl WriterTurn {
    /// Begins a write transaction on `pool`, after this process's earlier writers on an
    /// engine that takes turns. The turn is held until the transaction ends.
    pub(crate) async fn begin<P: WritePool>(&self, pool: &P) -> Result<WriteTx<P::Db>> {
        let turn = if P::TAKES_TURNS {
            Some(
                Arc::clone(&self.0)
                    .acquire_owned()
                    .await
                    .map_err(|_| StoreError::Invalid("the store is closing".into()))?,
            )
        } else {
            None
        };
        let tx = pool.begin_write().await?;
        Ok(WriteTx { tx, _turn: turn })
    }
}

/// An open write transaction and, on SQLite, this process's writer turn: dereferences to
/// the connection as `sqlx::Transaction` does; ending it (commit, rollback or drop) ends
/// the turn.
pub(crate) struct WriteTx<DB: sqlx::Database> {
    tx: Transaction<'static, DB>,
    _turn: Option<OwnedSemaphorePermit>,
}

impl<DB: sqlx::Database> WriteTx<DB> {
    pub(crate) async fn commit(self) -> Result<(), sqlx::Error> {
        self.tx.commit().await
    }

    pub(crate) async fn rollback(self) -> Result<(), sqlx::Error> {
        self.tx.rollback().await
    }
}

impl<DB: sqlx::Database> Deref for WriteTx<DB> {
    type Target = DB::Connection;
    fn deref(&self) -> &DB::Connection {
        &self.tx
    }
}

impl<DB: sqlx::Database> DerefMut for WriteTx<DB> {
    fn deref_mut(&mut self) -> &mut DB::Connection {
        &mut self.tx
    }
}

impl WritePool for SqlitePool {
    type Db = Sqlite;
    const TAKES_TURNS: bool = true;
    /// `BEGIN IMMEDIATE` takes the database's write lock up front (waiting up to the busy
    /// timeout). A deferred `BEGIN` that reads and then writes can instead fail with
    /// SQLITE_BUSY when another writer got in between, with no retry. Holding the lock for
    /// the whole transaction also makes read-check-write sequences atomic.
    async fn begin_write(&self) -> Result<Transaction<'static, Sqlite>, sqlx::Error> {
        self.begin_with("BEGIN IMMEDIATE").await
    }
}

impl WritePool for PgPool {
    type Db = Postgres;
    const TAKES_TURNS: bool = false;
    /// READ COMMITTED; the queries take the row locks they need themselves.
    async fn begin_write(&self) -> Result<Transaction<'static, Postgres>, sqlx::Error> {
        self.begin().await
    }
}

/// An open write transaction's connection, on either engine: what a step that runs inside
/// a caller's transaction takes (see `ledger::record_bill`). Use it with `with_conn!`.
pub(crate) enum WriteConn<'a> {
    Sqlite(&'a mut sqlx::SqliteConnection),
    Postgres(&'a mut sqlx::PgConnection),
}

impl<'a> From<&'a mut sqlx::SqliteConnection> for WriteConn<'a> {
    fn from(conn: &'a mut sqlx::SqliteConnection) -> Self {
        WriteConn::Sqlite(conn)
    }
}

impl<'a> From<&'a mut sqlx::PgConnection> for WriteConn<'a> {
    fn from(conn: &'a mut sqlx::PgConnection) -> Self {
        WriteConn::Postgres(conn)
    }
}
