//! Which policy and config each merchant runs, kept in memory: compiled components are
//! shared by module hash (one module serving many shops is compiled once), and a
//! merchant's entry is dropped whenever its activation or config changes here. Changes
//! made through another replica are picked up by revalidating an entry (one cheap read
//! of the merchant's generation counter) once it is older than [`REVALIDATE_AFTER`].

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use crate::policy::{CompiledPolicy, Rejection, Runtime};
use crate::store::{Store, StoreError};

/// How stale a cached entry may get before it is checked against the database: the
/// bound on how long an activation made on another replica takes to reach this one.
pub const REVALIDATE_AFTER: Duration = Duration::from_millis(500);

/// What one merchant runs right now.
#[derive(Debug, Clone)]
pub struct Active {
    pub version: Option<i64>,
    pub generation: i64,
    pub policy: Option<CompiledPolicy>,
    pub config: Arc<str>,
}

#[derive(Debug, Clone)]
struct Entry {
    active: Arc<Active>,
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

#[derive(Debug, Default)]
pub struct ActivePolicies {
    by_merchant: RwLock<HashMap<String, Entry>>,
    by_hash: RwLock<HashMap<String, CompiledPolicy>>,
}

impl ActivePolicies {
    pub fn new() -> Self {
        Self::default()
    }

    /// The merchant's active policy and config, loading (and compiling, if no merchant
    /// uses that module yet) on first use.
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
        let state = match cached {
            Some(entry) if entry.checked.elapsed() < REVALIDATE_AFTER => return Ok(entry.active),
            Some(entry) => {
                let state = store.policy_state(merchant).await?;
                if state.generation == entry.active.generation {
                    self.insert(merchant, entry.active.clone());
                    return Ok(entry.active);
                }
                state
            }
            None => store.policy_state(merchant).await?,
        };
        let policy = match state.active_version {
            None => None,
            Some(_) => {
                let active = store.active_policy(merchant).await?;
                match active {
                    None => None,
                    Some(active) => Some(
                        self.compiled(runtime, active.version, &active.sha256, active.wasm)
                            .await?,
                    ),
                }
            }
        };
        let active = Arc::new(Active {
            version: state.active_version,
            generation: state.generation,
            policy,
            config: Arc::from(state.config),
        });
        self.insert(merchant, active.clone());
        Ok(active)
    }

    fn insert(&self, merchant: &str, active: Arc<Active>) {
        if let Ok(mut map) = self.by_merchant.write() {
            map.insert(
                merchant.to_owned(),
                Entry {
                    active,
                    checked: Instant::now(),
                },
            );
        }
    }

    /// A compiled module by hash, compiling it off the async threads when new.
    pub async fn compiled(
        &self,
        runtime: &Arc<Runtime>,
        version: i64,
        sha256: &str,
        wasm: Vec<u8>,
    ) -> Result<CompiledPolicy, LoadError> {
        if let Some(policy) = self
            .by_hash
            .read()
            .ok()
            .and_then(|m| m.get(sha256).cloned())
        {
            return Ok(policy);
        }
        let runtime = runtime.clone();
        let policy = tokio::task::spawn_blocking(move || runtime.compile(&wasm))
            .await?
            .map_err(|rejection| LoadError::Rejected { version, rejection })?;
        self.remember(policy.clone());
        Ok(policy)
    }

    /// Keeps a module compiled at upload so activating it costs nothing.
    pub fn remember(&self, policy: CompiledPolicy) {
        if let Ok(mut map) = self.by_hash.write() {
            map.insert(policy.info().sha256.clone(), policy);
        }
    }

    /// Forgets what a merchant runs; the next request reloads it.
    pub fn invalidate(&self, merchant: &str) {
        if let Ok(mut map) = self.by_merchant.write() {
            map.remove(merchant);
        }
    }
}
