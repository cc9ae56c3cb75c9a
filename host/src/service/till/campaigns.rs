//! The till with more than one live campaign (issue 17): each campaign runs in its own
//! fresh sandboxed instance, with its own fuel, memory and time limits and its own slot of
//! the merchant's admission bound, all at once; the answers are combined by
//! [`super::super::stacking`]. A campaign that fails drops out alone. With one live
//! campaign the till takes its single-policy path instead (one call, as before campaigns).

use std::time::Duration;

use rabat_domain::limits::{MAX_POINTS_PER_ACCRUAL, without_nul};
use rabat_domain::model::{Card, Offer, Order};
use rabat_domain::money::{self, DiscountResponse};
use rabat_domain::points;
use rabat_sandbox::sandbox::{LogLevel, LogLine};
use rabat_sandbox::{CallReport, Contract, Failure};
use rabat_store::Settlement;

use super::{Accrued, LogEntry, Till, json_text, settlement};
use crate::active::ActiveCampaign;
use crate::service::runner::Call;
use crate::service::stacking::{self, Ran, label};
use crate::service::{ServiceError, ServiceResult};

/// Why a campaign's call gave no answer, with its metric outcome.
struct NoAnswer {
    outcome: &'static str,
    reason: String,
}

impl Till {
    /// Endpoint 1 with several live campaigns (`live`, in run order).
    pub(super) async fn evaluate_campaigns(
        &self,
        merchant: &str,
        order: Order,
        card: Card,
        ledger_order_id: &str,
        live: &[&ActiveCampaign],
    ) -> ServiceResult<DiscountResponse> {
        // As for one policy: only a 0.2 policy's `accrue` sees the order's offer.
        let sees_offers = live
            .iter()
            .any(|campaign| campaign.policy.contract() == Contract::V0_2);
        // Every call starts at once (each on its own blocking thread once it has its slot).
        let calls: Vec<_> = live
            .iter()
            .map(|campaign| {
                let till = self.clone();
                let merchant = merchant.to_owned();
                let (policy, config) = (campaign.policy.clone(), campaign.config.clone());
                let (order, card) = (order.clone(), card.clone());
                tokio::spawn(async move {
                    let slot = match till.admission.enter(&merchant).await {
                        Ok(slot) => slot,
                        Err(busy) => {
                            return Ok(Err(NoAnswer {
                                outcome: "busy",
                                reason: busy.to_string(),
                            }));
                        }
                    };
                    // On the blocking pool: the campaigns' calls run side by side.
                    let call = Call {
                        policy,
                        inline: None,
                        config,
                        limits: till.runner.limits().clone(),
                        order,
                        card,
                        offer: None,
                        slot: Some(slot),
                    };
                    till.runner.evaluate(call).await.map(Ok)
                })
            })
            .collect();
        let reports = joined(calls).await?;
        let mut fuel = 0_u64;
        let mut duration = Duration::ZERO;
        let mut logs: Vec<LogLine> = Vec::new();
        let mut ran = Vec::with_capacity(live.len());
        let mut first_failure: Option<&'static str> = None;
        for (campaign, report) in live.iter().zip(reports) {
            let name = label(&campaign.campaign);
            let result = match report? {
                Ok(report) => {
                    fuel = fuel.saturating_add(report.fuel_used);
                    duration = duration.max(report.duration);
                    logs.extend(report.logs.into_iter().map(|line| LogLine {
                        level: line.level,
                        message: format!("[{name}] {}", line.message),
                    }));
                    let outcome = report
                        .result
                        .as_ref()
                        .map_or_else(Failure::outcome, |_| "answer");
                    self.metrics
                        .policy_call(merchant, "evaluate", outcome, report.fuel_used);
                    report.result.map_err(|failure| {
                        tracing::warn!(merchant, order_id = %order.order_id, campaign = campaign.campaign.id, %failure, "campaign failed; it drops out alone");
                        first_failure.get_or_insert(failure.outcome());
                        failure.to_string()
                    })
                }
                Err(NoAnswer { outcome, reason }) => {
                    tracing::warn!(merchant, order_id = %order.order_id, campaign = campaign.campaign.id, %reason, "campaign not run");
                    self.metrics.policy_call(merchant, "evaluate", outcome, 0);
                    first_failure.get_or_insert(outcome);
                    Err(reason)
                }
            };
            ran.push(Ran {
                campaign: &campaign.campaign,
                result,
            });
        }
        let combined = stacking::combine(&order, &ran);
        let errors: Vec<String> = ran
            .iter()
            .filter_map(|run| {
                run.result
                    .as_ref()
                    .err()
                    .map(|e| format!("{}: {e}", label(run.campaign)))
            })
            .collect();
        // Which campaign each line of the answer came from (before the points gate, which
        // may only drop lines).
        let traced = money::discount_response_traced(&order, &combined.evaluation).ok();
        let (response, at, dropped, failure) =
            if points::costs_points(&combined.evaluation.discounts) {
                let report = CallReport {
                    result: Ok(()),
                    fuel_used: fuel,
                    peak_memory_bytes: 0,
                    duration,
                    logs: Vec::new(),
                    logs_dropped: 0,
                };
                let (decision, at, dropped) = self
                    .offer_points(
                        merchant,
                        ledger_order_id,
                        &order,
                        &card,
                        combined.evaluation.clone(),
                        report,
                    )
                    .await?;
                (decision.response, Some(at), dropped, decision.failure)
            } else {
                let (response, failure) =
                    match money::discount_response(&order, &combined.evaluation) {
                        Ok(response) => (response, None),
                        Err(invalid) => (
                            DiscountResponse::fail_safe(&order.currency),
                            Some(Failure::InvalidAnswer(invalid.to_string())),
                        ),
                    };
                // The order's hold follows this answer, as for one policy.
                if sees_offers {
                    self.follow_free_answer(merchant, ledger_order_id, &card, &response)
                        .await?;
                }
                (response, None, Vec::new(), failure)
            };
        let answered = ran.iter().any(|run| run.result.is_ok());
        let outcome = match (&failure, answered) {
            (Some(failure), _) => failure.outcome(),
            (None, true) => "answer",
            (None, false) => first_failure.unwrap_or("answer"),
        };
        let mut entry = LogEntry::new(merchant, None, outcome, Some(&response));
        entry.fuel = Some(fuel);
        entry.duration_us = u64::try_from(duration.as_micros()).unwrap_or(u64::MAX);
        let mut error_parts = errors;
        if let Some(failure) = &failure {
            error_parts.push(format!("combined answer: {failure}"));
        }
        entry.error = (!error_parts.is_empty()).then(|| error_parts.join("; "));
        let mut record = entry.record(&order, &card);
        let host = |message: String| LogLine {
            level: LogLevel::Info,
            message: format!("host: {message}"),
        };
        for (run, note) in ran.iter().zip(&combined.notes) {
            logs.push(host(format!("{}: {note}", label(run.campaign))));
        }
        if let Some((traced, sources)) = &traced {
            for (line, source) in traced.discounts.iter().zip(sources) {
                if let Some(owner) = combined.owners.get(*source) {
                    logs.push(host(format!(
                        "{} gave '{}': {}",
                        label(ran[*owner].campaign),
                        line.description(),
                        line.amount()
                    )));
                }
            }
        }
        logs.extend(dropped.into_iter().map(|message| LogLine {
            level: LogLevel::Warn,
            message: format!("host: {message}"),
        }));
        if let Some(logs) = json_text(&logs) {
            record.logs = logs;
        }
        if let Some(at) = at {
            record.at = at;
        }
        // Each campaign's call is already counted in the metrics: the log row alone.
        self.evaluations.record(record);
        Ok(response)
    }

    /// Endpoint 2 with several live campaigns: every campaign's `accrue` runs (each in its
    /// own instance and slot), each bounded as a single policy's is; points add up, tags
    /// are joined, the first campaign (in run order) to set a tier sets it, the
    /// redemptions add up to at most what the order holds. The reason names what each
    /// campaign earned.
    pub(super) async fn accrue_campaigns(
        &self,
        merchant: &str,
        order: &Order,
        card: &Card,
        offer: Option<&Offer>,
        live: &[&ActiveCampaign],
    ) -> ServiceResult<Accrued> {
        let calls: Vec<_> = live
            .iter()
            .map(|campaign| {
                let till = self.clone();
                let merchant = merchant.to_owned();
                let (policy, config) = (campaign.policy.clone(), campaign.config.clone());
                let (order, card, offer) = (order.clone(), card.clone(), offer.cloned());
                tokio::spawn(async move {
                    let slot = match till
                        .admission
                        .enter_within(&merchant, till.accrue_wait)
                        .await
                    {
                        Ok(slot) => slot,
                        Err(busy) => {
                            till.metrics.policy_call(&merchant, "accrue", "busy", 0);
                            return Ok(Err(busy.to_string()));
                        }
                    };
                    // On the blocking pool: the campaigns' calls run side by side.
                    let call = Call {
                        policy,
                        inline: None,
                        config,
                        limits: till.runner.limits().clone(),
                        order,
                        card,
                        offer,
                        slot: Some(slot),
                    };
                    till.runner.accrue(call).await.map(Ok)
                })
            })
            .collect();
        let reports = joined(calls).await?;
        let mut points: i64 = 0;
        let mut reasons = Vec::new();
        let mut errors = Vec::new();
        let mut merged = Settlement::default();
        let mut tier_by: Option<String> = None;
        for (campaign, report) in live.iter().zip(reports) {
            let name = label(&campaign.campaign);
            let report = match report? {
                Ok(report) => report,
                Err(busy) => {
                    errors.push(format!("{name}: {busy}"));
                    continue;
                }
            };
            let outcome = report
                .result
                .as_ref()
                .map_or_else(Failure::outcome, |_| "answer");
            self.metrics
                .policy_call(merchant, "accrue", outcome, report.fuel_used);
            let accrual = match report.result {
                Ok(accrual) => accrual,
                Err(failure) => {
                    tracing::warn!(merchant, campaign = campaign.campaign.id, %failure, "a campaign's accrue failed; it earns nothing");
                    errors.push(format!("{name}: {}", without_nul(&failure.to_string())));
                    continue;
                }
            };
            if accrual.points.unsigned_abs() > MAX_POINTS_PER_ACCRUAL.unsigned_abs() {
                errors.push(format!(
                    "{name}: granted {} points; at most {MAX_POINTS_PER_ACCRUAL} (or -{MAX_POINTS_PER_ACCRUAL}) per bill are allowed, so it earns 0",
                    accrual.points
                ));
                continue;
            }
            points = points.saturating_add(accrual.points);
            if accrual.points != 0 || accrual.reason.is_some() {
                let why = accrual
                    .reason
                    .as_deref()
                    .map(|reason| format!(" ({})", without_nul(reason)))
                    .unwrap_or_default();
                reasons.push(format!("{name}: {:+}{why}", accrual.points));
            }
            let settled = settlement(&accrual, offer);
            merged.redeem = merged.redeem.saturating_add(settled.redeem);
            match (&tier_by, settled.set_tier) {
                (None, Some(tier)) => {
                    merged.set_tier = Some(tier);
                    tier_by = Some(name.clone());
                }
                (Some(first), Some(tier)) => merged.dropped.push(format!(
                    "{name}: setTier '{tier}' dropped: {first} set the tier first"
                )),
                (_, None) => {}
            }
            for tag in settled.add_tags {
                if !merged.add_tags.contains(&tag) {
                    merged.add_tags.push(tag);
                }
            }
            for tag in settled.remove_tags {
                if !merged.remove_tags.contains(&tag) {
                    merged.remove_tags.push(tag);
                }
            }
            merged.dropped.extend(
                settled
                    .dropped
                    .into_iter()
                    .map(|why| format!("{name}: {why}")),
            );
        }
        merged.redeem = merged
            .redeem
            .min(offer.map_or(0, |offer| offer.held_points));
        let bound = MAX_POINTS_PER_ACCRUAL;
        if points.unsigned_abs() > bound.unsigned_abs() {
            errors.push(format!(
                "the campaigns granted {points} points together; the bill gets the bound of {bound} per bill"
            ));
            points = points.clamp(-bound, bound);
        }
        if !merged.dropped.is_empty() {
            tracing::warn!(merchant, dropped = ?merged.dropped, "accrue asked for card changes that were dropped");
        }
        Ok(Accrued {
            points,
            reason: (!reasons.is_empty()).then(|| reasons.join("; ")),
            error: (!errors.is_empty()).then(|| errors.join("; ")),
            settlement: merged,
            version: live.first().map(|c| c.campaign.policy_version),
        })
    }
}

/// The results of spawned calls, in the order they were started.
async fn joined<T>(handles: Vec<tokio::task::JoinHandle<T>>) -> ServiceResult<Vec<T>> {
    let mut results = Vec::with_capacity(handles.len());
    for handle in handles {
        results.push(handle.await.map_err(ServiceError::internal)?);
    }
    Ok(results)
}
