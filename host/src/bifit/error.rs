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
    /// The answer does not match the documented shape. Shown without the values serde
    /// quotes from the answer: rabat never echoes what an upstream sent.
    #[error("{}", without_values(.0))]
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

/// A malformed answer's message with every quoted value (`"…"`, `` `…` ``) blanked and
/// the whole cut short, so nothing an upstream sent is echoed.
fn without_values(malformed: &rabat_domain::bifit::Malformed) -> String {
    let field: String = malformed
        .field
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '[' | ']'))
        .take(64)
        .collect();
    let mut problem = String::new();
    let mut quote = None;
    for c in malformed.problem.chars() {
        match quote {
            Some(open) if c == open => {
                problem.push('…');
                problem.push(c);
                quote = None;
            }
            Some(_) => {}
            None => {
                problem.push(c);
                if c == '"' || c == '`' {
                    quote = Some(c);
                }
            }
        }
    }
    let problem: String = problem.chars().take(160).collect();
    format!("BIFIT's online order does not match the documented shape: {field}: {problem}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_malformed_answer_is_not_echoed() {
        let error = BifitError::Malformed(rabat_domain::bifit::Malformed {
            field: "totalAmount".into(),
            problem: "invalid type: string \"secret internal page\", expected a decimal".into(),
        });
        let text = error.to_string();
        assert!(!text.contains("secret"), "{text}");
        assert!(
            text.contains("totalAmount") && text.contains("documented shape"),
            "{text}"
        );
    }
}
