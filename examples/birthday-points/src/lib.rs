//! Birthday points (contract `rabat:rules@0.3.0`): `pointsPerUnit` points per whole
//! currency unit of a completed bill, doubled in the customer's birthday week.
//! Config: `{"pointsPerUnit": 1, "timeZone": "Europe/Bratislava"}` (`pointsPerUnit`
//! defaults to 1, `timeZone` to `UTC`).
//!
//! **Birthday week**: the bill's local date in the shop's time zone (from the order's
//! `created`, else `updated`) is at most 3 days before or after the customer's birthday
//! in the same, the previous or the next year — 7 local dates, the birthday in the
//! middle; so a 30 December birthday's week runs into January. A 29 February birthday is
//! 28 February in a year that is not a leap year. Without a birthday in the profile or a
//! time on the bill, points are not doubled.
use rabat_rules::prelude::*;

/// Days either side of the birthday that count as its week.
pub const DAYS_EITHER_SIDE: i64 = 3;

const MS_PER_DAY: i64 = 86_400_000;

#[derive(serde::Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct Config {
    points_per_unit: Option<u32>,
    time_zone: Option<TimeZone>,
}

/// The policy: points on completed bills, doubled in the birthday week.
pub struct BirthdayPoints;

fn is_leap(year: i32) -> bool {
    year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
}

/// Days since 1970-01-01 of a calendar date.
fn day_number(year: i32, month: u8, day: u8) -> i64 {
    Timestamp::utc(year, month, day, 0, 0)
        .epoch_ms()
        .div_euclid(MS_PER_DAY)
}

/// Whether the local date (`year`, `month`, `day`) is in the week of `birthday`.
pub fn in_birthday_week(birthday: Birthday, year: i32, month: u8, day: u8) -> bool {
    let today = day_number(year, month, day);
    (year - 1..=year + 1).any(|y| {
        let day = if birthday.month == 2 && birthday.day == 29 && !is_leap(y) {
            28
        } else {
            birthday.day
        };
        (day_number(y, birthday.month, day) - today).abs() <= DAYS_EITHER_SIDE
    })
}

impl Policy for BirthdayPoints {
    fn evaluate(_ctx: &Context) -> Result<Evaluation, String> {
        Ok(Evaluation::none())
    }

    fn accrue(ctx: &Context) -> Result<Accrual, String> {
        let config: Config = ctx.config()?;
        let per_unit = i64::from(config.points_per_unit.unwrap_or(1));
        let zone = match config.time_zone {
            Some(zone) => zone,
            None => TimeZone::named("UTC")?,
        };
        let Some(card) = ctx.card() else {
            return Ok(Accrual::none());
        };
        let order = ctx.order();
        // Whole units of the bill: 42.80 is 42.
        let units = i64::try_from(order.total().trunc().mantissa())
            .unwrap_or(0)
            .max(0);
        let points = units.saturating_mul(per_unit);
        let when = order
            .created()
            .or(order.updated())
            .map(Timestamp::from_epoch_ms);
        let birthday_week = match (card.profile().birthday(), when) {
            (Some(birthday), Some(at)) => {
                let local = at.in_zone(zone);
                in_birthday_week(birthday, local.year, local.month, local.day)
            }
            _ => false,
        };
        if points == 0 {
            return Ok(Accrual::none());
        }
        Ok(if birthday_week {
            Accrual::points(
                points.saturating_mul(2),
                format!("{units} units spent: {points} points, doubled in the birthday week"),
            )
        } else {
            Accrual::points(points, format!("{units} units spent: {points} points"))
        })
    }
}

export_policy!(BirthdayPoints);

#[cfg(test)]
mod tests {
    use super::*;

    const CONFIG: &str = r#"{"pointsPerUnit": 1, "timeZone": "Europe/Bratislava"}"#;

    fn bill(total: Decimal, created: Timestamp) -> OrderData {
        Order::builder()
            .item(OrderItem::new("11111", "Espresso", 2, dec!(2.50)))
            .total(total)
            .created(created.epoch_ms())
            .build()
    }

    fn points(birthday: (u8, u8), created: Timestamp) -> i64 {
        let card = Card::builder()
            .birthday(birthday.0, birthday.1, Some(1990))
            .build();
        let ctx = Context::new(bill(dec!(42.80), created))
            .with_card(card)
            .with_config(CONFIG);
        BirthdayPoints::accrue(&ctx).unwrap().points
    }

    #[test]
    fn one_point_per_whole_unit_and_double_on_the_birthday() {
        assert_eq!(points((7, 1), Timestamp::utc(2026, 3, 10, 12, 0)), 42);
        assert_eq!(points((3, 10), Timestamp::utc(2026, 3, 10, 12, 0)), 84);
        let card = Card::builder().birthday(3, 10, None).build();
        let ctx = Context::new(bill(dec!(42.80), Timestamp::utc(2026, 3, 10, 12, 0)))
            .with_card(card)
            .with_config(r#"{"pointsPerUnit": 3, "timeZone": "UTC"}"#);
        assert_eq!(
            BirthdayPoints::accrue(&ctx),
            Ok(Accrual::points(
                252,
                "42 units spent: 126 points, doubled in the birthday week"
            ))
        );
    }

    #[test]
    fn the_week_is_three_days_either_side() {
        // Birthday 10 March: 7 to 13 March count, 6 and 14 do not.
        assert_eq!(points((3, 10), Timestamp::utc(2026, 3, 7, 12, 0)), 84);
        assert_eq!(points((3, 10), Timestamp::utc(2026, 3, 13, 12, 0)), 84);
        assert_eq!(points((3, 10), Timestamp::utc(2026, 3, 6, 12, 0)), 42);
        assert_eq!(points((3, 10), Timestamp::utc(2026, 3, 14, 12, 0)), 42);
    }

    #[test]
    fn the_week_runs_across_the_year_end() {
        // Birthday 30 December: 2 January of the next year is in its week, 3 January not.
        assert_eq!(points((12, 30), Timestamp::utc(2027, 1, 2, 12, 0)), 84);
        assert_eq!(points((12, 30), Timestamp::utc(2027, 1, 3, 12, 0)), 42);
        // Birthday 2 January: 30 December of the year before is in its week.
        assert_eq!(points((1, 2), Timestamp::utc(2026, 12, 30, 12, 0)), 84);
        assert_eq!(points((1, 2), Timestamp::utc(2026, 12, 29, 12, 0)), 42);
    }

    #[test]
    fn the_shops_date_counts_not_utcs() {
        // Birthday 10 March, week 7–13 March. 13 March 23:30 UTC is 14 March 00:30 in
        // Bratislava (CET, UTC+1): outside, though UTC's date is inside.
        assert_eq!(points((3, 10), Timestamp::utc(2026, 3, 13, 23, 30)), 42);
        // 6 March 23:30 UTC is 7 March 00:30 in Bratislava: inside.
        assert_eq!(points((3, 10), Timestamp::utc(2026, 3, 6, 23, 30)), 84);
        // In summer (CEST, UTC+2), birthday 10 July: 13 July 21:59 UTC is 23:59 local
        // (inside), 22:00 UTC is midnight of the 14th (outside).
        assert_eq!(points((7, 10), Timestamp::utc(2026, 7, 13, 21, 59)), 84);
        assert_eq!(points((7, 10), Timestamp::utc(2026, 7, 13, 22, 0)), 42);
    }

    #[test]
    fn the_29th_of_february_is_the_28th_in_other_years() {
        let feb29 = Birthday {
            month: 2,
            day: 29,
            year: None,
        };
        // 2026 is not a leap year: the birthday is 28 February, its week 25 Feb – 3 March.
        assert!(in_birthday_week(feb29, 2026, 2, 25));
        assert!(in_birthday_week(feb29, 2026, 3, 3));
        assert!(!in_birthday_week(feb29, 2026, 3, 4));
        assert!(!in_birthday_week(feb29, 2026, 2, 24));
        // 2028 is: 26 Feb – 3 March.
        assert!(in_birthday_week(feb29, 2028, 3, 3));
        assert!(!in_birthday_week(feb29, 2028, 2, 25));
    }

    #[test]
    fn without_a_birthday_a_time_or_a_card_no_doubling() {
        let ctx = Context::new(bill(dec!(42.80), Timestamp::utc(2026, 3, 10, 12, 0)))
            .with_card(Card::builder().build())
            .with_config(CONFIG);
        assert_eq!(BirthdayPoints::accrue(&ctx).unwrap().points, 42);
        let untimed = Order::builder()
            .item(OrderItem::new("11111", "Espresso", 2, dec!(2.50)))
            .total(dec!(9.99))
            .build();
        let ctx = Context::new(untimed)
            .with_card(Card::builder().birthday(3, 10, None).build())
            .with_config(CONFIG);
        assert_eq!(BirthdayPoints::accrue(&ctx).unwrap().points, 9);
        let ctx =
            Context::new(bill(dec!(42.80), Timestamp::utc(2026, 3, 10, 12, 0))).with_config(CONFIG);
        assert_eq!(BirthdayPoints::accrue(&ctx), Ok(Accrual::none()));
    }

    #[test]
    fn an_unknown_time_zone_is_a_config_error() {
        let ctx = Context::new(bill(dec!(1), Timestamp::utc(2026, 3, 10, 12, 0)))
            .with_card(Card::builder().build())
            .with_config(r#"{"timeZone": "Mars/Olympus"}"#);
        let err = BirthdayPoints::accrue(&ctx).unwrap_err();
        assert!(err.contains("Mars/Olympus"), "{err}");
    }
}
