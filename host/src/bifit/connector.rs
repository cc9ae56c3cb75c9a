//! A merchant's BIFIT connector at work: its settings with the secrets opened, and the
//! fetch of an online order that, on a 401, refreshes the token once (when a refresh
//! token is configured), stores the new tokens and tries again.

use std::fmt;

use serde::Serialize;
use serde_json::json;

use super::client::{OrderAnswer, RefreshRequest};
use super::order::{self, Fetched};
use super::{Bifit, BifitError, bump};
use crate::secrets::{SecretsError, SecretsKey};
use crate::store::{AuditRecord, BifitConnectorRow};

/// How a BIFIT order finds its loyalty card.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum CardLookup {
    /// The card whose `customerId` is the order's `clientId` (a `cardId` sent by the
    /// caller still wins).
    #[serde(rename = "clientId")]
    ClientId,
    /// Only the `cardId` the caller sends.
    #[serde(rename = "caller")]
    Caller,
}

impl CardLookup {
    pub fn as_str(self) -> &'static str {
        match self {
            CardLookup::ClientId => "clientId",
            CardLookup::Caller => "caller",
        }
    }

    pub fn parse(text: &str) -> Option<CardLookup> {
        match text {
            "clientId" => Some(CardLookup::ClientId),
            "caller" => Some(CardLookup::Caller),
            _ => None,
        }
    }
}

/// What a sealed secret is bound to, so it opens only for its merchant and field.
pub fn seal_context(merchant: &str, field: &str) -> String {
    format!("bifit:{merchant}:{field}")
}

/// A merchant's connector, ready to call BIFIT. `Debug` shows no secret.
#[derive(Clone)]
pub struct Connector {
    pub merchant: String,
    pub base_url: String,
    pub card_lookup: CardLookup,
    access_token: String,
    access_sealed: String,
    refresh: Option<Refresh>,
}

#[derive(Clone)]
struct Refresh {
    token_url: String,
    refresh_token: String,
    client_id: Option<String>,
    client_secret: Option<String>,
}

impl fmt::Debug for Connector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Connector")
            .field("merchant", &self.merchant)
            .field("base_url", &self.base_url)
            .field("card_lookup", &self.card_lookup)
            .field("can_refresh", &self.refresh.is_some())
            .finish_non_exhaustive()
    }
}

fn key(bifit: &Bifit) -> Result<&SecretsKey, SecretsError> {
    bifit.secrets_key.as_ref().ok_or(SecretsError::NoKey)
}

impl Connector {
    /// The merchant's connector; [`BifitError::NotConfigured`] when there is none.
    pub async fn load(bifit: &Bifit, merchant: &str) -> Result<Connector, BifitError> {
        let row = bifit
            .store
            .bifit_connector(merchant)
            .await?
            .ok_or(BifitError::NotConfigured)?;
        Connector::open(bifit, merchant, row)
    }

    fn open(
        bifit: &Bifit,
        merchant: &str,
        row: BifitConnectorRow,
    ) -> Result<Connector, BifitError> {
        let key = key(bifit)?;
        let open = |field: &str, sealed: &str| key.open(&seal_context(merchant, field), sealed);
        let access_token = open("access_token", &row.access_token_sealed)?;
        let refresh = match (&row.token_url, &row.refresh_token_sealed) {
            (Some(token_url), Some(sealed)) => Some(Refresh {
                token_url: token_url.clone(),
                refresh_token: open("refresh_token", sealed)?,
                client_id: row.oauth_client_id.clone(),
                client_secret: row
                    .oauth_client_secret_sealed
                    .as_deref()
                    .map(|sealed| open("oauth_client_secret", sealed))
                    .transpose()?,
            }),
            _ => None,
        };
        let card_lookup = CardLookup::parse(&row.card_lookup).ok_or_else(|| {
            BifitError::Corrupt(format!(
                "stored card lookup '{}' is not known",
                row.card_lookup
            ))
        })?;
        Ok(Connector {
            merchant: merchant.to_owned(),
            base_url: row.base_url,
            card_lookup,
            access_token,
            access_sealed: row.access_token_sealed,
            refresh,
        })
    }

    /// Fetches and parses online order `id`.
    pub async fn fetch(&mut self, bifit: &Bifit, id: i64) -> Result<Fetched, BifitError> {
        let client = &bifit.client;
        let answer = client
            .get_order(&self.base_url, &self.access_token, id)
            .await?;
        let answer = match answer {
            OrderAnswer::Unauthorized if self.refresh.is_some() => {
                self.refresh(bifit).await?;
                match client
                    .get_order(&self.base_url, &self.access_token, id)
                    .await?
                {
                    OrderAnswer::Unauthorized => {
                        return Err(BifitError::Unauthorized { refreshed: true });
                    }
                    other => other,
                }
            }
            other => other,
        };
        match answer {
            OrderAnswer::Found(body) => Ok(order::parse(&body, id)?),
            OrderAnswer::NotFound => Err(BifitError::OrderNotFound { id }),
            OrderAnswer::Unauthorized => Err(BifitError::Unauthorized { refreshed: false }),
        }
    }

    /// Gets a new access token. Another replica may have refreshed since this connector
    /// was loaded (refresh tokens are often single-use): then its tokens are taken instead.
    async fn refresh(&mut self, bifit: &Bifit) -> Result<(), BifitError> {
        let store = &bifit.store;
        if let Some(row) = store.bifit_connector(&self.merchant).await?
            && row.access_token_sealed != self.access_sealed
        {
            *self = Connector::open(bifit, &self.merchant, row)?;
            return Ok(());
        }
        let Some(refresh) = &self.refresh else {
            return Err(BifitError::Unauthorized { refreshed: false });
        };
        bump(&bifit.counters.refreshes);
        let tokens = bifit
            .client
            .refresh(&RefreshRequest {
                token_url: &refresh.token_url,
                refresh_token: &refresh.refresh_token,
                client_id: refresh.client_id.as_deref(),
                client_secret: refresh.client_secret.as_deref(),
            })
            .await?;
        let key = key(bifit)?;
        let access_sealed = key.seal(
            &seal_context(&self.merchant, "access_token"),
            &tokens.access_token,
        )?;
        let refresh_sealed = tokens
            .refresh_token
            .as_deref()
            .map(|token| key.seal(&seal_context(&self.merchant, "refresh_token"), token))
            .transpose()?;
        let stored = store
            .set_bifit_tokens(
                &self.merchant,
                &self.access_sealed,
                &access_sealed,
                refresh_sealed.as_deref(),
            )
            .await?;
        if stored {
            let record = AuditRecord {
                at: rabat_domain::clock::now_ms(),
                actor: "system:bifit".into(),
                action: "connector.bifit.tokens-refreshed".into(),
                detail: json!({"refreshTokenRotated": tokens.refresh_token.is_some()}),
            };
            if let Err(error) = store.append_audit(&self.merchant, &record).await {
                tracing::error!(%error, merchant = self.merchant, "the audit record could not be written");
            }
        } else {
            tracing::info!(
                merchant = self.merchant,
                "another replica refreshed the BIFIT token first"
            );
        }
        self.access_token = tokens.access_token;
        self.access_sealed = access_sealed;
        if let (Some(refresh), Some(token)) = (&mut self.refresh, tokens.refresh_token) {
            refresh.refresh_token = token;
        }
        Ok(())
    }
}
