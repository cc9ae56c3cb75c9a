//! The input of a contract-0.2 or 0.3 call: the order, card (0.3: with its available
//! points, wallet and profile), config and offer written once into the one buffer of
//! `rabat-wire`'s layout (one layout for both contracts: a 0.2 policy never reads the 0.3
//! sections), straight from the host's own types (every
//! string is copied once, into the buffer; nothing is cloned into WIT types first).

use rabat_domain::coupon::{self, CardExtras};
use rabat_domain::model::{Card, Offer, Order};
use rabat_wire::{
    BirthdayFields, CardExtrasFields, CardFields, Counts, CouponValue, EncodeError, Encoder,
    ItemFields, OfferDiscountFields, OfferFields, OrderFields, WalletCouponFields,
};

/// A guess of the text per bill line, for one allocation of the buffer.
const TEXT_PER_LINE: usize = 96;

/// The input buffer of one `evaluate` or `accrue` call.
/// `extras` (ignored without a card; `None`: the balance is available, no wallet, no
/// profile).
pub fn encode(
    order: &Order,
    card: Option<&Card>,
    extras: Option<&CardExtras>,
    config: &str,
    offer: Option<&Offer>,
) -> Result<Vec<u8>, EncodeError> {
    let extras = card.and(extras);
    let counts = Counts {
        wallet: extras.map_or(0, |e| e.wallet.len()),
        profile_attributes: extras.map_or(0, |e| e.profile.attributes.len()),
        items: order.items.len(),
        attributes: order.attributes.len(),
        card: card.is_some(),
        tags: card.map_or(0, |c| c.tags.len()),
        offer: offer.is_some(),
        offer_discounts: offer.map_or(0, |o| o.discounts.len()),
    };
    let text = order
        .items
        .len()
        .saturating_mul(TEXT_PER_LINE)
        .saturating_add(config.len())
        .saturating_add(256);
    let mut enc = Encoder::new(counts, text);
    enc.order(&OrderFields {
        order_id: &order.order_id,
        pos: order.pos.as_str(),
        status: &order.status,
        total: order.total,
        total_without_vat: order.total_without_vat,
        vat: order.vat,
        currency: &order.currency,
        created: order.created,
        updated: order.updated,
        branch_id: order.branch_id.as_deref(),
        note: order.note.as_deref(),
    });
    for item in &order.items {
        enc.item(&ItemFields {
            id: &item.id,
            product_id: &item.product_id,
            name: &item.name,
            description: item.description.as_deref(),
            quantity: item.quantity,
            unit_price: item.unit_price,
            total_price: item.total_price,
            vat: item.vat,
            vat_rate: item.vat_rate,
            category_id: item.category_id.as_deref(),
            category_name: item.category_name.as_deref(),
            ean: item.ean.as_deref(),
            note: item.note.as_deref(),
        });
    }
    for (key, value) in &order.attributes {
        enc.attribute(key, value);
    }
    if let Some(card) = card {
        enc.card(&CardFields {
            card_id: &card.card_id,
            customer_id: card.customer_id.as_deref(),
            name: card.name.as_deref(),
            tier: card.tier.as_deref(),
            points: card.spendable_points(),
            visits: card.visits,
            total_spent: card.total_spent,
            first_visit: card.first_visit,
            last_visit: card.last_visit,
        });
        for tag in &card.tags {
            enc.tag(tag);
        }
        enc.card_extras(&CardExtrasFields {
            available_points: extras.map_or(card.spendable_points(), |e| e.available_points),
            birthday: extras
                .and_then(|e| e.profile.birthday)
                .map(|b| BirthdayFields {
                    month: b.month,
                    day: b.day,
                    year: b.year,
                }),
            pending_points: card.pending_points.max(0),
            next_expiry: extras.and_then(|e| e.next_expiry).map(|n| (n.at, n.points)),
        });
        for w in extras.map_or(&[][..], |e| &e.wallet) {
            enc.wallet_coupon(&WalletCouponFields {
                code: &w.code,
                batch: &w.batch,
                value: match w.value {
                    coupon::CouponValue::Amount { amount } => CouponValue::Amount(amount),
                    coupon::CouponValue::Percentage { percentage } => {
                        CouponValue::Percentage(percentage)
                    }
                },
                min_bill: w.min_bill,
                valid_until: w.valid_until,
            });
        }
        for (key, value) in extras.iter().flat_map(|e| &e.profile.attributes) {
            enc.profile_attribute(key, value);
        }
    }
    enc.config(config);
    if let Some(offer) = offer {
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
    enc.finish()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use rabat_domain::model::{OfferedDiscount, OrderItem, Pos};
    use rust_decimal::Decimal;

    #[test]
    fn the_host_types_cross_whole() {
        let order = Order {
            order_id: "o-1".into(),
            pos: Pos::Bifit,
            status: "FINISHED".into(),
            total: Decimal::new(1250, 2),
            total_without_vat: Some(Decimal::new(1000, 2)),
            vat: None,
            currency: "EUR".into(),
            created: Some(5),
            updated: None,
            branch_id: None,
            note: Some("n".into()),
            items: vec![OrderItem {
                id: "l".into(),
                product_id: "p".into(),
                name: "Espresso".into(),
                description: None,
                quantity: Decimal::new(2, 0),
                unit_price: Decimal::new(250, 2),
                total_price: Decimal::new(500, 2),
                vat: None,
                vat_rate: Some(Decimal::new(20, 0)),
                category_id: None,
                category_name: Some("Hot Beverages".into()),
                ean: None,
                note: None,
            }],
            attributes: vec![("taxSystem".into(), "1".into())],
        };
        let mut card = Card::new("c");
        card.tags = vec!["staff".into()];
        card.points = 700;
        let offer = Offer {
            discounts: vec![OfferedDiscount {
                kind: "coupon_zero_vat".into(),
                product_id: None,
                code: Some("POINTS".into()),
                description: "points".into(),
                amount: Decimal::new(300, 2),
                points: 300,
            }],
            total_discount: Decimal::new(300, 2),
            held_points: 300,
            offered_at: 9,
        };
        let buf = encode(&order, Some(&card), None, "{}", Some(&offer)).unwrap();
        let input = rabat_wire::Input::open(&buf).unwrap();
        assert_eq!(input.order().pos(), Ok("bifit"));
        assert_eq!(input.order().total(), Ok(Decimal::new(1250, 2)));
        let item = input.items().next().unwrap();
        assert_eq!(item.category_name(), Ok(Some("Hot Beverages")));
        assert_eq!(input.card().unwrap().points(), Ok(700));
        assert_eq!(input.tags().next().unwrap().text(), Ok("staff"));
        assert_eq!(input.offer().unwrap().held_points(), Ok(300));
        assert_eq!(
            input.offer_discounts().next().unwrap().code(),
            Ok(Some("POINTS"))
        );
        assert_eq!(input.config(), Ok("{}"));
        // Without extras, the balance is available.
        assert_eq!(input.card_extras().unwrap().available_points(), Ok(700));
        assert_eq!(input.wallet().len(), 0);
    }

    #[test]
    fn the_card_extras_cross_whole() {
        use rabat_domain::coupon::{Birthday, Profile, WalletCoupon};
        let order = Order {
            order_id: "o".into(),
            pos: Pos::Papaya,
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
        };
        let mut card = Card::new("c");
        card.points = 900;
        card.pending_points = 60;
        let extras = CardExtras {
            available_points: 400,
            wallet: vec![WalletCoupon {
                code: "WELCOME-AC".into(),
                batch: "welcome".into(),
                value: coupon::CouponValue::Percentage {
                    percentage: Decimal::new(15, 0),
                },
                min_bill: Some(Decimal::new(10, 0)),
                valid_until: Some(99),
            }],
            profile: Profile {
                birthday: Some(Birthday {
                    month: 12,
                    day: 31,
                    year: Some(1990),
                }),
                attributes: [("shop".to_string(), "Nitra".to_string())].into(),
            },
            next_expiry: Some(rabat_domain::lots::NextExpiry {
                at: 5_000,
                points: 300,
            }),
            notes: Vec::new(),
        };
        let buf = encode(&order, Some(&card), Some(&extras), "{}", None).unwrap();
        let input = rabat_wire::Input::open(&buf).unwrap();
        let x = input.card_extras().unwrap();
        assert_eq!(x.available_points(), Ok(400));
        assert_eq!(x.pending_points(), Ok(60));
        assert_eq!(x.next_expiry(), Ok(Some((5_000, 300))));
        assert_eq!(
            x.birthday(),
            Ok(Some(BirthdayFields {
                month: 12,
                day: 31,
                year: Some(1990)
            }))
        );
        let w = input.wallet().next().unwrap();
        assert_eq!(w.code(), Ok("WELCOME-AC"));
        assert_eq!(w.value(), Ok(CouponValue::Percentage(Decimal::new(15, 0))));
        assert_eq!(w.valid_until(), Ok(Some(99)));
        let a = input.profile_attributes().next().unwrap();
        assert_eq!((a.key(), a.value()), (Ok("shop"), Ok("Nitra")));
        // Without a card, the extras are not written.
        let buf = encode(&order, None, Some(&extras), "{}", None).unwrap();
        let input = rabat_wire::Input::open(&buf).unwrap();
        assert!(input.card_extras().is_none());
        assert_eq!(input.wallet().len(), 0);
    }
}
