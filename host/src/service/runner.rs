//! Running a policy from async code: the one place that decides where a call runs, so
//! every flow (the till, dry-runs, accruals) runs policies the same way.
//!
//! A policy call is short (≈ 10–200 µs) next to what handing it to the blocking pool costs
//! on a busy machine (two thread wake-ups and context switches), so it first runs inline,
//! on the calling tokio worker, with its deadline cut to [`INLINE_DEADLINE`] by default: the
//! worst a call can hold a worker (and the other requests queued on it) is that. A call
//! that runs into the cut deadline is run again from the start on the blocking pool with
//! the merchant's full limits (a call has no effects: only its answer counts); when it was
//! running by then rather than waiting for the CPU ([`slow`]: its thread spent
//! [`SLOW_CPU`] on it, or it used [`SLOW_FUEL`]), that merchant's calls go straight to the
//! pool for [`SLOW_FOR`] or until its policy or config changes — so a merchant with a slow
//! policy costs other requests one short stall now and then, never one per call, and a
//! fast policy descheduled past the cut deadline on a busy machine stays inline.

use std::sync::Arc;
use std::time::{Duration, Instant};

use rabat_domain::clock::now_ms;
use rabat_domain::coupon::{
    CardExtras, MAX_WALLET_COUPONS, TYPED_CODE_ATTRIBUTE, code_problem, normalize_code,
};
use rabat_domain::model::{Accrual, Card, Evaluation, Offer, Order};
use rabat_domain::money::{self, DiscountResponse};
use rabat_domain::points;
use rabat_sandbox::decide::{Decision, decide};
use rabat_sandbox::{CallInput, CallReport, CompiledPolicy, Contract, Failure, Limits, Runtime};
use rabat_store::Store;
use sha2::{Digest, Sha256};

use super::{ServiceError, ServiceResult};
use crate::active::{Active, ActivePolicies, LoadError};
use crate::admission::Slot;
use crate::metrics::{Kind, Metrics};

mod slow;
pub use slow::{SLOW_CPU, SLOW_FOR, SLOW_FUEL};
use slow::{SlowPolicies, ThreadCpu, Used};

/// The deadline of a call run inline on a tokio worker by default (the epoch ticks every
/// millisecond, so it stops within 1–2 ms).
pub const INLINE_DEADLINE: Duration = Duration::from_millis(2);

/// The fuel used by a call that timed out, for [`PolicyRunner::run`].
fn timed_out<A>(report: &CallReport<A>) -> Option<u64> {
    matches!(report.result, Err(Failure::Timeout)).then_some(report.fuel_used)
}

/// A counter of [`SlowPolicies`] on `/metrics`: name, help, reader.
type SlowMetric = (&'static str, &'static str, fn(&SlowPolicies) -> u64);

/// The engine, the per-merchant policy caches and the live limits: what a service needs
/// to load and run a merchant's policy.
#[derive(Debug, Clone)]
pub struct PolicyRunner {
    store: Store,
    runtime: Arc<Runtime>,
    active: Arc<ActivePolicies>,
    limits: Limits,
    /// The deadline of a call run inline, in milliseconds (0: none runs inline).
    inline_deadline_ms: u64,
    /// Merchants whose policy ran past [`INLINE_DEADLINE`] inline: their calls go to the
    /// blocking pool for a while ([`slow`]).
    slow: Arc<SlowPolicies>,
}

/// One policy call's inputs, owned so they can move to a blocking thread and back.
#[derive(Debug)]
pub struct Call {
    pub policy: CompiledPolicy,
    /// For a call that may run inline: whose it is and the generation of their policy
    /// state ([`Active::generation`]), by which a slow policy is remembered. `None`: the
    /// blocking pool (dry-runs, whose version and config vary per call).
    pub inline: Option<(String, i64)>,
    pub config: Arc<str>,
    pub limits: Limits,
    pub order: Order,
    pub card: Card,
    /// For `accrue`: the till's last offer for the order.
    pub offer: Option<Offer>,
    /// What a contract-0.3 policy sees of the card beyond it (see [`PolicyRunner::extras`]).
    pub extras: Option<Arc<CardExtras>>,
    /// Held until the call is over, even if the caller stops waiting meanwhile.
    pub slot: Option<Slot>,
}

/// The code a bill carries in its `couponCode` field, normalized.
fn typed_code(order: &Order) -> Option<String> {
    let (_, text) = order
        .attributes
        .iter()
        .find(|(key, _)| key == TYPED_CODE_ATTRIBUTE)?;
    let code: String = serde_json::from_str(text).ok()?;
    Some(normalize_code(&code))
}

impl PolicyRunner {
    /// What a policy of `contract` sees of `card` beyond it for `order_id` (the ledger's
    /// order id, whose own hold does not count against it): for 0.3, the points the
    /// card's other open orders do not hold, its usable wallet and its profile; `None` for
    /// older contracts (they never see them, and the reads are skipped). `prefetched`:
    /// the extras as read with the card ([`rabat_store::Store::card_with_extras`], one round trip for
    /// both), else they are read here.
    ///
    /// A code the bill carries in its `couponCode` field (one the customer typed in, which a
    /// POS may add to Papaya's body) joins the wallet first when the card may use it now;
    /// otherwise `notes` says why (another merchant's code is simply unknown here).
    pub async fn extras(
        &self,
        merchant: &str,
        card: &Card,
        order: &Order,
        order_id: &str,
        contract: Contract,
        prefetched: Option<CardExtras>,
    ) -> ServiceResult<Option<Arc<CardExtras>>> {
        if !contract.sees_coupons() {
            return Ok(None);
        }
        let now = now_ms();
        let mut extras = match prefetched {
            Some(extras) => extras,
            None => {
                self.store
                    .card_extras(
                        merchant,
                        &card.card_id,
                        order_id,
                        card.spendable_points(),
                        now,
                    )
                    .await?
            }
        };
        if let Some(typed) = typed_code(order) {
            match code_problem(&typed) {
                Some(problem) => extras
                    .notes
                    .push(format!("the bill's couponCode {problem}")),
                None if extras.wallet.iter().any(|c| c.code == typed) => {}
                None => match self
                    .store
                    .typed_coupon(merchant, &card.card_id, order_id, &typed, now)
                    .await?
                {
                    Ok(coupon) => {
                        extras.wallet.insert(0, coupon);
                        extras.wallet.truncate(MAX_WALLET_COUPONS);
                    }
                    Err(why) => extras.notes.push(format!("the bill's {why}")),
                },
            }
        }
        Ok(Some(Arc::new(extras)))
    }

    pub fn new(
        store: Store,
        runtime: Arc<Runtime>,
        active: Arc<ActivePolicies>,
        limits: Limits,
        inline_deadline: Duration,
    ) -> Self {
        PolicyRunner {
            store,
            runtime,
            active,
            limits,
            inline_deadline_ms: u64::try_from(inline_deadline.as_millis()).unwrap_or(u64::MAX),
            slow: Arc::default(),
        }
    }

    /// The inline calls' counters on `/metrics`.
    pub fn register_metrics(&self, metrics: &mut Metrics) {
        let all: [SlowMetric; 2] = [
            (
                "policy_inline_retries",
                "Policy calls that ran past the inline deadline and were run again on the blocking pool",
                SlowPolicies::retried,
            ),
            (
                "policy_marked_slow",
                "Times a merchant's policy was found too slow to run inline (its calls then run on the blocking pool for a while)",
                SlowPolicies::marked,
            ),
        ];
        for (name, help, get) in all {
            let slow = self.slow.clone();
            metrics.sample(name, help, Kind::Counter, Arc::new(move || get(&slow)));
        }
    }

    pub fn runtime(&self) -> &Arc<Runtime> {
        &self.runtime
    }

    pub fn active_policies(&self) -> &ActivePolicies {
        &self.active
    }

    /// The live limits every till call runs with.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// What the merchant runs now (loading it on first use).
    pub async fn active(&self, merchant: &str) -> Result<Arc<Active>, LoadError> {
        self.active.get(&self.store, &self.runtime, merchant).await
    }

    /// Version `version` of the merchant's policy, compiled (or from the caches), active
    /// or not: what dry-runs and replays run. An unknown version is not found; a stored
    /// module that no longer loads is an invalid policy.
    pub async fn version(&self, merchant: &str, version: i64) -> ServiceResult<CompiledPolicy> {
        let wasm = self.store.policy_wasm(merchant, version).await?;
        let sha256 = hex::encode(Sha256::digest(&wasm));
        self.active
            .compiled(&self.runtime, version, &sha256, wasm)
            .await
            .map_err(|error| match error {
                LoadError::Store(e) => e.into(),
                LoadError::Rejected { rejection, .. } => ServiceError::InvalidPolicy(format!(
                    "stored version {version} does not load: {rejection}"
                )),
                LoadError::Join(e) => ServiceError::internal(e),
            })
    }

    /// `evaluate` and the money rules ([`decide`]); the call's order and card come back
    /// with the decision.
    pub async fn decide(&self, call: Call) -> ServiceResult<(Decision, Order, Card)> {
        self.run(call, decide, |decision| {
            matches!(decision.failure, Some(Failure::Timeout)).then_some(decision.report.fuel_used)
        })
        .await
    }

    /// Endpoint 1's run: like [`PolicyRunner::decide`], except that
    /// an answer with a discount that costs points comes back before the money rules
    /// ([`Decided::CostsPoints`]): which of those the card can afford is only known under
    /// its lock, in the till's hold transaction.
    pub async fn decide_at_till(&self, call: Call) -> ServiceResult<(Decided, Order, Card)> {
        self.run(call, decide_at_till, |decided| match decided {
            Decided::Done(Decision {
                failure: Some(Failure::Timeout),
                report,
                ..
            }) => Some(report.fuel_used),
            _ => None,
        })
        .await
    }

    /// `evaluate` alone: the policy's answer before any money rule (what the till
    /// combines across campaigns).
    pub async fn evaluate(&self, call: Call) -> ServiceResult<CallReport<Evaluation>> {
        let (report, _, _) = self
            .run(
                call,
                |runtime, policy, input| runtime.evaluate(policy, input),
                timed_out,
            )
            .await?;
        Ok(report)
    }

    /// `accrue`.
    pub async fn accrue(&self, call: Call) -> ServiceResult<CallReport<Accrual>> {
        let (report, _, _) = self
            .run(
                call,
                |runtime, policy, input| runtime.accrue(policy, input),
                timed_out,
            )
            .await?;
        Ok(report)
    }

    /// Runs `run` with the call's inputs: inline with the deadline cut to
    /// [`INLINE_DEADLINE`] unless the merchant's policy is known to be slow, and on the
    /// blocking pool with the full limits when it is or when the inline run `timed_out`
    /// (which gives the fuel that run used).
    /// The call's slot is held until the call is over even if the caller stops waiting;
    /// the order and card come back.
    async fn run<T: Send + 'static>(
        &self,
        call: Call,
        run: fn(&Runtime, &CompiledPolicy, CallInput<'_>) -> T,
        timed_out: fn(&T) -> Option<u64>,
    ) -> ServiceResult<(T, Order, Card)> {
        let inline = self.inline_deadline_ms > 0
            && call.limits.deadline_ms > self.inline_deadline_ms
            && call
                .inline
                .as_ref()
                .is_some_and(|key| !self.slow.is_slow(key, Instant::now()));
        if inline {
            let limits = Limits {
                deadline_ms: self.inline_deadline_ms,
                ..call.limits.clone()
            };
            let input = CallInput {
                order: &call.order,
                card: Some(&call.card),
                config: &call.config,
                offer: call.offer.as_ref(),
                extras: call.extras.as_deref(),
                limits: &limits,
            };
            let cpu = ThreadCpu::now();
            let out = run(&self.runtime, &call.policy, input);
            let (Some(fuel_used), Some(key)) = (timed_out(&out), &call.inline) else {
                return Ok((out, call.order, call.card));
            };
            let used = Used {
                fuel: fuel_used,
                cpu: cpu.elapsed(),
            };
            let merchant = key.0.as_str();
            let cpu_us = used.cpu.map(|cpu| cpu.as_micros());
            if self.slow.timed_out(key, used, Instant::now()) {
                tracing::info!(
                    merchant,
                    fuel_used,
                    cpu_us,
                    "the policy ran past the inline deadline: its calls run on the blocking pool for a while"
                );
            } else {
                tracing::debug!(
                    merchant,
                    fuel_used,
                    cpu_us,
                    "an inline call was descheduled past its deadline; run again on the blocking pool"
                );
            }
        }
        self.off_thread(call, run).await
    }

    /// Runs `run` with the call's inputs on a blocking thread, holding the call's slot
    /// until it returns even if the caller stops waiting; the order and card come back.
    async fn off_thread<T: Send + 'static>(
        &self,
        call: Call,
        run: fn(&Runtime, &CompiledPolicy, CallInput<'_>) -> T,
    ) -> ServiceResult<(T, Order, Card)> {
        let runtime = self.runtime.clone();
        Ok(tokio::task::spawn_blocking(move || {
            let _slot = call.slot;
            let input = CallInput {
                order: &call.order,
                card: Some(&call.card),
                config: &call.config,
                offer: call.offer.as_ref(),
                extras: call.extras.as_deref(),
                limits: &call.limits,
            };
            let out = run(&runtime, &call.policy, input);
            (out, call.order, call.card)
        })
        .await?)
    }
}

/// Endpoint 1's policy call and, unless a discount costs points, its money rules.
fn decide_at_till(runtime: &Runtime, policy: &CompiledPolicy, input: CallInput<'_>) -> Decided {
    let CallReport {
        result,
        fuel_used,
        peak_memory_bytes,
        duration,
        logs,
        logs_dropped,
    } = runtime.evaluate(policy, input);
    let report = CallReport {
        result: Ok(()),
        fuel_used,
        peak_memory_bytes,
        duration,
        logs,
        logs_dropped,
    };
    match result {
        Ok(evaluation) if points::costs_points(&evaluation.discounts) => {
            Decided::CostsPoints { evaluation, report }
        }
        result => Decided::Done(money_decision(
            input.order,
            result.and_then(|evaluation| {
                money::discount_response(input.order, &evaluation)
                    .map_err(|e| Failure::InvalidAnswer(e.to_string()))
            }),
            report,
        )),
    }
}

/// What a policy's answer at the till came to.
#[derive(Debug)]
pub enum Decided {
    /// The answer the till gets (no discount cost points).
    Done(Decision),
    /// The policy's answer, at least one discount of which costs points, not yet money.
    CostsPoints {
        evaluation: Evaluation,
        report: CallReport<()>,
    },
}

/// The decision for a money result: the answer, or the fail-safe answer with the
/// failure. What `rabat_sandbox::decide::decide` does after the policy ran, for the
/// answers the till settles itself.
pub fn money_decision(
    order: &Order,
    result: Result<DiscountResponse, Failure>,
    report: CallReport<()>,
) -> Decision {
    match result {
        Ok(response) => Decision {
            response,
            failure: None,
            report,
        },
        Err(failure) => Decision {
            response: DiscountResponse::fail_safe(&order.currency),
            failure: Some(failure),
            report,
        },
    }
}
