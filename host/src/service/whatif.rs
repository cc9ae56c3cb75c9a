//! What-ifs on any stored policy version, active or not, recording nothing: a dry-run on
//! one bill, and a replay of the merchant's recorded bills (see [`crate::replay`] for how
//! a replay stays off the tills' cores).

use std::sync::Arc;

use rabat_domain::model::{Card, Order};
use rabat_sandbox::decide::Decision;
use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use rabat_store::{ReplaySource, Store, StoreError};
use tokio::sync::Semaphore;

use super::runner::{Call, PolicyRunner};
use super::{ServiceError, ServiceResult};
use crate::admission::Admission;
use crate::metrics::Metrics;
use crate::replay::{self, Job, ReplayError, Report};

/// The card a dry-run runs with.
#[derive(Debug, Clone)]
pub enum DryRunCard {
    /// Given with the request (it need not exist).
    Inline(Card),
    /// The merchant's card with this id; an unknown one runs with a card with nothing on it.
    Stored(String),
}

/// Where a what-if's config came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfigSource {
    Request,
    Merchant,
}

impl ConfigSource {
    pub fn as_str(self) -> &'static str {
        match self {
            ConfigSource::Request => "request",
            ConfigSource::Merchant => "merchant",
        }
    }
}

/// A finished dry-run.
#[derive(Debug)]
pub struct DryRunResult {
    pub decision: Decision,
    /// The card the policy saw.
    pub card: Card,
    /// `inline`, `stored` or `unknown`.
    pub card_source: &'static str,
    pub config_source: ConfigSource,
    pub note: Option<String>,
}

/// What a replay re-runs.
#[derive(Debug, Clone)]
pub struct ReplayRequest {
    /// How many of the newest orders.
    pub limit: u32,
    /// Only bills from then on (epoch ms).
    pub since: i64,
    /// A validated config object (as text) instead of the merchant's.
    pub config: Option<String>,
    pub only_changed: bool,
}

/// The what-if service. Cheap to clone.
#[derive(Debug, Clone)]
pub struct WhatIf {
    store: Store,
    runner: PolicyRunner,
    /// Dry-runs take the merchant's policy-call slots like its tills, so a merchant's
    /// what-ifs cannot crowd out other merchants' tills.
    admission: Arc<Admission>,
    metrics: Arc<Metrics>,
    /// Replays running on this server (see [`MAX_REPLAYS`]).
    replays: Arc<Semaphore>,
    /// One replay per merchant at a time: a merchant's second waits for its first, and
    /// never holds a server slot while it waits, so it cannot keep other merchants out.
    merchants: Arc<Mutex<HashMap<String, Arc<Semaphore>>>>,
}

/// Replays that run at once on one server. Each is one thread at the lowest priority,
/// so the tills keep the cores; two let a second merchant replay while one runs long.
pub const MAX_REPLAYS: usize = 2;

/// How long a dry-run waits for one of its merchant's policy-call slots.
pub(super) const DRY_RUN_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

/// Bills read from the log per page; the next page is read while one runs.
const PAGE: u32 = 250;

/// Cancels a replay when dropped: the request future is dropped when the client hangs up.
struct CancelOnDrop(Arc<AtomicBool>);

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

impl WhatIf {
    pub fn new(
        store: Store,
        runner: PolicyRunner,
        admission: Arc<Admission>,
        metrics: Arc<Metrics>,
    ) -> Self {
        WhatIf {
            store,
            runner,
            admission,
            metrics,
            replays: Arc::new(Semaphore::new(MAX_REPLAYS)),
            merchants: Arc::default(),
        }
    }

    /// Version `version` on one bill, exactly as the till would get it, with what the run
    /// cost. `config` (a validated object, as text) replaces the merchant's.
    pub async fn dry_run(
        &self,
        merchant: &str,
        version: i64,
        order: Order,
        card: DryRunCard,
        config: Option<String>,
    ) -> ServiceResult<DryRunResult> {
        let (config, config_source) = self.config(merchant, config).await?;
        let (card, card_source, note) = self.card_for(merchant, card).await?;
        let policy = self.runner.version(merchant, version).await?;
        let slot = self
            .admission
            .enter_within(merchant, DRY_RUN_WAIT)
            .await
            .map_err(|busy| ServiceError::Busy(busy.to_string()))?;
        let extras = self
            .runner
            .extras(
                merchant,
                &card,
                &order,
                &order.order_id,
                policy.contract(),
                None,
            )
            .await?;
        let call = Call {
            policy,
            inline: None,
            config: config.into(),
            limits: self.runner.limits().clone(),
            order,
            card,
            offer: None,
            extras,
            slot: Some(slot),
        };
        let (decision, _, card) = self.runner.decide(call).await?;
        Ok(DryRunResult {
            decision,
            card,
            card_source,
            config_source,
            note,
        })
    }

    /// Re-runs the merchant's recorded bills against `version`: one replay per merchant
    /// at a time (a second waits for the first), at most [`MAX_REPLAYS`] per server. If the
    /// caller stops waiting, the replay stops at the next bill.
    pub async fn replay(
        &self,
        merchant: &str,
        version: i64,
        request: ReplayRequest,
    ) -> ServiceResult<Report> {
        let (config, _) = self.config(merchant, request.config.clone()).await?;
        let policy = self.runner.version(merchant, version).await?;
        let cancel = Arc::new(AtomicBool::new(false));
        let _cancel_on_drop = CancelOnDrop(cancel.clone());
        let closed = |_| ServiceError::internal(anyhow::anyhow!("the replay slots are closed"));
        let mine = self.merchant_slot(merchant);
        let merchant_turn = mine.acquire_owned().await.map_err(closed)?;
        let server_turn = self.replays.clone().acquire_owned().await.map_err(closed)?;
        let (pages, rx) = tokio::sync::mpsc::channel(1);
        let reader = tokio::spawn(read_pages(
            self.store.clone(),
            merchant.to_owned(),
            request.clone(),
            pages,
            cancel.clone(),
        ));
        let job = Job {
            merchant: merchant.to_owned(),
            version,
            policy,
            config,
            limits: self.runner.limits().clone(),
            only_changed: request.only_changed,
            pages: rx,
            cancel,
            hold: vec![merchant_turn, server_turn],
        };
        let report = replay::run(self.runner.runtime().clone(), self.metrics.clone(), job).await;
        reader.abort();
        report.map_err(|error| match error {
            ReplayError::Store(e) => e.into(),
            other => ServiceError::internal(other),
        })
    }

    /// The card a what-if runs with, where it came from, and a note for an unknown one.
    pub(super) async fn card_for(
        &self,
        merchant: &str,
        card: DryRunCard,
    ) -> ServiceResult<(Card, &'static str, Option<String>)> {
        Ok(match card {
            DryRunCard::Inline(card) => (card, "inline", None),
            DryRunCard::Stored(card_id) => match self.store.card(merchant, &card_id).await? {
                Some(card) => (card, "stored", None),
                None => (
                    Card::new(&card_id),
                    "unknown",
                    Some(format!(
                        "card '{card_id}' is not on file (the till would get error 3); evaluated with a card with nothing on it"
                    )),
                ),
            },
        })
    }

    pub(super) fn store(&self) -> &Store {
        &self.store
    }

    pub(super) fn runner(&self) -> &PolicyRunner {
        &self.runner
    }

    pub(super) fn admission(&self) -> &Admission {
        &self.admission
    }

    fn merchant_slot(&self, merchant: &str) -> Arc<Semaphore> {
        let mut merchants = self
            .merchants
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        // Drop the slots nobody holds or waits for, so the map stays small.
        merchants.retain(|_, slot| Arc::strong_count(slot) > 1);
        merchants
            .entry(merchant.to_owned())
            .or_insert_with(|| Arc::new(Semaphore::new(1)))
            .clone()
    }

    /// The config a what-if runs with: the request's, or the merchant's own.
    async fn config(
        &self,
        merchant: &str,
        config: Option<String>,
    ) -> ServiceResult<(String, ConfigSource)> {
        match config {
            Some(config) => Ok((config, ConfigSource::Request)),
            None => Ok((
                self.store.policy_config(merchant).await?,
                ConfigSource::Merchant,
            )),
        }
    }
}

/// Feeds a replay its bills, a page at a time, until `limit`, the log's end, or nobody
/// wants more.
async fn read_pages(
    store: Store,
    merchant: String,
    request: ReplayRequest,
    pages: tokio::sync::mpsc::Sender<Result<Vec<ReplaySource>, StoreError>>,
    cancel: Arc<AtomicBool>,
) {
    let mut left = request.limit;
    let mut before = i64::MAX;
    while left > 0 && !cancel.load(Ordering::Relaxed) {
        let page = match store
            .replay_sources(&merchant, request.since, before, left.min(PAGE))
            .await
        {
            Ok(page) => page,
            Err(error) => {
                // The replay thread ends with this error; nothing more to read.
                let _ = pages.send(Err(error)).await;
                return;
            }
        };
        let Some(last) = page.last().map(|row| row.id) else {
            return;
        };
        left = left.saturating_sub(u32::try_from(page.len()).unwrap_or(u32::MAX));
        if pages.send(Ok(page)).await.is_err() {
            return;
        }
        before = last;
    }
}
