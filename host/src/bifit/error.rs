//! What can go wrong talking to BIFIT. Messages name what failed and never carry a token.

use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum BifitError {
    /// The merchant has not set up the connector.
    #[error(
        "the BIFIT connector is not configured for this merchant: PUT /admin/v1/merchants/{{m}}/connectors/bifit first"
    )]
    NotConfigured,
    /// BIFIT answered 404 for the order.
    #[error("BIFIT has no online order {id} (HTTP 404 from BIFIT)")]
    OrderNotFound { id: i64 },
    /// BIFIT refused the access token.
    #[error("BIFIT refused the access token (HTTP 401){}", if *.refreshed {
        " even after a token refresh: set new tokens on the connector"
    } else {
        "; no refresh token is configured: set a new access token on the connector"
    })]
    Unauthorized { refreshed: bool },
    /// The OAuth2 token refresh failed.
    #[error("the BIFIT token refresh at {url} failed: {problem}")]
    Refresh { url: String, problem: String },
    /// No answer in time, after every retry.
    #[error("BIFIT did not answer {what} in time ({attempts} attempt(s))")]
    Timeout { what: String, attempts: u32 },
    /// Could not reach BIFIT, after every retry.
    #[error("could not reach BIFIT for {what}: {problem} ({attempts} attempt(s))")]
    Network {
        what: String,
        problem: String,
        attempts: u32,
    },
    /// An HTTP status other than 200, 401 and 404 (5xx after every retry).
    #[error("BIFIT answered HTTP {status} for {what} ({attempts} attempt(s))")]
    Status {
        what: String,
        status: u16,
        attempts: u32,
    },
    /// The answer does not match the documented shape.
    #[error(transparent)]
    Malformed(#[from] rabat_domain::bifit::Malformed),
    /// The connector's stored settings do not read back (edited by hand or damaged): a
    /// fault on our side, never the caller's input.
    #[error("the stored BIFIT connector is damaged: {0}")]
    Corrupt(String),
    /// The server cannot seal or open the connector's secrets.
    #[error("{0}")]
    Secrets(#[from] crate::secrets::SecretsError),
    #[error(transparent)]
    Store(#[from] StoreError),
}
