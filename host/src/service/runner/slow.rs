//! Which merchants' policies are too slow to run inline on a tokio worker.
//!
//! An inline call that runs into its cut deadline was either running (a slow policy) or
//! waiting for the CPU (a fast policy descheduled on a busy machine: under load that
//! happens every few seconds). What tells them apart is the CPU time its thread spent on
//! the call ([`ThreadCpu`]): a policy that ran into the deadline used at least
//! [`SLOW_CPU`] of it, page faults and host calls included, while a descheduled call used
//! only its own short work. Fuel alone could not tell: a policy whose time goes to page
//! faults runs into the deadline on a few thousand units. A call that used [`SLOW_FUEL`]
//! was running whatever the clock says; one that used none never reached the policy's code.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// How long a merchant found slow has its calls run on the blocking pool (unless its policy
/// state changes first).
pub const SLOW_FOR: Duration = Duration::from_secs(10);

/// The CPU time an inline call that ran into its deadline must have used for its policy to
/// count as slow. The inline deadline stops a call 1–2 ms after it starts (the epoch ticks
/// every millisecond), so a policy that ran to it used ≳ 1 ms of CPU unless it was also
/// descheduled; the examples' calls use ~10–300 µs (1 000 lines).
pub const SLOW_CPU: Duration = Duration::from_micros(500);

/// The fuel at which an inline call that ran into its deadline counts as running whatever
/// its CPU time (compiled WebAssembly runs ≳ 1 instruction a nanosecond; the examples'
/// calls use a few thousand to ~300 000 for 1 000 lines).
pub const SLOW_FUEL: u64 = 500_000;

/// What an inline call that ran into its deadline had used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Used {
    pub fuel: u64,
    /// CPU time of the thread during the call (`None` where it cannot be read).
    pub cpu: Option<Duration>,
}

impl Used {
    /// Whether the call was running (its policy is slow) rather than waiting for the CPU.
    /// A call that used no fuel at all never ran the policy's code: its time went to the
    /// host's own set-up (a process's first instances, a debug build), not to the policy.
    pub fn ran_slow(&self) -> bool {
        self.fuel >= SLOW_FUEL || (self.fuel > 0 && self.cpu.is_some_and(|cpu| cpu >= SLOW_CPU))
    }
}

/// The calling thread's CPU time (user and system), read at the start of an inline call.
#[derive(Debug, Clone, Copy)]
pub struct ThreadCpu(Option<Duration>);

impl ThreadCpu {
    pub fn now() -> ThreadCpu {
        ThreadCpu(thread_cpu_time())
    }

    /// The thread's CPU time since `self` was read (on the same thread).
    pub fn elapsed(&self) -> Option<Duration> {
        Some(thread_cpu_time()?.saturating_sub(self.0?))
    }
}

#[cfg(target_os = "linux")]
fn thread_cpu_time() -> Option<Duration> {
    let now = rustix::time::clock_gettime(rustix::time::ClockId::ThreadCPUTime);
    let secs = u64::try_from(now.tv_sec).ok()?;
    let nanos = u32::try_from(now.tv_nsec).ok()?;
    Some(Duration::new(secs, nanos))
}

#[cfg(not(target_os = "linux"))]
fn thread_cpu_time() -> Option<Duration> {
    None
}

/// The merchants found slow, with the generation of their policy state
/// ([`crate::active::Active::generation`]: a new policy or config starts afresh) and when.
#[derive(Debug, Default)]
pub struct SlowPolicies {
    merchants: Mutex<HashMap<String, (i64, Instant)>>,
    retried: AtomicU64,
    marked: AtomicU64,
}

impl SlowPolicies {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, (i64, Instant)>> {
        self.merchants
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Whether the merchant's calls go to the blocking pool now.
    pub fn is_slow(&self, (merchant, generation): &(String, i64), now: Instant) -> bool {
        self.lock()
            .get(merchant)
            .is_some_and(|(g, since)| g == generation && now.duration_since(*since) < SLOW_FOR)
    }

    /// An inline call of the merchant ran into the deadline having `used` so much; it is
    /// run again on the blocking pool either way. Whether the merchant is now slow.
    pub fn timed_out(
        &self,
        (merchant, generation): &(String, i64),
        used: Used,
        now: Instant,
    ) -> bool {
        self.retried.fetch_add(1, Ordering::Relaxed);
        if !used.ran_slow() {
            return false;
        }
        self.marked.fetch_add(1, Ordering::Relaxed);
        let mut merchants = self.lock();
        merchants.retain(|_, (_, since)| now.duration_since(*since) < SLOW_FOR);
        merchants.insert(merchant.clone(), (*generation, now));
        true
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

    fn used(fuel: u64, cpu_us: u64) -> Used {
        Used {
            fuel,
            cpu: Some(Duration::from_micros(cpu_us)),
        }
    }

    #[test]
    fn a_call_that_ran_to_its_deadline_is_slow_by_cpu_or_by_fuel() {
        // Descheduled: a short call's own work, whatever the wall clock said.
        assert!(!used(0, 0).ran_slow());
        assert!(!used(300_000, 300).ran_slow());
        // Running: the CPU time to the deadline, though on little fuel (page faults).
        assert!(used(20_000, 500).ran_slow());
        assert!(used(20_000, 1_900).ran_slow());
        // No fuel at all: the policy never ran; the host's set-up took the time (the
        // demo's first call in a debug build: 1 086 µs of CPU on 0 fuel).
        assert!(!used(0, 1_086).ran_slow());
        // Running: fuel that only a running call spends, whatever the clock.
        assert!(used(SLOW_FUEL, 0).ran_slow());
        assert!(
            Used {
                fuel: SLOW_FUEL,
                cpu: None
            }
            .ran_slow()
        );
        assert!(!Used { fuel: 1, cpu: None }.ran_slow());
    }

    #[test]
    fn a_slow_merchant_runs_on_the_pool_for_a_while_and_until_its_policy_changes() {
        let slow = SlowPolicies::default();
        let now = Instant::now();
        let shop = key("shop", 1);
        assert!(!slow.timed_out(&shop, used(0, 100), now));
        assert!(!slow.is_slow(&shop, now));
        assert!(slow.timed_out(&shop, used(10_000, 1_500), now));
        assert!(slow.is_slow(&shop, now));
        assert!(slow.is_slow(&shop, now + SLOW_FOR - Duration::from_millis(1)));
        assert!(!slow.is_slow(&shop, now + SLOW_FOR));
        // Another generation (a new policy or config) and another merchant are not slow.
        assert!(!slow.is_slow(&key("shop", 2), now));
        assert!(!slow.is_slow(&key("other", 1), now));
        assert_eq!((slow.retried(), slow.marked()), (2, 1));
    }

    #[test]
    fn the_threads_cpu_time_counts_work_not_waiting() {
        let start = ThreadCpu::now();
        std::thread::sleep(Duration::from_millis(20));
        let slept = start.elapsed().expect("the thread's CPU clock");
        assert!(slept < Duration::from_millis(20), "{slept:?} while asleep");
        let start = ThreadCpu::now();
        let began = Instant::now();
        let mut x = 0u64;
        while began.elapsed() < Duration::from_millis(20) {
            x = std::hint::black_box(x.wrapping_add(1));
        }
        assert!(start.elapsed().expect("the thread's CPU clock") > Duration::ZERO);
    }
}
