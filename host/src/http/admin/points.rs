//! Points over time (issue 19): the merchant's rules for expiry and vesting, and a card's
//! points as they stand (spendable, pending, held, the next expiry, its lots).

use axum::Json;
use axum::extract::State;
use serde_json::{Map, Value};

use rabat_domain::lots::{Expiry, PointsRules};

use super::input::{self, Fields, Raw};
use super::params::{Params, QueryParams};
use crate::http::auth::MerchantAuth;
use crate::http::error::{ApiError, ApiResult};
use crate::server::AppState;
use crate::service::Actor;
use crate::service::points::{self, CardPoints};

fn invalid(message: String) -> ApiError {
    ApiError::InvalidField(message)
}

/// `{"expiry": "never" | {"days": N} | {"months": N} | {"endOfMonth": N}, "vestingDays": N,
/// "timeZone": "Europe/Bratislava"}`, every field optional (absent: never, 0, UTC).
fn rules_of(map: &Map<String, Value>) -> ApiResult<PointsRules> {
    let fields = Fields::new(map, "");
    fields.only(&["expiry", "vestingDays", "timeZone"])?;
    let expiry = match fields.get("expiry") {
        None => Expiry::Never,
        Some(Value::String(s)) if s == "never" => Expiry::Never,
        Some(Value::Object(e)) => {
            let e_fields = Fields::new(e, "expiry");
            e_fields.only(&["days", "months", "endOfMonth"])?;
            if e.len() != 1 {
                return Err(invalid(
                    "expiry must name exactly one of days, months, endOfMonth".into(),
                ));
            }
            let count = |key: &str| -> ApiResult<Option<u32>> {
                match e_fields.integer(key)? {
                    None => Ok(None),
                    Some(n) => u32::try_from(n).map(Some).map_err(|_| {
                        invalid(format!(
                            "expiry.{key} must be a whole number of at least 0, not {n}"
                        ))
                    }),
                }
            };
            if let Some(n) = count("days")? {
                Expiry::Days(n)
            } else if let Some(n) = count("months")? {
                Expiry::Months(n)
            } else if let Some(n) = count("endOfMonth")? {
                Expiry::EndOfMonth(n)
            } else {
                return Err(invalid(
                    "expiry must name exactly one of days, months, endOfMonth with a number".into(),
                ));
            }
        }
        Some(other) => {
            return Err(invalid(format!(
                "expiry must be \"never\" or an object {{days | months | endOfMonth: N}}, not {}",
                match other {
                    Value::String(s) => format!("the string '{s}'"),
                    other => input::kind(other).to_owned(),
                }
            )));
        }
    };
    let vesting_days = match fields.integer("vestingDays")? {
        None => 0,
        Some(n) => u32::try_from(n).map_err(|_| {
            invalid(format!(
                "vestingDays must be a whole number from 0 to {}, not {n}",
                rabat_domain::lots::MAX_VESTING_DAYS
            ))
        })?,
    };
    let time_zone = fields.string("timeZone", 64)?;
    Ok(PointsRules {
        expiry,
        vesting_days,
        time_zone,
    })
}

/// The merchant's rules for points over time.
///
/// `GET /admin/v1/merchants/{m}/points-rules` → when earned points expire and how long
/// they stay pending.
#[utoipa::path(
    get,
    path = "/admin/v1/merchants/{m}/points-rules",
    operation_id = "getPointsRules",
    tag = "cards",
    security(("apiKey" = [])),
    params(crate::http::openapi::MerchantPath),
    responses(
        (status = 200, description = "The merchant's rules (the defaults: never expire, vest at once)", body = PointsRules),
        crate::http::openapi::Unauthorized,
        crate::http::openapi::Forbidden,
    ),
)]
pub async fn show_rules(
    State(state): State<AppState>,
    MerchantAuth(merchant): MerchantAuth,
) -> ApiResult<Json<PointsRules>> {
    Ok(Json(state.store().points_rules(&merchant.id).await?))
}

/// Sets the merchant's rules for points over time.
///
/// `PUT /admin/v1/merchants/{m}/points-rules` → the rules as stored. They apply to points
/// earned from now on; lots without an expiry get one counted from now (audited with how
/// many).
#[utoipa::path(
    put,
    path = "/admin/v1/merchants/{m}/points-rules",
    operation_id = "setPointsRules",
    tag = "cards",
    security(("apiKey" = [])),
    params(crate::http::openapi::MerchantPath),
    request_body(content = crate::http::openapi::PointsRulesRequest, description = "Expiry (never, N days, N months, or the end of the Nth month), vesting days, the time zone"),
    responses(
        (status = 200, description = "Set (audited)", body = PointsRules),
        crate::http::openapi::BadInput,
        crate::http::openapi::Unauthorized,
        crate::http::openapi::Forbidden,
        crate::http::openapi::TooLarge,
    ),
)]
pub async fn set_rules(
    State(state): State<AppState>,
    MerchantAuth(merchant): MerchantAuth,
    raw: Raw,
) -> ApiResult<Json<PointsRules>> {
    let map = input::object(raw, state.settings().max_body_bytes)?;
    let rules = rules_of(&map)?;
    let actor = Actor::merchant(&merchant.id);
    points::set_rules(state.store(), &actor, &merchant.id, &rules).await?;
    Ok(Json(rules))
}

/// A card's points as they stand.
///
/// `GET /admin/v1/merchants/{m}/cards/{cardId}/points` → the balance, pending, held and
/// available points, the next expiry, and the lots with points left.
#[utoipa::path(
    get,
    path = "/admin/v1/merchants/{m}/cards/{cardId}/points",
    operation_id = "getCardPoints",
    tag = "cards",
    security(("apiKey" = [])),
    params(
        crate::http::openapi::MerchantPath,
        ("cardId" = String, Path, description = "The card id"),
    ),
    responses(
        (status = 200, description = "The card's points and lots", body = CardPoints),
        crate::http::openapi::BadInput,
        crate::http::openapi::Unauthorized,
        crate::http::openapi::Forbidden,
        crate::http::openapi::NotFound,
    ),
)]
pub async fn card_points(
    State(state): State<AppState>,
    MerchantAuth(merchant): MerchantAuth,
    params: Params,
    query: QueryParams,
) -> ApiResult<Json<CardPoints>> {
    query.only(&[])?;
    let card_id = params.card_id()?;
    let now = crate::clock::now_ms();
    Ok(Json(
        points::card_points(state.store(), &merchant.id, card_id, now).await?,
    ))
}
