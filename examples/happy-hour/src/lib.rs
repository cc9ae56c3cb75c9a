//! Happy hour: a percentage off the bill when the order was opened inside a daily time
//! window, at the shop's UTC offset. Config: `{"from": "15:00", "to": "17:00",
//! "utcOffsetMinutes": 60, "percentage": 15}`, optionally `"days": ["monday", …]` (every
//! day when absent). `to` is excluded; a window may run past midnight (`22:00`–`02:00`).
use rabat_rules::prelude::*;

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct Config {
    from: TimeOfDay,
    to: TimeOfDay,
    #[serde(default)]
    utc_offset_minutes: i32,
    percentage: Percentage,
    #[serde(default)]
    days: Vec<Weekday>,
}

/// The policy: `percentage` off the bill inside the window.
pub struct HappyHour;

impl Policy for HappyHour {
    fn evaluate(ctx: &Context) -> Result<Evaluation, String> {
        let Config {
            from,
            to,
            utc_offset_minutes,
            percentage,
            days,
        } = ctx.config()?;
        let Some(created) = ctx.order().created_at() else {
            info!("the POS sent no opening time: no happy hour");
            return Ok(Evaluation::none());
        };
        let local = created.local(utc_offset_minutes);
        let today = days.is_empty() || days.contains(&local.weekday);
        if !(today && local.time.is_within(from, to)) {
            return Ok(Evaluation::none());
        }
        let description = format!("Happy hour {from}–{to}: {percentage}% off");
        Ok(Discount::percentage_on_bill(percentage, description).into())
    }
}

export_policy!(HappyHour);

#[cfg(test)]
mod tests {
    use super::*;

    const CONFIG: &str =
        r#"{"from": "15:00", "to": "17:00", "utcOffsetMinutes": 60, "percentage": 15}"#;

    fn bill_opened_at(hour_utc: u8, minute: u8) -> OrderData {
        Order::builder()
            .item(OrderItem::new("11111", "Espresso", 2, dec!(2.50)).with_category("Hot Beverages"))
            .item(
                OrderItem::new("22222", "Butter Croissant", 1, dec!(3.50)).with_category("Bakery"),
            )
            .created(Timestamp::utc(2025, 10, 21, hour_utc, minute))
            .build()
    }

    fn evaluate(order: OrderData, config: &str) -> Result<Evaluation, String> {
        HappyHour::evaluate(&Context::new(order).with_config(config))
    }

    #[test]
    fn inside_the_window_at_the_shops_offset() {
        // 14:30 UTC is 15:30 at UTC+1.
        assert_eq!(
            evaluate(bill_opened_at(14, 30), CONFIG),
            Ok(Discount::percentage_on_bill(15, "Happy hour 15:00–17:00: 15% off").into())
        );
        // The start is in, the end is out.
        assert_eq!(
            evaluate(bill_opened_at(14, 0), CONFIG).map(|e| e.discounts.len()),
            Ok(1)
        );
        assert_eq!(
            evaluate(bill_opened_at(16, 0), CONFIG),
            Ok(Evaluation::none())
        );
    }

    #[test]
    fn the_seed_bill_at_11_30_local_gets_nothing() {
        assert_eq!(
            evaluate(bill_opened_at(10, 30), CONFIG),
            Ok(Evaluation::none())
        );
    }

    #[test]
    fn no_opening_time_means_no_discount() {
        let order = Order::builder()
            .item(OrderItem::new("1", "Tea", 1, dec!(2)))
            .build();
        assert_eq!(evaluate(order, CONFIG), Ok(Evaluation::none()));
    }

    #[test]
    fn days_limit_the_weekdays_and_windows_cross_midnight() {
        // 2025-10-21 is a Tuesday.
        let weekends = r#"{"from": "15:00", "to": "17:00", "utcOffsetMinutes": 60, "percentage": 15, "days": ["saturday", "sunday"]}"#;
        assert_eq!(
            evaluate(bill_opened_at(14, 30), weekends),
            Ok(Evaluation::none())
        );
        let night = r#"{"from": "22:00", "to": "02:00", "percentage": 10}"#;
        assert_eq!(
            evaluate(bill_opened_at(23, 15), night).map(|e| e.discounts.len()),
            Ok(1)
        );
        assert_eq!(
            evaluate(bill_opened_at(1, 59), night).map(|e| e.discounts.len()),
            Ok(1)
        );
        assert_eq!(
            evaluate(bill_opened_at(2, 0), night),
            Ok(Evaluation::none())
        );
    }

    #[test]
    fn a_bad_time_says_so() {
        let bad = r#"{"from": "3pm", "to": "17:00", "percentage": 15}"#;
        assert_eq!(
            evaluate(bill_opened_at(14, 30), bad),
            Err("config: from: time of day \"3pm\" is not HH:MM between 00:00 and 24:00 (line 1, column 15)".into())
        );
    }
}
