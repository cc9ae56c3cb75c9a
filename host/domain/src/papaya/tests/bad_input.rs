//! Bad input, and the edges of good input: each case gets one named, documented answer.
#![allow(clippy::unwrap_used)]

use serde_json::Value;

use super::*;

#[test]
fn malformed_bodies_say_where() {
    assert_eq!(
        query_message(b""),
        (
            6,
            "Request body is not valid JSON: EOF while parsing a value at line 1 column 0"
                .to_owned()
        )
    );
    assert_eq!(
        query_message(b"{\"orderId\": \"o\",\n \"total\": 1"),
        (
            6,
            "Request body is not valid JSON: EOF while parsing an object at line 2 column 11"
                .to_owned()
        )
    );
    assert_eq!(query_message(b"\xff\xfe{}").0, 6);
    assert_eq!(query_message(b"{\"orderId\": \"\xff\"}").0, 6);
    assert_eq!(query_message(b"{} {}").0, 6);
    assert_eq!(query_message(b"{\"total\": NaN}").0, 6);
}

#[test]
fn a_body_must_be_an_object() {
    for body in ["[]", "\"orderId\"", "42", "null"] {
        assert_eq!(
            query_message(body.as_bytes()),
            invalid("body must be a JSON object")
        );
        assert_eq!(
            completed_message(body.as_bytes()),
            invalid("body must be a JSON object")
        );
    }
}

#[test]
fn required_fields_are_named() {
    for (field, value) in [
        ("orderId", None),
        ("cardId", None),
        ("total", None),
        ("cardId", Some(Value::Null)),
    ] {
        let body = query_with(|map| match value {
            Some(value) => {
                map.insert(field.into(), value);
            }
            None => {
                map.remove(field);
            }
        });
        assert_eq!(
            query_message(&body),
            missing(&format!("{field} is required"))
        );
    }
    for field in ["productId", "quantity", "unitPrice", "totalPrice"] {
        let body = query_with(|map| {
            line(map, 1).remove(field);
        });
        assert_eq!(
            query_message(&body),
            missing(&format!("orderItems[1].{field} is required"))
        );
    }
}

#[test]
fn wrong_types_are_named() {
    let cases: [(&str, &str, &str); 8] = [
        ("orderId", "12345", "orderId must be a string"),
        ("cardId", "true", "cardId must be a string"),
        ("total", r#""50.00""#, "total must be a number"),
        ("vat", r#""8.33""#, "vat must be a number"),
        ("status", "1", "status must be a string"),
        ("note", "{}", "note must be a string"),
        ("orderItems", "{}", "orderItems must be an array"),
        (
            "created",
            "1761042600000",
            "created must be an RFC 3339 date-time such as 2025-10-21T10:30:00.000Z",
        ),
    ];
    for (field, value, message) in cases {
        let body = query_with(|map| {
            map.insert(field.into(), json(value));
        });
        assert_eq!(query_message(&body), invalid(message), "{field}: {value}");
    }
    let body = query_with(|map| {
        line(map, 2).insert("quantity".into(), json(r#""2""#));
    });
    assert_eq!(
        query_message(&body),
        invalid("orderItems[2].quantity must be a number")
    );
    let body = query_with(|map| {
        line(map, 0).insert("ean".into(), json("8594123456790"));
    });
    assert_eq!(
        query_message(&body),
        invalid("orderItems[0].ean must be a string")
    );
    let body = query_with(|map| {
        map["orderItems"].as_array_mut().unwrap()[1] = json(r#""Espresso""#);
    });
    assert_eq!(
        query_message(&body),
        invalid("orderItems[1] must be an object")
    );
}

#[test]
fn impossible_values_are_named() {
    let cases: [(&str, &str, &str); 7] = [
        ("total", "-0.01", "total must not be negative"),
        (
            "totalWithoutVat",
            "-1",
            "totalWithoutVat must not be negative",
        ),
        ("vat", "-1", "vat must not be negative"),
        ("orderId", r#""  ""#, "orderId must not be empty"),
        ("cardId", r#""""#, "cardId must not be empty"),
        (
            "currency",
            r#""euro""#,
            "currency must be a three-letter ISO 4217 code",
        ),
        (
            "total",
            "1e400",
            "total is too large or too precise for an amount",
        ),
    ];
    for (field, value, message) in cases {
        let body = query_with(|map| {
            map.insert(field.into(), json(value));
        });
        assert_eq!(query_message(&body), invalid(message), "{field}: {value}");
    }
    let lines: [(usize, &str, &str, &str); 5] = [
        (
            0,
            "quantity",
            "-1",
            "orderItems[0].quantity must not be negative",
        ),
        (
            1,
            "vatRate",
            "120",
            "orderItems[1].vatRate must be between 0 and 100",
        ),
        (
            1,
            "vatRate",
            "-5",
            "orderItems[1].vatRate must be between 0 and 100",
        ),
        (
            2,
            "productId",
            r#""""#,
            "orderItems[2].productId must not be empty",
        ),
        (
            2,
            "totalPrice",
            "-1e400",
            "orderItems[2].totalPrice is too large or too precise for an amount",
        ),
    ];
    for (index, field, value, message) in lines {
        let body = query_with(|map| {
            line(map, index).insert(field.into(), json(value));
        });
        assert_eq!(query_message(&body), invalid(message), "{field}: {value}");
    }
    for bad_time in [
        r#""yesterday""#,
        r#""2025-10-21 10:30:00""#,
        r#""2025-13-01T00:00:00Z""#,
    ] {
        let body = query_with(|map| {
            map.insert("updated".into(), json(bad_time));
        });
        assert_eq!(
            query_message(&body),
            invalid("updated must be an RFC 3339 date-time such as 2025-10-21T10:30:00.000Z")
        );
    }
}

#[test]
fn the_first_problem_is_reported() {
    let body = query_with(|map| {
        map.remove("cardId");
        map.insert("total".into(), json("-1"));
    });
    assert_eq!(query_message(&body), missing("cardId is required"));
}

#[test]
fn optional_fields_take_their_defaults() {
    let query = parse_discount_query(br#"{"orderId": "o", "cardId": "c", "total": 0}"#).unwrap();
    let order = query.order;
    assert_eq!(
        (order.status.as_str(), order.currency.as_str()),
        ("open", "EUR")
    );
    assert!(order.items.is_empty() && order.attributes.is_empty());
    assert_eq!(
        (
            order.total_without_vat,
            order.vat,
            order.created,
            order.updated
        ),
        (None, None, None, None)
    );
    assert_eq!((order.branch_id, order.note), (None, None));

    let nulls = br#"{"orderId": "o", "cardId": "c", "total": 1, "status": null, "currency": null,
        "vat": null, "created": null, "note": null, "orderItems": null}"#;
    let order = parse_discount_query(nulls).unwrap().order;
    assert_eq!(
        (order.status.as_str(), order.currency.as_str()),
        ("open", "EUR")
    );
    assert!(order.items.is_empty());

    let bare_line = br#"{"orderId": "o", "cardId": "c", "total": 1, "orderItems": [
        {"productId": "p", "quantity": 1, "unitPrice": 1, "totalPrice": 1, "vatRate": null}]}"#;
    let item = &parse_discount_query(bare_line).unwrap().order.items[0];
    assert_eq!((item.id.as_str(), item.name.as_str()), ("", ""));
    assert_eq!(
        (item.vat, item.vat_rate, item.description.as_deref()),
        (None, None, None)
    );
}

#[test]
fn numbers_are_read_exactly() {
    let body = query_with(|map| {
        map.insert("total".into(), json("999999999999.1234567891"));
        map.insert("vat".into(), json("5e1"));
        map.insert("totalWithoutVat".into(), json("-0.00"));
        line(map, 0).insert("quantity".into(), json("0.333"));
    });
    let order = parse_discount_query(&body).unwrap().order;
    assert_eq!(order.total.to_string(), "999999999999.1234567891");
    assert_eq!(text(order.vat).as_deref(), Some("50"));
    assert_eq!(text(order.total_without_vat).as_deref(), Some("0.00"));
    assert_eq!(order.items[0].quantity.to_string(), "0.333");
}

#[test]
fn negative_line_prices_are_accepted_for_coupon_lines() {
    let body = query_with(|map| {
        let coupon = line(map, 2);
        coupon.insert("unitPrice".into(), json("-5.00"));
        coupon.insert("totalPrice".into(), json("-5.00"));
        coupon.insert("vat".into(), json("0"));
        coupon.insert("vatRate".into(), json("0"));
    });
    let order = parse_discount_query(&body).unwrap().order;
    assert_eq!(order.items[2].total_price.to_string(), "-5.00");
}

#[test]
fn currency_and_times_are_normalized() {
    let body = query_with(|map| {
        map.insert("currency".into(), json(r#""czk""#));
        map.insert("created".into(), json(r#""2025-10-21T12:30:00.250+02:00""#));
        map.insert("updated".into(), json(r#""1969-12-31T23:59:59.999Z""#));
    });
    let order = parse_discount_query(&body).unwrap().order;
    assert_eq!(order.currency, "CZK");
    assert_eq!(order.created, Some(CREATED_MS + 250));
    assert_eq!(order.updated, Some(-1));
}

#[test]
fn unknown_top_level_fields_become_attributes_as_json_text() {
    let body = query_with(|map| {
        map.insert("tableNo".into(), json("12"));
        map.insert("tip".into(), json("1.50"));
        map.insert("waiter".into(), json(r#"{"name": "Jana"}"#));
        map.insert("completed".into(), json(r#""x""#));
        map.insert("discountCode".into(), Value::Null);
        line(map, 0).insert("modifiers".into(), json(r#"["extra shot"]"#));
    });
    let order = parse_discount_query(&body).unwrap().order;
    let expected: Vec<(String, String)> = [
        ("completed", r#""x""#),
        ("discountCode", "null"),
        ("tableNo", "12"),
        ("tip", "1.50"),
        ("waiter", r#"{"name":"Jana"}"#),
    ]
    .iter()
    .map(|(key, value)| ((*key).to_owned(), (*value).to_owned()))
    .collect();
    assert_eq!(order.attributes, expected);
}

#[test]
fn endpoint_2_checks_the_event_first() {
    let body = completed_with(|map| {
        map.insert("event".into(), json(r#""order.refunded""#));
        map.remove("orderId");
        map.insert("total".into(), json(r#""oops""#));
    });
    assert_eq!(
        completed_message(&body),
        (1, "Event type 'order.refunded' is not supported".to_owned())
    );
    let body = completed_with(|map| {
        map.remove("event");
    });
    assert_eq!(completed_message(&body), missing("event is required"));
    let body = completed_with(|map| {
        map.insert("event".into(), json("7"));
    });
    assert_eq!(completed_message(&body), invalid("event must be a string"));
    // Endpoint 1 ignores an `event` and keeps it as an attribute.
    let body = query_with(|map| {
        map.insert("event".into(), json(r#""order.nieco""#));
    });
    let order = parse_discount_query(&body).unwrap().order;
    assert_eq!(
        order.attributes,
        [("event".to_owned(), r#""order.nieco""#.to_owned())]
    );
}

#[test]
fn endpoint_2_paid_flag() {
    for (value, paid) in [
        ("1", true),
        ("0", false),
        ("true", true),
        ("false", false),
        ("1.0", true),
    ] {
        let body = completed_with(|map| {
            map.insert("paid".into(), json(value));
        });
        assert_eq!(parse_order_completed(&body).unwrap().paid, paid, "{value}");
    }
    let body = completed_with(|map| {
        map.remove("paid");
    });
    assert!(parse_order_completed(&body).unwrap().paid);
    for value in ["2", "0.5", "-1", r#""1""#, "[]"] {
        let body = completed_with(|map| {
            map.insert("paid".into(), json(value));
        });
        assert_eq!(
            completed_message(&body),
            invalid("paid must be 0 or 1"),
            "{value}"
        );
    }
}

#[test]
fn endpoint_2_times_and_defaults() {
    let body = completed_with(|map| {
        map.remove("completed");
        map.remove("status");
    });
    let completed = parse_order_completed(&body).unwrap();
    assert_eq!(completed.completed, None);
    assert_eq!(completed.order.status, "closed");
    let body = completed_with(|map| {
        map.insert("completed".into(), json(r#""tomorrow""#));
    });
    assert_eq!(
        completed_message(&body),
        invalid("completed must be an RFC 3339 date-time such as 2025-10-21T10:30:00.000Z")
    );
    let body = completed_with(|map| {
        line(map, 1).remove("productId");
    });
    assert_eq!(
        completed_message(&body),
        missing("orderItems[1].productId is required")
    );
}
