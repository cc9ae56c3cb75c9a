//! The customer's loyalty card as rabat keeps it (a view of the input), and a builder for
//! tests.

use rabat_wire::{CardExtrasRef, CardRef, ProfileAttributeRef, Records, TextRef, WalletCouponRef};
use rust_decimal::Decimal;

use crate::coupon::{Birthday, Profile, Wallet, WalletCouponData};

/// The customer's loyalty card, read in place. Get it with
/// [`Context::card`](crate::Context::card).
///
/// Build one for a test with [`Card::builder`].
#[derive(Debug, Clone)]
pub struct Card<'a> {
    pub(crate) rec: CardRef<'a>,
    pub(crate) tags: Records<'a, TextRef<'a>>,
    pub(crate) extras: Option<CardExtrasRef<'a>>,
    pub(crate) wallet: Records<'a, WalletCouponRef<'a>>,
    pub(crate) profile: Records<'a, ProfileAttributeRef<'a>>,
}

impl<'a> Card<'a> {
    /// The card's id (what the POS scanned).
    pub fn card_id(&self) -> &'a str {
        self.rec.card_id().unwrap_or_default()
    }

    /// The merchant's customer id, if set.
    pub fn customer_id(&self) -> Option<&'a str> {
        self.rec.customer_id().ok().flatten()
    }

    /// The card holder's name, if set.
    pub fn name(&self) -> Option<&'a str> {
        self.rec.name().ok().flatten()
    }

    /// The tier, if the card has one (a merchant-defined name, e.g. `gold`).
    pub fn tier(&self) -> Option<&'a str> {
        self.rec.tier().ok().flatten()
    }

    /// Merchant-defined tags, e.g. `staff`, `birthday-month`.
    pub fn tags(&self) -> impl Iterator<Item = &'a str> + use<'a> {
        self.tags.clone().map(|t| t.text().unwrap_or_default())
    }

    /// Whether the card carries `tag`.
    pub fn has_tag(&self, tag: &str) -> bool {
        self.tags().any(|t| t == tag)
    }

    /// The points balance.
    pub fn points(&self) -> i64 {
        self.rec.points().unwrap_or_default()
    }

    /// Completed bills recorded on the card before this one (0 on a first visit).
    pub fn visits(&self) -> u32 {
        self.rec.visits().unwrap_or_default()
    }

    /// Sum of the totals of those bills.
    pub fn total_spent(&self) -> Decimal {
        self.rec.total_spent().unwrap_or_default()
    }

    /// First recorded visit (epoch ms, UTC); `None` before the first visit.
    pub fn first_visit(&self) -> Option<i64> {
        self.rec.first_visit().ok().flatten()
    }

    /// Last recorded visit (epoch ms, UTC); `None` before the first visit.
    pub fn last_visit(&self) -> Option<i64> {
        self.rec.last_visit().ok().flatten()
    }

    /// Whether this bill is the card's first visit (no completed bill recorded yet).
    pub fn is_first_visit(&self) -> bool {
        self.visits() == 0
    }

    /// The points the card may spend on this order: its balance minus what the card's
    /// other open orders hold. A discount [costing points](crate::Discount::costing_points)
    /// gets through only when these cover it.
    pub fn available_points(&self) -> i64 {
        match self.extras.map(|e| e.available_points()) {
            Some(Ok(points)) => points,
            _ => self.points(),
        }
    }

    /// Points on the card that have not vested yet (earned within the merchant's returns
    /// window): part of the balance, not spendable, and not in [`Card::points`]. 0 when
    /// the merchant vests points at once.
    pub fn pending_points(&self) -> i64 {
        match self.extras.map(|e| e.pending_points()) {
            Some(Ok(points)) => points,
            _ => 0,
        }
    }

    /// When the card's next points expire and how many (`None`: none are due to expire,
    /// e.g. the merchant's points never expire).
    pub fn next_expiry(&self) -> Option<PointsExpiry> {
        match self.extras.map(|e| e.next_expiry()) {
            Some(Ok(Some((at, points)))) => Some(PointsExpiry { at, points }),
            _ => None,
        }
    }

    /// The usable coupons of the card's wallet (issued to it, not yet redeemed, valid now).
    pub fn wallet(&self) -> Wallet<'a> {
        Wallet(self.wallet.clone())
    }

    /// The customer's profile: birthday and custom attributes.
    pub fn profile(&self) -> Profile<'a> {
        let birthday = self
            .extras
            .and_then(|e| e.birthday().ok().flatten())
            .map(|b| Birthday {
                month: b.month,
                day: b.day,
                year: b.year,
            });
        Profile {
            birthday,
            attributes: self.profile.clone(),
        }
    }
}

/// Points that expire together: when (epoch ms, UTC) and how many.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PointsExpiry {
    /// When they expire (epoch ms, UTC).
    pub at: i64,
    /// How many points expire then.
    pub points: i64,
}

/// A card built by a test (see [`Card::builder`]).
#[derive(Debug, Clone, PartialEq)]
#[allow(missing_docs)] // the fields are [`Card`]'s
pub struct CardData {
    pub card_id: String,
    pub customer_id: Option<String>,
    pub name: Option<String>,
    pub tier: Option<String>,
    pub tags: Vec<String>,
    pub points: i64,
    pub visits: u32,
    pub total_spent: Decimal,
    pub first_visit: Option<i64>,
    pub last_visit: Option<i64>,
    /// `None`: the balance (`points`).
    pub available_points: Option<i64>,
    pub wallet: Vec<WalletCouponData>,
    pub birthday: Option<Birthday>,
    /// Profile attributes, in key order.
    pub attributes: Vec<(String, String)>,
    /// Not vested yet (not in `points`).
    pub pending_points: i64,
    pub next_expiry: Option<PointsExpiry>,
}

impl Card<'static> {
    /// Starts a card for a test: id `test-card`, no tier, no tags, 0 points, 0 visits.
    pub fn builder() -> CardBuilder {
        CardBuilder {
            card: CardData {
                card_id: "test-card".into(),
                customer_id: None,
                name: None,
                tier: None,
                tags: Vec::new(),
                points: 0,
                visits: 0,
                total_spent: Decimal::ZERO,
                first_visit: None,
                last_visit: None,
                available_points: None,
                wallet: Vec::new(),
                birthday: None,
                attributes: Vec::new(),
                pending_points: 0,
                next_expiry: None,
            },
        }
    }
}

/// Builds a [`CardData`] for a test; start with [`Card::builder`].
#[derive(Debug, Clone)]
pub struct CardBuilder {
    card: CardData,
}

impl CardBuilder {
    /// Sets the card id.
    pub fn card_id(mut self, id: impl Into<String>) -> Self {
        self.card.card_id = id.into();
        self
    }

    /// Sets the customer id.
    pub fn customer_id(mut self, id: impl Into<String>) -> Self {
        self.card.customer_id = Some(id.into());
        self
    }

    /// Sets the holder's name.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.card.name = Some(name.into());
        self
    }

    /// Sets the tier.
    pub fn tier(mut self, tier: impl Into<String>) -> Self {
        self.card.tier = Some(tier.into());
        self
    }

    /// Adds a tag.
    pub fn tag(mut self, tag: impl Into<String>) -> Self {
        self.card.tags.push(tag.into());
        self
    }

    /// Sets the points balance.
    pub fn points(mut self, points: i64) -> Self {
        self.card.points = points;
        self
    }

    /// Sets the number of recorded visits.
    pub fn visits(mut self, visits: u32) -> Self {
        self.card.visits = visits;
        self
    }

    /// Sets the total spent.
    pub fn total_spent(mut self, total_spent: Decimal) -> Self {
        self.card.total_spent = total_spent;
        self
    }

    /// Sets the first and last visit (epoch ms, UTC).
    pub fn visited(mut self, first_visit: i64, last_visit: i64) -> Self {
        self.card.first_visit = Some(first_visit);
        self.card.last_visit = Some(last_visit);
        self
    }

    /// Sets the available points (by default, the balance).
    pub fn available_points(mut self, points: i64) -> Self {
        self.card.available_points = Some(points);
        self
    }

    /// Sets the pending (not yet vested) points.
    pub fn pending_points(mut self, points: i64) -> Self {
        self.card.pending_points = points;
        self
    }

    /// Sets the next expiry: `points` expire at `at` (epoch ms, UTC).
    pub fn next_expiry(mut self, at: i64, points: i64) -> Self {
        self.card.next_expiry = Some(PointsExpiry { at, points });
        self
    }

    /// Adds a coupon to the wallet.
    pub fn coupon(mut self, coupon: WalletCouponData) -> Self {
        self.card.wallet.push(coupon);
        self
    }

    /// Sets the customer's birthday (`year` when known).
    pub fn birthday(mut self, month: u8, day: u8, year: Option<u16>) -> Self {
        self.card.birthday = Some(Birthday { month, day, year });
        self
    }

    /// Sets a profile attribute.
    pub fn attribute(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        let key = key.into();
        let value = value.into();
        match self.card.attributes.binary_search_by(|(k, _)| k.cmp(&key)) {
            Ok(at) => self.card.attributes[at].1 = value,
            Err(at) => self.card.attributes.insert(at, (key, value)),
        }
        self
    }

    /// Finishes the card.
    pub fn build(self) -> CardData {
        self.card
    }
}
