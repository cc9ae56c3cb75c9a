//! The till with more than one live campaign (issue 17): each campaign runs in its own
//! fresh sandboxed instance, with its own fuel, memory and time limits and its own slot of
//! the merchant's admission bound, all at once; the answers are combined by
//! [`super::super::stacking`]. A campaign that fails drops out alone. With one live
//! campaign the till takes its single-policy path instead (one call, as before campaigns).

use std::time::Duration;

use rabat_domain::budget::{self, Left, Pool, Scope};
use rabat_domain::clock::now_ms;
use rabat_domain::coupon::{CardExtras, MAX_ISSUED_PER_BILL};
use rabat_domain::currency;
use rabat_domain::limits::{MAX_POINTS_PER_ACCRUAL, without_nul};
use rabat_domain::model::{Card, Evaluation, Offer, Order};
use rabat_domain::money::{self, DiscountResponse, NO_DISCOUNT_MESSAGE};
use rabat_domain::points;
use rabat_sandbox::Failure;
use rabat_sandbox::sandbox::{LogLevel, LogLine};
use rabat_store::{Entity, NewHold, Reservation, Reserved, Settlement, StoreError};

use super::{Accrued, LogEntry, Till, json_text, settlement};
use crate::active::ActiveCampaign;
use crate::service::runner::Call;
use crate::service::stacking::{self, Combined, Ran, label};
use crate::service::{ServiceError, ServiceResult};

/// Why a campaign's call gave no answer, with its metric outcome.
struct NoAnswer {
    outcome: &'static str,
    reason: String,
}

impl Till {
    /// Endpoint 1 with several live campaigns (`live`, in run order; `generation`: the
    /// merchant's policy state they came from, by which the runner knows a slow policy).
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn evaluate_campaigns(
        &self,
        merchant: &str,
        order: Order,
        card: Card,
        prefetched: Option<CardExtras>,
        ledger_order_id: &str,
        live: &[&ActiveCampaign],
        generation: i64,
    ) -> ServiceResult<DiscountResponse> {
        // As for one policy: only a 0.2 policy's `accrue` sees the order's offer.
        let sees_offers = live
            .iter()
            .any(|campaign| campaign.policy.contract().sees_offers());
        // The pools each campaign's limits count in for this bill, now (the campaigns'
        // clock, so a test decides the period).
        let now = self.clock.now();
        let pools: Vec<Vec<Pool>> = live
            .iter()
            .map(|c| {
                c.campaign.limits.as_ref().map_or_else(Vec::new, |limits| {
                    limits.pools(
                        c.campaign.id,
                        &card.card_id,
                        order.branch_id.as_deref(),
                        now,
                    )
                })
            })
            .collect();
        // A first look without a lock: a campaign with nothing left is not run at all (the
        // reservation below decides under the lock).
        let mut spent: Vec<Option<String>> = vec![None; live.len()];
        for (i, campaign_pools) in pools.iter().enumerate() {
            if !campaign_pools.is_empty() {
                let left = self.store.pools_left(merchant, campaign_pools, now).await?;
                spent[i] = used_up(campaign_pools.iter().zip(&left));
            }
        }
        // One read of the card's extras serves every 0.3 campaign.
        let extras = match live.iter().find(|c| c.policy.contract().sees_coupons()) {
            Some(c) => {
                self.runner
                    .extras(
                        merchant,
                        &card,
                        &order,
                        ledger_order_id,
                        c.policy.contract(),
                        prefetched,
                    )
                    .await?
            }
            None => None,
        };
        let typed_notes = extras.as_ref().map(|e| e.notes.clone()).unwrap_or_default();
        // Every call starts at once, each in its own task once it has its slot (inline on a
        // worker, or on the blocking pool when the merchant's policy is known to be slow).
        let calls: Vec<_> = live
            .iter()
            .zip(&spent)
            .map(|(campaign, spent)| {
                if let Some(why) = spent {
                    let why = why.clone();
                    return tokio::spawn(async move {
                        Ok(Err(NoAnswer {
                            outcome: "limit",
                            reason: why,
                        }))
                    });
                }
                let till = self.clone();
                let merchant = merchant.to_owned();
                let (policy, config) = (campaign.policy.clone(), campaign.config.clone());
                let (order, card) = (order.clone(), card.clone());
                let extras = extras
                    .clone()
                    .filter(|_| campaign.policy.contract().sees_coupons());
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
                    // Inline on the worker that runs this task, as a single campaign's call
                    // (the runner sends a slow policy's calls to the blocking pool).
                    let call = Call {
                        policy,
                        inline: Some((merchant.clone(), generation)),
                        config,
                        limits: till.runner.limits().clone(),
                        order,
                        card,
                        offer: None,
                        extras,
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
                Err(NoAnswer {
                    outcome: "limit",
                    reason,
                }) => Err(reason),
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
        // A campaign left out for its limits did not fail.
        let errors: Vec<String> = ran
            .iter()
            .zip(&spent)
            .filter(|(_, spent)| spent.is_none())
            .filter_map(|(run, _)| {
                run.result
                    .as_ref()
                    .err()
                    .map(|e| format!("{}: {e}", label(run.campaign)))
            })
            .collect();
        // Points to hold, or a limited campaign giving something: settled under the lock.
        let limited = combined
            .owners
            .iter()
            .any(|owner| !pools[*owner].is_empty());
        let (response, at, dropped, failure, notes, line_owners) =
            if limited || points::costs_points(&combined.evaluation.discounts) {
                let settled = self
                    .settle(
                        merchant,
                        ledger_order_id,
                        &order,
                        &card,
                        &ran,
                        combined,
                        &pools,
                    )
                    .await?;
                let (response, failure) = match settled.response {
                    Ok(response) => (response, None),
                    Err(failure) => (DiscountResponse::fail_safe(&order.currency), Some(failure)),
                };
                (
                    response,
                    Some(settled.at),
                    settled.dropped,
                    failure,
                    settled.notes,
                    settled.line_owners,
                )
            } else {
                let (response, failure, line_owners) =
                    match money::discount_response_traced(&order, &combined.evaluation) {
                        Ok((response, sources)) => {
                            let owners = sources
                                .iter()
                                .map(|source| combined.owners.get(*source).copied())
                                .collect();
                            (response, None, owners)
                        }
                        Err(invalid) => (
                            DiscountResponse::fail_safe(&order.currency),
                            Some(Failure::InvalidAnswer(invalid.to_string())),
                            Vec::new(),
                        ),
                    };
                // The order's reservation follows this answer, as for one policy: an order
                // that held points or a limited campaign's discount holds them no more.
                if sees_offers || pools.iter().any(|p| !p.is_empty()) {
                    self.follow_free_answer(merchant, ledger_order_id, &card, &response)
                        .await?;
                }
                (
                    response,
                    None,
                    Vec::new(),
                    failure,
                    combined.notes,
                    line_owners,
                )
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
        for (run, note) in ran.iter().zip(&notes) {
            logs.push(host(format!("{}: {note}", label(run.campaign))));
        }
        for (line, owner) in response.discounts.iter().zip(&line_owners) {
            if let Some(owner) = owner {
                logs.push(host(format!(
                    "{} gave '{}': {}",
                    label(ran[*owner].campaign),
                    line.description(),
                    line.amount()
                )));
            }
        }
        logs.extend(
            typed_notes
                .into_iter()
                .chain(dropped)
                .map(|message| LogLine {
                    level: LogLevel::Warn,
                    message: format!("host: {message}"),
                }),
        );
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

    /// Settles a combined answer under the locks ([`rabat_store::Store::reserve`]): the
    /// card's, then each pool of the limited campaigns that give something. With what is
    /// left in hand: a campaign whose limit is reached drops out and the answers are
    /// combined again without it; the discounts the card's points do not cover are dropped;
    /// the money rules apply; a campaign's lines are cut to what is left of its amount
    /// budget (exact money); then the offer (points held) and each pool's reservation are
    /// written as the order's, replacing its earlier one.
    #[allow(clippy::too_many_arguments)]
    async fn settle(
        &self,
        merchant: &str,
        ledger_order_id: &str,
        order: &Order,
        card: &Card,
        ran: &[Ran<'_>],
        combined: Combined,
        pools: &[Vec<Pool>],
    ) -> ServiceResult<SettledAnswer> {
        let now = now_ms();
        let ttl_ms = i64::try_from(self.hold_ttl.as_millis()).unwrap_or(i64::MAX);
        let places = currency::minor_units(&order.currency);
        // The pools of the campaigns that give something, in lock order.
        let mut asked: Vec<(usize, Pool)> = combined
            .owners
            .iter()
            .copied()
            .collect::<std::collections::BTreeSet<usize>>()
            .into_iter()
            .flat_map(|owner| pools[owner].iter().map(move |pool| (owner, pool.clone())))
            .collect();
        asked.sort_by(|a, b| a.1.key.cmp(&b.1.key));
        let locked: Vec<Pool> = asked.iter().map(|(_, pool)| pool.clone()).collect();
        let codes = super::coupon_codes(&combined.evaluation.discounts);
        let plan = |available: rabat_store::Available| {
            // Campaigns whose limit is reached drop out; the others are combined again.
            let mut out: Vec<Option<String>> = vec![None; ran.len()];
            for ((owner, pool), left) in asked.iter().zip(&available.left) {
                if out[*owner].is_none() {
                    out[*owner] = used_up(std::iter::once((pool, left)));
                }
            }
            let combined = if out.iter().any(Option::is_some) {
                let again: Vec<Ran<'_>> = ran
                    .iter()
                    .zip(&out)
                    .map(|(run, out)| match out {
                        Some(why) => Ran {
                            campaign: run.campaign,
                            result: Err(why.clone()),
                        },
                        None => run.clone(),
                    })
                    .collect();
                stacking::combine(order, &again)
            } else {
                combined
            };
            let afforded = super::gate(order, &combined.evaluation.discounts, &available);
            let kept = Evaluation {
                discounts: afforded.kept,
                message: combined.evaluation.message.clone(),
            };
            let mut dropped = afforded.dropped;
            let (mut response, mut sources) = match money::discount_response_traced(order, &kept) {
                Ok(traced) => traced,
                Err(invalid) => {
                    return Reserved {
                        hold: None,
                        reservations: Vec::new(),
                        coupons: Vec::new(),
                        out: SettledAnswer {
                            response: Err(Failure::InvalidAnswer(invalid.to_string())),
                            at: now,
                            dropped,
                            notes: combined.notes,
                            line_owners: Vec::new(),
                        },
                    };
                }
            };
            let mut owners: Vec<usize> = sources
                .iter()
                .map(|source| combined.owners[afforded.kept_from[*source]])
                .collect();
            // Amount budgets: each campaign's lines cut to what is left (the least of its
            // pools with an amount).
            let mut amount_left: Vec<Option<i64>> = vec![None; ran.len()];
            for ((owner, _), left) in asked.iter().zip(&available.left) {
                if let Some(amount) = left.amount {
                    let least = amount_left[*owner].map_or(amount, |a: i64| a.min(amount));
                    amount_left[*owner] = Some(least);
                }
            }
            for (owner, left) in amount_left.iter().enumerate() {
                let Some(left) = *left else { continue };
                let mine: Vec<bool> = owners.iter().map(|o| *o == owner).collect();
                if let Some((cut, kept_lines)) = budget::cut_to(&mut response, &mine, left, places)
                {
                    sources = kept_lines.iter().map(|i| sources[*i]).collect();
                    owners = kept_lines.iter().map(|i| owners[*i]).collect();
                    dropped.push(format!(
                        "{}: cut from {} to {}: what is left of its budget",
                        label(ran[owner].campaign),
                        budget::from_units(cut.asked, places),
                        budget::from_units(cut.left, places),
                    ));
                }
            }
            if response.discounts.is_empty() && kept.message.is_none() {
                response.message = NO_DISCOUNT_MESSAGE.to_owned();
            }
            super::tell_cashier(&mut response, afforded.cashier.as_deref());
            let offer = points::offer(&kept.discounts, &response, &sources, now);
            let coupons = super::held_codes(&kept.discounts, &sources);
            // Each limited campaign that still gives something reserves its pools.
            let mut reservations = Vec::new();
            for (owner, pool) in &asked {
                let amount = response
                    .discounts
                    .iter()
                    .zip(&owners)
                    .filter(|(_, o)| **o == *owner)
                    .map(|(line, _)| budget::to_units(line.amount()).unwrap_or(0))
                    .fold(0_i64, i64::saturating_add);
                if amount > 0 {
                    reservations.push(Reservation {
                        pool: pool.clone(),
                        amount,
                        count: 1,
                    });
                }
            }
            let hold = serde_json::to_string(&offer).ok().map(|text| NewHold {
                points: offer.held_points,
                offer: text,
            });
            Reserved {
                hold,
                reservations,
                coupons,
                out: SettledAnswer {
                    response: Ok(response),
                    at: now,
                    dropped,
                    notes: combined.notes,
                    line_owners: owners.into_iter().map(Some).collect(),
                },
            }
        };
        match self
            .store
            .reserve(
                merchant,
                &card.card_id,
                ledger_order_id,
                now,
                ttl_ms,
                &locked,
                &codes,
                plan,
            )
            .await
        {
            Ok(settled) => Ok(settled),
            Err(StoreError::NotFound {
                entity: Entity::Card,
                ..
            }) => Err(ServiceError::CustomerNotFound),
            Err(e) => Err(e.into()),
        }
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
        generation: i64,
    ) -> ServiceResult<Accrued> {
        let extras = match live.iter().find(|c| c.policy.contract().sees_coupons()) {
            Some(c) => {
                self.runner
                    .extras(
                        merchant,
                        card,
                        order,
                        &order.order_id,
                        c.policy.contract(),
                        None,
                    )
                    .await?
            }
            None => None,
        };
        let calls: Vec<_> = live
            .iter()
            .map(|campaign| {
                let till = self.clone();
                let merchant = merchant.to_owned();
                let (policy, config) = (campaign.policy.clone(), campaign.config.clone());
                let (order, card, offer) = (order.clone(), card.clone(), offer.cloned());
                let extras = extras
                    .clone()
                    .filter(|_| campaign.policy.contract().sees_coupons());
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
                    // Inline on the worker that runs this task, as a single campaign's call
                    // (the runner sends a slow policy's calls to the blocking pool).
                    let call = Call {
                        policy,
                        inline: Some((merchant.clone(), generation)),
                        config,
                        limits: till.runner.limits().clone(),
                        order,
                        card,
                        offer,
                        extras,
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
            for code in settled.redeem_coupons {
                if !merged.redeem_coupons.contains(&code) {
                    merged.redeem_coupons.push(code);
                }
            }
            for batch in settled.issue_coupons {
                if merged.issue_coupons.len() < MAX_ISSUED_PER_BILL {
                    merged.issue_coupons.push(batch);
                } else {
                    merged.dropped.push(format!(
                        "{name}: issueCoupons '{batch}' dropped: at most {MAX_ISSUED_PER_BILL} coupons are issued per bill"
                    ));
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

/// A combined answer as settled under the locks.
struct SettledAnswer {
    /// The answer, or why the combined answer broke the money rules.
    response: Result<DiscountResponse, Failure>,
    /// When the offer was made (the hold's time).
    at: i64,
    /// What was dropped or cut, and why (the evaluation log's host lines).
    dropped: Vec<String>,
    /// Per campaign, what became of it.
    notes: Vec<String>,
    /// Per line of the answer, the campaign it came from.
    line_owners: Vec<Option<usize>>,
}

/// Why nothing may be given from the first of `pools` with nothing left, for the log:
/// `its budget for the period is used up`, `the per-card limit (1 per period) is reached`.
fn used_up<'a>(pools: impl IntoIterator<Item = (&'a Pool, &'a Left)>) -> Option<String> {
    pools.into_iter().find(|(_, left)| left.exhausted()).map(|(pool, left)| {
        let count = pool.limit_count.unwrap_or(0);
        match pool.key.scope {
            Scope::Budget if left.amount.is_some_and(|a| a <= 0) => {
                "not run: its budget for this period is used up".to_owned()
            }
            Scope::Budget => format!(
                "not run: its budget of {count} redemptions for this period is used up"
            ),
            Scope::Card => format!(
                "not run: this card has reached its limit of {count} redemptions for this period"
            ),
            Scope::Branch => format!(
                "not run: branch '{}' has reached its limit of {count} redemptions for this period",
                pool.key.key
            ),
        }
    })
}

/// The results of spawned calls, in the order they were started.
async fn joined<T>(handles: Vec<tokio::task::JoinHandle<T>>) -> ServiceResult<Vec<T>> {
    let mut results = Vec::with_capacity(handles.len());
    for handle in handles {
        results.push(handle.await.map_err(ServiceError::internal)?);
    }
    Ok(results)
}
