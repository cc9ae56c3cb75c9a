//! What the till was last offered for an order ([`Offer`]), as `accrue` sees it when the
//! bill completes, and a builder for tests.

use rabat_wire::{OfferDiscountRef, OfferRef, Records};
use rust_decimal::Decimal;

/// The till's last offer for the bill being completed, read in place: the discounts after
/// the host's money rules, with their exact amounts, and the points held for them. Only
/// `accrue` sees one ([`Context::offer`](crate::Context::offer)); compare it with the
/// completed bill to tell whether the offer was taken.
#[derive(Debug, Clone)]
pub struct Offer<'a> {
    pub(crate) rec: OfferRef<'a>,
    pub(crate) discounts: Records<'a, OfferDiscountRef<'a>>,
}

/// One discount of an [`Offer`].
#[derive(Debug, Clone, Copy)]
pub struct OfferedDiscount<'a> {
    rec: OfferDiscountRef<'a>,
}

impl<'a> Offer<'a> {
    /// The offered discounts, in the order the host applied them.
    pub fn discounts(&self) -> impl Iterator<Item = OfferedDiscount<'a>> + use<'a> {
        self.discounts.clone().map(|rec| OfferedDiscount { rec })
    }

    /// The sum of the offered amounts.
    pub fn total_discount(&self) -> Decimal {
        self.rec.total_discount().unwrap_or_default()
    }

    /// Points held for this order: what [`Accrual::redeem`](crate::Accrual::redeem) may
    /// take.
    pub fn held_points(&self) -> u64 {
        self.rec.held_points().unwrap_or_default()
    }

    /// When the offer was made (epoch ms, UTC).
    pub fn offered_at(&self) -> i64 {
        self.rec.offered_at().unwrap_or_default()
    }

    /// The offered coupon with `code`, if there was one.
    pub fn coupon(&self, code: &str) -> Option<OfferedDiscount<'a>> {
        self.discounts().find(|d| d.code() == Some(code))
    }
}

impl<'a> OfferedDiscount<'a> {
    /// What the policy asked for: `percentage_on_bill`, `percentage_on_item`,
    /// `coupon_zero_vat` or `amount_off_item`.
    pub fn kind(&self) -> &'a str {
        self.rec.kind().unwrap_or_default()
    }

    /// The product, for item discounts.
    pub fn product_id(&self) -> Option<&'a str> {
        self.rec.product_id().ok().flatten()
    }

    /// The coupon code, for coupons.
    pub fn code(&self) -> Option<&'a str> {
        self.rec.code().ok().flatten()
    }

    /// The description the till showed.
    pub fn description(&self) -> &'a str {
        self.rec.description().unwrap_or_default()
    }

    /// The exact amount the till was offered.
    pub fn amount(&self) -> Decimal {
        self.rec.amount().unwrap_or_default()
    }

    /// Points this discount costs (held for the order).
    pub fn points(&self) -> u64 {
        self.rec.points().unwrap_or_default()
    }
}

/// An offer built by a test (see [`Offer::builder`]).
#[derive(Debug, Clone, PartialEq, Default)]
#[allow(missing_docs)] // the fields are [`Offer`]'s
pub struct OfferData {
    pub discounts: Vec<OfferedDiscountData>,
    pub total_discount: Decimal,
    pub held_points: u64,
    pub offered_at: i64,
}

/// An offered discount built by a test.
#[derive(Debug, Clone, PartialEq)]
#[allow(missing_docs)] // the fields are [`OfferedDiscount`]'s
pub struct OfferedDiscountData {
    pub kind: String,
    pub product_id: Option<String>,
    pub code: Option<String>,
    pub description: String,
    pub amount: Decimal,
    pub points: u64,
}

impl Offer<'static> {
    /// Starts an offer for a test: no discounts, nothing held.
    pub fn builder() -> OfferBuilder {
        OfferBuilder {
            offer: OfferData::default(),
        }
    }
}

/// Builds an [`OfferData`] for a test; start with [`Offer::builder`]. The total and the
/// held points are the sums of the discounts'.
#[derive(Debug, Clone)]
pub struct OfferBuilder {
    offer: OfferData,
}

impl OfferBuilder {
    /// Adds an offered zero-VAT coupon of `amount` costing `points`.
    pub fn coupon(
        self,
        code: impl Into<String>,
        amount: Decimal,
        points: u64,
        description: impl Into<String>,
    ) -> Self {
        self.discount(OfferedDiscountData {
            kind: "coupon_zero_vat".into(),
            product_id: None,
            code: Some(code.into()),
            description: description.into(),
            amount,
            points,
        })
    }

    /// Adds any offered discount.
    pub fn discount(mut self, discount: OfferedDiscountData) -> Self {
        self.offer.total_discount += discount.amount;
        self.offer.held_points = self.offer.held_points.saturating_add(discount.points);
        self.offer.discounts.push(discount);
        self
    }

    /// Sets when the offer was made (epoch ms, UTC).
    pub fn offered_at(mut self, epoch_ms: i64) -> Self {
        self.offer.offered_at = epoch_ms;
        self
    }

    /// Finishes the offer.
    pub fn build(self) -> OfferData {
        self.offer
    }
}
