//! The bill a policy decides on: [`Order`] and its lines, [`OrderItem`], with the look-ups
//! rules need (lines of a product, lines of a category, sums) and builders for tests.

use rust_decimal::Decimal;

use crate::time::Timestamp;

/// The open (or just completed) bill, whichever POS sent it.
///
/// Build one for a test with [`Order::builder`].
#[derive(Debug, Clone, PartialEq)]
pub struct Order {
    /// The POS's order id.
    pub order_id: String,
    /// Which POS sent it: `papaya` or `bifit`.
    pub pos: String,
    /// The POS's status word (`open`, `closed`, BIFIT's `FINISHED`, …).
    pub status: String,
    /// The bill total, VAT included. Bill percentages are computed on it.
    pub total: Decimal,
    /// The total without VAT, if the POS said.
    pub total_without_vat: Option<Decimal>,
    /// The VAT in `total`, if the POS said.
    pub vat: Option<Decimal>,
    /// ISO 4217 code, e.g. `EUR`.
    pub currency: String,
    /// When the order was opened (epoch ms, UTC), if the POS said. See [`Order::created_at`].
    pub created: Option<i64>,
    /// When it was last changed or completed (epoch ms, UTC), if the POS said.
    pub updated: Option<i64>,
    /// The shop / branch the bill belongs to.
    pub branch_id: Option<String>,
    /// The POS's note on the bill.
    pub note: Option<String>,
    /// The lines of the bill; empty when the POS sends no lines (BIFIT).
    pub items: Vec<OrderItem>,
    /// Everything else the POS sent, as `(key, value)` text. See [`Order::attribute`].
    pub attributes: Vec<(String, String)>,
}

/// One line of the bill. Several lines may share a `product_id`.
///
/// Build one for a test with [`OrderItem::new`] and its `with_…` methods.
#[derive(Debug, Clone, PartialEq)]
pub struct OrderItem {
    /// The line's id on the POS (Papaya `id`).
    pub id: String,
    /// The product's id. Item discounts name it.
    pub product_id: String,
    /// The product's name as printed on the bill.
    pub name: String,
    /// The product's description, if any.
    pub description: Option<String>,
    /// How many units; may be fractional (weighed goods).
    pub quantity: Decimal,
    /// The price of one unit.
    pub unit_price: Decimal,
    /// The line's value; item discounts are computed on the sum of these per product.
    pub total_price: Decimal,
    /// VAT contained in `total_price`.
    pub vat: Option<Decimal>,
    /// VAT rate in percent (20 means 20 %).
    pub vat_rate: Option<Decimal>,
    /// The POS's category id.
    pub category_id: Option<String>,
    /// The POS's category name, e.g. `Hot Beverages`.
    pub category_name: Option<String>,
    /// The product's EAN barcode.
    pub ean: Option<String>,
    /// The POS's note on the line.
    pub note: Option<String>,
}

impl Order {
    /// Starts an order for a test: id `test-order`, Papaya, `open`, EUR, no lines. Its
    /// total is the sum of its lines unless [`OrderBuilder::total`] sets one.
    pub fn builder() -> OrderBuilder {
        OrderBuilder {
            order: Order {
                order_id: "test-order".into(),
                pos: "papaya".into(),
                status: "open".into(),
                total: Decimal::ZERO,
                total_without_vat: None,
                vat: None,
                currency: "EUR".into(),
                created: None,
                updated: None,
                branch_id: None,
                note: None,
                items: Vec::new(),
                attributes: Vec::new(),
            },
            total_set: false,
        }
    }

    /// The lines of one product (there may be several, e.g. added at different times).
    pub fn lines_of_product<'a>(
        &'a self,
        product_id: &'a str,
    ) -> impl Iterator<Item = &'a OrderItem> + 'a {
        self.items
            .iter()
            .filter(move |item| item.product_id == product_id)
    }

    /// The lines whose category name is `name` (compared exactly, as the POS spells it).
    pub fn lines_in_category<'a>(
        &'a self,
        name: &'a str,
    ) -> impl Iterator<Item = &'a OrderItem> + 'a {
        self.items.iter().filter(move |item| item.in_category(name))
    }

    /// The lines whose category id is `id`.
    pub fn lines_in_category_id<'a>(
        &'a self,
        id: &'a str,
    ) -> impl Iterator<Item = &'a OrderItem> + 'a {
        self.items
            .iter()
            .filter(move |item| item.category_id.as_deref() == Some(id))
    }

    /// The distinct product ids of `lines`, in the order they first appear. Item
    /// discounts name products, and one discount covers every line of its product.
    pub fn products<'a>(lines: impl IntoIterator<Item = &'a OrderItem>) -> Vec<&'a str> {
        let mut ids: Vec<&str> = Vec::new();
        for line in lines {
            if !ids.contains(&line.product_id.as_str()) {
                ids.push(&line.product_id);
            }
        }
        ids
    }

    /// The sum of `total_price` of `lines`, e.g. `Order::sum(order.lines_in_category("Bakery"))`.
    pub fn sum<'a>(lines: impl IntoIterator<Item = &'a OrderItem>) -> Decimal {
        lines.into_iter().map(|line| line.total_price).sum()
    }

    /// The sum of `quantity` of `lines` (e.g. how many coffees are on the bill).
    pub fn quantity<'a>(lines: impl IntoIterator<Item = &'a OrderItem>) -> Decimal {
        lines.into_iter().map(|line| line.quantity).sum()
    }

    /// The percentage of product `product_id`'s lines (the sum of their `total_price`) that
    /// `amount` is: what to ask for with [`Discount::percentage_on_item`] to take `amount`
    /// off that product. Rounded down to 6 places (so the host's amount, rounded to cents,
    /// is `amount` on any realistic bill) and capped at 100. `None` when the product is not
    /// on the bill, its lines sum to 0 or less, or `amount` is 0 or less (or under a
    /// millionth of a percent of the lines).
    ///
    /// This is how to give a promotional money-off ("2.50 off", "one espresso free") so
    /// that it reduces the taxable amount, as it must (see [`DiscountKind`]).
    ///
    /// ```
    /// # use rabat_rules::{dec, Order, OrderItem};
    /// let order = Order::builder().item(OrderItem::new("11111", "Espresso", 2, dec!(2.50))).build();
    /// assert_eq!(order.share_of_product("11111", dec!(2.50)), Some(dec!(50)));
    /// assert_eq!(order.share_of_product("11111", dec!(20)), Some(dec!(100)));
    /// assert_eq!(order.share_of_product("99999", dec!(1)), None);
    /// ```
    ///
    /// [`Discount::percentage_on_item`]: crate::Discount::percentage_on_item
    /// [`DiscountKind`]: crate::DiscountKind
    pub fn share_of_product(&self, product_id: &str, amount: Decimal) -> Option<Decimal> {
        // Fixed-point integers rather than `Decimal` division: the same result for money
        // (10 places) at a fraction of the code in a policy module.
        const PLACES: u32 = 10;
        let fixed = |d: Decimal| {
            let (mantissa, scale) = (d.mantissa(), d.scale());
            if scale <= PLACES {
                mantissa.checked_mul(10i128.pow(PLACES - scale))
            } else {
                Some(mantissa / 10i128.pow(scale - PLACES))
            }
        };
        let total = self
            .lines_of_product(product_id)
            .try_fold(0i128, |sum, line| sum.checked_add(fixed(line.total_price)?))?;
        let amount = fixed(amount)?;
        if total <= 0 || amount <= 0 {
            return None;
        }
        // At most 100 % (10^8 millionths of a percent): fits an i64.
        let mut micro =
            i64::try_from((amount.checked_mul(100_000_000)? / total).min(100_000_000)).ok()?;
        let mut scale = 6;
        while scale > 0 && micro % 10 == 0 {
            micro /= 10;
            scale -= 1;
        }
        (micro > 0).then(|| Decimal::new(micro, scale))
    }

    /// The sum of `total_price` of every line (may differ from `total`: a POS may send
    /// a total that includes things it does not list).
    pub fn lines_total(&self) -> Decimal {
        Order::sum(&self.items)
    }

    /// The value of the POS-specific attribute `key`, if it sent one.
    pub fn attribute(&self, key: &str) -> Option<&str> {
        self.attributes
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// When the order was opened, if the POS said; see [`Timestamp`] for local time.
    pub fn created_at(&self) -> Option<Timestamp> {
        self.created.map(Timestamp::from_epoch_ms)
    }
}

impl OrderItem {
    /// A line for a test: `quantity` × `unit_price`, with `total_price` their product,
    /// id `line-<product_id>`, no VAT and no category.
    pub fn new(
        product_id: impl Into<String>,
        name: impl Into<String>,
        quantity: impl Into<Decimal>,
        unit_price: Decimal,
    ) -> OrderItem {
        let product_id = product_id.into();
        let quantity = quantity.into();
        OrderItem {
            id: format!("line-{product_id}"),
            product_id,
            name: name.into(),
            description: None,
            quantity,
            unit_price,
            total_price: quantity * unit_price,
            vat: None,
            vat_rate: None,
            category_id: None,
            category_name: None,
            ean: None,
            note: None,
        }
    }

    /// Whether the line's category name is `name`.
    pub fn in_category(&self, name: &str) -> bool {
        self.category_name.as_deref() == Some(name)
    }

    /// Sets the line id.
    pub fn with_id(mut self, id: impl Into<String>) -> Self {
        self.id = id.into();
        self
    }

    /// Sets the category name.
    pub fn with_category(mut self, name: impl Into<String>) -> Self {
        self.category_name = Some(name.into());
        self
    }

    /// Sets the category id.
    pub fn with_category_id(mut self, id: impl Into<String>) -> Self {
        self.category_id = Some(id.into());
        self
    }

    /// Sets the line's value (when it is not quantity × unit price).
    pub fn with_total_price(mut self, total_price: Decimal) -> Self {
        self.total_price = total_price;
        self
    }

    /// Sets the VAT rate (percent) and the VAT contained in the line's value.
    pub fn with_vat(mut self, vat_rate: impl Into<Decimal>, vat: Decimal) -> Self {
        self.vat_rate = Some(vat_rate.into());
        self.vat = Some(vat);
        self
    }
}

/// Builds an [`Order`] for a test; start with [`Order::builder`].
#[derive(Debug, Clone)]
pub struct OrderBuilder {
    order: Order,
    total_set: bool,
}

impl OrderBuilder {
    /// Adds a line.
    pub fn item(mut self, item: OrderItem) -> Self {
        self.order.items.push(item);
        self
    }

    /// Sets the bill total (by default the sum of the lines).
    pub fn total(mut self, total: Decimal) -> Self {
        self.order.total = total;
        self.total_set = true;
        self
    }

    /// Sets the order id.
    pub fn order_id(mut self, id: impl Into<String>) -> Self {
        self.order.order_id = id.into();
        self
    }

    /// Sets the POS (`papaya` or `bifit`).
    pub fn pos(mut self, pos: impl Into<String>) -> Self {
        self.order.pos = pos.into();
        self
    }

    /// Sets the status word.
    pub fn status(mut self, status: impl Into<String>) -> Self {
        self.order.status = status.into();
        self
    }

    /// Sets the currency.
    pub fn currency(mut self, currency: impl Into<String>) -> Self {
        self.order.currency = currency.into();
        self
    }

    /// Sets when the order was opened (epoch ms, UTC), e.g. from [`Timestamp::utc`].
    pub fn created(mut self, epoch_ms: impl Into<i64>) -> Self {
        self.order.created = Some(epoch_ms.into());
        self
    }

    /// Sets when the order was last changed (epoch ms, UTC).
    pub fn updated(mut self, epoch_ms: impl Into<i64>) -> Self {
        self.order.updated = Some(epoch_ms.into());
        self
    }

    /// Sets the branch id.
    pub fn branch_id(mut self, id: impl Into<String>) -> Self {
        self.order.branch_id = Some(id.into());
        self
    }

    /// Adds a POS-specific attribute.
    pub fn attribute(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.order.attributes.push((key.into(), value.into()));
        self
    }

    /// Finishes the order.
    pub fn build(mut self) -> Order {
        if !self.total_set {
            self.order.total = self.order.lines_total();
        }
        self.order
    }
}

impl From<Timestamp> for i64 {
    fn from(timestamp: Timestamp) -> i64 {
        timestamp.epoch_ms()
    }
}
