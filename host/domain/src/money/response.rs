//! The endpoint-1 answer in Papaya's exact wire shape: key order, which keys each
//! discount type carries, and amounts as JSON numbers with the minor unit's places.

use rust_decimal::Decimal;
use serde::{Deserialize, Deserializer, Serialize, Serializer, de, ser::SerializeMap};
use serde_json::Number;

use super::json::{AsNumber, from_number};
use crate::currency;

/// One discount the POS applies.
///
/// Amounts carry exactly the currency's minor-unit places and percentages are
/// normalized (`10`, `12.5`): [`super::discount_response`] makes them so, and they are
/// written as they are held.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DiscountLine {
    PercentageOnBill {
        percentage: Decimal,
        amount: Decimal,
        description: String,
    },
    PercentageOnItem {
        percentage: Decimal,
        amount: Decimal,
        product_id: String,
        product_name: String,
        description: String,
    },
    /// A voucher applied as a negative line with 0 % VAT (`"vatRate": 0`).
    CouponZeroVat {
        amount: Decimal,
        coupon_code: String,
        description: String,
    },
}

impl DiscountLine {
    pub fn amount(&self) -> Decimal {
        match self {
            DiscountLine::PercentageOnBill { amount, .. }
            | DiscountLine::PercentageOnItem { amount, .. }
            | DiscountLine::CouponZeroVat { amount, .. } => *amount,
        }
    }

    pub fn description(&self) -> &str {
        match self {
            DiscountLine::PercentageOnBill { description, .. }
            | DiscountLine::PercentageOnItem { description, .. }
            | DiscountLine::CouponZeroVat { description, .. } => description,
        }
    }

    /// The wire `type`.
    pub fn type_name(&self) -> &'static str {
        match self {
            DiscountLine::PercentageOnBill { .. } => "percentage_on_bill",
            DiscountLine::PercentageOnItem { .. } => "percentage_on_item",
            DiscountLine::CouponZeroVat { .. } => "coupon_zero_vat",
        }
    }
}

/// The whole endpoint-1 answer: `{"discounts": [...], "totalDiscount": N, "message": "..."}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiscountResponse {
    pub discounts: Vec<DiscountLine>,
    /// The sum of the discounts' amounts, with the minor unit's places; never more than
    /// the bill's `total`.
    pub total_discount: Decimal,
    /// Shown to the cashier.
    pub message: String,
}

/// What the cashier sees when the policy could not answer (trap, timeout, invalid
/// answer…): checkout goes on without a discount.
pub const FAIL_SAFE_MESSAGE: &str = "Loyalty discount unavailable";

impl DiscountResponse {
    /// No discounts, `totalDiscount` zero in `currency`'s minor unit, and `message`.
    pub fn empty(currency: &str, message: impl Into<String>) -> Self {
        DiscountResponse {
            discounts: Vec::new(),
            total_discount: currency::zero(currency::minor_units(currency)),
            message: message.into(),
        }
    }

    /// The fail-safe answer: no discounts and [`FAIL_SAFE_MESSAGE`] for the cashier.
    pub fn fail_safe(currency: &str) -> Self {
        Self::empty(currency, FAIL_SAFE_MESSAGE)
    }
}

impl Serialize for DiscountLine {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        // Hand-written so the key order and the keys present per type are Papaya's, and
        // an inconsistent mix (a coupon with a percentage) cannot be written at all.
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("type", self.type_name())?;
        match self {
            DiscountLine::PercentageOnBill {
                percentage,
                amount,
                description,
            } => {
                map.serialize_entry("appliesTo", "bill")?;
                map.serialize_entry("percentage", &AsNumber(percentage))?;
                map.serialize_entry("amount", &AsNumber(amount))?;
                map.serialize_entry("description", description)?;
            }
            DiscountLine::PercentageOnItem {
                percentage,
                amount,
                product_id,
                product_name,
                description,
            } => {
                map.serialize_entry("appliesTo", "item")?;
                map.serialize_entry("percentage", &AsNumber(percentage))?;
                map.serialize_entry("amount", &AsNumber(amount))?;
                map.serialize_entry("productId", product_id)?;
                map.serialize_entry("productName", product_name)?;
                map.serialize_entry("description", description)?;
            }
            DiscountLine::CouponZeroVat {
                amount,
                coupon_code,
                description,
            } => {
                map.serialize_entry("appliesTo", "bill")?;
                map.serialize_entry("amount", &AsNumber(amount))?;
                map.serialize_entry("vatRate", &0)?;
                map.serialize_entry("couponCode", coupon_code)?;
                map.serialize_entry("description", description)?;
            }
        }
        map.end()
    }
}

impl Serialize for DiscountResponse {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(3))?;
        map.serialize_entry("discounts", &self.discounts)?;
        map.serialize_entry("totalDiscount", &AsNumber(&self.total_discount))?;
        map.serialize_entry("message", &self.message)?;
        map.end()
    }
}

// Reading an answer back (recorded answers for replay, tests): the wire form, checked
// against the rules the serializer follows.

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct WireLine {
    #[serde(rename = "type")]
    kind: String,
    applies_to: String,
    percentage: Option<Number>,
    amount: Number,
    product_id: Option<String>,
    product_name: Option<String>,
    vat_rate: Option<Number>,
    coupon_code: Option<String>,
    description: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct WireResponse {
    discounts: Vec<WireLine>,
    total_discount: Number,
    message: String,
}

fn decimal(field: &str, number: &Number) -> Result<Decimal, String> {
    from_number(number).ok_or_else(|| format!("{field} {number} is not an exact decimal"))
}

fn required<T>(kind: &str, field: &str, value: Option<T>) -> Result<T, String> {
    value.ok_or_else(|| format!("a {kind} discount needs `{field}`"))
}

fn absent<T>(kind: &str, field: &str, value: &Option<T>) -> Result<(), String> {
    match value {
        Some(_) => Err(format!("a {kind} discount has no `{field}`")),
        None => Ok(()),
    }
}

impl TryFrom<WireLine> for DiscountLine {
    type Error = String;

    fn try_from(wire: WireLine) -> Result<Self, String> {
        let kind = wire.kind.as_str();
        let amount = decimal("amount", &wire.amount)?;
        let expected_applies_to = if kind == "percentage_on_item" {
            "item"
        } else {
            "bill"
        };
        if wire.applies_to != expected_applies_to {
            return Err(format!(
                "a {kind} discount applies to `{expected_applies_to}`, not `{}`",
                wire.applies_to
            ));
        }
        let line = match kind {
            "percentage_on_bill" | "percentage_on_item" => {
                absent(kind, "vatRate", &wire.vat_rate)?;
                absent(kind, "couponCode", &wire.coupon_code)?;
                let percentage = decimal(
                    "percentage",
                    &required(kind, "percentage", wire.percentage)?,
                )?;
                if kind == "percentage_on_bill" {
                    absent(kind, "productId", &wire.product_id)?;
                    absent(kind, "productName", &wire.product_name)?;
                    DiscountLine::PercentageOnBill {
                        percentage,
                        amount,
                        description: wire.description,
                    }
                } else {
                    DiscountLine::PercentageOnItem {
                        percentage,
                        amount,
                        product_id: required(kind, "productId", wire.product_id)?,
                        product_name: required(kind, "productName", wire.product_name)?,
                        description: wire.description,
                    }
                }
            }
            "coupon_zero_vat" => {
                absent(kind, "percentage", &wire.percentage)?;
                absent(kind, "productId", &wire.product_id)?;
                absent(kind, "productName", &wire.product_name)?;
                let vat_rate = decimal("vatRate", &required(kind, "vatRate", wire.vat_rate)?)?;
                if !vat_rate.is_zero() {
                    return Err(format!("a {kind} discount has vatRate 0, not {vat_rate}"));
                }
                DiscountLine::CouponZeroVat {
                    amount,
                    coupon_code: required(kind, "couponCode", wire.coupon_code)?,
                    description: wire.description,
                }
            }
            other => return Err(format!("unknown discount type `{other}`")),
        };
        Ok(line)
    }
}

impl<'de> Deserialize<'de> for DiscountLine {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        DiscountLine::try_from(WireLine::deserialize(deserializer)?).map_err(de::Error::custom)
    }
}

impl<'de> Deserialize<'de> for DiscountResponse {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let wire = WireResponse::deserialize(deserializer)?;
        let discounts = wire
            .discounts
            .into_iter()
            .map(DiscountLine::try_from)
            .collect::<Result<Vec<_>, _>>()
            .map_err(de::Error::custom)?;
        Ok(DiscountResponse {
            discounts,
            total_discount: decimal("totalDiscount", &wire.total_discount)
                .map_err(de::Error::custom)?,
            message: wire.message,
        })
    }
}
