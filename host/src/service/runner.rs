//! Running a policy from async code: the one place that hands a call to a blocking thread,
//! so every flow (the till, dry-runs, accruals) runs policies the same way.

use std::sync::Arc;

use rabat_domain::model::{Accrual, Card, Evaluation, Offer, Order};
use rabat_domain::money::{self, DiscountResponse};
use rabat_domain::points;
use rabat_sandbox::decide::{Decision, decide};
use rabat_sandbox::{CallInput, CallReport, CompiledPolicy, Failure, Limits, Runtime};
use rabat_store::Store;
use sha2::{Digest, Sha256};

use super::{ServiceError, ServiceResult};
use crate::active::{Active, ActivePolicies, LoadError};
use crate::admission::Slot;

/// The engine, the per-merchant policy caches and the live limits: what a service needs
/// to load and run a merchant's policy.
#[derive(Debug, Clone)]
pub struct PolicyRunner {
    store: Store,
    runtime: Arc<Runtime>,
    active: Arc<ActivePolicies>,
    limits: Limits,
}

/// One policy call's inputs, owned so they can move to a blocking thread and back.
#[derive(Debug)]
pub struct Call {
    pub policy: CompiledPolicy,
    pub config: Arc<str>,
    pub limits: Limits,
    pub order: Order,
    pub card: Card,
    /// For `accrue`: the till's last offer for the order.
    pub offer: Option<Offer>,
    /// Held until the call is over, even if the caller stops waiting meanwhile.
    pub slot: Option<Slot>,
}

impl PolicyRunner {
    pub fn new(
        store: Store,
        runtime: Arc<Runtime>,
        active: Arc<ActivePolicies>,
        limits: Limits,
    ) -> Self {
        PolicyRunner {
            store,
            runtime,
            active,
            limits,
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

    /// `evaluate` and the money rules ([`decide`]) on a blocking thread; the call's
    /// order and card come back with the decision.
    pub async fn decide(&self, call: Call) -> ServiceResult<(Decision, Order, Card)> {
        self.off_thread(call, |runtime, policy, input| {
            decide(runtime, policy, input)
        })
        .await
    }

    /// Endpoint 1's run on a blocking thread: like [`PolicyRunner::decide`], except that
    /// an answer with a discount that costs points comes back before the money rules
    /// ([`Decided::CostsPoints`]): which of those the card can afford is only known under
    /// its lock, in the till's hold transaction.
    pub async fn decide_at_till(&self, call: Call) -> ServiceResult<(Decided, Order, Card)> {
        self.off_thread(call, |runtime, policy, input| {
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
        })
        .await
    }

    /// `evaluate` alone on a blocking thread: the policy's answer before any money rule
    /// (what the till combines across campaigns).
    pub async fn evaluate(&self, call: Call) -> ServiceResult<CallReport<Evaluation>> {
        let (report, _, _) = self
            .off_thread(call, |runtime, policy, input| {
                runtime.evaluate(policy, input)
            })
            .await?;
        Ok(report)
    }

    /// `accrue` on a blocking thread.
    pub async fn accrue(&self, call: Call) -> ServiceResult<CallReport<Accrual>> {
        let (report, _, _) = self
            .off_thread(call, |runtime, policy, input| runtime.accrue(policy, input))
            .await?;
        Ok(report)
    }

    /// Runs `run` with the call's inputs on a blocking thread, holding the call's slot
    /// until it returns even if the caller stops waiting; the order and card come back.
    async fn off_thread<T: Send + 'static>(
        &self,
        call: Call,
        run: impl FnOnce(&Runtime, &CompiledPolicy, CallInput<'_>) -> T + Send + 'static,
    ) -> ServiceResult<(T, Order, Card)> {
        let runtime = self.runtime.clone();
        Ok(tokio::task::spawn_blocking(move || {
            let _slot = call.slot;
            let input = CallInput {
                order: &call.order,
                card: Some(&call.card),
                config: &call.config,
                offer: call.offer.as_ref(),
                limits: &call.limits,
            };
            let out = run(&runtime, &call.policy, input);
            (out, call.order, call.card)
        })
        .await?)
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
