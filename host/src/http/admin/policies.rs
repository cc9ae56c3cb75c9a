//! Policy versions: upload a `.wasm` (validated and compiled before it is stored, so a
//! stored version always loads), list them, activate one. Activation is one UPDATE in the
//! store; a rollback is activating an older version.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Serialize;

use super::input::{self, Raw};
use super::params::{Params, QueryParams};
use crate::http::auth::MerchantAuth;
use crate::http::body;
use crate::http::error::ApiResult;
use crate::server::AppState;
use crate::service::Actor;
use crate::store::PolicyVersion;

pub(crate) const MAX_NOTE: usize = 200;

/// An accepted upload: the stored version and what validation found.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Uploaded {
    #[serde(flatten)]
    pub version: PolicyVersion,
    /// The interfaces the component imports (all of them allowed).
    pub imports: Vec<String>,
    pub uses_wasi: bool,
}

/// `POST /admin/v1/merchants/{m}/policies[?note=…]`, body: the component's bytes.
/// → 201 `{version, sha256, sizeBytes, createdAt, note, active: false, contract, imports,
/// usesWasi}`;
/// over the module limit 413 (id 5); not an acceptable policy 422 (id 11) with the reason.
#[utoipa::path(
    post,
    path = "/admin/v1/merchants/{m}/policies",
    operation_id = "uploadPolicy",
    tag = "policies",
    description = "Stores the component as the merchant's next version, after validating and compiling it; not active until activated. The answer says which contract the component was built for (`contract`, as `rabat check` prints it) and what it imports.",
    security(("apiKey" = [])),
    params(
        crate::http::openapi::MerchantPath,
        ("note" = Option<String>, Query, description = "A note kept with the version"),
    ),
    request_body(content = crate::http::openapi::PolicyModule, content_type = "application/wasm", description = "The policy component (.wasm)"),
    responses(
        (status = 201, description = "Stored, validated and compiled; not active. `contract` is the policy contract it was built for", body = Uploaded),
        crate::http::openapi::Unauthorized,
        crate::http::openapi::Forbidden,
        (status = 413, description = "Over the module limit (5), or the merchant's stored versions at the operator's quota (14)", body = crate::http::openapi::ErrorDoc),
        crate::http::openapi::InvalidPolicy,
        crate::http::openapi::BadInput,
    ),
)]
pub async fn upload(
    State(state): State<AppState>,
    MerchantAuth(merchant): MerchantAuth,
    query: QueryParams,
    raw: Raw,
) -> ApiResult<(StatusCode, Json<Uploaded>)> {
    query.only(&["note"])?;
    let note = query.get("note");
    if let Some(note) = note {
        input::text_ok("note", note, MAX_NOTE)?;
    }
    let wasm = body::bytes(raw, state.settings().max_module_bytes)?;
    let actor = Actor::merchant(&merchant.id);
    let uploaded = state
        .policies()
        .upload(&merchant.id, &actor, wasm.to_vec(), note)
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(Uploaded {
            version: uploaded.version,
            imports: uploaded.imports,
            uses_wasi: uploaded.uses_wasi,
        }),
    ))
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PolicyList {
    pub active_version: Option<i64>,
    /// Newest first, each with its `active` flag.
    pub items: Vec<PolicyVersion>,
}

/// `GET /admin/v1/merchants/{m}/policies`
#[utoipa::path(
    get,
    path = "/admin/v1/merchants/{m}/policies",
    operation_id = "listPolicies",
    tag = "policies",
    description = "The merchant's policy versions, newest first, each with its size, hash, note, whether it is active and the contract it was built for.",
    security(("apiKey" = [])),
    params(crate::http::openapi::MerchantPath),
    responses(
        (status = 200, description = "Every stored version, newest first", body = PolicyList),
        crate::http::openapi::Unauthorized,
        crate::http::openapi::Forbidden,
    ),
)]
pub async fn list(
    State(state): State<AppState>,
    MerchantAuth(merchant): MerchantAuth,
) -> ApiResult<Json<PolicyList>> {
    let items = state.policies().list(&merchant.id).await?;
    let active_version = items.iter().find(|p| p.active).map(|p| p.version);
    Ok(Json(PolicyList {
        active_version,
        items,
    }))
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Activated {
    pub active_version: i64,
    /// Bumped by every activation and config change.
    pub generation: i64,
}

/// `POST /admin/v1/merchants/{m}/policies/{v}/activate` → 200 `{activeVersion, generation}`;
/// a version the merchant does not have is 404 and changes nothing.
#[utoipa::path(
    post,
    path = "/admin/v1/merchants/{m}/policies/{v}/activate",
    operation_id = "activatePolicy",
    tag = "policies",
    security(("apiKey" = [])),
    params(
        crate::http::openapi::MerchantPath,
        ("v" = i64, Path, description = "The policy version"),
    ),
    responses(
        (status = 200, description = "Active now, on every replica within a second", body = Activated),
        crate::http::openapi::Unauthorized,
        crate::http::openapi::Forbidden,
        crate::http::openapi::NotFound,
        (status = 400, description = "The version is not a positive whole number (7)", body = crate::http::openapi::ErrorDoc),
    ),
)]
pub async fn activate(
    State(state): State<AppState>,
    MerchantAuth(merchant): MerchantAuth,
    params: Params,
) -> ApiResult<Json<Activated>> {
    let version = params.version()?;
    let actor = Actor::merchant(&merchant.id);
    let generation = state
        .policies()
        .activate(&merchant.id, &actor, version)
        .await?;
    Ok(Json(Activated {
        active_version: version,
        generation,
    }))
}
