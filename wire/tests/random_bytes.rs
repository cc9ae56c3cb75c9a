//! Random and mutated bytes never make the reader panic.
#![allow(clippy::unwrap_used)]

use proptest::prelude::*;
use rabat_wire::{Input, Layout};

fn read_everything(buf: &[u8]) {
    let Ok(input) = Input::open(buf) else { return };
    let o = input.order();
    let _ = (
        o.order_id(),
        o.pos(),
        o.status(),
        o.total(),
        o.total_without_vat(),
    );
    let _ = (
        o.vat(),
        o.currency(),
        o.created(),
        o.updated(),
        o.branch_id(),
        o.note(),
    );
    for i in input.items() {
        let _ = (
            i.id(),
            i.product_id(),
            i.name(),
            i.description(),
            i.quantity(),
        );
        let _ = (
            i.unit_price(),
            i.total_price(),
            i.vat(),
            i.vat_rate(),
            i.category_id(),
        );
        let _ = (i.category_name(), i.ean(), i.note());
    }
    let _ = input.items().get(usize::MAX);
    for a in input.attributes() {
        let _ = (a.key(), a.value());
    }
    if let Some(c) = input.card() {
        let _ = (c.card_id(), c.customer_id(), c.name(), c.tier(), c.points());
        let _ = (c.visits(), c.total_spent(), c.first_visit(), c.last_visit());
    }
    for t in input.tags() {
        let _ = t.text();
    }
    if let Some(offer) = input.offer() {
        let _ = (
            offer.total_discount(),
            offer.held_points(),
            offer.offered_at(),
        );
    }
    for d in input.offer_discounts().rev() {
        let _ = (
            d.kind(),
            d.product_id(),
            d.code(),
            d.description(),
            d.amount(),
            d.points(),
        );
    }
    let _ = input.config();
    if let Some(extras) = input.card_extras() {
        let _ = (
            extras.available_points(),
            extras.birthday(),
            extras.pending_points(),
            extras.next_expiry(),
        );
    }
    for w in input.wallet() {
        let _ = (
            w.code(),
            w.batch(),
            w.value(),
            w.min_bill(),
            w.valid_until(),
        );
    }
    for a in input.profile_attributes().rev() {
        let _ = (a.key(), a.value());
    }
    // A layout checked for one buffer, used with another.
    let _ = Input::with_layout(&buf[..buf.len() / 2], input.layout())
        .order()
        .note();
}

fn valid() -> Vec<u8> {
    use rabat_wire::*;
    let counts = Counts {
        items: 2,
        attributes: 1,
        card: true,
        tags: 1,
        offer: true,
        offer_discounts: 1,
        wallet: 1,
        profile_attributes: 1,
    };
    let mut e = Encoder::new(counts, 0);
    let order = OrderFields {
        order_id: "o",
        pos: "papaya",
        status: "open",
        total: 5.into(),
        total_without_vat: None,
        vat: None,
        currency: "EUR",
        created: Some(1),
        updated: None,
        branch_id: None,
        note: Some("x"),
    };
    e.order(&order);
    for _ in 0..2 {
        e.item(&ItemFields {
            id: "i",
            product_id: "p",
            name: "n",
            description: None,
            quantity: 1.into(),
            unit_price: 1.into(),
            total_price: 1.into(),
            vat: None,
            vat_rate: None,
            category_id: None,
            category_name: Some("c"),
            ean: None,
            note: None,
        });
    }
    e.attribute("k", "v");
    e.card(&CardFields {
        card_id: "c",
        customer_id: None,
        name: None,
        tier: Some("gold"),
        points: 1,
        visits: 2,
        total_spent: 3.into(),
        first_visit: None,
        last_visit: None,
    });
    e.tag("t");
    e.card_extras(&CardExtrasFields {
        available_points: 1,
        birthday: Some(BirthdayFields {
            month: 1,
            day: 2,
            year: Some(1990),
        }),
        pending_points: 3,
        next_expiry: Some((4, 5)),
    });
    e.wallet_coupon(&WalletCouponFields {
        code: "C",
        batch: "b",
        value: CouponValue::Amount(1.into()),
        min_bill: None,
        valid_until: Some(3),
    });
    e.profile_attribute("k", "v");
    e.offer(&OfferFields {
        total_discount: 1.into(),
        held_points: 1,
        offered_at: 1,
    });
    e.offer_discount(&OfferDiscountFields {
        kind: "k",
        product_id: None,
        code: None,
        description: "d",
        amount: 1.into(),
        points: 0,
    });
    e.config("{}");
    e.finish().unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        read_everything(&bytes);
        // With a valid magic and length, so the reader gets past the header's first checks.
        let mut framed = bytes.clone();
        if framed.len() >= 8 {
            framed[..4].copy_from_slice(b"RBW\x02");
            let len = u32::try_from(framed.len()).unwrap();
            framed[4..8].copy_from_slice(&len.to_le_bytes());
            read_everything(&framed);
        }
    }

    #[test]
    fn mutated_valid_buffers_never_panic(
        flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..12),
        cut in any::<prop::sample::Index>(),
    ) {
        let mut buf = valid();
        for (at, byte) in flips {
            let i = at.index(buf.len());
            buf[i] = byte;
        }
        read_everything(&buf);
        let end = cut.index(buf.len() + 1);
        read_everything(&buf[..end]);
        let _ = Layout::check(&buf[..end]);
    }
}
