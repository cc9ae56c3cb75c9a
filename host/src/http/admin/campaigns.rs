//! Campaigns (issue 17): several policies live at once, each a policy version with its own
//! config, schedule, priority and stacking mode. Every change goes through
//! `service::Campaigns` (checked, written and audited in one transaction, dropped from the
//! caches). The merchant's default campaign is the one `POST …/policies/{v}/activate` and
//! `PUT …/policy-config` act on.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Serialize;
use serde_json::{Map, Value};

use super::input::{self, Fields, Raw};
use super::params::{Params, QueryParams};
use crate::http::auth::MerchantAuth;
use crate::http::error::{ApiError, ApiResult};
use crate::policy_config::MAX_CONFIG_BYTES;
use crate::server::AppState;
use crate::service::Actor;
use crate::service::campaign_set::{
    CampaignSet, MAX_ADDED_CAMPAIGNS, MAX_SET_REPLAY_BILLS, SetDryRun, SetReplay,
};
use crate::service::campaigns::{
    BudgetUse, MAX_INSTANT_MS, MAX_NAME_CHARS, MAX_OPEN_CAMPAIGNS, MAX_PRIORITY,
};
use crate::service::whatif::DryRunCard;
use crate::store::{Campaign, CampaignEdit, CampaignState, NewCampaign, StackingMode};
use rabat_domain::budget::Limits;

/// The documented shape of `SetDryRun` (the service's struct holds the domain's
/// `DiscountResponse`, whose schema is the HTTP layer's).
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = SetDryRun)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)]
pub struct SetDryRunDoc {
    /// What endpoint 1 would answer.
    response: crate::http::openapi::DiscountResponseDoc,
    campaigns: Vec<crate::service::campaign_set::CampaignEffect>,
    /// The card the campaigns saw: `inline`, `stored` or `unknown`.
    card_source: String,
}

/// The fields of a campaign body.
const FIELDS: &[&str] = &[
    "name",
    "policyVersion",
    "config",
    "startsAt",
    "endsAt",
    "priority",
    "mode",
    "group",
    "limits",
];

/// The merchant's campaigns.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CampaignList {
    /// Every campaign, ended ones included, in run order (priority, highest first, then id).
    pub items: Vec<Campaign>,
}

fn invalid(message: String) -> ApiError {
    ApiError::InvalidField(message)
}

fn config(fields: &Fields<'_>) -> ApiResult<Option<Value>> {
    let Some(value) = fields.get("config") else {
        return Ok(None);
    };
    if !value.is_object() {
        return Err(invalid(format!(
            "config must be a JSON object, not {}",
            input::kind(value)
        )));
    }
    let size = value.to_string().len();
    if size > MAX_CONFIG_BYTES {
        return Err(invalid(format!(
            "config is {size} bytes as JSON; at most {MAX_CONFIG_BYTES} are allowed"
        )));
    }
    Ok(Some(value.clone()))
}

/// The `limits` object (budget, per card, per branch), or `Some(None)` for an explicit
/// `null` (removes them in an edit). Every message names the field.
fn limits(map: &Map<String, Value>) -> ApiResult<Option<Option<Limits>>> {
    match map.get("limits") {
        None => Ok(None),
        Some(Value::Null) => Ok(Some(None)),
        Some(value) if !value.is_object() => Err(invalid(format!(
            "limits must be a JSON object (budget, perCard, perBranch, timeZone) or null, not {}",
            input::kind(value)
        ))),
        Some(value) => {
            let limits: Limits = serde_path_to_error::deserialize(value).map_err(|e| {
                let path = e.path().to_string();
                let at = if path == "." {
                    "limits".to_owned()
                } else {
                    format!("limits.{path}")
                };
                invalid(format!("{at}: {}", e.inner()))
            })?;
            limits.check().map_err(|e| invalid(e.to_string()))?;
            Ok(Some(Some(limits)))
        }
    }
}

fn mode(fields: &Fields<'_>) -> ApiResult<Option<StackingMode>> {
    match fields.string("mode", 20)?.as_deref() {
        None => Ok(None),
        Some("stackable") => Ok(Some(StackingMode::Stackable)),
        Some("exclusive") => Ok(Some(StackingMode::Exclusive)),
        Some("bestOf") => Ok(Some(StackingMode::BestOf)),
        Some(other) => Err(invalid(format!(
            "mode must be one of stackable, exclusive, bestOf, not '{other}'"
        ))),
    }
}

/// An instant, or `Some(None)` for an explicit `null` (clears it in an edit).
fn instant(
    map: &Map<String, Value>,
    fields: &Fields<'_>,
    key: &str,
) -> ApiResult<Option<Option<i64>>> {
    match map.get(key) {
        None => Ok(None),
        Some(Value::Null) => Ok(Some(None)),
        Some(_) => {
            let at = fields.integer(key)?;
            if let Some(at) = at
                && !(0..=MAX_INSTANT_MS).contains(&at)
            {
                return Err(invalid(format!(
                    "{key} must be epoch milliseconds between 0 and {MAX_INSTANT_MS}, not {at}"
                )));
            }
            Ok(Some(at))
        }
    }
}

fn priority(fields: &Fields<'_>) -> ApiResult<Option<i64>> {
    let priority = fields.integer("priority")?;
    if let Some(p) = priority
        && !(-MAX_PRIORITY..=MAX_PRIORITY).contains(&p)
    {
        return Err(invalid(format!(
            "priority must be between -{MAX_PRIORITY} and {MAX_PRIORITY}, not {p}"
        )));
    }
    Ok(priority)
}

fn campaign_id(params: &Params) -> ApiResult<i64> {
    let text = params.get("id");
    input::positive_id(text).ok_or_else(|| {
        invalid(format!(
            "campaign id must be a positive whole number, not '{text}'"
        ))
    })
}

/// A new campaign's body (`prefix` names its fields in messages, e.g. `with[0].`).
fn new_campaign(map: &Map<String, Value>, prefix: &str) -> ApiResult<NewCampaign> {
    let fields = Fields::new(map, prefix);
    fields.only(FIELDS)?;
    let mode = mode(&fields)?.unwrap_or(StackingMode::Stackable);
    Ok(NewCampaign {
        name: fields.required_string("name", MAX_NAME_CHARS)?,
        policy_version: fields.required_integer("policyVersion")?,
        config: config(&fields)?.unwrap_or_else(|| Value::Object(Map::new())),
        starts_at: instant(map, &fields, "startsAt")?.flatten(),
        ends_at: instant(map, &fields, "endsAt")?.flatten(),
        priority: priority(&fields)?.unwrap_or(0),
        mode,
        group: fields.string("group", MAX_NAME_CHARS)?,
        limits: limits(map)?.flatten(),
    })
}

/// `POST /admin/v1/merchants/{m}/campaigns` → 201 with the campaign (active).
#[utoipa::path(
    post,
    path = "/admin/v1/merchants/{m}/campaigns",
    operation_id = "createCampaign",
    tag = "campaigns",
    security(("apiKey" = [])),
    params(crate::http::openapi::MerchantPath),
    request_body(content = crate::http::openapi::CampaignRequest, description = "The campaign; `name` and `policyVersion` are required"),
    responses(
        (status = 201, description = "Created, active (it runs within its schedule)", body = Campaign),
        crate::http::openapi::BadInput,
        crate::http::openapi::Unauthorized,
        crate::http::openapi::Forbidden,
        (status = 404, description = "No such policy version (9)", body = crate::http::openapi::ErrorDoc),
        (status = 409, description = "Another campaign has this name (8)", body = crate::http::openapi::ErrorDoc),
        (status = 413, description = "Body too large (5), or 20 campaigns that have not ended already (14)", body = crate::http::openapi::ErrorDoc),
    ),
)]
pub async fn create(
    State(state): State<AppState>,
    MerchantAuth(merchant): MerchantAuth,
    query: QueryParams,
    raw: Raw,
) -> ApiResult<(StatusCode, Json<Campaign>)> {
    query.only(&[])?;
    let map = input::object(raw, state.settings().max_body_bytes)?;
    let new = new_campaign(&map, "")?;
    let actor = Actor::merchant(&merchant.id);
    let created = state.campaigns().create(&merchant.id, &actor, new).await?;
    Ok((StatusCode::CREATED, Json(created)))
}

/// `GET /admin/v1/merchants/{m}/campaigns` → `{items}`, every campaign in run order.
#[utoipa::path(
    get,
    path = "/admin/v1/merchants/{m}/campaigns",
    operation_id = "listCampaigns",
    tag = "campaigns",
    security(("apiKey" = [])),
    params(crate::http::openapi::MerchantPath),
    responses(
        (status = 200, description = "Every campaign, in run order", body = CampaignList),
        crate::http::openapi::BadInput,
        crate::http::openapi::Unauthorized,
        crate::http::openapi::Forbidden,
    ),
)]
pub async fn list(
    State(state): State<AppState>,
    MerchantAuth(merchant): MerchantAuth,
    query: QueryParams,
) -> ApiResult<Json<CampaignList>> {
    query.only(&[])?;
    let items = state.campaigns().list(&merchant.id).await?;
    Ok(Json(CampaignList { items }))
}

/// `GET /admin/v1/merchants/{m}/campaigns/{id}`
#[utoipa::path(
    get,
    path = "/admin/v1/merchants/{m}/campaigns/{id}",
    operation_id = "getCampaign",
    tag = "campaigns",
    security(("apiKey" = [])),
    params(
        crate::http::openapi::MerchantPath,
        ("id" = i64, Path, description = "The campaign id", minimum = 1),
    ),
    responses(
        (status = 200, description = "The campaign", body = Campaign),
        crate::http::openapi::BadInput,
        crate::http::openapi::Unauthorized,
        crate::http::openapi::Forbidden,
        crate::http::openapi::NotFound,
    ),
)]
pub async fn show(
    State(state): State<AppState>,
    MerchantAuth(merchant): MerchantAuth,
    params: Params,
) -> ApiResult<Json<Campaign>> {
    let id = campaign_id(&params)?;
    Ok(Json(state.campaigns().get(&merchant.id, id).await?))
}

/// `PATCH /admin/v1/merchants/{m}/campaigns/{id}`: changes the fields given (`null`
/// clears `startsAt` or `endsAt`); `group` goes with `mode`. Switching `policyVersion`
/// is how a campaign moves to a new version (and back: a rollback).
#[utoipa::path(
    patch,
    path = "/admin/v1/merchants/{m}/campaigns/{id}",
    operation_id = "editCampaign",
    tag = "campaigns",
    security(("apiKey" = [])),
    params(
        crate::http::openapi::MerchantPath,
        ("id" = i64, Path, description = "The campaign id", minimum = 1),
    ),
    request_body(content = crate::http::openapi::CampaignChangesRequest, description = "The fields to change, each optional"),
    responses(
        (status = 200, description = "The edited campaign", body = Campaign),
        crate::http::openapi::BadInput,
        crate::http::openapi::Unauthorized,
        crate::http::openapi::Forbidden,
        (status = 404, description = "No such campaign or policy version (9)", body = crate::http::openapi::ErrorDoc),
        (status = 409, description = "The campaign has ended, or another has this name (8)", body = crate::http::openapi::ErrorDoc),
        crate::http::openapi::TooLarge,
    ),
)]
pub async fn edit(
    State(state): State<AppState>,
    MerchantAuth(merchant): MerchantAuth,
    params: Params,
    raw: Raw,
) -> ApiResult<Json<Campaign>> {
    let id = campaign_id(&params)?;
    let map = input::object(raw, state.settings().max_body_bytes)?;
    let fields = Fields::new(&map, "");
    fields.only(FIELDS)?;
    let group = fields.string("group", MAX_NAME_CHARS)?;
    let mode = match (mode(&fields)?, group) {
        (Some(mode), group) => Some((mode, group)),
        (None, Some(_)) => {
            return Err(invalid(
                "group is set together with mode (e.g. {\"mode\": \"bestOf\", \"group\": \"…\"})"
                    .to_owned(),
            ));
        }
        (None, None) => None,
    };
    let edit = CampaignEdit {
        name: fields.string("name", MAX_NAME_CHARS)?,
        policy_version: fields.integer("policyVersion")?,
        config: config(&fields)?,
        starts_at: instant(&map, &fields, "startsAt")?,
        ends_at: instant(&map, &fields, "endsAt")?,
        priority: priority(&fields)?,
        mode,
        limits: limits(&map)?,
    };
    let actor = Actor::merchant(&merchant.id);
    let edited = state
        .campaigns()
        .edit(&merchant.id, &actor, id, edit)
        .await?;
    Ok(Json(edited))
}

async fn set_state(
    state: &AppState,
    merchant: &str,
    params: &Params,
    to: CampaignState,
) -> ApiResult<Json<Campaign>> {
    let id = campaign_id(params)?;
    let actor = Actor::merchant(merchant);
    Ok(Json(
        state
            .campaigns()
            .set_state(merchant, &actor, id, to)
            .await?,
    ))
}

/// `POST /admin/v1/merchants/{m}/campaigns/{id}/pause`: stops it running until resumed.
#[utoipa::path(
    post,
    path = "/admin/v1/merchants/{m}/campaigns/{id}/pause",
    operation_id = "pauseCampaign",
    tag = "campaigns",
    security(("apiKey" = [])),
    params(
        crate::http::openapi::MerchantPath,
        ("id" = i64, Path, description = "The campaign id", minimum = 1),
    ),
    responses(
        (status = 200, description = "Paused (pausing a paused campaign changes nothing)", body = Campaign),
        crate::http::openapi::BadInput,
        crate::http::openapi::Unauthorized,
        crate::http::openapi::Forbidden,
        crate::http::openapi::NotFound,
        (status = 409, description = "The campaign has ended (8)", body = crate::http::openapi::ErrorDoc),
    ),
)]
pub async fn pause(
    State(state): State<AppState>,
    MerchantAuth(merchant): MerchantAuth,
    params: Params,
) -> ApiResult<Json<Campaign>> {
    set_state(&state, &merchant.id, &params, CampaignState::Paused).await
}

/// `POST /admin/v1/merchants/{m}/campaigns/{id}/resume`: runs it again (within its schedule).
#[utoipa::path(
    post,
    path = "/admin/v1/merchants/{m}/campaigns/{id}/resume",
    operation_id = "resumeCampaign",
    tag = "campaigns",
    security(("apiKey" = [])),
    params(
        crate::http::openapi::MerchantPath,
        ("id" = i64, Path, description = "The campaign id", minimum = 1),
    ),
    responses(
        (status = 200, description = "Active (resuming an active campaign changes nothing)", body = Campaign),
        crate::http::openapi::BadInput,
        crate::http::openapi::Unauthorized,
        crate::http::openapi::Forbidden,
        crate::http::openapi::NotFound,
        (status = 409, description = "The campaign has ended (8)", body = crate::http::openapi::ErrorDoc),
    ),
)]
pub async fn resume(
    State(state): State<AppState>,
    MerchantAuth(merchant): MerchantAuth,
    params: Params,
) -> ApiResult<Json<Campaign>> {
    set_state(&state, &merchant.id, &params, CampaignState::Active).await
}

/// `POST /admin/v1/merchants/{m}/campaigns/{id}/end`: ends it for good.
#[utoipa::path(
    post,
    path = "/admin/v1/merchants/{m}/campaigns/{id}/end",
    operation_id = "endCampaign",
    tag = "campaigns",
    security(("apiKey" = [])),
    params(
        crate::http::openapi::MerchantPath,
        ("id" = i64, Path, description = "The campaign id", minimum = 1),
    ),
    responses(
        (status = 200, description = "Ended; it never runs again", body = Campaign),
        crate::http::openapi::BadInput,
        crate::http::openapi::Unauthorized,
        crate::http::openapi::Forbidden,
        crate::http::openapi::NotFound,
    ),
)]
pub async fn end(
    State(state): State<AppState>,
    MerchantAuth(merchant): MerchantAuth,
    params: Params,
) -> ApiResult<Json<Campaign>> {
    set_state(&state, &merchant.id, &params, CampaignState::Ended).await
}

/// A campaign's budget in the current period.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CampaignBudget {
    pub id: i64,
    /// `null` for a campaign without a budget.
    pub budget: Option<BudgetUse>,
}

/// `GET /admin/v1/merchants/{m}/campaigns/{id}/budget`: what its budget has used (completed
/// bills), reserved (open orders) and left in the current period.
#[utoipa::path(
    get,
    path = "/admin/v1/merchants/{m}/campaigns/{id}/budget",
    operation_id = "getCampaignBudget",
    tag = "campaigns",
    security(("apiKey" = [])),
    params(
        crate::http::openapi::MerchantPath,
        ("id" = i64, Path, description = "The campaign id", minimum = 1),
    ),
    responses(
        (status = 200, description = "The budget's use in the current period (`budget` null: none)", body = CampaignBudget),
        crate::http::openapi::BadInput,
        crate::http::openapi::Unauthorized,
        crate::http::openapi::Forbidden,
        crate::http::openapi::NotFound,
    ),
)]
pub async fn budget(
    State(state): State<AppState>,
    MerchantAuth(merchant): MerchantAuth,
    params: Params,
    query: QueryParams,
) -> ApiResult<Json<CampaignBudget>> {
    query.only(&[])?;
    let id = campaign_id(&params)?;
    let now = state.till().clock().now();
    let budget = state.campaigns().budget_use(&merchant.id, id, now).await?;
    Ok(Json(CampaignBudget { id, budget }))
}

/// The campaign set of a what-if: `without` (ids of the merchant's campaigns) and `with`
/// (new campaigns, as `POST …/campaigns` takes them).
fn campaign_set(fields: &Fields<'_>) -> ApiResult<CampaignSet> {
    let mut set = CampaignSet::default();
    match fields.get("without") {
        None | Some(Value::Null) => {}
        Some(Value::Array(ids)) if ids.len() <= MAX_OPEN_CAMPAIGNS => {
            for (i, id) in ids.iter().enumerate() {
                // A whole number in a float's form (`7.0`) is one, as JSON Schema reads it.
                let number = match id {
                    Value::Number(n) => n.as_i64().or_else(|| input::whole(n)),
                    _ => None,
                };
                let id = number.filter(|id| *id > 0).ok_or_else(|| {
                    invalid(format!(
                        "without[{i}] must be a campaign id (a positive whole number), not {id}"
                    ))
                })?;
                set.without.push(id);
            }
        }
        Some(other) => {
            return Err(invalid(format!(
                "without must be an array of at most {MAX_OPEN_CAMPAIGNS} campaign ids, not {}",
                input::kind(other)
            )));
        }
    }
    match fields.get("with") {
        None | Some(Value::Null) => {}
        Some(Value::Array(items)) if items.len() <= MAX_ADDED_CAMPAIGNS => {
            for (i, item) in items.iter().enumerate() {
                let Value::Object(map) = item else {
                    return Err(invalid(format!(
                        "with[{i}] must be a campaign object, not {}",
                        input::kind(item)
                    )));
                };
                set.with.push(new_campaign(map, &format!("with[{i}]"))?);
            }
        }
        Some(other) => {
            return Err(invalid(format!(
                "with must be an array of at most {MAX_ADDED_CAMPAIGNS} campaigns, not {}",
                input::kind(other)
            )));
        }
    }
    Ok(set)
}

/// `POST /admin/v1/merchants/{m}/campaigns/dry-run` `{order, card?, without?, with?}`: the
/// merchant's campaigns (live now), without some and with new ones, on one bill, with
/// what each did; limits as they stand now. Records nothing.
#[utoipa::path(
    post,
    path = "/admin/v1/merchants/{m}/campaigns/dry-run",
    operation_id = "dryRunCampaigns",
    tag = "campaigns",
    security(("apiKey" = [])),
    params(crate::http::openapi::MerchantPath),
    request_body(content = crate::http::openapi::CampaignDryRunRequest, description = "{order (a Papaya discount request), card?, without?, with?}"),
    responses(
        (status = 200, description = "What the till would get from this set of campaigns, and what each did; nothing recorded", body = SetDryRunDoc),
        crate::http::openapi::BadInput,
        crate::http::openapi::Unauthorized,
        crate::http::openapi::Forbidden,
        (status = 404, description = "No such campaign or policy version (9)", body = crate::http::openapi::ErrorDoc),
        crate::http::openapi::InvalidPolicy,
        crate::http::openapi::TooLarge,
    ),
)]
pub async fn dry_run_set(
    State(state): State<AppState>,
    MerchantAuth(merchant): MerchantAuth,
    query: QueryParams,
    raw: Raw,
) -> ApiResult<Json<SetDryRun>> {
    query.only(&[])?;
    let body = input::object(raw, state.settings().max_body_bytes)?;
    let fields = Fields::new(&body, "");
    fields.only(&["order", "card", "without", "with"])?;
    let bill = super::dry_run::order(fields.get("order"))?;
    crate::http::papaya::ids_within_bounds("order.", &bill.card_id, &bill.order)?;
    let card = match fields.get("card") {
        Some(Value::Object(map)) => {
            DryRunCard::Inline(super::dry_run::inline_card(map, &bill.card_id)?)
        }
        Some(other) => return Err(super::dry_run::not_an_object("card", other)),
        None => DryRunCard::Stored(bill.card_id),
    };
    let set = campaign_set(&fields)?;
    let now = state.till().clock().now();
    let run = state
        .whatif()
        .dry_run_set(&merchant.id, &set, bill.order, card, now)
        .await?;
    Ok(Json(run))
}

/// `POST /admin/v1/merchants/{m}/campaigns/replay` `{limit?, since?, without?, with?}`:
/// the set of campaigns over the newest `limit` (default 200, at most 1 000) recorded bills
/// since `since`, re-run oldest first with every budget and limit counted from zero over
/// them ("what would this have cost, within its budget"). Records nothing.
#[utoipa::path(
    post,
    path = "/admin/v1/merchants/{m}/campaigns/replay",
    operation_id = "replayCampaigns",
    tag = "campaigns",
    security(("apiKey" = [])),
    params(crate::http::openapi::MerchantPath),
    request_body(content = crate::http::openapi::CampaignReplayRequest, description = "{limit?, since?, without?, with?}"),
    responses(
        (status = 200, description = "What the set would have given, in all and per campaign; nothing recorded", body = SetReplay),
        crate::http::openapi::BadInput,
        crate::http::openapi::Unauthorized,
        crate::http::openapi::Forbidden,
        (status = 404, description = "No such campaign or policy version (9)", body = crate::http::openapi::ErrorDoc),
        crate::http::openapi::InvalidPolicy,
        crate::http::openapi::TooLarge,
    ),
)]
pub async fn replay_set(
    State(state): State<AppState>,
    MerchantAuth(merchant): MerchantAuth,
    query: QueryParams,
    raw: Raw,
) -> ApiResult<Json<SetReplay>> {
    query.only(&[])?;
    let body = input::object(raw, state.settings().max_body_bytes)?;
    let fields = Fields::new(&body, "");
    fields.only(&["limit", "since", "without", "with"])?;
    let limit = match fields.integer("limit")? {
        None => 200,
        Some(n) if (1..=i64::from(MAX_SET_REPLAY_BILLS)).contains(&n) => n as u32,
        Some(n) => {
            return Err(invalid(format!(
                "limit must be from 1 to {MAX_SET_REPLAY_BILLS}, not {n}"
            )));
        }
    };
    let since = match fields.integer("since")? {
        None => 0,
        Some(at) if (0..=MAX_INSTANT_MS).contains(&at) => at,
        Some(at) => {
            return Err(invalid(format!(
                "since must be epoch milliseconds between 0 and {MAX_INSTANT_MS}, not {at}"
            )));
        }
    };
    let set = campaign_set(&fields)?;
    let report = state
        .whatif()
        .replay_set(&merchant.id, &set, limit, since)
        .await?;
    Ok(Json(report))
}
