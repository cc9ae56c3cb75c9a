//! POS tokens checked from memory: endpoint 1 and 2 run on every till request, and a
//! database round trip per request to resolve the token was most of their cost besides
//! the policy. A token found valid is remembered for at most [`TTL`]; a revocation or a
//! merchant being disabled through this process forgets its merchant's tokens at once;
//! on PostgreSQL every other replica hears of it through the change listener and forgets
//! them too, and one that missed the notification reads the database again within
//! [`TTL`]. Unknown tokens are never remembered, so a new token works at once and a flood
//! of bad tokens cannot grow the cache.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use rabat_store::credentials::TokenHash;
use rabat_store::{Merchant, Store};

use super::ServiceResult;

/// How long a token found valid is trusted without asking the database again: the bound
/// on how late another replica sees a revocation.
pub const TTL: Duration = Duration::from_secs(1);

/// The most tokens remembered; past it the cache starts over.
const MAX_TOKENS: usize = 100_000;

#[derive(Debug)]
pub struct PosTokens {
    store: Store,
    ttl: Duration,
    known: Mutex<Cache>,
}

#[derive(Debug, Default)]
struct Cache {
    tokens: HashMap<TokenHash, Known>,
    /// Bumped by every [`PosTokens::forget`]: a database read that started before a
    /// revocation must not put the revoked token back when it ends after it.
    forgotten: u64,
}

#[derive(Debug, Clone)]
struct Known {
    merchant: Merchant,
    checked: Instant,
}

impl PosTokens {
    pub fn new(store: Store) -> Self {
        PosTokens::with_ttl(store, TTL)
    }

    /// With another bound on how long a valid token is trusted (zero: always ask).
    pub fn with_ttl(store: Store, ttl: Duration) -> Self {
        PosTokens {
            store,
            ttl,
            known: Mutex::new(Cache::default()),
        }
    }

    /// The merchant owning this unrevoked POS token (disabled or not: the caller decides),
    /// from memory when it was checked within the TTL.
    pub async fn merchant(&self, token: &str) -> ServiceResult<Option<Merchant>> {
        let hash = TokenHash::of(token);
        let forgotten = {
            let cache = self.known.lock().unwrap_or_else(|e| e.into_inner());
            let known = cache.tokens.get(&hash);
            if let Some(known) = known.filter(|known| known.checked.elapsed() < self.ttl) {
                return Ok(Some(known.merchant.clone()));
            }
            cache.forgotten
        };
        let merchant = self.store.merchant_by_pos_token(&hash).await?;
        if let Some(merchant) = &merchant {
            let mut cache = self.known.lock().unwrap_or_else(|e| e.into_inner());
            if cache.forgotten != forgotten {
                return Ok(Some(merchant.clone()));
            }
            if cache.tokens.len() >= MAX_TOKENS {
                cache.tokens.clear();
            }
            cache.tokens.insert(
                hash,
                Known {
                    merchant: merchant.clone(),
                    checked: Instant::now(),
                },
            );
        }
        Ok(merchant)
    }

    /// Forgets every remembered token of `merchant` (after a revocation, or the merchant
    /// being disabled or enabled): its next request asks the database.
    pub fn forget(&self, merchant: &str) {
        let mut cache = self.known.lock().unwrap_or_else(|e| e.into_inner());
        cache.forgotten = cache.forgotten.wrapping_add(1);
        cache
            .tokens
            .retain(|_, known| known.merchant.id != merchant);
    }

    /// Forgets every remembered token (notifications may have been missed).
    pub fn forget_all(&self) {
        let mut cache = self.known.lock().unwrap_or_else(|e| e.into_inner());
        cache.forgotten = cache.forgotten.wrapping_add(1);
        cache.tokens.clear();
    }
}
