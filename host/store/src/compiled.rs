//! The compiled-policy cache: wasmtime's native artifact per (module hash, engine key),
//! shared by every process on the database. Only a cache: a missing, damaged or
//! incompatible row costs one compile, never a failed request. Each row carries a MAC
//! under a key only the application holds; the store hands it out with the bytes and the
//! application verifies it before anything is deserialized.

use sha2::{Digest, Sha256};

use super::{Result, Store, now_ms};

/// What the cache holds for a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CompiledArtifact {
    Missing,
    /// The row's bytes do not match the checksum written with them: never to be loaded.
    Damaged,
    /// Bytes exactly as [`Store::put_compiled`] received them, with the MAC written
    /// beside them (to be verified by the caller, who holds the key, before loading).
    Found {
        artifact: Vec<u8>,
        mac: String,
    },
}

impl Store {
    /// The artifact for a module compiled by an engine with this key. A damaged row is
    /// reported, never handed out (drop it with [`Store::delete_compiled`]).
    pub async fn compiled(&self, module_sha256: &str, engine: &str) -> Result<CompiledArtifact> {
        let row: Option<(Vec<u8>, String, String)> = with_pool!(self, pool => {
            sqlx::query_as(
                "SELECT artifact, artifact_sha256, artifact_mac FROM compiled_policies
                 WHERE module_sha256 = $1 AND engine = $2",
            )
            .bind(module_sha256)
            .bind(engine)
            .fetch_optional(pool)
            .await
        })?;
        Ok(match row {
            None => CompiledArtifact::Missing,
            Some((artifact, checksum, mac))
                if hex::encode(Sha256::digest(&artifact)) == checksum =>
            {
                CompiledArtifact::Found { artifact, mac }
            }
            Some(_) => CompiledArtifact::Damaged,
        })
    }

    /// Keeps an artifact with its MAC; a concurrent writer of the same key wins and this is a no-op
    /// (both compiled the same module with the same engine).
    pub async fn put_compiled(
        &self,
        module_sha256: &str,
        engine: &str,
        artifact: &[u8],
        mac: &str,
    ) -> Result<()> {
        let checksum = hex::encode(Sha256::digest(artifact));
        with_pool!(self, pool => {
            sqlx::query(
                "INSERT INTO compiled_policies
                     (module_sha256, engine, artifact, artifact_sha256, artifact_mac, created_at)
                 VALUES ($1, $2, $3, $4, $5, $6)
                 ON CONFLICT (module_sha256, engine) DO NOTHING",
            )
            .bind(module_sha256)
            .bind(engine)
            .bind(artifact)
            .bind(&checksum)
            .bind(mac)
            .bind(now_ms())
            .execute(pool)
            .await
            .map(drop)
        })?;
        Ok(())
    }

    /// Drops an artifact that failed to load, so the next load compiles and stores a
    /// good one.
    pub async fn delete_compiled(&self, module_sha256: &str, engine: &str) -> Result<()> {
        with_pool!(self, pool => {
            sqlx::query("DELETE FROM compiled_policies WHERE module_sha256 = $1 AND engine = $2")
                .bind(module_sha256)
                .bind(engine)
                .execute(pool)
                .await
                .map(drop)
        })?;
        Ok(())
    }
}
