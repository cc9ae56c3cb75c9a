//! A fake BIFIT Kassa on a loopback port: serves online orders in the documented JSON
//! shape, checks the bearer token, issues new tokens for a refresh token, and has switches
//! for the ways the real one can fail (401, 404, 500, no answer, a malformed body).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Form, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{Value, json};

pub const ORDER_ID: i64 = 320528;
pub const CLIENT_ID: i64 = 195363;

/// The page's example order (`DISTRIBUTED`, 3000.00 RUB, clientId 195363).
pub fn seed_order() -> Value {
    serde_json::from_str(
        r#"{ "id": 320528, "visible": true, "created": 1645690408369,
      "changed": 1645691489120, "organizationId": "<organization_id>",
      "tradeObjectId": "<trade_object_id>", "taxSystem": "COMMON", "externalId": "112345",
      "deliveryType": "COURIER", "deliveryAmount": null, "deliveryTime": 1645690416000,
      "paid": false, "orderTime": 1645690388467, "clientId": 195363, "address": "Адрес",
      "responsiblePersonLogin": "79775553322", "discount": 0.00, "discountType": 0,
      "location": null, "totalAmount": 3000.00, "comment": null,
      "currentStatusType": "DISTRIBUTED", "currentStatusTime": 1645691012245,
      "substatusId": null, "shopId": null, "endLockTime": 1645691458615,
      "routeSheetDocumentId": null, "routeSheetDocumentPosition": null,
      "routeSheetDocumentNumber": null, "size": null, "actualDeliveryTime": 1645691458616,
      "cashierName": null, "clientName": null }"#,
    )
    .unwrap()
}

/// The example order with another id, status and total.
pub fn order(id: i64, status: &str, total: &str) -> Value {
    let mut order = seed_order();
    order["id"] = json!(id);
    order["currentStatusType"] = json!(status);
    order["totalAmount"] = serde_json::from_str(total).unwrap();
    order
}

#[derive(Debug, Default)]
pub struct Switches {
    pub orders: HashMap<i64, Value>,
    /// The access token accepted now.
    pub access_token: String,
    /// The refresh token accepted now.
    pub refresh_token: String,
    /// Order GETs answered 500 before answering normally again (`u32::MAX`: always).
    pub fail_500: u32,
    /// Every order GET answered 401, whatever the token.
    pub refuse_all: bool,
    /// Order GETs never answered (within a test's life).
    pub slow: bool,
    /// Order GETs answered 200 with this body instead of the order.
    pub malformed: Option<String>,
    /// Order GETs answered 302 to this location.
    pub redirect: Option<String>,
    /// Order GETs received.
    pub order_requests: u32,
    /// Refresh requests received, good or bad.
    pub refresh_requests: u32,
    /// Tokens issued so far.
    pub issued: u32,
    /// Every Authorization header received.
    pub authorizations: Vec<String>,
}

#[derive(Clone)]
pub struct FakeBifit {
    pub base_url: String,
    pub switches: Arc<Mutex<Switches>>,
    server: Arc<tokio::task::JoinHandle<()>>,
}

impl FakeBifit {
    pub async fn start() -> FakeBifit {
        let switches = Arc::new(Mutex::new(Switches {
            access_token: "at-0".into(),
            refresh_token: "rt-0".into(),
            ..Switches::default()
        }));
        let app = Router::new()
            .route(
                "/cashdesk-api/v1/protected/online_orders/{id}",
                get(get_order),
            )
            .route("/oauth/token", post(token))
            .with_state(switches.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let server = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        FakeBifit {
            base_url: format!("http://{address}"),
            switches,
            server: Arc::new(server),
        }
    }

    pub fn token_url(&self) -> String {
        format!("{}/oauth/token", self.base_url)
    }

    pub fn with<T>(&self, f: impl FnOnce(&mut Switches) -> T) -> T {
        f(&mut self.switches.lock().unwrap())
    }

    pub fn put(&self, order: Value) {
        let id = order["id"].as_i64().unwrap();
        self.with(|s| s.orders.insert(id, order));
    }

    pub fn set_status(&self, id: i64, status: &str) {
        self.with(|s| s.orders.get_mut(&id).unwrap()["currentStatusType"] = json!(status));
    }

    /// BIFIT expires the access token: the one rabat holds is refused from now on.
    pub fn expire_access_token(&self) {
        self.with(|s| s.access_token = format!("at-expired-{}", s.issued + 100));
    }

    pub fn order_requests(&self) -> u32 {
        self.with(|s| s.order_requests)
    }
}

impl Drop for FakeBifit {
    fn drop(&mut self) {
        if Arc::strong_count(&self.server) == 1 {
            self.server.abort();
        }
    }
}

type Shared = Arc<Mutex<Switches>>;

async fn get_order(
    State(switches): State<Shared>,
    Path(id): Path<i64>,
    headers: HeaderMap,
) -> Response {
    let auth = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let (slow, answer) = {
        let mut s = switches.lock().unwrap();
        s.order_requests += 1;
        s.authorizations.push(auth.clone());
        if let Some(location) = s.redirect.clone() {
            drop(s);
            return (StatusCode::FOUND, [("location", location)], "").into_response();
        }
        let answer = if s.refuse_all || auth != format!("Bearer {}", s.access_token) {
            (
                StatusCode::UNAUTHORIZED,
                json!({"error": "invalid_token"}).to_string(),
            )
        } else if s.fail_500 > 0 {
            if s.fail_500 != u32::MAX {
                s.fail_500 -= 1;
            }
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                "{\"error\":\"boom\"}".to_owned(),
            )
        } else if let Some(body) = &s.malformed {
            (StatusCode::OK, body.clone())
        } else {
            match s.orders.get(&id) {
                Some(order) => (StatusCode::OK, order.to_string()),
                None => (
                    StatusCode::NOT_FOUND,
                    json!({"error": "not found"}).to_string(),
                ),
            }
        };
        (s.slow, answer)
    };
    if slow {
        tokio::time::sleep(Duration::from_secs(300)).await;
    }
    let (status, body) = answer;
    (status, [("content-type", "application/json")], body).into_response()
}

async fn token(
    State(switches): State<Shared>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let mut s = switches.lock().unwrap();
    s.refresh_requests += 1;
    let good = form.get("grant_type").map(String::as_str) == Some("refresh_token")
        && form.get("refresh_token") == Some(&s.refresh_token);
    if !good {
        return (
            StatusCode::BAD_REQUEST,
            Json(json!({"error": "invalid_grant"})),
        )
            .into_response();
    }
    s.issued += 1;
    s.access_token = format!("at-{}", s.issued);
    s.refresh_token = format!("rt-{}", s.issued);
    Json(json!({
        "access_token": s.access_token, "refresh_token": s.refresh_token,
        "token_type": "bearer", "expires_in": 3600
    }))
    .into_response()
}
