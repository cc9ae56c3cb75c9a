//! The one-buffer layout of a policy's input (contracts `rabat:rules@0.2.0` and
//! `rabat:rules@0.3.0`).
//!
//! The host writes the bill, its lines and attributes, the card, the merchant's config and
//! the till's last offer into one byte buffer ([`Encoder`]); the guest receives it in one
//! copy and the SDK reads it in place ([`Input`]): no allocation per value, and only what
//! a policy reads is ever looked at. Policy authors never see this layout; the SDK gives
//! them typed views.
//!
//! # Layout (all integers little-endian)
//!
//! ```text
//! header   (HEADER_LEN bytes)  magic "RBW\x02", then u32 fields: total length,
//!                              string table (offset, length), items (offset, count),
//!                              attributes, card tags, offer discounts (each offset,
//!                              count), order record offset, card record offset (0: no
//!                              card), offer record offset (0: no offer), config (string)
//! extension (EXT_HEADER_LEN bytes, 0.3) magic "RBX\x03", then u32 fields: the
//!                              extension's length, wallet (offset, count), profile
//!                              attributes (offset, count), card extras record offset
//!                              (0: no card)
//! records  fixed-size, one section per kind (ORDER_LEN, ITEM_LEN, ATTRIBUTE_LEN,
//!          CARD_LEN, TAG_LEN, OFFER_LEN, OFFER_DISCOUNT_LEN, and for 0.3
//!          CARD_EXTRAS_LEN, WALLET_COUPON_LEN, PROFILE_ATTRIBUTE_LEN bytes each)
//! strings  UTF-8 text, referenced by the records
//! ```
//!
//! # One buffer for 0.2 and 0.3
//!
//! Contract 0.3 adds to the card its available points, its wallet of coupons and the
//! customer's profile. They live in the **extension**: a second header right after the
//! 0.2 header, and sections of their own. The 0.2 header, its magic and every 0.2 record
//! keep their sizes and meaning, and the 0.2 reader (`Layout::check` as released with
//! 0.2) only checks the magic, that the total length is the buffer's, and that every
//! section it knows lies inside the buffer at or after its header: it never looks at the
//! bytes between its header and the order record. So the host writes one buffer, with
//! the extension, for 0.2 and 0.3 policies alike; a 0.2 policy reads it unchanged (the
//! sandbox's 0.2 fixtures, built by the 0.2 SDK, run on it).
//!
//! A reader finds the extension by its magic right after the 0.2 header, with the order
//! record after it; a buffer without one (written by a 0.2 encoder) reads as a card with
//! its balance available, an empty wallet and no profile.
//!
//! 0.3 record fields:
//! - card extras: available points `i64`, birthday month `u8` (0: no birthday), day `u8`,
//!   year `u16` (0: unknown), pending (not yet vested) points `i64`, the next expiry's time
//!   (optional time) and points `i64`;
//! - wallet coupon: code, batch (strings), value kind `u8` (0: amount, 1: percentage),
//!   value (decimal), min bill (optional decimal), valid until (optional time);
//! - profile attribute: key, value (strings).
//!
//! Field encodings inside records:
//! - a string is `(u32 offset, u32 length)` into the string table; an absent optional
//!   string has offset `u32::MAX`;
//! - a decimal is an `i64` mantissa and a `u8` scale (value = mantissa × 10^-scale, scale
//!   ≤ 28); an absent optional decimal has scale `0xFF`. Decimals whose mantissa does not
//!   fit an `i64` are rounded to fewer places until it does ([`decimal_parts`]), as the
//!   0.1 contract's `decimal` did;
//! - an optional time (epoch ms) is an `i64`, absent as `i64::MIN`.
//!
//! # Safety of the reader
//!
//! [`Input::open`] checks the header (magic, that every section lies inside the buffer)
//! in O(1). Every field read is bounds-checked when it happens; a string is checked to
//! be in the string table and to be UTF-8 when it is read. A malformed buffer gives an
//! [`Error`] naming the field, never a panic; the crate has no `unsafe`.
#![no_std]

extern crate alloc;

use alloc::vec::Vec;
use core::fmt;

use rust_decimal::Decimal;

/// The first four bytes of every buffer: "RBW" and the layout's version.
pub const MAGIC: [u8; 4] = *b"RBW\x02";

/// Bytes of the header.
pub const HEADER_LEN: usize = 4 + 4 * 16;
/// Bytes of the order record.
pub const ORDER_LEN: usize = 6 * STR + 3 * DEC + 2 * TIME;
/// Bytes of one bill line.
pub const ITEM_LEN: usize = 8 * STR + 5 * DEC;
/// Bytes of one attribute (key, value).
pub const ATTRIBUTE_LEN: usize = 2 * STR;
/// Bytes of the card record.
pub const CARD_LEN: usize = 4 * STR + 8 + 4 + DEC + 2 * TIME;
/// Bytes of one card tag.
pub const TAG_LEN: usize = STR;
/// Bytes of the offer record.
pub const OFFER_LEN: usize = DEC + 8 + 8;
/// Bytes of one offered discount.
pub const OFFER_DISCOUNT_LEN: usize = 4 * STR + DEC + 8;
/// The first four bytes of the 0.3 extension, right after the 0.2 header.
pub const EXT_MAGIC: [u8; 4] = *b"RBX\x03";
/// Bytes of the 0.3 extension header.
pub const EXT_HEADER_LEN: usize = 4 + 4 * 6;
/// Bytes of the card extras record (0.3).
pub const CARD_EXTRAS_LEN: usize = 8 + 1 + 1 + 2 + 8 + TIME + 8;
/// Bytes of one wallet coupon (0.3).
pub const WALLET_COUPON_LEN: usize = 2 * STR + 1 + 2 * DEC + TIME;
/// Bytes of one profile attribute (0.3).
pub const PROFILE_ATTRIBUTE_LEN: usize = 2 * STR;

const STR: usize = 8;
const DEC: usize = 9;
const TIME: usize = 8;
const NO_STRING: u32 = u32::MAX;
const NO_DECIMAL: u8 = 0xFF;
const NO_TIME: i64 = i64::MIN;
const MAX_SCALE: u8 = 28;

// Header fields: byte offsets of the u32 words after the magic.
const H_TOTAL: usize = 4;
const H_STRINGS: usize = 8; // offset, length
const H_ITEMS: usize = 16; // offset, count
const H_ATTRIBUTES: usize = 24;
const H_TAGS: usize = 32;
const H_OFFER_DISCOUNTS: usize = 40;
const H_ORDER: usize = 48;
const H_CARD: usize = 52;
const H_OFFER: usize = 56;
const H_CONFIG: usize = 60; // a string: offset, length

// Extension header fields (0.3): byte offsets from the buffer's start.
const X_LEN: usize = HEADER_LEN + 4;
const X_WALLET: usize = HEADER_LEN + 8; // offset, count
const X_PROFILE: usize = HEADER_LEN + 16; // offset, count
const X_CARD_EXTRAS: usize = HEADER_LEN + 24;

// ---------------------------------------------------------------------------------------
// Errors

/// Why a buffer cannot be read: what was wrong and where.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Error {
    /// The part of the input, e.g. `item.category_name` or `header`.
    pub field: &'static str,
    /// What was wrong with it.
    pub kind: ErrorKind,
}

/// What was wrong with a part of the buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// Shorter than its header says, or than a header.
    Truncated,
    /// Not this layout (wrong magic or version).
    BadMagic,
    /// A section or a string lies (partly) outside the buffer.
    OutOfBounds,
    /// A string is not UTF-8.
    NotUtf8,
    /// A decimal's scale is over 28.
    BadScale(u8),
    /// A required value is marked absent.
    Missing,
    /// A kind tag (e.g. a coupon value's) that the layout does not define.
    BadKind(u8),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = self.field;
        match self.kind {
            ErrorKind::Truncated => write!(f, "input {what}: the buffer is truncated"),
            ErrorKind::BadMagic => write!(
                f,
                "input {what}: not a rabat:rules input buffer (wrong magic or version)"
            ),
            ErrorKind::OutOfBounds => write!(f, "input {what}: out of the buffer's bounds"),
            ErrorKind::NotUtf8 => write!(f, "input {what}: text is not UTF-8"),
            ErrorKind::BadScale(scale) => {
                write!(f, "input {what}: decimal scale {scale} is over 28")
            }
            ErrorKind::Missing => write!(f, "input {what}: a required value is absent"),
            ErrorKind::BadKind(kind) => write!(f, "input {what}: unknown kind {kind}"),
        }
    }
}

impl core::error::Error for Error {}

fn err(field: &'static str, kind: ErrorKind) -> Error {
    Error { field, kind }
}

// ---------------------------------------------------------------------------------------
// Decimals

/// A decimal as the layout stores it: mantissa and scale. A decimal whose mantissa does
/// not fit an `i64` is rounded (half away from zero… as `round_dp` does) to fewer places
/// until it does; at scale 0 it saturates at `i64::MIN`/`i64::MAX`. Every amount the
/// host hands a policy is far inside this range.
pub fn decimal_parts(value: Decimal) -> (i64, u8) {
    let mut value = value;
    loop {
        let mantissa = value.mantissa();
        if let Ok(m) = i64::try_from(mantissa) {
            // A `Decimal`'s scale is at most 28.
            return (m, u8::try_from(value.scale()).unwrap_or(MAX_SCALE));
        }
        if value.scale() == 0 {
            return (if mantissa < 0 { i64::MIN } else { i64::MAX }, 0);
        }
        value = value.round_dp(value.scale() - 1);
    }
}

// ---------------------------------------------------------------------------------------
// Encoder

/// The bill as the encoder takes it: borrowed text, so the host copies each string once,
/// into the buffer.
#[derive(Debug, Clone, Copy)]
pub struct OrderFields<'a> {
    pub order_id: &'a str,
    pub pos: &'a str,
    pub status: &'a str,
    pub total: Decimal,
    pub total_without_vat: Option<Decimal>,
    pub vat: Option<Decimal>,
    pub currency: &'a str,
    pub created: Option<i64>,
    pub updated: Option<i64>,
    pub branch_id: Option<&'a str>,
    pub note: Option<&'a str>,
}

/// One bill line as the encoder takes it.
#[derive(Debug, Clone, Copy)]
pub struct ItemFields<'a> {
    pub id: &'a str,
    pub product_id: &'a str,
    pub name: &'a str,
    pub description: Option<&'a str>,
    pub quantity: Decimal,
    pub unit_price: Decimal,
    pub total_price: Decimal,
    pub vat: Option<Decimal>,
    pub vat_rate: Option<Decimal>,
    pub category_id: Option<&'a str>,
    pub category_name: Option<&'a str>,
    pub ean: Option<&'a str>,
    pub note: Option<&'a str>,
}

/// The card as the encoder takes it (its tags go through [`Encoder::tag`]).
#[derive(Debug, Clone, Copy)]
pub struct CardFields<'a> {
    pub card_id: &'a str,
    pub customer_id: Option<&'a str>,
    pub name: Option<&'a str>,
    pub tier: Option<&'a str>,
    pub points: i64,
    pub visits: u32,
    pub total_spent: Decimal,
    pub first_visit: Option<i64>,
    pub last_visit: Option<i64>,
}

/// The till's last offer as the encoder takes it (its discounts go through
/// [`Encoder::offer_discount`]).
#[derive(Debug, Clone, Copy)]
pub struct OfferFields {
    pub total_discount: Decimal,
    pub held_points: u64,
    pub offered_at: i64,
}

/// One offered discount as the encoder takes it.
#[derive(Debug, Clone, Copy)]
pub struct OfferDiscountFields<'a> {
    pub kind: &'a str,
    pub product_id: Option<&'a str>,
    pub code: Option<&'a str>,
    pub description: &'a str,
    pub amount: Decimal,
    pub points: u64,
}

/// The 0.3 part of the card as the encoder takes it (its wallet and profile attributes
/// go through [`Encoder::wallet_coupon`] and [`Encoder::profile_attribute`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CardExtrasFields {
    /// The balance minus what the card's other open orders hold.
    pub available_points: i64,
    /// The birthday: month (1–12), day, year when known.
    pub birthday: Option<BirthdayFields>,
    /// Points on the card not vested yet (part of the balance, not spendable).
    pub pending_points: i64,
    /// The next expiry: when (epoch ms) and how many points.
    pub next_expiry: Option<(i64, i64)>,
}

/// A birthday as the layout stores it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BirthdayFields {
    pub month: u8,
    pub day: u8,
    pub year: Option<u16>,
}

/// What a wallet coupon is worth.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CouponValue {
    /// An amount in the merchant's currency.
    Amount(Decimal),
    /// A percentage of the bill.
    Percentage(Decimal),
}

/// One wallet coupon as the encoder takes it.
#[derive(Debug, Clone, Copy)]
pub struct WalletCouponFields<'a> {
    pub code: &'a str,
    pub batch: &'a str,
    pub value: CouponValue,
    pub min_bill: Option<Decimal>,
    pub valid_until: Option<i64>,
}

/// How many records of each kind a buffer holds: the encoder lays out the fixed-size
/// sections from these before any string is written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub items: usize,
    pub attributes: usize,
    pub card: bool,
    pub tags: usize,
    pub offer: bool,
    pub offer_discounts: usize,
    /// 0.3: wallet coupons of the card.
    pub wallet: usize,
    /// 0.3: the customer's profile attributes.
    pub profile_attributes: usize,
}

/// Why a buffer could not be written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EncodeError {
    /// The input is over 4 GiB (offsets are 32-bit).
    TooLarge,
    /// More or fewer records of one kind were written than [`Counts`] said.
    CountMismatch(&'static str),
    /// The order record or the config was not written.
    Missing(&'static str),
}

impl fmt::Display for EncodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EncodeError::TooLarge => f.write_str("the policy input is over 4 GiB"),
            EncodeError::CountMismatch(what) => {
                write!(
                    f,
                    "the number of {what} written differs from the count given"
                )
            }
            EncodeError::Missing(what) => write!(f, "the {what} was not written"),
        }
    }
}

impl core::error::Error for EncodeError {}

#[derive(Debug, Clone, Copy)]
struct Section {
    at: usize,
    count: usize,
    written: usize,
    len: usize,
}

impl Section {
    fn new(at: usize, count: usize, len: usize) -> Section {
        Section {
            at,
            count,
            written: 0,
            len,
        }
    }

    fn end(&self) -> usize {
        self.at + self.count * self.len
    }

    /// Where the next record goes, if one more fits.
    fn next(&mut self) -> Option<usize> {
        (self.written < self.count).then(|| {
            let at = self.at + self.written * self.len;
            self.written += 1;
            at
        })
    }
}

/// Writes one input buffer. Create it with the [`Counts`], write the order, its items,
/// attributes, the card and its tags, the config and the offer and its discounts (in any
/// order), then [`Encoder::finish`].
#[derive(Debug)]
pub struct Encoder {
    buf: Vec<u8>,
    strings_at: usize,
    too_large: bool,
    items: Section,
    attributes: Section,
    tags: Section,
    offer_discounts: Section,
    order: Section,
    card: Section,
    card_extras: Section,
    offer: Section,
    wallet: Section,
    profile_attributes: Section,
    config: bool,
}

impl Encoder {
    /// An encoder for `counts` records; `string_bytes` is a guess of the text's size (for
    /// one allocation).
    pub fn new(counts: Counts, string_bytes: usize) -> Encoder {
        let order = Section::new(HEADER_LEN + EXT_HEADER_LEN, 1, ORDER_LEN);
        let card = Section::new(order.end(), usize::from(counts.card), CARD_LEN);
        let card_extras = Section::new(card.end(), usize::from(counts.card), CARD_EXTRAS_LEN);
        let offer = Section::new(card_extras.end(), usize::from(counts.offer), OFFER_LEN);
        let items = Section::new(offer.end(), counts.items, ITEM_LEN);
        let attributes = Section::new(items.end(), counts.attributes, ATTRIBUTE_LEN);
        let tags = Section::new(attributes.end(), counts.tags, TAG_LEN);
        let offer_discounts = Section::new(tags.end(), counts.offer_discounts, OFFER_DISCOUNT_LEN);
        let wallet = Section::new(offer_discounts.end(), counts.wallet, WALLET_COUPON_LEN);
        let profile_attributes = Section::new(
            wallet.end(),
            counts.profile_attributes,
            PROFILE_ATTRIBUTE_LEN,
        );
        let strings_at = profile_attributes.end();
        let mut buf = Vec::with_capacity(strings_at.saturating_add(string_bytes));
        buf.resize(strings_at, 0);
        let mut encoder = Encoder {
            buf,
            strings_at,
            too_large: u32::try_from(strings_at).is_err(),
            items,
            attributes,
            tags,
            offer_discounts,
            order,
            card,
            card_extras,
            offer,
            wallet,
            profile_attributes,
            config: false,
        };
        encoder.buf[..4].copy_from_slice(&MAGIC);
        encoder.buf[HEADER_LEN..HEADER_LEN + 4].copy_from_slice(&EXT_MAGIC);
        encoder.put_u32(X_LEN, EXT_HEADER_LEN);
        let sections = [
            (H_ITEMS, items),
            (H_ATTRIBUTES, attributes),
            (H_TAGS, tags),
            (H_OFFER_DISCOUNTS, offer_discounts),
            (X_WALLET, wallet),
            (X_PROFILE, profile_attributes),
        ];
        for (at, section) in sections {
            encoder.put_u32(at, section.at);
            encoder.put_u32(at + 4, section.count);
        }
        encoder.put_u32(H_ORDER, order.at);
        encoder.put_u32(H_CARD, if counts.card { card.at } else { 0 });
        encoder.put_u32(X_CARD_EXTRAS, if counts.card { card_extras.at } else { 0 });
        encoder.put_u32(H_OFFER, if counts.offer { offer.at } else { 0 });
        encoder.put_u32(H_STRINGS, strings_at);
        encoder
    }

    fn put_u32(&mut self, at: usize, value: usize) {
        let value = u32::try_from(value).unwrap_or_else(|_| {
            self.too_large = true;
            0
        });
        self.buf[at..at + 4].copy_from_slice(&value.to_le_bytes());
    }

    /// Appends `text` to the string table; its reference.
    fn string(&mut self, text: &str) -> [u8; STR] {
        let offset = self.buf.len() - self.strings_at;
        self.buf.extend_from_slice(text.as_bytes());
        let (Ok(offset), Ok(len)) = (u32::try_from(offset), u32::try_from(text.len())) else {
            self.too_large = true;
            return [0; STR];
        };
        let mut out = [0; STR];
        out[..4].copy_from_slice(&offset.to_le_bytes());
        out[4..].copy_from_slice(&len.to_le_bytes());
        out
    }

    fn opt_string(&mut self, text: Option<&str>) -> [u8; STR] {
        match text {
            Some(text) => self.string(text),
            None => {
                let mut out = [0; STR];
                out[..4].copy_from_slice(&NO_STRING.to_le_bytes());
                out
            }
        }
    }

    fn record<const N: usize>(&mut self, at: usize, fields: &[Field<'_>]) {
        // Each field is copied at its own fixed size, which the compiler turns into a move or
        // two; copying a slice of the field's length instead made every field a `memmove`
        // call (a quarter of the time of a 200-line bill's input, BENCHMARKS.md).
        let mut rec = RecordOut::<N> {
            bytes: [0u8; N],
            pos: 0,
        };
        for field in fields {
            match *field {
                Field::Str(text) => rec.put(self.string(text)),
                Field::OptStr(text) => rec.put(self.opt_string(text)),
                Field::Dec(value) => rec.put(dec_bytes(Some(value))),
                Field::OptDec(value) => rec.put(dec_bytes(value)),
                Field::Time(value) => rec.put(value.unwrap_or(NO_TIME).to_le_bytes()),
                Field::I64(value) => rec.put(value.to_le_bytes()),
                Field::U64(value) => rec.put(value.to_le_bytes()),
                Field::U32(value) => rec.put(value.to_le_bytes()),
                Field::U16(value) => rec.put(value.to_le_bytes()),
                Field::U8(value) => rec.put([value]),
            }
        }
        debug_assert_eq!(rec.pos, N);
        if let Some(slot) = self.buf.get_mut(at..at + N) {
            slot.copy_from_slice(&rec.bytes);
        }
    }

    /// Writes the order record (once; a second call overwrites the first).
    pub fn order(&mut self, o: &OrderFields<'_>) {
        self.order.written = 0;
        let Some(at) = self.order.next() else { return };
        self.record::<ORDER_LEN>(
            at,
            &[
                Field::Str(o.order_id),
                Field::Str(o.pos),
                Field::Str(o.status),
                Field::Dec(o.total),
                Field::OptDec(o.total_without_vat),
                Field::OptDec(o.vat),
                Field::Str(o.currency),
                Field::Time(o.created),
                Field::Time(o.updated),
                Field::OptStr(o.branch_id),
                Field::OptStr(o.note),
            ],
        );
    }

    /// Writes the next bill line; lines past [`Counts::items`] are counted, not written.
    pub fn item(&mut self, i: &ItemFields<'_>) {
        let Some(at) = self.items.next() else {
            self.items.written += 1;
            return;
        };
        self.record::<ITEM_LEN>(
            at,
            &[
                Field::Str(i.id),
                Field::Str(i.product_id),
                Field::Str(i.name),
                Field::OptStr(i.description),
                Field::Dec(i.quantity),
                Field::Dec(i.unit_price),
                Field::Dec(i.total_price),
                Field::OptDec(i.vat),
                Field::OptDec(i.vat_rate),
                Field::OptStr(i.category_id),
                Field::OptStr(i.category_name),
                Field::OptStr(i.ean),
                Field::OptStr(i.note),
            ],
        );
    }

    /// Writes the next attribute.
    pub fn attribute(&mut self, key: &str, value: &str) {
        let Some(at) = self.attributes.next() else {
            self.attributes.written += 1;
            return;
        };
        self.record::<ATTRIBUTE_LEN>(at, &[Field::Str(key), Field::Str(value)]);
    }

    /// Writes the card record (when [`Counts::card`]).
    pub fn card(&mut self, c: &CardFields<'_>) {
        self.card.written = 0;
        let Some(at) = self.card.next() else {
            self.card.written = 2;
            return;
        };
        self.record::<CARD_LEN>(
            at,
            &[
                Field::Str(c.card_id),
                Field::OptStr(c.customer_id),
                Field::OptStr(c.name),
                Field::OptStr(c.tier),
                Field::I64(c.points),
                Field::U32(c.visits),
                Field::Dec(c.total_spent),
                Field::Time(c.first_visit),
                Field::Time(c.last_visit),
            ],
        );
    }

    /// Writes the card's 0.3 extras (when [`Counts::card`]; a card without them reads
    /// as its balance available and no birthday).
    pub fn card_extras(&mut self, c: &CardExtrasFields) {
        self.card_extras.written = 0;
        let Some(at) = self.card_extras.next() else {
            self.card_extras.written = 2;
            return;
        };
        let (month, day, year) = c
            .birthday
            .map_or((0, 0, 0), |b| (b.month, b.day, b.year.unwrap_or(0)));
        self.record::<CARD_EXTRAS_LEN>(
            at,
            &[
                Field::I64(c.available_points),
                Field::U8(month),
                Field::U8(day),
                Field::U16(year),
                Field::I64(c.pending_points),
                Field::Time(c.next_expiry.map(|(at, _)| at)),
                Field::I64(c.next_expiry.map_or(0, |(_, points)| points)),
            ],
        );
    }

    /// Writes the card's next wallet coupon (0.3).
    pub fn wallet_coupon(&mut self, w: &WalletCouponFields<'_>) {
        let Some(at) = self.wallet.next() else {
            self.wallet.written += 1;
            return;
        };
        let (kind, value) = match w.value {
            CouponValue::Amount(amount) => (0, amount),
            CouponValue::Percentage(percentage) => (1, percentage),
        };
        self.record::<WALLET_COUPON_LEN>(
            at,
            &[
                Field::Str(w.code),
                Field::Str(w.batch),
                Field::U8(kind),
                Field::Dec(value),
                Field::OptDec(w.min_bill),
                Field::Time(w.valid_until),
            ],
        );
    }

    /// Writes the next attribute of the customer's profile (0.3).
    pub fn profile_attribute(&mut self, key: &str, value: &str) {
        let Some(at) = self.profile_attributes.next() else {
            self.profile_attributes.written += 1;
            return;
        };
        self.record::<PROFILE_ATTRIBUTE_LEN>(at, &[Field::Str(key), Field::Str(value)]);
    }

    /// Writes the card's next tag.
    pub fn tag(&mut self, tag: &str) {
        let Some(at) = self.tags.next() else {
            self.tags.written += 1;
            return;
        };
        self.record::<TAG_LEN>(at, &[Field::Str(tag)]);
    }

    /// Writes the offer record (when [`Counts::offer`]).
    pub fn offer(&mut self, o: &OfferFields) {
        self.offer.written = 0;
        let Some(at) = self.offer.next() else {
            self.offer.written = 2;
            return;
        };
        self.record::<OFFER_LEN>(
            at,
            &[
                Field::Dec(o.total_discount),
                Field::U64(o.held_points),
                Field::I64(o.offered_at),
            ],
        );
    }

    /// Writes the offer's next discount.
    pub fn offer_discount(&mut self, d: &OfferDiscountFields<'_>) {
        let Some(at) = self.offer_discounts.next() else {
            self.offer_discounts.written += 1;
            return;
        };
        self.record::<OFFER_DISCOUNT_LEN>(
            at,
            &[
                Field::Str(d.kind),
                Field::OptStr(d.product_id),
                Field::OptStr(d.code),
                Field::Str(d.description),
                Field::Dec(d.amount),
                Field::U64(d.points),
            ],
        );
    }

    /// Writes the merchant's config (JSON text).
    pub fn config(&mut self, config: &str) {
        let reference = self.string(config);
        self.buf[H_CONFIG..H_CONFIG + STR].copy_from_slice(&reference);
        self.config = true;
    }

    /// The finished buffer.
    pub fn finish(mut self) -> Result<Vec<u8>, EncodeError> {
        if self.order.written != 1 {
            return Err(EncodeError::Missing("order"));
        }
        if !self.config {
            return Err(EncodeError::Missing("config"));
        }
        let checks = [
            (self.items, "items"),
            (self.attributes, "attributes"),
            (self.tags, "card tags"),
            (self.offer_discounts, "offer discounts"),
            (self.card, "cards"),
            (self.offer, "offers"),
            (self.wallet, "wallet coupons"),
            (self.profile_attributes, "profile attributes"),
        ];
        for (section, what) in checks {
            if section.written != section.count {
                return Err(EncodeError::CountMismatch(what));
            }
        }
        // A card written without its extras: its balance is available.
        if self.card.written == 1 && self.card_extras.written == 0 {
            let points = self.card.at;
            let balance = u64_at(&self.buf, points + 32).map_or(0, |p| p as i64);
            self.card_extras(&CardExtrasFields {
                available_points: balance,
                birthday: None,
                pending_points: 0,
                next_expiry: None,
            });
        }
        if self.card_extras.written != self.card_extras.count {
            return Err(EncodeError::CountMismatch("card extras"));
        }
        let strings_len = self.buf.len() - self.strings_at;
        self.put_u32(H_STRINGS + 4, strings_len);
        let total = self.buf.len();
        self.put_u32(H_TOTAL, total);
        if self.too_large {
            return Err(EncodeError::TooLarge);
        }
        Ok(self.buf)
    }
}

enum Field<'a> {
    Str(&'a str),
    OptStr(Option<&'a str>),
    Dec(Decimal),
    OptDec(Option<Decimal>),
    Time(Option<i64>),
    I64(i64),
    U64(u64),
    U32(u32),
    U16(u16),
    U8(u8),
}

/// A record being filled, field by field.
struct RecordOut<const N: usize> {
    bytes: [u8; N],
    pos: usize,
}

impl<const N: usize> RecordOut<N> {
    #[inline(always)]
    fn put<const K: usize>(&mut self, field: [u8; K]) {
        if let Some(slot) = self.bytes.get_mut(self.pos..self.pos + K) {
            slot.copy_from_slice(&field);
        }
        self.pos += K;
    }
}

fn dec_bytes(value: Option<Decimal>) -> [u8; DEC] {
    let mut out = [0u8; DEC];
    match value {
        Some(value) => {
            let (mantissa, scale) = decimal_parts(value);
            out[..8].copy_from_slice(&mantissa.to_le_bytes());
            out[8] = scale;
        }
        None => out[8] = NO_DECIMAL,
    }
    out
}

// ---------------------------------------------------------------------------------------
// Reader

fn u32_at(bytes: &[u8], at: usize) -> Option<u32> {
    let word: [u8; 4] = bytes.get(at..at.checked_add(4)?)?.try_into().ok()?;
    Some(u32::from_le_bytes(word))
}

fn u64_at(bytes: &[u8], at: usize) -> Option<u64> {
    let word: [u8; 8] = bytes.get(at..at.checked_add(8)?)?.try_into().ok()?;
    Some(u64::from_le_bytes(word))
}

/// Where the sections of a buffer are: checked once by [`Layout::check`] and then kept
/// (it is `Copy`), so a holder of the buffer can make an [`Input`] again in O(1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Layout {
    strings: (usize, usize),
    items: (usize, usize),
    attributes: (usize, usize),
    tags: (usize, usize),
    offer_discounts: (usize, usize),
    order: usize,
    card: usize,
    offer: usize,
    config: [u8; STR],
    /// The 0.3 extension, when the buffer has one.
    ext: Option<Extension>,
}

/// Where the 0.3 sections are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Extension {
    wallet: (usize, usize),
    profile_attributes: (usize, usize),
    card_extras: usize,
}

impl Layout {
    /// Checks the header of `buf`: the magic, the length, and that every section lies
    /// inside the buffer.
    pub fn check(buf: &[u8]) -> Result<Layout, Error> {
        let header = buf
            .get(..HEADER_LEN)
            .ok_or(err("header", ErrorKind::Truncated))?;
        if header[..4] != MAGIC {
            return Err(err("header", ErrorKind::BadMagic));
        }
        let word = |at: usize| {
            u32_at(header, at)
                .map(|w| w as usize)
                .ok_or(err("header", ErrorKind::Truncated))
        };
        if word(H_TOTAL)? != buf.len() {
            return Err(err("header", ErrorKind::Truncated));
        }
        let section = |at: usize, len: usize, field: &'static str| -> Result<_, Error> {
            let (start, count) = (word(at)?, word(at + 4)?);
            let end = count
                .checked_mul(len)
                .and_then(|bytes| start.checked_add(bytes))
                .ok_or(err(field, ErrorKind::OutOfBounds))?;
            if start < HEADER_LEN || end > buf.len() {
                return Err(err(field, ErrorKind::OutOfBounds));
            }
            Ok((start, count))
        };
        let record = |at: usize, len: usize, field: &'static str, optional: bool| {
            let start = word(at)?;
            if optional && start == 0 {
                return Ok(0);
            }
            match start.checked_add(len) {
                Some(end) if start >= HEADER_LEN && end <= buf.len() => Ok(start),
                _ => Err(err(field, ErrorKind::OutOfBounds)),
            }
        };
        let mut config = [0u8; STR];
        config.copy_from_slice(&header[H_CONFIG..H_CONFIG + STR]);
        let order = record(H_ORDER, ORDER_LEN, "order", false)?;
        // The 0.3 extension: its magic right after the header, the order after it.
        let ext_word = |at: usize| {
            u32_at(buf, at)
                .map(|w| w as usize)
                .ok_or(err("extension", ErrorKind::Truncated))
        };
        let ext = if buf.get(HEADER_LEN..HEADER_LEN + 4) == Some(&EXT_MAGIC[..])
            && order >= HEADER_LEN + EXT_HEADER_LEN
        {
            if ext_word(X_LEN)? < EXT_HEADER_LEN {
                return Err(err("extension", ErrorKind::Truncated));
            }
            let ext_section = |at: usize, len: usize, field: &'static str| -> Result<_, Error> {
                let (start, count) = (ext_word(at)?, ext_word(at + 4)?);
                let end = count
                    .checked_mul(len)
                    .and_then(|bytes| start.checked_add(bytes))
                    .ok_or(err(field, ErrorKind::OutOfBounds))?;
                if start < HEADER_LEN + EXT_HEADER_LEN || end > buf.len() {
                    return Err(err(field, ErrorKind::OutOfBounds));
                }
                Ok((start, count))
            };
            let card_extras = match ext_word(X_CARD_EXTRAS)? {
                0 => 0,
                start => match start.checked_add(CARD_EXTRAS_LEN) {
                    Some(end) if start >= HEADER_LEN + EXT_HEADER_LEN && end <= buf.len() => start,
                    _ => return Err(err("card.extras", ErrorKind::OutOfBounds)),
                },
            };
            Some(Extension {
                wallet: ext_section(X_WALLET, WALLET_COUPON_LEN, "card.wallet")?,
                profile_attributes: ext_section(
                    X_PROFILE,
                    PROFILE_ATTRIBUTE_LEN,
                    "card.profile.attributes",
                )?,
                card_extras,
            })
        } else {
            None
        };
        Ok(Layout {
            strings: section(H_STRINGS, 1, "string table")?,
            items: section(H_ITEMS, ITEM_LEN, "items")?,
            attributes: section(H_ATTRIBUTES, ATTRIBUTE_LEN, "attributes")?,
            tags: section(H_TAGS, TAG_LEN, "card.tags")?,
            offer_discounts: section(H_OFFER_DISCOUNTS, OFFER_DISCOUNT_LEN, "offer.discounts")?,
            order,
            card: record(H_CARD, CARD_LEN, "card", true)?,
            offer: record(H_OFFER, OFFER_LEN, "offer", true)?,
            config,
            ext,
        })
    }
}

/// A checked input buffer, read in place. Cheap to copy.
#[derive(Debug, Clone, Copy)]
pub struct Input<'a> {
    buf: &'a [u8],
    layout: Layout,
}

impl<'a> Input<'a> {
    /// Checks `buf`'s header (O(1); fields are checked as they are read).
    pub fn open(buf: &'a [u8]) -> Result<Input<'a>, Error> {
        Ok(Input {
            buf,
            layout: Layout::check(buf)?,
        })
    }

    /// `buf` read with a layout [`Layout::check`] returned for it. With another buffer
    /// the reads stay bounds-checked (they may fail, never panic).
    pub fn with_layout(buf: &'a [u8], layout: Layout) -> Input<'a> {
        Input { buf, layout }
    }

    /// The layout, to keep beside the buffer.
    pub fn layout(&self) -> Layout {
        self.layout
    }

    fn strings(&self) -> &'a [u8] {
        let (start, len) = self.layout.strings;
        self.buf
            .get(start..start.saturating_add(len))
            .unwrap_or_default()
    }

    fn rec(&self, at: usize, len: usize) -> Rec<'a> {
        Rec {
            bytes: self.buf.get(at..at.saturating_add(len)).unwrap_or_default(),
            strings: self.strings(),
        }
    }

    /// The order record.
    pub fn order(&self) -> OrderRef<'a> {
        OrderRef(self.rec(self.layout.order, ORDER_LEN))
    }

    /// The bill's lines.
    pub fn items(&self) -> Records<'a, ItemRef<'a>> {
        self.records(self.layout.items, ITEM_LEN)
    }

    /// The POS-specific attributes.
    pub fn attributes(&self) -> Records<'a, AttributeRef<'a>> {
        self.records(self.layout.attributes, ATTRIBUTE_LEN)
    }

    /// The card, if there is one.
    pub fn card(&self) -> Option<CardRef<'a>> {
        (self.layout.card != 0).then(|| CardRef(self.rec(self.layout.card, CARD_LEN)))
    }

    /// The card's tags (empty without a card).
    pub fn tags(&self) -> Records<'a, TextRef<'a>> {
        self.records(self.layout.tags, TAG_LEN)
    }

    /// The merchant's config (JSON text).
    pub fn config(&self) -> Result<&'a str, Error> {
        opt_str_in(self.strings(), &self.layout.config, 0, "config")?
            .ok_or(err("config", ErrorKind::Missing))
    }

    /// The till's last offer for the order, if the host passed one (in `accrue`).
    pub fn offer(&self) -> Option<OfferRef<'a>> {
        (self.layout.offer != 0).then(|| OfferRef(self.rec(self.layout.offer, OFFER_LEN)))
    }

    /// Whether the buffer has the 0.3 extension (every buffer the 0.3 host writes has).
    pub fn has_extension(&self) -> bool {
        self.layout.ext.is_some()
    }

    /// The card's 0.3 extras, if there is a card and the buffer has them.
    pub fn card_extras(&self) -> Option<CardExtrasRef<'a>> {
        let at = self.layout.ext?.card_extras;
        (at != 0 && self.layout.card != 0).then(|| CardExtrasRef(self.rec(at, CARD_EXTRAS_LEN)))
    }

    /// The card's wallet (0.3; empty without a card or the extension).
    pub fn wallet(&self) -> Records<'a, WalletCouponRef<'a>> {
        let section = self.layout.ext.map_or((0, 0), |e| e.wallet);
        self.records(section, WALLET_COUPON_LEN)
    }

    /// The customer's profile attributes (0.3; empty without a card or the extension).
    pub fn profile_attributes(&self) -> Records<'a, ProfileAttributeRef<'a>> {
        let section = self.layout.ext.map_or((0, 0), |e| e.profile_attributes);
        self.records(section, PROFILE_ATTRIBUTE_LEN)
    }

    /// The offer's discounts (empty without an offer).
    pub fn offer_discounts(&self) -> Records<'a, OfferDiscountRef<'a>> {
        self.records(self.layout.offer_discounts, OFFER_DISCOUNT_LEN)
    }

    fn records<R: FromRec<'a>>(
        &self,
        (start, count): (usize, usize),
        len: usize,
    ) -> Records<'a, R> {
        let end = start.saturating_add(count.saturating_mul(len));
        Records {
            bytes: self.buf.get(start..end).unwrap_or_default(),
            strings: self.strings(),
            len,
            marker: core::marker::PhantomData,
        }
    }
}

/// One fixed-size record and the string table it refers to.
#[derive(Debug, Clone, Copy)]
struct Rec<'a> {
    bytes: &'a [u8],
    strings: &'a [u8],
}

impl<'a> Rec<'a> {
    fn opt_str(&self, at: usize, field: &'static str) -> Result<Option<&'a str>, Error> {
        opt_str_in(self.strings, self.bytes, at, field)
    }

    fn str(&self, at: usize, field: &'static str) -> Result<&'a str, Error> {
        self.opt_str(at, field)?
            .ok_or(err(field, ErrorKind::Missing))
    }

    fn opt_dec(&self, at: usize, field: &'static str) -> Result<Option<Decimal>, Error> {
        let (Some(mantissa), Some(&scale)) = (u64_at(self.bytes, at), self.bytes.get(at + 8))
        else {
            return Err(err(field, ErrorKind::Truncated));
        };
        if scale == NO_DECIMAL {
            return Ok(None);
        }
        if scale > MAX_SCALE {
            return Err(err(field, ErrorKind::BadScale(scale)));
        }
        Ok(Some(Decimal::new(mantissa as i64, u32::from(scale))))
    }

    fn dec(&self, at: usize, field: &'static str) -> Result<Decimal, Error> {
        self.opt_dec(at, field)?
            .ok_or(err(field, ErrorKind::Missing))
    }

    fn i64(&self, at: usize, field: &'static str) -> Result<i64, Error> {
        u64_at(self.bytes, at)
            .map(|v| v as i64)
            .ok_or(err(field, ErrorKind::Truncated))
    }

    fn u64(&self, at: usize, field: &'static str) -> Result<u64, Error> {
        u64_at(self.bytes, at).ok_or(err(field, ErrorKind::Truncated))
    }

    fn u32(&self, at: usize, field: &'static str) -> Result<u32, Error> {
        u32_at(self.bytes, at).ok_or(err(field, ErrorKind::Truncated))
    }

    fn u16(&self, at: usize, field: &'static str) -> Result<u16, Error> {
        let word: Option<[u8; 2]> = at
            .checked_add(2)
            .and_then(|end| self.bytes.get(at..end))
            .and_then(|b| b.try_into().ok());
        word.map(u16::from_le_bytes)
            .ok_or(err(field, ErrorKind::Truncated))
    }

    fn u8(&self, at: usize, field: &'static str) -> Result<u8, Error> {
        self.bytes
            .get(at)
            .copied()
            .ok_or(err(field, ErrorKind::Truncated))
    }

    fn time(&self, at: usize, field: &'static str) -> Result<Option<i64>, Error> {
        self.i64(at, field).map(|t| (t != NO_TIME).then_some(t))
    }
}

/// The string `record[at..at + 8]` refers to in `strings`.
fn opt_str_in<'a>(
    strings: &'a [u8],
    record: &[u8],
    at: usize,
    field: &'static str,
) -> Result<Option<&'a str>, Error> {
    match opt_bytes_in(strings, record, at, field)? {
        Some(bytes) => core::str::from_utf8(bytes)
            .map(Some)
            .map_err(|_| err(field, ErrorKind::NotUtf8)),
        None => Ok(None),
    }
}

/// The bytes of the string `record[at..at + 8]` refers to in `strings`, not yet checked
/// to be UTF-8.
fn opt_bytes_in<'a>(
    strings: &'a [u8],
    record: &[u8],
    at: usize,
    field: &'static str,
) -> Result<Option<&'a [u8]>, Error> {
    let (Some(offset), Some(len)) = (u32_at(record, at), u32_at(record, at + 4)) else {
        return Err(err(field, ErrorKind::Truncated));
    };
    if offset == NO_STRING {
        return Ok(None);
    }
    let (offset, len) = (offset as usize, len as usize);
    offset
        .checked_add(len)
        .and_then(|end| strings.get(offset..end))
        .map(Some)
        .ok_or(err(field, ErrorKind::OutOfBounds))
}

/// A record type of a [`Records`] section.
pub trait FromRec<'a>: Sized {
    #[doc(hidden)]
    fn from_rec(bytes: &'a [u8], strings: &'a [u8]) -> Self;
}

/// The records of one section: an iterator that also indexes.
#[derive(Debug, Clone)]
pub struct Records<'a, R> {
    bytes: &'a [u8],
    strings: &'a [u8],
    len: usize,
    marker: core::marker::PhantomData<fn() -> R>,
}

impl<'a, R: FromRec<'a>> Records<'a, R> {
    /// The `index`th record, if there is one.
    pub fn get(&self, index: usize) -> Option<R> {
        let start = index.checked_mul(self.len)?;
        let bytes = self.bytes.get(start..start.checked_add(self.len)?)?;
        Some(R::from_rec(bytes, self.strings))
    }
}

impl<'a, R: FromRec<'a>> Iterator for Records<'a, R> {
    type Item = R;

    fn next(&mut self) -> Option<R> {
        if self.bytes.len() < self.len || self.len == 0 {
            return None;
        }
        let (head, rest) = self.bytes.split_at(self.len);
        self.bytes = rest;
        Some(R::from_rec(head, self.strings))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = self.bytes.len().checked_div(self.len).unwrap_or(0);
        (n, Some(n))
    }
}

impl<'a, R: FromRec<'a>> ExactSizeIterator for Records<'a, R> {}

impl<'a, R: FromRec<'a>> DoubleEndedIterator for Records<'a, R> {
    fn next_back(&mut self) -> Option<R> {
        if self.bytes.len() < self.len || self.len == 0 {
            return None;
        }
        let (rest, tail) = self.bytes.split_at(self.bytes.len() - self.len);
        self.bytes = rest;
        Some(R::from_rec(tail, self.strings))
    }
}

macro_rules! view {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy)]
        pub struct $name<'a>(Rec<'a>);

        impl<'a> FromRec<'a> for $name<'a> {
            fn from_rec(bytes: &'a [u8], strings: &'a [u8]) -> Self {
                $name(Rec { bytes, strings })
            }
        }
    };
}

macro_rules! fields {
    ($name:ident { $($field:ident: $kind:ident @ $at:expr, $what:literal;)* }) => {
        impl<'a> $name<'a> {
            $(
                #[doc = concat!("`", $what, "`.")]
                pub fn $field(&self) -> fields!(@ty $kind) {
                    fields!(@read self, $kind, $at, $what)
                }
            )*
        }
    };
    (@ty str) => { Result<&'a str, Error> };
    (@ty opt_str) => { Result<Option<&'a str>, Error> };
    (@ty dec) => { Result<Decimal, Error> };
    (@ty opt_dec) => { Result<Option<Decimal>, Error> };
    (@ty time) => { Result<Option<i64>, Error> };
    (@ty i64) => { Result<i64, Error> };
    (@ty u64) => { Result<u64, Error> };
    (@ty u32) => { Result<u32, Error> };
    (@ty u16) => { Result<u16, Error> };
    (@ty u8) => { Result<u8, Error> };
    (@read $s:ident, $kind:ident, $at:expr, $what:literal) => { $s.0.$kind($at, $what) };
}

view!(
    /// The order record.
    OrderRef
);
fields!(OrderRef {
    order_id: str @ 0, "order.order_id";
    pos: str @ 8, "order.pos";
    status: str @ 16, "order.status";
    total: dec @ 24, "order.total";
    total_without_vat: opt_dec @ 33, "order.total_without_vat";
    vat: opt_dec @ 42, "order.vat";
    currency: str @ 51, "order.currency";
    created: time @ 59, "order.created";
    updated: time @ 67, "order.updated";
    branch_id: opt_str @ 75, "order.branch_id";
    note: opt_str @ 83, "order.note";
});

view!(
    /// One bill line.
    ItemRef
);
fields!(ItemRef {
    id: str @ 0, "item.id";
    product_id: str @ 8, "item.product_id";
    name: str @ 16, "item.name";
    description: opt_str @ 24, "item.description";
    quantity: dec @ 32, "item.quantity";
    unit_price: dec @ 41, "item.unit_price";
    total_price: dec @ 50, "item.total_price";
    vat: opt_dec @ 59, "item.vat";
    vat_rate: opt_dec @ 68, "item.vat_rate";
    category_id: opt_str @ 77, "item.category_id";
    category_name: opt_str @ 85, "item.category_name";
    ean: opt_str @ 93, "item.ean";
    note: opt_str @ 101, "item.note";
});

impl ItemRef<'_> {
    /// Whether the line's category name is `name`. Compared as bytes, without reading the
    /// field as text first: equal bytes are valid UTF-8 because `name` is, so the answer
    /// is the same as `category_name() == Ok(Some(name))`, for less (a policy asks it of
    /// every line).
    pub fn category_name_is(&self, name: &str) -> bool {
        opt_bytes_in(self.0.strings, self.0.bytes, 85, "item.category_name")
            .is_ok_and(|bytes| bytes == Some(name.as_bytes()))
    }

    /// Whether the line's category id is `id` (as [`ItemRef::category_name_is`]).
    pub fn category_id_is(&self, id: &str) -> bool {
        opt_bytes_in(self.0.strings, self.0.bytes, 77, "item.category_id")
            .is_ok_and(|bytes| bytes == Some(id.as_bytes()))
    }
}

view!(
    /// One POS-specific attribute.
    AttributeRef
);
fields!(AttributeRef {
    key: str @ 0, "attribute.key";
    value: str @ 8, "attribute.value";
});

view!(
    /// One text (a card tag).
    TextRef
);
fields!(TextRef {
    text: str @ 0, "card.tag";
});

view!(
    /// The card record.
    CardRef
);
fields!(CardRef {
    card_id: str @ 0, "card.card_id";
    customer_id: opt_str @ 8, "card.customer_id";
    name: opt_str @ 16, "card.name";
    tier: opt_str @ 24, "card.tier";
    points: i64 @ 32, "card.points";
    visits: u32 @ 40, "card.visits";
    total_spent: dec @ 44, "card.total_spent";
    first_visit: time @ 53, "card.first_visit";
    last_visit: time @ 61, "card.last_visit";
});

view!(
    /// The offer record.
    OfferRef
);
fields!(OfferRef {
    total_discount: dec @ 0, "offer.total_discount";
    held_points: u64 @ 9, "offer.held_points";
    offered_at: i64 @ 17, "offer.offered_at";
});

view!(
    /// One offered discount.
    OfferDiscountRef
);
fields!(OfferDiscountRef {
    kind: str @ 0, "offer.discount.kind";
    product_id: opt_str @ 8, "offer.discount.product_id";
    code: opt_str @ 16, "offer.discount.code";
    description: str @ 24, "offer.discount.description";
    amount: dec @ 32, "offer.discount.amount";
    points: u64 @ 41, "offer.discount.points";
});

view!(
    /// The card's 0.3 extras.
    CardExtrasRef
);
fields!(CardExtrasRef {
    available_points: i64 @ 0, "card.available_points";
    birthday_month: u8 @ 8, "card.profile.birthday.month";
    birthday_day: u8 @ 9, "card.profile.birthday.day";
    birthday_year: u16 @ 10, "card.profile.birthday.year";
    pending_points: i64 @ 12, "card.pending_points";
    next_expiry_at: time @ 20, "card.next_expiry.at";
    next_expiry_points: i64 @ 28, "card.next_expiry.points";
});

impl CardExtrasRef<'_> {
    /// The next expiry (epoch ms, points); `None` when nothing is due to expire.
    pub fn next_expiry(&self) -> Result<Option<(i64, i64)>, Error> {
        match self.next_expiry_at()? {
            Some(at) => Ok(Some((at, self.next_expiry_points()?))),
            None => Ok(None),
        }
    }

    /// The birthday (month, day, year when known); `None` when not set.
    pub fn birthday(&self) -> Result<Option<BirthdayFields>, Error> {
        let month = self.birthday_month()?;
        if month == 0 {
            return Ok(None);
        }
        let day = self.birthday_day()?;
        let year = self.birthday_year()?;
        Ok(Some(BirthdayFields {
            month,
            day,
            year: (year != 0).then_some(year),
        }))
    }
}

view!(
    /// One coupon of the card's wallet (0.3).
    WalletCouponRef
);
fields!(WalletCouponRef {
    code: str @ 0, "card.wallet.code";
    batch: str @ 8, "card.wallet.batch";
    value_kind: u8 @ 16, "card.wallet.value_kind";
    value_amount: dec @ 17, "card.wallet.value";
    min_bill: opt_dec @ 26, "card.wallet.min_bill";
    valid_until: time @ 35, "card.wallet.valid_until";
});

impl WalletCouponRef<'_> {
    /// What the coupon is worth.
    pub fn value(&self) -> Result<CouponValue, Error> {
        let value = self.value_amount()?;
        match self.value_kind()? {
            0 => Ok(CouponValue::Amount(value)),
            1 => Ok(CouponValue::Percentage(value)),
            kind => Err(err("card.wallet.value_kind", ErrorKind::BadKind(kind))),
        }
    }
}

view!(
    /// One attribute of the customer's profile (0.3).
    ProfileAttributeRef
);
fields!(ProfileAttributeRef {
    key: str @ 0, "card.profile.attribute.key";
    value: str @ 8, "card.profile.attribute.value";
});

// The field offsets above, checked against the record sizes.
const _: () = {
    assert!(28 + 8 == CARD_EXTRAS_LEN);
    assert!(35 + TIME == WALLET_COUPON_LEN);
    assert!(X_CARD_EXTRAS + 4 == HEADER_LEN + EXT_HEADER_LEN);
    assert!(83 + STR == ORDER_LEN);
    assert!(101 + STR == ITEM_LEN);
    assert!(61 + TIME == CARD_LEN);
    assert!(17 + 8 == OFFER_LEN);
    assert!(41 + 8 == OFFER_DISCOUNT_LEN);
    assert!(H_CONFIG + STR == HEADER_LEN);
};

#[cfg(test)]
mod tests;
