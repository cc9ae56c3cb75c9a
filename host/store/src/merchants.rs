//! Merchants and their credentials: one API key each (admin access) and any number of POS
//! tokens (till access), all stored as hashes. Lookups by hash are how requests are
//! authenticated; the hash found is compared again in constant time.

use serde::Serialize;

use super::credentials::{TokenHash, random_hex};
use super::error::merchant_or_db;
use super::{AuditOf, Entity, Result, Store, StoreError, now_ms};

/// A merchant (a shop, or a chain sharing one policy).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Merchant {
    pub id: String,
    pub name: String,
    pub created_at: i64,
    /// When the operator disabled it (its API key and POS tokens are refused), if it is.
    pub disabled_at: Option<i64>,
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

type MerchantWithHash = (String, String, i64, Option<i64>, String);

/// Keeps the row only if its stored hash really equals the presented one (the database
/// matched it by index; this re-check runs in constant time).
fn matching(row: Option<MerchantWithHash>, presented: &TokenHash) -> Option<Merchant> {
    let (id, name, created_at, disabled_at, stored) = row?;
    let stored = TokenHash::from_hex(&stored)?;
    stored.ct_eq(presented).then_some(Merchant {
        id,
        name,
        created_at,
        disabled_at,
    })
}

const MERCHANT_COLUMNS: &str = "id, name, created_at, disabled_at";

impl Store {
    /// Creates a merchant with its API key and a first POS token, all or nothing.
    /// An existing `id` is a [`StoreError::Conflict`].
    pub async fn create_merchant(
        &self,
        id: &str,
        name: &str,
        api_key: &TokenHash,
        pos_token: &TokenHash,
        audit: impl AuditOf<(Merchant, PosToken)>,
    ) -> Result<(Merchant, PosToken)> {
        if id.is_empty() {
            return Err(StoreError::Invalid("merchant id must not be empty".into()));
        }
        let now = now_ms();
        let token_id = format!("pt_{}", random_hex(8));
        with_pool!(self, pool => {
            let mut tx = self.turn.begin(pool).await?;
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
            let created = (
                Merchant {
                    id: id.to_owned(),
                    name: name.to_owned(),
                    created_at: now,
                    disabled_at: None,
                },
                PosToken {
                    token_id: token_id.clone(),
                    created_at: now,
                    revoked_at: None,
                },
            );
            insert_audit!(tx, id, &audit(&created))?;
            tx.commit().await?;
            Ok(created)
        })
    }

    /// The merchant with this id, if any.
    pub async fn merchant(&self, id: &str) -> Result<Option<Merchant>> {
        let sql = format!("SELECT {MERCHANT_COLUMNS} FROM merchants WHERE id = $1");
        let row: Option<(String, String, i64, Option<i64>)> = with_pool!(self, pool => {
            sqlx::query_as(sqlx::AssertSqlSafe(sql))
                .bind(id)
                .fetch_optional(pool)
                .await
        })?;
        Ok(row.map(|(id, name, created_at, disabled_at)| Merchant {
            id,
            name,
            created_at,
            disabled_at,
        }))
    }

    /// The merchant whose API key hashes to `hash`.
    pub async fn merchant_by_api_key(&self, hash: &TokenHash) -> Result<Option<Merchant>> {
        let row: Option<MerchantWithHash> = with_pool!(self, pool => {
            sqlx::query_as(
                "SELECT id, name, created_at, disabled_at, api_key_hash
                 FROM merchants WHERE api_key_hash = $1",
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
                "SELECT m.id, m.name, m.created_at, m.disabled_at, t.token_hash
                 FROM pos_tokens t JOIN merchants m ON m.id = t.merchant_id
                 WHERE t.token_hash = $1 AND t.revoked_at IS NULL",
            )
            .bind(hash.to_hex())
            .fetch_optional(pool)
            .await
        })?;
        Ok(matching(row, hash))
    }

    /// Replaces the merchant's API key (the old one stops working at once, on every
    /// replica: keys are looked up on every request), with its audit row.
    pub async fn set_api_key(
        &self,
        merchant: &str,
        hash: &TokenHash,
        audit: impl AuditOf<()>,
    ) -> Result<()> {
        with_pool!(self, pool => {
            let mut tx = self.turn.begin(pool).await?;
            let done = sqlx::query("UPDATE merchants SET api_key_hash = $2 WHERE id = $1")
                .bind(merchant)
                .bind(hash.to_hex())
                .execute(&mut *tx)
                .await?
                .rows_affected();
            if done == 0 {
                return Err(StoreError::not_found(Entity::Merchant, merchant));
            }
            insert_audit!(tx, merchant, &audit(&()))?;
            tx.commit().await?;
        });
        Ok(())
    }

    /// Disables the merchant (its API key and POS tokens are refused until it is enabled
    /// again) or enables it. Setting the state it already has changes nothing and writes
    /// no audit row. Returns the merchant as it is now.
    pub async fn set_merchant_disabled(
        &self,
        merchant: &str,
        disabled: bool,
        audit: impl AuditOf<Merchant>,
    ) -> Result<Merchant> {
        let sql = format!(
            "UPDATE merchants SET disabled_at = CASE WHEN $2 THEN $3 ELSE NULL END
             WHERE id = $1 AND (disabled_at IS NULL) = $2
             RETURNING {MERCHANT_COLUMNS}"
        );
        let now = now_ms();
        let changed = with_pool!(self, pool => {
            let mut tx = self.turn.begin(pool).await?;
            let row: Option<(String, String, i64, Option<i64>)> =
                sqlx::query_as(sqlx::AssertSqlSafe(sql))
                    .bind(merchant)
                    .bind(disabled)
                    .bind(now)
                    .fetch_optional(&mut *tx)
                    .await?;
            let changed = row.map(|(id, name, created_at, disabled_at)| Merchant {
                id,
                name,
                created_at,
                disabled_at,
            });
            if let Some(changed) = &changed {
                insert_audit!(tx, merchant, &audit(changed))?;
            }
            tx.commit().await?;
            changed
        });
        match changed {
            Some(changed) => {
                self.notify_credentials(merchant).await;
                Ok(changed)
            }
            None => self
                .merchant(merchant)
                .await?
                .ok_or_else(|| StoreError::not_found(Entity::Merchant, merchant)),
        }
    }

    /// Adds a POS token for the merchant.
    pub async fn add_pos_token(
        &self,
        merchant: &str,
        hash: &TokenHash,
        audit: impl AuditOf<PosToken>,
    ) -> Result<PosToken> {
        let token = PosToken {
            token_id: format!("pt_{}", random_hex(8)),
            created_at: now_ms(),
            revoked_at: None,
        };
        with_pool!(self, pool => {
            let mut tx = self.turn.begin(pool).await?;
            sqlx::query(
                "INSERT INTO pos_tokens (token_id, merchant_id, token_hash, created_at)
                 VALUES ($1, $2, $3, $4)",
            )
            .bind(&token.token_id)
            .bind(merchant)
            .bind(hash.to_hex())
            .bind(token.created_at)
            .execute(&mut *tx)
            .await
            .map_err(|e| merchant_or_db(e, merchant))?;
            insert_audit!(tx, merchant, &audit(&token))?;
            tx.commit().await?;
        });
        Ok(token)
    }

    /// Revokes one of the merchant's POS tokens (idempotent: the first revocation time
    /// stays, and only the first writes an audit row). Another merchant's token id is
    /// [`StoreError::NotFound`].
    pub async fn revoke_pos_token(
        &self,
        merchant: &str,
        token_id: &str,
        audit: impl AuditOf<PosToken>,
    ) -> Result<PosToken> {
        let mut revoked_now = false;
        let row: Option<TokenRow> = with_pool!(self, pool => {
            let mut tx = self.turn.begin(pool).await?;
            let revoked: Option<TokenRow> = sqlx::query_as(
                "UPDATE pos_tokens SET revoked_at = $3
                 WHERE merchant_id = $1 AND token_id = $2 AND revoked_at IS NULL
                 RETURNING token_id, created_at, revoked_at",
            )
            .bind(merchant)
            .bind(token_id)
            .bind(now_ms())
            .fetch_optional(&mut *tx)
            .await?;
            let row = match revoked {
                Some(row) => {
                    insert_audit!(tx, merchant, &audit(&pos_token(row.clone())))?;
                    revoked_now = true;
                    Some(row)
                }
                None => {
                    sqlx::query_as(
                        "SELECT token_id, created_at, revoked_at FROM pos_tokens
                         WHERE merchant_id = $1 AND token_id = $2",
                    )
                    .bind(merchant)
                    .bind(token_id)
                    .fetch_optional(&mut *tx)
                    .await?
                }
            };
            tx.commit().await?;
            row
        });
        if revoked_now {
            self.notify_credentials(merchant).await;
        }
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
