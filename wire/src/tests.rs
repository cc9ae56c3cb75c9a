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
    assert_eq!(buf.len(), HEADER_LEN + ORDER_LEN + 2);
    let _ = String::new();
    let _ = vec![0u8];
}
