//! The server: shared state, start-up (database, migrations, policy engine, evaluation
//! log writer) and graceful shutdown.

use std::sync::Arc;

use anyhow::Context;
use tokio::net::TcpListener;

use crate::active::{ActivePolicies, ArtifactCache, CacheOptions};
use crate::admission::Admission;
use crate::bifit::{Bifit, Follower};
use crate::config::Settings;
use crate::evaluation_log::EvaluationLog;
use crate::metrics::Metrics;
use crate::policy::{Runtime, RuntimeConfig};
use crate::service::{Audit, BifitSync, PolicyChanges, PolicyRunner, Till, WhatIf};
use crate::store::credentials::TokenHash;
use crate::store::{Change, Merchant, Store, StoreError, StoreOptions};

/// What every handler shares. Cheap to clone.
#[derive(Debug, Clone)]
pub struct AppState(Arc<Inner>);

#[derive(Debug)]
struct Inner {
    store: Store,
    runtime: Arc<Runtime>,
    active: Arc<ActivePolicies>,
    admission: Arc<Admission>,
    settings: Settings,
    evaluations: EvaluationLog,
    metrics: Arc<Metrics>,
    till: Till,
    bifit: BifitSync,
    policies: PolicyChanges,
    whatif: WhatIf,
    audit: Audit,
    /// The PostgreSQL change listener, stopped with the state.
    listener: Option<tokio::task::AbortHandle>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        if let Some(listener) = &self.listener {
            listener.abort();
        }
    }
}

impl AppState {
    pub fn store(&self) -> &Store {
        &self.0.store
    }

    pub fn runtime(&self) -> &Arc<Runtime> {
        &self.0.runtime
    }

    pub fn active(&self) -> &ActivePolicies {
        &self.0.active
    }

    /// The per-merchant bound on concurrent policy calls.
    pub fn admission(&self) -> &Admission {
        &self.0.admission
    }

    pub fn settings(&self) -> &Settings {
        &self.0.settings
    }

    pub fn evaluations(&self) -> &EvaluationLog {
        &self.0.evaluations
    }

    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.0.metrics
    }

    /// The till's flows (endpoints 1 and 2, every POS).
    pub fn till(&self) -> &Till {
        &self.0.till
    }

    /// BIFIT Kassa's discount and sync (the follower's too).
    pub fn bifit_sync(&self) -> &BifitSync {
        &self.0.bifit
    }

    /// The BIFIT client and counters.
    pub fn bifit(&self) -> &Bifit {
        self.0.bifit.bifit()
    }

    /// Policy uploads, activations and config changes.
    pub fn policies(&self) -> &PolicyChanges {
        &self.0.policies
    }

    /// Dry-runs and replays.
    pub fn whatif(&self) -> &WhatIf {
        &self.0.whatif
    }

    /// The audit trail's writer.
    pub fn audit(&self) -> &Audit {
        &self.0.audit
    }

    pub fn is_operator(&self, token: &str) -> bool {
        self.0
            .settings
            .operator_token
            .as_deref()
            .is_some_and(|expected| TokenHash::same_secret(token, expected))
    }

    pub async fn merchant_by_pos_token(&self, token: &str) -> Result<Option<Merchant>, StoreError> {
        self.0
            .store
            .merchant_by_pos_token(&TokenHash::of(token))
            .await
    }
}

/// A started server's state and the evaluation-log writer to wait for at shutdown.
#[derive(Debug)]
pub struct Started {
    pub state: AppState,
    pub log_writer: tokio::task::JoinHandle<()>,
}

/// Opens the database (migrating it), starts the policy engine and the log writer.
pub async fn start(settings: Settings) -> anyhow::Result<Started> {
    let mut options = StoreOptions::new(settings.database_url.clone());
    options.postgres_schema = settings.database_schema.clone();
    let store = Store::connect_with(&options).await.with_context(|| {
        format!(
            "could not open the database {}",
            redact(&settings.database_url)
        )
    })?;
    start_with(settings, store)
}

/// Like [`start`], on a store opened by the caller (tests choose a PostgreSQL schema).
pub fn start_with(settings: Settings, store: Store) -> anyhow::Result<Started> {
    let runtime = Runtime::new(RuntimeConfig {
        max_module_bytes: settings.max_module_bytes,
        ..RuntimeConfig::default()
    })
    .context("could not start the policy engine")?;
    let bifit = Bifit::new(&settings.bifit, store.clone(), settings.secrets_key.clone())
        .context("could not set up the BIFIT client")?;
    let (evaluations, log_writer) = EvaluationLog::start(
        store.clone(),
        settings.evaluation_log_retention,
        settings.evaluation_log_max_bytes,
    );
    let mut metrics = Metrics::new();
    evaluations.register_metrics(&mut metrics);
    bifit.counters.register_metrics(&mut metrics);
    let artifacts = settings.compiled_cache.then(|| ArtifactCache {
        store: store.clone(),
        engine_key: runtime.engine_key().to_owned(),
    });
    let active = Arc::new(ActivePolicies::with_options(CacheOptions {
        max_loaded: settings.max_loaded_policies,
        revalidate_after: settings.policy_revalidate,
        artifacts,
    }));
    let listener = tokio::runtime::Handle::try_current().ok().map(|handle| {
        handle
            .spawn(follow_changes(store.clone(), active.clone()))
            .abort_handle()
    });
    let admission = Arc::new(Admission::new(
        settings.merchant_concurrency,
        settings.merchant_queue,
    ));
    crate::active::PolicyCacheStats::register_metrics(&active, &mut metrics);
    let runtime = Arc::new(runtime);
    let metrics = Arc::new(metrics);
    let runner = PolicyRunner::new(
        store.clone(),
        runtime.clone(),
        active.clone(),
        settings.policy_limits.clone(),
    );
    let till = Till::new(
        store.clone(),
        runner.clone(),
        admission.clone(),
        settings.merchant_queue,
        metrics.clone(),
        evaluations.clone(),
    );
    let audit = Audit::new(store.clone());
    let state = AppState(Arc::new(Inner {
        bifit: BifitSync::new(till.clone(), bifit),
        policies: PolicyChanges::new(
            store.clone(),
            runtime.clone(),
            active.clone(),
            audit.clone(),
        ),
        whatif: WhatIf::new(store.clone(), runner, metrics.clone()),
        till,
        audit,
        store,
        runtime,
        active,
        admission,
        settings,
        evaluations,
        metrics,
        listener,
    }));
    Ok(Started { state, log_writer })
}

/// PostgreSQL: drops a merchant's cached policy the moment any replica changes it. Lost
/// connections are re-established (and, since notifications may have been missed
/// meanwhile, everything cached is revalidated); the generation check stays the fallback.
/// Returns on SQLite at once, and when the store is closed.
async fn follow_changes(store: Store, active: Arc<ActivePolicies>) {
    let mut delay = std::time::Duration::from_millis(100);
    loop {
        let mut listener = match store.listen_policy_changes().await {
            Ok(Some(listener)) => listener,
            Ok(None) => return,
            Err(StoreError::Database(sqlx::Error::PoolClosed)) => return,
            Err(error) => {
                tracing::warn!(%error, "cannot listen for policy changes; retrying (caches still revalidate)");
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(std::time::Duration::from_secs(10));
                continue;
            }
        };
        // Whatever changed while not listening.
        active.invalidate_all();
        delay = std::time::Duration::from_millis(100);
        loop {
            match listener.next().await {
                Ok(Change::Merchant(merchant)) => active.notified(&merchant),
                Ok(Change::Reconnected) => active.invalidate_all(),
                Err(StoreError::Database(sqlx::Error::PoolClosed)) => return,
                Err(error) => {
                    tracing::warn!(%error, "lost the policy change listener; reconnecting");
                    break;
                }
            }
        }
    }
}

/// Runs until SIGINT/SIGTERM, then finishes in-flight requests and flushes the log.
/// `app` builds the HTTP surface over the state (the CLI passes `http::app`: this module
/// sits below HTTP and does not know it).
pub async fn serve(
    settings: Settings,
    demo: bool,
    app: impl FnOnce(AppState) -> axum::Router,
) -> anyhow::Result<()> {
    let bind = settings.bind;
    let Started { state, log_writer } = start(settings).await?;
    if state.settings().operator_token.is_none() {
        tracing::warn!(
            "no operator token set (--operator-token / RABAT_OPERATOR_TOKEN): merchants cannot be created over HTTP"
        );
    }
    let demo_info = if demo {
        Some(crate::demo::setup(&state).await?)
    } else {
        None
    };
    let listener = TcpListener::bind(bind)
        .await
        .with_context(|| format!("could not listen on {bind}"))?;
    let local = listener.local_addr().context("no local address")?;
    tracing::info!(address = %local, database = state.store().engine().as_str(), "rabat is listening");
    if let Some(info) = demo_info {
        println!("{}", info.instructions(local));
    }
    let store = state.store().clone();
    let follower = Follower::start(state.bifit_sync().clone());
    let served = axum::serve(listener, app(state))
        .with_graceful_shutdown(shutdown_signal())
        .await
        .context("the server failed");
    // Before the log writer: the follower holds a state clone, and so a log sender.
    follower.stop().await;
    served?;
    // Every handler (and so every log sender) is gone: the writer drains and stops.
    if let Err(error) = log_writer.await {
        tracing::warn!(%error, "the evaluation log writer failed");
    }
    store.close().await;
    tracing::info!("rabat stopped");
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(error) = tokio::signal::ctrl_c().await {
            tracing::warn!(%error, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(error) => {
                tracing::warn!(%error, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutting down: finishing in-flight requests");
}

/// A database URL without its password, for messages.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let userinfo = &url[scheme + 3..at];
            let user = userinfo.split(':').next().unwrap_or("");
            format!("{}://{user}:***@{}", &url[..scheme], &url[at + 1..])
        }
        _ => url.to_owned(),
    }
}
