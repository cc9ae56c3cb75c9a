//! Which policy and config each merchant runs, kept in memory: compiled components are
//! shared by module hash (one module serving many shops is compiled once), and a
//! merchant's entry is dropped whenever its activation or config changes.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use crate::policy::{CompiledPolicy, Rejection, Runtime};
use crate::store::{Store, StoreError};

/// What one merchant runs right now.
#[derive(Debug, Clone)]
pub struct Active {
    pub version: Option<i64>,
    pub generation: i64,
    pub policy: Option<CompiledPolicy>,
    pub config: Arc<str>,
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
    by_merchant: RwLock<HashMap<String, Arc<Active>>>,
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
        if let Some(active) = self
            .by_merchant
            .read()
            .ok()
            .and_then(|m| m.get(merchant).cloned())
        {
            return Ok(active);
        }
        let state = store.policy_state(merchant).await?;
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
        if let Ok(mut map) = self.by_merchant.write() {
            map.insert(merchant.to_owned(), active.clone());
        }
        Ok(active)
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
