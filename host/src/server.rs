//! The server: shared state, start-up (database, migrations, policy engine, evaluation
//! log writer) and graceful shutdown.

use std::sync::Arc;

use anyhow::Context;
use tokio::net::TcpListener;

use crate::active::{ActivePolicies, ArtifactCache, CacheOptions};
use crate::admission::Admission;
use crate::bifit::{Bifit, Follower};
use crate::config::Settings;
use crate::evaluation_log::{EvaluationLog, Housekeeper};
use crate::metrics::Metrics;
use crate::policy::{Runtime, RuntimeConfig};
use crate::service::{BifitSync, Campaigns, PolicyChanges, PolicyRunner, PosTokens, Till, WhatIf};
use crate::store::credentials::TokenHash;
use crate::store::{Change, GroupCommit, Store, StoreError, StoreOptions};

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
    campaigns: Campaigns,
    pos_tokens: Arc<PosTokens>,
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

    /// A merchant's campaigns.
    pub fn campaigns(&self) -> &Campaigns {
        &self.0.campaigns
    }

    /// Dry-runs and replays.
    pub fn whatif(&self) -> &WhatIf {
        &self.0.whatif
    }

    pub fn is_operator(&self, token: &str) -> bool {
        self.0
            .settings
            .operator_token
            .as_deref()
            .is_some_and(|expected| TokenHash::same_secret(token, expected))
    }

    /// POS tokens, checked from memory (see `service::pos_tokens`): a revocation or a
    /// merchant's disabling must go through [`PosTokens::forget`].
    pub fn pos_tokens(&self) -> &PosTokens {
        &self.0.pos_tokens
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
    options.local_reads = settings.sqlite_local_reads;
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
        module_limits: settings.uploads.module_limits.clone(),
        ..RuntimeConfig::default()
    })
    .context("could not start the policy engine")?;
    let bifit = Bifit::new(&settings.bifit, store.clone(), settings.secrets_key.clone())
        .context("could not set up the BIFIT client")?;
    let (evaluations, log_writer) = EvaluationLog::start(
        store.clone(),
        settings.evaluation_retention(),
        settings.evaluation_log_max_bytes,
    );
    let mut metrics = Metrics::new();
    evaluations.register_metrics(&mut metrics);
    bifit.counters.register_metrics(&mut metrics);
    // Artifacts are native code: only ones MACed under the secrets key are loaded, so
    // without a key there is nothing to check them with and the cache stays off.
    let artifacts = match (&settings.secrets_key, settings.compiled_cache) {
        (Some(key), true) => Some(ArtifactCache {
            store: store.clone(),
            engine_key: runtime.engine_key().to_owned(),
            key: key.artifact_key(),
        }),
        (None, true) => {
            tracing::warn!(
                "no secrets key (--secrets-key / RABAT_SECRETS_KEY): the compiled-policy cache is off and every policy load compiles; set a key to authenticate stored artifacts"
            );
            None
        }
        (_, false) => None,
    };
    let active = Arc::new(ActivePolicies::with_options(CacheOptions {
        max_loaded: settings.max_loaded_policies,
        revalidate_after: settings.policy_revalidate,
        artifacts,
    }));
    let pos_tokens = Arc::new(PosTokens::new(store.clone()));
    let listener = tokio::runtime::Handle::try_current().ok().map(|handle| {
        handle
            .spawn(follow_changes(
                store.clone(),
                active.clone(),
                pos_tokens.clone(),
            ))
            .abort_handle()
    });
    // All merchants together never ask for more instances than the pool holds (less the
    // replays', which run one call at a time each outside admission).
    let pool = usize::try_from(runtime.config().max_instances).unwrap_or(usize::MAX);
    let admission = Arc::new(Admission::new(
        settings.merchant_concurrency,
        pool.saturating_sub(crate::service::whatif::MAX_REPLAYS),
        settings.merchant_queue,
    ));
    crate::active::PolicyCacheStats::register_metrics(&active, &mut metrics);
    let runtime = Arc::new(runtime);
    let runner = PolicyRunner::new(
        store.clone(),
        runtime.clone(),
        active.clone(),
        settings.policy_limits.clone(),
        settings.inline_deadline,
    );
    runner.register_metrics(&mut metrics);
    let metrics = Arc::new(metrics);
    let till = Till::new(
        store.clone(),
        runner.clone(),
        admission.clone(),
        settings.merchant_queue,
        metrics.clone(),
        evaluations.clone(),
        GroupCommit::start(store.clone()),
    )
    .with_hold_ttl(settings.hold_ttl);
    let state = AppState(Arc::new(Inner {
        bifit: BifitSync::new(till.clone(), bifit),
        policies: PolicyChanges::new(
            store.clone(),
            runtime.clone(),
            active.clone(),
            settings.uploads.clone(),
        ),
        whatif: WhatIf::new(store.clone(), runner, admission.clone(), metrics.clone()),
        pos_tokens,
        campaigns: Campaigns::new(store.clone(), active.clone()),
        till,
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

/// PostgreSQL: drops a merchant's cached policy, and the POS tokens remembered for it,
/// the moment any replica changes them. Lost connections are re-established (and, since
/// notifications may have been missed meanwhile, everything cached is revalidated); the
/// generation check and the tokens' expiry stay the fallback. Returns on SQLite at once,
/// and when the store is closed.
async fn follow_changes(store: Store, active: Arc<ActivePolicies>, pos_tokens: Arc<PosTokens>) {
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
        pos_tokens.forget_all();
        delay = std::time::Duration::from_millis(100);
        loop {
            match listener.next().await {
                Ok(Change::Merchant(merchant)) => active.notified(&merchant),
                Ok(Change::Credentials(merchant)) => pos_tokens.forget(&merchant),
                Ok(Change::Reconnected) => {
                    active.invalidate_all();
                    pos_tokens.forget_all();
                }
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
    let housekeeper = Housekeeper::start(
        store.clone(),
        state.settings().evaluation_retention(),
        crate::evaluation_log::HOUSEKEEPING_EVERY,
    );
    let ager = crate::aging::PointsAger::start(store.clone(), state.settings().points_every);
    let follower = Follower::start(state.bifit_sync().clone());
    let limits = state.settings().http.clone();
    let served = serve_http(listener, app(state), &limits, shutdown_signal()).await;
    // Before the log writer: the follower holds a state clone, and so a log sender.
    follower.stop().await;
    housekeeper.stop();
    ager.stop();
    served?;
    // Every handler (and so every log sender) is gone: the writer drains and stops.
    if let Err(error) = log_writer.await {
        tracing::warn!(%error, "the evaluation log writer failed");
    }
    store.close().await;
    tracing::info!("rabat stopped");
    Ok(())
}

/// Serves HTTP/1.1 on `listener` until `shutdown` resolves, within `limits`: a client
/// must send a request's headers within the header timeout (on a kept-alive connection,
/// the next request's too, so idle connections close), at most `max_connections` are
/// served at once (the rest wait in the kernel's listen queue), and at shutdown the
/// requests in flight get `shutdown_grace` to finish before their connections are closed.
/// (Request bodies are timed by `http::app`, which answers 408.) HTTP/2 is not served:
/// a cleartext h2 connection has no header timeout; a TLS proxy in front speaks it.
pub async fn serve_http(
    listener: TcpListener,
    router: axum::Router,
    limits: &crate::config::HttpLimits,
    shutdown: impl std::future::Future<Output = ()>,
) -> anyhow::Result<()> {
    use hyper_util::rt::{TokioIo, TokioTimer};
    use hyper_util::server::graceful::GracefulShutdown;
    use hyper_util::service::TowerToHyperService;

    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .keep_alive(true);
    let service = TowerToHyperService::new(router);
    let slots = Arc::new(tokio::sync::Semaphore::new(limits.max_connections));
    let graceful = GracefulShutdown::new();
    let mut connections = tokio::task::JoinSet::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        while connections.try_join_next().is_some() {}
        // A slot first: beyond the cap, connections wait unaccepted.
        let slot = tokio::select! {
            slot = slots.clone().acquire_owned() => slot.context("the connection slots closed")?,
            () = &mut shutdown => break,
        };
        let (stream, _peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // Out of file descriptors and the like: wait, then go on.
                    tracing::warn!(%error, "could not accept a connection");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        if let Err(error) = stream.set_nodelay(true) {
            tracing::debug!(%error, "could not set TCP_NODELAY");
        }
        let connection =
            graceful.watch(http.serve_connection(TokioIo::new(stream), service.clone()));
        connections.spawn(async move {
            if let Err(error) = connection.await {
                tracing::debug!(%error, "connection ended with an error");
            }
            drop(slot);
        });
    }
    drop(listener);
    drop(service);
    let open = graceful.count();
    if open > 0 {
        tracing::info!(connections = open, grace = ?limits.shutdown_grace, "waiting for requests in flight");
    }
    if tokio::time::timeout(limits.shutdown_grace, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!(
            connections = connections.len(),
            grace = ?limits.shutdown_grace,
            "requests still in flight after the shutdown grace period: closing their connections"
        );
    }
    // Closes whatever is left (and with it every handler's state).
    connections.shutdown().await;
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
