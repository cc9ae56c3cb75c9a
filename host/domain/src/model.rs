//! The host's own vocabulary: the canonical order and card a policy sees (whatever POS
//! sent them), and what a policy may ask for. POS adapters parse into these; the policy
//! runtime converts them to and from the WIT types; `money` turns requests into amounts.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

/// Which POS an order came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Pos {
    Papaya,
    Bifit,
}

impl Pos {
    pub fn as_str(self) -> &'static str {
        match self {
            Pos::Papaya => "papaya",
            Pos::Bifit => "bifit",
        }
    }
}

/// One line of a bill.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OrderItem {
    pub id: String,
    pub product_id: String,
    pub name: String,
    pub description: Option<String>,
    #[serde(with = "rust_decimal::serde::arbitrary_precision")]
    pub quantity: Decimal,
    #[serde(with = "rust_decimal::serde::arbitrary_precision")]
    pub unit_price: Decimal,
    #[serde(with = "rust_decimal::serde::arbitrary_precision")]
    pub total_price: Decimal,
    #[serde(default, with = "rust_decimal::serde::arbitrary_precision_option")]
    pub vat: Option<Decimal>,
    #[serde(default, with = "rust_decimal::serde::arbitrary_precision_option")]
    pub vat_rate: Option<Decimal>,
    pub category_id: Option<String>,
    pub category_name: Option<String>,
    pub ean: Option<String>,
    pub note: Option<String>,
}

/// A bill as a policy sees it, whichever POS sent it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Order {
    pub order_id: String,
    pub pos: Pos,
    pub status: String,
    #[serde(with = "rust_decimal::serde::arbitrary_precision")]
    pub total: Decimal,
    #[serde(default, with = "rust_decimal::serde::arbitrary_precision_option")]
    pub total_without_vat: Option<Decimal>,
    #[serde(default, with = "rust_decimal::serde::arbitrary_precision_option")]
    pub vat: Option<Decimal>,
    pub currency: String,
    /// Epoch milliseconds, UTC.
    pub created: Option<i64>,
    /// Epoch milliseconds, UTC.
    pub updated: Option<i64>,
    pub branch_id: Option<String>,
    pub note: Option<String>,
    pub items: Vec<OrderItem>,
    /// POS-specific fields with no place of their own, as text.
    pub attributes: Vec<(String, String)>,
}

/// A customer's loyalty card as rabat keeps it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Card {
    pub card_id: String,
    #[serde(default)]
    pub customer_id: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub tier: Option<String>,
    #[serde(default)]
    pub tags: Vec<String>,
    /// The balance: every point on the card, pending ones included.
    #[serde(default)]
    pub points: i64,
    /// The part of `points` not vested yet (issue 19): on the card, not spendable.
    #[serde(default, skip_serializing_if = "no_points")]
    pub pending_points: i64,
    #[serde(default)]
    pub visits: u32,
    #[serde(default, with = "rust_decimal::serde::arbitrary_precision")]
    pub total_spent: Decimal,
    /// Epoch milliseconds, UTC.
    #[serde(default)]
    pub first_visit: Option<i64>,
    /// Epoch milliseconds, UTC.
    #[serde(default)]
    pub last_visit: Option<i64>,
}

impl Card {
    /// A card with nothing on it yet.
    pub fn new(card_id: impl Into<String>) -> Self {
        Card {
            card_id: card_id.into(),
            customer_id: None,
            name: None,
            tier: None,
            tags: Vec::new(),
            points: 0,
            pending_points: 0,
            visits: 0,
            total_spent: Decimal::ZERO,
            first_visit: None,
            last_visit: None,
        }
    }

    /// The points the card can spend: its balance less what is still pending (never
    /// below zero). What a policy sees as the card's points.
    pub fn spendable_points(&self) -> i64 {
        self.points
            .saturating_sub(self.pending_points.max(0))
            .max(0)
    }
}

fn no_points(n: &i64) -> bool {
    *n == 0
}

/// What kind of discount a policy asked for.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", tag = "type")]
pub enum DiscountKind {
    PercentageOnBill {
        #[serde(with = "rust_decimal::serde::arbitrary_precision")]
        percentage: Decimal,
    },
    PercentageOnItem {
        product_id: String,
        #[serde(with = "rust_decimal::serde::arbitrary_precision")]
        percentage: Decimal,
    },
    CouponZeroVat {
        #[serde(with = "rust_decimal::serde::arbitrary_precision")]
        amount: Decimal,
        code: String,
    },
    /// An exact amount off the lines of one product (contract 0.2).
    AmountOffItem {
        product_id: String,
        #[serde(with = "rust_decimal::serde::arbitrary_precision")]
        amount: Decimal,
    },
}

/// One discount a policy asked for (not yet money: see `money`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DiscountRequest {
    pub kind: DiscountKind,
    pub description: String,
    /// What the discount costs the card in points (contract 0.2); 0 when it is free.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub points: u64,
    /// The rabat coupon this discount redeems (contract 0.3): the host holds the code for
    /// the order, and drops the discount when the code cannot be used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub coupon: Option<String>,
    /// A points-costing discount the host may cut to the points available instead of
    /// dropping it whole (contract 0.3: pay-with-points).
    #[serde(default, skip_serializing_if = "is_false")]
    pub divisible: bool,
}

impl DiscountRequest {
    /// A discount that costs nothing and redeems no coupon.
    pub fn new(kind: DiscountKind, description: impl Into<String>) -> Self {
        DiscountRequest {
            kind,
            description: description.into(),
            points: 0,
            coupon: None,
            divisible: false,
        }
    }
}

fn is_false(value: &bool) -> bool {
    !*value
}

fn is_zero(value: &u64) -> bool {
    *value == 0
}

/// A policy's answer for an open bill.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Evaluation {
    pub discounts: Vec<DiscountRequest>,
    pub message: Option<String>,
}

/// A policy's answer for a completed bill.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Accrual {
    pub points: i64,
    pub reason: Option<String>,
    /// Of the points held for this order's offer, how many to take (contract 0.2).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub redeem: u64,
    /// The card's new tier, if the policy sets one (contract 0.2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub set_tier: Option<String>,
    /// Tags to add to the card (contract 0.2).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub add_tags: Vec<String>,
    /// Tags to take off the card (contract 0.2).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub remove_tags: Vec<String>,
    /// Codes of coupons held for this order that the bill took, to redeem (contract 0.3).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub redeem_coupons: Vec<String>,
    /// Names of coupon batches to issue one code each from to the card (contract 0.3).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub issue_coupons: Vec<String>,
}

/// The till's last offer for an order, as `accrue` sees it when the bill completes: the
/// discounts after the host's money rules, with their amounts, and the points held.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Offer {
    pub discounts: Vec<OfferedDiscount>,
    #[serde(with = "rust_decimal::serde::arbitrary_precision")]
    pub total_discount: Decimal,
    /// Points held for this order: the sum of the offered discounts' `points`.
    pub held_points: u64,
    /// When the offer was made (epoch ms, UTC).
    pub offered_at: i64,
}

/// One discount of an [`Offer`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OfferedDiscount {
    /// What the policy asked for: `percentage_on_bill`, `percentage_on_item`,
    /// `coupon_zero_vat` or `amount_off_item`.
    pub kind: String,
    /// The product, for item discounts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub product_id: Option<String>,
    /// The coupon code, for coupons.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    pub description: String,
    /// The exact amount the till was offered.
    #[serde(with = "rust_decimal::serde::arbitrary_precision")]
    pub amount: Decimal,
    /// Points this discount costs (held for the order).
    #[serde(default)]
    pub points: u64,
}
