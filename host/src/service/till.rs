//! The till's two flows, shared by every POS: work out the discount for an open bill
//! (endpoint 1), and record a completed bill on its card exactly once (endpoint 2).
//!
//! Endpoint 1 never blocks the till: a policy that fails to load, a saturated merchant or
//! a failing policy all give the fail-safe answer (no discount, a short cashier message),
//! logged with the reason. Endpoint 2 always records the bill: when `accrue` cannot run
//! or fails, with 0 points and the reason.
//!
//! Paying with points (contract 0.2): an answer with a discount that costs points is
//! settled under the card's lock ([`Store::hold_points`]): the discounts the card cannot
//! afford are dropped (the evaluation log says why), the rest become money, and what the
//! till was offered is held for the order. The hold follows the till's latest answer in
//! the same request: an answer without a cost for an order that has a hold replaces it
//! (0 points, that answer as the offer); for an order without one it writes nothing, so
//! answers without a cost stay cheap (one indexed read). When the bill completes,
//! `accrue` sees the order's hold's offer — never the asynchronous evaluation log — and
//! what it redeems and changes on the card is recorded with the bill
//! ([`Store::record_bill`]).

use std::sync::Arc;
use std::time::Duration;

use rabat_domain::clock::now_ms;
use rabat_domain::coupon::{CardExtras, MAX_ISSUED_PER_BILL, normalize_code};
use rabat_domain::currency;
use rabat_domain::limits::{
    MAX_CARD_TAGS, MAX_POINTS_PER_ACCRUAL, MAX_TAG_CHARS, MAX_TIER_CHARS, card_label_problem,
    without_nul,
};
use rabat_domain::model::{Accrual, Card, DiscountRequest, Evaluation, Offer, Order, Pos};
use rabat_domain::money::{self, DiscountResponse, NO_DISCOUNT_MESSAGE};
use rabat_domain::points;
use rabat_sandbox::decide::Decision;
use rabat_sandbox::sandbox::{LogLevel, LogLine};
use rabat_sandbox::{CallReport, Failure};
use rabat_store::{
    Entity, GroupCommit, NewHold, PendingEvaluation, Recorded, Reserved, Settlement, Store,
    StoreError, TransactionRecord,
};
use serde_json::Value;

use super::campaigns::Clock;
use super::runner::{Call, Decided, PolicyRunner, money_decision};
use super::stacking::MAX_MESSAGE_CHARS;
use super::{ServiceError, ServiceResult};
use crate::active::LoadError;
use crate::admission::Admission;
use crate::evaluation_log::EvaluationLog;
use crate::metrics::Metrics;

/// The least time `accrue` waits for one of its merchant's slots.
const ACCRUE_QUEUE_MIN: Duration = Duration::from_secs(2);

/// How long points stay held for an open order by default.
pub const DEFAULT_HOLD_TTL: Duration = Duration::from_secs(24 * 60 * 60);

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
    /// How long points offered for an open order stay held.
    hold_ttl: Duration,
    /// Completed bills arriving together share one commit.
    ledger: GroupCommit,
    /// Which campaigns are live is decided by this clock (fixed by tests).
    clock: Clock,
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

mod campaigns;

/// The outcome logged when no campaign is live: the merchant has none that may run, or
/// none within its schedule now.
fn no_campaign_outcome(active: &crate::active::Active) -> &'static str {
    if active.campaigns.is_empty() && active.version.is_none() {
        "no_policy"
    } else {
        "no_live_campaign"
    }
}

/// What `accrue` gave for a completed bill.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Accrued {
    pub points: i64,
    pub reason: Option<String>,
    /// Why the policy could not say (the bill is recorded with 0 points).
    pub error: Option<String>,
    /// The redemption and card changes it asked for, checked (contract 0.2; nothing for
    /// 0.1 policies and failures).
    pub settlement: Settlement,
    /// The policy version that answered.
    pub version: Option<i64>,
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
            hold_ttl: DEFAULT_HOLD_TTL,
            clock: Clock::real(),
        }
    }

    /// The clock that decides which campaigns are live (shared by the till's clones).
    pub fn clock(&self) -> &Clock {
        &self.clock
    }

    /// How long points offered for an open order stay held (default 24 h).
    pub fn with_hold_ttl(mut self, ttl: Duration) -> Self {
        self.hold_ttl = ttl;
        self
    }

    /// Endpoint 1 for a bill naming its card: an unknown card is Papaya's error 3.
    pub async fn discount_for_card(
        &self,
        merchant: &str,
        order: Order,
        card_id: &str,
    ) -> ServiceResult<DiscountResponse> {
        let ledger_order_id = order.order_id.clone();
        let (card, prefetched) = self
            .card_for_till(merchant, card_id, &ledger_order_id)
            .await?;
        self.evaluate(merchant, order, card, prefetched, &ledger_order_id)
            .await
    }

    /// The merchant's card `card_id` for a bill `order_id` at endpoint 1, or Papaya's error
    /// 3; when a live campaign's policy sees contract 0.3's extras, with them, read in the
    /// same round trip as the card.
    pub async fn card_for_till(
        &self,
        merchant: &str,
        card_id: &str,
        order_id: &str,
    ) -> ServiceResult<(Card, Option<CardExtras>)> {
        // The active policies are in memory (a miss loads them, as `evaluate` would next).
        let sees_extras = self.runner.active(merchant).await.is_ok_and(|active| {
            active
                .live(self.clock.now())
                .iter()
                .any(|c| c.policy.contract().sees_coupons())
        });
        if !sees_extras {
            return Ok((self.card(merchant, card_id).await?, None));
        }
        let (card, extras) = self
            .store
            .card_with_extras(merchant, card_id, order_id, now_ms())
            .await?
            .ok_or(ServiceError::CustomerNotFound)?;
        Ok((card, Some(extras)))
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
    /// `ledger_order_id` is the order's id in the ledger (BIFIT's `bifit:<id>`, else the
    /// POS's): the order's hold is kept under it, so two POSes' equal order numbers never
    /// share one, and endpoint 2 finds it under the id it records the bill with.
    pub async fn evaluate(
        &self,
        merchant: &str,
        order: Order,
        card: Card,
        prefetched: Option<CardExtras>,
        ledger_order_id: &str,
    ) -> ServiceResult<DiscountResponse> {
        let active = match self.runner.active(merchant).await {
            Ok(active) => active,
            Err(LoadError::Store(e)) => return Err(e.into()),
            Err(error) => {
                tracing::error!(%error, merchant, "the active policy does not load; answering with no discount");
                let response = DiscountResponse::fail_safe(&order.currency);
                // The policy may load again by the time the bill completes.
                self.follow_free_answer(merchant, ledger_order_id, &card, &response)
                    .await?;
                let entry = LogEntry::new(merchant, None, "unavailable", Some(&response));
                self.logged(entry.error(error.to_string()).record(&order, &card));
                return Ok(response);
            }
        };
        // Every live campaign runs; one (the default campaign alone: today's path) is one call.
        let live = active.live(self.clock.now());
        // Several campaigns, or one with limits (which the host keeps under its locks).
        if live.len() > 1 || live.iter().any(|c| c.campaign.limits.is_some()) {
            return self
                .evaluate_campaigns(
                    merchant,
                    order,
                    card,
                    prefetched,
                    ledger_order_id,
                    &live,
                    active.generation,
                )
                .await;
        }
        let Some(campaign) = live.first() else {
            let response = DiscountResponse::empty(&order.currency, NO_DISCOUNT_MESSAGE);
            let outcome = no_campaign_outcome(&active);
            let entry = LogEntry::new(merchant, None, outcome, Some(&response));
            self.logged(entry.record(&order, &card));
            return Ok(response);
        };
        let (policy, config, version) = (
            campaign.policy.clone(),
            campaign.config.clone(),
            Some(campaign.campaign.policy_version),
        );
        // Only a 0.2 policy's `accrue` sees the offer and redeems held points: for the
        // others an order's hold (left from an earlier policy) can never be taken, and the
        // bill releases it.
        let sees_offers = policy.contract().sees_offers();
        let slot = match self.admission.enter(merchant).await {
            Ok(slot) => slot,
            Err(busy) => {
                tracing::warn!(merchant, order_id = %order.order_id, %busy, "merchant saturated; answered with no discount");
                let response = DiscountResponse::fail_safe(&order.currency);
                if sees_offers {
                    self.follow_free_answer(merchant, ledger_order_id, &card, &response)
                        .await?;
                }
                let entry = LogEntry::new(merchant, version, "busy", Some(&response));
                self.logged(entry.error(busy.to_string()).record(&order, &card));
                return Ok(response);
            }
        };
        let extras = self
            .runner
            .extras(
                merchant,
                &card,
                &order,
                ledger_order_id,
                policy.contract(),
                prefetched,
            )
            .await?;
        let notes = extras.as_ref().map(|e| e.notes.clone()).unwrap_or_default();
        let call = Call {
            policy,
            inline: Some((merchant.to_owned(), active.generation)),
            config,
            limits: self.runner.limits().clone(),
            order,
            card,
            offer: None,
            extras,
            slot: Some(slot),
        };
        let (decided, order, card) = self.runner.decide_at_till(call).await?;
        let (decision, at, dropped) = match decided {
            Decided::Done(decision) => {
                if sees_offers {
                    self.follow_free_answer(merchant, ledger_order_id, &card, &decision.response)
                        .await?;
                }
                (decision, None, Vec::new())
            }
            Decided::CostsPoints { evaluation, report } => {
                let (decision, at, dropped) = self
                    .offer_points(merchant, ledger_order_id, &order, &card, evaluation, report)
                    .await?;
                (decision, Some(at), dropped)
            }
        };
        if let Some(failure) = &decision.failure {
            tracing::warn!(merchant, order_id = %order.order_id, version = version, %failure, "policy failed; answered with no discount");
        }
        let mut decision = decision;
        // A code the customer typed that cannot be used: the cashier hears why.
        if decision.failure.is_none()
            && let Some(note) = notes.first()
        {
            tell_cashier(
                &mut decision.response,
                Some(note.trim_start_matches("the bill's ")),
            );
        }
        let mut entry = LogEntry::new(
            merchant,
            version,
            decision.outcome(),
            Some(&decision.response),
        );
        entry.fuel = Some(decision.report.fuel_used);
        entry.duration_us = u64::try_from(decision.report.duration.as_micros()).unwrap_or(u64::MAX);
        entry.error = decision.failure.as_ref().map(ToString::to_string);
        let mut record = entry.record(&order, &card);
        let mut logs = decision.report.logs;
        logs.extend(notes.into_iter().chain(dropped).map(|message| LogLine {
            level: LogLevel::Warn,
            message: format!("host: {message}"),
        }));
        if let Some(logs) = json_text(&logs) {
            record.logs = logs;
        }
        // The hold's offer and this log row carry one time.
        if let Some(at) = at {
            record.at = at;
        }
        self.logged(record);
        Ok(decision.response)
    }

    /// Settles an answer with a discount that costs points, under the card's lock: drops
    /// what the card's available points do not cover, applies the money rules to the
    /// rest, and holds (or, holding nothing, releases) the order's points with the offer.
    /// Returns the decision, when the offer was made, and why discounts were dropped.
    async fn offer_points(
        &self,
        merchant: &str,
        ledger_order_id: &str,
        order: &Order,
        card: &Card,
        evaluation: Evaluation,
        report: CallReport<()>,
    ) -> ServiceResult<(Decision, i64, Vec<String>)> {
        let now = now_ms();
        let ttl_ms = i64::try_from(self.hold_ttl.as_millis()).unwrap_or(i64::MAX);
        let codes = coupon_codes(&evaluation.discounts);
        let held = self
            .store
            .reserve(
                merchant,
                &card.card_id,
                ledger_order_id,
                now,
                ttl_ms,
                &[],
                &codes,
                |available| {
                    let afforded = gate(order, &evaluation.discounts, &available);
                    let kept = Evaluation {
                        discounts: afforded.kept,
                        message: evaluation.message,
                    };
                    match money::discount_response_traced(order, &kept) {
                        Ok((mut response, sources)) => {
                            let offer = points::offer(&kept.discounts, &response, &sources, now);
                            let hold = serde_json::to_string(&offer).ok().map(|text| NewHold {
                                points: offer.held_points,
                                offer: text,
                            });
                            let coupons = held_codes(&kept.discounts, &sources);
                            tell_cashier(&mut response, afforded.cashier.as_deref());
                            Reserved {
                                hold,
                                reservations: Vec::new(),
                                coupons,
                                out: (Ok(response), afforded.dropped),
                            }
                        }
                        Err(e) => Reserved {
                            hold: None,
                            reservations: Vec::new(),
                            coupons: Vec::new(),
                            out: (Err(Failure::InvalidAnswer(e.to_string())), afforded.dropped),
                        },
                    }
                },
            )
            .await;
        let (result, dropped) = match held {
            Ok(held) => held,
            Err(StoreError::NotFound {
                entity: Entity::Card,
                ..
            }) => return Err(ServiceError::CustomerNotFound),
            Err(e) => return Err(e.into()),
        };
        Ok((money_decision(order, result, report), now, dropped))
    }

    /// Makes the order's hold follow an answer that reserves nothing, in this request: an
    /// order that has a hold gets it replaced, under the card's lock, by one of 0 points
    /// whose offer is this answer (a bill completed with an older offer's coupon then
    /// redeems nothing); an order without one costs one indexed read and no write.
    async fn follow_free_answer(
        &self,
        merchant: &str,
        ledger_order_id: &str,
        card: &Card,
        response: &DiscountResponse,
    ) -> ServiceResult<()> {
        if !self.store.has_hold(merchant, ledger_order_id).await? {
            return Ok(());
        }
        let now = now_ms();
        let ttl_ms = i64::try_from(self.hold_ttl.as_millis()).unwrap_or(i64::MAX);
        let offer = serde_json::to_value(response)
            .ok()
            .and_then(|answer| points::offer_from_answer(&answer, now))
            .and_then(|offer| json_text(&offer));
        let held = self
            .store
            .hold_points(
                merchant,
                &card.card_id,
                ledger_order_id,
                now,
                ttl_ms,
                |_| {
                    // An answer that cannot be read back as an offer releases the hold.
                    let hold = offer.map(|offer| NewHold { points: 0, offer });
                    (hold, ())
                },
            )
            .await;
        match held {
            Ok(()) => Ok(()),
            Err(StoreError::NotFound {
                entity: Entity::Card,
                ..
            }) => Err(ServiceError::CustomerNotFound),
            Err(e) => Err(e.into()),
        }
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
        let order_id = bill
            .ledger_order_id
            .clone()
            .unwrap_or_else(|| bill.order.order_id.clone());
        // Only a 0.2 policy sees the offer: for the others (and with no policy) the two
        // reads it costs are skipped. The bill's transaction releases any hold either way.
        let now = self.clock.now();
        let sees_offers = match self.runner.active(merchant).await {
            Ok(active) => active
                .live(now)
                .iter()
                .any(|campaign| campaign.policy.contract().sees_offers()),
            Err(_) => false,
        };
        let offer = if sees_offers {
            self.last_offer(merchant, &order_id).await?
        } else {
            None
        };
        let accrued = self
            .accrue(merchant, &bill.order, card, offer.as_ref())
            .await?;
        let order = bill.order;
        let record = TransactionRecord {
            order_id,
            card_id: card.card_id.clone(),
            request_hash: bill.request_hash,
            total: order.total,
            points: accrued.points,
            points_reason: accrued.reason,
            occurred_at: bill.occurred_at.unwrap_or_else(now_ms),
            pos: bill.pos,
            request: bill.request,
            accrual_error: accrued.error,
            settlement: Settlement {
                policy_version: accrued.version,
                ..accrued.settlement
            },
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

    /// The till's last offer for the order, as `accrue` sees it: the offer of the order's
    /// hold, which endpoint 1 keeps at the latest answer once the order reserved anything
    /// (an expired hold still is the order's offer, though it holds nothing); `None` for
    /// an order that never reserved anything. Never read from the evaluation log, which
    /// is written in the background and may lag or drop records.
    pub async fn last_offer(&self, merchant: &str, order_id: &str) -> ServiceResult<Option<Offer>> {
        Ok(self
            .store
            .hold(merchant, order_id)
            .await?
            .and_then(|hold| serde_json::from_str::<Offer>(&hold.offer).ok()))
    }

    /// Points for a completed bill from the active policy: 0 (with the failure noted) when
    /// the policy cannot run or fails, so the bill is always recorded. `offer` is the
    /// till's last offer for the order (see [`Till::last_offer`]).
    pub async fn accrue(
        &self,
        merchant: &str,
        order: &Order,
        card: &Card,
        offer: Option<&Offer>,
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
        let live = active.live(self.clock.now());
        if live.len() > 1 {
            return self
                .accrue_campaigns(merchant, order, card, offer, &live, active.generation)
                .await;
        }
        let Some(campaign) = live.first() else {
            return Ok(Accrued::default());
        };
        let (policy, config, version) = (
            campaign.policy.clone(),
            campaign.config.clone(),
            Some(campaign.campaign.policy_version),
        );
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
        let extras = self
            .runner
            .extras(
                merchant,
                card,
                order,
                &order.order_id,
                policy.contract(),
                None,
            )
            .await?;
        let call = Call {
            policy,
            inline: Some((merchant.to_owned(), active.generation)),
            config,
            limits: self.runner.limits().clone(),
            order: order.clone(),
            card: card.clone(),
            offer: offer.cloned(),
            extras,
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
                    version,
                    ..Accrued::default()
                }
            }
            Ok(accrual) => {
                let settlement = settlement(&accrual, offer);
                if !settlement.dropped.is_empty() {
                    tracing::warn!(merchant, dropped = ?settlement.dropped, "accrue asked for card changes that were dropped");
                }
                Accrued {
                    points: accrual.points,
                    // A policy's text must not make the database refuse the bill.
                    reason: accrual.reason.as_deref().map(without_nul),
                    error: None,
                    settlement,
                    version,
                }
            }
            Err(failure) => {
                tracing::warn!(merchant, %failure, "accrue failed; recording the bill with 0 points");
                Accrued {
                    error: Some(without_nul(&failure.to_string())),
                    version,
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

/// What a completed bill does besides earning points, from `accrue`'s answer: the
/// redemption, at most what the offer holds, and the card changes that are valid (the
/// admin API's bounds on a tier and tags); an invalid change is dropped with the reason,
/// never failing the bill.
fn settlement(accrual: &Accrual, offer: Option<&Offer>) -> Settlement {
    let mut dropped = Vec::new();
    let shown = |text: &str| without_nul(&text.chars().take(MAX_TAG_CHARS).collect::<String>());
    let set_tier = accrual.set_tier.as_deref().and_then(|tier| {
        match card_label_problem(tier, MAX_TIER_CHARS) {
            None => Some(tier.to_owned()),
            Some(problem) => {
                dropped.push(format!("setTier '{}' dropped: {problem}", shown(tier)));
                None
            }
        }
    });
    let mut labels = |name: &str, asked: &[String]| -> Vec<String> {
        if asked.len() > MAX_CARD_TAGS {
            dropped.push(format!(
                "{name} dropped: {} tags asked; at most {MAX_CARD_TAGS} are allowed",
                asked.len()
            ));
            return Vec::new();
        }
        asked
            .iter()
            .enumerate()
            .filter_map(|(i, tag)| match card_label_problem(tag, MAX_TAG_CHARS) {
                None => Some(tag.clone()),
                Some(problem) => {
                    dropped.push(format!("{name}[{i}] '{}' dropped: {problem}", shown(tag)));
                    None
                }
            })
            .collect()
    };
    let add_tags = labels("addTags", &accrual.add_tags);
    let remove_tags = labels("removeTags", &accrual.remove_tags);
    // Codes to redeem: only those the offer carried can be held for the order (the store
    // redeems only what the order holds for this card).
    let mut redeem_coupons: Vec<String> = Vec::new();
    for code in &accrual.redeem_coupons {
        let code = normalize_code(code);
        let offered = offer.is_some_and(|offer| {
            offer
                .discounts
                .iter()
                .any(|d| d.code.as_deref() == Some(code.as_str()))
        });
        if !offered {
            dropped.push(format!(
                "redeemCoupons '{}' dropped: the till's offer did not carry it",
                shown(&code)
            ));
        } else if !redeem_coupons.contains(&code) {
            redeem_coupons.push(code);
        }
    }
    let mut issue_coupons: Vec<String> = Vec::new();
    for batch in &accrual.issue_coupons {
        if issue_coupons.len() >= MAX_ISSUED_PER_BILL {
            dropped.push(format!(
                "issueCoupons '{}' dropped: at most {MAX_ISSUED_PER_BILL} coupons are issued per bill",
                shown(batch)
            ));
        } else {
            issue_coupons.push(batch.clone());
        }
    }
    Settlement {
        redeem: accrual
            .redeem
            .min(offer.map_or(0, |offer| offer.held_points)),
        set_tier,
        add_tags,
        remove_tags,
        redeem_coupons,
        issue_coupons,
        dropped,
        policy_version: None,
    }
}

/// The coupon codes an answer redeems, each once.
fn coupon_codes(discounts: &[DiscountRequest]) -> Vec<String> {
    let mut codes: Vec<String> = discounts.iter().filter_map(|d| d.coupon.clone()).collect();
    codes.sort();
    codes.dedup();
    codes
}

/// The host's gates on an answer under the card's lock: each coupon it redeems checked
/// against what the store read of it, then the points (see [`points::settle`]).
fn gate(
    order: &Order,
    discounts: &[DiscountRequest],
    available: &rabat_store::Available,
) -> points::Afforded {
    let lookup = |code: &str| {
        available
            .coupons
            .iter()
            .find(|check| check.code == code)
            .map(|check| check.usable.clone())
    };
    points::settle(
        discounts,
        available.points,
        Some(order.total),
        currency::minor_units(&order.currency),
        &lookup,
    )
}

/// The codes of the coupons the till was really offered (a line with an amount), to be
/// held for the order: `sources[i]` is the discount of `kept` behind line `i`.
fn held_codes(kept: &[DiscountRequest], sources: &[usize]) -> Vec<String> {
    let mut codes: Vec<String> = sources
        .iter()
        .filter_map(|source| kept.get(*source).and_then(|d| d.coupon.clone()))
        .collect();
    codes.sort();
    codes.dedup();
    codes
}

/// Adds why something was dropped to the cashier's message, in one short line.
fn tell_cashier(response: &mut DiscountResponse, why: Option<&str>) {
    if let Some(why) = why {
        let line = if response.discounts.is_empty() {
            format!("{NO_DISCOUNT_MESSAGE} ({why})")
        } else {
            format!("{} ({why})", response.message)
        };
        response.message = crate::service::stacking::shortened(&line, MAX_MESSAGE_CHARS);
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

#[cfg(test)]
mod tests {
    use super::*;

    fn offer(held_points: u64) -> Offer {
        Offer {
            held_points,
            ..Offer::default()
        }
    }

    #[test]
    fn a_redemption_is_capped_by_the_offer_and_nothing_without_one() {
        let accrual = Accrual {
            redeem: 800,
            ..Accrual::default()
        };
        assert_eq!(settlement(&accrual, Some(&offer(500))).redeem, 500);
        assert_eq!(settlement(&accrual, Some(&offer(900))).redeem, 800);
        assert_eq!(settlement(&accrual, None).redeem, 0);
    }

    #[test]
    fn invalid_card_changes_are_dropped_with_the_reason() {
        let accrual = Accrual {
            set_tier: Some("x".repeat(MAX_TIER_CHARS + 1)),
            add_tags: vec!["vip".into(), String::new(), "bad\u{0}tag".into()],
            remove_tags: vec!["old".into()],
            ..Accrual::default()
        };
        let settled = settlement(&accrual, None);
        assert_eq!(settled.set_tier, None);
        assert_eq!(settled.add_tags, ["vip"]);
        assert_eq!(settled.remove_tags, ["old"]);
        let shown = "x".repeat(MAX_TAG_CHARS);
        assert_eq!(
            settled.dropped,
            [
                format!("setTier '{shown}' dropped: must be at most {MAX_TIER_CHARS} characters"),
                "addTags[1] '' dropped: must not be empty".to_owned(),
                "addTags[2] 'bad\u{FFFD}tag' dropped: must not contain control characters"
                    .to_owned(),
            ]
        );
    }

    #[test]
    fn too_many_tags_at_once_are_dropped_whole() {
        let accrual = Accrual {
            set_tier: Some("gold".into()),
            add_tags: (0..=MAX_CARD_TAGS).map(|i| format!("t{i}")).collect(),
            ..Accrual::default()
        };
        let settled = settlement(&accrual, None);
        assert_eq!(settled.set_tier.as_deref(), Some("gold"));
        assert!(settled.add_tags.is_empty());
        assert_eq!(
            settled.dropped,
            [format!(
                "addTags dropped: {} tags asked; at most {MAX_CARD_TAGS} are allowed",
                MAX_CARD_TAGS + 1
            )]
        );
    }
}
