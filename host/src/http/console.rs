//! The merchant console: a static single page (hand-written HTML, CSS and JavaScript
//! modules in `host/console/`, embedded in the binary with `include_str!`) that is a
//! client of the admin API. Nothing here reads or writes merchant data.
//!
//! - `GET /console` → 308 to `/console/`; `GET /console/` → the page;
//!   `GET /console/assets/{file}` → a script, stylesheet or the icon; `GET /favicon.ico`
//!   → the same icon (SVG), for a browser that asks the origin before reading the page's
//!   `<link rel="icon">` (a 404 there is an error in its console on every load). Not API
//!   routes, so they are not in `/openapi.json`.
//! - Every answer carries a strict Content-Security-Policy (only this origin's scripts
//!   and styles, no inline script or style, no framing), `nosniff` and `no-referrer`.
//! - Caching: `no-cache` with a strong ETag (the SHA-256 of the content), so a browser
//!   revalidates and gets 304 until the binary changes.
//!
//! Sign-in makes no cookie: the page keeps the merchant's API key in memory and
//! `sessionStorage` and sends it as `Authorization: Bearer` itself. A browser never attaches
//! that header on its own, so a cross-site page cannot make a request that carries it:
//! there is no CSRF surface to protect.

use std::sync::OnceLock;

use axum::Router;
use axum::extract::Path;
use axum::http::header::{
    CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, ETAG, IF_NONE_MATCH, LOCATION,
    REFERRER_POLICY, X_CONTENT_TYPE_OPTIONS, X_FRAME_OPTIONS,
};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use sha2::{Digest, Sha256};

use super::error::ApiError;
use crate::server::AppState;

/// The policy every console answer carries.
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
    img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; \
    form-action 'none'";

const HTML: &str = "text/html; charset=utf-8";
const JS: &str = "text/javascript; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";
const SVG: &str = "image/svg+xml";

/// The embedded files: (name, content type, content).
const ASSETS: &[(&str, &str, &str)] = &[
    ("index.html", HTML, include_str!("../../console/index.html")),
    (
        "console.css",
        CSS,
        include_str!("../../console/console.css"),
    ),
    ("app.js", JS, include_str!("../../console/app.js")),
    ("api.js", JS, include_str!("../../console/api.js")),
    ("fmt.js", JS, include_str!("../../console/fmt.js")),
    ("ui.js", JS, include_str!("../../console/ui.js")),
    ("chart.js", JS, include_str!("../../console/chart.js")),
    ("overview.js", JS, include_str!("../../console/overview.js")),
    ("policies.js", JS, include_str!("../../console/policies.js")),
    (
        "campaigns.js",
        JS,
        include_str!("../../console/campaigns.js"),
    ),
    ("coupons.js", JS, include_str!("../../console/coupons.js")),
    ("cards.js", JS, include_str!("../../console/cards.js")),
    ("history.js", JS, include_str!("../../console/history.js")),
    ("settings.js", JS, include_str!("../../console/settings.js")),
    ("points.js", JS, include_str!("../../console/points.js")),
    (
        "favicon.svg",
        SVG,
        include_str!("../../console/favicon.svg"),
    ),
];

/// The console's routes; [`super::app`] merges them in outside the OpenAPI document.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/console", get(redirect))
        .route("/console/", get(index))
        .route("/console/assets/{file}", get(asset))
        .route("/favicon.ico", get(favicon))
}

async fn favicon(request: HeaderMap) -> Response {
    serve("favicon.svg", &request).unwrap_or_else(IntoResponse::into_response)
}

async fn redirect() -> Response {
    let mut response = StatusCode::PERMANENT_REDIRECT.into_response();
    let headers = response.headers_mut();
    headers.insert(LOCATION, HeaderValue::from_static("/console/"));
    secure(headers);
    response
}

async fn index(request: HeaderMap) -> Response {
    serve("index.html", &request).unwrap_or_else(IntoResponse::into_response)
}

async fn asset(Path(file): Path<String>, request: HeaderMap) -> Response {
    // The page itself is only served at /console/.
    if file == "index.html" {
        return not_found(&file).into_response();
    }
    serve(&file, &request).unwrap_or_else(IntoResponse::into_response)
}

fn not_found(file: &str) -> ApiError {
    ApiError::NotFound(format!("The console has no file '{file}'"))
}

/// The strong ETag of each asset, computed once.
fn etags() -> &'static [String] {
    static ETAGS: OnceLock<Vec<String>> = OnceLock::new();
    ETAGS.get_or_init(|| {
        ASSETS
            .iter()
            .map(|(_, _, body)| format!("\"{}\"", hex::encode(&Sha256::digest(body)[..16])))
            .collect()
    })
}

fn serve(file: &str, request: &HeaderMap) -> Result<Response, ApiError> {
    let index = ASSETS
        .iter()
        .position(|(name, _, _)| *name == file)
        .ok_or_else(|| not_found(file))?;
    let (_, content_type, body) = ASSETS[index];
    let etag = etags().get(index).cloned().unwrap_or_default();
    let fresh = request
        .get(IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|tag| tag.trim() == etag));
    let mut response = if fresh {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        (
            [(CONTENT_TYPE, HeaderValue::from_static(content_type))],
            body,
        )
            .into_response()
    };
    let headers = response.headers_mut();
    secure(headers);
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    if let Ok(value) = HeaderValue::from_str(&etag) {
        headers.insert(ETAG, value);
    }
    Ok(response)
}

fn secure(headers: &mut HeaderMap) {
    headers.insert(CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
    headers.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    headers.insert(X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
}
