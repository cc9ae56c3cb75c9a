//! Merchants and their credentials: one API key each (admin access) and any number of POS
//! tokens (till access), all stored as hashes. Lookups by hash are how requests are
//! authenticated; the hash found is compared again in constant time.

use serde::Serialize;

use super::credentials::{TokenHash, random_hex};
use super::engine::WritePool;
use super::error::merchant_or_db;
use super::{Entity, Result, Store, StoreError, now_ms};

/// A merchant (a shop, or a chain sharing one policy).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Merchant {
    pub id: String,
    pub name: String,
    pub created_at: i64,
}

/// A POS token's public face: its id (to revoke it by) and lifetime, never the secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PosToken {
    pub token_id: String,
    pub created_at: i64,
    pub revoked_at: Option<i64>,
}

type TokenRow = (String, i64, Option<i64>);

fn pos_token((token_id, created_at, revoked_at): TokenRow) -> PosToken {
    PosToken {
        token_id,
        created_at,
        revoked_at,
    }
}

type MerchantWithHash = (String, String, i64, String);

/// Keeps the row only if its stored hash really equals the presented one (the database
/// matched it by index; this re-check runs in constant time).
fn matching(row: Option<MerchantWithHash>, presented: &TokenHash) -> Option<Merchant> {
    let (id, name, created_at, stored) = row?;
    let stored = TokenHash::from_hex(&stored)?;
    stored.ct_eq(presented).then_some(Merchant {
        id,
        name,
        created_at,
    })
}

impl Store {
    /// Creates a merchant with its API key and a first POS token, all or nothing.
    /// An existing `id` is a [`StoreError::Conflict`].
    pub async fn create_merchant(
        &self,
        id: &str,
        name: &str,
        api_key: &TokenHash,
        pos_token: &TokenHash,
    ) -> Result<(Merchant, PosToken)> {
        if id.is_empty() {
            return Err(StoreError::Invalid("merchant id must not be empty".into()));
        }
        let now = now_ms();
        let token_id = format!("pt_{}", random_hex(8));
        with_pool!(self, pool => {
            let mut tx = pool.begin_write().await?;
            let inserted: Option<(String,)> = sqlx::query_as(
                "INSERT INTO merchants (id, name, api_key_hash, created_at) VALUES ($1, $2, $3, $4)
                 ON CONFLICT (id) DO NOTHING RETURNING id",
            )
            .bind(id)
            .bind(name)
            .bind(api_key.to_hex())
            .bind(now)
            .fetch_optional(&mut *tx)
            .await?;
            if inserted.is_none() {
                return Err(StoreError::Conflict {
                    entity: Entity::Merchant,
                    id: id.to_owned(),
                    reason: "already exists",
                });
            }
            sqlx::query("INSERT INTO policy_state (merchant_id) VALUES ($1)")
                .bind(id)
                .execute(&mut *tx)
                .await?;
            sqlx::query(
                "INSERT INTO pos_tokens (token_id, merchant_id, token_hash, created_at)
                 VALUES ($1, $2, $3, $4)",
            )
            .bind(&token_id)
            .bind(id)
            .bind(pos_token.to_hex())
            .bind(now)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
        });
        let merchant = Merchant {
            id: id.to_owned(),
            name: name.to_owned(),
            created_at: now,
        };
        let token = PosToken {
            token_id,
            created_at: now,
            revoked_at: None,
        };
        Ok((merchant, token))
    }

    /// The merchant with this id, if any.
    pub async fn merchant(&self, id: &str) -> Result<Option<Merchant>> {
        let row: Option<(String, String, i64)> = with_pool!(self, pool => {
            sqlx::query_as("SELECT id, name, created_at FROM merchants WHERE id = $1")
                .bind(id)
                .fetch_optional(pool)
                .await
        })?;
        Ok(row.map(|(id, name, created_at)| Merchant {
            id,
            name,
            created_at,
        }))
    }

    /// The merchant whose API key hashes to `hash`.
    pub async fn merchant_by_api_key(&self, hash: &TokenHash) -> Result<Option<Merchant>> {
        let row: Option<MerchantWithHash> = with_pool!(self, pool => {
            sqlx::query_as(
                "SELECT id, name, created_at, api_key_hash FROM merchants WHERE api_key_hash = $1",
            )
            .bind(hash.to_hex())
            .fetch_optional(pool)
            .await
        })?;
        Ok(matching(row, hash))
    }

    /// The merchant owning the unrevoked POS token that hashes to `hash`.
    pub async fn merchant_by_pos_token(&self, hash: &TokenHash) -> Result<Option<Merchant>> {
        let row: Option<MerchantWithHash> = with_pool!(self, pool => {
            sqlx::query_as(
                "SELECT m.id, m.name, m.created_at, t.token_hash
                 FROM pos_tokens t JOIN merchants m ON m.id = t.merchant_id
                 WHERE t.token_hash = $1 AND t.revoked_at IS NULL",
            )
            .bind(hash.to_hex())
            .fetch_optional(pool)
            .await
        })?;
        Ok(matching(row, hash))
    }

    /// Replaces the merchant's API key (the old one stops working at once).
    pub async fn set_api_key(&self, merchant: &str, hash: &TokenHash) -> Result<()> {
        let done = with_pool!(self, pool => {
            sqlx::query("UPDATE merchants SET api_key_hash = $2 WHERE id = $1")
                .bind(merchant)
                .bind(hash.to_hex())
                .execute(pool)
                .await
                .map(|done| done.rows_affected())
        })?;
        if done == 0 {
            return Err(StoreError::not_found(Entity::Merchant, merchant));
        }
        Ok(())
    }

    /// Adds a POS token for the merchant.
    pub async fn add_pos_token(&self, merchant: &str, hash: &TokenHash) -> Result<PosToken> {
        let token = PosToken {
            token_id: format!("pt_{}", random_hex(8)),
            created_at: now_ms(),
            revoked_at: None,
        };
        let inserted = with_pool!(self, pool => {
            sqlx::query(
                "INSERT INTO pos_tokens (token_id, merchant_id, token_hash, created_at)
                 VALUES ($1, $2, $3, $4)",
            )
            .bind(&token.token_id)
            .bind(merchant)
            .bind(hash.to_hex())
            .bind(token.created_at)
            .execute(pool)
            .await
            .map(|done| done.rows_affected())
        });
        inserted.map_err(|e| merchant_or_db(e, merchant))?;
        Ok(token)
    }

    /// Revokes one of the merchant's POS tokens (idempotent: the first revocation time
    /// stays). Another merchant's token id is [`StoreError::NotFound`].
    pub async fn revoke_pos_token(&self, merchant: &str, token_id: &str) -> Result<PosToken> {
        let row: Option<TokenRow> = with_pool!(self, pool => {
            sqlx::query_as(
                "UPDATE pos_tokens SET revoked_at = COALESCE(revoked_at, $3)
                 WHERE merchant_id = $1 AND token_id = $2
                 RETURNING token_id, created_at, revoked_at",
            )
            .bind(merchant)
            .bind(token_id)
            .bind(now_ms())
            .fetch_optional(pool)
            .await
        })?;
        row.map(pos_token)
            .ok_or_else(|| StoreError::not_found(Entity::PosToken, token_id))
    }

    /// The merchant's POS tokens, oldest first, revoked ones included.
    pub async fn pos_tokens(&self, merchant: &str) -> Result<Vec<PosToken>> {
        let rows: Vec<TokenRow> = with_pool!(self, pool => {
            sqlx::query_as(
                "SELECT token_id, created_at, revoked_at FROM pos_tokens
                 WHERE merchant_id = $1 ORDER BY created_at, token_id",
            )
            .bind(merchant)
            .fetch_all(pool)
            .await
        })?;
        Ok(rows.into_iter().map(pos_token).collect())
    }
}
