//! `GET /openapi.json`: the OpenAPI description of every route, generated from the code.
//!
//! Each handler carries its `#[utoipa::path]` (method, path, parameters, bodies, answers)
//! and the router is built from those same annotations (`utoipa_axum::routes!`), so a
//! route cannot exist without being described, nor be described at another path. Response
//! types derive their schemas; the few bodies written by hand-rolled serializers (Papaya's
//! exact discount answer) are described here and checked against real answers in the
//! tests (`host/tests/openapi.rs`).

use std::sync::Arc;

use axum::Json;
use axum::extract::Extension;
use rust_decimal::Decimal;
use serde::Serialize;
use serde_json::{Value, json};
use utoipa::openapi::OpenApi as Spec;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi, ToSchema};

/// The document's fixed parts; paths come from the router.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "rabat",
        description = "A loyalty rules engine for point-of-sale systems. POS endpoints take the POS token; `/admin/v1/merchants/{m}/…` the merchant's API key; creating a merchant the operator token. Every error body is `{error, message, error_id}`. A path called with a method it does not take answers 405 (error_id 15) with `Allow` listing its methods.",
        license(name = "Apache-2.0")
    ),
    modifiers(&Security),
    tags(
        (name = "pos", description = "Called by the till (Papaya POS, BIFIT Kassa)"),
        (name = "merchants", description = "Merchants and their POS tokens"),
        (name = "policies", description = "Policy versions, config, dry-runs and what-if replays"),
        (name = "campaigns", description = "Several policies live at once: schedules, priorities, stacking"),
        (name = "cards", description = "Loyalty cards and the ledger"),
        (name = "coupons", description = "Coupon batches, codes, a card's wallet"),
        (name = "history", description = "Evaluation log and audit trail"),
        (name = "ops", description = "Health, readiness, metrics, this document")
    )
)]
pub struct ApiDoc;

struct Security;

impl Modify for Security {
    fn modify(&self, openapi: &mut Spec) {
        let components = openapi.components.get_or_insert_with(Default::default);
        for (name, what) in [
            ("posToken", "A POS token of the merchant (`pt_…`)"),
            ("apiKey", "The merchant's API key (`mk_…`)"),
            ("operator", "The operator token from the server's settings"),
            ("metricsToken", "The metrics token (`--metrics-token`)"),
        ] {
            let mut http = Http::new(HttpAuthScheme::Bearer);
            http.description = Some(what.to_owned());
            components.add_security_scheme(name, SecurityScheme::Http(http));
        }
    }
}

/// `GET /openapi.json`
#[utoipa::path(
    get,
    path = "/openapi.json",
    operation_id = "getOpenApiDocument",
    tag = "ops",
    responses((status = 200, description = "This document", content_type = "application/json"))
)]
pub async fn document(Extension(spec): Extension<Arc<Value>>) -> Json<Arc<Value>> {
    Json(spec)
}

/// The error body of every route (Papaya's own shape).
#[derive(Serialize, ToSchema)]
#[schema(as = Error)]
pub struct ErrorDoc {
    /// A short, fixed title per id ("Missing required field").
    pub error: String,
    /// What was wrong, and where.
    pub message: String,
    /// 1–3 Papaya's; 4 unauthorized, 5 too large, 6 malformed JSON, 7 invalid field,
    /// 8 conflicting repeat, 9 not found, 10 forbidden, 11 invalid policy module,
    /// 12 upstream POS error, 13 request body stalled, 14 quota exceeded, 15 method not
    /// allowed; 500 and 503 for the server's own trouble.
    pub error_id: u16,
}

/// Endpoint 1's answer, in Papaya's exact shape.
#[derive(Serialize, ToSchema)]
#[schema(as = DiscountResponse)]
#[serde(rename_all = "camelCase")]
pub struct DiscountResponseDoc {
    pub discounts: Vec<DiscountLineDoc>,
    /// The sum of the amounts, with the currency's minor-unit places; never more than
    /// the bill's total.
    pub total_discount: Decimal,
    /// Shown to the cashier.
    pub message: String,
}

/// One discount the POS applies.
#[derive(Serialize, ToSchema)]
#[schema(as = DiscountLine)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum DiscountLineDoc {
    #[serde(rename_all = "camelCase")]
    PercentageOnBill {
        /// Always `bill`.
        #[schema(pattern = "^bill$")]
        applies_to: String,
        percentage: Decimal,
        amount: Decimal,
        description: String,
    },
    #[serde(rename_all = "camelCase")]
    PercentageOnItem {
        /// Always `item`.
        #[schema(pattern = "^item$")]
        applies_to: String,
        percentage: Decimal,
        amount: Decimal,
        product_id: String,
        product_name: String,
        description: String,
    },
    /// A voucher applied as a negative line with 0 % VAT.
    #[serde(rename_all = "camelCase")]
    CouponZeroVat {
        /// Always `bill`.
        #[schema(pattern = "^bill$")]
        applies_to: String,
        amount: Decimal,
        /// Always 0.
        vat_rate: u8,
        coupon_code: String,
        description: String,
    },
}

/// Request bodies whose precise JSON Schema is written out in [`body_schemas`] (JSON
/// Schema 2020-12, as OpenAPI 3.1 takes it: `null` where the server reads `null` as
/// absent, patterns for ids and texts, bounds from the server's own constants). A handler
/// names one with `request_body(content = crate::http::openapi::Name)`; utoipa puts a
/// placeholder in `components.schemas`, which [`finish`] replaces. A marker without a
/// definition fails the document's tests.
macro_rules! body_markers {
    ($($name:ident),* $(,)?) => {
        $(
            #[doc = concat!("The `", stringify!($name), "` request body (see `body_schemas`).")]
            pub struct $name;
            impl utoipa::PartialSchema for $name {
                fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                    utoipa::openapi::schema::Object::new().into()
                }
            }
            impl ToSchema for $name {}
        )*
    };
}

body_markers!(
    PapayaDiscountRequest,
    PapayaTransaction,
    BifitCallerCard,
    CreateMerchantRequest,
    UpdateMerchantRequest,
    CardRequest,
    PointsAdjustment,
    PolicyConfig,
    PolicyModule,
    DryRunRequest,
    ReplayRequest,
    BifitConnectorRequest,
    EvaluationRetentionRequest,
    PointsRulesRequest,
    CampaignRequest,
    CampaignChangesRequest,
    CampaignDryRunRequest,
    CampaignReplayRequest,
);

/// No control character (Unicode `Cc`: what `char::is_control` refuses), not empty.
const TEXT: &str = r"^[^\u0000-\u001F\u007F-\u009F]+$";
/// No NUL (PostgreSQL's TEXT cannot hold it): Papaya's free texts.
const NO_NUL: &str = r"^[^\u0000]*$";
/// A Papaya id (`orderId`, `cardId`, `productId`): no control character and not blank
/// (at least one character that is neither a control nor white space as Rust's `trim`
/// sees it).
const POS_ID: &str = r"^[^\u0000-\u001F\u007F-\u009F]*[^\u0000-\u0020\u007F-\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000][^\u0000-\u001F\u007F-\u009F]*$";
/// A bearer token stored for BIFIT: no white space or control character.
const TOKEN: &str =
    r"^[^\u0000-\u0020\u007F-\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]+$";
/// An `https://` URL of a named host, as `bifit::egress` accepts it.
const HTTPS_URL: &str = r"^https://[A-Za-z](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*(?::[1-9][0-9]{0,3})?(?:/[A-Za-z0-9._~!$&'()*+,;=:@/-]*)?$";
/// A merchant id (`merchants::check_id`).
const MERCHANT_ID: &str = r"^[A-Za-z0-9_-][A-Za-z0-9._-]*$";
/// A POS token id as the store issues them.
const TOKEN_ID: &str = r"^pt_[0-9a-f]{16}$";
/// A cursor of the listings paged by row id: the hex of the id's decimal digits.
const ID_CURSOR: &str = r"^(?:(?:2[bBdD])?(?:3[0-9]){1,18})?$";
/// The cards' cursor: the hex of a card id's UTF-8 (no control character, at most 256
/// hex digits).
const TEXT_CURSOR: &str = concat!(
    r"^(?:[2-6][0-9a-fA-F]|7[0-9a-eA-E]",
    r"|[cC]2[abAB][0-9a-fA-F]|(?:[cC][3-9a-fA-F]|[dD][0-9a-fA-F])[89abAB][0-9a-fA-F]",
    r"|[eE]0[abAB][0-9a-fA-F][89abAB][0-9a-fA-F]",
    r"|(?:[eE][1-9a-cA-C]|[eE][eEfF])[89abAB][0-9a-fA-F][89abAB][0-9a-fA-F]",
    r"|[eE][dD][89][0-9a-fA-F][89abAB][0-9a-fA-F]",
    r"|[fF]0(?:9[0-9a-fA-F]|[abAB][0-9a-fA-F])[89abAB][0-9a-fA-F][89abAB][0-9a-fA-F]",
    r"|[fF][1-3][89abAB][0-9a-fA-F][89abAB][0-9a-fA-F][89abAB][0-9a-fA-F]",
    r"|[fF]48[0-9a-fA-F][89abAB][0-9a-fA-F][89abAB][0-9a-fA-F])*$"
);
/// The longest id a POS may send in a Papaya body (`orderId`, `cardId`, `productId`).
/// The id bounds of `rabat_domain::limits` are the server's; this is the document's copy.
pub const MAX_POS_ID: usize = rabat_domain::limits::MAX_ORDER_ID_CHARS;
/// The longest POS token id the document allows (the store issues 19 characters).
pub const MAX_TOKEN_ID: usize = rabat_domain::limits::MAX_TOKEN_ID_CHARS;

fn nullable(schema: Value) -> Value {
    json!({"oneOf": [schema, {"type": "null"}]})
}

/// A JSON number read as an exact decimal, within ±`limits::MAX_AMOUNT` (`minimum` 0 for
/// the amounts that must not be negative).
fn amount(non_negative: bool) -> Value {
    use rust_decimal::prelude::ToPrimitive;
    let max = rabat_domain::limits::MAX_AMOUNT
        .to_i64()
        .unwrap_or(i64::MAX);
    json!({
        "type": "number",
        "minimum": if non_negative { 0 } else { -max },
        "maximum": max,
        "description": "An exact decimal (read from its text, never through floating point)",
    })
}

/// Any JSON without a NUL character in a string or a key: what a Papaya body may carry in
/// fields rabat keeps for the policy (`attributes`) or ignores.
fn nul_free_json() -> Value {
    let this = json!({"$ref": "#/components/schemas/NulFreeJson"});
    json!({
        "description": "Any JSON without a NUL character (nested at most 32 levels, with the body)",
        "anyOf": [
            {"type": ["null", "boolean", "number"]},
            {"type": "string", "pattern": NO_NUL},
            {"type": "array", "items": this},
            {"type": "object", "propertyNames": {"pattern": NO_NUL}, "additionalProperties": this},
        ],
    })
}

fn papaya_item() -> Value {
    let text = || nullable(json!({"type": "string", "pattern": NO_NUL}));
    json!({
        "type": "object",
        "description": "One line of a Papaya bill. Unknown fields are ignored.",
        "required": ["productId", "quantity", "unitPrice", "totalPrice"],
        "propertyNames": {"pattern": NO_NUL},
        "additionalProperties": {"$ref": "#/components/schemas/NulFreeJson"},
        "properties": {
            "id": text(),
            "productId": {"type": "string", "minLength": 1, "maxLength": MAX_POS_ID, "pattern": POS_ID},
            "name": text(),
            "description": text(),
            "quantity": amount(true),
            "unitPrice": amount(false),
            "totalPrice": amount(false),
            "vat": nullable(amount(false)),
            "vatRate": nullable(json!({"type": "number", "minimum": 0, "maximum": 100})),
            "categoryId": text(),
            "categoryName": text(),
            "ean": text(),
            "note": text(),
        },
    })
}

/// The fields both Papaya bodies share; `status` defaults to `open` or `closed`.
fn papaya_bill() -> serde_json::Map<String, Value> {
    let text = || nullable(json!({"type": "string", "pattern": NO_NUL}));
    let time =
        || nullable(json!({"type": "string", "format": "date-time", "description": "RFC 3339"}));
    let id =
        || json!({"type": "string", "minLength": 1, "maxLength": MAX_POS_ID, "pattern": POS_ID});
    let properties = json!({
        "orderId": id(),
        "cardId": id(),
        "status": text(),
        "total": amount(true),
        "totalWithoutVat": nullable(amount(true)),
        "currency": nullable(json!({"type": "string", "pattern": "^[A-Za-z]{3}$", "description": "ISO 4217 (EUR when left out)"})),
        "vat": nullable(amount(true)),
        "created": time(),
        "updated": time(),
        "branchId": text(),
        "note": text(),
        "orderItems": nullable(json!({"type": "array", "items": {"$ref": "#/components/schemas/PapayaOrderItem"}})),
    });
    match properties {
        Value::Object(map) => map,
        _ => serde_json::Map::new(),
    }
}

/// Any JSON object nested at most `limits::MAX_JSON_DEPTH` levels (the depth itself is
/// not expressible in JSON Schema; the server refuses deeper with 400, id 7).
fn config_object(description: &str) -> Value {
    json!({
        "type": "object",
        "description": format!("{description} A JSON object of at most {} bytes, nested at most {} levels.", crate::policy_config::MAX_CONFIG_BYTES, rabat_domain::limits::MAX_JSON_DEPTH),
    })
}

/// A campaign body: to create (`name` and `policyVersion` required) or to edit (every
/// field optional). `null` reads as absent, except that `startsAt`/`endsAt` null clears
/// them in an edit; `group` goes with `mode: bestOf` and with no other mode. (That
/// `endsAt` follows `startsAt` cannot be said in JSON Schema: 400, id 7.)
/// A campaign's `limits` (`rabat_domain::budget::Limits`), exactly as the server reads them.
fn campaign_limits() -> Value {
    use rabat_domain::budget::{AMOUNT_PATTERN, MAX_LIMIT_REDEMPTIONS, time_zone_names};
    let period = json!({"type": "string", "enum": ["day", "week", "month", "lifetime"], "description": "Counted per local day, week (from Monday), month, or ever, in timeZone"});
    let redemptions = |what: &str| json!({"type": "integer", "minimum": 1, "maximum": MAX_LIMIT_REDEMPTIONS, "description": what});
    let count_limit = |what: &str| {
        nullable(json!({
            "type": "object",
            "additionalProperties": false,
            "required": ["redemptions", "period"],
            "description": what,
            "properties": {"redemptions": redemptions("The most redemptions per period"), "period": period},
        }))
    };
    json!({
        "type": "object",
        "additionalProperties": false,
        "description": "Kept by the host exactly, whatever the concurrency: a discount past a limit is dropped, or cut to the exact amount left of a budget. A redemption is a completed bill that took the campaign's discount.",
        "properties": {
            "timeZone": nullable(json!({"type": "string", "enum": time_zone_names(), "description": "The shop's IANA time zone the periods follow (default UTC)"})),
            "budget": nullable(json!({
                "type": "object",
                "additionalProperties": false,
                "required": ["period"],
                "anyOf": [{"required": ["amount"], "properties": {"amount": {"type": "string"}}}, {"required": ["redemptions"], "properties": {"redemptions": {"type": "integer"}}}],
                "description": "What the campaign may give away per period, across all cards: an amount, a number of redemptions, or both",
                "properties": {
                    "amount": nullable(json!({"type": "string", "pattern": AMOUNT_PATTERN, "description": "Discount money, in the merchant's currency, as a decimal string (\"500.00\")"})),
                    "redemptions": nullable(redemptions("Completed bills that took its discount")),
                    "period": period,
                },
            })),
            "perCard": count_limit("Redemptions per card"),
            "perBranch": count_limit("Redemptions per branch (branchId; a bill without one counts under the empty id)"),
        },
    })
}

/// A campaign-set what-if's body: `without` and `with`, and the dry-run's `order` and
/// `card` (with `order`) or the replay's `limit` and `since` (without).
fn campaign_set_body(order: Option<Value>, inline_card: Value) -> Value {
    use crate::service::campaign_set::{MAX_ADDED_CAMPAIGNS, MAX_SET_REPLAY_BILLS};
    use crate::service::campaigns::{MAX_INSTANT_MS, MAX_OPEN_CAMPAIGNS};
    let mut properties = json!({
        "without": nullable(json!({"type": "array", "maxItems": MAX_OPEN_CAMPAIGNS, "items": {"type": "integer", "minimum": 1, "maximum": i64::MAX}, "description": "Ids of the merchant's campaigns left out (an unknown one: 404)"})),
        "with": nullable(json!({"type": "array", "maxItems": MAX_ADDED_CAMPAIGNS, "items": {"$ref": "#/components/schemas/CampaignRequest"}, "description": "Campaigns added, as POST …/campaigns takes them"})),
    });
    let mut schema = json!({"type": "object", "additionalProperties": false});
    if let Some(order) = order {
        properties["order"] = order;
        properties["card"] = nullable(
            json!({"type": "object", "additionalProperties": false, "properties": inline_card, "description": "An inline card (need not exist); without it the order's cardId is looked up"}),
        );
        schema["required"] = json!(["order"]);
    } else {
        properties["limit"] = nullable(
            json!({"type": "integer", "minimum": 1, "maximum": MAX_SET_REPLAY_BILLS, "description": "How many of the newest recorded bills (default 200)"}),
        );
        properties["since"] = nullable(
            json!({"type": "integer", "minimum": 0, "maximum": MAX_INSTANT_MS, "description": "Only bills from then on (epoch ms)"}),
        );
    }
    schema["properties"] = properties;
    schema
}

fn campaign(create: bool) -> Value {
    use crate::service::campaigns::{MAX_INSTANT_MS, MAX_NAME_CHARS, MAX_PRIORITY};
    let name = |what: &str| json!({"type": "string", "minLength": 1, "maxLength": MAX_NAME_CHARS, "pattern": POS_ID, "description": what});
    let mut campaign_name =
        name("Unique among the merchant's campaigns; `default` is the default campaign's");
    campaign_name["not"] = json!({"const": crate::store::DEFAULT_CAMPAIGN});
    let instant = |what: &str| {
        nullable(
            json!({"type": "integer", "minimum": 0, "maximum": MAX_INSTANT_MS, "description": what}),
        )
    };
    let mut properties = json!({
        "name": campaign_name,
        "policyVersion": {"type": "integer", "minimum": 1, "maximum": i64::MAX, "description": "One of the merchant's policy versions (another: 404)"},
        "config": nullable(config_object(if create { "Handed to each of its runs (default `{}`)." } else { "Replaces the campaign's config." })),
        "startsAt": instant("Epoch ms from which it runs (included); null: from now"),
        "endsAt": instant("Epoch ms at which it stops (excluded), after startsAt; null: never"),
        "priority": nullable(json!({"type": "integer", "minimum": -MAX_PRIORITY, "maximum": MAX_PRIORITY, "description": "Higher runs and applies first (default 0)"})),
        "mode": nullable(json!({"type": "string", "enum": ["stackable", "exclusive", "bestOf"], "description": "How its discounts combine with the others' (default stackable)"})),
        "group": nullable(name("The group of a bestOf campaign: required with bestOf, refused with any other mode")),
        "limits": nullable(campaign_limits()),
    });
    if !create && let Value::Object(map) = &mut properties {
        map.insert("name".into(), nullable(map["name"].clone()));
        map.insert(
            "policyVersion".into(),
            nullable(map["policyVersion"].clone()),
        );
    }
    let mut schema = json!({
        "type": "object",
        "additionalProperties": false,
        "description": if create { "A campaign; `name` and `policyVersion` are required" } else { "The fields to change, each optional; `group` only together with `mode`" },
        "properties": properties,
        "if": {"required": ["mode"], "properties": {"mode": {"const": "bestOf"}}},
        "then": {"required": ["group"], "properties": {"group": {"type": "string"}}},
        "else": {"properties": {"group": {"type": "null"}}},
    });
    if create {
        schema["required"] = json!(["name", "policyVersion"]);
    }
    schema
}

/// A coupon code as sent (any case; stored upper case).
const COUPON_CODE: &str = r"^[A-Za-z0-9_-]{1,64}$";

/// A coupon batch's body.
fn coupon_batch() -> Value {
    use rabat_domain::coupon::{MAX_BATCH_NAME_CHARS, MAX_USES_PER_CODE};
    use rust_decimal::prelude::ToPrimitive;
    let max = rabat_domain::limits::MAX_AMOUNT
        .to_i64()
        .unwrap_or(i64::MAX);
    let instant = |what: &str| {
        nullable(
            json!({"type": "integer", "minimum": 0, "maximum": crate::service::campaigns::MAX_INSTANT_MS, "description": what}),
        )
    };
    json!({
        "type": "object",
        "additionalProperties": false,
        "required": ["name", "value"],
        "description": "A batch; `generate` needs `pattern`, `validFrom` comes before `validUntil` (else 400)",
        "properties": {
            "name": {"type": "string", "minLength": 1, "maxLength": MAX_BATCH_NAME_CHARS, "pattern": POS_ID, "description": "Unique among the merchant's batches"},
            "value": {"oneOf": [
                {"type": "object", "additionalProperties": false, "required": ["kind", "amount"],
                 "properties": {"kind": {"const": "amount"}, "amount": {"type": "number", "exclusiveMinimum": 0, "maximum": max, "multipleOf": 0.0001, "description": "In the merchant's currency, at most 4 decimal places"}}},
                {"type": "object", "additionalProperties": false, "required": ["kind", "percentage"],
                 "properties": {"kind": {"const": "percentage"}, "percentage": {"type": "number", "exclusiveMinimum": 0, "maximum": 100, "multipleOf": 0.0001}}},
            ]},
            "minBill": nullable(json!({"type": "number", "minimum": 0, "maximum": max, "description": "The least bill total a code applies to"})),
            "validFrom": instant("Codes are valid from this epoch ms"),
            "validUntil": instant("Codes are valid until this epoch ms (excluded), after validFrom"),
            "validDays": nullable(json!({"type": "integer", "minimum": 1, "maximum": super::admin::coupons::MAX_VALID_DAYS, "description": "A code is valid this many days from its issue to a card"})),
            "usesPerCode": nullable(json!({"type": "integer", "minimum": 1, "maximum": MAX_USES_PER_CODE, "description": "Redemptions per code (default 1)"})),
            "pattern": nullable(json!({"type": "string", "maxLength": 64, "pattern": r"^[A-Za-z0-9_-]*(?:#[A-Za-z0-9_-]*){10,}$", "description": "`#` is a random symbol of 25 (no look-alikes); at least 10 of them"})),
            "generate": nullable(json!({"type": "integer", "minimum": 1, "maximum": super::admin::coupons::MAX_GENERATE, "description": "Codes to generate now (needs pattern)"})),
        },
    })
}

/// A card profile's body: a birthday whose day the month has, and bounded attributes.
fn profile_request() -> Value {
    use rabat_domain::coupon::{
        MAX_ATTRIBUTE_KEY_CHARS, MAX_ATTRIBUTE_VALUE_CHARS, MAX_PROFILE_ATTRIBUTES,
    };
    let birthday = |months: &[u8], days: u8| {
        json!({"type": "object", "additionalProperties": false, "required": ["month", "day"],
        "properties": {
            "month": {"type": "integer", "enum": months},
            "day": {"type": "integer", "minimum": 1, "maximum": days},
            "year": nullable(json!({"type": "integer", "minimum": 1900, "maximum": 2100})),
        }})
    };
    json!({
        "type": "object",
        "additionalProperties": false,
        "description": "Replaces the profile; fields left out are cleared",
        "properties": {
            "birthday": nullable(json!({"oneOf": [
                birthday(&[1, 3, 5, 7, 8, 10, 12], 31),
                birthday(&[4, 6, 9, 11], 30),
                birthday(&[2], 29),
            ]})),
            "attributes": nullable(json!({
                "type": "object",
                "maxProperties": MAX_PROFILE_ATTRIBUTES,
                "propertyNames": {"minLength": 1, "maxLength": MAX_ATTRIBUTE_KEY_CHARS, "pattern": TEXT},
                "additionalProperties": {"type": "string", "maxLength": MAX_ATTRIBUTE_VALUE_CHARS, "pattern": NO_NUL},
            })),
        },
    })
}

/// The precise schema of every body marker, by name. `max_retention_days` is the
/// operator's `evaluation-log-max-retention-days` (a setting, not a constant).
fn body_schemas(max_retention_days: u32) -> Vec<(&'static str, Value)> {
    use super::admin::params::MAX_CARD_ID;
    use rabat_domain::limits::{MAX_CARD_TAGS, MAX_TAG_CHARS, MAX_TIER_CHARS};
    let text =
        |max: usize| json!({"type": "string", "minLength": 1, "maxLength": max, "pattern": TEXT});
    let optional = |max: usize| nullable(text(max));
    let discount = papaya_bill();
    let mut transaction = papaya_bill();
    transaction.insert(
        "event".into(),
        json!({"type": "string", "enum": [crate::papaya::ORDER_COMPLETED], "description": "Only order.completed (anything else: 400, id 1)"}),
    );
    transaction.insert(
        "paid".into(),
        nullable(json!({"oneOf": [{"type": "boolean"}, {"type": "integer", "enum": [0, 1]}]})),
    );
    transaction.insert(
        "completed".into(),
        nullable(json!({"type": "string", "format": "date-time", "description": "RFC 3339"})),
    );
    let card_fields = json!({
        "customerId": optional(MAX_CARD_ID),
        "name": optional(super::admin::cards::MAX_TEXT),
        "tier": optional(MAX_TIER_CHARS),
        "tags": nullable(json!({"type": "array", "maxItems": MAX_CARD_TAGS, "items": text(MAX_TAG_CHARS)})),
        "points": nullable(json!({"type": "integer", "minimum": 0, "maximum": super::admin::cards::MAX_POINTS, "description": "Sets the balance (through a ledger row); left out, the balance stays"})),
    });
    let mut inline_card = card_fields.clone();
    if let Value::Object(map) = &mut inline_card {
        map.insert("cardId".into(), optional(MAX_CARD_ID));
        map.insert(
            "visits".into(),
            nullable(json!({"type": "integer", "minimum": 0, "maximum": u32::MAX})),
        );
        map.insert("totalSpent".into(), nullable(amount(true)));
        map.insert("firstVisit".into(), nullable(json!({"type": "integer", "format": "int64", "minimum": i64::MIN, "maximum": i64::MAX, "description": "epoch ms"})));
        map.insert("lastVisit".into(), nullable(json!({"type": "integer", "format": "int64", "minimum": i64::MIN, "maximum": i64::MAX, "description": "epoch ms"})));
    }
    let url = |what: &str| {
        nullable(
            json!({"type": "string", "format": "uri", "minLength": 1, "maxLength": super::admin::bifit::MAX_URL, "pattern": HTTPS_URL, "description": format!("{what}. https:// and a host name (an IP address only when public); no user:password@, ?query or #fragment")}),
        )
    };
    let token = |what: &str| {
        nullable(
            json!({"type": "string", "minLength": 1, "maxLength": super::admin::bifit::MAX_TOKEN, "pattern": TOKEN, "description": what}),
        )
    };
    vec![
        ("NulFreeJson", nul_free_json()),
        ("PapayaOrderItem", papaya_item()),
        (
            "PapayaDiscountRequest",
            json!({
                "type": "object",
                "description": "Endpoint 1: the open bill (Papaya's page, \"Discount request\"). Other top-level fields are kept for the policy (`attributes`).",
                "required": ["orderId", "cardId", "total"],
                "propertyNames": {"pattern": NO_NUL},
                "additionalProperties": {"$ref": "#/components/schemas/NulFreeJson"},
                "properties": discount,
            }),
        ),
        (
            "PapayaTransaction",
            json!({
                "type": "object",
                "description": "Endpoint 2: `order.completed` with the closed bill. Other top-level fields are kept for the policy.",
                "required": ["event", "orderId", "cardId", "total"],
                "propertyNames": {"pattern": NO_NUL},
                "additionalProperties": {"$ref": "#/components/schemas/NulFreeJson"},
                "properties": transaction,
            }),
        ),
        (
            "BifitCallerCard",
            json!({
                "type": "object",
                "description": "Optional (an empty body is fine): the card the till knows",
                "additionalProperties": false,
                "properties": {"cardId": optional(MAX_CARD_ID)},
            }),
        ),
        (
            "CreateMerchantRequest",
            json!({
                "type": "object",
                "additionalProperties": false,
                "required": ["id", "name"],
                "properties": {
                    "id": {"type": "string", "minLength": 1, "maxLength": super::admin::merchants::MAX_ID, "pattern": MERCHANT_ID},
                    "name": {"type": "string", "minLength": 1, "maxLength": super::admin::merchants::MAX_NAME, "pattern": POS_ID},
                },
            }),
        ),
        (
            "UpdateMerchantRequest",
            json!({
                "type": "object",
                "additionalProperties": false,
                "required": ["disabled"],
                "properties": {"disabled": {"type": "boolean"}},
            }),
        ),
        (
            "CardRequest",
            json!({
                "type": "object",
                "additionalProperties": false,
                "description": "Identity fields left out are cleared; points left out keep the balance. (A `cardId` equal to the path's is accepted and ignored; any other is 400.)",
                "properties": card_fields,
            }),
        ),
        (
            "PointsAdjustment",
            json!({
                "type": "object",
                "additionalProperties": false,
                "required": ["delta", "reason"],
                "properties": {
                    "delta": {"type": "integer", "minimum": -super::admin::cards::MAX_POINTS, "maximum": super::admin::cards::MAX_POINTS, "not": {"const": 0}, "description": "Points to add (negative: take away); not zero"},
                    "reason": text(super::admin::cards::MAX_REASON),
                },
            }),
        ),
        (
            "PolicyConfig",
            config_object("Handed to every run of the merchant's policy."),
        ),
        (
            "PolicyModule",
            json!({
                "type": "string",
                "format": "binary",
                "contentMediaType": "application/wasm",
                "description": "The policy's WebAssembly component, at most the server's module limit (`max-module-bytes`)",
            }),
        ),
        (
            "DryRunRequest",
            json!({
                "type": "object",
                "additionalProperties": false,
                "required": ["order"],
                "properties": {
                    "order": {"$ref": "#/components/schemas/PapayaDiscountRequest"},
                    "card": nullable(json!({"type": "object", "additionalProperties": false, "properties": inline_card, "description": "An inline card (need not exist); without it the order's cardId is looked up"})),
                    "config": nullable(config_object("Replaces the merchant's config for this run.")),
                },
            }),
        ),
        (
            "ReplayRequest",
            json!({
                "type": "object",
                "additionalProperties": false,
                "description": "Optional (an empty body means every default)",
                "properties": {
                    "limit": nullable(json!({"type": "integer", "minimum": 1, "maximum": crate::replay::MAX_BILLS, "description": "How many of the newest orders (default 1000)"})),
                    "since": nullable(json!({"oneOf": [
                        {"type": "integer", "minimum": 0, "maximum": i64::MAX, "description": "epoch ms"},
                        {"type": "string", "format": "date-time", "description": "RFC 3339"},
                    ]})),
                    "config": nullable(config_object("Replaces the merchant's config for this replay.")),
                    "onlyChanged": nullable(json!({"type": "boolean"})),
                },
            }),
        ),
        (
            "BifitConnectorRequest",
            json!({
                "type": "object",
                "additionalProperties": false,
                "description": "Tokens left out are kept, sent as null cleared; accessToken is required the first time",
                "properties": {
                    "baseUrl": url("BIFIT's API (https, a public host)"),
                    "accessToken": token("The OAuth2 access token BIFIT issued"),
                    "refreshToken": token("Goes with tokenUrl"),
                    "tokenUrl": url("Goes with refreshToken"),
                    "oauthClientId": optional(super::admin::bifit::MAX_CLIENT_ID),
                    "oauthClientSecret": token("The OAuth2 client secret"),
                    "cardLookup": nullable(json!({"type": "string", "enum": ["clientId", "caller"]})),
                },
            }),
        ),
        (
            "CampaignDryRunRequest",
            campaign_set_body(
                Some(json!({"$ref": "#/components/schemas/PapayaDiscountRequest"})),
                inline_card.clone(),
            ),
        ),
        (
            "CampaignReplayRequest",
            campaign_set_body(None, Value::Null),
        ),
        ("CampaignRequest", campaign(true)),
        ("CouponBatchRequest", coupon_batch()),
        (
            "GenerateRequest",
            json!({
                "type": "object",
                "additionalProperties": false,
                "required": ["count"],
                "properties": {"count": {"type": "integer", "minimum": 1, "maximum": super::admin::coupons::MAX_GENERATE}},
            }),
        ),
        (
            "IssueRequest",
            json!({
                "type": "object",
                "description": "A new code of a batch, or an unassigned code",
                "oneOf": [
                    {"type": "object", "additionalProperties": false, "required": ["batchId"],
                     "properties": {"batchId": {"type": "integer", "minimum": 1, "maximum": i64::MAX, "description": "A new code of this batch (a free one of an imported batch)"}}},
                    {"type": "object", "additionalProperties": false, "required": ["code"],
                     "properties": {"code": {"type": "string", "pattern": COUPON_CODE, "description": "An unassigned code (any case)"}}},
                ],
            }),
        ),
        ("ProfileRequest", profile_request()),
        (
            "ReturnRequest",
            json!({
                "type": "object",
                "additionalProperties": false,
                "required": ["returnId"],
                "description": "A return of a recorded bill: the lines returned, or (no lines) the whole bill",
                "properties": {
                    "returnId": {"type": "string", "minLength": 1, "maxLength": super::admin::returns::MAX_RETURN_ID, "pattern": TEXT, "description": "The merchant's id of the return: a repeat with the same body is the same return"},
                    "lines": nullable(json!({"type": "array", "minItems": 1, "maxItems": super::admin::returns::MAX_RETURN_LINES, "items": {
                        "type": "object", "additionalProperties": false, "required": ["lineId", "quantity"],
                        "properties": {
                            "lineId": {"type": "string", "minLength": 1, "maxLength": MAX_POS_ID, "pattern": TEXT, "description": "The bill line's id (Papaya's orderItems[].id)"},
                            "quantity": {"type": "number", "exclusiveMinimum": 0, "maximum": 1_000_000_000_000_i64, "description": "How many of it were returned"},
                        },
                    }})),
                },
            }),
        ),
        ("CampaignChangesRequest", campaign(false)),
        (
            "PointsRulesRequest",
            json!({
                "type": "object",
                "additionalProperties": false,
                "properties": {
                    "expiry": nullable(json!({"oneOf": [
                        {"const": "never", "description": "Points never expire"},
                        {"type": "object", "additionalProperties": false, "required": ["days"],
                         "properties": {"days": {"type": "integer", "minimum": 1, "maximum": rabat_domain::lots::MAX_EXPIRY_DAYS, "description": "N days after earning"}}},
                        {"type": "object", "additionalProperties": false, "required": ["months"],
                         "properties": {"months": {"type": "integer", "minimum": 1, "maximum": rabat_domain::lots::MAX_EXPIRY_MONTHS, "description": "N calendar months after earning"}}},
                        {"type": "object", "additionalProperties": false, "required": ["endOfMonth"],
                         "properties": {"endOfMonth": {"type": "integer", "minimum": 0, "maximum": rabat_domain::lots::MAX_EXPIRY_MONTHS, "description": "The end of the Nth month after the month of earning"}}},
                    ], "description": "When earned points expire; absent or null: never"})),
                    "vestingDays": nullable(json!({"type": "integer", "minimum": 0, "maximum": rabat_domain::lots::MAX_VESTING_DAYS, "description": "Days an earned lot stays pending before it can be spent; absent or null: 0"})),
                    "timeZone": nullable(json!({"type": "string", "enum": rabat_domain::budget::time_zone_names(), "description": "An IANA time zone name (months and month ends are counted in it); UTC when absent"})),
                },
            }),
        ),
        (
            "EvaluationRetentionRequest",
            json!({
                "type": "object",
                "additionalProperties": false,
                "required": ["days"],
                "properties": {
                    "days": nullable(json!({"type": "integer", "minimum": 1, "maximum": max_retention_days, "description": "Days the merchant's evaluations are kept, at most the operator's maximum; null: the operator's default"})),
                },
            }),
        ),
    ]
}

/// The rules for parameters, by where they are and their name: every route taking a
/// `limit` takes it 1–500, and so on, so routes added later are held to the same bounds.
fn parameter_schema(path: &str, location: &str, name: &str) -> Option<Value> {
    use super::admin::params::{MAX_CARD_ID, MAX_LIMIT};
    let text = |max: usize, min: usize| json!({"type": "string", "minLength": min, "maxLength": max, "pattern": if min == 0 { r"^[^\u0000-\u001F\u007F-\u009F]*$" } else { TEXT }});
    Some(match (location, name) {
        ("path", "m") => {
            json!({"type": "string", "minLength": 1, "maxLength": super::admin::merchants::MAX_ID, "pattern": MERCHANT_ID})
        }
        ("path", "cardId") => text(MAX_CARD_ID, 1),
        ("path", "tokenId") => {
            json!({"type": "string", "minLength": 1, "maxLength": MAX_TOKEN_ID, "pattern": TOKEN_ID})
        }
        ("path", "v") => {
            json!({"type": "integer", "format": "int64", "minimum": 1, "maximum": i64::MAX})
        }
        ("path", "id") => {
            json!({"type": "integer", "format": "int64", "minimum": 1, "maximum": i64::MAX})
        }
        ("query", "limit") => {
            json!({"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": super::admin::params::DEFAULT_LIMIT})
        }
        ("path", "orderId") => {
            json!({"type": "string", "minLength": 1, "maxLength": MAX_POS_ID, "pattern": POS_ID})
        }
        ("path", "code") => {
            json!({"type": "string", "minLength": 1, "maxLength": 64, "pattern": COUPON_CODE, "description": "A coupon code (any case)"})
        }
        ("query", "cursor")
            if path.ends_with("/cards")
                || path.ends_with("/codes")
                || path.ends_with("/coupons")
                || path.ends_with("/export") =>
        {
            json!({"type": "string", "maxLength": 256, "pattern": TEXT_CURSOR, "description": "The previous page's nextCursor, unchanged"})
        }
        ("query", "cursor") => {
            json!({"type": "string", "maxLength": 38, "pattern": ID_CURSOR, "description": "The previous page's nextCursor, unchanged"})
        }
        ("query", "cardId" | "customerId") => text(MAX_CARD_ID, 0),
        ("query", "note") => text(super::admin::policies::MAX_NOTE, 0),
        ("query", "days") => {
            json!({"type": "integer", "minimum": 1, "maximum": super::admin::stats::MAX_DAYS, "default": super::admin::stats::DEFAULT_DAYS})
        }
        // An empty filter (`?outcome=`) is the same as none, as for every query parameter.
        ("query", "outcome") => {
            json!({"type": "string", "enum": std::iter::once("").chain(super::admin::OUTCOMES.iter().copied()).collect::<Vec<_>>(), "description": "Only runs with this outcome (empty: all)"})
        }
        ("query", "state") => {
            json!({"type": "string", "enum": std::iter::once("").chain(crate::store::TrackState::ALL.iter().map(|s| s.as_str())).collect::<Vec<_>>(), "description": "Only orders in this state (empty: all)"})
        }
        _ => return None,
    })
}

/// The error body every 405 carries, and the statuses every route can answer whatever it
/// does (named once in `components.responses`).
fn shared_responses() -> Value {
    let error = |description: &str| {
        json!({
            "description": description,
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
        })
    };
    json!({
        "MethodNotAllowed": {
            "description": "The path exists, but not with this method (15); `Allow` lists the methods it takes",
            "headers": {"Allow": {"description": "The methods the path takes", "schema": {"type": "string"}}},
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
        },
        "Timeout": error("The request body stopped arriving before it was complete (13)"),
        "Unavailable": error("Storage unavailable, or the server is at a bound for this work (503)"),
        "Internal": error("Something went wrong on our side; logged, never detailed (500)"),
    })
}

/// The shared answers the handlers list by type ([`Unauthorized`], …), by name: each is
/// written once in `components.responses` and referenced from every route.
fn named_responses() -> Vec<(&'static str, Value)> {
    fn one<T: utoipa::IntoResponses>(name: &'static str) -> (&'static str, Value) {
        let value = T::responses()
            .into_values()
            .next()
            .and_then(|response| serde_json::to_value(response).ok())
            .unwrap_or(Value::Null);
        (name, value)
    }
    vec![
        one::<Unauthorized>("Unauthorized"),
        one::<Forbidden>("Forbidden"),
        one::<TooLarge>("TooLarge"),
        one::<BadInput>("BadInput"),
        one::<NotFound>("NotFound"),
        one::<Conflict>("Conflict"),
        one::<InvalidPolicy>("InvalidPolicy"),
    ]
}

/// The document as served: utoipa's, with the body schemas, the parameter rules and the
/// shared answers applied. Pure: the same routes and settings give the same document (the
/// settings give the bounds an operator chooses, such as the longest retention).
pub fn finish(spec: &Spec, settings: &crate::config::Settings) -> Value {
    let mut doc = serde_json::to_value(spec).unwrap_or_else(|_| json!({}));
    let named = named_responses();
    let stateless = ["/healthz", "/openapi.json"];
    for (name, schema) in body_schemas(settings.evaluation_log_max_retention_days) {
        doc["components"]["schemas"][name] = schema;
    }
    doc["components"]["responses"] = shared_responses();
    for (name, response) in &named {
        doc["components"]["responses"][*name] = response.clone();
    }
    if let Some(paths) = doc["paths"].as_object_mut() {
        for (path, item) in paths.iter_mut() {
            let always_up = stateless.contains(&path.as_str());
            let Some(item) = item.as_object_mut() else {
                continue;
            };
            for operation in item.values_mut() {
                let Some(operation) = operation.as_object_mut() else {
                    continue;
                };
                if let Some(parameters) = operation
                    .get_mut("parameters")
                    .and_then(Value::as_array_mut)
                {
                    for parameter in parameters {
                        let location = parameter["in"].as_str().unwrap_or_default().to_owned();
                        let name = parameter["name"].as_str().unwrap_or_default().to_owned();
                        if let Some(schema) = parameter_schema(path, &location, &name) {
                            parameter["schema"] = schema;
                        }
                    }
                }
                let has_body = operation.contains_key("requestBody");
                if let Some(responses) = operation
                    .get_mut("responses")
                    .and_then(Value::as_object_mut)
                {
                    for response in responses.values_mut() {
                        if let Some((name, _)) = named.iter().find(|(_, shared)| shared == response)
                        {
                            *response = json!({"$ref": format!("#/components/responses/{name}")});
                        }
                    }
                }
                if let Some(responses) = operation
                    .get_mut("responses")
                    .and_then(Value::as_object_mut)
                {
                    let mut shared = Vec::new();
                    if !always_up {
                        shared.extend([("500", "Internal"), ("503", "Unavailable")]);
                    }
                    if has_body {
                        shared.push(("408", "Timeout"));
                    }
                    for (status, name) in shared {
                        responses.entry(status).or_insert_with(
                            || json!({"$ref": format!("#/components/responses/{name}")}),
                        );
                    }
                }
            }
        }
    }
    doc
}

/// The answers every authenticated route shares, named once and listed by name in each
/// route's `responses(…)`.
///
/// 401: no token, or one that is not valid (error 4).
#[derive(utoipa::IntoResponses)]
#[response(status = 401, description = "No or unknown token (4)")]
pub struct Unauthorized(#[allow(dead_code)] ErrorDoc);

/// 403: another merchant's API key, or the operator token on a merchant's route (error 10).
#[derive(utoipa::IntoResponses)]
#[response(status = 403, description = "Another merchant's key (10)")]
pub struct Forbidden(#[allow(dead_code)] ErrorDoc);

/// 413: a body over its limit (error 5).
#[derive(utoipa::IntoResponses)]
#[response(status = 413, description = "Body too large (5)")]
pub struct TooLarge(#[allow(dead_code)] ErrorDoc);

/// 400: a body, path or query that cannot be accepted (errors 1, 2, 6, 7; the message
/// names the field).
#[derive(utoipa::IntoResponses)]
#[response(status = 400, description = "Bad input (the message names the field)")]
pub struct BadInput(#[allow(dead_code)] ErrorDoc);

/// 404: the merchant has no such thing (error 9).
#[derive(utoipa::IntoResponses)]
#[response(status = 404, description = "Not found (9)")]
pub struct NotFound(#[allow(dead_code)] ErrorDoc);

/// 409: contradicts what is recorded (error 8).
#[derive(utoipa::IntoResponses)]
#[response(status = 409, description = "Conflicts with what is recorded (8)")]
pub struct Conflict(#[allow(dead_code)] ErrorDoc);

/// 422: not a policy rabat can run (error 11, with the reason).
#[derive(utoipa::IntoResponses)]
#[response(status = 422, description = "Not an acceptable policy module (11)")]
pub struct InvalidPolicy(#[allow(dead_code)] ErrorDoc);

/// The `{m}` of every merchant route.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Path)]
pub struct MerchantPath {
    /// The merchant id
    #[allow(dead_code)]
    m: String,
}
