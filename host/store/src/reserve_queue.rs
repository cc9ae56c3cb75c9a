//! Group commit for endpoint 1's reservations on SQLite. Each reservation is a write
//! transaction, and on SQLite (one writer per database, `synchronous=FULL`) each commit is
//! an fsync: a busy till chain waited on one sync per ask. Here asks that arrive while a
//! commit is in flight queue up and are then reserved together, one after the other in one
//! transaction with one commit, each in a savepoint of its own.
//!
//! The caller's `plan` stays on the caller's task (it may borrow; it never crosses a
//! thread): the writer reads what the order may reserve under the write lock and sends it
//! over, the caller decides and sends the decision back, the writer writes it and goes on
//! to the next ask. Each caller is answered only after the commit that holds its
//! reservation. Nothing changes in what is decided: the reads, the plan and the write of one
//! ask happen in order inside the database's one write transaction, as they did in a
//! transaction of their own, so a budget, a limit or a card's points are checked and taken
//! atomically all the same.
//!
//! When the writer cannot begin or is gone, an ask that was not yet read is reserved on its
//! own transaction instead (nothing of it was written); when a commit fails, its asks get
//! the error, as a lone transaction's caller would.

use sqlx::SqlitePool;
use tokio::sync::{mpsc, oneshot};

use rabat_domain::budget::Pool;

use super::engine::{WriteConn, WriteTx, WriterTurn};
use super::holds::NewHold;
use super::reservations::{Available, Reservation, read_available, write_reservation};
use super::{Result, StoreError};

/// The most asks one transaction takes.
const MAX_BATCH: usize = 128;

/// Asks waiting for the writer; beyond this the callers wait to enqueue (backpressure).
const QUEUE: usize = 4096;

/// What the caller decided: the order's header and its pool reservations.
pub(crate) type Decision = (Option<NewHold>, Vec<Reservation>, Vec<String>);

/// One order's reservation on its way through the writer.
pub(crate) struct Ask {
    pub merchant: String,
    pub card_id: String,
    pub order_id: String,
    pub now: i64,
    pub expires_at: i64,
    pub pools: Vec<Pool>,
    /// The coupon codes asked for, in lock order.
    pub codes: Vec<String>,
    /// What the order may reserve, read under the write lock (or why it could not be).
    pub available: oneshot::Sender<Result<Available>>,
    /// The caller's decision on it.
    pub decision: oneshot::Receiver<Decision>,
    /// Once the transaction holding the reservation committed (or failed).
    pub done: oneshot::Sender<Result<()>>,
}

/// The writer's handle; the writer stops when the last clone is dropped.
#[derive(Debug, Clone)]
pub(crate) struct ReserveQueue {
    queue: mpsc::Sender<Ask>,
}

impl ReserveQueue {
    /// Starts the writer on the current tokio runtime.
    pub(crate) fn start(pool: SqlitePool, turn: WriterTurn) -> ReserveQueue {
        let (queue, rx) = mpsc::channel(QUEUE);
        tokio::spawn(run(pool, turn, rx));
        ReserveQueue { queue }
    }

    /// Queues an ask; gives it back when the writer is gone.
    pub(crate) async fn send(&self, ask: Ask) -> std::result::Result<(), Ask> {
        self.queue.send(ask).await.map_err(|refused| refused.0)
    }
}

async fn run(pool: SqlitePool, turn: WriterTurn, mut rx: mpsc::Receiver<Ask>) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while rx.recv_many(&mut batch, MAX_BATCH).await > 0 {
        let asks = std::mem::replace(&mut batch, Vec::with_capacity(MAX_BATCH));
        commit(&pool, &turn, asks).await;
    }
}

/// The error each caller of a failed commit gets (the database's own is logged once).
fn commit_failed(error: &dyn std::fmt::Display) -> StoreError {
    StoreError::Database(sqlx::Error::Protocol(format!(
        "the reservations' transaction failed: {error}"
    )))
}

async fn commit(pool: &SqlitePool, turn: &WriterTurn, asks: Vec<Ask>) {
    let mut tx = match turn.begin(pool).await {
        Ok(tx) => tx,
        Err(error) => {
            // Dropping the asks unread sends each caller to a transaction of its own.
            tracing::warn!(%error, asks = asks.len(), "could not begin the reservations' transaction");
            return;
        }
    };
    let mut written = Vec::with_capacity(asks.len());
    let mut asks = asks.into_iter();
    for ask in asks.by_ref() {
        match one(&mut tx, ask).await {
            Ok(Some(done)) => written.push(done),
            Ok(None) => {}
            Err(error) => {
                // The transaction itself failed: what it wrote is lost, the rest is unread.
                tracing::warn!(%error, "the reservations' transaction failed");
                for done in written {
                    let _ = done.send(Err(commit_failed(&error)));
                }
                return;
            }
        }
    }
    let committed = tx.commit().await;
    if let Err(error) = &committed {
        tracing::warn!(%error, asks = written.len(), "the reservations' commit failed");
    }
    for done in written {
        let _ = done.send(match &committed {
            Ok(()) => Ok(()),
            Err(error) => Err(commit_failed(error)),
        });
    }
}

/// One ask in its savepoint. `Ok(Some(done))`: written, to be answered after the commit;
/// `Ok(None)`: answered already (its own error) or abandoned by its caller, rolled back;
/// `Err`: the transaction failed as a whole.
async fn one(
    tx: &mut WriteTx<sqlx::Sqlite>,
    ask: Ask,
) -> std::result::Result<Option<oneshot::Sender<Result<()>>>, sqlx::Error> {
    let Ask {
        merchant,
        card_id,
        order_id,
        now,
        expires_at,
        pools,
        codes,
        available,
        decision,
        done,
    } = ask;
    sqlx::query("SAVEPOINT reserve").execute(&mut **tx).await?;
    let read = read_available(
        WriteConn::from(&mut **tx),
        &merchant,
        &card_id,
        &order_id,
        now,
        &pools,
        &codes,
    )
    .await;
    let read = match read {
        Ok(read) => read,
        Err(error) => {
            roll_back(tx).await?;
            let _ = available.send(Err(error));
            return Ok(None);
        }
    };
    if available.send(Ok(read)).is_err() {
        roll_back(tx).await?;
        return Ok(None);
    }
    let Ok((hold, reservations, coupons)) = decision.await else {
        roll_back(tx).await?;
        return Ok(None);
    };
    let wrote = write_reservation(
        WriteConn::from(&mut **tx),
        &merchant,
        &card_id,
        &order_id,
        now,
        expires_at,
        hold,
        &reservations,
        &coupons,
    )
    .await;
    match wrote {
        Ok(()) => {
            sqlx::query("RELEASE SAVEPOINT reserve")
                .execute(&mut **tx)
                .await?;
            Ok(Some(done))
        }
        Err(error) => {
            roll_back(tx).await?;
            let _ = done.send(Err(error));
            Ok(None)
        }
    }
}

async fn roll_back(tx: &mut WriteTx<sqlx::Sqlite>) -> std::result::Result<(), sqlx::Error> {
    sqlx::query("ROLLBACK TO SAVEPOINT reserve")
        .execute(&mut **tx)
        .await?;
    sqlx::query("RELEASE SAVEPOINT reserve")
        .execute(&mut **tx)
        .await?;
    Ok(())
}
