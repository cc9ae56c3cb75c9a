//! Coupons (issue 18): batches of codes (generated from a pattern, or imported from a CSV
//! file, all or nothing), their codes paged and exported, a card's wallet (issue, assign),
//! one code (show, void, restore) and a card's profile (birthday, attributes). Every change
//! is written and audited in one transaction by the store.
//!
//! The CSV format of an import: UTF-8, a header line `code`, then one code per line (ASCII
//! letters, digits, `-`, `_`; at most 64 characters; stored upper case). At most
//! [`MAX_CODES_PER_BATCH`] codes and [`MAX_IMPORT_BYTES`] bytes. Every bad line is reported
//! with its line number (up to 20 of them), and nothing is imported when any line is bad
//! or any code exists already (in any of the merchant's batches).

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use rust_decimal::Decimal;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use rabat_domain::coupon::{
    Birthday, CodePattern, CouponValue, MAX_BATCH_NAME_CHARS, MAX_CODES_PER_BATCH,
    MAX_IMPORT_BYTES, MAX_USES_PER_CODE, Profile, code_problem, normalize_code,
};

use super::input::{self, Fields, Raw};
use super::params::{Params, QueryParams};
use crate::http::auth::MerchantAuth;
use crate::http::body;
use crate::http::error::{ApiError, ApiResult};
use crate::server::AppState;
use crate::service::Actor;
use crate::service::campaigns::MAX_INSTANT_MS;
use crate::store::{Batch, Coupon, CouponFilter, NewBatch, NewCodes, Page};

/// The most bad lines an import's error names.
const MAX_NAMED_LINES: usize = 20;
/// The longest validity in days a batch may give a code from its issue.
pub const MAX_VALID_DAYS: i64 = 3650;
/// The most codes one call generates (a batch grows by more calls).
pub const MAX_GENERATE: i64 = 10_000;

fn invalid(message: String) -> ApiError {
    ApiError::InvalidField(message)
}

/// The merchant's batches, newest first.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct CouponBatchList {
    pub items: Vec<Batch>,
}

/// A batch's body.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)]
pub struct CouponBatchRequest {
    /// Unique per merchant, at most 64 characters.
    name: String,
    /// What each code is worth: `{"kind": "amount", "amount": 5.00}` or
    /// `{"kind": "percentage", "percentage": 10}`.
    value: CouponValue,
    /// The least bill total a code applies to.
    #[schema(value_type = Option<f64>)]
    min_bill: Option<Decimal>,
    /// Codes are valid from (epoch ms).
    valid_from: Option<i64>,
    /// Codes are valid until (epoch ms, exclusive).
    valid_until: Option<i64>,
    /// A code is valid for this many days from its issue to a card (and within the dates).
    #[schema(minimum = 1, maximum = 3650)]
    valid_days: Option<i64>,
    /// How often one code may be redeemed (default 1).
    #[schema(minimum = 1, maximum = 1000000)]
    uses_per_code: Option<i64>,
    /// Generated codes' pattern: `#` is a random symbol (at least 10), e.g.
    /// `WELCOME-#####-#####`. Without it, codes are imported.
    pattern: Option<String>,
    /// How many codes to generate now (needs `pattern`).
    #[schema(minimum = 1, maximum = 10000)]
    generate: Option<i64>,
}

/// How many codes to generate.
#[derive(Deserialize, utoipa::ToSchema)]
#[allow(dead_code)]
pub struct GenerateRequest {
    #[schema(minimum = 1, maximum = 10000)]
    count: i64,
}

/// What to put into a card's wallet: a new code of a batch, or an unassigned code.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)]
pub struct IssueRequest {
    /// Issue a code of this batch (a new one of its pattern, or a free imported one).
    batch_id: Option<i64>,
    /// Or assign this unassigned code.
    code: Option<String>,
}

/// A card's profile as sent (the document's schema is the precise one).
#[derive(Deserialize, utoipa::ToSchema)]
#[allow(dead_code)]
pub struct ProfileRequest {
    birthday: Option<Birthday>,
    attributes: Option<std::collections::BTreeMap<String, String>>,
}

fn batch_id(params: &Params) -> ApiResult<i64> {
    let text = params.get("id");
    input::positive_id(text).ok_or_else(|| {
        invalid(format!(
            "coupon batch id must be a positive whole number, not '{text}'"
        ))
    })
}

fn code_param(params: &Params) -> ApiResult<String> {
    let code = normalize_code(params.get("code"));
    match code_problem(&code) {
        Some(problem) => Err(invalid(format!("code {problem}"))),
        None => Ok(code),
    }
}

fn instant(fields: &Fields<'_>, key: &str) -> ApiResult<Option<i64>> {
    let at = fields.integer(key)?;
    if let Some(at) = at
        && !(0..=MAX_INSTANT_MS).contains(&at)
    {
        return Err(invalid(format!(
            "{key} must be epoch milliseconds between 0 and {MAX_INSTANT_MS}, not {at}"
        )));
    }
    Ok(at)
}

fn count(value: Option<i64>, key: &str) -> ApiResult<Option<usize>> {
    let Some(n) = value else { return Ok(None) };
    let (least, most) = (1, MAX_GENERATE);
    if !(least..=most).contains(&n) {
        return Err(invalid(format!(
            "{key} must be a whole number from {least} to {most}, not {n}"
        )));
    }
    Ok(usize::try_from(n).ok())
}

fn value_of(map: &Map<String, Value>) -> ApiResult<CouponValue> {
    let shape = "value must be {\"kind\": \"amount\", \"amount\": 5.00} or {\"kind\": \"percentage\", \"percentage\": 10}";
    let Some(value) = map.get("value").filter(|v| !v.is_null()) else {
        return Err(invalid(format!("value is required: {shape}")));
    };
    let Value::Object(value) = value else {
        return Err(invalid(format!("{shape}, not {}", input::kind(value))));
    };
    let fields = Fields::new(value, "value");
    let value = match fields.required_string("kind", 16)?.as_str() {
        "amount" => {
            fields.only(&["kind", "amount"])?;
            let amount = fields
                .decimal("amount")?
                .ok_or_else(|| invalid("value.amount is required".into()))?;
            CouponValue::Amount { amount }
        }
        "percentage" => {
            fields.only(&["kind", "percentage"])?;
            let percentage = fields
                .decimal("percentage")?
                .ok_or_else(|| invalid("value.percentage is required".into()))?;
            CouponValue::Percentage { percentage }
        }
        other => {
            return Err(invalid(format!(
                "value.kind must be amount or percentage, not '{other}'"
            )));
        }
    };
    if let Some(problem) = value.problem() {
        return Err(invalid(format!("value: {problem}")));
    }
    Ok(value)
}

/// A card's profile from a body `{birthday?, attributes?}`, checked.
fn profile_of(map: &Map<String, Value>) -> ApiResult<Profile> {
    let fields = Fields::new(map, "");
    fields.only(&["birthday", "attributes"])?;
    let birthday = match fields.get("birthday") {
        None => None,
        Some(Value::Object(b)) => {
            let b = Fields::new(b, "birthday");
            b.only(&["month", "day", "year"])?;
            let small = |key: &str, max: i64| -> ApiResult<Option<u16>> {
                match b.integer(key)? {
                    None => Ok(None),
                    Some(n) if (1..=max).contains(&n) => Ok(u16::try_from(n).ok()),
                    Some(n) => Err(invalid(format!(
                        "birthday.{key} must be a whole number from 1 to {max}, not {n}"
                    ))),
                }
            };
            let month =
                small("month", 12)?.ok_or_else(|| invalid("birthday.month is required".into()))?;
            let day =
                small("day", 31)?.ok_or_else(|| invalid("birthday.day is required".into()))?;
            let year = small("year", 2100)?;
            if let Some(year) = year
                && year < 1900
            {
                return Err(invalid(format!(
                    "birthday.year must be from 1900 to 2100, not {year}"
                )));
            }
            Some(Birthday {
                month: u8::try_from(month).unwrap_or(0),
                day: u8::try_from(day).unwrap_or(0),
                year,
            })
        }
        Some(other) => {
            return Err(invalid(format!(
                "birthday must be an object {{month, day, year?}}, not {}",
                input::kind(other)
            )));
        }
    };
    let mut attributes = std::collections::BTreeMap::new();
    match fields.get("attributes") {
        None => {}
        Some(Value::Object(a)) => {
            for (key, value) in a {
                let Value::String(value) = value else {
                    return Err(invalid(format!(
                        "attributes['{key}'] must be a string, not {}",
                        input::kind(value)
                    )));
                };
                attributes.insert(key.clone(), value.clone());
            }
        }
        Some(other) => {
            return Err(invalid(format!(
                "attributes must be an object of strings, not {}",
                input::kind(other)
            )));
        }
    }
    let profile = Profile {
        birthday,
        attributes,
    };
    if let Some(problem) = profile.problem() {
        return Err(invalid(problem));
    }
    Ok(profile)
}

/// A new batch's body, and the codes to generate with it.
fn new_batch(map: &Map<String, Value>) -> ApiResult<(NewBatch, NewCodes)> {
    let fields = Fields::new(map, "");
    fields.only(&[
        "name",
        "value",
        "minBill",
        "validFrom",
        "validUntil",
        "validDays",
        "usesPerCode",
        "pattern",
        "generate",
    ])?;
    let name = fields.required_string("name", MAX_BATCH_NAME_CHARS)?;
    if name.trim().is_empty() {
        return Err(invalid("name must not be empty".into()));
    }
    let value = value_of(map)?;
    let min_bill = fields.decimal("minBill")?;
    if let Some(least) = min_bill
        && (least < Decimal::ZERO || !rabat_domain::limits::amount_in_range(least))
    {
        return Err(invalid(format!(
            "minBill must be 0 or more and at most 10^12, not {least}"
        )));
    }
    let valid_from = instant(&fields, "validFrom")?;
    let valid_until = instant(&fields, "validUntil")?;
    if let (Some(from), Some(until)) = (valid_from, valid_until)
        && from >= until
    {
        return Err(invalid(format!(
            "validFrom ({from}) must be before validUntil ({until})"
        )));
    }
    let valid_days = fields.integer("validDays")?;
    if let Some(days) = valid_days
        && !(1..=MAX_VALID_DAYS).contains(&days)
    {
        return Err(invalid(format!(
            "validDays must be a whole number from 1 to {MAX_VALID_DAYS}, not {days}"
        )));
    }
    let uses = fields.integer("usesPerCode")?.unwrap_or(1);
    if !(1..=MAX_USES_PER_CODE).contains(&uses) {
        return Err(invalid(format!(
            "usesPerCode must be a whole number from 1 to {MAX_USES_PER_CODE}, not {uses}"
        )));
    }
    let pattern = fields.string("pattern", 64)?;
    if let Some(pattern) = &pattern {
        CodePattern::parse(pattern).map_err(invalid)?;
    }
    let generate = count(fields.integer("generate")?, "generate")?;
    let codes = match (generate, &pattern) {
        (None, _) => NewCodes::None,
        (Some(n), Some(_)) => NewCodes::Generate(n),
        (Some(_), None) => {
            return Err(invalid(
                "generate needs a pattern (e.g. \"WELCOME-#####-#####\"); without one, import codes"
                    .into(),
            ));
        }
    };
    Ok((
        NewBatch {
            name,
            value,
            min_bill,
            valid_from,
            valid_until,
            valid_days,
            uses_per_code: uses,
            pattern,
        },
        codes,
    ))
}

/// `POST /admin/v1/merchants/{m}/coupon-batches` → 201 with the batch (and its codes
/// generated when `generate` is given).
#[utoipa::path(
    post,
    path = "/admin/v1/merchants/{m}/coupon-batches",
    operation_id = "createCouponBatch",
    tag = "coupons",
    security(("apiKey" = [])),
    params(crate::http::openapi::MerchantPath),
    request_body(content = CouponBatchRequest, description = "The batch; `name` and `value` are required"),
    responses(
        (status = 201, description = "Created", body = Batch),
        crate::http::openapi::BadInput,
        crate::http::openapi::Unauthorized,
        crate::http::openapi::Forbidden,
        (status = 409, description = "Another batch has this name (8)", body = crate::http::openapi::ErrorDoc),
        crate::http::openapi::TooLarge,
    ),
)]
pub async fn create_batch(
    State(state): State<AppState>,
    MerchantAuth(merchant): MerchantAuth,
    query: QueryParams,
    raw: Raw,
) -> ApiResult<(StatusCode, Json<Batch>)> {
    query.only(&[])?;
    let map = input::object(raw, state.settings().max_body_bytes)?;
    let (batch, codes) = new_batch(&map)?;
    let actor = Actor::merchant(&merchant.id);
    let audit = |b: &Batch| {
        actor.did(
            "coupon_batch.create",
            json!({"id": b.id, "name": b.name, "codes": b.codes}),
        )
    };
    let created = state
        .store()
        .create_coupon_batch(&merchant.id, &batch, codes, audit)
        .await?;
    Ok((StatusCode::CREATED, Json(created)))
}

/// `GET /admin/v1/merchants/{m}/coupon-batches` → `{items}`, newest first.
#[utoipa::path(
    get,
    path = "/admin/v1/merchants/{m}/coupon-batches",
    operation_id = "listCouponBatches",
    tag = "coupons",
    security(("apiKey" = [])),
    params(crate::http::openapi::MerchantPath),
    responses(
        (status = 200, description = "The merchant's batches (the newest 500), newest first", body = CouponBatchList),
        crate::http::openapi::BadInput,
        crate::http::openapi::Unauthorized,
        crate::http::openapi::Forbidden,
    ),
)]
pub async fn list_batches(
    State(state): State<AppState>,
    MerchantAuth(merchant): MerchantAuth,
    query: QueryParams,
) -> ApiResult<Json<CouponBatchList>> {
    query.only(&[])?;
    let items = state.store().coupon_batches(&merchant.id).await?;
    Ok(Json(CouponBatchList { items }))
}

/// `GET /admin/v1/merchants/{m}/coupon-batches/{id}`
#[utoipa::path(
    get,
    path = "/admin/v1/merchants/{m}/coupon-batches/{id}",
    operation_id = "getCouponBatch",
    tag = "coupons",
    security(("apiKey" = [])),
    params(
        crate::http::openapi::MerchantPath,
        ("id" = i64, Path, description = "The batch id", minimum = 1),
    ),
    responses(
        (status = 200, description = "The batch, with its counts", body = Batch),
        crate::http::openapi::BadInput,
        crate::http::openapi::Unauthorized,
        crate::http::openapi::Forbidden,
        crate::http::openapi::NotFound,
    ),
)]
pub async fn show_batch(
    State(state): State<AppState>,
    MerchantAuth(merchant): MerchantAuth,
    params: Params,
    query: QueryParams,
) -> ApiResult<Json<Batch>> {
    query.only(&[])?;
    let id = batch_id(&params)?;
    Ok(Json(state.store().coupon_batch(&merchant.id, id).await?))
}

/// `POST /admin/v1/merchants/{m}/coupon-batches/{id}/generate` `{count}`: more codes of
/// the batch's pattern.
#[utoipa::path(
    post,
    path = "/admin/v1/merchants/{m}/coupon-batches/{id}/generate",
    operation_id = "generateCoupons",
    tag = "coupons",
    security(("apiKey" = [])),
    params(
        crate::http::openapi::MerchantPath,
        ("id" = i64, Path, description = "The batch id", minimum = 1),
    ),
    request_body(content = GenerateRequest, description = "How many codes"),
    responses(
        (status = 200, description = "The batch, with its new counts", body = Batch),
        crate::http::openapi::BadInput,
        crate::http::openapi::Unauthorized,
        crate::http::openapi::Forbidden,
        crate::http::openapi::NotFound,
        (status = 409, description = "The batch's codes are imported: it has no pattern (8)", body = crate::http::openapi::ErrorDoc),
        crate::http::openapi::TooLarge,
    ),
)]
pub async fn generate(
    State(state): State<AppState>,
    MerchantAuth(merchant): MerchantAuth,
    params: Params,
    query: QueryParams,
    raw: Raw,
) -> ApiResult<Json<Batch>> {
    query.only(&[])?;
    let id = batch_id(&params)?;
    let map = input::object(raw, state.settings().max_body_bytes)?;
    let fields = Fields::new(&map, "");
    fields.only(&["count"])?;
    let n = count(Some(fields.required_integer("count")?), "count")?.unwrap_or(0);
    let actor = Actor::merchant(&merchant.id);
    let audit = |b: &Batch| {
        actor.did(
            "coupon_batch.generate",
            json!({"id": b.id, "generated": n, "codes": b.codes}),
        )
    };
    let batch = state
        .store()
        .add_coupon_codes(&merchant.id, id, NewCodes::Generate(n), audit)
        .await?;
    Ok(Json(batch))
}

/// The codes of a CSV import, with their line numbers, or every bad line (up to
/// [`MAX_NAMED_LINES`]) in one message.
pub fn parse_csv(bytes: &[u8]) -> Result<Vec<(usize, String)>, String> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(bytes);
    let mut codes: Vec<(usize, String)> = Vec::new();
    let mut seen: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    let mut bad: Vec<String> = Vec::new();
    let mut bad_count = 0usize;
    let mut header = true;
    let mut record = csv::ByteRecord::new();
    // Line numbers from byte offsets, counted once over the file as the reader advances.
    let (mut counted_to, mut lines_before) = (0usize, 0usize);
    let mut line_at = |byte: u64| -> usize {
        let mut byte = usize::try_from(byte)
            .unwrap_or(bytes.len())
            .min(bytes.len());
        // A record's position may be the line end before it (CRLF): its first byte after.
        while bytes.get(byte).is_some_and(|b| *b == b'\r' || *b == b'\n') {
            byte += 1;
        }
        if byte >= counted_to {
            lines_before += bytes[counted_to..byte]
                .iter()
                .filter(|b| **b == b'\n')
                .count();
            counted_to = byte;
        }
        lines_before + 1
    };
    loop {
        let line = line_at(reader.position().byte());
        match reader.read_byte_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => {
                return Err(format!("line {line}: not readable as CSV: {e}"));
            }
        }
        // The line a record starts on, counted from its byte offset (the reader's own line
        // count lags after a CRLF line end).
        let line = record.position().map_or(line, |p| line_at(p.byte()));
        let mut problem = |why: String| {
            bad_count += 1;
            if bad.len() < MAX_NAMED_LINES {
                bad.push(format!("line {line}: {why}"));
            }
        };
        if record.len() != 1 {
            problem(format!("{} columns; one (code) is expected", record.len()));
            header = false;
            continue;
        }
        let Ok(text) = std::str::from_utf8(&record[0]) else {
            problem("not UTF-8".into());
            header = false;
            continue;
        };
        if header {
            header = false;
            if text.trim().eq_ignore_ascii_case("code") {
                continue;
            }
            problem(format!(
                "the first line must be the header 'code', not '{}'",
                text.chars().take(64).collect::<String>()
            ));
            continue;
        }
        let code = normalize_code(text);
        if let Some(why) = code_problem(&code) {
            problem(format!("code {why}"));
            continue;
        }
        if let Some(first) = seen.get(&code) {
            problem(format!("code '{code}' is on line {first} already"));
            continue;
        }
        if codes.len() >= MAX_CODES_PER_BATCH {
            return Err(format!(
                "line {line}: more than {MAX_CODES_PER_BATCH} codes; import them in parts"
            ));
        }
        seen.insert(code.clone(), line);
        codes.push((line, code));
    }
    if bad_count > 0 {
        return Err(format!(
            "nothing imported: {bad_count} bad line(s): {}",
            bad.join("; ")
        ));
    }
    if codes.is_empty() {
        return Err("nothing imported: the file has no codes (a header line 'code', then one code per line)".into());
    }
    Ok(codes)
}

/// `POST /admin/v1/merchants/{m}/coupon-batches/{id}/import` with a CSV body: the codes,
/// all or nothing.
#[utoipa::path(
    post,
    path = "/admin/v1/merchants/{m}/coupon-batches/{id}/import",
    operation_id = "importCoupons",
    tag = "coupons",
    security(("apiKey" = [])),
    params(
        crate::http::openapi::MerchantPath,
        ("id" = i64, Path, description = "The batch id", minimum = 1),
    ),
    request_body(content = String, content_type = "text/csv", description = "A header line `code`, then one code per line (at most 100 000 codes, 4 MiB)"),
    responses(
        (status = 200, description = "The batch, with its new counts", body = Batch),
        (status = 400, description = "A bad line (7, naming every bad line up to 20) or a code that exists already: nothing imported", body = crate::http::openapi::ErrorDoc),
        crate::http::openapi::Unauthorized,
        crate::http::openapi::Forbidden,
        crate::http::openapi::NotFound,
        crate::http::openapi::TooLarge,
    ),
)]
pub async fn import(
    State(state): State<AppState>,
    MerchantAuth(merchant): MerchantAuth,
    params: Params,
    query: QueryParams,
    raw: Raw,
) -> ApiResult<Json<Batch>> {
    query.only(&[])?;
    let id = batch_id(&params)?;
    let bytes = body::bytes(raw, MAX_IMPORT_BYTES)?;
    let codes = parse_csv(&bytes).map_err(invalid)?;
    let imported = codes.len();
    let actor = Actor::merchant(&merchant.id);
    let audit = |b: &Batch| {
        actor.did(
            "coupon_batch.import",
            json!({"id": b.id, "imported": imported, "codes": b.codes}),
        )
    };
    let batch = state
        .store()
        .add_coupon_codes(&merchant.id, id, NewCodes::Import(codes), audit)
        .await?;
    Ok(Json(batch))
}

/// `GET /admin/v1/merchants/{m}/coupon-batches/{id}/codes?limit=&cursor=` → a page of the
/// batch's codes, in code order.
#[utoipa::path(
    get,
    path = "/admin/v1/merchants/{m}/coupon-batches/{id}/codes",
    operation_id = "listCouponCodes",
    tag = "coupons",
    security(("apiKey" = [])),
    params(
        crate::http::openapi::MerchantPath,
        ("id" = i64, Path, description = "The batch id", minimum = 1),
        ("limit" = Option<u32>, Query, description = "Rows per page, 1–500 (default 50)"),
        ("cursor" = Option<String>, Query, description = "The previous page's nextCursor"),
    ),
    responses(
        (status = 200, description = "One page of codes, in code order", body = crate::store::Page<Coupon>),
        crate::http::openapi::BadInput,
        crate::http::openapi::Unauthorized,
        crate::http::openapi::Forbidden,
        crate::http::openapi::NotFound,
    ),
)]
pub async fn codes(
    State(state): State<AppState>,
    MerchantAuth(merchant): MerchantAuth,
    params: Params,
    query: QueryParams,
) -> ApiResult<Json<Page<Coupon>>> {
    Ok(Json(
        batch_page(&state, &merchant.id, &params, &query).await?,
    ))
}

async fn batch_page(
    state: &AppState,
    merchant: &str,
    params: &Params,
    query: &QueryParams,
) -> ApiResult<Page<Coupon>> {
    query.only(&["limit", "cursor"])?;
    let id = batch_id(params)?;
    let (limit, cursor) = (query.limit()?, query.cursor()?);
    let store = state.store();
    // An unknown batch is a 404, not an empty page.
    store.coupon_batch(merchant, id).await?;
    Ok(store
        .coupons(merchant, CouponFilter::Batch(id), cursor, limit)
        .await?)
}

/// One CSV field, quoted when it must be.
fn csv_field(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_owned()
    }
}

/// `GET /admin/v1/merchants/{m}/coupon-batches/{id}/export?limit=&cursor=` → the page as
/// CSV; the next page's cursor in the `X-Next-Cursor` header.
#[utoipa::path(
    get,
    path = "/admin/v1/merchants/{m}/coupon-batches/{id}/export",
    operation_id = "exportCouponCodes",
    tag = "coupons",
    security(("apiKey" = [])),
    params(
        crate::http::openapi::MerchantPath,
        ("id" = i64, Path, description = "The batch id", minimum = 1),
        ("limit" = Option<u32>, Query, description = "Rows per page, 1–500 (default 50)"),
        ("cursor" = Option<String>, Query, description = "The previous page's X-Next-Cursor"),
    ),
    responses(
        (status = 200, description = "A header line, then one code a line: code,cardId,state,uses,maxUses,validFrom,validUntil", content_type = "text/csv", body = String,
            headers(("X-Next-Cursor" = String, description = "Present when more codes follow"))),
        crate::http::openapi::BadInput,
        crate::http::openapi::Unauthorized,
        crate::http::openapi::Forbidden,
        crate::http::openapi::NotFound,
    ),
)]
pub async fn export(
    State(state): State<AppState>,
    MerchantAuth(merchant): MerchantAuth,
    params: Params,
    query: QueryParams,
) -> ApiResult<Response> {
    let page = batch_page(&state, &merchant.id, &params, &query).await?;
    let mut text = String::from("code,cardId,state,uses,maxUses,validFrom,validUntil\n");
    let time = |t: Option<i64>| t.map(|t| t.to_string()).unwrap_or_default();
    for c in &page.items {
        let state = serde_json::to_value(c.state)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default();
        text.push_str(&format!(
            "{},{},{},{},{},{},{}\n",
            csv_field(&c.code),
            csv_field(c.card_id.as_deref().unwrap_or("")),
            state,
            c.uses,
            c.max_uses,
            time(c.valid_from),
            time(c.valid_until),
        ));
    }
    let mut headers = HeaderMap::new();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/csv; charset=utf-8"),
    );
    if let Some(next) = page.next_cursor.as_deref()
        && let Ok(value) = HeaderValue::from_str(next)
    {
        headers.insert("x-next-cursor", value);
    }
    Ok((headers, text).into_response())
}

/// `GET /admin/v1/merchants/{m}/cards/{cardId}/coupons?limit=&cursor=` → the card's
/// wallet, every code with its state.
#[utoipa::path(
    get,
    path = "/admin/v1/merchants/{m}/cards/{cardId}/coupons",
    operation_id = "listCardCoupons",
    tag = "coupons",
    security(("apiKey" = [])),
    params(
        crate::http::openapi::MerchantPath,
        ("cardId" = String, Path, description = "The card id"),
        ("limit" = Option<u32>, Query, description = "Rows per page, 1–500 (default 50)"),
        ("cursor" = Option<String>, Query, description = "The previous page's nextCursor"),
    ),
    responses(
        (status = 200, description = "One page of the card's codes, in code order", body = crate::store::Page<Coupon>),
        crate::http::openapi::BadInput,
        crate::http::openapi::Unauthorized,
        crate::http::openapi::Forbidden,
        crate::http::openapi::NotFound,
    ),
)]
pub async fn wallet(
    State(state): State<AppState>,
    MerchantAuth(merchant): MerchantAuth,
    params: Params,
    query: QueryParams,
) -> ApiResult<Json<Page<Coupon>>> {
    query.only(&["limit", "cursor"])?;
    let card_id = params.card_id()?;
    let (limit, cursor) = (query.limit()?, query.cursor()?);
    let store = state.store();
    if store.card(&merchant.id, card_id).await?.is_none() {
        return Err(ApiError::NotFound(format!("card '{card_id}' not found")));
    }
    Ok(Json(
        store
            .coupons(&merchant.id, CouponFilter::Card(card_id), cursor, limit)
            .await?,
    ))
}

/// `POST /admin/v1/merchants/{m}/cards/{cardId}/coupons` `{batchId}` or `{code}` → 201
/// with the code now in the card's wallet.
#[utoipa::path(
    post,
    path = "/admin/v1/merchants/{m}/cards/{cardId}/coupons",
    operation_id = "issueCoupon",
    tag = "coupons",
    security(("apiKey" = [])),
    params(
        crate::http::openapi::MerchantPath,
        ("cardId" = String, Path, description = "The card id"),
    ),
    request_body(content = IssueRequest, description = "`batchId` (a new code of the batch) or `code` (an unassigned code)"),
    responses(
        (status = 201, description = "Issued", body = Coupon),
        crate::http::openapi::BadInput,
        crate::http::openapi::Unauthorized,
        crate::http::openapi::Forbidden,
        (status = 404, description = "No such card, batch or code (9)", body = crate::http::openapi::ErrorDoc),
        (status = 409, description = "The code belongs to a card already, or the batch has ended or has no unassigned code left (8)", body = crate::http::openapi::ErrorDoc),
        crate::http::openapi::TooLarge,
    ),
)]
pub async fn issue(
    State(state): State<AppState>,
    MerchantAuth(merchant): MerchantAuth,
    params: Params,
    query: QueryParams,
    raw: Raw,
) -> ApiResult<(StatusCode, Json<Coupon>)> {
    query.only(&[])?;
    let card_id = params.card_id()?;
    let map = input::object(raw, state.settings().max_body_bytes)?;
    let fields = Fields::new(&map, "");
    fields.only(&["batchId", "code"])?;
    let batch = fields.integer("batchId")?;
    let code = fields.string("code", 64)?;
    let actor = Actor::merchant(&merchant.id);
    let audit = |c: &Coupon| {
        actor.did(
            "coupon.issue",
            json!({"code": c.code, "cardId": c.card_id, "batchId": c.batch_id}),
        )
    };
    let store = state.store();
    let issued = match (batch, code) {
        (Some(batch), None) => {
            if batch <= 0 {
                return Err(invalid(format!(
                    "batchId must be a positive whole number, not {batch}"
                )));
            }
            store.coupon_batch(&merchant.id, batch).await?;
            store
                .issue_coupon(&merchant.id, batch, card_id, audit)
                .await?
        }
        (None, Some(code)) => {
            let code = normalize_code(&code);
            if let Some(problem) = code_problem(&code) {
                return Err(invalid(format!("code {problem}")));
            }
            store
                .assign_coupon(&merchant.id, &code, card_id, audit)
                .await?
        }
        _ => {
            return Err(invalid(
                "give exactly one of batchId (a new code of the batch) or code (an unassigned code)"
                    .into(),
            ));
        }
    };
    Ok((StatusCode::CREATED, Json(issued)))
}

/// `GET /admin/v1/merchants/{m}/coupons/{code}`
#[utoipa::path(
    get,
    path = "/admin/v1/merchants/{m}/coupons/{code}",
    operation_id = "getCoupon",
    tag = "coupons",
    security(("apiKey" = [])),
    params(
        crate::http::openapi::MerchantPath,
        ("code" = String, Path, description = "The code (any case)"),
    ),
    responses(
        (status = 200, description = "The code and its state", body = Coupon),
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
    query: QueryParams,
) -> ApiResult<Json<Coupon>> {
    query.only(&[])?;
    let code = code_param(&params)?;
    Ok(Json(state.store().coupon(&merchant.id, &code).await?))
}

async fn void_or_restore(
    state: &AppState,
    merchant: &str,
    params: &Params,
    query: &QueryParams,
    void: bool,
) -> ApiResult<Json<Coupon>> {
    query.only(&[])?;
    let code = code_param(params)?;
    let actor = Actor::merchant(merchant);
    let action = if void {
        "coupon.void"
    } else {
        "coupon.restore"
    };
    let audit = |c: &Coupon| {
        actor.did(
            action,
            json!({"code": c.code, "cardId": c.card_id, "uses": c.uses, "state": c.state}),
        )
    };
    Ok(Json(
        state
            .store()
            .void_coupon(merchant, &code, void, audit)
            .await?,
    ))
}

/// `POST /admin/v1/merchants/{m}/coupons/{code}/void`: never offered, held or redeemed
/// again until restored.
#[utoipa::path(
    post,
    path = "/admin/v1/merchants/{m}/coupons/{code}/void",
    operation_id = "voidCoupon",
    tag = "coupons",
    security(("apiKey" = [])),
    params(
        crate::http::openapi::MerchantPath,
        ("code" = String, Path, description = "The code (any case)"),
    ),
    responses(
        (status = 200, description = "Voided", body = Coupon),
        crate::http::openapi::BadInput,
        crate::http::openapi::Unauthorized,
        crate::http::openapi::Forbidden,
        crate::http::openapi::NotFound,
        (status = 409, description = "Voided already (8)", body = crate::http::openapi::ErrorDoc),
    ),
)]
pub async fn void(
    State(state): State<AppState>,
    MerchantAuth(merchant): MerchantAuth,
    params: Params,
    query: QueryParams,
) -> ApiResult<Json<Coupon>> {
    void_or_restore(&state, &merchant.id, &params, &query, true).await
}

/// `POST /admin/v1/merchants/{m}/coupons/{code}/restore`: lifts a void, or gives back the
/// last redemption's use.
#[utoipa::path(
    post,
    path = "/admin/v1/merchants/{m}/coupons/{code}/restore",
    operation_id = "restoreCoupon",
    tag = "coupons",
    security(("apiKey" = [])),
    params(
        crate::http::openapi::MerchantPath,
        ("code" = String, Path, description = "The code (any case)"),
    ),
    responses(
        (status = 200, description = "Restored", body = Coupon),
        crate::http::openapi::BadInput,
        crate::http::openapi::Unauthorized,
        crate::http::openapi::Forbidden,
        crate::http::openapi::NotFound,
        (status = 409, description = "Neither voided nor redeemed (8)", body = crate::http::openapi::ErrorDoc),
    ),
)]
pub async fn restore(
    State(state): State<AppState>,
    MerchantAuth(merchant): MerchantAuth,
    params: Params,
    query: QueryParams,
) -> ApiResult<Json<Coupon>> {
    void_or_restore(&state, &merchant.id, &params, &query, false).await
}

/// `GET /admin/v1/merchants/{m}/cards/{cardId}/profile`
#[utoipa::path(
    get,
    path = "/admin/v1/merchants/{m}/cards/{cardId}/profile",
    operation_id = "getCardProfile",
    tag = "cards",
    security(("apiKey" = [])),
    params(
        crate::http::openapi::MerchantPath,
        ("cardId" = String, Path, description = "The card id"),
    ),
    responses(
        (status = 200, description = "The card's profile", body = Profile),
        crate::http::openapi::BadInput,
        crate::http::openapi::Unauthorized,
        crate::http::openapi::Forbidden,
        crate::http::openapi::NotFound,
    ),
)]
pub async fn profile(
    State(state): State<AppState>,
    MerchantAuth(merchant): MerchantAuth,
    params: Params,
    query: QueryParams,
) -> ApiResult<Json<Profile>> {
    query.only(&[])?;
    let card_id = params.card_id()?;
    Ok(Json(
        state.store().card_profile(&merchant.id, card_id).await?,
    ))
}

/// `PUT /admin/v1/merchants/{m}/cards/{cardId}/profile` `{birthday?, attributes?}`:
/// replaces the profile (what a contract-0.3 policy sees as the card's profile).
#[utoipa::path(
    put,
    path = "/admin/v1/merchants/{m}/cards/{cardId}/profile",
    operation_id = "putCardProfile",
    tag = "cards",
    security(("apiKey" = [])),
    params(
        crate::http::openapi::MerchantPath,
        ("cardId" = String, Path, description = "The card id"),
    ),
    request_body(content = ProfileRequest, description = "birthday {month, day, year?}; attributes: at most 32, keys up to 64 characters, values up to 256"),
    responses(
        (status = 200, description = "The new profile", body = Profile),
        crate::http::openapi::BadInput,
        crate::http::openapi::Unauthorized,
        crate::http::openapi::Forbidden,
        crate::http::openapi::NotFound,
        crate::http::openapi::TooLarge,
    ),
)]
pub async fn put_profile(
    State(state): State<AppState>,
    MerchantAuth(merchant): MerchantAuth,
    params: Params,
    query: QueryParams,
    raw: Raw,
) -> ApiResult<Json<Profile>> {
    query.only(&[])?;
    let card_id = params.card_id()?;
    let map = input::object(raw, state.settings().max_body_bytes)?;
    let profile = profile_of(&map)?;
    let actor = Actor::merchant(&merchant.id);
    let audit = |p: &Profile| actor.did("card.profile", json!({"cardId": card_id, "profile": p}));
    Ok(Json(
        state
            .store()
            .set_card_profile(&merchant.id, card_id, &profile, audit)
            .await?,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_csv_import_names_every_bad_line_and_imports_nothing() {
        let codes = parse_csv(b"code\nspring-1\r\nSPRING-2\n").unwrap();
        assert_eq!(
            codes,
            [(2, "SPRING-1".to_owned()), (3, "SPRING-2".to_owned())]
        );
        let bad = parse_csv(b"code\nGOOD-1\nbad code\nGOOD-1\n\"a,b\"\nx,y\n").unwrap_err();
        assert!(bad.starts_with("nothing imported: 4 bad line(s)"), "{bad}");
        assert!(bad.contains("line 3: code may hold only"), "{bad}");
        assert!(
            bad.contains("line 4: code 'GOOD-1' is on line 2 already"),
            "{bad}"
        );
        assert!(bad.contains("line 5: code may hold only"), "{bad}");
        assert!(bad.contains("line 6: 2 columns"), "{bad}");
        let crlf = parse_csv(b"code\r\nA-1\r\nbad code\r\n\r\nB 2\r\n").unwrap_err();
        assert!(crlf.contains("line 3: code may hold only"), "{crlf}");
        assert!(crlf.contains("line 5: code may hold only"), "{crlf}");
        let header = parse_csv(b"codes\nA-1\n").unwrap_err();
        assert!(
            header.contains("line 1: the first line must be the header 'code'"),
            "{header}"
        );
        assert!(parse_csv(b"code\n").unwrap_err().contains("no codes"));
        assert!(parse_csv(b"").unwrap_err().contains("no codes"));
        let not_utf8 = parse_csv(b"code\n\xff\xfe\n").unwrap_err();
        assert!(not_utf8.contains("line 2: not UTF-8"), "{not_utf8}");
    }
}
