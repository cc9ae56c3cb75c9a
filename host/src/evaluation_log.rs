//! The evaluation log's writer: endpoint 1 hands each record to a bounded channel and
//! moves on; a background task compresses them (on a blocking thread) and writes them in
//! batches. When the database cannot keep up, records are dropped and counted rather than
//! slowing the till. Removing what retention no longer keeps is the housekeeper's job
//! ([`Housekeeper`]), one replica at a time.
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
use crate::store::{
    EncodedEvaluation, EvaluationCompressor, EvaluationRetention, Housekeeping,
    HousekeepingOptions, PendingEvaluation, Store,
};

/// The default bound on the bytes of records queued but not yet written: 64 MiB.
pub const DEFAULT_MAX_BYTES: usize = 64 << 20;

const CHANNEL_CAPACITY: usize = 8192;
const BATCH: usize = 256;
/// How long the writer waits for more records after the first of a batch: a record is
/// written at most this much later, and the writer wakes (and writes) at most ~200 times a
/// second however busy the tills are.
const GATHER: Duration = Duration::from_millis(5);
/// How often each replica tries a housekeeping pass (only the lease's holder does it).
pub const HOUSEKEEPING_EVERY: Duration = Duration::from_secs(60);

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
        retention: EvaluationRetention,
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
    retention: EvaluationRetention,
) {
    let mut batch = Vec::with_capacity(BATCH);
    while rx.recv_many(&mut batch, BATCH).await > 0 {
        gather(&mut rx, &mut batch).await;
        let bytes: usize = batch.iter().map(|queued| queued.bytes).sum();
        let records: Vec<PendingEvaluation> = batch.drain(..).map(|queued| queued.record).collect();
        let count = records.len() as u64;
        // zstd and the currency's read are CPU work: off the async threads serving tills.
        let encoded = tokio::task::spawn_blocking(move || encode_all(&records)).await;
        match encoded {
            Ok((encoded, refused)) => {
                if refused > 0 {
                    counters.failed.fetch_add(refused, Ordering::Relaxed);
                }
                write_batch(&store, &encoded, &retention, &counters).await;
            }
            Err(error) => {
                counters.failed.fetch_add(count, Ordering::Relaxed);
                tracing::warn!(%error, count, "could not compress evaluation log records");
            }
        }
        counters.queued_bytes.fetch_sub(bytes, Ordering::AcqRel);
    }
}

/// Adds to `batch` what else arrives within [`GATHER`] of its first record, up to [`BATCH`]
/// (or until the channel closes). Without it the writer took whatever had arrived — under
/// load often one record — and woke a blocking thread and the database's writer for each;
/// with it those wake-ups are at most ~200 a second however busy the tills are.
async fn gather(rx: &mut mpsc::Receiver<Queued>, batch: &mut Vec<Queued>) {
    let deadline = tokio::time::sleep(GATHER);
    tokio::pin!(deadline);
    while batch.len() < BATCH {
        let room = BATCH - batch.len();
        tokio::select! {
            received = rx.recv_many(batch, room) => {
                if received == 0 {
                    return;
                }
            }
            () = &mut deadline => return,
        }
    }
}

/// Compresses a batch; the records that cannot be are counted (and logged), not written.
pub fn encode_all(records: &[PendingEvaluation]) -> (Vec<EncodedEvaluation>, u64) {
    let mut compressor = match EvaluationCompressor::new() {
        Ok(compressor) => compressor,
        Err(error) => {
            tracing::warn!(%error, count = records.len(), "could not compress evaluation log records; dropped");
            return (Vec::new(), records.len() as u64);
        }
    };
    let mut refused = 0;
    let encoded = records
        .iter()
        .filter_map(|record| match record.encode_with(&mut compressor) {
            Ok(encoded) => Some(encoded),
            Err(error) => {
                refused += 1;
                tracing::warn!(%error, merchant = %record.merchant_id, "could not compress an evaluation log record; dropped");
                None
            }
        })
        .collect();
    (encoded, refused)
}

/// Writes a batch in one transaction; when the database refuses it, writes its records one
/// by one, so only the records it refuses are lost (counted as failed and logged). The
/// writer's step, public so it can be tested on a batch of known make-up.
pub async fn write_batch(
    store: &Store,
    records: &[EncodedEvaluation],
    retention: &EvaluationRetention,
    counters: &Counters,
) {
    let error = match store.insert_encoded_evaluations(records, retention).await {
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
            .insert_encoded_evaluations(std::slice::from_ref(record), retention)
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

/// The evaluation log's housekeeping task: every [`HOUSEKEEPING_EVERY`] it asks the store
/// for a pass ([`Store::housekeep_evaluations`]), which only the replica holding the lease
/// does. Stopping it mid-pass is safe: every step of a pass is its own transaction.
#[derive(Debug)]
pub struct Housekeeper {
    task: tokio::task::JoinHandle<()>,
}

impl Housekeeper {
    /// Starts the task; its first pass runs at once (it also creates the coming days'
    /// partitions on PostgreSQL).
    pub fn start(store: Store, retention: EvaluationRetention, every: Duration) -> Housekeeper {
        let holder = format!(
            "{}-{}-{:08x}",
            std::process::id(),
            crate::clock::now_ms(),
            rand::random::<u32>()
        );
        let task = tokio::spawn(async move {
            let options = HousekeepingOptions::default();
            let mut ticks = tokio::time::interval(every);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                ticks.tick().await;
                let now = crate::clock::now_ms();
                match store
                    .housekeep_evaluations(&holder, now, &retention, &options)
                    .await
                {
                    Ok(Housekeeping::Done(report)) => {
                        tracing::debug!(?report, "evaluation log housekeeping done");
                    }
                    Ok(Housekeeping::Skipped) => {}
                    Err(error) => {
                        tracing::warn!(%error, "evaluation log housekeeping failed; retried next time");
                    }
                }
            }
        });
        Housekeeper { task }
    }

    /// Stops the task (a pass in progress is cut between or inside its transactions).
    pub fn stop(self) {
        self.task.abort();
    }
}
