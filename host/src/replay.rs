//! What-if replay: the merchant's recorded endpoint-1 bills (from the evaluation log, each
//! with the card as it was then) re-run against another policy version, and what each
//! bill would have got compared with what it did get.
//!
//! A replay is CPU-bound and the tills come first, so it runs on one thread of its own at
//! the lowest scheduling priority (`nice` 19: the kernel gives live evaluations the cores
//! first), one replay per merchant at a time and a few per server (see
//! [`crate::service::WhatIf`]). A replay whose caller hangs up stops at the next bill, and
//! its slots are freed only once its thread has stopped. Bills are read a page at a time
//! while the previous page runs, so memory stays bounded whatever the `limit`.
//! Each bill runs exactly as a live one does ([`decide`]), with the live fuel and memory
//! limits; the wall-clock deadline is [`DEADLINE_FACTOR`] times the live one, since a
//! low-priority thread may wait for a core and fuel already bounds the work.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use rust_decimal::Decimal;
use serde::Serialize;
use serde_json::Value;

use crate::decide::decide;
use crate::metrics::Metrics;
use crate::model::{Card, Order};
use crate::policy::{CallInput, CompiledPolicy, Limits, Runtime};
use crate::store::{ReplaySource, StoreError};

/// The most bills one replay takes.
pub const MAX_BILLS: u32 = 10_000;
/// Bills replayed when the request does not say.
pub const DEFAULT_BILLS: u32 = 1_000;
/// How much longer than live a replayed call may take by the wall clock.
pub const DEADLINE_FACTOR: u64 = 4;
const NICENESS: i32 = 19;

/// A finished replay.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    pub version: i64,
    pub summary: Summary,
    /// Per bill, newest first (only the changed ones when asked).
    pub orders: Vec<Compared>,
}

#[derive(Debug, Clone, Default, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Summary {
    /// Bills re-run.
    pub orders_compared: u64,
    /// Bills whose total discount or discount lines differ.
    pub changed: u64,
    /// Bills whose new run failed (the till would get no discount), by outcome.
    pub failures: u64,
    pub failures_by_outcome: BTreeMap<String, u64>,
    /// Log rows that could not be read back as a bill (written by an older rabat), or
    /// whose amounts are beyond any real bill (over 10^15).
    pub skipped: u64,
    /// Recorded and new total discount per currency.
    pub totals: Vec<CurrencyTotal>,
    pub duration_millis: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CurrencyTotal {
    pub currency: String,
    #[serde(with = "rust_decimal::serde::arbitrary_precision")]
    pub before: Decimal,
    #[serde(with = "rust_decimal::serde::arbitrary_precision")]
    pub after: Decimal,
    /// `after - before`: what the new version would have cost more (or less).
    #[serde(with = "rust_decimal::serde::arbitrary_precision")]
    pub difference: Decimal,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Compared {
    pub evaluation_id: i64,
    pub order_id: String,
    pub card_id: String,
    /// When the till asked, epoch ms.
    pub at: i64,
    pub currency: String,
    pub changed: bool,
    pub before: Before,
    pub after: After,
}

/// What the till got.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Before {
    /// The version that answered (none when no policy was active).
    pub version: Option<i64>,
    pub outcome: String,
    #[serde(with = "rust_decimal::serde::arbitrary_precision")]
    pub total_discount: Decimal,
    pub discounts: Value,
}

/// What it would get from the replayed version.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct After {
    #[schema(value_type = String)]
    pub outcome: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failure: Option<String>,
    #[serde(with = "rust_decimal::serde::arbitrary_precision")]
    pub total_discount: Decimal,
    pub discounts: Value,
    pub fuel_used: u64,
}

/// Everything one replay needs, owned, so it can move to the replay thread.
#[derive(Debug)]
pub struct Job {
    pub merchant: String,
    pub version: i64,
    pub policy: CompiledPolicy,
    pub config: String,
    pub limits: Limits,
    pub only_changed: bool,
    /// The bills, page by page, newest first (a page is read while the one before runs).
    pub pages: tokio::sync::mpsc::Receiver<Result<Vec<ReplaySource>, StoreError>>,
    /// Set when nobody waits for the answer any more: the thread stops at the next bill.
    pub cancel: Arc<AtomicBool>,
    /// Whatever must stay taken while the thread runs (the replay slots), released only
    /// when it has really stopped, not when the request goes away.
    pub hold: Vec<tokio::sync::OwnedSemaphorePermit>,
}

/// Why a replay did not finish.
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the replay thread could not run: {0}")]
    Thread(#[from] std::io::Error),
    #[error("the replay was cancelled")]
    Cancelled,
}

/// Runs `job` on a low-priority thread of its own and waits for it.
pub async fn run(
    runtime: Arc<Runtime>,
    metrics: Arc<Metrics>,
    job: Job,
) -> Result<Report, ReplayError> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    std::thread::Builder::new()
        .name("rabat-replay".into())
        .spawn(move || {
            lower_priority();
            // The receiver only goes away if the request was dropped; nothing to tell.
            let _ = tx.send(replay(&runtime, &metrics, job));
        })?;
    rx.await.map_err(|_| ReplayError::Cancelled)?
}

fn lower_priority() {
    // Linux keeps a nice value per thread, so this lowers only the replay thread.
    if let Err(error) = rustix::process::nice(NICENESS) {
        tracing::debug!(%error, "could not lower the replay thread's priority");
    }
}

/// Re-runs every source bill; synchronous (call it off the async threads).
pub fn replay(runtime: &Runtime, metrics: &Metrics, mut job: Job) -> Result<Report, ReplayError> {
    let _hold = std::mem::take(&mut job.hold);
    let started = Instant::now();
    let mut limits = job.limits.clone();
    limits.deadline_ms = limits.deadline_ms.saturating_mul(DEADLINE_FACTOR);
    let mut summary = Summary::default();
    let mut totals: BTreeMap<String, (Decimal, Decimal)> = BTreeMap::new();
    let mut orders = Vec::new();
    while let Some(page) = job.pages.blocking_recv() {
        for source in page? {
            if job.cancel.load(Ordering::Relaxed) {
                tracing::info!(
                    merchant = job.merchant,
                    "replay cancelled: nobody waits for it"
                );
                return Err(ReplayError::Cancelled);
            }
            let Some((order, card)) = bill(&source) else {
                summary.skipped += 1;
                continue;
            };
            let before_total = source.total_discount.unwrap_or_default();
            if before_total.abs() > max_logged_amount() || order.total.abs() > max_logged_amount() {
                // Not a bill a till could have sent (a damaged row, or one logged before
                // rabat bounded amounts); adding it up would overflow the totals.
                summary.skipped += 1;
                continue;
            }
            let decision = decide(
                runtime,
                &job.policy,
                CallInput {
                    order: &order,
                    card: Some(&card),
                    config: &job.config,
                    offer: None,
                    extras: None,
                    limits: &limits,
                },
            );
            let outcome = decision.outcome();
            metrics.policy_call(&job.merchant, "replay", outcome, decision.report.fuel_used);
            let total = totals.entry(order.currency.clone()).or_default();
            // Cannot fail with amounts within the bound (10 000 bills × 10^15); checked
            // all the same, so a replay never panics.
            let (Some(before), Some(after)) = (
                total.0.checked_add(before_total),
                total.1.checked_add(decision.response.total_discount),
            ) else {
                summary.skipped += 1;
                continue;
            };
            *total = (before, after);
            let before_discounts = source
                .response
                .as_deref()
                .and_then(|r| serde_json::from_str::<Value>(r).ok())
                .and_then(|mut r| r.get_mut("discounts").map(Value::take))
                .unwrap_or_else(|| Value::Array(Vec::new()));
            let after_discounts =
                serde_json::to_value(&decision.response.discounts).unwrap_or(Value::Null);
            let changed = before_total != decision.response.total_discount
                || before_discounts != after_discounts;
            summary.orders_compared += 1;
            if changed {
                summary.changed += 1;
            }
            if let Some(failure) = &decision.failure {
                summary.failures += 1;
                *summary
                    .failures_by_outcome
                    .entry(failure.outcome().to_owned())
                    .or_default() += 1;
            }
            if changed || !job.only_changed {
                orders.push(Compared {
                    evaluation_id: source.id,
                    order_id: source.order_id,
                    card_id: card.card_id,
                    at: source.at,
                    currency: order.currency,
                    changed,
                    before: Before {
                        version: source.policy_version,
                        outcome: source.outcome,
                        total_discount: before_total,
                        discounts: before_discounts,
                    },
                    after: After {
                        outcome,
                        failure: decision.failure.as_ref().map(ToString::to_string),
                        total_discount: decision.response.total_discount,
                        discounts: after_discounts,
                        fuel_used: decision.report.fuel_used,
                    },
                });
            }
        }
    }
    summary.totals = totals
        .into_iter()
        .map(|(currency, (before, after))| CurrencyTotal {
            currency,
            before,
            after,
            // Both sums are of amounts of one sign, so their difference fits.
            difference: after.checked_sub(before).unwrap_or_default(),
        })
        .collect();
    summary.duration_millis = millis(started.elapsed());
    Ok(Report {
        version: job.version,
        summary,
        orders,
    })
}

/// The largest amount (in currency units) a replayed bill may carry: far beyond any real
/// bill, and small enough that [`MAX_BILLS`] of them add up without overflow.
fn max_logged_amount() -> Decimal {
    Decimal::from(1_000_000_000_000_000_i64)
}

/// The bill and card a logged run saw; `None` if the row does not read back.
fn bill(source: &ReplaySource) -> Option<(Order, Card)> {
    let order: Order = serde_json::from_str(&source.request).ok()?;
    let card: Card = serde_json::from_str(source.card.as_deref()?).ok()?;
    Some((order, card))
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}
