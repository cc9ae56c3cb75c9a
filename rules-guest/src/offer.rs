//! What the till was last offered for an order ([`Offer`]), as `accrue` sees it when the
//! bill completes, and a builder for tests.

use rabat_wire::{OfferDiscountRef, OfferRef, Records};
use rust_decimal::Decimal;

use crate::Order;

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

    /// Whether the completed bill `order` shows this discount was taken, by the rule the
    /// crate docs start from ("Redeeming"): the bill has a negative line of exactly minus
    /// the offered amount, or a negative line whose name or product id is this
    /// discount's code (a zero-VAT coupon's code, or the rabat coupon it redeems).
    ///
    /// ```
    /// # use rabat_rules::prelude::*;
    /// let offer = Offer::builder().coupon("WELCOME-7KQ4", dec!(5.00), 0, "Welcome gift").build();
    /// let paid = Order::builder()
    ///     .item(OrderItem::new("11111", "Espresso", 4, dec!(2.50)))
    ///     .item(OrderItem::new("WELCOME-7KQ4", "WELCOME-7KQ4", 1, dec!(-5.00)))
    ///     .build();
    /// let ctx = Context::new(paid).with_offer(offer);
    /// let offered = ctx.offer().and_then(|o| o.coupon("WELCOME-7KQ4")).unwrap();
    /// assert!(offered.taken_by(&ctx.order()));
    /// ```
    pub fn taken_by(&self, order: &Order<'_>) -> bool {
        let amount = self.amount();
        let code = self.code().filter(|c| !c.is_empty());
        order.items().any(|line| {
            line.total_price() < Decimal::ZERO
                && ((amount > Decimal::ZERO && line.total_price() == -amount)
                    || code.is_some_and(|code| {
                        line.name().eq_ignore_ascii_case(code)
                            || line.product_id().eq_ignore_ascii_case(code)
                    }))
        })
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

    /// Adds an offered discount of `kind` (e.g. `percentage_on_bill`) of `amount` that
    /// redeems the rabat coupon `code` (what the host offers for a
    /// [`Discount::with_coupon`](crate::Discount::with_coupon)).
    pub fn coupon_discount(
        self,
        kind: impl Into<String>,
        code: impl Into<String>,
        amount: Decimal,
        description: impl Into<String>,
    ) -> Self {
        self.discount(OfferedDiscountData {
            kind: kind.into(),
            product_id: None,
            code: Some(code.into()),
            description: description.into(),
            amount,
            points: 0,
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
