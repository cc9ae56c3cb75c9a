//! Change notifications between replicas (PostgreSQL only): a trigger on `policy_state`
//! (migration 0004) sends `schema:merchant_id` on every generation change, and each
//! replica listens, so a cached policy or config is dropped the moment it changes
//! anywhere. On SQLite there is no listener; the periodic generation check is the path.
//!
//! A second channel carries credential changes (a POS token revoked, a merchant disabled
//! or enabled), sent after the change commits, so every replica forgets the tokens it
//! remembers for that merchant at once rather than when they expire.

use sqlx::postgres::PgListener;

use super::engine::Pool;
use super::{Result, Store};

const CHANNEL: &str = "rabat_policy_changed";
const CREDENTIALS_CHANNEL: &str = "rabat_credentials_changed";

/// What a listener heard.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// This merchant's active policy or config changed.
    Merchant(String),
    /// This merchant's POS tokens or disabled state changed.
    Credentials(String),
    /// The connection dropped and was re-established: notifications may have been
    /// missed, so everything cached should be treated as stale.
    Reconnected,
}

/// A LISTEN connection for this store's schema.
#[derive(Debug)]
pub struct ChangeListener {
    listener: PgListener,
    prefix: String,
}

impl Store {
    /// Starts listening for policy changes; `None` on SQLite, which has no notifications.
    pub async fn listen_policy_changes(&self) -> Result<Option<ChangeListener>> {
        let Pool::Postgres(pool) = &self.pool else {
            return Ok(None);
        };
        let (schema,): (String,) = sqlx::query_as("SELECT current_schema()")
            .fetch_one(pool)
            .await?;
        let mut listener = PgListener::connect_with(pool).await?;
        listener.listen_all([CHANNEL, CREDENTIALS_CHANNEL]).await?;
        Ok(Some(ChangeListener {
            listener,
            prefix: format!("{schema}:"),
        }))
    }
}

impl ChangeListener {
    /// The next change to this schema. An error means the listener is done (the pool
    /// was closed, or the database cannot be reached to re-listen).
    pub async fn next(&mut self) -> Result<Change> {
        loop {
            match self.listener.try_recv().await? {
                None => return Ok(Change::Reconnected),
                Some(notification) => {
                    if let Some(merchant) = notification.payload().strip_prefix(&self.prefix) {
                        let merchant = merchant.to_owned();
                        return Ok(if notification.channel() == CREDENTIALS_CHANNEL {
                            Change::Credentials(merchant)
                        } else {
                            Change::Merchant(merchant)
                        });
                    }
                }
            }
        }
    }
}

impl Store {
    /// PostgreSQL: tells every replica's listener that `merchant`'s credentials changed
    /// (called after the change committed). Best effort: a replica that misses it still
    /// asks the database again once its remembered tokens expire.
    pub(crate) async fn notify_credentials(&self, merchant: &str) {
        let Pool::Postgres(pool) = &self.pool else {
            return;
        };
        let sent = sqlx::query("SELECT pg_notify($1, current_schema() || ':' || $2)")
            .bind(CREDENTIALS_CHANNEL)
            .bind(merchant)
            .execute(pool)
            .await;
        if let Err(error) = sent {
            tracing::warn!(%error, merchant, "could not notify the replicas of a credential change");
        }
    }
}
