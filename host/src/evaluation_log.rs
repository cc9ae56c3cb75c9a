//! The evaluation log's writer: endpoint 1 hands each record to a bounded channel and
//! moves on; a background task writes them in batches and prunes to the retention. When
//! the database cannot keep up, records are dropped and counted rather than slowing
//! the till.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::sync::mpsc;

use crate::metrics::{Kind, Metrics};
use crate::store::{EvaluationRecord, Store};

const CHANNEL_CAPACITY: usize = 8192;
const BATCH: usize = 256;
const PRUNE_EVERY: Duration = Duration::from_secs(60);

#[derive(Debug, Clone)]
pub struct EvaluationLog {
    tx: mpsc::Sender<EvaluationRecord>,
    counters: Arc<Counters>,
}

#[derive(Debug, Default)]
pub struct Counters {
    /// Records accepted into the queue.
    pub queued: AtomicU64,
    pub written: AtomicU64,
    pub dropped: AtomicU64,
    pub failed: AtomicU64,
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
    pub fn start(store: Store, retention: u32) -> (Self, tokio::task::JoinHandle<()>) {
        let (tx, rx) = mpsc::channel(CHANNEL_CAPACITY);
        let counters = Arc::new(Counters::default());
        let task = tokio::spawn(write_loop(store, rx, counters.clone(), retention));
        (EvaluationLog { tx, counters }, task)
    }

    /// Queues a record without waiting.
    pub fn record(&self, record: EvaluationRecord) {
        if self.tx.try_send(record).is_ok() {
            self.counters.queued.fetch_add(1, Ordering::Relaxed);
        } else {
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
                "Evaluation log records dropped because the queue was full",
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
    }
}

async fn write_loop(
    store: Store,
    mut rx: mpsc::Receiver<EvaluationRecord>,
    counters: Arc<Counters>,
    retention: u32,
) {
    let mut batch = Vec::with_capacity(BATCH);
    let mut last_prune = tokio::time::Instant::now();
    while rx.recv_many(&mut batch, BATCH).await > 0 {
        match store.insert_evaluations(&batch).await {
            Ok(()) => {
                counters
                    .written
                    .fetch_add(batch.len() as u64, Ordering::Relaxed);
            }
            Err(error) => {
                counters
                    .failed
                    .fetch_add(batch.len() as u64, Ordering::Relaxed);
                tracing::warn!(%error, count = batch.len(), "could not write evaluation log records");
            }
        }
        batch.clear();
        if last_prune.elapsed() >= PRUNE_EVERY {
            last_prune = tokio::time::Instant::now();
            if let Err(error) = store.prune_all_evaluations(retention).await {
                tracing::warn!(%error, "could not prune the evaluation log");
            }
        }
    }
}
