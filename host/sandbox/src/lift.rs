//! Reading what a policy hands the host without copying more than the limits allow.
//!
//! The bindgen-generated calls lift every string of an answer (and of every `log`
//! message) into host memory before the host can look at it. The canonical ABI lets a
//! list of records point every string at the same guest buffer, so a 16 MiB policy could
//! make the host allocate entries × length bytes. Here the answer and the host imports
//! are lifted through types of our own: a string is measured in guest memory and only a
//! bounded prefix is copied ([`Text`]), and a list longer than
//! [`MAX_DISCOUNTS`] is refused before any element is read ([`AnswerList`]).
//!
//! The reading happens *during* the lift, not afterwards through `WasmStr`/`WasmList`:
//! wasmtime runs the export's `post-return` (which may free and reuse the strings' guest
//! memory) before `TypedFunc::call` returns, so a lazy handle read after the call could
//! see freed memory.
//!
//! The bounds in force are per call and per thread (a call runs on one thread, lifts
//! included): [`Caps::enter`] sets them for the duration of a call.
#![allow(unsafe_code)] // `ComponentType`/`Lift` are unsafe traits; the reasoning is inline.

use std::cell::Cell;
use std::marker::PhantomData;

use wasmtime::component::__internal::{
    CanonicalAbiInfo, InstanceType, InterfaceType, LiftContext, wasmtime_environ,
};
use wasmtime::component::{ComponentType, Lift, Linker, WasmList};
use wasmtime::{Result, StoreContextMut, ValRaw, bail};

use rabat_domain::coupon::{code_problem, normalize_code};
use rabat_domain::model;
use rabat_domain::money::MAX_DISCOUNTS;

use crate::Failure;
use crate::bindings::{ConversionError, Level, decimal_from_wit, rabat::rules::types as wit};
use crate::sandbox::{CallState, LogLevel, truncate_at_char_boundary};

/// Bytes copied past a cap, so that a cut text is still seen as longer than the cap and
/// gets the same `…` marker as before (a UTF-8 character is at most 4 bytes).
const OVERSHOOT: usize = 4;

/// Bytes of a panic message kept.
pub const PANIC_MESSAGE_BYTES: usize = 1024;

#[derive(Debug, Clone, Copy, Default)]
struct State {
    /// Bytes of answer text still to be copied in this call.
    answer_bytes: usize,
    /// Bytes copied of one log line; `None` once the log is full (nothing is copied).
    log_line_bytes: Option<usize>,
}

thread_local! {
    static STATE: Cell<State> = const { Cell::new(State { answer_bytes: 0, log_line_bytes: None }) };
}

/// The caps of the call running on this thread; reset when dropped.
pub struct Caps(());

impl Caps {
    pub fn enter(limits: &crate::Limits) -> Caps {
        STATE.set(State {
            answer_bytes: limits.output_bytes,
            log_line_bytes: Some(limits.log_line_bytes),
        });
        Caps(())
    }

    /// Called once the log is full: later messages are counted, not copied.
    fn log_full() {
        let mut state = STATE.get();
        state.log_line_bytes = None;
        STATE.set(state);
    }
}

impl Drop for Caps {
    fn drop(&mut self) {
        STATE.set(State::default());
    }
}

/// How many bytes of a text a [`Text`] may copy.
pub trait Cap: 'static {
    /// Bytes of a `len`-byte text that may be copied.
    fn allowance(len: usize) -> usize;
    /// Records that `copied` bytes were copied.
    fn spend(_copied: usize) {}
}

/// Text of the answer (descriptions, codes, message, the error, the accrual's reason):
/// all of it together is copied at most up to `limits.output_bytes`.
pub enum Answer {}

impl Cap for Answer {
    fn allowance(_len: usize) -> usize {
        STATE.get().answer_bytes.saturating_add(OVERSHOOT)
    }

    fn spend(copied: usize) {
        let mut state = STATE.get();
        state.answer_bytes = state.answer_bytes.saturating_sub(copied);
        STATE.set(state);
    }
}

/// A log message: at most `limits.log_line_bytes` each, nothing once the log is full.
pub enum LogLine {}

impl Cap for LogLine {
    fn allowance(_len: usize) -> usize {
        STATE
            .get()
            .log_line_bytes
            .map_or(0, |max| max.saturating_add(OVERSHOOT))
    }
}

/// A panic message: at most [`PANIC_MESSAGE_BYTES`].
pub enum PanicMessage {}

impl Cap for PanicMessage {
    fn allowance(_len: usize) -> usize {
        PANIC_MESSAGE_BYTES + OVERSHOOT
    }
}

/// A WIT `string` of which at most `C`'s allowance was copied.
pub struct Text<C> {
    /// The copied part: all of it when [`Text::is_complete`].
    pub text: String,
    /// Its length in guest memory, in bytes (for UTF-16 strings, at most twice the code
    /// units).
    pub len: usize,
    cap: PhantomData<fn() -> C>,
}

impl<C> Text<C> {
    pub fn is_complete(&self) -> bool {
        self.text.len() == self.len
    }

    /// The text, cut at `max` bytes with a `…` marker when longer.
    pub fn truncated(self, max: usize) -> String {
        let complete = self.is_complete();
        let mut text = self.text;
        truncate_at_char_boundary(&mut text, max);
        if !complete && !text.ends_with('…') {
            text.push('…');
        }
        text
    }
}

impl<C: Cap> Text<C> {
    fn lift(
        cx: &mut LiftContext<'_>,
        (ptr, len): (usize, usize),
        full: impl FnOnce(&mut LiftContext<'_>) -> Result<String>,
    ) -> Result<Self> {
        use wasmtime_environ::component::StringEncoding;
        let utf8 = matches!(cx.options().string_encoding, StringEncoding::Utf8);
        // UTF-16 strings count code units (and compact UTF-16 tags the length's top bit):
        // twice the count bounds their bytes.
        let byte_len = if utf8 { len } else { len.saturating_mul(2) };
        let allowance = C::allowance(byte_len);
        if byte_len <= allowance {
            // Small enough: wasmtime's own lift, with its own checks and errors.
            let text = full(cx)?;
            C::spend(text.len());
            let len = text.len();
            return Ok(Text {
                text,
                len,
                cap: PhantomData,
            });
        }
        let memory = cx.memory();
        if ptr
            .checked_add(byte_len)
            .is_none_or(|end| end > memory.len())
        {
            bail!("string pointer/length out of bounds of memory");
        }
        let text = if utf8 {
            let prefix = &memory[ptr..ptr + allowance];
            let valid = match std::str::from_utf8(prefix) {
                Ok(text) => text,
                // Cut inside a character: keep what is before it.
                Err(e) if e.error_len().is_none() => {
                    std::str::from_utf8(&prefix[..e.valid_up_to()]).unwrap_or_default()
                }
                Err(e) => return Err(e.into()),
            };
            valid.to_owned()
        } else {
            String::new()
        };
        C::spend(text.len());
        Ok(Text {
            text,
            len: byte_len,
            cap: PhantomData,
        })
    }
}

fn pointer_pair_from_flat(src: &[ValRaw; 2]) -> Result<(usize, usize)> {
    Ok((
        usize::try_from(src[0].get_u32())?,
        usize::try_from(src[1].get_u32())?,
    ))
}

fn pointer_pair_from_memory(bytes: &[u8]) -> Result<(usize, usize)> {
    let word = |at: usize| -> Result<usize> {
        let b: [u8; 4] = bytes
            .get(at..at + 4)
            .and_then(|b| b.try_into().ok())
            .ok_or_else(|| wasmtime::format_err!("pointer pair out of bounds"))?;
        Ok(usize::try_from(u32::from_le_bytes(b))?)
    };
    Ok((word(0)?, word(4)?))
}

// SAFETY: the same representation as `String` (a pointer pair, typechecked as `string`),
// which this type only reads differently.
unsafe impl<C: Cap> ComponentType for Text<C> {
    type Lower = [ValRaw; 2];
    const ABI: CanonicalAbiInfo = CanonicalAbiInfo::POINTER_PAIR;

    fn typecheck(ty: &InterfaceType, types: &InstanceType<'_>) -> Result<()> {
        <String as ComponentType>::typecheck(ty, types)
    }
}

// SAFETY: reads guest memory only through `LiftContext::memory`, bounds-checked above or
// by `String`'s own lift.
unsafe impl<C: Cap> Lift for Text<C> {
    fn linear_lift_from_flat(
        cx: &mut LiftContext<'_>,
        ty: InterfaceType,
        src: &Self::Lower,
    ) -> Result<Self> {
        Self::lift(cx, pointer_pair_from_flat(src)?, |cx| {
            String::linear_lift_from_flat(cx, ty, src)
        })
    }

    fn linear_lift_from_memory(
        cx: &mut LiftContext<'_>,
        ty: InterfaceType,
        bytes: &[u8],
    ) -> Result<Self> {
        Self::lift(cx, pointer_pair_from_memory(bytes)?, |cx| {
            String::linear_lift_from_memory(cx, ty, bytes)
        })
    }
}

pub type AnswerText = Text<Answer>;

/// A list of the answer: when longer than [`MAX_DISCOUNTS`], only its length is read.
pub struct AnswerList<T> {
    /// Empty when `len` is over [`MAX_DISCOUNTS`].
    pub items: Vec<T>,
    pub len: usize,
}

impl<T: Lift> AnswerList<T> {
    fn lift(
        cx: &mut LiftContext<'_>,
        ty: InterfaceType,
        (ptr, len): (usize, usize),
    ) -> Result<Self> {
        if len > MAX_DISCOUNTS {
            return Ok(AnswerList {
                items: Vec::new(),
                len,
            });
        }
        let elem = match ty {
            InterfaceType::List(i) => cx.types[i].element,
            _ => bail!("expected a list"),
        };
        let memory = cx.memory();
        let size = T::SIZE32;
        if len
            .checked_mul(size)
            .and_then(|bytes| ptr.checked_add(bytes))
            .is_none_or(|end| end > memory.len())
        {
            bail!("list pointer/length out of bounds of memory");
        }
        if ptr % usize::try_from(T::ALIGN32)? != 0 {
            bail!("list pointer is not aligned");
        }
        let mut items = Vec::with_capacity(len);
        for i in 0..len {
            let at = ptr + i * size;
            items.push(T::linear_lift_from_memory(
                cx,
                elem,
                &memory[at..at + size],
            )?);
        }
        Ok(AnswerList { items, len })
    }
}

// SAFETY: the same representation as `WasmList<T>` (a pointer pair, typechecked by it).
unsafe impl<T: ComponentType> ComponentType for AnswerList<T> {
    type Lower = [ValRaw; 2];
    const ABI: CanonicalAbiInfo = CanonicalAbiInfo::POINTER_PAIR;

    fn typecheck(ty: &InterfaceType, types: &InstanceType<'_>) -> Result<()> {
        <WasmList<T> as ComponentType>::typecheck(ty, types)
    }
}

// SAFETY: elements are read from `LiftContext::memory` after the bounds and alignment
// checks above, each by `T`'s own lift.
unsafe impl<T: Lift> Lift for AnswerList<T> {
    fn linear_lift_from_flat(
        cx: &mut LiftContext<'_>,
        ty: InterfaceType,
        src: &Self::Lower,
    ) -> Result<Self> {
        Self::lift(cx, ty, pointer_pair_from_flat(src)?)
    }

    fn linear_lift_from_memory(
        cx: &mut LiftContext<'_>,
        ty: InterfaceType,
        bytes: &[u8],
    ) -> Result<Self> {
        Self::lift(cx, ty, pointer_pair_from_memory(bytes)?)
    }
}

// `wit/rules.wit`'s answers, with bounded strings and lists.

#[derive(ComponentType, Lift)]
#[component(record)]
pub struct ItemPercentage {
    #[component(name = "product-id")]
    product_id: AnswerText,
    percentage: wit::Decimal,
}

#[derive(ComponentType, Lift)]
#[component(record)]
pub struct Coupon {
    amount: wit::Decimal,
    code: AnswerText,
}

#[derive(ComponentType, Lift)]
#[component(variant)]
pub enum DiscountKind {
    #[component(name = "percentage-on-bill")]
    PercentageOnBill(wit::Decimal),
    #[component(name = "percentage-on-item")]
    PercentageOnItem(ItemPercentage),
    #[component(name = "coupon-zero-vat")]
    CouponZeroVat(Coupon),
}

#[derive(ComponentType, Lift)]
#[component(record)]
pub struct Discount {
    kind: DiscountKind,
    description: AnswerText,
}

#[derive(ComponentType, Lift)]
#[component(record)]
pub struct Evaluation {
    discounts: AnswerList<Discount>,
    message: Option<AnswerText>,
}

#[derive(ComponentType, Lift)]
#[component(record)]
pub struct Accrual {
    points: i64,
    reason: Option<AnswerText>,
}

/// What `evaluate` returns.
pub type EvaluateResult = (Result<Evaluation, AnswerText>,);
/// What `accrue` returns.
pub type AccrueResult = (Result<Accrual, AnswerText>,);

/// The policy's own error, cut at `limit` bytes.
pub fn policy_error(text: AnswerText, limit: usize) -> Failure {
    Failure::PolicyError(text.truncated(limit))
}

/// Bytes of text in an answer: what the output-size limit counts (the same sum as
/// [`crate::bindings::evaluation_size`], from the lengths in guest memory).
fn evaluation_size(value: &Evaluation) -> usize {
    let discounts: usize = value
        .discounts
        .items
        .iter()
        .map(|d| {
            d.description.len
                + 16
                + match &d.kind {
                    DiscountKind::PercentageOnItem(item) => item.product_id.len,
                    DiscountKind::CouponZeroVat(coupon) => coupon.code.len,
                    DiscountKind::PercentageOnBill(_) => 0,
                }
        })
        .sum();
    discounts + value.message.as_ref().map_or(0, |m| m.len)
}

/// Checks an answer against the limits and turns it into the host's type.
pub fn evaluation(value: Evaluation, output_limit: usize) -> Result<model::Evaluation, Failure> {
    let count = value.discounts.len;
    if count > MAX_DISCOUNTS {
        return Err(Failure::InvalidAnswer(format!(
            "the policy asked for {count} discounts; at most {MAX_DISCOUNTS} are allowed"
        )));
    }
    let size = evaluation_size(&value);
    if size > output_limit {
        return Err(Failure::InvalidAnswer(format!(
            "the answer is {size} bytes of text in {count} discounts; the limit is {output_limit} bytes"
        )));
    }
    // Within the limit, every text was copied whole.
    let text = |t: AnswerText| t.text;
    let discounts = value
        .discounts
        .items
        .into_iter()
        .enumerate()
        .map(|(i, d)| {
            let what = format!("discounts[{i}]");
            let kind = match d.kind {
                DiscountKind::PercentageOnBill(p) => model::DiscountKind::PercentageOnBill {
                    percentage: decimal_from_wit(p, &format!("{what}.percentage"))?,
                },
                DiscountKind::PercentageOnItem(item) => model::DiscountKind::PercentageOnItem {
                    product_id: text(item.product_id),
                    percentage: decimal_from_wit(item.percentage, &format!("{what}.percentage"))?,
                },
                DiscountKind::CouponZeroVat(coupon) => model::DiscountKind::CouponZeroVat {
                    amount: decimal_from_wit(coupon.amount, &format!("{what}.amount"))?,
                    code: text(coupon.code),
                },
            };
            Ok(model::DiscountRequest {
                kind,
                description: text(d.description),
                points: 0,
                coupon: None,
                divisible: false,
            })
        })
        .collect::<Result<Vec<_>, ConversionError>>()
        .map_err(|e| Failure::InvalidAnswer(e.0))?;
    Ok(model::Evaluation {
        discounts,
        message: value.message.map(text),
    })
}

/// The accrual, its reason cut at `limit` bytes.
pub fn accrual(value: Accrual, limit: usize) -> model::Accrual {
    model::Accrual {
        points: value.points,
        reason: value.reason.map(|r| r.truncated(limit)),
        ..model::Accrual::default()
    }
}

// `wit/rules.wit`'s (contract 0.2) answers, with bounded strings and lists.

#[derive(ComponentType, Lift)]
#[component(record)]
pub struct ItemAmount {
    #[component(name = "product-id")]
    product_id: AnswerText,
    amount: wit::Decimal,
}

#[derive(ComponentType, Lift)]
#[component(variant)]
pub enum DiscountKindV2 {
    #[component(name = "percentage-on-bill")]
    PercentageOnBill(wit::Decimal),
    #[component(name = "percentage-on-item")]
    PercentageOnItem(ItemPercentage),
    #[component(name = "coupon-zero-vat")]
    CouponZeroVat(Coupon),
    #[component(name = "amount-off-item")]
    AmountOffItem(ItemAmount),
}

#[derive(ComponentType, Lift)]
#[component(record)]
pub struct DiscountV2 {
    kind: DiscountKindV2,
    description: AnswerText,
    points: u64,
}

#[derive(ComponentType, Lift)]
#[component(record)]
pub struct EvaluationV2 {
    discounts: AnswerList<DiscountV2>,
    message: Option<AnswerText>,
}

#[derive(ComponentType, Lift)]
#[component(record)]
pub struct AccrualV2 {
    points: i64,
    reason: Option<AnswerText>,
    redeem: u64,
    #[component(name = "set-tier")]
    set_tier: Option<AnswerText>,
    #[component(name = "add-tags")]
    add_tags: AnswerList<AnswerText>,
    #[component(name = "remove-tags")]
    remove_tags: AnswerList<AnswerText>,
}

/// Bytes of text in a 0.2 answer: what the output-size limit counts.
fn answer_size_v2(value: &EvaluationV2) -> usize {
    let discounts_size: usize = value
        .discounts
        .items
        .iter()
        .map(|d| {
            d.description.len
                + 16
                + match &d.kind {
                    DiscountKindV2::PercentageOnItem(item) => item.product_id.len,
                    DiscountKindV2::AmountOffItem(item) => item.product_id.len,
                    DiscountKindV2::CouponZeroVat(coupon) => coupon.code.len,
                    DiscountKindV2::PercentageOnBill(_) => 0,
                }
        })
        .sum();
    discounts_size + value.message.as_ref().map_or(0, |m| m.len)
}

/// A 0.2 answer, checked against the limits (as [`evaluation`]) and turned into the
/// host's type.
pub fn evaluation_v2(
    value: EvaluationV2,
    output_limit: usize,
) -> Result<model::Evaluation, Failure> {
    let count = value.discounts.len;
    if count > MAX_DISCOUNTS {
        return Err(Failure::InvalidAnswer(format!(
            "the policy asked for {count} discounts; at most {MAX_DISCOUNTS} are allowed"
        )));
    }
    let size = answer_size_v2(&value);
    if size > output_limit {
        return Err(Failure::InvalidAnswer(format!(
            "the answer is {size} bytes of text in {count} discounts; the limit is {output_limit} bytes"
        )));
    }
    // Within the limit, every text was copied whole.
    let text = |t: AnswerText| t.text;
    let discounts = value
        .discounts
        .items
        .into_iter()
        .enumerate()
        .map(|(i, d)| {
            let what = format!("discounts[{i}]");
            let kind = match d.kind {
                DiscountKindV2::PercentageOnBill(p) => model::DiscountKind::PercentageOnBill {
                    percentage: decimal_from_wit(p, &format!("{what}.percentage"))?,
                },
                DiscountKindV2::PercentageOnItem(item) => model::DiscountKind::PercentageOnItem {
                    product_id: text(item.product_id),
                    percentage: decimal_from_wit(item.percentage, &format!("{what}.percentage"))?,
                },
                DiscountKindV2::CouponZeroVat(coupon) => model::DiscountKind::CouponZeroVat {
                    amount: decimal_from_wit(coupon.amount, &format!("{what}.amount"))?,
                    code: text(coupon.code),
                },
                DiscountKindV2::AmountOffItem(item) => model::DiscountKind::AmountOffItem {
                    product_id: text(item.product_id),
                    amount: decimal_from_wit(item.amount, &format!("{what}.amount"))?,
                },
            };
            Ok(model::DiscountRequest {
                kind,
                description: text(d.description),
                points: d.points,
                coupon: None,
                divisible: false,
            })
        })
        .collect::<Result<Vec<_>, ConversionError>>()
        .map_err(|e| Failure::InvalidAnswer(e.0))?;
    Ok(model::Evaluation {
        discounts,
        message: value.message.map(text),
    })
}

/// A 0.2 accrual: the reason cut at `limit` bytes (as in 0.1); the card changes (tier,
/// tags) must fit the limit whole, or the answer is invalid (a cut tag would be another
/// tag).
pub fn accrual_v2(value: AccrualV2, limit: usize) -> Result<model::Accrual, Failure> {
    for (list, what) in [
        (&value.add_tags, "add-tags"),
        (&value.remove_tags, "remove-tags"),
    ] {
        if list.len > MAX_DISCOUNTS {
            return Err(Failure::InvalidAnswer(format!(
                "the accrual's {what} has {} tags; at most {MAX_DISCOUNTS} are allowed",
                list.len
            )));
        }
    }
    let tags = |list: &AnswerList<AnswerText>| list.items.iter().map(|t| t.len + 16).sum::<usize>();
    let size = value.set_tier.as_ref().map_or(0, |t| t.len)
        + tags(&value.add_tags)
        + tags(&value.remove_tags);
    if size > limit {
        return Err(Failure::InvalidAnswer(format!(
            "the accrual's tier and tags are {size} bytes of text; the limit is {limit} bytes"
        )));
    }
    let texts = |list: AnswerList<AnswerText>| list.items.into_iter().map(|t| t.text).collect();
    Ok(model::Accrual {
        points: value.points,
        reason: value.reason.map(|r| r.truncated(limit)),
        redeem: value.redeem,
        set_tier: value.set_tier.map(|t| t.text),
        add_tags: texts(value.add_tags),
        remove_tags: texts(value.remove_tags),
        redeem_coupons: Vec::new(),
        issue_coupons: Vec::new(),
    })
}

// `wit/rules.wit`'s (contract 0.3) answers, with bounded strings and lists.

/// Most coupon codes one accrual may redeem.
pub const MAX_REDEEM_COUPONS: usize = 64;
/// Most batch names one accrual may name to issue from (the till issues at most
/// `rabat_domain::coupon::MAX_ISSUED_PER_BILL` of them).
pub const MAX_ISSUE_COUPONS: usize = 16;

#[derive(ComponentType, Lift)]
#[component(record)]
pub struct DiscountV3 {
    kind: DiscountKindV2,
    description: AnswerText,
    points: u64,
    coupon: Option<AnswerText>,
    divisible: bool,
}

#[derive(ComponentType, Lift)]
#[component(record)]
pub struct EvaluationV3 {
    discounts: AnswerList<DiscountV3>,
    message: Option<AnswerText>,
}

#[derive(ComponentType, Lift)]
#[component(record)]
pub struct AccrualV3 {
    points: i64,
    reason: Option<AnswerText>,
    redeem: u64,
    #[component(name = "set-tier")]
    set_tier: Option<AnswerText>,
    #[component(name = "add-tags")]
    add_tags: AnswerList<AnswerText>,
    #[component(name = "remove-tags")]
    remove_tags: AnswerList<AnswerText>,
    #[component(name = "redeem-coupons")]
    redeem_coupons: AnswerList<AnswerText>,
    #[component(name = "issue-coupons")]
    issue_coupons: AnswerList<AnswerText>,
}

/// A 0.3 answer: a 0.2 answer (see [`evaluation_v2`]) whose discounts may redeem a
/// coupon (its code normalized; a code that cannot be one makes the answer invalid,
/// naming `discounts[i].coupon`) and may be divisible.
pub fn evaluation_v3(
    value: EvaluationV3,
    output_limit: usize,
) -> Result<model::Evaluation, Failure> {
    let mut extras = Vec::with_capacity(value.discounts.items.len());
    let mut coupons_size = 0usize;
    let discounts = value
        .discounts
        .items
        .into_iter()
        .map(|d| {
            coupons_size += d.coupon.as_ref().map_or(0, |c| c.len);
            extras.push((d.coupon, d.divisible));
            DiscountV2 {
                kind: d.kind,
                description: d.description,
                points: d.points,
            }
        })
        .collect();
    let v2 = EvaluationV2 {
        discounts: AnswerList {
            items: discounts,
            len: value.discounts.len,
        },
        message: value.message,
    };
    // The coupon codes count toward the limit with the rest of the answer's text.
    let count = v2.discounts.len;
    let size = answer_size_v2(&v2) + coupons_size;
    if count <= MAX_DISCOUNTS && size > output_limit {
        return Err(Failure::InvalidAnswer(format!(
            "the answer is {size} bytes of text in {count} discounts; the limit is {output_limit} bytes"
        )));
    }
    let mut evaluation = evaluation_v2(v2, output_limit)?;
    for (i, (discount, (coupon, divisible))) in
        evaluation.discounts.iter_mut().zip(extras).enumerate()
    {
        discount.divisible = divisible;
        if let Some(coupon) = coupon {
            // Within the limit (checked above with the codes counted), copied whole.
            if let Some(problem) = code_problem(coupon.text.trim()) {
                return Err(Failure::InvalidAnswer(format!(
                    "discounts[{i}].coupon: {problem}"
                )));
            }
            discount.coupon = Some(normalize_code(&coupon.text));
        }
    }
    Ok(evaluation)
}

/// A 0.3 accrual: a 0.2 accrual (see [`accrual_v2`]) with the coupons to redeem (at most
/// [`MAX_REDEEM_COUPONS`], normalized; a code that cannot be one is invalid) and the
/// batches to issue from (at most [`MAX_ISSUE_COUPONS`], kept as given).
pub fn accrual_v3(value: AccrualV3, limit: usize) -> Result<model::Accrual, Failure> {
    for (list, what, max) in [
        (&value.redeem_coupons, "redeem-coupons", MAX_REDEEM_COUPONS),
        (&value.issue_coupons, "issue-coupons", MAX_ISSUE_COUPONS),
    ] {
        if list.len > max {
            return Err(Failure::InvalidAnswer(format!(
                "the accrual's {what} has {} entries; at most {max} are allowed",
                list.len
            )));
        }
    }
    // The card changes and the coupons together must fit the limit whole (a cut code or
    // batch name would be another one).
    let size = |list: &AnswerList<AnswerText>| list.items.iter().map(|t| t.len + 16).sum::<usize>();
    let total = value.set_tier.as_ref().map_or(0, |t| t.len)
        + size(&value.add_tags)
        + size(&value.remove_tags)
        + size(&value.redeem_coupons)
        + size(&value.issue_coupons);
    if total > limit {
        return Err(Failure::InvalidAnswer(format!(
            "the accrual's tier, tags and coupons are {total} bytes of text; the limit is {limit} bytes"
        )));
    }
    let mut redeem_coupons = Vec::with_capacity(value.redeem_coupons.items.len());
    for (i, code) in value.redeem_coupons.items.into_iter().enumerate() {
        if let Some(problem) = code_problem(code.text.trim()) {
            return Err(Failure::InvalidAnswer(format!(
                "redeem-coupons[{i}]: {problem}"
            )));
        }
        redeem_coupons.push(normalize_code(&code.text));
    }
    let issue_coupons = value
        .issue_coupons
        .items
        .into_iter()
        .map(|t| t.text)
        .collect();
    let mut accrual = accrual_v2(
        AccrualV2 {
            points: value.points,
            reason: value.reason,
            redeem: value.redeem,
            set_tier: value.set_tier,
            add_tags: value.add_tags,
            remove_tags: value.remove_tags,
        },
        limit,
    )?;
    accrual.redeem_coupons = redeem_coupons;
    accrual.issue_coupons = issue_coupons;
    Ok(accrual)
}

/// Defines the `rabat:rules/host` imports (`log`, `report-panic`) of both contract
/// versions on `linker`, reading each message through a [`Text`] so only a bounded prefix
/// is ever copied.
pub fn add_host_to_linker<W: 'static>(linker: &mut Linker<CallState<W>>) -> Result<()> {
    for version in ["0.1.0", "0.2.0", "0.3.0"] {
        add_host_version(linker, version)?;
    }
    Ok(())
}

/// The host imports of one contract version (the same functions in both).
fn add_host_version<W: 'static>(linker: &mut Linker<CallState<W>>, version: &str) -> Result<()> {
    // The types interface has no functions; it is defined for components that import it.
    linker.instance(&format!("rabat:rules/types@{version}"))?;
    let mut host = linker.instance(&format!("rabat:rules/host@{version}"))?;
    host.func_wrap(
        "log",
        |mut store: StoreContextMut<'_, CallState<W>>, (level, message): (Level, Text<LogLine>)| {
            let log = &mut store.data_mut().host.log;
            log.push(LogLevel::from(level), message.text);
            if log.is_full() {
                Caps::log_full();
            }
            Ok(())
        },
    )?;
    host.func_wrap(
        "report-panic",
        |mut store: StoreContextMut<'_, CallState<W>>, (message,): (Text<PanicMessage>,)| {
            store.data_mut().host.panic = Some(message.truncated(PANIC_MESSAGE_BYTES));
            Ok(())
        },
    )?;
    Ok(())
}
