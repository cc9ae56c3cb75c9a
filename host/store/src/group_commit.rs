//! Group commit for completed bills: bills that arrive while a commit is in flight wait in
//! a queue and are then recorded together, in one write transaction with one commit (one
//! fsync on SQLite's `synchronous=FULL`, one WAL flush on PostgreSQL's
//! `synchronous_commit=on`), instead of one transaction and one sync each. Nothing waits
//! on a timer: the batch is whatever queued up during the previous commit, so a lone bill
//! is committed at once and a busy server commits in larger groups.
//!
//! Each caller is answered only after the commit that holds its bill (or with that bill's
//! own refusal: an unknown card, a conflicting repeat). Inside the batch every bill has a
//! savepoint, so one refused bill costs only itself ([`Store::record_transactions`]); if
//! the transaction fails as a whole (a lost connection, a failed commit, a deadlock), its
//! bills are recorded again one by one, which is safe because a repeat with the same
//! request is a duplicate.

use std::sync::Arc;

use tokio::sync::{Semaphore, mpsc, oneshot};

use super::ledger::{Recorded, TransactionRecord};
use super::{EngineKind, Result, Store};

/// The most bills one transaction takes.
const MAX_BATCH: usize = 128;

/// Bills waiting for a writer: beyond this the callers wait to enqueue (backpressure).
const QUEUE: usize = 4096;

/// The group-commit writer's handle. Cheap to clone; the writer stops when the last clone
/// is dropped and the queue is drained.
#[derive(Debug, Clone)]
pub struct GroupCommit {
    queue: mpsc::Sender<Pending>,
    store: Store,
}

#[derive(Debug)]
struct Pending {
    merchant: String,
    record: TransactionRecord,
    reply: oneshot::Sender<Result<Recorded>>,
}

impl GroupCommit {
    /// Starts the writer (needs a tokio runtime). SQLite has one writer at a time anyway,
    /// so one transaction is in flight; PostgreSQL commits several batches at once (rows
    /// of different cards do not wait for each other there).
    pub fn start(store: Store) -> GroupCommit {
        let writers = match store.engine() {
            EngineKind::Sqlite => 1,
            EngineKind::Postgres => 4,
        };
        GroupCommit::with_writers(store, writers)
    }

    /// [`GroupCommit::start`] with `writers` transactions in flight at most.
    pub fn with_writers(store: Store, writers: usize) -> GroupCommit {
        let (queue, rx) = mpsc::channel(QUEUE);
        tokio::spawn(dispatch(store.clone(), rx, writers.max(1)));
        GroupCommit { queue, store }
    }

    /// Records a completed bill as [`Store::record_transaction`] does — exactly once per
    /// (merchant, order id), a duplicate or a conflict otherwise — sharing the commit with
    /// the bills that arrive with it. Returns once that commit is done.
    pub async fn record(&self, merchant: &str, record: TransactionRecord) -> Result<Recorded> {
        let (reply, answer) = oneshot::channel();
        let pending = Pending {
            merchant: merchant.to_owned(),
            record,
            reply,
        };
        if let Err(mpsc::error::SendError(pending)) = self.queue.send(pending).await {
            // The writer is gone (shutting down): record this bill on its own.
            return self
                .store
                .record_transaction(&pending.merchant, &pending.record)
                .await;
        }
        match answer.await {
            Ok(result) => result,
            // The writer dropped the bill without an answer (its task panicked): its fate
            // is unknown, and recording it again is safe — a repeat is a duplicate.
            Err(_) => Err(super::StoreError::Database(sqlx::Error::WorkerCrashed)),
        }
    }
}

/// Takes whatever queued up while the writers were busy and hands it to a free writer.
async fn dispatch(store: Store, mut rx: mpsc::Receiver<Pending>, writers: usize) {
    let slots = Arc::new(Semaphore::new(writers));
    loop {
        let Ok(slot) = slots.clone().acquire_owned().await else {
            return;
        };
        let mut batch = Vec::with_capacity(MAX_BATCH);
        if rx.recv_many(&mut batch, MAX_BATCH).await == 0 {
            return;
        }
        let store = store.clone();
        tokio::spawn(async move {
            commit(&store, batch).await;
            drop(slot);
        });
    }
}

async fn commit(store: &Store, mut batch: Vec<Pending>) {
    // The same lock order in every batch (cards are locked as bills are recorded), so
    // concurrent batches on PostgreSQL queue behind each other instead of deadlocking.
    batch.sort_by(|a, b| (&a.merchant, &a.record.card_id).cmp(&(&b.merchant, &b.record.card_id)));
    let bills: Vec<(&str, &TransactionRecord)> = batch
        .iter()
        .map(|p| (p.merchant.as_str(), &p.record))
        .collect();
    let results = store.record_transactions(&bills).await;
    drop(bills);
    match results {
        Ok(results) => {
            for (pending, result) in batch.into_iter().zip(results) {
                // A caller that went away still had its bill recorded, as before.
                let _ = pending.reply.send(result);
            }
        }
        Err(error) if batch.len() == 1 => {
            if let Some(pending) = batch.pop() {
                let _ = pending.reply.send(Err(error));
            }
        }
        Err(error) => {
            tracing::warn!(%error, bills = batch.len(), "a group commit failed; recording its bills one by one");
            for pending in batch {
                let result = store
                    .record_transaction(&pending.merchant, &pending.record)
                    .await;
                let _ = pending.reply.send(result);
            }
        }
    }
}
