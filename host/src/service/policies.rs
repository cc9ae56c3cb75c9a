//! A merchant's policy changes: upload a version (validated and compiled before it is
//! stored, so a stored version always loads), activate one (a rollback is activating an
//! older one), set the config. Each change is written, dropped from this server's policy
//! cache (other replicas hear of it through the store) and audited (in the change's own
//! transaction), in one place.

use std::sync::Arc;

use rabat_sandbox::Runtime;
use rabat_store::{PolicyQuota, PolicyVersion, Store};
use serde_json::{Value, json};

use super::audit::Actor;
use super::{ServiceError, ServiceResult};
use crate::active::ActivePolicies;
use crate::config::UploadLimits;

/// An accepted upload: the stored version and what validation found.
#[derive(Debug)]
pub struct Uploaded {
    pub version: PolicyVersion,
    /// The interfaces the component imports (all of them allowed).
    pub imports: Vec<String>,
    pub uses_wasi: bool,
}

/// The policy-changes service. Cheap to clone.
#[derive(Debug, Clone)]
pub struct PolicyChanges {
    store: Store,
    runtime: Arc<Runtime>,
    active: Arc<ActivePolicies>,
    limits: UploadLimits,
    /// One permit per compile this server may run at once.
    compiles: Arc<tokio::sync::Semaphore>,
}

impl PolicyChanges {
    pub fn new(
        store: Store,
        runtime: Arc<Runtime>,
        active: Arc<ActivePolicies>,
        limits: UploadLimits,
    ) -> Self {
        PolicyChanges {
            store,
            runtime,
            active,
            compiles: Arc::new(tokio::sync::Semaphore::new(
                limits.max_concurrent_compiles.max(1),
            )),
            limits,
        }
    }

    /// The operator's quota on the merchant's stored policies.
    fn quota(&self) -> PolicyQuota {
        PolicyQuota {
            max_versions: u64::from(self.limits.max_policy_versions),
            max_bytes: self.limits.max_policy_bytes,
        }
    }

    /// The merchant's stored policies must leave room for `size` more bytes: checked
    /// before compiling (so an upload past the quota costs no compile), and again when
    /// the version is written, under the lock that serialises the merchant's uploads.
    async fn check_quota(&self, merchant: &str, size: usize) -> ServiceResult<()> {
        let stored = self.store.list_policies(merchant).await?;
        let bytes: u64 = stored
            .iter()
            .map(|v| u64::try_from(v.size_bytes).unwrap_or(0))
            .sum();
        self.quota()
            .check(stored.len() as u64, bytes, size as u64)
            .map_err(ServiceError::QuotaExceeded)
    }

    /// Validates and compiles `wasm` (off the async threads), then stores it as the
    /// merchant's next version, not active. A module rabat cannot run is an invalid policy
    /// with the reason.
    pub async fn upload(
        &self,
        merchant: &str,
        actor: &Actor,
        wasm: Vec<u8>,
        note: Option<&str>,
    ) -> ServiceResult<Uploaded> {
        self.check_quota(merchant, wasm.len()).await?;
        // Compiling is the costliest thing a merchant can ask for: a few at a time per
        // server; an upload that cannot get a turn in time is told to try again.
        let queue = self.limits.compile_queue;
        let permit = tokio::time::timeout(queue, self.compiles.clone().acquire_owned())
            .await
            .map_err(|_| {
                ServiceError::Busy(format!(
                    "the server is compiling other policies and none finished within {} ms; upload again shortly",
                    queue.as_millis()
                ))
            })?
            .map_err(ServiceError::internal)?;
        let runtime = self.runtime.clone();
        let (compiled, wasm) = tokio::task::spawn_blocking(move || {
            let compiled = runtime.compile(&wasm);
            drop(permit);
            (compiled, wasm)
        })
        .await?;
        let compiled =
            compiled.map_err(|rejection| ServiceError::InvalidPolicy(rejection.to_string()))?;
        let audit = |stored: &PolicyVersion| {
            let detail = json!({
                "version": stored.version, "sha256": stored.sha256,
                "sizeBytes": stored.size_bytes, "note": stored.note,
                "contract": stored.contract,
            });
            actor.did("policy.upload", detail)
        };
        let contract = compiled.contract().name();
        let stored = self
            .store
            .add_policy_within(
                merchant,
                &wasm,
                note,
                Some(contract),
                Some(self.quota()),
                audit,
            )
            .await?;
        let info = compiled.info().clone();
        self.active.remember(compiled);
        Ok(Uploaded {
            version: stored,
            imports: info.imports,
            uses_wasi: info.uses_wasi,
        })
    }

    /// The merchant's versions, newest first, each with its contract. A version stored
    /// before rabat kept the contract gets it now, read off its module without compiling
    /// (off the async threads), and kept; one whose module cannot be read stays `None`.
    pub async fn list(&self, merchant: &str) -> ServiceResult<Vec<PolicyVersion>> {
        let mut versions = self.store.list_policies(merchant).await?;
        for version in versions.iter_mut().filter(|v| v.contract.is_none()) {
            let wasm = self.store.policy_wasm(merchant, version.version).await?;
            let read =
                tokio::task::spawn_blocking(move || rabat_sandbox::contract::read_contract(&wasm))
                    .await?;
            match read {
                Ok(contract) => {
                    self.store
                        .set_policy_contract(merchant, version.version, contract.name())
                        .await?;
                    version.contract = Some(contract.name().to_owned());
                }
                Err(reason) => {
                    tracing::warn!(merchant, version = version.version, %reason, "the contract of a stored policy version cannot be read");
                }
            }
        }
        Ok(versions)
    }

    /// Makes `version` the one the tills run; answers the merchant's new generation. A
    /// version the merchant does not have is not found and changes nothing.
    pub async fn activate(
        &self,
        merchant: &str,
        actor: &Actor,
        version: i64,
    ) -> ServiceResult<i64> {
        let audit = |generation: &i64| {
            let detail = json!({"version": version, "generation": generation});
            actor.did("policy.activate", detail)
        };
        let generation = self.store.activate_policy(merchant, version, audit).await?;
        self.active.invalidate(merchant);
        tracing::info!(merchant, version, "policy activated");
        Ok(generation)
    }

    /// Replaces the merchant's policy config (a JSON object, validated by the caller's
    /// parser); answers the new generation.
    pub async fn set_config(
        &self,
        merchant: &str,
        actor: &Actor,
        config: &Value,
    ) -> ServiceResult<i64> {
        let audit = |generation: &i64| {
            let detail = json!({"generation": generation, "config": config});
            actor.did("policy.config", detail)
        };
        let generation = self
            .store
            .put_policy_config(merchant, config, audit)
            .await?;
        self.active.invalidate(merchant);
        Ok(generation)
    }
}
