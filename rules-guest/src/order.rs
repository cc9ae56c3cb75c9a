//! The bill a policy decides on: [`Order`] and its lines, [`OrderItem`], read in place
//! from the host's input buffer, with the look-ups rules need (lines of a product, lines
//! of a category, sums); and [`OrderData`], the owned bill a test builds.

use rabat_wire::{AttributeRef, Input, ItemRef, Records};
use rust_decimal::Decimal;

use crate::time::Timestamp;

/// The open (or just completed) bill, whichever POS sent it: a view of the input, read in
/// place (no copy, no allocation). Get it with [`Context::order`](crate::Context::order).
///
/// Build one for a test with [`Order::builder`].
#[derive(Debug, Clone, Copy)]
pub struct Order<'a> {
    pub(crate) input: Input<'a>,
}

/// One line of the bill, read in place. Several lines may share a `product_id`.
///
/// Build one for a test with [`OrderItem::new`] and its `with_…` methods.
#[derive(Debug, Clone, Copy)]
pub struct OrderItem<'a> {
    rec: ItemRef<'a>,
}

/// The lines of a bill: an iterator (in the POS's order) that can also index.
#[derive(Debug, Clone)]
pub struct Items<'a>(Records<'a, ItemRef<'a>>);

impl<'a> Items<'a> {
    /// The `index`th line.
    pub fn get(&self, index: usize) -> Option<OrderItem<'a>> {
        self.0.get(index).map(|rec| OrderItem { rec })
    }
}

impl<'a> Iterator for Items<'a> {
    type Item = OrderItem<'a>;

    fn next(&mut self) -> Option<OrderItem<'a>> {
        self.0.next().map(|rec| OrderItem { rec })
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.0.size_hint()
    }
}

impl ExactSizeIterator for Items<'_> {}

impl DoubleEndedIterator for Items<'_> {
    fn next_back(&mut self) -> Option<Self::Item> {
        self.0.next_back().map(|rec| OrderItem { rec })
    }
}

/// The host never sends a malformed input; if it ever did, a text reads as empty, a
/// number as 0 and an optional value as absent, rather than failing the call.
fn text(value: Result<&str, rabat_wire::Error>) -> &str {
    value.unwrap_or_default()
}

fn opt<T>(value: Result<Option<T>, rabat_wire::Error>) -> Option<T> {
    value.ok().flatten()
}

impl<'a> Order<'a> {
    /// The POS's order id.
    pub fn order_id(&self) -> &'a str {
        text(self.input.order().order_id())
    }

    /// Which POS sent it: `papaya` or `bifit`.
    pub fn pos(&self) -> &'a str {
        text(self.input.order().pos())
    }

    /// The POS's status word (`open`, `closed`, BIFIT's `FINISHED`, …).
    pub fn status(&self) -> &'a str {
        text(self.input.order().status())
    }

    /// The bill total, VAT included. Bill percentages are computed on it.
    pub fn total(&self) -> Decimal {
        self.input.order().total().unwrap_or_default()
    }

    /// The total without VAT, if the POS said.
    pub fn total_without_vat(&self) -> Option<Decimal> {
        opt(self.input.order().total_without_vat())
    }

    /// The VAT in `total`, if the POS said.
    pub fn vat(&self) -> Option<Decimal> {
        opt(self.input.order().vat())
    }

    /// ISO 4217 code, e.g. `EUR`.
    pub fn currency(&self) -> &'a str {
        text(self.input.order().currency())
    }

    /// When the order was opened (epoch ms, UTC), if the POS said. See [`Order::created_at`].
    pub fn created(&self) -> Option<i64> {
        opt(self.input.order().created())
    }

    /// When it was last changed or completed (epoch ms, UTC), if the POS said.
    pub fn updated(&self) -> Option<i64> {
        opt(self.input.order().updated())
    }

    /// The shop / branch the bill belongs to.
    pub fn branch_id(&self) -> Option<&'a str> {
        opt(self.input.order().branch_id())
    }

    /// The POS's note on the bill.
    pub fn note(&self) -> Option<&'a str> {
        opt(self.input.order().note())
    }

    /// The lines of the bill; empty when the POS sends no lines (BIFIT).
    pub fn items(&self) -> Items<'a> {
        Items(self.input.items())
    }

    /// Everything else the POS sent, as `(key, value)` text. See [`Order::attribute`].
    pub fn attributes(&self) -> impl Iterator<Item = (&'a str, &'a str)> + use<'a> {
        self.input
            .attributes()
            .map(|a: AttributeRef<'a>| (text(a.key()), text(a.value())))
    }

    /// The lines of one product (there may be several, e.g. added at different times).
    pub fn lines_of_product<'b>(
        &self,
        product_id: &'b str,
    ) -> impl Iterator<Item = OrderItem<'a>> + use<'a, 'b>
    where
        'a: 'b,
    {
        self.items()
            .filter(move |item| item.product_id() == product_id)
    }

    /// The lines whose category name is `name` (compared exactly, as the POS spells it).
    pub fn lines_in_category<'b>(
        &self,
        name: &'b str,
    ) -> impl Iterator<Item = OrderItem<'a>> + use<'a, 'b>
    where
        'a: 'b,
    {
        self.items().filter(move |item| item.in_category(name))
    }

    /// The lines whose category id is `id`.
    pub fn lines_in_category_id<'b>(
        &self,
        id: &'b str,
    ) -> impl Iterator<Item = OrderItem<'a>> + use<'a, 'b>
    where
        'a: 'b,
    {
        self.items().filter(move |item| item.rec.category_id_is(id))
    }

    /// The distinct product ids of `lines`, in the order they first appear. Item
    /// discounts name products, and one discount covers every line of its product.
    pub fn products(lines: impl IntoIterator<Item = OrderItem<'a>>) -> Vec<&'a str> {
        let mut ids: Vec<&str> = Vec::new();
        for line in lines {
            let id = line.product_id();
            if !ids.contains(&id) {
                ids.push(id);
            }
        }
        ids
    }

    /// The sum of `total_price` of `lines`, e.g. `Order::sum(order.lines_in_category("Bakery"))`.
    pub fn sum(lines: impl IntoIterator<Item = OrderItem<'a>>) -> Decimal {
        lines.into_iter().map(|line| line.total_price()).sum()
    }

    /// The sum of `quantity` of `lines` (e.g. how many coffees are on the bill).
    pub fn quantity(lines: impl IntoIterator<Item = OrderItem<'a>>) -> Decimal {
        lines.into_iter().map(|line| line.quantity()).sum()
    }

    /// The percentage of product `product_id`'s lines (the sum of their `total_price`) that
    /// `amount` is. Rounded down to 6 places and capped at 100; `None` when the product is
    /// not on the bill, its lines sum to 0 or less, or `amount` is 0 or less.
    ///
    /// Since contract 0.2, [`Discount::amount_off_item`] takes an exact amount off a
    /// product directly; this stays for policies that want a percentage.
    ///
    /// ```
    /// # use rabat_rules::{dec, Context, Order, OrderItem};
    /// let ctx = Context::new(Order::builder().item(OrderItem::new("11111", "Espresso", 2, dec!(2.50))).build());
    /// let order = ctx.order();
    /// assert_eq!(order.share_of_product("11111", dec!(2.50)), Some(dec!(50)));
    /// assert_eq!(order.share_of_product("11111", dec!(20)), Some(dec!(100)));
    /// assert_eq!(order.share_of_product("99999", dec!(1)), None);
    /// ```
    ///
    /// [`Discount::amount_off_item`]: crate::Discount::amount_off_item
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
            .try_fold(0i128, |sum, line| {
                sum.checked_add(fixed(line.total_price())?)
            })?;
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
        Order::sum(self.items())
    }

    /// The value of the POS-specific attribute `key`, if it sent one.
    pub fn attribute(&self, key: &str) -> Option<&'a str> {
        self.attributes().find(|(k, _)| *k == key).map(|(_, v)| v)
    }

    /// When the order was opened, if the POS said; see [`Timestamp`] for local time.
    pub fn created_at(&self) -> Option<Timestamp> {
        self.created().map(Timestamp::from_epoch_ms)
    }
}

impl<'a> OrderItem<'a> {
    /// The line's id on the POS (Papaya `id`).
    pub fn id(&self) -> &'a str {
        text(self.rec.id())
    }

    /// The product's id. Item discounts name it.
    pub fn product_id(&self) -> &'a str {
        text(self.rec.product_id())
    }

    /// The product's name as printed on the bill.
    pub fn name(&self) -> &'a str {
        text(self.rec.name())
    }

    /// The product's description, if any.
    pub fn description(&self) -> Option<&'a str> {
        opt(self.rec.description())
    }

    /// How many units; may be fractional (weighed goods).
    pub fn quantity(&self) -> Decimal {
        self.rec.quantity().unwrap_or_default()
    }

    /// The price of one unit.
    pub fn unit_price(&self) -> Decimal {
        self.rec.unit_price().unwrap_or_default()
    }

    /// The line's value; item discounts are computed on the sum of these per product.
    pub fn total_price(&self) -> Decimal {
        self.rec.total_price().unwrap_or_default()
    }

    /// VAT contained in `total_price`.
    pub fn vat(&self) -> Option<Decimal> {
        opt(self.rec.vat())
    }

    /// VAT rate in percent (20 means 20 %).
    pub fn vat_rate(&self) -> Option<Decimal> {
        opt(self.rec.vat_rate())
    }

    /// The POS's category id.
    pub fn category_id(&self) -> Option<&'a str> {
        opt(self.rec.category_id())
    }

    /// The POS's category name, e.g. `Hot Beverages`.
    pub fn category_name(&self) -> Option<&'a str> {
        opt(self.rec.category_name())
    }

    /// The product's EAN barcode.
    pub fn ean(&self) -> Option<&'a str> {
        opt(self.rec.ean())
    }

    /// The POS's note on the line.
    pub fn note(&self) -> Option<&'a str> {
        opt(self.rec.note())
    }

    /// Whether the line's category name is `name`.
    pub fn in_category(&self, name: &str) -> bool {
        self.rec.category_name_is(name)
    }
}

/// A bill built by a test (see [`Order::builder`]): owned values that
/// [`Context::new`](crate::Context::new) writes into an input buffer exactly as the host
/// does, so tests read the bill through the same views as the till.
#[derive(Debug, Clone, PartialEq)]
#[allow(missing_docs)] // the fields are [`Order`]'s
pub struct OrderData {
    pub order_id: String,
    pub pos: String,
    pub status: String,
    pub total: Decimal,
    pub total_without_vat: Option<Decimal>,
    pub vat: Option<Decimal>,
    pub currency: String,
    pub created: Option<i64>,
    pub updated: Option<i64>,
    pub branch_id: Option<String>,
    pub note: Option<String>,
    pub items: Vec<ItemData>,
    pub attributes: Vec<(String, String)>,
}

/// A bill line built by a test (see [`OrderItem::new`]).
#[derive(Debug, Clone, PartialEq)]
#[allow(missing_docs)] // the fields are [`OrderItem`]'s
pub struct ItemData {
    pub id: String,
    pub product_id: String,
    pub name: String,
    pub description: Option<String>,
    pub quantity: Decimal,
    pub unit_price: Decimal,
    pub total_price: Decimal,
    pub vat: Option<Decimal>,
    pub vat_rate: Option<Decimal>,
    pub category_id: Option<String>,
    pub category_name: Option<String>,
    pub ean: Option<String>,
    pub note: Option<String>,
}

impl Order<'static> {
    /// Starts an order for a test: id `test-order`, Papaya, `open`, EUR, no lines. Its
    /// total is the sum of its lines unless [`OrderBuilder::total`] sets one.
    pub fn builder() -> OrderBuilder {
        OrderBuilder {
            order: OrderData {
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
}

impl OrderItem<'static> {
    /// A line for a test: `quantity` × `unit_price`, with `total_price` their product,
    /// id `line-<product_id>`, no VAT and no category.
    #[allow(clippy::new_ret_no_self)] // the view is read from a buffer; a test builds data
    pub fn new(
        product_id: impl Into<String>,
        name: impl Into<String>,
        quantity: impl Into<Decimal>,
        unit_price: Decimal,
    ) -> ItemData {
        let product_id = product_id.into();
        let quantity = quantity.into();
        ItemData {
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
}

impl ItemData {
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

/// Builds an [`OrderData`] for a test; start with [`Order::builder`].
#[derive(Debug, Clone)]
pub struct OrderBuilder {
    order: OrderData,
    total_set: bool,
}

impl OrderBuilder {
    /// Adds a line.
    pub fn item(mut self, item: ItemData) -> Self {
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
    pub fn build(mut self) -> OrderData {
        if !self.total_set {
            self.order.total = self.order.items.iter().map(|i| i.total_price).sum();
        }
        self.order
    }
}

impl From<Timestamp> for i64 {
    fn from(timestamp: Timestamp) -> i64 {
        timestamp.epoch_ms()
    }
}
