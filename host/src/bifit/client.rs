//! The HTTP client for BIFIT's CASHDESK API: timeouts on every request, retries with
//! exponential backoff on network errors and 5xx answers only (a 4xx will not change by
//! asking again), and the OAuth2 refresh-token grant (RFC 6749 §6).

use std::time::Duration;

use bytes::{Bytes, BytesMut};
use reqwest::{RequestBuilder, StatusCode};
use serde::Deserialize;

use super::egress::{Egress, PublicResolver, Refused};
use super::{BifitError, BifitSettings};

/// The most of an answer read; an online order is a few hundred bytes.
const MAX_ANSWER_BYTES: usize = 1 << 20;

/// A client shared by every request (one connection pool). Cheap to clone.
#[derive(Debug, Clone)]
pub struct Client {
    http: reqwest::Client,
    retries: u32,
    retry_backoff: Duration,
    egress: Egress,
}

/// BIFIT's answer for an online order, before parsing.
#[derive(Debug, Clone, PartialEq)]
pub enum OrderAnswer {
    Found(Bytes),
    /// 401: the access token was refused.
    Unauthorized,
    /// 404.
    NotFound,
}

/// What a refresh needs.
#[derive(Debug, Clone)]
pub struct RefreshRequest<'a> {
    pub token_url: &'a str,
    pub refresh_token: &'a str,
    pub client_id: Option<&'a str>,
    pub client_secret: Option<&'a str>,
}

/// New tokens from a refresh. `Debug` hides them.
#[derive(Clone, Deserialize)]
pub struct Tokens {
    pub access_token: String,
    /// Absent when the server keeps the old refresh token valid.
    #[serde(default)]
    pub refresh_token: Option<String>,
}

impl std::fmt::Debug for Tokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Tokens(<redacted>)")
    }
}

/// The path of an online order under the base URL.
pub fn order_url(base_url: &str, id: i64) -> String {
    format!(
        "{}/cashdesk-api/v1/protected/online_orders/{id}",
        base_url.trim_end_matches('/')
    )
}

impl Client {
    pub fn new(settings: &BifitSettings) -> Result<Client, reqwest::Error> {
        let egress = settings.egress();
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_millis(settings.connect_timeout_ms))
            .timeout(Duration::from_millis(settings.request_timeout_ms))
            .user_agent(concat!("rabat/", env!("CARGO_PKG_VERSION")))
            // A redirect would lead the token anywhere; BIFIT's API does not redirect.
            .redirect(reqwest::redirect::Policy::none())
            // Connect directly, so every address is checked (a proxy would resolve the
            // merchant's host names itself).
            .no_proxy()
            .dns_resolver(std::sync::Arc::new(PublicResolver(egress)))
            .build()?;
        Ok(Client {
            http,
            retries: settings.retries,
            retry_backoff: Duration::from_millis(settings.retry_backoff_ms),
            egress,
        })
    }

    /// `GET {base}/cashdesk-api/v1/protected/online_orders/{id}` with the bearer token.
    pub async fn get_order(
        &self,
        base_url: &str,
        access_token: &str,
        id: i64,
    ) -> Result<OrderAnswer, BifitError> {
        let what = format!("online order {id}");
        self.allowed(base_url, "baseUrl")
            .map_err(|why| BifitError::Network {
                what: what.clone(),
                problem: why.0,
                attempts: 0,
            })?;
        let url = order_url(base_url, id);
        let (status, body, attempts) = self
            .send(&what, || self.http.get(&url).bearer_auth(access_token))
            .await?;
        match status {
            StatusCode::OK => Ok(OrderAnswer::Found(body)),
            StatusCode::UNAUTHORIZED => Ok(OrderAnswer::Unauthorized),
            StatusCode::NOT_FOUND => Ok(OrderAnswer::NotFound),
            other => Err(BifitError::Status {
                what,
                status: other.as_u16(),
                attempts,
            }),
        }
    }

    /// The refresh-token grant: `POST token_url` with `grant_type=refresh_token`.
    pub async fn refresh(&self, request: &RefreshRequest<'_>) -> Result<Tokens, BifitError> {
        let mut form = vec![
            ("grant_type", "refresh_token"),
            ("refresh_token", request.refresh_token),
        ];
        if let Some(id) = request.client_id {
            form.push(("client_id", id));
        }
        if let Some(secret) = request.client_secret {
            form.push(("client_secret", secret));
        }
        let failed = |problem: String| BifitError::Refresh {
            url: request.token_url.to_owned(),
            problem,
        };
        self.allowed(request.token_url, "tokenUrl")
            .map_err(|why| failed(why.0))?;
        let (status, body, _) = self
            .send("the token refresh", || {
                self.http.post(request.token_url).form(&form)
            })
            .await
            .map_err(|e| failed(e.to_string()))?;
        if status != StatusCode::OK {
            // RFC 6749 §5.2: `error` is one of a few codes (invalid_grant…). Only those
            // are shown: nothing else of the answer is echoed.
            #[derive(Deserialize)]
            struct OAuthError {
                error: String,
            }
            const CODES: &[&str] = &[
                "invalid_request",
                "invalid_client",
                "invalid_grant",
                "unauthorized_client",
                "unsupported_grant_type",
                "invalid_scope",
            ];
            let code = serde_json::from_slice::<OAuthError>(&body)
                .ok()
                .and_then(|e| CODES.iter().find(|code| **code == e.error))
                .map(|code| format!(" ({code})"))
                .unwrap_or_default();
            return Err(failed(format!("HTTP {}{code}", status.as_u16())));
        }
        let mut reader = serde_json::Deserializer::from_slice(&body);
        serde_path_to_error::deserialize(&mut reader).map_err(|e| {
            // The path only: serde's message would quote the answer.
            failed(format!(
                "the answer is not an OAuth2 token response (at {})",
                e.path()
            ))
        })
    }

    /// The connector URL `text` (field `field`) may be called under the operator's rules.
    fn allowed(&self, text: &str, field: &str) -> Result<(), Refused> {
        let url = reqwest::Url::parse(text)
            .map_err(|e| Refused(format!("the stored {field} is not a URL ({e})")))?;
        self.egress
            .check_url(&url)
            .map_err(|why| Refused(format!("the {field} {why}")))
    }

    /// Sends the request `build` makes, again on a network error or a 5xx, waiting
    /// `retry_backoff × 2^n` between tries. Answers the status, the body and the number
    /// of tries.
    async fn send(
        &self,
        what: &str,
        build: impl Fn() -> RequestBuilder,
    ) -> Result<(StatusCode, Bytes, u32), BifitError> {
        let tries = self.retries.saturating_add(1);
        let mut attempt = 0;
        loop {
            attempt += 1;
            let outcome = match build().send().await {
                Ok(response) => {
                    let status = response.status();
                    read_body(response).await.map(|body| (status, body))
                }
                Err(error) => Err(error),
            };
            let retry = match &outcome {
                Ok((status, _)) => status.is_server_error(),
                Err(_) => true,
            };
            if !retry || attempt >= tries {
                return match outcome {
                    Ok((status, body)) => Ok((status, body, attempt)),
                    Err(error) => Err(network_error(what, &error, attempt)),
                };
            }
            let wait = self
                .retry_backoff
                .saturating_mul(2u32.saturating_pow(attempt - 1));
            tracing::debug!(what, attempt, ?wait, "BIFIT call failed; retrying");
            tokio::time::sleep(wait).await;
        }
    }
}

async fn read_body(mut response: reqwest::Response) -> Result<Bytes, reqwest::Error> {
    let mut body = BytesMut::new();
    while let Some(chunk) = response.chunk().await? {
        if body.len() + chunk.len() > MAX_ANSWER_BYTES {
            // Enough to fail parsing with a clear message; the rest is not read.
            break;
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}

/// A reqwest error as a message without internals (the URL has no secret in it, but the
/// message needs none of reqwest's detail either).
fn network_error(what: &str, error: &reqwest::Error, attempts: u32) -> BifitError {
    if error.is_timeout() {
        return BifitError::Timeout {
            what: what.to_owned(),
            attempts,
        };
    }
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(cause) = source {
        if let Some(refused) = cause.downcast_ref::<Refused>() {
            return BifitError::Network {
                what: what.to_owned(),
                problem: format!("the host {refused}"),
                attempts,
            };
        }
        source = cause.source();
    }
    let problem = if error.is_connect() {
        "the connection failed"
    } else if error.is_body() || error.is_decode() {
        "the answer broke off"
    } else if error.is_builder() {
        "the URL is not usable"
    } else {
        "the request failed"
    };
    BifitError::Network {
        what: what.to_owned(),
        problem: problem.to_owned(),
        attempts,
    }
}
