//! rabat's domain: what a bill, a card and a discount are, and the rules money follows.
//!
//! Pure by construction: no I/O, no async runtime, no database, no HTTP, no sandbox (the
//! layering test in `host/tests/app/layering.rs` keeps it so). Every other rabat crate
//! depends on this one; it depends on none of them.
//!
//! - [`model`]: the canonical order, card, discount request, evaluation and accrual;
//! - [`currency`], [`money`]: minor units, rounding, and how requested discounts become
//!   exact amounts (the host's money rules);
//! - [`policy_config`]: what a merchant's policy config may be;
//! - [`papaya`], [`bifit`]: the POS formats, parsed exactly, and their mapping to the
//!   canonical order;
//! - [`points`]: paying with points: which discounts a card affords, the offer held;
//! - [`budget`]: campaign budgets and limits: periods in the shop's time zone, exact cuts;
//! - [`lots`]: points over time: when an earned lot expires and vests;
//! - [`limits`]: the bounds on amounts, points, JSON depth and text;
//! - [`clock`]: the one wall-clock helper.

pub mod bifit;
pub mod budget;
pub mod clock;
pub mod coupon;
pub mod currency;
pub mod limits;
pub mod lots;
pub mod model;
pub mod money;
pub mod papaya;
pub mod points;
pub mod policy_config;
pub mod returns;

#[cfg(test)]
mod fuzz;
