//! Happy hour: a percentage off the bill when the order was opened inside a daily time
//! window, in the shop's time zone (daylight saving included). Config:
//! `{"timeZone": "Europe/Bratislava", "from": "16:00", "to": "18:00", "percentage": 15}`,
//! optionally `"days": ["monday", …]` (every day when absent). `to` is excluded; a window
//! may run past midnight (`22:00`–`02:00`). `timeZone` is an IANA name; a fixed offset
//! is one too (`"Etc/GMT-1"` is UTC+01:00 all year).
use rabat_rules::prelude::*;

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct Config {
    from: TimeOfDay,
    to: TimeOfDay,
    time_zone: TimeZone,
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
            time_zone,
            percentage,
            days,
        } = ctx.config()?;
        let Some(created) = ctx.order().created_at() else {
            info!("the POS sent no opening time: no happy hour");
            return Ok(Evaluation::none());
        };
        let local = created.in_zone(time_zone);
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
        r#"{"timeZone": "Europe/Bratislava", "from": "16:00", "to": "18:00", "percentage": 15}"#;

    fn bill_opened_at(month: u8, day: u8, hour_utc: u8, minute: u8) -> OrderData {
        Order::builder()
            .item(OrderItem::new("11111", "Espresso", 2, dec!(2.50)).with_category("Hot Beverages"))
            .item(
                OrderItem::new("22222", "Butter Croissant", 1, dec!(3.50)).with_category("Bakery"),
            )
            .created(Timestamp::utc(2025, month, day, hour_utc, minute))
            .build()
    }

    /// A bill opened on Tuesday 21 October 2025 (CEST, UTC+2).
    fn summer_bill(hour_utc: u8, minute: u8) -> OrderData {
        bill_opened_at(10, 21, hour_utc, minute)
    }

    /// A bill opened on Tuesday 16 December 2025 (CET, UTC+1).
    fn winter_bill(hour_utc: u8, minute: u8) -> OrderData {
        bill_opened_at(12, 16, hour_utc, minute)
    }

    fn evaluate(order: OrderData, config: &str) -> Result<Evaluation, String> {
        HappyHour::evaluate(&Context::new(order).with_config(config))
    }

    fn discounted(order: OrderData, config: &str) -> bool {
        evaluate(order, config).is_ok_and(|e| !e.discounts.is_empty())
    }

    #[test]
    fn the_window_is_local_time_in_summer_and_in_winter() {
        // 16:30 in Bratislava is 14:30 UTC in summer ...
        assert_eq!(
            evaluate(summer_bill(14, 30), CONFIG),
            Ok(Discount::percentage_on_bill(15, "Happy hour 16:00–18:00: 15% off").into())
        );
        // ... and 15:30 UTC in winter.
        assert!(discounted(winter_bill(15, 30), CONFIG));
        // 14:30 UTC in winter is 15:30 local: too early.
        assert!(!discounted(winter_bill(14, 30), CONFIG));
        // 16:30 UTC in summer is 18:30 local: too late; in winter 17:30: inside.
        assert!(!discounted(summer_bill(16, 30), CONFIG));
        assert!(discounted(winter_bill(16, 30), CONFIG));
        // The start is in, the end is out.
        assert!(discounted(summer_bill(14, 0), CONFIG));
        assert!(!discounted(summer_bill(16, 0), CONFIG));
        assert!(discounted(winter_bill(15, 0), CONFIG));
        assert!(!discounted(winter_bill(17, 0), CONFIG));
    }

    #[test]
    fn the_day_the_clocks_go_back() {
        // Sunday 26 October 2025: CEST until 01:00 UTC, CET after; 16:00 local is 15:00 UTC.
        assert!(!discounted(bill_opened_at(10, 26, 14, 59), CONFIG));
        assert!(discounted(bill_opened_at(10, 26, 15, 0), CONFIG));
        // Sunday 30 March 2025, the clocks went forward: 16:00 local is 14:00 UTC.
        assert!(discounted(bill_opened_at(3, 30, 14, 0), CONFIG));
        assert!(!discounted(bill_opened_at(3, 30, 13, 59), CONFIG));
    }

    #[test]
    fn the_seed_bill_at_12_30_local_gets_nothing() {
        assert_eq!(
            evaluate(summer_bill(10, 30), CONFIG),
            Ok(Evaluation::none())
        );
    }

    #[test]
    fn a_fixed_offset_is_a_zone_too() {
        // Etc/GMT-1 is UTC+01:00 all year (the Etc names count the POSIX way, west).
        let fixed =
            r#"{"timeZone": "Etc/GMT-1", "from": "15:00", "to": "17:00", "percentage": 15}"#;
        assert!(discounted(summer_bill(14, 30), fixed));
        assert!(discounted(winter_bill(14, 30), fixed));
        let missing = r#"{"from": "15:00", "to": "17:00", "percentage": 15}"#;
        let err = evaluate(summer_bill(14, 30), missing).unwrap_err();
        assert!(err.contains("timeZone"), "{err}");
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
        let weekends = r#"{"timeZone": "Europe/Bratislava", "from": "16:00", "to": "18:00", "percentage": 15, "days": ["saturday", "sunday"]}"#;
        assert!(!discounted(summer_bill(14, 30), weekends));
        let night = r#"{"timeZone": "UTC", "from": "22:00", "to": "02:00", "percentage": 10}"#;
        assert!(discounted(summer_bill(23, 15), night));
        assert!(discounted(summer_bill(1, 59), night));
        assert!(!discounted(summer_bill(2, 0), night));
    }

    #[test]
    fn a_bad_config_says_what_is_wrong() {
        let bad = r#"{"timeZone": "UTC", "from": "3pm", "to": "17:00", "percentage": 15}"#;
        assert_eq!(
            evaluate(summer_bill(14, 30), bad),
            Err("config: from: time of day \"3pm\" is not HH:MM between 00:00 and 24:00 (line 1, column 34)".into())
        );
        let zone =
            r#"{"timeZone": "Europe/Bratslava", "from": "16:00", "to": "18:00", "percentage": 15}"#;
        let err = evaluate(summer_bill(14, 30), zone).unwrap_err();
        assert!(
            err.starts_with("config: timeZone: time zone \"Europe/Bratslava\" is unknown"),
            "{err}"
        );
    }
}
