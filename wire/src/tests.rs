#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;
use alloc::string::{String, ToString};
use alloc::vec;
use core::str::FromStr;

fn d(text: &str) -> Decimal {
    Decimal::from_str(text).unwrap()
}

fn sample(card: bool, offer: bool) -> Vec<u8> {
    let counts = Counts {
        items: 2,
        attributes: 1,
        card,
        tags: if card { 2 } else { 0 },
        offer,
        offer_discounts: usize::from(offer),
        wallet: 0,
        profile_attributes: 0,
    };
    let mut enc = Encoder::new(counts, 64);
    enc.order(&OrderFields {
        order_id: "o-1",
        pos: "papaya",
        status: "open",
        total: d("12.50"),
        total_without_vat: None,
        vat: Some(d("2.08")),
        currency: "EUR",
        created: Some(1_700_000_000_000),
        updated: None,
        branch_id: Some("shop 1"),
        note: None,
    });
    enc.item(&ItemFields {
        id: "l1",
        product_id: "11111",
        name: "Espresso",
        description: None,
        quantity: d("2"),
        unit_price: d("2.50"),
        total_price: d("5.00"),
        vat: Some(d("0.83")),
        vat_rate: Some(d("20")),
        category_id: None,
        category_name: Some("Hot Beverages"),
        ean: Some(""),
        note: None,
    });
    enc.item(&ItemFields {
        id: "l2",
        product_id: "22222",
        name: "Čaj ☕",
        description: Some("hot"),
        quantity: d("0.375"),
        unit_price: d("-1"),
        total_price: d("7.5"),
        vat: None,
        vat_rate: None,
        category_id: Some("c7"),
        category_name: None,
        ean: None,
        note: Some("n"),
    });
    enc.attribute("taxSystem", "1");
    if card {
        enc.card(&CardFields {
            card_id: "card-1",
            customer_id: None,
            name: Some("Ann"),
            tier: Some("gold"),
            points: -5,
            visits: 12,
            total_spent: d("100.10"),
            first_visit: Some(-1),
            last_visit: None,
        });
        enc.tag("staff");
        enc.tag("birthday-month");
    }
    if offer {
        enc.offer(&OfferFields {
            total_discount: d("3.00"),
            held_points: 300,
            offered_at: 42,
        });
        enc.offer_discount(&OfferDiscountFields {
            kind: "coupon_zero_vat",
            product_id: None,
            code: Some("POINTS"),
            description: "Paid with points",
            amount: d("3.00"),
            points: 300,
        });
    }
    enc.config(r#"{"a": 1}"#);
    enc.finish().unwrap()
}

#[test]
fn everything_round_trips() {
    let buf = sample(true, true);
    let input = Input::open(&buf).unwrap();
    let order = input.order();
    assert_eq!(order.order_id(), Ok("o-1"));
    assert_eq!(order.pos(), Ok("papaya"));
    assert_eq!(order.status(), Ok("open"));
    assert_eq!(order.total(), Ok(d("12.50")));
    assert_eq!(order.total().unwrap().to_string(), "12.50");
    assert_eq!(order.total_without_vat(), Ok(None));
    assert_eq!(order.vat(), Ok(Some(d("2.08"))));
    assert_eq!(order.currency(), Ok("EUR"));
    assert_eq!(order.created(), Ok(Some(1_700_000_000_000)));
    assert_eq!(order.updated(), Ok(None));
    assert_eq!(order.branch_id(), Ok(Some("shop 1")));
    assert_eq!(order.note(), Ok(None));

    let items = input.items();
    assert_eq!(items.len(), 2);
    let first = items.get(0).unwrap();
    assert_eq!(first.id(), Ok("l1"));
    assert_eq!(first.category_name(), Ok(Some("Hot Beverages")));
    assert_eq!(first.ean(), Ok(Some("")));
    assert_eq!(first.vat_rate(), Ok(Some(d("20"))));
    assert_eq!(first.total_price().unwrap().to_string(), "5.00");
    let second = input.items().nth(1).unwrap();
    assert_eq!(second.name(), Ok("Čaj ☕"));
    assert_eq!(second.description(), Ok(Some("hot")));
    assert_eq!(second.quantity(), Ok(d("0.375")));
    assert_eq!(second.unit_price(), Ok(d("-1")));
    assert_eq!(second.vat(), Ok(None));
    assert_eq!(second.category_id(), Ok(Some("c7")));
    assert_eq!(second.category_name(), Ok(None));
    assert_eq!(second.note(), Ok(Some("n")));
    assert!(input.items().get(2).is_none());
    assert_eq!(input.items().next_back().unwrap().id(), Ok("l2"));

    let attribute = input.attributes().next().unwrap();
    assert_eq!(
        (attribute.key(), attribute.value()),
        (Ok("taxSystem"), Ok("1"))
    );

    let card = input.card().unwrap();
    assert_eq!(card.card_id(), Ok("card-1"));
    assert_eq!(card.customer_id(), Ok(None));
    assert_eq!(card.name(), Ok(Some("Ann")));
    assert_eq!(card.tier(), Ok(Some("gold")));
    assert_eq!(card.points(), Ok(-5));
    assert_eq!(card.visits(), Ok(12));
    assert_eq!(card.total_spent(), Ok(d("100.10")));
    assert_eq!(card.first_visit(), Ok(Some(-1)));
    assert_eq!(card.last_visit(), Ok(None));
    let tags: Vec<_> = input.tags().map(|t| t.text().unwrap()).collect();
    assert_eq!(tags, ["staff", "birthday-month"]);

    let offer = input.offer().unwrap();
    assert_eq!(offer.total_discount(), Ok(d("3.00")));
    assert_eq!(offer.held_points(), Ok(300));
    assert_eq!(offer.offered_at(), Ok(42));
    let discount = input.offer_discounts().next().unwrap();
    assert_eq!(discount.kind(), Ok("coupon_zero_vat"));
    assert_eq!(discount.product_id(), Ok(None));
    assert_eq!(discount.code(), Ok(Some("POINTS")));
    assert_eq!(discount.description(), Ok("Paid with points"));
    assert_eq!(discount.amount(), Ok(d("3.00")));
    assert_eq!(discount.points(), Ok(300));

    assert_eq!(input.config(), Ok(r#"{"a": 1}"#));
}

#[test]
fn no_card_and_no_offer_read_as_none() {
    let buf = sample(false, false);
    let input = Input::open(&buf).unwrap();
    assert!(input.card().is_none());
    assert_eq!(input.tags().len(), 0);
    assert!(input.offer().is_none());
    assert_eq!(input.offer_discounts().len(), 0);
    assert_eq!(input.items().len(), 2);
}

#[test]
fn layout_can_be_kept_beside_the_buffer() {
    let buf = sample(true, false);
    let layout = Layout::check(&buf).unwrap();
    let input = Input::with_layout(&buf, layout);
    assert_eq!(input.order().order_id(), Ok("o-1"));
    // With a different (shorter) buffer, reads fail rather than panic.
    let short = Input::with_layout(&buf[..HEADER_LEN], layout);
    assert!(short.order().order_id().is_err());
    assert!(short.items().all(|i| i.id().is_err()));
}

#[test]
fn decimals_saturate_like_the_0_1_contract() {
    assert_eq!(decimal_parts(d("12.50")), (1250, 2));
    assert_eq!(decimal_parts(d("-0.0000000001")), (-1, 10));
    // 28 digits after the point do not fit an i64: rounded to fewer places.
    let (m, s) = decimal_parts(d("1.2345678901234567890123456789"));
    assert_eq!(Decimal::new(m, u32::from(s)), d("1.234567890123456789"));
    assert_eq!(decimal_parts(Decimal::MAX), (i64::MAX, 0));
    assert_eq!(decimal_parts(Decimal::MIN), (i64::MIN, 0));
}

#[test]
fn malformed_buffers_name_what_is_wrong() {
    assert_eq!(
        Input::open(b"RBW").unwrap_err(),
        Error {
            field: "header",
            kind: ErrorKind::Truncated
        }
    );
    let mut buf = sample(true, true);
    let mut bad = buf.clone();
    bad[3] = 1;
    assert_eq!(Input::open(&bad).unwrap_err().kind, ErrorKind::BadMagic);
    // The items section claims more records than fit.
    let mut bad = buf.clone();
    bad[H_ITEMS + 4..H_ITEMS + 8].copy_from_slice(&1000u32.to_le_bytes());
    let e = Input::open(&bad).unwrap_err();
    assert_eq!((e.field, e.kind), ("items", ErrorKind::OutOfBounds));
    assert_eq!(
        alloc::format!("{e}"),
        "input items: out of the buffer's bounds"
    );
    // A string pointing past the table, and one that is not UTF-8.
    let input = Input::open(&buf).unwrap();
    let item_at = input.layout().items.0;
    let mut bad = buf.clone();
    bad[item_at + 16..item_at + 20].copy_from_slice(&60_000u32.to_le_bytes());
    let e = Input::open(&bad).unwrap().items().next().unwrap().name();
    assert_eq!(
        e,
        Err(Error {
            field: "item.name",
            kind: ErrorKind::OutOfBounds
        })
    );
    let strings_at = input.layout().strings.0;
    let name_off = u32_at(&buf, item_at + 16).unwrap() as usize;
    buf[strings_at + name_off] = 0xFF;
    let e = Input::open(&buf).unwrap().items().next().unwrap().name();
    assert_eq!(e.unwrap_err().kind, ErrorKind::NotUtf8);
    // A scale over 28.
    let mut bad = sample(false, false);
    let item_at = Input::open(&bad).unwrap().layout().items.0;
    bad[item_at + 32 + 8] = 29;
    let e = Input::open(&bad)
        .unwrap()
        .items()
        .next()
        .unwrap()
        .quantity();
    assert_eq!(e.unwrap_err().kind, ErrorKind::BadScale(29));
}

#[test]
fn miscounted_encodes_are_refused() {
    let counts = Counts {
        items: 1,
        ..Counts::default()
    };
    let mut enc = Encoder::new(counts, 0);
    enc.config("{}");
    assert_eq!(enc.finish(), Err(EncodeError::Missing("order")));
    let order = OrderFields {
        order_id: "",
        pos: "",
        status: "",
        total: Decimal::ZERO,
        total_without_vat: None,
        vat: None,
        currency: "",
        created: None,
        updated: None,
        branch_id: None,
        note: None,
    };
    let mut enc = Encoder::new(counts, 0);
    enc.order(&order);
    enc.config("{}");
    assert_eq!(enc.finish(), Err(EncodeError::CountMismatch("items")));
    let mut enc = Encoder::new(Counts::default(), 0);
    enc.order(&order);
    enc.config("{}");
    let buf = enc.finish().unwrap();
    assert_eq!(buf.len(), HEADER_LEN + EXT_HEADER_LEN + ORDER_LEN + 2);
    let _ = String::new();
    let _ = vec![0u8];
}

/// A buffer with a card and every 0.3 field.
fn sample_v3() -> Vec<u8> {
    let counts = Counts {
        card: true,
        tags: 1,
        wallet: 2,
        profile_attributes: 2,
        ..Counts::default()
    };
    let mut enc = Encoder::new(counts, 64);
    enc.order(&OrderFields {
        order_id: "o-3",
        pos: "papaya",
        status: "open",
        total: d("20.00"),
        total_without_vat: None,
        vat: None,
        currency: "EUR",
        created: Some(7),
        updated: None,
        branch_id: None,
        note: None,
    });
    enc.card(&CardFields {
        card_id: "card-3",
        customer_id: None,
        name: None,
        tier: None,
        points: 900,
        visits: 0,
        total_spent: Decimal::ZERO,
        first_visit: None,
        last_visit: None,
    });
    enc.card_extras(&CardExtrasFields {
        available_points: 600,
        birthday: Some(BirthdayFields {
            month: 2,
            day: 29,
            year: None,
        }),
        pending_points: 40,
        next_expiry: Some((1_800_000_000_000, 120)),
    });
    enc.tag("staff");
    enc.wallet_coupon(&WalletCouponFields {
        code: "WELCOME-AC3",
        batch: "welcome",
        value: CouponValue::Amount(d("5.00")),
        min_bill: Some(d("10")),
        valid_until: Some(1_800_000_000_000),
    });
    enc.wallet_coupon(&WalletCouponFields {
        code: "TENOFF",
        batch: "ten",
        value: CouponValue::Percentage(d("10")),
        min_bill: None,
        valid_until: None,
    });
    enc.profile_attribute("favourite", "espresso");
    enc.profile_attribute("shop", "Nitra");
    enc.config("{}");
    enc.finish().unwrap()
}

#[test]
fn the_0_3_fields_round_trip() {
    let buf = sample_v3();
    let input = Input::open(&buf).unwrap();
    assert!(input.has_extension());
    assert_eq!(input.card().unwrap().points(), Ok(900));
    let extras = input.card_extras().unwrap();
    assert_eq!(extras.available_points(), Ok(600));
    assert_eq!(
        extras.birthday(),
        Ok(Some(BirthdayFields {
            month: 2,
            day: 29,
            year: None
        }))
    );
    assert_eq!(extras.pending_points(), Ok(40));
    assert_eq!(extras.next_expiry(), Ok(Some((1_800_000_000_000, 120))));
    let wallet: Vec<_> = input.wallet().collect();
    assert_eq!(wallet.len(), 2);
    assert_eq!(wallet[0].code(), Ok("WELCOME-AC3"));
    assert_eq!(wallet[0].batch(), Ok("welcome"));
    assert_eq!(wallet[0].value(), Ok(CouponValue::Amount(d("5.00"))));
    assert_eq!(wallet[0].min_bill(), Ok(Some(d("10"))));
    assert_eq!(wallet[0].valid_until(), Ok(Some(1_800_000_000_000)));
    assert_eq!(wallet[1].value(), Ok(CouponValue::Percentage(d("10"))));
    assert_eq!(wallet[1].min_bill(), Ok(None));
    assert_eq!(wallet[1].valid_until(), Ok(None));
    let attributes: Vec<_> = input
        .profile_attributes()
        .map(|a| (a.key().unwrap(), a.value().unwrap()))
        .collect();
    assert_eq!(attributes, [("favourite", "espresso"), ("shop", "Nitra")]);
    assert_eq!(input.tags().next().unwrap().text(), Ok("staff"));
}

#[test]
fn a_card_without_extras_has_its_balance_available() {
    let buf = sample(true, true);
    let input = Input::open(&buf).unwrap();
    let extras = input.card_extras().unwrap();
    assert_eq!(extras.available_points(), Ok(-5));
    assert_eq!(extras.birthday(), Ok(None));
    assert_eq!(extras.pending_points(), Ok(0));
    assert_eq!(extras.next_expiry(), Ok(None));
    assert_eq!(input.wallet().len(), 0);
    // No card: no extras.
    let buf = sample(false, false);
    assert!(Input::open(&buf).unwrap().card_extras().is_none());
}

/// What the 0.2 reader (as released with contract 0.2, compiled into every 0.2 policy)
/// checks of a buffer, and the offsets it reads: kept here verbatim in substance, so a
/// change to the layout that a 0.2 policy would refuse fails this test.
fn check_like_0_2(buf: &[u8]) -> Result<(), &'static str> {
    const HEADER_LEN_0_2: usize = 4 + 4 * 16;
    let header = buf.get(..HEADER_LEN_0_2).ok_or("header")?;
    if header[..4] != *b"RBW\x02" {
        return Err("magic");
    }
    let word = |at: usize| u32_at(header, at).unwrap() as usize;
    if word(4) != buf.len() {
        return Err("total");
    }
    for (at, len) in [(8, 1), (16, 109), (24, 16), (32, 8), (40, 49)] {
        let (start, count) = (word(at), word(at + 4));
        if start < HEADER_LEN_0_2 || start + count * len > buf.len() {
            return Err("section");
        }
    }
    for (at, len, optional) in [(48, 91, false), (52, 69, true), (56, 25, true)] {
        let start = word(at);
        if optional && start == 0 {
            continue;
        }
        if start < HEADER_LEN_0_2 || start + len > buf.len() {
            return Err("record");
        }
    }
    Ok(())
}

#[test]
fn a_0_2_reader_reads_the_0_3_buffer() {
    // The 0.2 record sizes are unchanged.
    assert_eq!(
        (HEADER_LEN, ORDER_LEN, ITEM_LEN, ATTRIBUTE_LEN),
        (68, 91, 109, 16)
    );
    assert_eq!(
        (CARD_LEN, TAG_LEN, OFFER_LEN, OFFER_DISCOUNT_LEN),
        (69, 8, 25, 49)
    );
    for buf in [sample_v3(), sample(true, true), sample(false, false)] {
        assert_eq!(check_like_0_2(&buf), Ok(()));
        let input = Input::open(&buf).unwrap();
        assert!(input.order().order_id().is_ok());
    }
}

#[test]
fn a_buffer_without_the_extension_reads_as_0_2() {
    // A 0.2 encoder's buffer: the same sections with the order right after the header.
    let buf = sample(true, false);
    let input = Input::open(&buf).unwrap();
    let order_at = input.layout().order;
    let mut old = Vec::new();
    old.extend_from_slice(&buf[..HEADER_LEN]);
    old.extend_from_slice(&buf[HEADER_LEN + EXT_HEADER_LEN..]);
    let shift = |at: usize, old: &mut Vec<u8>| {
        let w = u32_at(old, at).unwrap();
        if w != 0 {
            old[at..at + 4].copy_from_slice(&(w - EXT_HEADER_LEN as u32).to_le_bytes());
        }
    };
    for at in [
        H_STRINGS,
        H_ITEMS,
        H_ATTRIBUTES,
        H_TAGS,
        H_OFFER_DISCOUNTS,
        H_ORDER,
        H_CARD,
        H_OFFER,
    ] {
        shift(at, &mut old);
    }
    let total = old.len() as u32;
    old[H_TOTAL..H_TOTAL + 4].copy_from_slice(&total.to_le_bytes());
    assert_eq!(order_at - EXT_HEADER_LEN, HEADER_LEN);
    let input = Input::open(&old).unwrap();
    assert!(!input.has_extension());
    assert_eq!(input.order().order_id(), Ok("o-1"));
    assert_eq!(input.card().unwrap().card_id(), Ok("card-1"));
    assert!(input.card_extras().is_none());
    assert_eq!(input.wallet().len(), 0);
    assert_eq!(input.profile_attributes().len(), 0);
}

#[test]
fn malformed_0_3_sections_name_the_field() {
    let buf = sample_v3();
    let mut bad = buf.clone();
    bad[X_WALLET + 4..X_WALLET + 8].copy_from_slice(&1000u32.to_le_bytes());
    let e = Input::open(&bad).unwrap_err();
    assert_eq!((e.field, e.kind), ("card.wallet", ErrorKind::OutOfBounds));
    let mut bad = buf.clone();
    bad[X_CARD_EXTRAS..X_CARD_EXTRAS + 4].copy_from_slice(&u32::MAX.to_le_bytes());
    let e = Input::open(&bad).unwrap_err();
    assert_eq!((e.field, e.kind), ("card.extras", ErrorKind::OutOfBounds));
    // An unknown value kind.
    let wallet_at = Input::open(&buf).unwrap().layout().ext.unwrap().wallet.0;
    let mut bad = buf.clone();
    bad[wallet_at + 16] = 7;
    let e = Input::open(&bad).unwrap().wallet().next().unwrap().value();
    assert_eq!(
        e,
        Err(Error {
            field: "card.wallet.value_kind",
            kind: ErrorKind::BadKind(7)
        })
    );
    // Extras written without a card are refused by the encoder.
    let mut enc = Encoder::new(Counts::default(), 0);
    enc.order(&OrderFields {
        order_id: "",
        pos: "",
        status: "",
        total: Decimal::ZERO,
        total_without_vat: None,
        vat: None,
        currency: "",
        created: None,
        updated: None,
        branch_id: None,
        note: None,
    });
    enc.card_extras(&CardExtrasFields {
        available_points: 1,
        birthday: None,
        pending_points: 0,
        next_expiry: None,
    });
    enc.config("{}");
    assert_eq!(enc.finish(), Err(EncodeError::CountMismatch("card extras")));
}

#[test]
fn comparing_a_category_agrees_with_reading_it() {
    let buf = sample(true, true);
    let input = Input::open(&buf).unwrap();
    let mut items = input.items();
    let (first, second) = (items.next().unwrap(), items.next().unwrap());
    assert!(first.category_name_is("Hot Beverages"));
    assert!(!first.category_name_is("Hot Beverage"));
    assert!(!first.category_name_is(""));
    // No category at all is no name.
    assert_eq!(first.category_id(), Ok(None));
    assert!(!first.category_id_is(""));
    for name in ["Hot Beverages", "Bakery", "", "Čaj"] {
        for item in [first, second] {
            assert_eq!(
                item.category_name_is(name),
                item.category_name() == Ok(Some(name)),
                "{name}"
            );
            assert_eq!(
                item.category_id_is(name),
                item.category_id() == Ok(Some(name))
            );
        }
    }
    // A name that is not UTF-8, or out of bounds, is no category, as reading it says.
    let item_at = input.layout().items.0;
    let strings_at = input.layout().strings.0;
    let at = u32_at(&buf, item_at + 85).unwrap() as usize;
    let mut bad = buf.clone();
    bad[strings_at + at] = 0xFF;
    let bad_input = Input::open(&bad).unwrap();
    let item = bad_input.items().next().unwrap();
    assert!(item.category_name().is_err());
    assert!(!item.category_name_is("Hot Beverages"));
    assert!(!item.category_name_is("\u{FFFD}ot Beverages"));
    let mut bad = buf.clone();
    bad[item_at + 85..item_at + 89].copy_from_slice(&60_000u32.to_le_bytes());
    let bad_input = Input::open(&bad).unwrap();
    let item = bad_input.items().next().unwrap();
    assert!(item.category_name().is_err());
    assert!(!item.category_name_is("Hot Beverages"));
}
