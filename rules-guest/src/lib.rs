//! Write a rabat discount policy as plain Rust.
//!
//! A policy is a type implementing [`Policy`]: [`Policy::evaluate`] decides the discounts
//! for an open bill, [`Policy::accrue`] (optional) the points for a completed one.
//! [`export_policy!`] turns it into a WebAssembly component rabat can run. The policy
//! only *asks* for discounts; rabat computes the money (rounding, caps, order).
//!
//! ```
//! use rabat_rules::prelude::*;
//!
//! #[derive(serde::Deserialize)]
//! struct Config { tiers: Table<Percentage> }
//!
//! struct TierDiscount;
//!
//! impl Policy for TierDiscount {
//!     fn evaluate(ctx: &Context) -> Result<Evaluation, String> {
//!         let config: Config = ctx.config()?;
//!         let Some((tier, pct)) = ctx.tier().and_then(|t| Some((t, config.tiers.get(t)?))) else {
//!             return Ok(Evaluation::none());
//!         };
//!         Ok(Discount::percentage_on_bill(*pct, format!("{pct}% {tier} member discount")).into())
//!     }
//! }
//!
//! export_policy!(TierDiscount);
//!
//! // A test is plain Rust, with builders for orders and cards:
//! let order = Order::builder()
//!     .item(OrderItem::new("11111", "Espresso", 2, dec!(2.50)).with_category("Hot Beverages"))
//!     .build();
//! let ctx = Context::new(order)
//!     .with_card(Card::builder().tier("gold").build())
//!     .with_config(r#"{"tiers": {"gold": 10}}"#);
//! let evaluation = TierDiscount::evaluate(&ctx)?;
//! assert_eq!(evaluation.discounts, [Discount::percentage_on_bill(10, "10% gold member discount")]);
//! # Ok::<(), String>(())
//! ```
//!
//! # What a policy sees
//!
//! A [`Context`]: the [`Order`] (every field the POS sent, its [`OrderItem`] lines, POS
//! extras as attributes), the customer's [`Card`] if the bill carries one, the
//! merchant's config and, in `accrue`, the till's last [`Offer`] for the bill — all read
//! in place from the one input buffer the host sends (no copy, no allocation per value). Look-ups rules need: [`Order::lines_of_product`],
//! [`Order::lines_in_category`], [`Order::lines_in_category_id`], [`Order::products`],
//! [`Order::sum`], [`Order::quantity`], [`Order::share_of_product`], [`Context::tier`],
//! [`Context::has_tag`]; the order's local time and weekday in the shop's time zone with
//! [`time`].
//!
//! # Config
//!
//! [`Context::config`] reads the merchant's JSON config into your own `serde` type, with
//! errors that name the place (`config: tiers.gold: 150 is not a percentage in (0, 100]
//! (line 1, column 23)`). For its values, prefer the SDK's small, exact types:
//! [`Percentage`] (checked to be in (0, 100]), [`Amount`] (≥ 0), [`Table`] (a JSON object
//! as key → value), [`time::TimeOfDay`] (`"15:00"`), [`time::Weekday`] (`"monday"`),
//! [`time::TimeZone`] (`"Europe/Bratislava"`).
//! `Decimal`, `BTreeMap` and `HashMap` work too, but each adds about 7–18 kB to the
//! module, which must stay small (every call instantiates it afresh).
//!
//! # Choosing a discount type: the tax sense
//!
//! - A promotional money-off (loyalty percentage, happy hour, a free coffee) must reduce
//!   the taxable amount: ask for [`Discount::percentage_on_bill`] or
//!   [`Discount::percentage_on_item`]. For a fixed sum off a product ("one espresso
//!   free", "2.50 off"), [`Order::share_of_product`] gives the percentage to ask for.
//! - [`Discount::coupon_zero_vat`] is applied as a negative line with 0 % VAT. That is
//!   right for a voucher that works like a payment — the EU's multi-purpose voucher
//!   (Council Directive (EU) 2016/1065), e.g. a prepaid gift card — and wrong for a
//!   promotional "5 € off", which belongs in the percentage types.
//!
//! The host applies item percentages first (on the sum of the lines of the product), then
//! bill percentages on what is left, then coupons, each capped at what is left; at most
//! [`MAX_DISCOUNTS`] per answer. [`Evaluation::validate`] checks an answer in tests.
//!
//! # Logging, panics, errors
//!
//! [`info!`], [`debug!`], [`warn!`], [`error!`] write to the call's log (shown by
//! `rabat run`, dry-runs and the evaluation log); natively they print to stderr. An `Err`
//! from `evaluate` is shown to the merchant and the till gets no discount. A panic
//! traps, and its message is reported to the host first.
//!
//! # Exact amounts in tests
//!
//! Natively, [`Evaluation::amounts`] runs the host's own money rules on the test's bill:
//! assert the exact amounts the till will get (`amounts.total_discount == dec!(1.15)`)
//! instead of re-implementing the rounding.
//!
//! # Redeeming: how the completed bill shows what was taken
//!
//! `accrue` decides from the completed bill whether the till's offer ([`Context::offer`])
//! was taken, and redeems ([`Accrual::redeem`]) only then; otherwise it redeems 0 and the
//! host releases the hold. Papaya documents how a till applies a zero-VAT coupon: *"A
//! discount coupon with zero VAT. It is applied as an item with a negative value on the
//! bill"* (Slovak original: *"Aplikuje sa v zápornej hodnote ako položka na účte."*). So
//! the rule to start from (the `pay-with-points` example's): take the coupon from the
//! offer ([`Offer::coupon`]: its amount and the points it held), and redeem its points
//! when the bill has a negative line of minus that amount, or a negative line whose name
//! or product id is the code:
//!
//! ```
//! use rabat_rules::prelude::*;
//!
//! fn accrue(ctx: &Context) -> Result<Accrual, String> {
//!     let Some(offered) = ctx.offer().and_then(|offer| offer.coupon("POINTS")) else {
//!         return Ok(Accrual::none());
//!     };
//!     let taken = ctx.order().items().any(|line| {
//!         line.total_price() < Decimal::ZERO
//!             && (line.total_price() == -offered.amount() || line.name() == "POINTS")
//!     });
//!     Ok(if taken { Accrual::none().redeem(offered.points()) } else { Accrual::none() })
//! }
//!
//! let offer = Offer::builder().coupon("POINTS", dec!(3.00), 300, "Paid with 300 points").build();
//! let paid = Order::builder()
//!     .item(OrderItem::new("11111", "Espresso", 2, dec!(2.50)))
//!     .item(OrderItem::new("POINTS", "POINTS", 1, dec!(-3.00)))
//!     .build();
//! assert_eq!(accrue(&Context::new(paid).with_offer(offer))?.redeem, 300);
//! # Ok::<(), String>(())
//! ```
//!
//! A POS that shows it differently needs its own test with its real completed bills
//! (`rabat run --accrue --offer FILE` runs one locally): a coupon split over several
//! negative lines needs their sum; a POS that sends no lines (BIFIT Kassa's orders carry
//! only the applied total, the `discount` attribute: [`Order::attribute`]) needs that
//! total compared with the offer's. When the bill cannot show it, redeem nothing: an
//! unused hold expires, points taken for a coupon never applied are the customer's loss.
//!
//! # 0.1 → 0.2 for authors
//!
//! Contract `rabat:rules@0.2.0` hands the policy its input as one buffer that the SDK
//! reads in place. What changes in a policy's code:
//!
//! - The context's parts are methods, not fields: `ctx.order()`, `ctx.card()`,
//!   `ctx.config_text()`; so are a line's and a card's: `item.product_id()`,
//!   `item.category_name()`, `card.points()`. Texts are `&str` borrowed from the input.
//! - Tests build owned data: `Order::builder().build()` is an [`OrderData`],
//!   `OrderItem::new(..)` an [`ItemData`], `Card::builder().build()` a [`CardData`]; a
//!   helper returning a bill says `-> OrderData`. `Context::new(order).with_card(..)`
//!   writes them into the same buffer the host sends.
//! - New: [`Discount::amount_off_item`] (an exact amount off a product), a discount
//!   [`costing_points`](Discount::costing_points), [`Context::offer`] in `accrue`, and
//!   [`Accrual`]'s [`redeem`](Accrual::redeem), [`set_tier`](Accrual::set_tier),
//!   [`add_tag`](Accrual::add_tag), [`remove_tag`](Accrual::remove_tag).
//! - Rebuild with `rabat build`; `rabat check` says `contract: rabat:rules@0.2.0`. Modules
//!   built for 0.1 keep running unchanged on the host.
//!
//! # 0.2 → 0.3 for authors
//!
//! Contract `rabat:rules@0.3.0` adds to what 0.2 gives (nothing of 0.2 changes; 0.2
//! modules keep running unchanged):
//!
//! - On the card: [`Card::available_points`] (balance minus other open orders' holds;
//!   what a points-costing discount must fit in), [`Card::wallet`] (the rabat coupons
//!   issued to the card and valid now, [`WalletCoupon`]) and [`Card::profile`]
//!   (birthday, custom attributes); [`Card::pending_points`] (earned, not vested yet: the
//!   merchant's returns window) and [`Card::next_expiry`] (when the next points expire,
//!   and how many, [`PointsExpiry`]). Tests set them with
//!   [`CardBuilder::available_points`], [`CardBuilder::coupon`], [`CardBuilder::birthday`],
//!   [`CardBuilder::attribute`], [`CardBuilder::pending_points`],
//!   [`CardBuilder::next_expiry`].
//! - On a discount: [`Discount::with_coupon`] (it redeems a wallet coupon; the host holds
//!   the code) and [`Discount::divisible`] (the host may cut it to the available points).
//! - On an accrual: [`Accrual::redeem_coupon`] (a held coupon the bill took; see
//!   [`OfferedDiscount::taken_by`]) and [`Accrual::issue_coupon`] (one code from a batch).
//! - `rules-guest/README.md` has short examples of each. Rebuild with `rabat build`;
//!   `rabat check` says `contract: rabat:rules@0.3.0`.
//!
//! # Building
//!
//! The crate is a `cdylib` (plus `rlib` for tests). rabat builds it with
//! `cargo build --release --target wasm32-unknown-unknown` (size-optimized, `panic =
//! "abort"`, 64 KiB stack) and wraps the core module into a component; the module imports
//! nothing but the host's `rabat:rules/host` interface (log, report-panic). A
//! `wasm32-wasip2` build works too (a component that also imports WASI). On wasm32 the SDK installs a bump
//! allocator (each call runs in a fresh instance, so memory is never reused); turn off the
//! default `bump-allocator` feature to keep Rust's default allocator.
#![deny(missing_docs)]

mod answer;
mod card;
mod context;
mod coupon;
mod number;
mod offer;
mod order;
mod table;

#[cfg(not(target_arch = "wasm32"))]
pub mod money;

pub mod json;
pub mod logging;
pub mod time;

#[cfg(all(target_arch = "wasm32", feature = "bump-allocator"))]
mod alloc;

#[cfg(all(target_arch = "wasm32", feature = "bump-allocator"))]
#[global_allocator]
static ALLOCATOR: alloc::Bump = alloc::Bump::new();

/// The bindings `wit-bindgen` generates from `wit/`; authors use the SDK's own types.
#[doc(hidden)]
#[allow(missing_docs, unsafe_code)]
pub mod __bindings {
    wit_bindgen::generate!({
        path: "../wit",
        world: "policy",
        pub_export_macro: true,
        export_macro_name: "__export",
        default_bindings_module: "::rabat_rules::__bindings",
    });
}

#[doc(hidden)]
#[allow(missing_docs)]
#[path = "export.rs"]
pub mod __private;

/// The README's examples, run as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;

pub use answer::{Accrual, Discount, DiscountKind, Evaluation, MAX_DISCOUNTS};
pub use card::{Card, CardBuilder, CardData, PointsExpiry};
pub use context::Context;
pub use coupon::{Birthday, CouponValue, Profile, Wallet, WalletCoupon, WalletCouponData};
pub use number::{Amount, Percentage};
pub use offer::{Offer, OfferBuilder, OfferData, OfferedDiscount, OfferedDiscountData};
pub use order::{ItemData, Items, Order, OrderBuilder, OrderData, OrderItem};
pub use rust_decimal::{self, Decimal, RoundingStrategy};
pub use table::Table;

/// The names a policy and its tests need: `use rabat_rules::prelude::*;`. Everything the
/// crate docs show is here: the context and its views, the owned data tests build (an
/// [`ItemData`] is what `OrderItem::new` returns), the builders, [`MAX_DISCOUNTS`].
///
/// (`warn!` is left out: a glob-imported `warn` clashes with the `#[warn]` attribute;
/// write `rabat_rules::warn!`.)
///
/// ```
/// use rabat_rules::prelude::*;
///
/// fn espresso(quantity: u32) -> ItemData {
///     OrderItem::new("11111", "Espresso", quantity, dec!(2.50))
/// }
/// let order: OrderData = Order::builder().item(espresso(2)).build();
/// let ctx = Context::new(order);
/// let evaluation = (0..MAX_DISCOUNTS + 1).fold(Evaluation::none(), |e, _| {
///     e.with(Discount::percentage_on_item("11111", 1, "1% off"))
/// });
/// assert!(evaluation.validate(&ctx.order()).is_err(), "more than MAX_DISCOUNTS is refused");
/// ```
pub mod prelude {
    pub use crate::logging::Level;
    pub use crate::time::{TimeOfDay, TimeZone, Timestamp, Weekday};
    pub use crate::{
        Accrual, Amount, Birthday, Card, CardBuilder, CardData, Context, CouponValue, Decimal,
        Discount, DiscountKind, Evaluation, ItemData, Items, MAX_DISCOUNTS, Offer, OfferBuilder,
        OfferData, OfferedDiscount, OfferedDiscountData, Order, OrderBuilder, OrderData, OrderItem,
        Percentage, PointsExpiry, Policy, Profile, RoundingStrategy, Table, Wallet, WalletCoupon,
        WalletCouponData, debug, dec, error, export_policy, info, log,
    };
}

/// A discount policy. Implement it on your own type and export it with
/// [`export_policy!`].
pub trait Policy {
    /// Decides the discounts for an open bill.
    ///
    /// An `Err` is reported to the merchant (say what is wrong and what to do, e.g.
    /// `"config: missing field `tiers`"`), and the till gets no discount.
    fn evaluate(ctx: &Context) -> Result<Evaluation, String>;

    /// Decides the points to add to the card for a completed bill, the held points to
    /// redeem ([`Context::offer`] is what the till was offered) and changes to the card.
    /// An `Err` records the bill with 0 points and no change. By default: nothing.
    fn accrue(ctx: &Context) -> Result<Accrual, String> {
        let _ = ctx;
        Ok(Accrual::none())
    }
}

/// Exports a [`Policy`] as the component's `evaluate` and `accrue`, and installs the
/// panic hook that reports a panic's message to the host. Use it once, at the top level
/// of the policy crate: `export_policy!(MyPolicy);`.
///
/// Natively (in tests) it exports nothing, so the crate still builds and tests as a
/// normal library.
#[macro_export]
macro_rules! export_policy {
    ($policy:ty) => {
        const _: () = {
            #[cfg(target_arch = "wasm32")]
            type __RabatExported = $crate::__private::Exported<$policy>;
            #[cfg(target_arch = "wasm32")]
    $crate::__bindings::__export!(__RabatExported with_types_in $crate::__bindings);
            $crate::__private::assert_policy::<$policy>();
        };
    };
}

/// An exact [`Decimal`] from a literal, for tests and constants: `dec!(2.50)`, `dec!(-1)`.
///
/// Panics if the literal is not a decimal (a mistake in code, not in data).
#[macro_export]
macro_rules! dec {
    ($value:literal) => {
        $crate::__private::decimal_literal(::core::stringify!($value))
    };
}
