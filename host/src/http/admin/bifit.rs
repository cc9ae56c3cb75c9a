//! The merchant's BIFIT Kassa connector: its settings (PUT/GET; tokens are sealed at rest
//! and never shown again, GET says only whether each is set) and the online orders the
//! follower tracks.
//!
//! PUT replaces the plain settings (left out = default or none) but keeps a stored token
//! that is left out, so settings can be edited without the tokens at hand; a token sent
//! as `null` is cleared. `accessToken` is required the first time.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Serialize;
use serde_json::{Value, json};

use super::input::{self, Fields, Raw, text_ok};
use super::params::QueryParams;
use crate::bifit::connector::seal_context;
use crate::bifit::egress::Egress;
use crate::bifit::{CardLookup, DEFAULT_BASE_URL};
use crate::clock::now_ms;
use crate::http::auth::MerchantAuth;
use crate::http::error::{ApiError, ApiResult};
use crate::server::AppState;
use crate::service::Actor;
use crate::store::{BifitConnectorRow, Page, TrackState, TrackedOrder};

const FIELDS: &[&str] = &[
    "baseUrl",
    "accessToken",
    "refreshToken",
    "tokenUrl",
    "oauthClientId",
    "oauthClientSecret",
    "cardLookup",
];
pub(crate) const MAX_URL: usize = 2048;
pub(crate) const MAX_TOKEN: usize = 8192;
pub(crate) const MAX_CLIENT_ID: usize = 256;

/// The connector as the merchant sees it: no secret, only whether each is set.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ConnectorView {
    pub base_url: String,
    pub token_url: Option<String>,
    pub oauth_client_id: Option<String>,
    #[schema(value_type = String)]
    pub card_lookup: &'static str,
    pub access_token_set: bool,
    pub refresh_token_set: bool,
    pub oauth_client_secret_set: bool,
    pub updated_at: i64,
    pub tokens_refreshed_at: Option<i64>,
}

fn view(row: &BifitConnectorRow) -> ConnectorView {
    ConnectorView {
        base_url: row.base_url.clone(),
        token_url: row.token_url.clone(),
        oauth_client_id: row.oauth_client_id.clone(),
        card_lookup: CardLookup::parse(&row.card_lookup).map_or("clientId", CardLookup::as_str),
        access_token_set: true,
        refresh_token_set: row.refresh_token_sealed.is_some(),
        oauth_client_secret_set: row.oauth_client_secret_sealed.is_some(),
        updated_at: row.updated_at,
        tokens_refreshed_at: row.tokens_refreshed_at,
    }
}

/// An `https://` URL (`http://` only when the operator allows it) of a public host,
/// without credentials, query or fragment (see `bifit::egress`).
fn url(fields: &Fields<'_>, key: &str, egress: Egress) -> ApiResult<Option<String>> {
    let Some(text) = fields.string(key, MAX_URL)? else {
        return Ok(None);
    };
    let name = fields.name(key);
    let parsed = reqwest::Url::parse(&text).map_err(|e| {
        ApiError::InvalidField(format!(
            "{name} is not a URL ({e}): send e.g. {DEFAULT_BASE_URL}"
        ))
    })?;
    egress
        .check_url(&parsed)
        .map_err(|why| ApiError::InvalidField(format!("{name} {why}")))?;
    Ok(Some(text))
}

/// A token field: `Some(None)` when sent as `null` (clear it), `None` when left out.
fn token(
    body: &serde_json::Map<String, Value>,
    fields: &Fields<'_>,
    key: &str,
) -> ApiResult<Option<Option<String>>> {
    match body.get(key) {
        None => Ok(None),
        Some(Value::Null) => Ok(Some(None)),
        Some(_) => {
            let text = fields.string(key, MAX_TOKEN)?.unwrap_or_default();
            text_ok(&fields.name(key), &text, MAX_TOKEN)?;
            if text.chars().any(char::is_whitespace) {
                return Err(ApiError::InvalidField(format!(
                    "{} must not contain spaces",
                    fields.name(key)
                )));
            }
            Ok(Some(Some(text)))
        }
    }
}

/// `PUT /admin/v1/merchants/{m}/connectors/bifit` → 201 (created) or 200 with the view.
#[utoipa::path(
    put,
    path = "/admin/v1/merchants/{m}/connectors/bifit",
    operation_id = "putBifitConnector",
    tag = "merchants",
    security(("apiKey" = [])),
    params(crate::http::openapi::MerchantPath),
    request_body(content = crate::http::openapi::BifitConnectorRequest, description = "{baseUrl?, accessToken, refreshToken?, tokenUrl?, oauthClientId?, oauthClientSecret?, cardLookup?}"),
    responses(
        (status = 200, description = "Updated; secrets are never shown", body = ConnectorView),
        (status = 201, description = "Created", body = ConnectorView),
        (status = 400, description = "Bad input (the message names the field); 3 when no card matches", body = crate::http::openapi::ErrorDoc),
        crate::http::openapi::Unauthorized,
        (status = 403, description = "Another merchant's key, or no secrets key on the server (10)", body = crate::http::openapi::ErrorDoc),
        crate::http::openapi::TooLarge,
    ),
)]
pub async fn put(
    State(state): State<AppState>,
    MerchantAuth(merchant): MerchantAuth,
    raw: Raw,
) -> ApiResult<(StatusCode, Json<ConnectorView>)> {
    let body = input::object(raw, state.settings().max_body_bytes)?;
    let fields = Fields::new(&body, "");
    fields.only(FIELDS)?;
    let egress = state.settings().bifit.egress();
    let base_url = url(&fields, "baseUrl", egress)?.unwrap_or_else(|| DEFAULT_BASE_URL.to_owned());
    let token_url = url(&fields, "tokenUrl", egress)?;
    let oauth_client_id = fields.string("oauthClientId", MAX_CLIENT_ID)?;
    let card_lookup = match fields.string("cardLookup", 32)? {
        None => CardLookup::ClientId,
        Some(text) => CardLookup::parse(&text).ok_or_else(|| {
            ApiError::InvalidField(format!(
                "cardLookup must be 'clientId' (the card whose customerId is the order's clientId) or 'caller' (the cardId the POS sends), not '{text}'"
            ))
        })?,
    };
    let access = token(&body, &fields, "accessToken")?;
    let refresh = token(&body, &fields, "refreshToken")?;
    let secret = token(&body, &fields, "oauthClientSecret")?;
    let key = state.settings().secrets_key.as_ref().ok_or(ApiError::Forbidden(
        "Storing BIFIT tokens needs a secrets key on the server: the operator must set --secrets-key / RABAT_SECRETS_KEY (64 hex digits)",
    ))?;
    let store = state.store();
    let before = store.bifit_connector(&merchant.id).await?;
    let seal = |field: &str, value: Option<Option<String>>, stored: Option<String>| match value {
        None => Ok(stored),
        Some(None) => Ok(None),
        Some(Some(text)) => key
            .seal(&seal_context(&merchant.id, field), &text)
            .map(Some)
            .map_err(|e| ApiError::Internal(e.into())),
    };
    let access_sealed = seal(
        "access_token",
        access.clone(),
        before.as_ref().map(|b| b.access_token_sealed.clone()),
    )?
    .ok_or_else(|| {
        ApiError::InvalidField(if access.is_some() {
            "accessToken cannot be cleared: send a new one".into()
        } else {
            "accessToken is required (the OAuth2 access token BIFIT issued for this merchant)"
                .into()
        })
    })?;
    let refresh_sealed = seal(
        "refresh_token",
        refresh.clone(),
        before.as_ref().and_then(|b| b.refresh_token_sealed.clone()),
    )?;
    let secret_sealed = seal(
        "oauth_client_secret",
        secret.clone(),
        before
            .as_ref()
            .and_then(|b| b.oauth_client_secret_sealed.clone()),
    )?;
    if refresh_sealed.is_some() != token_url.is_some() {
        return Err(ApiError::InvalidField(
            "refreshToken and tokenUrl go together: the refresh needs both (send neither to go without refresh)"
                .into(),
        ));
    }
    let row = BifitConnectorRow {
        base_url,
        access_token_sealed: access_sealed,
        refresh_token_sealed: refresh_sealed,
        token_url,
        oauth_client_id,
        oauth_client_secret_sealed: secret_sealed,
        card_lookup: card_lookup.as_str().to_owned(),
        updated_at: now_ms(),
        tokens_refreshed_at: before.as_ref().and_then(|b| b.tokens_refreshed_at),
    };
    let view = view(&row);
    let actor = Actor::merchant(&merchant.id);
    let audit = |created: &bool| {
        let detail = json!({
            "baseUrl": view.base_url, "tokenUrl": view.token_url,
            "oauthClientId": view.oauth_client_id, "cardLookup": view.card_lookup,
            "accessTokenChanged": access.is_some(), "refreshTokenChanged": refresh.is_some(),
            "oauthClientSecretChanged": secret.is_some(),
        });
        let action = if *created {
            "connector.bifit.create"
        } else {
            "connector.bifit.update"
        };
        actor.did(action, detail)
    };
    let created = store.put_bifit_connector(&merchant.id, &row, audit).await?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(view)))
}

/// `GET /admin/v1/merchants/{m}/connectors/bifit` → the view, or 404 (id 9).
#[utoipa::path(
    get,
    path = "/admin/v1/merchants/{m}/connectors/bifit",
    operation_id = "getBifitConnector",
    tag = "merchants",
    security(("apiKey" = [])),
    params(crate::http::openapi::MerchantPath),
    responses(
        (status = 200, description = "The connector; secrets are never shown", body = ConnectorView),
        crate::http::openapi::Unauthorized,
        (status = 403, description = "Another merchant's key, or no secrets key on the server (10)", body = crate::http::openapi::ErrorDoc),
        (status = 404, description = "Not found: no connector, or BIFIT has no such order (9)", body = crate::http::openapi::ErrorDoc),
    ),
)]
pub async fn show(
    State(state): State<AppState>,
    MerchantAuth(merchant): MerchantAuth,
) -> ApiResult<Json<ConnectorView>> {
    let row = state.store().bifit_connector(&merchant.id).await?;
    row.as_ref().map(view).map(Json).ok_or_else(|| {
        ApiError::NotFound(
            "the BIFIT connector is not configured: PUT its settings to this path first".into(),
        )
    })
}

/// `GET /admin/v1/merchants/{m}/connectors/bifit/orders?state=&limit=&cursor=` →
/// `{items, nextCursor}`, most recently first seen first.
#[utoipa::path(
    get,
    path = "/admin/v1/merchants/{m}/connectors/bifit/orders",
    operation_id = "listBifitOrders",
    tag = "merchants",
    security(("apiKey" = [])),
    params(
        crate::http::openapi::MerchantPath,
        ("state" = Option<String>, Query, description = "tracking, recorded, voided, expired or failed"),
        ("limit" = Option<u32>, Query, description = "Rows per page, 1–500 (default 50)"),
        ("cursor" = Option<String>, Query, description = "The previous page's nextCursor"),
    ),
    responses(
        (status = 200, description = "Online orders the follower tracks or tracked", body = crate::store::Page<crate::store::TrackedOrder>),
        (status = 400, description = "Bad input (the message names the field); 3 when no card matches", body = crate::http::openapi::ErrorDoc),
        crate::http::openapi::Unauthorized,
        (status = 403, description = "Another merchant's key, or no secrets key on the server (10)", body = crate::http::openapi::ErrorDoc),
    ),
)]
pub async fn orders(
    State(state): State<AppState>,
    MerchantAuth(merchant): MerchantAuth,
    query: QueryParams,
) -> ApiResult<Json<Page<TrackedOrder>>> {
    query.only(&["state", "limit", "cursor"])?;
    let wanted = query
        .get("state")
        .map(|text| {
            TrackState::parse(text).ok_or_else(|| {
                let known: Vec<_> = TrackState::ALL.iter().map(|s| s.as_str()).collect();
                ApiError::InvalidField(format!("state '{text}' is not one of {}", known.join(", ")))
            })
        })
        .transpose()?;
    let page = state
        .store()
        .list_bifit_orders(&merchant.id, wanted, query.limit()?, query.cursor()?)
        .await?;
    Ok(Json(page))
}
