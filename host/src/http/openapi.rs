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
use utoipa::openapi::OpenApi as Spec;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi, ToSchema};

/// The document's fixed parts; paths come from the router.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "rabat",
        description = "A loyalty rules engine for point-of-sale systems. POS endpoints take the POS token; `/admin/v1/merchants/{m}/…` the merchant's API key; creating a merchant the operator token. Every error body is `{error, message, error_id}`.",
        license(name = "Apache-2.0")
    ),
    modifiers(&Security),
    tags(
        (name = "pos", description = "Called by the till (Papaya POS, BIFIT Kassa)"),
        (name = "merchants", description = "Merchants and their POS tokens"),
        (name = "policies", description = "Policy versions, config, dry-runs and what-if replays"),
        (name = "campaigns", description = "Several policies live at once: schedules, priorities, stacking"),
        (name = "cards", description = "Loyalty cards and the ledger"),
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
    tag = "ops",
    responses((status = 200, description = "This document", content_type = "application/json"))
)]
pub async fn document(Extension(spec): Extension<Arc<Spec>>) -> Json<Arc<Spec>> {
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
    /// 12 upstream POS error.
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

/// One line of a Papaya bill.
#[derive(Serialize, ToSchema)]
#[schema(as = PapayaOrderItem)]
#[serde(rename_all = "camelCase")]
pub struct PapayaItemDoc {
    pub id: String,
    pub product_id: String,
    pub name: String,
    pub description: Option<String>,
    pub quantity: Decimal,
    pub unit_price: Decimal,
    pub total_price: Decimal,
    pub vat: Option<Decimal>,
    pub vat_rate: Option<Decimal>,
    pub category_id: Option<String>,
    pub category_name: Option<String>,
    pub ean: Option<String>,
    pub note: Option<String>,
}

/// Endpoint 1's request: the open bill (Papaya's page, section "Discount request").
#[derive(Serialize, ToSchema)]
#[schema(as = PapayaDiscountRequest)]
#[serde(rename_all = "camelCase")]
pub struct PapayaDiscountRequestDoc {
    /// At most `rabat_domain::limits::MAX_ORDER_ID_CHARS` characters (a test checks the
    /// literal against it).
    #[schema(max_length = 128)]
    pub order_id: String,
    /// At most `rabat_domain::limits::MAX_CARD_ID_CHARS` characters.
    #[schema(max_length = 128)]
    pub card_id: String,
    pub status: String,
    pub total: Decimal,
    pub total_without_vat: Option<Decimal>,
    pub currency: String,
    pub vat: Option<Decimal>,
    /// ISO 8601.
    pub created: Option<String>,
    /// ISO 8601.
    pub updated: Option<String>,
    pub branch_id: Option<String>,
    pub note: Option<String>,
    pub order_items: Vec<PapayaItemDoc>,
}

/// Endpoint 2's request: `order.completed` with the closed bill.
#[derive(Serialize, ToSchema)]
#[schema(as = PapayaTransaction)]
#[serde(rename_all = "camelCase")]
pub struct PapayaTransactionDoc {
    /// Only `order.completed`.
    pub event: String,
    /// At most `rabat_domain::limits::MAX_ORDER_ID_CHARS` characters.
    #[schema(max_length = 128)]
    pub order_id: String,
    /// At most `rabat_domain::limits::MAX_CARD_ID_CHARS` characters.
    #[schema(max_length = 128)]
    pub card_id: String,
    /// 1 or 0.
    pub paid: u8,
    pub status: String,
    pub total: Decimal,
    pub total_without_vat: Option<Decimal>,
    pub currency: String,
    pub vat: Option<Decimal>,
    /// ISO 8601.
    pub created: Option<String>,
    /// ISO 8601.
    pub completed: Option<String>,
    pub branch_id: Option<String>,
    pub order_items: Vec<PapayaItemDoc>,
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
