//! What contract 0.3 adds to the card: the coupons of its wallet ([`WalletCoupon`]) and
//! the customer's profile ([`Profile`]: birthday, custom attributes), read in place, and
//! their owned forms for tests.

use rabat_wire::{ProfileAttributeRef, Records, WalletCouponRef};
use rust_decimal::Decimal;

/// What a coupon is worth.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CouponValue {
    /// An amount in the merchant's currency.
    Amount(Decimal),
    /// A percentage of the bill, in (0, 100].
    Percentage(Decimal),
}

/// One usable coupon of the card's wallet (a rabat coupon the host issued to the card and
/// that is valid now), read in place. Offer it with
/// [`Discount::with_coupon`](crate::Discount::with_coupon) and its [`code`](Self::code).
#[derive(Debug, Clone, Copy)]
pub struct WalletCoupon<'a> {
    pub(crate) rec: WalletCouponRef<'a>,
}

impl<'a> WalletCoupon<'a> {
    /// The coupon's code, e.g. `WELCOME-7KQ4MX9TCA` (upper case).
    pub fn code(&self) -> &'a str {
        self.rec.code().unwrap_or_default()
    }

    /// The name of the batch it was issued from, e.g. `welcome`.
    pub fn batch(&self) -> &'a str {
        self.rec.batch().unwrap_or_default()
    }

    /// What it is worth.
    pub fn value(&self) -> CouponValue {
        match self.rec.value() {
            Ok(rabat_wire::CouponValue::Amount(amount)) => CouponValue::Amount(amount),
            Ok(rabat_wire::CouponValue::Percentage(p)) => CouponValue::Percentage(p),
            Err(_) => CouponValue::Amount(Decimal::ZERO),
        }
    }

    /// The least bill total it applies to, if any.
    pub fn min_bill(&self) -> Option<Decimal> {
        self.rec.min_bill().ok().flatten()
    }

    /// When it stops being valid (epoch ms, UTC); `None`: never.
    pub fn valid_until(&self) -> Option<i64> {
        self.rec.valid_until().ok().flatten()
    }

    /// Whether a bill of `total` meets its min bill.
    pub fn applies_to(&self, total: Decimal) -> bool {
        self.min_bill().is_none_or(|min| total >= min)
    }
}

/// The card's wallet: an iterator of its [`WalletCoupon`]s.
#[derive(Debug, Clone)]
pub struct Wallet<'a>(pub(crate) Records<'a, WalletCouponRef<'a>>);

impl<'a> Iterator for Wallet<'a> {
    type Item = WalletCoupon<'a>;

    fn next(&mut self) -> Option<WalletCoupon<'a>> {
        self.0.next().map(|rec| WalletCoupon { rec })
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.0.size_hint()
    }
}

impl ExactSizeIterator for Wallet<'_> {}

/// A customer's birthday: month and day, the year when known.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Birthday {
    /// 1–12.
    pub month: u8,
    /// 1–31 (29 February included).
    pub day: u8,
    /// The year of birth, when the customer gave it.
    pub year: Option<u16>,
}

/// The customer's profile as the merchant keeps it, read in place.
#[derive(Debug, Clone)]
pub struct Profile<'a> {
    pub(crate) birthday: Option<Birthday>,
    pub(crate) attributes: Records<'a, ProfileAttributeRef<'a>>,
}

impl<'a> Profile<'a> {
    /// The birthday, if the customer gave one.
    pub fn birthday(&self) -> Option<Birthday> {
        self.birthday
    }

    /// The custom attribute `key` (e.g. `favourite`), if set.
    pub fn attribute(&self, key: &str) -> Option<&'a str> {
        self.attributes()
            .find(|(k, _)| *k == key)
            .map(|(_, value)| value)
    }

    /// The custom attributes, as (key, value), in key order.
    pub fn attributes(&self) -> impl Iterator<Item = (&'a str, &'a str)> + use<'a> {
        self.attributes
            .clone()
            .map(|a| (a.key().unwrap_or_default(), a.value().unwrap_or_default()))
    }
}

/// A wallet coupon built by a test (see [`CardBuilder::coupon`](crate::CardBuilder::coupon)).
#[derive(Debug, Clone, PartialEq)]
#[allow(missing_docs)] // the fields are [`WalletCoupon`]'s
pub struct WalletCouponData {
    pub code: String,
    pub batch: String,
    pub value: CouponValue,
    pub min_bill: Option<Decimal>,
    pub valid_until: Option<i64>,
}

impl WalletCouponData {
    /// A coupon with `code` from `batch` worth `value`, no min bill, no end.
    pub fn new(code: impl Into<String>, batch: impl Into<String>, value: CouponValue) -> Self {
        WalletCouponData {
            code: code.into(),
            batch: batch.into(),
            value,
            min_bill: None,
            valid_until: None,
        }
    }

    /// Sets the least bill total it applies to.
    pub fn min_bill(mut self, min_bill: Decimal) -> Self {
        self.min_bill = Some(min_bill);
        self
    }

    /// Sets when it stops being valid (epoch ms, UTC).
    pub fn valid_until(mut self, epoch_ms: i64) -> Self {
        self.valid_until = Some(epoch_ms);
        self
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use crate::prelude::*;

    fn card() -> CardData {
        Card::builder()
            .points(900)
            .coupon(
                WalletCouponData::new("TEN", "ten", CouponValue::Percentage(dec!(10)))
                    .valid_until(99),
            )
            .birthday(2, 29, Some(1992))
            .attribute("shop", "Nitra")
            .attribute("favourite", "tea")
            .attribute("favourite", "espresso")
            .pending_points(40)
            .next_expiry(1_900_000_000_000, 120)
            .build()
    }

    #[test]
    fn the_0_3_card_reads_back_and_survives_a_rebuild() {
        let ctx = Context::new(Order::builder().build()).with_card(card());
        // A change to another part writes the buffer again from the values read back.
        let ctx = Context::from_input(ctx.input_bytes().to_vec())
            .unwrap()
            .with_config("{}");
        let card = ctx.card().unwrap();
        assert_eq!(card.available_points(), 900, "the balance by default");
        assert_eq!(card.pending_points(), 40);
        assert_eq!(
            card.next_expiry(),
            Some(crate::PointsExpiry {
                at: 1_900_000_000_000,
                points: 120
            })
        );
        let coupon = card.wallet().next().unwrap();
        assert_eq!(
            (coupon.code(), coupon.batch(), coupon.valid_until()),
            ("TEN", "ten", Some(99))
        );
        assert_eq!(coupon.value(), CouponValue::Percentage(dec!(10)));
        assert!(coupon.applies_to(dec!(0)));
        let profile = card.profile();
        assert_eq!(
            profile.birthday(),
            Some(Birthday {
                month: 2,
                day: 29,
                year: Some(1992)
            })
        );
        let attributes: Vec<_> = profile.attributes().collect();
        assert_eq!(attributes, [("favourite", "espresso"), ("shop", "Nitra")]);
        assert_eq!(profile.attribute("none"), None);
    }

    #[test]
    fn a_coupon_code_is_checked_like_the_host_does() {
        let ctx = Context::new(Order::builder().build());
        let bad: Evaluation = Discount::percentage_on_bill(10, "x")
            .with_coupon("NO SPACES")
            .into();
        let err = bad.validate(&ctx.order()).unwrap_err();
        assert!(err.starts_with("discounts[0].coupon"), "{err}");
    }
}
