//! The till's two flows, shared by every POS: work out the discount for an open bill
//! (endpoint 1), and record a completed bill on its card exactly once (endpoint 2).
//!
//! Endpoint 1 never blocks the till: a policy that fails to load, a saturated merchant or
//! a failing policy all give the fail-safe answer (no discount, a short cashier message),
//! logged with the reason. Endpoint 2 always records the bill: when `accrue` cannot run
//! or fails, with 0 points and the reason.

use std::sync::Arc;
use std::time::Duration;

use rabat_domain::clock::now_ms;
use rabat_domain::limits::{MAX_POINTS_PER_ACCRUAL, without_nul};
use rabat_domain::model::{Card, Order, Pos};
use rabat_domain::money::{DiscountResponse, NO_DISCOUNT_MESSAGE};
use rabat_sandbox::Failure;
use rabat_store::{
    Entity, GroupCommit, PendingEvaluation, Recorded, Store, StoreError, TransactionRecord,
};
use serde_json::Value;

use super::runner::{Call, PolicyRunner};
use super::{ServiceError, ServiceResult};
use crate::active::LoadError;
use crate::admission::Admission;
use crate::evaluation_log::EvaluationLog;
use crate::metrics::Metrics;

/// The least time `accrue` waits for one of its merchant's slots.
const ACCRUE_QUEUE_MIN: Duration = Duration::from_secs(2);

/// The till's service. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Till {
    store: Store,
    runner: PolicyRunner,
    admission: Arc<Admission>,
    /// How long a completed bill waits for a merchant slot (at least [`ACCRUE_QUEUE_MIN`]).
    accrue_wait: Duration,
    metrics: Arc<Metrics>,
    evaluations: EvaluationLog,
    /// Completed bills arriving together share one commit.
    ledger: GroupCommit,
}

/// A completed bill as a POS reports it, ready to be recorded.
#[derive(Debug, Clone)]
pub struct CompletedBill {
    pub order: Order,
    /// Tells an honest retry (the same hash) from a different bill under the same order id.
    pub request_hash: String,
    /// When the bill was completed (epoch ms); now when the POS does not say.
    pub occurred_at: Option<i64>,
    pub pos: Pos,
    /// The POS's own body, kept with the ledger row.
    pub request: Option<Value>,
    /// The ledger's order id; the POS's order id when `None`.
    pub ledger_order_id: Option<String>,
}

/// What `accrue` gave for a completed bill.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Accrued {
    pub points: i64,
    pub reason: Option<String>,
    /// Why the policy could not say (the bill is recorded with 0 points).
    pub error: Option<String>,
}

impl Till {
    pub fn new(
        store: Store,
        runner: PolicyRunner,
        admission: Arc<Admission>,
        merchant_queue: Duration,
        metrics: Arc<Metrics>,
        evaluations: EvaluationLog,
        ledger: GroupCommit,
    ) -> Self {
        Till {
            ledger,
            store,
            runner,
            admission,
            accrue_wait: merchant_queue.max(ACCRUE_QUEUE_MIN),
            metrics,
            evaluations,
        }
    }

    /// Endpoint 1 for a bill naming its card: an unknown card is Papaya's error 3.
    pub async fn discount_for_card(
        &self,
        merchant: &str,
        order: Order,
        card_id: &str,
    ) -> ServiceResult<DiscountResponse> {
        let card = self.card(merchant, card_id).await?;
        self.evaluate(merchant, order, card).await
    }

    /// The merchant's card `card_id`, or Papaya's error 3.
    pub async fn card(&self, merchant: &str, card_id: &str) -> ServiceResult<Card> {
        self.store
            .card(merchant, card_id)
            .await?
            .ok_or(ServiceError::CustomerNotFound)
    }

    /// Runs the merchant's active policy for a bill and logs the evaluation; any policy
    /// failure gives the fail-safe answer. Only a failing database is an error.
    pub async fn evaluate(
        &self,
        merchant: &str,
        order: Order,
        card: Card,
    ) -> ServiceResult<DiscountResponse> {
        let active = match self.runner.active(merchant).await {
            Ok(active) => active,
            Err(LoadError::Store(e)) => return Err(e.into()),
            Err(error) => {
                tracing::error!(%error, merchant, "the active policy does not load; answering with no discount");
                let response = DiscountResponse::fail_safe(&order.currency);
                let entry = LogEntry::new(merchant, None, "unavailable", Some(&response));
                self.logged(entry.error(error.to_string()).record(&order, &card));
                return Ok(response);
            }
        };
        let Some(policy) = active.policy.clone() else {
            let response = DiscountResponse::empty(&order.currency, NO_DISCOUNT_MESSAGE);
            let entry = LogEntry::new(merchant, None, "no_policy", Some(&response));
            self.logged(entry.record(&order, &card));
            return Ok(response);
        };
        let slot = match self.admission.enter(merchant).await {
            Ok(slot) => slot,
            Err(busy) => {
                tracing::warn!(merchant, order_id = %order.order_id, %busy, "merchant saturated; answered with no discount");
                let response = DiscountResponse::fail_safe(&order.currency);
                let entry = LogEntry::new(merchant, active.version, "busy", Some(&response));
                self.logged(entry.error(busy.to_string()).record(&order, &card));
                return Ok(response);
            }
        };
        let call = Call {
            policy,
            config: active.config.clone(),
            limits: self.runner.limits().clone(),
            order,
            card,
            slot: Some(slot),
        };
        let (decision, order, card) = self.runner.decide(call).await?;
        if let Some(failure) = &decision.failure {
            tracing::warn!(merchant, order_id = %order.order_id, version = active.version, %failure, "policy failed; answered with no discount");
        }
        let mut entry = LogEntry::new(
            merchant,
            active.version,
            decision.outcome(),
            Some(&decision.response),
        );
        entry.fuel = Some(decision.report.fuel_used);
        entry.duration_us = u64::try_from(decision.report.duration.as_micros()).unwrap_or(u64::MAX);
        entry.error = decision.failure.as_ref().map(ToString::to_string);
        let mut record = entry.record(&order, &card);
        if let Some(logs) = json_text(&decision.report.logs) {
            record.logs = logs;
        }
        self.logged(record);
        Ok(decision.response)
    }

    /// Endpoint 2 for a bill naming its card: records it with the points `accrue` gives.
    pub async fn record_for_card(
        &self,
        merchant: &str,
        card_id: &str,
        bill: CompletedBill,
    ) -> ServiceResult<Recorded> {
        // An honest retry is answered before the card is looked up, so it still gets its
        // ack after the card was deleted.
        if let Some(recorded) = self.already_recorded(merchant, &bill).await? {
            return Ok(recorded);
        }
        let card = self.card(merchant, card_id).await?;
        self.record(merchant, &card, bill).await
    }

    /// The bill's order as already recorded: `Some` for a repeat with the same request
    /// hash (nothing changes), a conflict for another bill under that order id, `None`
    /// when the order is not recorded yet.
    pub async fn already_recorded(
        &self,
        merchant: &str,
        bill: &CompletedBill,
    ) -> ServiceResult<Option<Recorded>> {
        let order_id = bill
            .ledger_order_id
            .as_deref()
            .unwrap_or(&bill.order.order_id);
        Ok(self
            .store
            .recorded_transaction(merchant, order_id, &bill.request_hash)
            .await?)
    }

    /// Records a completed bill on `card`, exactly once: the same order with the same
    /// request hash again is a duplicate (nothing changes), anything else under that order
    /// id a conflict.
    pub async fn record(
        &self,
        merchant: &str,
        card: &Card,
        bill: CompletedBill,
    ) -> ServiceResult<Recorded> {
        let accrued = self.accrue(merchant, &bill.order, card).await?;
        let order = bill.order;
        let record = TransactionRecord {
            order_id: bill
                .ledger_order_id
                .unwrap_or_else(|| order.order_id.clone()),
            card_id: card.card_id.clone(),
            request_hash: bill.request_hash,
            total: order.total,
            points: accrued.points,
            points_reason: accrued.reason,
            occurred_at: bill.occurred_at.unwrap_or_else(now_ms),
            pos: bill.pos,
            request: bill.request,
            accrual_error: accrued.error,
        };
        match self.ledger.record(merchant, record).await {
            Ok(recorded) => Ok(recorded),
            Err(StoreError::NotFound {
                entity: Entity::Card,
                ..
            }) => Err(ServiceError::CustomerNotFound),
            Err(e) => Err(e.into()),
        }
    }

    /// Points for a completed bill from the active policy: 0 (with the failure noted) when
    /// the policy cannot run or fails, so the bill is always recorded.
    pub async fn accrue(
        &self,
        merchant: &str,
        order: &Order,
        card: &Card,
    ) -> ServiceResult<Accrued> {
        let active = match self.runner.active(merchant).await {
            Ok(active) => active,
            Err(LoadError::Store(e)) => return Err(e.into()),
            Err(error) => {
                self.metrics
                    .policy_call(merchant, "accrue", "unavailable", 0);
                return Ok(Accrued {
                    error: Some(error.to_string()),
                    ..Accrued::default()
                });
            }
        };
        let Some(policy) = active.policy.clone() else {
            return Ok(Accrued::default());
        };
        // A completed bill waits longer for a slot than a discount query: its points are at
        // stake. If the merchant stays saturated, the bill is still recorded, with 0 points
        // and the reason, like any other accrual failure.
        let slot = match self
            .admission
            .enter_within(merchant, self.accrue_wait)
            .await
        {
            Ok(slot) => slot,
            Err(busy) => {
                tracing::warn!(merchant, %busy, "merchant saturated; recording the bill with 0 points");
                self.metrics.policy_call(merchant, "accrue", "busy", 0);
                return Ok(Accrued {
                    error: Some(busy.to_string()),
                    ..Accrued::default()
                });
            }
        };
        let call = Call {
            policy,
            config: active.config.clone(),
            limits: self.runner.limits().clone(),
            order: order.clone(),
            card: card.clone(),
            slot: Some(slot),
        };
        let report = self.runner.accrue(call).await?;
        let outcome = report
            .result
            .as_ref()
            .map_or_else(Failure::outcome, |_| "answer");
        self.metrics
            .policy_call(merchant, "accrue", outcome, report.fuel_used);
        Ok(match report.result {
            Ok(accrual)
                if accrual.points.unsigned_abs() > MAX_POINTS_PER_ACCRUAL.unsigned_abs() =>
            {
                tracing::warn!(
                    merchant,
                    points = accrual.points,
                    "accrue granted too many points; recording the bill with 0 points"
                );
                Accrued {
                    points: 0,
                    reason: accrual.reason.as_deref().map(without_nul),
                    error: Some(format!(
                        "the policy granted {} points; at most {MAX_POINTS_PER_ACCRUAL} (or -{MAX_POINTS_PER_ACCRUAL}) per bill are allowed, so the bill is recorded with 0 points",
                        accrual.points
                    )),
                }
            }
            Ok(accrual) => Accrued {
                points: accrual.points,
                // A policy's text must not make the database refuse the bill.
                reason: accrual.reason.as_deref().map(without_nul),
                error: None,
            },
            Err(failure) => {
                tracing::warn!(merchant, %failure, "accrue failed; recording the bill with 0 points");
                Accrued {
                    error: Some(without_nul(&failure.to_string())),
                    ..Accrued::default()
                }
            }
        })
    }

    /// Counts an endpoint-1 run in the metrics and queues it for the evaluation log.
    fn logged(&self, record: PendingEvaluation) {
        self.metrics.policy_call(
            &record.merchant_id,
            "evaluate",
            &record.outcome,
            record.fuel.unwrap_or(0),
        );
        self.evaluations.record(record);
    }
}

/// What the evaluation log keeps of one endpoint-1 run, besides the bill and card.
struct LogEntry<'a> {
    merchant: &'a str,
    version: Option<i64>,
    outcome: &'a str,
    response: Option<&'a DiscountResponse>,
    fuel: Option<u64>,
    duration_us: u64,
    error: Option<String>,
}

impl<'a> LogEntry<'a> {
    fn new(
        merchant: &'a str,
        version: Option<i64>,
        outcome: &'a str,
        response: Option<&'a DiscountResponse>,
    ) -> Self {
        LogEntry {
            merchant,
            version,
            outcome,
            response,
            fuel: None,
            duration_us: 0,
            error: None,
        }
    }

    fn error(mut self, error: String) -> Self {
        self.error = Some(error);
        self
    }

    /// The log's row, its JSON written straight to compact text (no intermediate
    /// `serde_json::Value` tree: for a 200-item bill that tree was most of the log's cost).
    fn record(self, order: &Order, card: &Card) -> PendingEvaluation {
        PendingEvaluation {
            merchant_id: self.merchant.to_owned(),
            at: now_ms(),
            order_id: order.order_id.clone(),
            card_id: Some(card.card_id.clone()),
            policy_version: self.version,
            outcome: self.outcome.to_owned(),
            total_discount: self.response.map(|r| r.total_discount),
            fuel: self.fuel,
            duration_us: self.duration_us,
            request: json_text(order).unwrap_or_else(|| "null".to_owned()),
            card: json_text(card),
            response: self.response.and_then(json_text),
            logs: "[]".to_owned(),
            error: self.error.as_deref().map(without_nul),
        }
    }
}

/// Compact JSON text of a model value (they always serialize; `None` if one ever did not).
fn json_text(value: &impl serde::Serialize) -> Option<String> {
    serde_json::to_string(value).ok()
}
