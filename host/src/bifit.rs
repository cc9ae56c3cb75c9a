//! BIFIT Kassa, a pull POS: given an online order id, rabat fetches the order from BIFIT's
//! CASHDESK API with the merchant's OAuth2 token, maps it to the canonical order and runs
//! the same policy, cards and ledger as for Papaya. See the README's "BIFIT Kassa" section.
//!
//! - [`order`]: the documented online order, parsed exactly, and its mapping.
//! - [`client`]: HTTP with timeouts, retries and the OAuth2 refresh.
//! - [`connector`]: a merchant's settings (tokens sealed at rest) and a fetch that
//!   refreshes the token once on a 401.
//! - [`follower`]: the background poller that takes tracked orders to a final status.

pub mod client;
pub mod connector;
pub mod egress;
mod error;
pub mod follower;
/// BIFIT's online order and its mapping (pure: in the domain crate).
pub use rabat_domain::bifit as order;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use rabat_store::Store;
use serde::Deserialize;

use crate::secrets::SecretsKey;

pub use connector::{CardLookup, Connector};
pub use error::BifitError;
pub use follower::{Follower, FollowerCounters};
pub use order::{Fetched, Finality, OnlineOrder, OrderStatus};

/// BIFIT's production API.
pub const DEFAULT_BASE_URL: &str = "https://kassa.bifit.com";

/// Ledger order ids of BIFIT orders are `bifit:<id>`, so they never collide with another
/// POS's order ids of the same merchant.
pub fn ledger_order_id(id: i64) -> String {
    format!("bifit:{id}")
}

/// The connector's operational settings (`[bifit]` in the TOML file, kebab-case keys).
/// Times are milliseconds.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub struct BifitSettings {
    /// Time to set up a connection to BIFIT.
    pub connect_timeout_ms: u64,
    /// Time for one whole request (connect, send, answer).
    pub request_timeout_ms: u64,
    /// Extra tries after a network error or a 5xx.
    pub retries: u32,
    /// Wait before the first retry; doubles each time.
    pub retry_backoff_ms: u64,
    /// How often the follower looks for due orders.
    pub poll_interval_ms: u64,
    /// Wait after the first poll of a tracked order that is not final; doubles per poll.
    pub backoff_initial_ms: u64,
    /// The longest wait between two polls of one order.
    pub backoff_max_ms: u64,
    /// Polls of one order before giving up (state `expired`).
    pub max_attempts: u32,
    /// Age of a tracked order (since first seen) after which it is given up.
    pub max_age_ms: u64,
    /// How long a claimed order stays with one follower (replica) before another may take
    /// it. A follower polls its batch only during the first half, so keep this well above
    /// twice one poll's worst case (`(retries + 1) × request-timeout-ms`, twice with a
    /// token refresh).
    pub lease_ms: u64,
    /// Orders claimed per follower round.
    pub batch: u32,
    /// Connectors may reach non-public addresses (loopback, private, link-local, CGNAT,
    /// multicast, IPv6 ULA…). Off: only a BIFIT inside the operator's own network needs it.
    pub allow_private_addresses: bool,
    /// Connectors may use plain `http://` URLs (tokens in clear text). Off.
    pub allow_http: bool,
}

impl Default for BifitSettings {
    fn default() -> Self {
        BifitSettings {
            connect_timeout_ms: 5_000,
            request_timeout_ms: 10_000,
            retries: 2,
            retry_backoff_ms: 250,
            poll_interval_ms: 5_000,
            backoff_initial_ms: 30_000,
            backoff_max_ms: 15 * 60_000,
            max_attempts: 200,
            max_age_ms: 7 * 24 * 3_600_000,
            lease_ms: 60_000,
            batch: 20,
            allow_private_addresses: false,
            allow_http: false,
        }
    }
}

/// What talking to BIFIT needs: the HTTP client, the counters, the store (connector
/// settings, refreshed tokens) and the server's secrets key (to open the tokens).
#[derive(Debug, Clone)]
pub struct Bifit {
    pub client: client::Client,
    pub counters: Arc<FollowerCounters>,
    pub settings: BifitSettings,
    pub store: Store,
    pub secrets_key: Option<SecretsKey>,
}

impl Bifit {
    pub fn new(
        settings: &BifitSettings,
        store: Store,
        secrets_key: Option<SecretsKey>,
    ) -> Result<Bifit, reqwest::Error> {
        Ok(Bifit {
            client: client::Client::new(settings)?,
            counters: Arc::new(FollowerCounters::default()),
            settings: settings.clone(),
            store,
            secrets_key,
        })
    }
}

impl BifitSettings {
    /// Where connectors may connect beyond public `https://` hosts.
    pub fn egress(&self) -> egress::Egress {
        egress::Egress {
            allow_private_addresses: self.allow_private_addresses,
            allow_http: self.allow_http,
        }
    }
}

pub(crate) fn bump(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}
