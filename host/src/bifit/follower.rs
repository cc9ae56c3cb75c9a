//! The follower: a background task that polls the online orders the discount endpoint saw
//! until BIFIT reports a final status, then records (`FINISHED`) or drops
//! (`REFUSED`/`DELETED`) them through the same path as the sync endpoint.
//!
//! Tracking lives in the database (`bifit_orders`), so it survives restarts, and each
//! round claims due rows with a lease, so replicas sharing a PostgreSQL database never
//! poll one order twice at once (see `store/bifit.rs`). An order that stays open is polled
//! again after `backoff-initial-ms`, doubling up to `backoff-max-ms`, and given up
//! (`expired`) after `max-attempts` polls or `max-age-ms`.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;

use rabat_domain::clock::now_ms;

use super::{BifitSettings, bump};
use crate::service::{BifitSync, ServiceError, SyncOutcome};
use crate::store::{ClaimedOrder, StoreError, TrackState};

/// What the BIFIT connector has done since the process started. Cheap to read.
#[derive(Debug, Default)]
pub struct FollowerCounters {
    pub(crate) polls: AtomicU64,
    pub(crate) recorded: AtomicU64,
    pub(crate) voided: AtomicU64,
    pub(crate) failures: AtomicU64,
    pub(crate) tracked: AtomicU64,
    pub(crate) expired: AtomicU64,
    pub(crate) refreshes: AtomicU64,
}

/// A follower counter's metric name, help and getter.
type CounterMetric = (&'static str, &'static str, fn(&FollowerCounters) -> u64);

impl FollowerCounters {
    /// Every counter as `rabat_bifit_…_total`, read at each scrape.
    pub fn register_metrics(self: &Arc<Self>, metrics: &mut crate::metrics::Metrics) {
        let all: [CounterMetric; 7] = [
            (
                "bifit_polls",
                "BIFIT orders polled by the follower",
                FollowerCounters::polls,
            ),
            (
                "bifit_recorded",
                "BIFIT orders recorded in the ledger",
                FollowerCounters::recorded,
            ),
            (
                "bifit_voided",
                "BIFIT orders that ended REFUSED or DELETED",
                FollowerCounters::voided,
            ),
            (
                "bifit_poll_failures",
                "Follower polls that failed",
                FollowerCounters::failures,
            ),
            (
                "bifit_tracked",
                "BIFIT orders that started being tracked",
                FollowerCounters::tracked,
            ),
            (
                "bifit_expired",
                "Tracked BIFIT orders given up on (too many polls or too old)",
                FollowerCounters::expired,
            ),
            (
                "bifit_token_refreshes",
                "OAuth2 token refreshes",
                FollowerCounters::refreshes,
            ),
        ];
        for (name, help, get) in all {
            let counters = self.clone();
            metrics.sample(
                name,
                help,
                crate::metrics::Kind::Counter,
                Arc::new(move || get(&counters)),
            );
        }
    }

    /// Polls of tracked orders by the follower.
    pub fn polls(&self) -> u64 {
        self.polls.load(Ordering::Relaxed)
    }
    /// BIFIT orders newly recorded in the ledger (by the sync endpoint or the follower).
    pub fn recorded(&self) -> u64 {
        self.recorded.load(Ordering::Relaxed)
    }
    /// Orders that ended `REFUSED` or `DELETED`.
    pub fn voided(&self) -> u64 {
        self.voided.load(Ordering::Relaxed)
    }
    /// Follower polls that failed (BIFIT unreachable, an error answer, a missing card…).
    pub fn failures(&self) -> u64 {
        self.failures.load(Ordering::Relaxed)
    }
    /// Orders that started being tracked.
    pub fn tracked(&self) -> u64 {
        self.tracked.load(Ordering::Relaxed)
    }
    /// Tracked orders given up (too many polls or too old).
    pub fn expired(&self) -> u64 {
        self.expired.load(Ordering::Relaxed)
    }
    /// OAuth2 token refreshes attempted.
    pub fn refreshes(&self) -> u64 {
        self.refreshes.load(Ordering::Relaxed)
    }
}

/// What one round did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Round {
    pub claimed: usize,
    pub finished: usize,
}

/// The running follower; [`Follower::stop`] ends it between two polls.
#[derive(Debug)]
pub struct Follower {
    stop: watch::Sender<bool>,
    handle: JoinHandle<()>,
}

impl Follower {
    /// Starts following on the runtime; one per process.
    pub fn start(sync: BifitSync) -> Follower {
        let (stop, stopped) = watch::channel(false);
        let owner = format!("follower-{}", crate::store::credentials::random_hex(8));
        let handle = tokio::spawn(run(sync, owner, stopped));
        Follower { stop, handle }
    }

    /// Asks the follower to stop and waits for it (it finishes the order in hand).
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        if let Err(error) = self.handle.await {
            tracing::warn!(%error, "the BIFIT follower failed");
        }
    }

    /// One round: claims the orders due now and polls each. Tests call it directly.
    pub async fn run_once(sync: &BifitSync, owner: &str) -> Result<Round, StoreError> {
        round(sync, owner, None).await
    }
}

async fn run(sync: BifitSync, owner: String, mut stopped: watch::Receiver<bool>) {
    let settings = &sync.bifit().settings;
    let interval = Duration::from_millis(settings.poll_interval_ms.max(1));
    let batch = settings.batch.max(1) as usize;
    tracing::info!(owner, "BIFIT follower started");
    loop {
        if *stopped.borrow() {
            break;
        }
        let full = match round(&sync, &owner, Some(&stopped)).await {
            Ok(round) => round.claimed >= batch,
            Err(error) => {
                tracing::warn!(%error, "BIFIT follower round failed");
                false
            }
        };
        if full {
            // More may be due right away.
            continue;
        }
        tokio::select! {
            _ = stopped.changed() => {}
            () = tokio::time::sleep(interval) => {}
        }
    }
    match sync.bifit().store.release_bifit_leases(&owner).await {
        Ok(released) => tracing::info!(owner, released, "BIFIT follower stopped"),
        Err(error) => {
            tracing::warn!(%error, owner, "BIFIT follower stopped; its leases run out by themselves")
        }
    }
}

async fn round(
    sync: &BifitSync,
    owner: &str,
    stopped: Option<&watch::Receiver<bool>>,
) -> Result<Round, StoreError> {
    let settings = &sync.bifit().settings;
    let store = &sync.bifit().store;
    let lease = i64::try_from(settings.lease_ms).unwrap_or(i64::MAX);
    // Past half the lease, the rest of the batch is handed back rather than polled while
    // its lease may run out under us (and another replica take the same order).
    let hand_back_at = now_ms().saturating_add(lease / 2);
    let claimed = store
        .claim_bifit_orders(owner, settings.batch.max(1), lease)
        .await?;
    let mut round = Round {
        claimed: claimed.len(),
        finished: 0,
    };
    for order in claimed {
        if stopped.is_some_and(|s| *s.borrow()) {
            // Not polled: `run` gives the lease back as it stops.
            break;
        }
        if now_ms() > hand_back_at {
            store.release_bifit_leases(owner).await?;
            break;
        }
        if poll(sync, owner, &order).await? {
            round.finished += 1;
        }
    }
    Ok(round)
}

/// Polls one claimed order; answers whether it left tracking.
async fn poll(sync: &BifitSync, owner: &str, claimed: &ClaimedOrder) -> Result<bool, StoreError> {
    let counters = &sync.bifit().counters;
    let store = &sync.bifit().store;
    bump(&counters.polls);
    let merchant = claimed.merchant_id.as_str();
    let Ok(id) = claimed.order_id.parse::<i64>() else {
        let error = format!("'{}' is not a BIFIT online order id", claimed.order_id);
        store
            .finish_bifit_order(
                merchant,
                &claimed.order_id,
                TrackState::Failed,
                None,
                Some(&error),
            )
            .await?;
        return Ok(true);
    };
    let (status, error) = match sync.sync(merchant, id, None).await {
        Ok(report) => match report.outcome {
            // The sync has marked the row.
            SyncOutcome::Recorded | SyncOutcome::AlreadyRecorded | SyncOutcome::Voided => {
                return Ok(true);
            }
            SyncOutcome::Pending => (Some(report.status), None),
        },
        Err(ServiceError::Unavailable(error)) => return Err(error),
        Err(error) if error.is_permanent() => {
            // The order is gone, the connector was removed, or the ledger already holds
            // this order with another card: polling again cannot help.
            bump(&counters.failures);
            let message = error.to_string();
            tracing::warn!(merchant, order = id, %message, "BIFIT order given up");
            store
                .finish_bifit_order(
                    merchant,
                    &claimed.order_id,
                    TrackState::Failed,
                    None,
                    Some(&message),
                )
                .await?;
            return Ok(true);
        }
        Err(error) => {
            bump(&counters.failures);
            let message = poll_failure(&error);
            tracing::info!(merchant, order = id, %message, "BIFIT poll failed; will retry");
            (None, Some(message))
        }
    };
    let settings = &sync.bifit().settings;
    let attempts = claimed.attempts.saturating_add(1);
    let now = now_ms();
    let age = now.saturating_sub(claimed.first_seen_at);
    let too_old = u64::try_from(age).unwrap_or(0) >= settings.max_age_ms;
    let give_up =
        (attempts >= i64::from(settings.max_attempts) || too_old).then_some(TrackState::Expired);
    let next = now.saturating_add(backoff_ms(settings, attempts));
    let error = match (give_up, error) {
        (Some(_), None) => Some(format!(
            "given up after {attempts} poll(s) over {} s without a final status",
            age / 1000
        )),
        (_, error) => error,
    };
    store
        .reschedule_bifit_order(
            claimed.id,
            owner,
            next,
            status.as_deref(),
            error.as_deref(),
            give_up,
        )
        .await?;
    if give_up.is_some() {
        bump(&counters.expired);
    }
    Ok(give_up.is_some())
}

/// What a failed poll leaves in the tracking row (the merchant reads it in the orders
/// listing): the reason, except for a fault on our side, which is only logged.
fn poll_failure(error: &ServiceError) -> String {
    match error {
        ServiceError::CustomerNotFound => {
            "No customer found with the provided customerId or cardId".to_owned()
        }
        ServiceError::Internal(cause) => {
            tracing::error!(error = %cause, "BIFIT poll failed on our side");
            "Something went wrong on our side; it has been logged".to_owned()
        }
        other => other.to_string(),
    }
}

/// The wait after the `attempts`-th poll: initial × 2^(attempts-1), at most the maximum.
pub fn backoff_ms(settings: &BifitSettings, attempts: i64) -> i64 {
    let doublings = u32::try_from(attempts.saturating_sub(1).clamp(0, 32)).unwrap_or(32);
    let wait = settings
        .backoff_initial_ms
        .saturating_mul(1u64 << doublings)
        .min(settings.backoff_max_ms);
    i64::try_from(wait).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let settings = BifitSettings {
            backoff_initial_ms: 1_000,
            backoff_max_ms: 5_000,
            ..BifitSettings::default()
        };
        let waits: Vec<i64> = (1..=5).map(|n| backoff_ms(&settings, n)).collect();
        assert_eq!(waits, vec![1_000, 2_000, 4_000, 5_000, 5_000]);
        assert_eq!(backoff_ms(&settings, 10_000), 5_000);
    }
}
