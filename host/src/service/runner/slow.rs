//! Which merchants' policies are too slow to run inline on a tokio worker.
//!
//! An inline call that runs into its cut deadline was either running (a slow policy) or
//! waiting for the CPU (a fast policy descheduled on a busy machine). Fuel tells most of
//! them apart: a policy that ran for the 1–2 ms itself used far more than [`SLOW_FUEL`].
//! But some work costs time without fuel — bulk memory instructions (one unit of fuel for
//! a `memory.fill` of megabytes), page faults of a large allocation, host calls — so a
//! merchant whose inline calls run into the deadline [`SLOW_STRIKES`] times with little
//! fuel, with fewer than [`FORGIVEN_AFTER`] inline answers between, is slow too. A fast
//! policy descheduled now and then answers thousands of calls between two such strikes; a
//! slow one strikes on every call. A merchant found slow again within [`REMEMBERED_FOR`]
//! of its last slow run is slow at once.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// How long a merchant found slow has its calls run on the blocking pool (unless its policy
/// state changes first).
pub const SLOW_FOR: Duration = Duration::from_secs(10);

/// The fuel an inline call must have used when it ran into the inline deadline for its
/// policy to count as slow at once. The deadline is wall-clock time: on a busy machine a
/// worker running a 20 µs call can be descheduled for milliseconds (under load the demo's
/// policy was marked slow every 10 s, and endpoint 1 ran on the blocking pool most of the
/// time: BENCHMARKS.md). A policy that ran for the 1–2 ms itself used far more fuel than
/// this (compiled WebAssembly runs ≳ 1 instruction a nanosecond; a loop spends ≥ 1 M in
/// 1 ms), while the examples' calls use a few thousand to ~300 000 for 1 000 lines.
pub const SLOW_FUEL: u64 = 500_000;

/// Inline calls of one merchant that ran into the deadline with less than [`SLOW_FUEL`]
/// after which its policy counts as slow.
pub const SLOW_STRIKES: u32 = 3;

/// Inline answers of a merchant after which its strikes are forgotten.
pub const FORGIVEN_AFTER: u32 = 1_000;

/// How long a merchant's last timeout is remembered: its strikes, or that it was slow
/// (so that, once [`SLOW_FOR`] is over, its first timeout marks it slow again).
pub const REMEMBERED_FOR: Duration = Duration::from_secs(60);

/// What an inline call that ran into its deadline came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// The merchant's calls go to the blocking pool for [`SLOW_FOR`].
    Slow,
    /// One more strike (how many so far): the merchant stays inline.
    Strike(u32),
}

#[derive(Debug, Clone, Copy)]
enum Standing {
    /// Found slow at `since`.
    Slow { since: Instant },
    /// Ran into the deadline with little fuel `strikes` times, last at `last`, and
    /// answered inline `answered` times since the first.
    Striking {
        strikes: u32,
        answered: u32,
        last: Instant,
    },
}

impl Standing {
    fn last(&self) -> Instant {
        match *self {
            Standing::Slow { since } => since,
            Standing::Striking { last, .. } => last,
        }
    }
}

/// The merchants whose inline calls ran into the deadline, by merchant, with the
/// generation of their policy state ([`crate::active::Active::generation`]): a new policy
/// or config starts afresh.
#[derive(Debug, Default)]
pub struct SlowPolicies {
    merchants: Mutex<HashMap<String, (i64, Standing)>>,
    /// Whether any merchant has strikes: until one has, an inline answer takes no lock.
    striking: AtomicBool,
    retried: AtomicU64,
    marked: AtomicU64,
}

impl SlowPolicies {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, (i64, Standing)>> {
        self.merchants
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Whether the merchant's calls go to the blocking pool now.
    pub fn is_slow(&self, (merchant, generation): &(String, i64), now: Instant) -> bool {
        self.lock().get(merchant).is_some_and(|(g, standing)| {
            g == generation
                && matches!(standing, Standing::Slow { since } if now.duration_since(*since) < SLOW_FOR)
        })
    }

    /// An inline call of the merchant answered within the deadline.
    pub fn answered(&self, (merchant, generation): &(String, i64)) {
        if !self.striking.load(Ordering::Relaxed) {
            return;
        }
        let mut merchants = self.lock();
        if let Some((g, Standing::Striking { answered, .. })) = merchants.get_mut(merchant)
            && g == generation
        {
            *answered += 1;
            if *answered >= FORGIVEN_AFTER {
                merchants.remove(merchant);
                self.note_striking(&merchants);
            }
        }
    }

    /// An inline call of the merchant ran into the deadline having used `fuel_used`; it is
    /// run again on the blocking pool either way.
    pub fn timed_out(
        &self,
        (merchant, generation): &(String, i64),
        fuel_used: u64,
        now: Instant,
    ) -> Verdict {
        self.retried.fetch_add(1, Ordering::Relaxed);
        let mut merchants = self.lock();
        merchants.retain(|_, (_, standing)| now.duration_since(standing.last()) < REMEMBERED_FOR);
        let before = merchants
            .get(merchant)
            .filter(|(g, _)| g == generation)
            .map(|(_, standing)| *standing);
        let strikes = match before {
            Some(Standing::Striking { strikes, .. }) => strikes + 1,
            Some(Standing::Slow { .. }) => SLOW_STRIKES,
            None => 1,
        };
        let (verdict, standing) = if fuel_used >= SLOW_FUEL || strikes >= SLOW_STRIKES {
            self.marked.fetch_add(1, Ordering::Relaxed);
            (Verdict::Slow, Standing::Slow { since: now })
        } else {
            let answered = match before {
                Some(Standing::Striking { answered, .. }) => answered,
                _ => 0,
            };
            (
                Verdict::Strike(strikes),
                Standing::Striking {
                    strikes,
                    answered,
                    last: now,
                },
            )
        };
        merchants.insert(merchant.clone(), (*generation, standing));
        self.note_striking(&merchants);
        verdict
    }

    fn note_striking(&self, merchants: &HashMap<String, (i64, Standing)>) {
        let any = merchants
            .values()
            .any(|(_, standing)| matches!(standing, Standing::Striking { .. }));
        self.striking.store(any, Ordering::Relaxed);
    }

    /// Inline calls that ran into the deadline and were run again on the blocking pool.
    pub fn retried(&self) -> u64 {
        self.retried.load(Ordering::Relaxed)
    }

    /// Times a merchant was found slow.
    pub fn marked(&self) -> u64 {
        self.marked.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(merchant: &str, generation: i64) -> (String, i64) {
        (merchant.to_string(), generation)
    }

    #[test]
    fn a_call_that_burnt_fuel_to_its_deadline_marks_its_policy_slow_at_once() {
        let slow = SlowPolicies::default();
        let now = Instant::now();
        let shop = key("shop", 1);
        assert_eq!(slow.timed_out(&shop, SLOW_FUEL, now), Verdict::Slow);
        assert!(slow.is_slow(&shop, now));
        assert!(slow.is_slow(&shop, now + SLOW_FOR - Duration::from_millis(1)));
        assert!(!slow.is_slow(&shop, now + SLOW_FOR));
        // Another generation (a new policy or config) is not slow.
        assert!(!slow.is_slow(&key("shop", 2), now));
        assert!(!slow.is_slow(&key("other", 1), now));
        assert_eq!((slow.retried(), slow.marked()), (1, 1));
    }

    #[test]
    fn a_descheduled_fast_call_is_a_strike_not_slow() {
        let slow = SlowPolicies::default();
        let now = Instant::now();
        let shop = key("shop", 1);
        // The examples' calls use far less fuel than the threshold.
        assert_eq!(slow.timed_out(&shop, 0, now), Verdict::Strike(1));
        assert_eq!(
            slow.timed_out(&shop, SLOW_FUEL - 1, now),
            Verdict::Strike(2)
        );
        assert!(!slow.is_slow(&shop, now));
        // Answers in between forgive the strikes.
        for _ in 0..FORGIVEN_AFTER {
            slow.answered(&shop);
        }
        assert_eq!(slow.timed_out(&shop, 0, now), Verdict::Strike(1));
        assert_eq!(slow.marked(), 0);
        // So does time.
        assert_eq!(slow.timed_out(&shop, 0, now), Verdict::Strike(2));
        assert_eq!(
            slow.timed_out(&shop, 0, now + REMEMBERED_FOR),
            Verdict::Strike(1)
        );
    }

    #[test]
    fn a_policy_slow_without_fuel_is_slow_after_its_strikes() {
        let slow = SlowPolicies::default();
        let now = Instant::now();
        let shop = key("shop", 1);
        for strike in 1..SLOW_STRIKES {
            assert_eq!(slow.timed_out(&shop, 100, now), Verdict::Strike(strike));
            // A few answers between do not forgive them.
            slow.answered(&shop);
        }
        assert_eq!(slow.timed_out(&shop, 100, now), Verdict::Slow);
        assert!(slow.is_slow(&shop, now));
        // Once its time on the pool is over, its first timeout marks it slow again.
        let later = now + SLOW_FOR;
        assert!(!slow.is_slow(&shop, later));
        assert_eq!(slow.timed_out(&shop, 100, later), Verdict::Slow);
        assert!(slow.is_slow(&shop, later));
        // A new policy or config starts afresh.
        assert_eq!(
            slow.timed_out(&key("shop", 2), 100, later),
            Verdict::Strike(1)
        );
        assert_eq!((slow.retried(), slow.marked()), (5, 2));
    }

    #[test]
    fn strikes_are_per_merchant() {
        let slow = SlowPolicies::default();
        let now = Instant::now();
        for merchant in ["a", "b", "c"] {
            assert_eq!(
                slow.timed_out(&key(merchant, 1), 0, now),
                Verdict::Strike(1)
            );
        }
        assert_eq!(slow.timed_out(&key("a", 1), 0, now), Verdict::Strike(2));
        assert!(!slow.is_slow(&key("b", 1), now));
    }
}
