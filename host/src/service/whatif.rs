//! What-ifs on any stored policy version, active or not, recording nothing: a dry-run on
//! one bill, and a replay of the merchant's recorded bills (see [`crate::replay`] for how
//! a replay stays off the tills' cores).

use std::sync::Arc;

use rabat_domain::model::{Card, Order};
use rabat_sandbox::decide::Decision;
use rabat_store::Store;

use super::runner::{Call, PolicyRunner};
use super::{ServiceError, ServiceResult};
use crate::metrics::Metrics;
use crate::replay::{self, Job, Report};

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
    metrics: Arc<Metrics>,
    /// One replay at a time per server: a replay is CPU-bound and must leave the other
    /// core to the tills.
    replays: Arc<tokio::sync::Semaphore>,
}

impl WhatIf {
    pub fn new(store: Store, runner: PolicyRunner, metrics: Arc<Metrics>) -> Self {
        WhatIf {
            store,
            runner,
            metrics,
            replays: Arc::new(tokio::sync::Semaphore::new(1)),
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
        let (card, card_source, note) = match card {
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
        };
        let policy = self.runner.version(merchant, version).await?;
        let call = Call {
            policy,
            config: config.into(),
            limits: self.runner.limits().clone(),
            order,
            card,
            slot: None,
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

    /// Re-runs the merchant's recorded bills against `version` (one replay per server at a
    /// time; a second waits for the first).
    pub async fn replay(
        &self,
        merchant: &str,
        version: i64,
        request: ReplayRequest,
    ) -> ServiceResult<Report> {
        let (config, _) = self.config(merchant, request.config).await?;
        let policy = self.runner.version(merchant, version).await?;
        let _turn = self
            .replays
            .acquire()
            .await
            .map_err(ServiceError::internal)?;
        let sources = self
            .store
            .replay_sources(merchant, request.since, request.limit)
            .await?;
        let job = Job {
            merchant: merchant.to_owned(),
            version,
            policy,
            config,
            limits: self.runner.limits().clone(),
            only_changed: request.only_changed,
            sources,
        };
        replay::run(self.runner.runtime().clone(), self.metrics.clone(), job)
            .await
            .map_err(ServiceError::internal)
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
