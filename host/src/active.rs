//! Which policy and config each merchant runs, kept in memory.
//!
//! Two caches: per merchant, what it runs (version, generation, module hash, config); and
//! per module hash, the compiled component — shared, so one module serving many shops is
//! loaded once, and bounded: past `max_loaded` the least recently used is dropped and
//! loaded again on demand. Loading a module first tries the compiled-policy cache in the
//! database (wasmtime's native artifact, written by whichever process compiled it first),
//! so a restart or a new replica does not compile again.
//!
//! A merchant's entry is dropped whenever its activation or config changes here, when a
//! PostgreSQL notification says it changed on another replica, and in any case it is
//! revalidated (one cheap read of the merchant's generation counter) once it is older
//! than the revalidation interval — the only path on SQLite, and the fallback for a lost
//! notification.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use crate::policy::{CompiledPolicy, Rejection, Runtime};
use crate::secrets::ArtifactKey;
use crate::store::{Campaign, CompiledArtifact, PolicyState, Store, StoreError};

/// How stale a cached entry may get by default before it is checked against the
/// database: the bound on how long a change made on another replica takes to reach this
/// one when no notification arrives.
pub const REVALIDATE_AFTER: Duration = Duration::from_millis(500);

/// Compiled policies kept in memory by default.
pub const MAX_LOADED: usize = 1_000;

/// What one merchant runs right now.
#[derive(Debug, Clone)]
pub struct Active {
    /// The default campaign's version (the one activation sets), its module and the
    /// merchant's policy config: what dry-runs default to.
    pub version: Option<i64>,
    pub generation: i64,
    pub policy: Option<CompiledPolicy>,
    pub config: Arc<str>,
    /// The campaigns that may run (state active, whatever their schedule), in run order.
    pub campaigns: Vec<ActiveCampaign>,
}

/// A campaign ready to run: its row, its compiled module and its config's text.
#[derive(Debug, Clone)]
pub struct ActiveCampaign {
    pub campaign: Arc<Campaign>,
    pub policy: CompiledPolicy,
    pub config: Arc<str>,
}

impl Active {
    /// The campaigns live at `now` (epoch ms), in run order.
    pub fn live(&self, now: i64) -> Vec<&ActiveCampaign> {
        self.campaigns
            .iter()
            .filter(|c| c.campaign.is_live(now))
            .collect()
    }
}

/// A cached campaign; its module lives in the shared LRU.
#[derive(Debug, Clone)]
struct CampaignEntry {
    campaign: Arc<Campaign>,
    sha256: Arc<str>,
    config: Arc<str>,
}

/// A merchant's cached state; the compiled policy itself lives in the shared LRU.
#[derive(Debug, Clone)]
struct Entry {
    version: Option<i64>,
    generation: i64,
    sha256: Option<Arc<str>>,
    config: Arc<str>,
    campaigns: Arc<[CampaignEntry]>,
    checked: Instant,
}

#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A stored module no longer compiles (e.g. after an engine upgrade).
    #[error("stored policy version {version} does not load: {rejection}")]
    Rejected { version: i64, rejection: Rejection },
    #[error("compiling the policy failed: {0}")]
    Join(#[from] tokio::task::JoinError),
}

/// How the caches behave.
#[derive(Debug, Clone)]
pub struct CacheOptions {
    /// Compiled policies kept in memory (at least 1).
    pub max_loaded: usize,
    /// See [`REVALIDATE_AFTER`].
    pub revalidate_after: Duration,
    /// Where compiled artifacts are kept and looked up; `None` compiles every load.
    pub artifacts: Option<ArtifactCache>,
}

impl Default for CacheOptions {
    fn default() -> Self {
        CacheOptions {
            max_loaded: MAX_LOADED,
            revalidate_after: REVALIDATE_AFTER,
            artifacts: None,
        }
    }
}

/// The compiled-policy cache: a store's `compiled_policies` table, for one engine.
/// Every artifact is written with a MAC under `key` and deserialized only when its MAC
/// verifies, so whoever can write that table (but does not hold the secrets key) cannot
/// get native code loaded.
#[derive(Debug, Clone)]
pub struct ArtifactCache {
    pub store: Store,
    /// [`Runtime::engine_key`] of the engine that reads and writes these artifacts.
    pub engine_key: String,
    /// Derived from the operator's secrets key ([`crate::secrets::SecretsKey::artifact_key`]).
    pub key: ArtifactKey,
}

/// What the caches did, for `/metrics`. Every counter only grows, except `loaded`.
#[derive(Debug, Default)]
pub struct PolicyCacheStats {
    hits: AtomicU64,
    compiled: AtomicU64,
    loaded_from_cache: AtomicU64,
    cache_rejected: AtomicU64,
    evictions: AtomicU64,
    loaded: AtomicU64,
    notifications: AtomicU64,
}

/// A cache counter's metric name, help, kind and getter.
type StatMetric = (
    &'static str,
    &'static str,
    crate::metrics::Kind,
    fn(&PolicyCacheStats) -> u64,
);

impl PolicyCacheStats {
    /// A compiled policy found in memory.
    pub fn hits(&self) -> u64 {
        self.hits.load(Ordering::Relaxed)
    }
    /// Modules compiled from wasm (at upload or on load when no artifact was usable).
    pub fn compiled(&self) -> u64 {
        self.compiled.load(Ordering::Relaxed)
    }
    /// Modules loaded from a stored compiled artifact instead of compiling.
    pub fn loaded_from_cache(&self) -> u64 {
        self.loaded_from_cache.load(Ordering::Relaxed)
    }
    /// Stored artifacts that were damaged or did not load (each fell back to compiling).
    pub fn cache_rejected(&self) -> u64 {
        self.cache_rejected.load(Ordering::Relaxed)
    }
    /// Compiled policies dropped from memory to stay within `max_loaded`.
    pub fn evictions(&self) -> u64 {
        self.evictions.load(Ordering::Relaxed)
    }
    /// Compiled policies in memory now.
    pub fn loaded(&self) -> u64 {
        self.loaded.load(Ordering::Relaxed)
    }
    /// Change notifications received from other replicas (PostgreSQL).
    pub fn notifications(&self) -> u64 {
        self.notifications.load(Ordering::Relaxed)
    }

    /// Every counter as `rabat_policy_cache_…`, read at each scrape.
    pub fn register_metrics(active: &Arc<ActivePolicies>, metrics: &mut crate::metrics::Metrics) {
        use crate::metrics::Kind;
        let all: [StatMetric; 7] = [
            (
                "policy_cache_hits",
                "Compiled policies found in memory",
                Kind::Counter,
                PolicyCacheStats::hits,
            ),
            (
                "policy_cache_compiled",
                "Policy modules compiled from wasm",
                Kind::Counter,
                PolicyCacheStats::compiled,
            ),
            (
                "policy_cache_loaded_from_artifact",
                "Policy modules loaded from a stored compiled artifact",
                Kind::Counter,
                PolicyCacheStats::loaded_from_cache,
            ),
            (
                "policy_cache_artifact_rejected",
                "Stored compiled artifacts that did not load (recompiled)",
                Kind::Counter,
                PolicyCacheStats::cache_rejected,
            ),
            (
                "policy_cache_evictions",
                "Compiled policies dropped to stay within max-loaded-policies",
                Kind::Counter,
                PolicyCacheStats::evictions,
            ),
            (
                "policy_cache_loaded",
                "Compiled policies in memory now",
                Kind::Gauge,
                PolicyCacheStats::loaded,
            ),
            (
                "policy_change_notifications",
                "Policy change notifications from other replicas",
                Kind::Counter,
                PolicyCacheStats::notifications,
            ),
        ];
        for (name, help, kind, get) in all {
            let active = active.clone();
            metrics.sample(name, help, kind, Arc::new(move || get(active.stats())));
        }
    }

    fn bump(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }
}

/// Compiled policies by module hash, least recently used first out.
#[derive(Debug, Default)]
struct Lru {
    map: HashMap<Arc<str>, (CompiledPolicy, u64)>,
    order: BTreeMap<u64, Arc<str>>,
    tick: u64,
}

impl Lru {
    fn get(&mut self, sha256: &str) -> Option<CompiledPolicy> {
        self.tick += 1;
        let tick = self.tick;
        let (policy, used) = self.map.get_mut(sha256)?;
        if let Some(key) = self.order.remove(used) {
            self.order.insert(tick, key);
        }
        *used = tick;
        Some(policy.clone())
    }

    /// Inserts (or refreshes) and returns how many entries were evicted.
    fn insert(&mut self, policy: CompiledPolicy, capacity: usize) -> u64 {
        self.tick += 1;
        let key: Arc<str> = Arc::from(policy.info().sha256.as_str());
        if let Some((_, used)) = self.map.insert(key.clone(), (policy, self.tick)) {
            self.order.remove(&used);
        }
        self.order.insert(self.tick, key);
        let mut evicted = 0;
        while self.map.len() > capacity.max(1) {
            let Some((_, oldest)) = self.order.pop_first() else {
                break;
            };
            self.map.remove(&oldest);
            evicted += 1;
        }
        evicted
    }

    fn len(&self) -> usize {
        self.map.len()
    }
}

#[derive(Debug)]
pub struct ActivePolicies {
    by_merchant: RwLock<HashMap<String, Entry>>,
    loaded: Mutex<Lru>,
    /// One load per module hash at a time: concurrent first requests wait for it.
    loading: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    /// Moves on every invalidation, so a load that raced one is not trusted for long.
    invalidations: AtomicU64,
    options: CacheOptions,
    stats: PolicyCacheStats,
}

impl Default for ActivePolicies {
    fn default() -> Self {
        Self::with_options(CacheOptions::default())
    }
}

impl ActivePolicies {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn with_options(options: CacheOptions) -> Self {
        ActivePolicies {
            by_merchant: RwLock::default(),
            loaded: Mutex::default(),
            loading: Mutex::default(),
            invalidations: AtomicU64::new(0),
            options,
            stats: PolicyCacheStats::default(),
        }
    }

    pub fn stats(&self) -> &PolicyCacheStats {
        &self.stats
    }

    /// The merchant's active policy and config, loading (from memory, the compiled cache,
    /// or by compiling, in that order) on first use.
    pub async fn get(
        &self,
        store: &Store,
        runtime: &Arc<Runtime>,
        merchant: &str,
    ) -> Result<Arc<Active>, LoadError> {
        let cached = self
            .by_merchant
            .read()
            .ok()
            .and_then(|m| m.get(merchant).cloned());
        let entry = match cached {
            Some(entry) if entry.checked.elapsed() < self.options.revalidate_after => entry,
            Some(entry) => {
                let epoch = self.invalidations.load(Ordering::Acquire);
                let state = store.policy_state(merchant).await?;
                if state.generation == entry.generation {
                    let entry = Entry {
                        checked: Instant::now(),
                        ..entry
                    };
                    self.insert(merchant, entry.clone(), epoch);
                    entry
                } else {
                    self.load_entry(store, runtime, merchant, Some(state), epoch)
                        .await?
                }
            }
            None => {
                let epoch = self.invalidations.load(Ordering::Acquire);
                self.load_entry(store, runtime, merchant, None, epoch)
                    .await?
            }
        };
        let policy = match (entry.version, &entry.sha256) {
            (Some(version), Some(sha256)) => {
                let policy = match self.lookup(sha256) {
                    Some(policy) => policy,
                    // Evicted since: its bytes again, then the compiled cache or a compile.
                    None => {
                        let wasm = store.policy_wasm(merchant, version).await?;
                        self.compiled(runtime, version, sha256, wasm).await?
                    }
                };
                Some(policy)
            }
            _ => None,
        };
        let mut campaigns = Vec::with_capacity(entry.campaigns.len());
        for cached in entry.campaigns.iter() {
            // The default campaign runs the module just looked up: no second lookup.
            let policy = match &policy {
                Some(policy) if entry.sha256.as_deref() == Some(&*cached.sha256) => policy.clone(),
                _ => match self.lookup(&cached.sha256) {
                    Some(policy) => policy,
                    None => {
                        let version = cached.campaign.policy_version;
                        let wasm = store.policy_wasm(merchant, version).await?;
                        self.compiled(runtime, version, &cached.sha256, wasm)
                            .await?
                    }
                },
            };
            campaigns.push(ActiveCampaign {
                campaign: cached.campaign.clone(),
                policy,
                config: cached.config.clone(),
            });
        }
        Ok(Arc::new(Active {
            version: entry.version,
            generation: entry.generation,
            policy,
            config: entry.config,
            campaigns,
        }))
    }

    async fn load_entry(
        &self,
        store: &Store,
        runtime: &Arc<Runtime>,
        merchant: &str,
        state: Option<PolicyState>,
        epoch: u64,
    ) -> Result<Entry, LoadError> {
        let state = match state {
            Some(state) => state,
            None => store.policy_state(merchant).await?,
        };
        let (version, sha256) = match state.active_version {
            None => (None, None),
            Some(_) => match store.active_policy(merchant).await? {
                None => (None, None),
                Some(active) => {
                    // Loaded now so a first request fails over to the fail-safe answer
                    // (via the error) rather than caching an entry that cannot run.
                    self.compiled(runtime, active.version, &active.sha256, active.wasm)
                        .await?;
                    (Some(active.version), Some(Arc::from(active.sha256)))
                }
            },
        };
        let mut campaigns = Vec::new();
        for runnable in store.runnable_campaigns(merchant).await? {
            if sha256.as_deref() != Some(runnable.sha256.as_str())
                && self.lookup(&runnable.sha256).is_none()
            {
                let version = runnable.campaign.policy_version;
                let wasm = store.policy_wasm(merchant, version).await?;
                self.compiled(runtime, version, &runnable.sha256, wasm)
                    .await?;
            }
            campaigns.push(CampaignEntry {
                campaign: Arc::new(runnable.campaign),
                sha256: Arc::from(runnable.sha256),
                config: Arc::from(runnable.config_text),
            });
        }
        let entry = Entry {
            version,
            generation: state.generation,
            sha256,
            config: Arc::from(state.config),
            campaigns: campaigns.into(),
            checked: Instant::now(),
        };
        self.insert(merchant, entry.clone(), epoch);
        Ok(entry)
    }

    /// Caches an entry read after invalidation count `epoch`. If an invalidation came in
    /// meanwhile, what was read may predate the change it announced: the entry is kept
    /// but marked for revalidation on its next use.
    fn insert(&self, merchant: &str, mut entry: Entry, epoch: u64) {
        if self.invalidations.load(Ordering::Acquire) != epoch {
            entry.checked = Instant::now()
                .checked_sub(self.options.revalidate_after)
                .unwrap_or(entry.checked);
        }
        if let Ok(mut map) = self.by_merchant.write() {
            map.insert(merchant.to_owned(), entry);
        }
    }

    fn lookup(&self, sha256: &str) -> Option<CompiledPolicy> {
        let found = self.loaded.lock().ok()?.get(sha256);
        if found.is_some() {
            PolicyCacheStats::bump(&self.stats.hits);
        }
        found
    }

    /// A compiled module by hash: from memory, else from the compiled cache, else
    /// compiled (off the async threads) and written to the compiled cache.
    pub async fn compiled(
        &self,
        runtime: &Arc<Runtime>,
        version: i64,
        sha256: &str,
        wasm: Vec<u8>,
    ) -> Result<CompiledPolicy, LoadError> {
        if let Some(policy) = self.lookup(sha256) {
            return Ok(policy);
        }
        let gate = match self.loading.lock() {
            Ok(mut loading) => Some(loading.entry(sha256.to_owned()).or_default().clone()),
            Err(_) => None,
        };
        let _turn = match &gate {
            Some(gate) => Some(gate.lock().await),
            None => None,
        };
        // Whoever held the gate before us may have loaded it.
        if let Some(policy) = self.lookup(sha256) {
            return Ok(policy);
        }
        let loaded = self.load(runtime, version, sha256, wasm).await;
        if let Ok(policy) = &loaded {
            self.keep(policy.clone());
        }
        if let Ok(mut loading) = self.loading.lock() {
            loading.remove(sha256);
        }
        loaded
    }

    async fn load(
        &self,
        runtime: &Arc<Runtime>,
        version: i64,
        sha256: &str,
        wasm: Vec<u8>,
    ) -> Result<CompiledPolicy, LoadError> {
        if let Some(cache) = &self.options.artifacts
            && let Some(policy) = self
                .load_artifact(cache, runtime, sha256, wasm.len())
                .await?
        {
            return Ok(policy);
        }
        let runtime = runtime.clone();
        let persist = self.options.artifacts.is_some();
        let (policy, artifact) = tokio::task::spawn_blocking(move || {
            let policy = runtime.compile(&wasm)?;
            let artifact = persist.then(|| runtime.serialize(&policy));
            Ok((policy, artifact))
        })
        .await?
        .map_err(|rejection| LoadError::Rejected { version, rejection })?;
        PolicyCacheStats::bump(&self.stats.compiled);
        if let (Some(cache), Some(artifact)) = (&self.options.artifacts, artifact) {
            match artifact {
                Ok(bytes) => store_artifact(cache, sha256, &bytes).await,
                Err(error) => {
                    tracing::warn!(%error, sha256, "could not serialize a compiled policy")
                }
            }
        }
        Ok(policy)
    }

    /// The module from the compiled cache, or `None` (after dropping a bad artifact)
    /// when it must be compiled. Only a failure to run the blocking task is an error: the
    /// cache never fails a load.
    async fn load_artifact(
        &self,
        cache: &ArtifactCache,
        runtime: &Arc<Runtime>,
        sha256: &str,
        size_bytes: usize,
    ) -> Result<Option<CompiledPolicy>, LoadError> {
        let bytes = match cache.store.compiled(sha256, &cache.engine_key).await {
            Ok(CompiledArtifact::Found { artifact, mac })
                if cache.key.verify(&cache.engine_key, sha256, &artifact, &mac) =>
            {
                artifact
            }
            Ok(CompiledArtifact::Found { .. }) => {
                tracing::warn!(
                    sha256,
                    "the compiled artifact's MAC does not verify (not written by a server with this secrets key); compiling again"
                );
                self.drop_artifact(cache, sha256).await;
                return Ok(None);
            }
            Ok(CompiledArtifact::Missing) => return Ok(None),
            Ok(CompiledArtifact::Damaged) => {
                tracing::warn!(
                    sha256,
                    "the compiled artifact does not match its checksum; compiling again"
                );
                self.drop_artifact(cache, sha256).await;
                return Ok(None);
            }
            Err(error) => {
                tracing::warn!(%error, sha256, "could not read the compiled-policy cache; compiling");
                return Ok(None);
            }
        };
        let runtime = runtime.clone();
        let sha = sha256.to_owned();
        let loaded =
            tokio::task::spawn_blocking(move || runtime.load_compiled(&bytes, &sha, size_bytes))
                .await?;
        match loaded {
            Ok(policy) => {
                PolicyCacheStats::bump(&self.stats.loaded_from_cache);
                Ok(Some(policy))
            }
            Err(error) => {
                tracing::warn!(%error, sha256, "the compiled artifact is unusable; compiling again");
                self.drop_artifact(cache, sha256).await;
                Ok(None)
            }
        }
    }

    async fn drop_artifact(&self, cache: &ArtifactCache, sha256: &str) {
        PolicyCacheStats::bump(&self.stats.cache_rejected);
        if let Err(error) = cache.store.delete_compiled(sha256, &cache.engine_key).await {
            tracing::warn!(%error, sha256, "could not drop a bad compiled artifact");
        }
    }

    fn keep(&self, policy: CompiledPolicy) {
        if let Ok(mut lru) = self.loaded.lock() {
            let evicted = lru.insert(policy, self.options.max_loaded);
            self.stats.evictions.fetch_add(evicted, Ordering::Relaxed);
            self.stats.loaded.store(
                u64::try_from(lru.len()).unwrap_or(u64::MAX),
                Ordering::Relaxed,
            );
        }
    }

    /// Keeps a module compiled at upload, so activating it costs nothing here, and
    /// (in the background) writes its artifact so other replicas need not compile it.
    pub fn remember(&self, policy: CompiledPolicy) {
        PolicyCacheStats::bump(&self.stats.compiled);
        self.keep(policy.clone());
        let (Some(cache), Ok(handle)) = (
            self.options.artifacts.clone(),
            tokio::runtime::Handle::try_current(),
        ) else {
            return;
        };
        handle.spawn(async move {
            let sha256 = policy.info().sha256.clone();
            let serialized = tokio::task::spawn_blocking(move || policy.serialize()).await;
            match serialized {
                Ok(Ok(bytes)) => store_artifact(&cache, &sha256, &bytes).await,
                Ok(Err(error)) => {
                    tracing::warn!(%error, sha256, "could not serialize a compiled policy")
                }
                Err(error) => tracing::warn!(%error, "serializing a compiled policy failed"),
            }
        });
    }

    /// Forgets what a merchant runs; the next request reloads it.
    pub fn invalidate(&self, merchant: &str) {
        self.invalidations.fetch_add(1, Ordering::AcqRel);
        if let Ok(mut map) = self.by_merchant.write() {
            map.remove(merchant);
        }
    }

    /// Forgets what every merchant runs (notifications may have been lost). Compiled
    /// policies stay: they are keyed by content and cannot be stale.
    pub fn invalidate_all(&self) {
        self.invalidations.fetch_add(1, Ordering::AcqRel);
        if let Ok(mut map) = self.by_merchant.write() {
            map.clear();
        }
    }

    /// Another replica changed this merchant's policy or config.
    pub fn notified(&self, merchant: &str) {
        PolicyCacheStats::bump(&self.stats.notifications);
        self.invalidate(merchant);
    }
}

async fn store_artifact(cache: &ArtifactCache, sha256: &str, bytes: &[u8]) {
    let mac = cache.key.mac(&cache.engine_key, sha256, bytes);
    if let Err(error) = cache
        .store
        .put_compiled(sha256, &cache.engine_key, bytes, &mac)
        .await
    {
        tracing::warn!(%error, sha256, "could not write the compiled-policy cache");
    }
}
