//! The evaluation log's writer: endpoint 1 hands each record to a bounded channel and
//! moves on; a background task writes them in batches and prunes to the retention. When
//! the database cannot keep up, records are dropped and counted rather than slowing
//! the till.
//!
//! The queue is bounded in bytes as well as in records (`evaluation-log-max-bytes`,
//! [`DEFAULT_MAX_BYTES`]): a record's JSON is turned into text as it is queued (compact,
//! and its size known) and counted until it is written, so large bills cannot grow the
//! server's memory without bound. A batch the database refuses is written again record by
//! record, so one bad record costs only itself.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use tokio::sync::mpsc;

use crate::metrics::{Kind, Metrics};
use crate::store::{PendingEvaluation, Store};

/// The default bound on the bytes of records queued but not yet written: 64 MiB.
pub const DEFAULT_MAX_BYTES: usize = 64 << 20;

const CHANNEL_CAPACITY: usize = 8192;
const BATCH: usize = 256;
const PRUNE_EVERY: Duration = Duration::from_secs(60);

#[derive(Debug, Clone)]
pub struct EvaluationLog {
    tx: mpsc::Sender<Queued>,
    counters: Arc<Counters>,
    max_bytes: usize,
}

/// A record in the queue, with the bytes it was counted for.
#[derive(Debug)]
struct Queued {
    record: PendingEvaluation,
    bytes: usize,
}

#[derive(Debug, Default)]
pub struct Counters {
    /// Records accepted into the queue.
    pub queued: AtomicU64,
    pub written: AtomicU64,
    pub dropped: AtomicU64,
    pub failed: AtomicU64,
    /// Bytes of the records queued and not yet written (or given up on).
    pub queued_bytes: AtomicUsize,
}

/// A counter's metric name, help and where it lives.
type CounterMetric = (&'static str, &'static str, fn(&Counters) -> &AtomicU64);

impl Counters {
    fn backlog(&self) -> u64 {
        let done = self.written.load(Ordering::Acquire) + self.failed.load(Ordering::Acquire);
        self.queued.load(Ordering::Acquire).saturating_sub(done)
    }
}

impl EvaluationLog {
    /// Starts the writer; it stops once every sender is gone and the queue is drained.
    /// Records queued but not yet written hold at most `max_bytes`.
    pub fn start(
        store: Store,
        retention: u32,
        max_bytes: usize,
    ) -> (Self, tokio::task::JoinHandle<()>) {
        let (tx, rx) = mpsc::channel(CHANNEL_CAPACITY);
        let counters = Arc::new(Counters::default());
        let task = tokio::spawn(write_loop(store, rx, counters.clone(), retention));
        let log = EvaluationLog {
            tx,
            counters,
            max_bytes,
        };
        (log, task)
    }

    /// Queues a record without waiting; drops it (counted) when the queue is full in
    /// records or in bytes.
    pub fn record(&self, record: impl Into<PendingEvaluation>) {
        let record = record.into();
        let bytes = record.bytes();
        let held = self
            .counters
            .queued_bytes
            .fetch_add(bytes, Ordering::AcqRel);
        if held.saturating_add(bytes) > self.max_bytes {
            self.counters
                .queued_bytes
                .fetch_sub(bytes, Ordering::AcqRel);
            self.counters.dropped.fetch_add(1, Ordering::Relaxed);
            return;
        }
        if self.tx.try_send(Queued { record, bytes }).is_ok() {
            self.counters.queued.fetch_add(1, Ordering::Relaxed);
        } else {
            self.counters
                .queued_bytes
                .fetch_sub(bytes, Ordering::AcqRel);
            self.counters.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Records queued but not yet written (or given up on).
    pub fn backlog(&self) -> u64 {
        self.counters.backlog()
    }

    pub fn counters(&self) -> &Counters {
        &self.counters
    }

    /// The queue's counters and backlog, read at every scrape.
    pub fn register_metrics(&self, metrics: &mut Metrics) {
        let counters: [CounterMetric; 4] = [
            (
                "evaluation_log_queued",
                "Evaluation log records queued for the writer",
                |c| &c.queued,
            ),
            (
                "evaluation_log_written",
                "Evaluation log records written to the database",
                |c| &c.written,
            ),
            (
                "evaluation_log_dropped",
                "Evaluation log records dropped because the queue was full (in records or bytes)",
                |c| &c.dropped,
            ),
            (
                "evaluation_log_failed",
                "Evaluation log records the database refused",
                |c| &c.failed,
            ),
        ];
        for (name, help, field) in counters {
            let counters = self.counters.clone();
            metrics.sample(
                name,
                help,
                Kind::Counter,
                Arc::new(move || field(&counters).load(Ordering::Relaxed)),
            );
        }
        // The counters, not a sender: the writer must still stop when the last handler is gone.
        let counters = self.counters.clone();
        metrics.sample(
            "evaluation_log_backlog",
            "Evaluation log records queued but not yet written",
            Kind::Gauge,
            Arc::new(move || counters.backlog()),
        );
        let counters = self.counters.clone();
        metrics.sample(
            "evaluation_log_backlog_bytes",
            "Bytes of evaluation log records queued but not yet written",
            Kind::Gauge,
            Arc::new(move || {
                u64::try_from(counters.queued_bytes.load(Ordering::Relaxed)).unwrap_or(u64::MAX)
            }),
        );
    }
}

async fn write_loop(
    store: Store,
    mut rx: mpsc::Receiver<Queued>,
    counters: Arc<Counters>,
    retention: u32,
) {
    let mut batch = Vec::with_capacity(BATCH);
    let mut last_prune = tokio::time::Instant::now();
    while rx.recv_many(&mut batch, BATCH).await > 0 {
        let bytes: usize = batch.iter().map(|queued| queued.bytes).sum();
        let records: Vec<PendingEvaluation> = batch.drain(..).map(|queued| queued.record).collect();
        write_batch(&store, &records, &counters).await;
        drop(records);
        counters.queued_bytes.fetch_sub(bytes, Ordering::AcqRel);
        if last_prune.elapsed() >= PRUNE_EVERY {
            last_prune = tokio::time::Instant::now();
            if let Err(error) = store.prune_all_evaluations(retention).await {
                tracing::warn!(%error, "could not prune the evaluation log");
            }
        }
    }
}

/// Writes a batch in one transaction; when the database refuses it, writes its records one
/// by one, so only the records it refuses are lost (counted as failed and logged). The
/// writer's step, public so it can be tested on a batch of known make-up.
pub async fn write_batch(store: &Store, records: &[PendingEvaluation], counters: &Counters) {
    let error = match store.insert_pending_evaluations(records).await {
        Ok(()) => {
            counters
                .written
                .fetch_add(records.len() as u64, Ordering::Relaxed);
            return;
        }
        Err(error) => error,
    };
    if records.len() == 1 || !error.is_refusal() {
        // One record, or a database that is failing as a whole: nothing to single out.
        counters
            .failed
            .fetch_add(records.len() as u64, Ordering::Relaxed);
        tracing::warn!(%error, count = records.len(), "could not write evaluation log records");
        return;
    }
    tracing::warn!(%error, count = records.len(), "an evaluation log batch was refused; writing its records one by one");
    for (done, record) in records.iter().enumerate() {
        match store
            .insert_pending_evaluations(std::slice::from_ref(record))
            .await
        {
            Ok(()) => {
                counters.written.fetch_add(1, Ordering::Relaxed);
            }
            Err(error) if error.is_refusal() => {
                counters.failed.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(%error, merchant = %record.merchant_id, order_id = %record.order_id, "the database refused an evaluation log record; dropped");
            }
            Err(error) => {
                let left = (records.len() - done) as u64;
                counters.failed.fetch_add(left, Ordering::Relaxed);
                tracing::warn!(%error, count = left, "could not write evaluation log records");
                return;
            }
        }
    }
}
