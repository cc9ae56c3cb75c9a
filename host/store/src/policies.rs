//! Policy modules: immutable numbered versions per merchant, one active pointer, and the
//! merchant's policy config. Activation (and rollback, which is activating an older
//! version) is a single UPDATE, so every replica sees the switch at once and whole.
//! Each activation or config change bumps the merchant's `generation`, which caches
//! compare to know they are stale. The active version and the config are the merchant's
//! default campaign's (see `campaigns.rs`): both changes write that campaign too.

use serde::Serialize;
use sha2::{Digest, Sha256};

use super::{AuditOf, Entity, Result, Store, StoreError, now_ms};

/// One uploaded version (without its bytes).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PolicyVersion {
    pub version: i64,
    /// Lower-case hex SHA-256 of the module.
    pub sha256: String,
    pub size_bytes: i64,
    pub created_at: i64,
    pub note: Option<String>,
    pub active: bool,
    /// The policy contract the module was built for, as `rabat check` prints it (e.g.
    /// `rabat:rules@0.2.0`); `null` only for a version stored before rabat kept it whose
    /// module could not be read again.
    #[schema(example = "rabat:rules@0.2.0")]
    pub contract: Option<String>,
}

/// The version to run for a merchant, with its module.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActivePolicy {
    pub version: i64,
    pub sha256: String,
    pub wasm: Vec<u8>,
    /// The merchant's generation when this was read.
    pub generation: i64,
}

/// Everything about a merchant's policy setup except module bytes: cheap to poll.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PolicyState {
    pub active_version: Option<i64>,
    pub generation: i64,
    /// The merchant's config as JSON text (an object; `{}` until set).
    pub config: String,
}

type VersionRow = (
    i64,
    String,
    i64,
    i64,
    Option<String>,
    Option<i64>,
    Option<String>,
);

/// What one merchant may store of policy modules (`max-policy-versions`,
/// `max-policy-bytes`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PolicyQuota {
    pub max_versions: u64,
    pub max_bytes: u64,
}

impl PolicyQuota {
    /// Whether a merchant storing `count` versions of `bytes` bytes together may store one
    /// more of `size` bytes; the refusal names the limit and its setting.
    pub fn check(&self, count: u64, bytes: u64, size: u64) -> std::result::Result<(), String> {
        if count >= self.max_versions {
            return Err(format!(
                "the merchant already stores {count} policy versions; the limit is {} (max-policy-versions)",
                self.max_versions
            ));
        }
        let after = bytes.saturating_add(size);
        if after > self.max_bytes {
            return Err(format!(
                "the merchant's policy modules would take {after} bytes; the limit is {} bytes for all versions together (max-policy-bytes)",
                self.max_bytes
            ));
        }
        Ok(())
    }
}

impl Store {
    /// Stores a new, inactive version and returns it; versions count up from 1 per
    /// merchant. The hash and size are computed here, so they always match the bytes.
    /// Its contract is unknown ([`Store::add_policy_within`] keeps it).
    pub async fn add_policy(
        &self,
        merchant: &str,
        wasm: &[u8],
        note: Option<&str>,
        audit: impl AuditOf<PolicyVersion>,
    ) -> Result<PolicyVersion> {
        self.add_policy_within(merchant, wasm, note, None, None, audit)
            .await
    }

    /// [`Store::add_policy`], keeping the contract the module was built for (what the
    /// compiled component says, e.g. `rabat:rules@0.2.0`), within a quota: `quota` is
    /// checked inside the write's transaction, after the merchant's counter row is locked
    /// (every upload of the merchant, on any replica, queues behind that lock), so
    /// concurrent uploads can never store more than it allows: the ones past it are
    /// [`StoreError::QuotaExceeded`] and store nothing.
    pub async fn add_policy_within(
        &self,
        merchant: &str,
        wasm: &[u8],
        note: Option<&str>,
        contract: Option<&str>,
        quota: Option<PolicyQuota>,
        audit: impl AuditOf<PolicyVersion>,
    ) -> Result<PolicyVersion> {
        let sha256 = hex::encode(Sha256::digest(wasm));
        let size_bytes = i64::try_from(wasm.len())
            .map_err(|_| StoreError::Invalid("policy module is too large".into()))?;
        let created_at = now_ms();
        let stored = with_pool!(self, pool => {
            let mut tx = self.turn.begin(pool).await?;
            // Taking the number from a counter row serialises concurrent uploads on that
            // row's lock; MAX(version)+1 would let two uploads pick the same number.
            let version: Option<(i64,)> = sqlx::query_as(
                "UPDATE policy_state SET next_version = next_version + 1
                 WHERE merchant_id = $1 RETURNING next_version - 1",
            )
            .bind(merchant)
            .fetch_optional(&mut *tx)
            .await?;
            let Some((version,)) = version else {
                return Err(StoreError::not_found(Entity::Merchant, merchant));
            };
            if let Some(quota) = quota {
                let (count, bytes): (i64, i64) = sqlx::query_as(
                    "SELECT COUNT(*), CAST(COALESCE(SUM(size_bytes), 0) AS BIGINT)
                     FROM policies WHERE merchant_id = $1",
                )
                .bind(merchant)
                .fetch_one(&mut *tx)
                .await?;
                let as_u64 = |n: i64| u64::try_from(n).unwrap_or(0);
                quota
                    .check(as_u64(count), as_u64(bytes), as_u64(size_bytes))
                    .map_err(StoreError::QuotaExceeded)?;
            }
            sqlx::query(
                "INSERT INTO policies
                    (merchant_id, version, sha256, size_bytes, wasm, created_at, note, contract)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            )
            .bind(merchant)
            .bind(version)
            .bind(&sha256)
            .bind(size_bytes)
            .bind(wasm)
            .bind(created_at)
            .bind(note)
            .bind(contract)
            .execute(&mut *tx)
            .await?;
            let stored = PolicyVersion {
                version,
                sha256: sha256.clone(),
                size_bytes,
                created_at,
                note: note.map(str::to_owned),
                active: false,
                contract: contract.map(str::to_owned),
            };
            insert_audit!(tx, merchant, &audit(&stored))?;
            tx.commit().await?;
            stored
        });
        Ok(stored)
    }

    /// The merchant's versions, newest first.
    pub async fn list_policies(&self, merchant: &str) -> Result<Vec<PolicyVersion>> {
        let rows: Vec<VersionRow> = with_pool!(self, pool => {
            sqlx::query_as(
                "SELECT p.version, p.sha256, p.size_bytes, p.created_at, p.note, s.active_version,
                        p.contract
                 FROM policies p JOIN policy_state s ON s.merchant_id = p.merchant_id
                 WHERE p.merchant_id = $1 ORDER BY p.version DESC",
            )
            .bind(merchant)
            .fetch_all(pool)
            .await
        })?;
        Ok(rows
            .into_iter()
            .map(
                |(version, sha256, size_bytes, created_at, note, active, contract)| PolicyVersion {
                    version,
                    sha256,
                    size_bytes,
                    created_at,
                    note,
                    active: active == Some(version),
                    contract,
                },
            )
            .collect())
    }

    /// Keeps the contract of a version stored before rabat kept it (a version whose
    /// contract is known keeps it: the module never changes).
    pub async fn set_policy_contract(
        &self,
        merchant: &str,
        version: i64,
        contract: &str,
    ) -> Result<()> {
        with_pool!(self, pool => {
            let mut tx = self.turn.begin(pool).await?;
            sqlx::query(
                "UPDATE policies SET contract = $3
                 WHERE merchant_id = $1 AND version = $2 AND contract IS NULL",
            )
            .bind(merchant)
            .bind(version)
            .bind(contract)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
        });
        Ok(())
    }

    /// The module bytes of one version.
    pub async fn policy_wasm(&self, merchant: &str, version: i64) -> Result<Vec<u8>> {
        let row: Option<(Vec<u8>,)> = with_pool!(self, pool => {
            sqlx::query_as("SELECT wasm FROM policies WHERE merchant_id = $1 AND version = $2")
                .bind(merchant)
                .bind(version)
                .fetch_optional(pool)
                .await
        })?;
        row.map(|(wasm,)| wasm)
            .ok_or_else(|| StoreError::not_found(Entity::Policy, version.to_string()))
    }

    /// Makes `version` the active one and returns the new generation. A version the
    /// merchant does not have is [`StoreError::NotFound`] and changes nothing.
    pub async fn activate_policy(
        &self,
        merchant: &str,
        version: i64,
        audit: impl AuditOf<i64>,
    ) -> Result<i64> {
        with_pool!(self, pool => {
            let mut tx = self.turn.begin(pool).await?;
            let row: Option<(i64,)> = sqlx::query_as(
                "UPDATE policy_state SET active_version = $2, generation = generation + 1
                 WHERE merchant_id = $1
                   AND EXISTS (SELECT 1 FROM policies WHERE merchant_id = $1 AND version = $2)
                 RETURNING generation",
            )
            .bind(merchant)
            .bind(version)
            .fetch_optional(&mut *tx)
            .await?;
            let Some((generation,)) = row else {
                return Err(StoreError::not_found(Entity::Policy, version.to_string()));
            };
            activate_default_campaign!(tx, merchant, version, now_ms())?;
            insert_audit!(tx, merchant, &audit(&generation))?;
            tx.commit().await?;
            Ok(generation)
        })
    }

    /// The active version with its module, or `None` if none was ever activated.
    pub async fn active_policy(&self, merchant: &str) -> Result<Option<ActivePolicy>> {
        let row: Option<(i64, String, Vec<u8>, i64)> = with_pool!(self, pool => {
            sqlx::query_as(
                "SELECT p.version, p.sha256, p.wasm, s.generation
                 FROM policy_state s
                 JOIN policies p ON p.merchant_id = s.merchant_id AND p.version = s.active_version
                 WHERE s.merchant_id = $1",
            )
            .bind(merchant)
            .fetch_optional(pool)
            .await
        })?;
        Ok(row.map(|(version, sha256, wasm, generation)| ActivePolicy {
            version,
            sha256,
            wasm,
            generation,
        }))
    }

    /// Active version, generation and config in one cheap read.
    pub async fn policy_state(&self, merchant: &str) -> Result<PolicyState> {
        let row: Option<(Option<i64>, i64, String)> = with_pool!(self, pool => {
            sqlx::query_as(
                "SELECT active_version, generation, config FROM policy_state WHERE merchant_id = $1",
            )
            .bind(merchant)
            .fetch_optional(pool)
            .await
        })?;
        let (active_version, generation, config) =
            row.ok_or_else(|| StoreError::not_found(Entity::Merchant, merchant))?;
        Ok(PolicyState {
            active_version,
            generation,
            config,
        })
    }

    /// The merchant's policy config as JSON text (`{}` until set).
    pub async fn policy_config(&self, merchant: &str) -> Result<String> {
        Ok(self.policy_state(merchant).await?.config)
    }

    /// Replaces the merchant's policy config (must be a JSON object) and returns the new
    /// generation.
    pub async fn put_policy_config(
        &self,
        merchant: &str,
        config: &serde_json::Value,
        audit: impl AuditOf<i64>,
    ) -> Result<i64> {
        if !config.is_object() {
            return Err(StoreError::Invalid(
                "policy config must be a JSON object".into(),
            ));
        }
        let text = config.to_string();
        with_pool!(self, pool => {
            let mut tx = self.turn.begin(pool).await?;
            let row: Option<(i64,)> = sqlx::query_as(
                "UPDATE policy_state SET config = $2, generation = generation + 1
                 WHERE merchant_id = $1 RETURNING generation",
            )
            .bind(merchant)
            .bind(&text)
            .fetch_optional(&mut *tx)
            .await?;
            let Some((generation,)) = row else {
                return Err(StoreError::not_found(Entity::Merchant, merchant));
            };
            configure_default_campaign!(tx, merchant, &text, now_ms())?;
            insert_audit!(tx, merchant, &audit(&generation))?;
            tx.commit().await?;
            Ok(generation)
        })
    }
}
