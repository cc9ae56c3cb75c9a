//! A real app on a real database, driven through its router (`oneshot`), with helpers to
//! set up merchants, cards and policies.

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use rabat::config::Settings;
use rabat::model::Card;
use rabat::server::{AppState, Started, start_with};
use rabat::store::credentials;
use serde_json::Value;
use tower::ServiceExt;

use super::db::TestDb;

pub const OPERATOR: &str = "test-operator-token";

/// The audit row of a change a test makes straight in the store.
pub fn audit<T>(_: &T) -> rabat::store::AuditRecord {
    rabat::store::AuditRecord::now("system:test", "test.setup", serde_json::json!({}))
}

pub struct TestApp {
    pub state: AppState,
    pub router: Router,
    pub db: TestDb,
    log_writer: tokio::task::JoinHandle<()>,
}

/// An answer: status and body (JSON when it parses, else `Value::Null`).
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub json: Value,
    pub text: String,
}

/// A merchant's credentials.
#[derive(Debug, Clone)]
pub struct TestMerchant {
    pub id: String,
    pub api_key: String,
    pub pos_token: String,
}

pub fn settings() -> Settings {
    let mut settings = Settings {
        operator_token: Some(OPERATOR.into()),
        ..Settings::default()
    };
    // Debug builds on a busy CI machine are slow: keep the wall-clock deadline out of the
    // way of tests about other limits (fuel still stops an endless loop in milliseconds).
    settings.policy_limits.deadline_ms = 2_000;
    // Connector tokens need a key to be sealed with; BIFIT's retries and follower
    // backoff are cut to nothing so tests never wait for them.
    settings.secrets_key = Some(rabat::secrets::SecretsKey::from_hex(TEST_SECRETS_KEY).unwrap());
    settings.bifit.retries = 1;
    settings.bifit.retry_backoff_ms = 1;
    settings.bifit.backoff_initial_ms = 0;
    settings.bifit.backoff_max_ms = 0;
    settings.bifit.poll_interval_ms = 20;
    // The fake BIFIT listens on plain http:// loopback, which rabat refuses by default.
    settings.bifit.allow_private_addresses = true;
    settings.bifit.allow_http = true;
    settings
}

pub const TEST_SECRETS_KEY: &str =
    "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

impl TestApp {
    pub async fn new(db: TestDb) -> TestApp {
        Self::with_settings(db, settings()).await
    }

    pub async fn with_settings(db: TestDb, settings: Settings) -> TestApp {
        let Started { state, log_writer } = start_with(settings, db.store.clone()).unwrap();
        let router = rabat::http::app(state.clone());
        TestApp {
            state,
            router,
            db,
            log_writer,
        }
    }

    /// A second app on the same database, as after a restart of the server.
    pub async fn restart(&self) -> TestApp {
        let store = self.db.reopen().await;
        TestApp::new(TestDb {
            store,
            target: super::db::Target::Shared,
        })
        .await
    }

    pub async fn shutdown(self) {
        let TestApp {
            state,
            router,
            db,
            log_writer,
        } = self;
        drop(router);
        drop(state);
        let _ = log_writer.await;
        db.store.close().await;
    }

    pub async fn call(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: impl Into<Body>,
    ) -> Reply {
        let mut request = Request::builder().method(method).uri(path);
        if let Some(token) = token {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        let request = request.body(body.into()).unwrap();
        let response = self.router.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        let text = String::from_utf8_lossy(&bytes).into_owned();
        let json = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Reply { status, json, text }
    }

    pub async fn post_json(&self, path: &str, token: &str, body: &Value) -> Reply {
        self.call("POST", path, Some(token), body.to_string()).await
    }

    /// A merchant made straight in the store (no dependence on the admin API).
    pub async fn merchant(&self, id: &str) -> TestMerchant {
        let api_key = credentials::new_api_key();
        let pos_token = credentials::new_pos_token();
        self.state
            .store()
            .create_merchant(
                id,
                &format!("{id} shop"),
                &api_key.hash,
                &pos_token.hash,
                audit,
            )
            .await
            .unwrap();
        TestMerchant {
            id: id.into(),
            api_key: api_key.plaintext,
            pos_token: pos_token.plaintext,
        }
    }

    pub async fn card(&self, merchant: &TestMerchant, card: Card) {
        self.state
            .store()
            .upsert_card(&merchant.id, &card, Some(card.points), audit)
            .await
            .unwrap();
    }

    /// Uploads, configures and activates a policy straight in the store.
    pub async fn activate(&self, merchant: &TestMerchant, wasm: &[u8], config: Value) -> i64 {
        let store = self.state.store();
        let version = store
            .add_policy(&merchant.id, wasm, None, audit)
            .await
            .unwrap()
            .version;
        store
            .put_policy_config(&merchant.id, &config, audit)
            .await
            .unwrap();
        store
            .activate_policy(&merchant.id, version, audit)
            .await
            .unwrap();
        self.state.active().invalidate(&merchant.id);
        version
    }

    /// Waits until the evaluation log writer has caught up.
    pub async fn flush_evaluations(&self) {
        for _ in 0..500 {
            if self.state.evaluations().backlog() == 0 {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        panic!("the evaluation log did not catch up in 5 s");
    }
}
