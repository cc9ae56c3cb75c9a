//! The audit trail: who changed what for a merchant (uploads, activations, config, cards,
//! tokens). Append-only; listing is newest first.

use serde::Serialize;
use serde_json::Value;

use super::page::{self, Page};
use super::{Result, Store};

/// One action to record.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuditRecord {
    /// When, epoch ms.
    pub at: i64,
    /// Who: e.g. `api-key`, `operator`, `pos-token:pt_…`.
    pub actor: String,
    /// What, e.g. `policy.activate`.
    pub action: String,
    /// The particulars, as a JSON value.
    pub detail: Value,
}

impl AuditRecord {
    /// An action done now.
    pub fn now(actor: impl Into<String>, action: impl Into<String>, detail: Value) -> Self {
        AuditRecord {
            at: super::now_ms(),
            actor: actor.into(),
            action: action.into(),
            detail,
        }
    }
}

/// A change's audit row, built from what the change did (its ids, the values it found),
/// inside the change's transaction. Every store method that changes a merchant's
/// administration takes one, so the change and its row commit together or not at all.
pub trait AuditOf<T>: FnOnce(&T) -> AuditRecord + Send {}
impl<T, F: FnOnce(&T) -> AuditRecord + Send> AuditOf<T> for F {}

/// A recorded action, with its id.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuditEntry {
    pub id: i64,
    #[serde(flatten)]
    pub record: AuditRecord,
}

impl Store {
    /// Records an action for the merchant; returns its id.
    pub async fn append_audit(&self, merchant: &str, record: &AuditRecord) -> Result<i64> {
        let inserted: std::result::Result<(i64,), sqlx::Error> = with_pool!(self, pool => {
            sqlx::query_as(
                "INSERT INTO audit_log (merchant_id, at, actor, action, detail)
                 VALUES ($1, $2, $3, $4, $5) RETURNING id",
            )
            .bind(merchant)
            .bind(record.at)
            .bind(&record.actor)
            .bind(&record.action)
            .bind(record.detail.to_string())
            .fetch_one(pool)
            .await
        });
        let (id,) = inserted.map_err(|e| super::error::merchant_or_db(e, merchant))?;
        Ok(id)
    }

    /// The merchant's audit trail, newest first.
    pub async fn list_audit(
        &self,
        merchant: &str,
        limit: u32,
        cursor: Option<&str>,
    ) -> Result<Page<AuditEntry>> {
        let before = page::decode_id(cursor)?;
        let rows: Vec<(i64, i64, String, String, String)> = with_pool!(self, pool => {
            sqlx::query_as(
                "SELECT id, at, actor, action, detail FROM audit_log
                 WHERE merchant_id = $1 AND id < $2 ORDER BY id DESC LIMIT $3",
            )
            .bind(merchant)
            .bind(before)
            .bind(page::fetch_count(limit))
            .fetch_all(pool)
            .await
        })?;
        let entries = rows
            .into_iter()
            .map(|(id, at, actor, action, detail)| {
                // A row written before bodies were bounded in depth may nest beyond what
                // serde_json reads back: list it with its text rather than fail the page.
                let detail = serde_json::from_str(&detail).unwrap_or_else(
                    |error| serde_json::json!({"unreadable": error.to_string(), "text": detail}),
                );
                Ok(AuditEntry {
                    id,
                    record: AuditRecord {
                        at,
                        actor,
                        action,
                        detail,
                    },
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(page::finish(entries, limit, |e| e.id.to_string()))
    }
}
