//! Endpoint 1's card read on SQLite without leaving the calling thread (issue 20).
//!
//! sqlx runs every SQLite connection on a thread of its own: each query is a message to
//! that thread and a wake-up back, and at endpoint 1 those switches were most of the
//! server's time (BENCHMARKS.md, "Where the time goes"). The card read — the one database
//! read of a till's question — runs here instead on the caller's thread, on a connection of
//! this module's own: SQLite in WAL mode answers a read by primary key in microseconds and
//! a reader never waits for the writer, so the read is shorter than the hop it replaces.
//!
//! **Never stale.** There is no cache: every read is its own read transaction over the
//! file, and sees every transaction committed before it began — this process's (through
//! sqlx's connections) and other processes' on the same file alike (WAL's shared index).
//! A write acknowledged to a caller has committed, so every later read sees it.
//!
//! Any error here (a busy database during recovery, a schema being migrated, anything)
//! makes the caller fall back to the pool's read, which reports it properly: this path
//! can only be faster, never answer differently.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, Row, StatementStatus, ToSql};

use super::cards::CardRow;
use super::coupons::ExtrasRow;

/// Idle connections kept for the next read (a read holds one only while it runs, so at
/// most one per thread calling at once is ever open).
const MAX_IDLE: usize = 16;

/// How long a read waits for a lock before it gives up and the pool reads instead (WAL
/// readers wait only while a connection recovers the WAL).
const BUSY_TIMEOUT: Duration = Duration::from_millis(20);

pub(crate) struct LocalReads {
    path: PathBuf,
    idle: Mutex<Vec<Connection>>,
    answered: AtomicU64,
    fell_back: AtomicU64,
    reprepared: AtomicU64,
}

/// How many reads this store answered on the caller's thread, and how many it handed to
/// the pool after an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LocalReadStats {
    pub answered: u64,
    pub fell_back: u64,
    /// Times SQLite prepared a cached statement again while running it: each costs more
    /// than the read (a plan that read a bound parameter's value is redone whenever that
    /// parameter is bound again; a schema change redoes every plan once).
    pub reprepared: u64,
}

impl std::fmt::Debug for LocalReads {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalReads")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl LocalReads {
    /// Reads of the database file at `path`; `None` when it is not a file on disk (an
    /// in-memory database is private to sqlx's connections).
    pub(crate) fn new(path: &Path) -> Option<LocalReads> {
        std::fs::metadata(path)
            .is_ok_and(|m| m.is_file())
            .then(|| LocalReads {
                path: path.to_owned(),
                idle: Mutex::new(Vec::new()),
                answered: AtomicU64::new(0),
                fell_back: AtomicU64::new(0),
                reprepared: AtomicU64::new(0),
            })
    }

    fn connect(&self) -> rusqlite::Result<Connection> {
        let connection = Connection::open_with_flags(
            &self.path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        connection.busy_timeout(BUSY_TIMEOUT)?;
        // Only ever reads: a bug here can never write.
        connection.pragma_update(None, "query_only", true)?;
        // The read's small sorts and subqueries in memory: a temporary file per read
        // (SQLite's default) cost more than the read itself (158 against 38 µs).
        connection.pragma_update(None, "temp_store", "memory")?;
        Ok(connection)
    }

    /// Runs `read` on an idle connection (or a new one); `None` on any error, for the
    /// caller to read through the pool instead.
    fn with<T>(&self, read: impl FnOnce(&Connection) -> rusqlite::Result<T>) -> Option<T> {
        let idle = self.idle.lock().ok().and_then(|mut idle| idle.pop());
        let connection = match idle {
            Some(connection) => connection,
            None => match self.connect() {
                Ok(connection) => connection,
                Err(error) => {
                    tracing::debug!(%error, "local read: no connection; reading through the pool");
                    self.fell_back.fetch_add(1, Ordering::Relaxed);
                    return None;
                }
            },
        };
        let result = read(&connection);
        match result {
            Ok(value) => {
                self.answered.fetch_add(1, Ordering::Relaxed);
                if let Ok(mut idle) = self.idle.lock()
                    && idle.len() < MAX_IDLE
                {
                    idle.push(connection);
                }
                Some(value)
            }
            Err(error) => {
                // The connection is dropped: the next read starts afresh.
                tracing::debug!(%error, "local read failed; reading through the pool");
                self.fell_back.fetch_add(1, Ordering::Relaxed);
                None
            }
        }
    }

    pub(crate) fn stats(&self) -> LocalReadStats {
        LocalReadStats {
            answered: self.answered.load(Ordering::Relaxed),
            fell_back: self.fell_back.load(Ordering::Relaxed),
            reprepared: self.reprepared.load(Ordering::Relaxed),
        }
    }

    /// Closes the idle connections (the store is closing).
    pub(crate) fn close(&self) {
        if let Ok(mut idle) = self.idle.lock() {
            idle.clear();
        }
    }

    /// The rows of `sql` (the pool's own statement, `$1`… parameters) for `params`.
    pub(crate) fn rows<T>(
        &self,
        sql: &str,
        params: &[(&str, &dyn ToSql)],
        row: impl Fn(&Row<'_>) -> rusqlite::Result<T>,
    ) -> Option<Vec<T>> {
        self.with(|connection| {
            let mut statement = connection.prepare_cached(sql)?;
            let rows: rusqlite::Result<Vec<T>> = statement.query_map(params, |r| row(r))?.collect();
            let again = statement.reset_status(StatementStatus::RePrepare);
            self.reprepared
                .fetch_add(u64::try_from(again).unwrap_or(0), Ordering::Relaxed);
            rows
        })
    }
}

/// A card row from the columns of [`super::cards::CARD_COLUMNS`], from index `at`.
pub(crate) fn card_row(row: &Row<'_>, at: usize) -> rusqlite::Result<CardRow> {
    Ok(CardRow {
        card_id: row.get(at)?,
        customer_id: row.get(at + 1)?,
        name: row.get(at + 2)?,
        tier: row.get(at + 3)?,
        tags: row.get(at + 4)?,
        points: row.get(at + 5)?,
        pending_points: row.get(at + 6)?,
        visits: row.get(at + 7)?,
        total_spent: row.get(at + 8)?,
        first_visit: row.get(at + 9)?,
        last_visit: row.get(at + 10)?,
    })
}

/// The extras columns of the card-with-extras read, from index `at`.
pub(crate) fn extras_row(row: &Row<'_>, at: usize) -> rusqlite::Result<ExtrasRow> {
    Ok(ExtrasRow {
        held: row.get(at)?,
        profile: row.get(at + 1)?,
        expiry_at: row.get(at + 2)?,
        expiry_points: row.get(at + 3)?,
        code: row.get(at + 4)?,
        batch: row.get(at + 5)?,
        value: row.get(at + 6)?,
        min_bill: row.get(at + 7)?,
        valid_until: row.get(at + 8)?,
    })
}
