//! Isolation between merchants: at most `per_merchant` policy calls of one merchant run at
//! once. A call that finds its merchant's slots taken waits briefly, then gives up (the
//! caller answers fail-safe), so a merchant whose policy always runs to its fuel or time
//! limit occupies a bounded share of the blocking threads, the CPU and the instance pool,
//! and every other merchant's calls still run.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// The merchant already runs as many policy calls as it may.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", self.describe())]
pub struct Busy {
    pub merchant: String,
    pub limit: usize,
    pub waited_ms: u128,
    /// The server's bound was reached (all merchants together), not the merchant's.
    pub server: bool,
}

impl Busy {
    fn describe(&self) -> String {
        let Busy {
            merchant,
            limit,
            waited_ms,
            server,
        } = self;
        if *server {
            format!(
                "the server already runs {limit} policy calls at once (all merchants) and none finished within {waited_ms} ms"
            )
        } else {
            format!(
                "merchant '{merchant}' already runs {limit} policy calls at once and none finished within {waited_ms} ms"
            )
        }
    }
}

/// A merchant's right to run one policy call; the slot frees when this is dropped.
#[derive(Debug)]
pub struct Slot {
    _permit: Option<OwnedSemaphorePermit>,
    _server: Option<OwnedSemaphorePermit>,
}

#[derive(Debug)]
struct Merchant {
    slots: Arc<Semaphore>,
    rejections: AtomicU64,
}

/// Per-merchant concurrency bound on policy calls.
#[derive(Debug)]
pub struct Admission {
    per_merchant: usize,
    /// The server's bound over all merchants: the sandbox's instance pool, so a call that
    /// is admitted always finds an instance slot (past it, instantiation would fail).
    server: Arc<Semaphore>,
    server_limit: usize,
    wait: Duration,
    merchants: Mutex<HashMap<String, Arc<Merchant>>>,
    rejections: AtomicU64,
}

impl Admission {
    /// `per_merchant == 0` means no bound per merchant; `server` bounds all merchants'
    /// calls together (at least 1).
    pub fn new(per_merchant: usize, server: usize, wait: Duration) -> Admission {
        let server_limit = server.max(1);
        Admission {
            per_merchant,
            server: Arc::new(Semaphore::new(server_limit)),
            server_limit,
            wait,
            merchants: Mutex::default(),
            rejections: AtomicU64::new(0),
        }
    }

    /// Waits up to the configured time for one of the merchant's slots.
    pub async fn enter(&self, merchant: &str) -> Result<Slot, Busy> {
        self.enter_within(merchant, self.wait).await
    }

    /// Like [`Admission::enter`] with a wait of the caller's choosing (recording a
    /// completed bill waits longer than a discount query: its points are at stake).
    pub async fn enter_within(&self, merchant: &str, wait: Duration) -> Result<Slot, Busy> {
        let started = tokio::time::Instant::now();
        let permit = if self.per_merchant == 0 {
            None
        } else {
            match self.merchant(merchant) {
                // A poisoned map: admit rather than fail every call.
                None => None,
                Some(state) => match take(&state.slots, wait).await {
                    Some(permit) => Some(permit),
                    None => {
                        state.rejections.fetch_add(1, Ordering::Relaxed);
                        return Err(self.busy(merchant, wait, false));
                    }
                },
            }
        };
        // The merchant's slot first, so a merchant waiting on its own bound never holds
        // one of the server's.
        let left = wait.saturating_sub(started.elapsed());
        let Some(server) = take(&self.server, left).await else {
            if let Some(state) = self.merchant(merchant) {
                state.rejections.fetch_add(1, Ordering::Relaxed);
            }
            return Err(self.busy(merchant, wait, true));
        };
        Ok(Slot {
            _permit: permit,
            _server: Some(server),
        })
    }

    fn busy(&self, merchant: &str, wait: Duration, server: bool) -> Busy {
        self.rejections.fetch_add(1, Ordering::Relaxed);
        Busy {
            merchant: merchant.to_owned(),
            limit: if server {
                self.server_limit
            } else {
                self.per_merchant
            },
            waited_ms: wait.as_millis(),
            server,
        }
    }

    fn merchant(&self, merchant: &str) -> Option<Arc<Merchant>> {
        let mut merchants = self.merchants.lock().ok()?;
        Some(
            merchants
                .entry(merchant.to_owned())
                .or_insert_with(|| {
                    Arc::new(Merchant {
                        slots: Arc::new(Semaphore::new(self.per_merchant)),
                        rejections: AtomicU64::new(0),
                    })
                })
                .clone(),
        )
    }

    /// The bound (0: none).
    pub fn per_merchant(&self) -> usize {
        self.per_merchant
    }

    /// Calls turned away for this merchant since start.
    pub fn rejections(&self, merchant: &str) -> u64 {
        self.merchants
            .lock()
            .ok()
            .and_then(|m| {
                m.get(merchant)
                    .map(|s| s.rejections.load(Ordering::Relaxed))
            })
            .unwrap_or(0)
    }

    /// Calls turned away, all merchants together, since start.
    pub fn total_rejections(&self) -> u64 {
        self.rejections.load(Ordering::Relaxed)
    }

    /// Per merchant, the calls turned away since start (merchants with none omitted).
    pub fn rejections_by_merchant(&self) -> Vec<(String, u64)> {
        let Ok(merchants) = self.merchants.lock() else {
            return Vec::new();
        };
        let mut out: Vec<(String, u64)> = merchants
            .iter()
            .map(|(id, s)| (id.clone(), s.rejections.load(Ordering::Relaxed)))
            .filter(|(_, n)| *n > 0)
            .collect();
        out.sort();
        out
    }
}

/// A permit at once, or within `wait`; `None` when none came (the semaphores are never
/// closed).
async fn take(slots: &Arc<Semaphore>, wait: Duration) -> Option<OwnedSemaphorePermit> {
    match slots.clone().try_acquire_owned() {
        Ok(permit) => Some(permit),
        Err(_) => tokio::time::timeout(wait, slots.clone().acquire_owned())
            .await
            .ok()?
            .ok(),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[tokio::test]
    async fn the_servers_bound_holds_across_merchants() {
        let admission = Admission::new(2, 3, Duration::from_millis(5));
        let a1 = admission.enter("a").await.unwrap();
        let _a2 = admission.enter("a").await.unwrap();
        let _b1 = admission.enter("b").await.unwrap();
        let busy = admission.enter("c").await.unwrap_err();
        assert!(busy.server, "{busy}");
        assert!(busy.to_string().contains("all merchants"), "{busy}");
        drop(a1);
        let _c1 = admission.enter("c").await.unwrap();
    }

    #[tokio::test]
    async fn a_full_merchant_is_turned_away_and_others_are_not() {
        let admission = Admission::new(2, 64, Duration::from_millis(5));
        let a1 = admission.enter("a").await.unwrap();
        let _a2 = admission.enter("a").await.unwrap();
        let busy = admission.enter("a").await.unwrap_err();
        assert!(busy.to_string().contains("'a' already runs 2"), "{busy}");
        let _b = admission.enter("b").await.unwrap();
        assert_eq!(admission.rejections("a"), 1);
        assert_eq!(admission.rejections("b"), 0);
        assert_eq!(admission.total_rejections(), 1);
        drop(a1);
        let _a3 = admission.enter("a").await.unwrap();
        assert_eq!(
            admission.rejections_by_merchant(),
            vec![("a".to_owned(), 1)]
        );
    }

    #[tokio::test]
    async fn a_waiting_call_gets_the_slot_that_frees() {
        let admission = Arc::new(Admission::new(1, 64, Duration::from_secs(30)));
        let held = admission.enter("a").await.unwrap();
        let waiter = {
            let admission = admission.clone();
            tokio::spawn(async move { admission.enter("a").await.map(drop) })
        };
        tokio::task::yield_now().await;
        drop(held);
        waiter.await.unwrap().unwrap();
        assert_eq!(admission.rejections("a"), 0);
    }

    #[tokio::test]
    async fn zero_means_unbounded_per_merchant() {
        // Only the server's bound (the instance pool) is left.
        let admission = Admission::new(0, 100, Duration::ZERO);
        let _slots: Vec<_> = futures_slots(&admission, 100).await;
        assert_eq!(admission.total_rejections(), 0);
    }

    async fn futures_slots(admission: &Admission, n: usize) -> Vec<Slot> {
        let mut out = Vec::new();
        for _ in 0..n {
            out.push(admission.enter("a").await.unwrap());
        }
        out
    }
}
