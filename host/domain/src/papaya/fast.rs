//! The fast path of Papaya's bodies: the bytes straight into the order, in one pass, with no
//! `serde_json::Value` tree for the bill (the slow path builds one to name every problem
//! exactly, which made the allocator the top of a 200-line request's profile).
//!
//! It answers only bodies it is sure about: a body the slow path would accept, read into
//! exactly the order the slow path would build. Anything else — any error, anything
//! unusual (a duplicate key, a line that is not an object, an amount out of range, a NUL,
//! a top-level value nested too deep) — returns `None`, and the caller runs the slow path,
//! which finds the problem and names it with its usual id and message. So the errors are
//! the slow path's, unchanged; `fuzz::fast_path_agrees_with_the_slow_path` checks that on
//! both sides of the fence.

use std::borrow::Cow;
use std::fmt;

use rust_decimal::Decimal;
use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};

use super::ORDER_FIELDS;
use super::fields::Fields;
use crate::limits;
use crate::model::{Order, OrderItem, Pos};

/// Fields without a place of their own, per object, that the fast path takes; a body with
/// more goes to the slow path.
const MAX_FAST_EXTRA: usize = 32;

/// A body's fields as read in one pass. Top-level fields without a place of their own are
/// kept as `Value`s (few, small), in key order.
pub(super) struct Body {
    pub(super) card_id: String,
    pub(super) order: Order,
    /// Top-level fields that are not `ORDER_FIELDS` (`event`, `paid`, extra fields), in
    /// key order, each once.
    pub(super) extra: Map<String, Value>,
}

/// Reads `body` in one pass, or `None` when the slow path must decide (see the module).
pub(super) fn body(body: &[u8], default_status: &str) -> Option<Body> {
    let mut de = serde_json::Deserializer::from_slice(body);
    let raw = <RawBody as de::Deserialize>::deserialize(&mut de).ok()?;
    de.end().ok()?;
    raw.into_body(default_status)
}

/// Builds the order from what the fast pass read, applying every check of the slow path;
/// `None` where one fails.
impl<'de> RawBody<'de> {
    fn into_body(self, default_status: &str) -> Option<Body> {
        let items = match self.order_items {
            None => Vec::new(),
            Some(lines) => lines
                .into_iter()
                .map(RawLine::into_item)
                .collect::<Option<Vec<_>>>()?,
        };
        // The slow path's order: every top-level field it neither reads nor is told to
        // leave out becomes an attribute, as its compact JSON text.
        let mut extra = Map::new();
        for (key, value) in self.extra {
            if key.contains('\0')
                || limits::find_nul(&value).is_some()
                || 1 + limits::json_depth(&value) > limits::MAX_JSON_DEPTH
            {
                return None;
            }
            extra.insert(key, value);
        }
        let order = Order {
            order_id: id(self.order_id)?,
            pos: Pos::Papaya,
            status: opt_text(self.status)?.unwrap_or_else(|| default_status.to_owned()),
            total: non_negative(amount(self.total)?)?,
            total_without_vat: opt_non_negative(self.total_without_vat)?,
            vat: opt_non_negative(self.vat)?,
            currency: match opt_text(self.currency)? {
                None => "EUR".to_owned(),
                Some(code) if code.len() == 3 && code.bytes().all(|b| b.is_ascii_alphabetic()) => {
                    code.to_ascii_uppercase()
                }
                Some(_) => return None,
            },
            created: time(self.created)?,
            updated: time(self.updated)?,
            branch_id: opt_text(self.branch_id)?,
            note: opt_text(self.note)?,
            items,
            attributes: Vec::new(),
        };
        Some(Body {
            card_id: id(self.card_id)?,
            order,
            extra,
        })
    }
}

impl RawLine<'_> {
    fn into_item(self) -> Option<OrderItem> {
        Some(OrderItem {
            id: opt_text(self.id)?.unwrap_or_default(),
            product_id: id(self.product_id)?,
            name: opt_text(self.name)?.unwrap_or_default(),
            description: opt_text(self.description)?,
            quantity: non_negative(amount(self.quantity)?)?,
            unit_price: amount(self.unit_price)?,
            total_price: amount(self.total_price)?,
            vat: opt_amount(self.vat)?,
            vat_rate: match opt_amount(self.vat_rate)? {
                Some(rate) if rate < Decimal::ZERO || rate > Decimal::ONE_HUNDRED => return None,
                rate => rate,
            },
            category_id: opt_text(self.category_id)?,
            category_name: opt_text(self.category_name)?,
            ean: opt_text(self.ean)?,
            note: opt_text(self.note)?,
        })
    }
}

/// Endpoint 2's own fields, read from the extras with the slow path's own rules; `None`
/// where any of them is not plainly right.
pub(super) fn completed_fields(extra: &Map<String, Value>) -> Option<(bool, Option<i64>)> {
    let top = Fields::new(extra, String::new());
    if top.string("event").ok()?? != super::ORDER_COMPLETED {
        return None;
    }
    let paid = super::paid(&top).ok()?;
    let completed = top.time("completed").ok()?;
    Some((paid, completed))
}

/// The attributes of an order: the extras except `not_attributes`, as compact JSON text.
pub(super) fn attributes(
    extra: &Map<String, Value>,
    not_attributes: &[&str],
) -> Vec<(String, String)> {
    extra
        .iter()
        .filter(|(key, _)| !not_attributes.contains(&key.as_str()))
        .map(|(key, value)| (key.clone(), value.to_string()))
        .collect()
}

// ---------------------------------------------------------------------------------------
// The checks, as `Fields` makes them (`None` instead of an error).

fn opt_text(text: Option<Text<'_>>) -> Option<Option<String>> {
    match text {
        None => Some(None),
        Some(text) if text.0.contains('\0') => None,
        Some(text) => Some(Some(text.0.into_owned())),
    }
}

fn id(text: Option<Text<'_>>) -> Option<String> {
    let text = opt_text(text)??;
    if text.trim().is_empty() || text.chars().any(char::is_control) {
        return None;
    }
    Some(text)
}

fn opt_amount(number: Option<Number>) -> Option<Option<Decimal>> {
    match number {
        None => Some(None),
        Some(number) => {
            let value = crate::money::json::from_number(&number)?;
            limits::amount_in_range(value).then_some(Some(value))
        }
    }
}

fn amount(number: Option<Number>) -> Option<Decimal> {
    opt_amount(number)?
}

fn opt_non_negative(number: Option<Number>) -> Option<Option<Decimal>> {
    match opt_amount(number)? {
        None => Some(None),
        Some(value) => non_negative(value).map(Some),
    }
}

fn non_negative(value: Decimal) -> Option<Decimal> {
    (value >= Decimal::ZERO).then_some(value)
}

fn time(text: Option<Text<'_>>) -> Option<Option<i64>> {
    use time::{OffsetDateTime, format_description::well_known::Rfc3339};
    match text {
        None => Some(None),
        Some(text) => {
            let time = OffsetDateTime::parse(&text.0, &Rfc3339).ok()?;
            let millis = i64::try_from(time.unix_timestamp_nanos().div_euclid(1_000_000)).ok()?;
            Some(Some(millis))
        }
    }
}

// ---------------------------------------------------------------------------------------
// The one pass: serde visitors over the body's two object shapes. A wrong type is a serde
// error (so `None`), a duplicate key too; `null` counts as absent, as in the slow path.

/// A JSON string, borrowed from the body when it has no escapes.
struct Text<'de>(Cow<'de, str>);

impl<'de> de::Deserialize<'de> for Text<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct TextVisitor;
        impl<'de> Visitor<'de> for TextVisitor {
            type Value = Text<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Text<'de>, E> {
                Ok(Text(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Text<'de>, E> {
                Ok(Text(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Text<'de>, E> {
                Ok(Text(Cow::Owned(v)))
            }
        }
        deserializer.deserialize_str(TextVisitor)
    }
}

/// Sets `slot` once; a second value for the same key is an error (the slow path keeps the
/// last one; rather than copy that, the fast path leaves such a body to it).
fn set<'de, A: MapAccess<'de>, T: de::Deserialize<'de>>(
    map: &mut A,
    slot: &mut Option<Option<T>>,
) -> Result<(), A::Error> {
    if slot.is_some() {
        return Err(de::Error::custom("duplicate key"));
    }
    *slot = Some(map.next_value::<Option<T>>()?);
    Ok(())
}

#[derive(Default)]
struct RawBody<'de> {
    order_id: Option<Text<'de>>,
    card_id: Option<Text<'de>>,
    status: Option<Text<'de>>,
    total: Option<Number>,
    total_without_vat: Option<Number>,
    currency: Option<Text<'de>>,
    vat: Option<Number>,
    created: Option<Text<'de>>,
    updated: Option<Text<'de>>,
    branch_id: Option<Text<'de>>,
    note: Option<Text<'de>>,
    order_items: Option<Vec<RawLine<'de>>>,
    extra: Vec<(String, Value)>,
}

impl<'de> de::Deserialize<'de> for RawBody<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(BodyVisitor)
    }
}

struct BodyVisitor;

impl<'de> Visitor<'de> for BodyVisitor {
    type Value = RawBody<'de>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a Papaya body")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawBody<'de>, A::Error> {
        let (mut order_id, mut card_id, mut status, mut total, mut total_without_vat) =
            (None, None, None, None, None);
        let (mut currency, mut vat, mut created, mut updated, mut branch_id, mut note) =
            (None, None, None, None, None, None);
        let mut order_items: Option<Option<Lines<'de>>> = None;
        let mut extra: Vec<(String, Value)> = Vec::new();
        while let Some(key) = map.next_key::<Text<'de>>()? {
            match key.0.as_ref() {
                "orderId" => set(&mut map, &mut order_id)?,
                "cardId" => set(&mut map, &mut card_id)?,
                "status" => set(&mut map, &mut status)?,
                "total" => set(&mut map, &mut total)?,
                "totalWithoutVat" => set(&mut map, &mut total_without_vat)?,
                "currency" => set(&mut map, &mut currency)?,
                "vat" => set(&mut map, &mut vat)?,
                "created" => set(&mut map, &mut created)?,
                "updated" => set(&mut map, &mut updated)?,
                "branchId" => set(&mut map, &mut branch_id)?,
                "note" => set(&mut map, &mut note)?,
                "orderItems" => set(&mut map, &mut order_items)?,
                other => {
                    debug_assert!(!ORDER_FIELDS.contains(&other));
                    // Few in a real body; past that, the slow path (and no quadratic check).
                    if extra.len() >= MAX_FAST_EXTRA || extra.iter().any(|(k, _)| k == other) {
                        return Err(de::Error::custom("refer to the slow path"));
                    }
                    let value: Value = map.next_value()?;
                    // `null` is absent for the fields the slow path reads, and an
                    // attribute like any other value: kept as it is.
                    extra.push((key.0.into_owned(), value));
                }
            }
        }
        Ok(RawBody {
            order_id: order_id.flatten(),
            card_id: card_id.flatten(),
            status: status.flatten(),
            total: total.flatten(),
            total_without_vat: total_without_vat.flatten(),
            currency: currency.flatten(),
            vat: vat.flatten(),
            created: created.flatten(),
            updated: updated.flatten(),
            branch_id: branch_id.flatten(),
            note: note.flatten(),
            order_items: order_items.flatten().map(|lines| lines.0),
            extra,
        })
    }
}

/// `orderItems`: an array of line objects.
struct Lines<'de>(Vec<RawLine<'de>>);

impl<'de> de::Deserialize<'de> for Lines<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct LinesVisitor;
        impl<'de> Visitor<'de> for LinesVisitor {
            type Value = Lines<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an array of lines")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Lines<'de>, A::Error> {
                let mut lines = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(1024));
                while let Some(line) = seq.next_element_seed(LineSeed)? {
                    lines.push(line);
                }
                Ok(Lines(lines))
            }
        }
        deserializer.deserialize_seq(LinesVisitor)
    }
}

#[derive(Default)]
struct RawLine<'de> {
    id: Option<Text<'de>>,
    product_id: Option<Text<'de>>,
    name: Option<Text<'de>>,
    description: Option<Text<'de>>,
    quantity: Option<Number>,
    unit_price: Option<Number>,
    total_price: Option<Number>,
    vat: Option<Number>,
    vat_rate: Option<Number>,
    category_id: Option<Text<'de>>,
    category_name: Option<Text<'de>>,
    ean: Option<Text<'de>>,
    note: Option<Text<'de>>,
}

struct LineSeed;

impl<'de> DeserializeSeed<'de> for LineSeed {
    type Value = RawLine<'de>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<RawLine<'de>, D::Error> {
        deserializer.deserialize_map(LineVisitor)
    }
}

struct LineVisitor;

impl<'de> Visitor<'de> for LineVisitor {
    type Value = RawLine<'de>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a line object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawLine<'de>, A::Error> {
        let (mut id, mut product_id, mut name, mut description) = (None, None, None, None);
        let (mut quantity, mut unit_price, mut total_price, mut vat, mut vat_rate) =
            (None, None, None, None, None);
        let (mut category_id, mut category_name, mut ean, mut note) = (None, None, None, None);
        let mut unknown: Vec<Cow<'de, str>> = Vec::new();
        while let Some(key) = map.next_key::<Text<'de>>()? {
            match key.0.as_ref() {
                "id" => set(&mut map, &mut id)?,
                "productId" => set(&mut map, &mut product_id)?,
                "name" => set(&mut map, &mut name)?,
                "description" => set(&mut map, &mut description)?,
                "quantity" => set(&mut map, &mut quantity)?,
                "unitPrice" => set(&mut map, &mut unit_price)?,
                "totalPrice" => set(&mut map, &mut total_price)?,
                "vat" => set(&mut map, &mut vat)?,
                "vatRate" => set(&mut map, &mut vat_rate)?,
                "categoryId" => set(&mut map, &mut category_id)?,
                "categoryName" => set(&mut map, &mut category_name)?,
                "ean" => set(&mut map, &mut ean)?,
                "note" => set(&mut map, &mut note)?,
                _ => {
                    // Dropped, as in the slow path; but it must pass the slow path's body
                    // checks (no NUL in its key or text, not nested too deep: the line is
                    // 3 levels down), and appear once.
                    if key.0.contains('\0')
                        || unknown.len() >= MAX_FAST_EXTRA
                        || unknown.contains(&key.0)
                    {
                        return Err(de::Error::custom("refer to the slow path"));
                    }
                    let value: Value = map.next_value()?;
                    if limits::find_nul(&value).is_some()
                        || 3 + limits::json_depth(&value) > limits::MAX_JSON_DEPTH
                    {
                        return Err(de::Error::custom("refer to the slow path"));
                    }
                    unknown.push(key.0);
                }
            }
        }
        Ok(RawLine {
            id: id.flatten(),
            product_id: product_id.flatten(),
            name: name.flatten(),
            description: description.flatten(),
            quantity: quantity.flatten(),
            unit_price: unit_price.flatten(),
            total_price: total_price.flatten(),
            vat: vat.flatten(),
            vat_rate: vat_rate.flatten(),
            category_id: category_id.flatten(),
            category_name: category_name.flatten(),
            ean: ean.flatten(),
            note: note.flatten(),
        })
    }
}
