//! Everything a policy is given for one call: the bill, the card, the merchant's config
//! and (in `accrue`) the till's last offer — one input buffer, read in place.

use rabat_wire::{
    BirthdayFields, CardExtrasFields, CardFields, Counts, Encoder, Input, ItemFields, Layout,
    OfferDiscountFields, OfferFields, OrderFields, WalletCouponFields,
};

use crate::coupon::{Birthday, CouponValue, WalletCouponData};
use serde::de::DeserializeOwned;

use crate::card::CardData;
use crate::offer::OfferData;
use crate::order::OrderData;
use crate::{Card, Offer, Order};

/// What a policy decides on: the bill, the customer's card (if the bill carries one
/// rabat knows), the merchant's configuration and, when a bill completes, the till's last
/// offer for it.
///
/// The host hands these over as one buffer that the views ([`Context::order`],
/// [`Context::card`], [`Context::offer`]) read in place. For a test:
/// `Context::new(order).with_card(card).with_config(r#"{"percentage": 10}"#)` writes the
/// test's values into such a buffer, so a test reads them exactly as the till's call does.
#[derive(Debug, Clone)]
pub struct Context {
    buf: Vec<u8>,
    layout: Layout,
    /// What a test built (to write the buffer again on `with_…`); `None` in a real call.
    parts: Option<Box<Parts>>,
}

#[derive(Debug, Clone)]
struct Parts {
    order: OrderData,
    card: Option<CardData>,
    config: String,
    offer: Option<OfferData>,
}

impl Context {
    /// A context with no card and an empty config (`{}`).
    pub fn new(order: OrderData) -> Context {
        Context::from_parts(Parts {
            order,
            card: None,
            config: "{}".into(),
            offer: None,
        })
    }

    /// Sets the card.
    pub fn with_card(self, card: CardData) -> Context {
        self.rebuild(|parts| parts.card = Some(card))
    }

    /// Sets the config (JSON text).
    pub fn with_config(self, config: impl Into<String>) -> Context {
        let config = config.into();
        self.rebuild(|parts| parts.config = config)
    }

    /// Sets the till's last offer (what `accrue` sees when the bill completes).
    pub fn with_offer(self, offer: OfferData) -> Context {
        self.rebuild(|parts| parts.offer = Some(offer))
    }

    /// The context of a host's input buffer (what `export_policy!` does with each call's
    /// input). The error names what is wrong with the buffer.
    pub fn from_input(buf: Vec<u8>) -> Result<Context, String> {
        let layout = Layout::check(&buf).map_err(|e| e.to_string())?;
        Ok(Context {
            buf,
            layout,
            parts: None,
        })
    }

    /// The input buffer, as the host would send it.
    pub fn input_bytes(&self) -> &[u8] {
        &self.buf
    }

    fn rebuild(self, change: impl FnOnce(&mut Parts)) -> Context {
        let mut parts = match self.parts {
            Some(parts) => *parts,
            // A context from a real input: read it back into owned parts first.
            None => Parts::read(&self),
        };
        change(&mut parts);
        Context::from_parts(parts)
    }

    fn from_parts(parts: Parts) -> Context {
        let buf = parts.encode();
        // The encoder's own output always has a valid header.
        let layout = Layout::check(&buf).ok();
        match layout {
            Some(layout) => Context {
                buf,
                layout,
                parts: Some(Box::new(parts)),
            },
            None => unreachable_layout(),
        }
    }

    fn input(&self) -> Input<'_> {
        Input::with_layout(&self.buf, self.layout)
    }

    /// The bill.
    pub fn order(&self) -> Order<'_> {
        Order {
            input: self.input(),
        }
    }

    /// The customer's card, when the bill carries one rabat knows.
    pub fn card(&self) -> Option<Card<'_>> {
        let input = self.input();
        input.card().map(|rec| Card {
            rec,
            tags: input.tags(),
            extras: input.card_extras(),
            wallet: input.wallet(),
            profile: input.profile_attributes(),
        })
    }

    /// The till's last offer for this order: only in `accrue`, and only when an answer
    /// for the order held points (from then on, every later answer is the offer, one
    /// that holds nothing included). Compare it with the completed bill to tell whether
    /// it was taken.
    pub fn offer(&self) -> Option<Offer<'_>> {
        let input = self.input();
        input.offer().map(|rec| Offer {
            rec,
            discounts: input.offer_discounts(),
        })
    }

    /// The merchant's configuration as JSON text (`{}` when none is set). Read it with
    /// [`Context::config`].
    pub fn config_text(&self) -> &str {
        self.input().config().unwrap_or("{}")
    }

    /// The merchant's config, parsed into the policy's own `serde` type.
    ///
    /// The error names what is wrong and where, ready to return from
    /// [`Policy::evaluate`](crate::Policy::evaluate), e.g.
    /// ``config: tiers.gold: invalid value: string "ten", expected a Decimal type
    /// representing a fixed-point number (line 1, column 22)``.
    ///
    /// ```
    /// # use rabat_rules::{Context, Decimal, Order};
    /// #[derive(serde::Deserialize)]
    /// struct Config { percentage: Decimal }
    ///
    /// let ctx = Context::new(Order::builder().build()).with_config(r#"{"percentage": 12.5}"#);
    /// let config: Config = ctx.config()?;
    /// assert_eq!(config.percentage, Decimal::new(125, 1));
    /// # Ok::<(), String>(())
    /// ```
    pub fn config<T: DeserializeOwned>(&self) -> Result<T, String> {
        crate::json::from_str(self.config_text()).map_err(|e| format!("config: {e}"))
    }

    /// The card's tier, if there is a card and it has one.
    pub fn tier(&self) -> Option<&str> {
        self.card().and_then(|card| card.tier())
    }

    /// Whether there is a card and it carries `tag`.
    pub fn has_tag(&self, tag: &str) -> bool {
        self.card().is_some_and(|card| card.has_tag(tag))
    }
}

#[cold]
fn unreachable_layout() -> ! {
    // `Encoder::finish` writes the header `Layout::check` reads; only a bug gets here.
    panic!("rabat-rules: the test input could not be written (a bug in the SDK)")
}

impl Parts {
    fn encode(&self) -> Vec<u8> {
        let o = &self.order;
        let counts = Counts {
            items: o.items.len(),
            attributes: o.attributes.len(),
            card: self.card.is_some(),
            tags: self.card.as_ref().map_or(0, |c| c.tags.len()),
            offer: self.offer.is_some(),
            offer_discounts: self.offer.as_ref().map_or(0, |o| o.discounts.len()),
            wallet: self.card.as_ref().map_or(0, |c| c.wallet.len()),
            profile_attributes: self.card.as_ref().map_or(0, |c| c.attributes.len()),
        };
        let mut enc = Encoder::new(counts, 256);
        enc.order(&OrderFields {
            order_id: &o.order_id,
            pos: &o.pos,
            status: &o.status,
            total: o.total,
            total_without_vat: o.total_without_vat,
            vat: o.vat,
            currency: &o.currency,
            created: o.created,
            updated: o.updated,
            branch_id: o.branch_id.as_deref(),
            note: o.note.as_deref(),
        });
        for i in &o.items {
            enc.item(&ItemFields {
                id: &i.id,
                product_id: &i.product_id,
                name: &i.name,
                description: i.description.as_deref(),
                quantity: i.quantity,
                unit_price: i.unit_price,
                total_price: i.total_price,
                vat: i.vat,
                vat_rate: i.vat_rate,
                category_id: i.category_id.as_deref(),
                category_name: i.category_name.as_deref(),
                ean: i.ean.as_deref(),
                note: i.note.as_deref(),
            });
        }
        for (key, value) in &o.attributes {
            enc.attribute(key, value);
        }
        if let Some(c) = &self.card {
            enc.card(&CardFields {
                card_id: &c.card_id,
                customer_id: c.customer_id.as_deref(),
                name: c.name.as_deref(),
                tier: c.tier.as_deref(),
                points: c.points,
                visits: c.visits,
                total_spent: c.total_spent,
                first_visit: c.first_visit,
                last_visit: c.last_visit,
            });
            for tag in &c.tags {
                enc.tag(tag);
            }
            enc.card_extras(&CardExtrasFields {
                available_points: c.available_points.unwrap_or(c.points),
                birthday: c.birthday.map(|b| BirthdayFields {
                    month: b.month,
                    day: b.day,
                    year: b.year,
                }),
                pending_points: c.pending_points,
                next_expiry: c.next_expiry.map(|e| (e.at, e.points)),
            });
            for w in &c.wallet {
                enc.wallet_coupon(&WalletCouponFields {
                    code: &w.code,
                    batch: &w.batch,
                    value: match w.value {
                        CouponValue::Amount(a) => rabat_wire::CouponValue::Amount(a),
                        CouponValue::Percentage(p) => rabat_wire::CouponValue::Percentage(p),
                    },
                    min_bill: w.min_bill,
                    valid_until: w.valid_until,
                });
            }
            for (key, value) in &c.attributes {
                enc.profile_attribute(key, value);
            }
        }
        enc.config(&self.config);
        if let Some(offer) = &self.offer {
            enc.offer(&OfferFields {
                total_discount: offer.total_discount,
                held_points: offer.held_points,
                offered_at: offer.offered_at,
            });
            for d in &offer.discounts {
                enc.offer_discount(&OfferDiscountFields {
                    kind: &d.kind,
                    product_id: d.product_id.as_deref(),
                    code: d.code.as_deref(),
                    description: &d.description,
                    amount: d.amount,
                    points: d.points,
                });
            }
        }
        // Counts and writes above agree by construction; an input over 4 GiB cannot be a
        // test's.
        match enc.finish() {
            Ok(buf) => buf,
            Err(_) => unreachable_layout(),
        }
    }

    /// Owned copies of a context's values (to change one of them in a test).
    fn read(ctx: &Context) -> Parts {
        let o = ctx.order();
        let order = OrderData {
            order_id: o.order_id().into(),
            pos: o.pos().into(),
            status: o.status().into(),
            total: o.total(),
            total_without_vat: o.total_without_vat(),
            vat: o.vat(),
            currency: o.currency().into(),
            created: o.created(),
            updated: o.updated(),
            branch_id: o.branch_id().map(Into::into),
            note: o.note().map(Into::into),
            items: o
                .items()
                .map(|i| crate::order::ItemData {
                    id: i.id().into(),
                    product_id: i.product_id().into(),
                    name: i.name().into(),
                    description: i.description().map(Into::into),
                    quantity: i.quantity(),
                    unit_price: i.unit_price(),
                    total_price: i.total_price(),
                    vat: i.vat(),
                    vat_rate: i.vat_rate(),
                    category_id: i.category_id().map(Into::into),
                    category_name: i.category_name().map(Into::into),
                    ean: i.ean().map(Into::into),
                    note: i.note().map(Into::into),
                })
                .collect(),
            attributes: o.attributes().map(|(k, v)| (k.into(), v.into())).collect(),
        };
        let card = ctx.card().map(|c| CardData {
            card_id: c.card_id().into(),
            customer_id: c.customer_id().map(Into::into),
            name: c.name().map(Into::into),
            tier: c.tier().map(Into::into),
            tags: c.tags().map(Into::into).collect(),
            points: c.points(),
            visits: c.visits(),
            total_spent: c.total_spent(),
            first_visit: c.first_visit(),
            last_visit: c.last_visit(),
            available_points: Some(c.available_points()),
            wallet: c
                .wallet()
                .map(|w| WalletCouponData {
                    code: w.code().into(),
                    batch: w.batch().into(),
                    value: w.value(),
                    min_bill: w.min_bill(),
                    valid_until: w.valid_until(),
                })
                .collect(),
            birthday: c.profile().birthday().map(|b| Birthday { ..b }),
            attributes: c
                .profile()
                .attributes()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
            pending_points: c.pending_points(),
            next_expiry: c.next_expiry(),
        });
        let offer = ctx.offer().map(|offer| OfferData {
            discounts: offer
                .discounts()
                .map(|d| crate::offer::OfferedDiscountData {
                    kind: d.kind().into(),
                    product_id: d.product_id().map(Into::into),
                    code: d.code().map(Into::into),
                    description: d.description().into(),
                    amount: d.amount(),
                    points: d.points(),
                })
                .collect(),
            total_discount: offer.total_discount(),
            held_points: offer.held_points(),
            offered_at: offer.offered_at(),
        });
        Parts {
            order,
            card,
            config: ctx.config_text().into(),
            offer,
        }
    }
}
