//! Time helpers for rules that depend on when a bill was opened (happy hours, weekdays).
//!
//! Times cross the boundary as Unix epoch milliseconds, UTC ([`Order::created`]). A shop
//! lives at a UTC offset, so local time is always asked for at an offset in minutes (e.g.
//! 60 for CET, 120 for CEST). The offset is the merchant's config: the policy has no time
//! zone database and no clock (the host freezes time at the order's).
//!
//! [`Order::created`]: crate::Order::created

use core::fmt;

use serde::de::{Deserialize, Deserializer, Error as _};

const MS_PER_MINUTE: i64 = 60_000;
const MS_PER_DAY: i64 = 86_400_000;
const MINUTES_PER_DAY: u16 = 24 * 60;

/// An instant: Unix epoch milliseconds, UTC.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(i64);

/// The calendar date and wall-clock time of a [`Timestamp`] at some UTC offset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LocalTime {
    /// The year, e.g. 2025.
    pub year: i32,
    /// 1 (January) to 12.
    pub month: u8,
    /// 1 to 31.
    pub day: u8,
    /// The day of the week.
    pub weekday: Weekday,
    /// The time of day.
    pub time: TimeOfDay,
}

/// A day of the week. In a config it is written in lower case: `"monday"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[allow(missing_docs)] // the names say it
pub enum Weekday {
    Monday,
    Tuesday,
    Wednesday,
    Thursday,
    Friday,
    Saturday,
    Sunday,
}

/// A wall-clock time of day with minute precision, 00:00 to 24:00.
///
/// In a config it is written `"HH:MM"` (e.g. `"15:00"`; `"24:00"` is the end of the day)
/// and deserializes directly: `#[derive(Deserialize)] struct Config { from: TimeOfDay }`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TimeOfDay(u16);

impl Timestamp {
    /// The instant `epoch_ms` milliseconds after 1970-01-01T00:00:00Z.
    pub const fn from_epoch_ms(epoch_ms: i64) -> Timestamp {
        Timestamp(epoch_ms)
    }

    /// Milliseconds since 1970-01-01T00:00:00Z.
    pub const fn epoch_ms(self) -> i64 {
        self.0
    }

    /// The instant of a UTC date and time, e.g. `Timestamp::utc(2025, 10, 21, 10, 30)` for
    /// the seed bill's `created`. Meant for tests: out-of-range fields roll over.
    pub fn utc(year: i32, month: u8, day: u8, hour: u8, minute: u8) -> Timestamp {
        let days = days_from_civil(i64::from(year), i64::from(month), i64::from(day));
        Timestamp(days * MS_PER_DAY + (i64::from(hour) * 60 + i64::from(minute)) * MS_PER_MINUTE)
    }

    /// The date and time at `utc_offset_minutes` (60 for UTC+01:00).
    pub fn local(self, utc_offset_minutes: i32) -> LocalTime {
        let ms = self
            .0
            .saturating_add(i64::from(utc_offset_minutes) * MS_PER_MINUTE);
        let days = ms.div_euclid(MS_PER_DAY);
        // In [0, 1440): the cast cannot truncate.
        let minute = (ms.rem_euclid(MS_PER_DAY) / MS_PER_MINUTE) as u16;
        let (year, month, day) = civil_from_days(days);
        LocalTime {
            year,
            month,
            day,
            weekday: weekday_from_days(days),
            time: TimeOfDay(minute),
        }
    }

    /// The time of day at `utc_offset_minutes`.
    pub fn time_of_day(self, utc_offset_minutes: i32) -> TimeOfDay {
        self.local(utc_offset_minutes).time
    }

    /// Minutes since local midnight at `utc_offset_minutes`, 0 to 1439.
    pub fn minutes_since_midnight(self, utc_offset_minutes: i32) -> u32 {
        self.time_of_day(utc_offset_minutes).minutes()
    }

    /// The day of the week at `utc_offset_minutes`.
    pub fn weekday(self, utc_offset_minutes: i32) -> Weekday {
        self.local(utc_offset_minutes).weekday
    }
}

impl TimeOfDay {
    /// Midnight, 00:00.
    pub const MIDNIGHT: TimeOfDay = TimeOfDay(0);

    /// `hour`:`minute`, or `None` when out of range (24:00 is allowed, as the day's end).
    pub const fn new(hour: u8, minute: u8) -> Option<TimeOfDay> {
        let minutes = hour as u16 * 60 + minute as u16;
        if minute < 60 && minutes <= MINUTES_PER_DAY {
            Some(TimeOfDay(minutes))
        } else {
            None
        }
    }

    /// Parses `"HH:MM"` (one- or two-digit hour, two-digit minute).
    pub fn parse(text: &str) -> Result<TimeOfDay, String> {
        // Byte arithmetic rather than `split_once` + `parse`: no panic paths, less code.
        let number = |digits: &[u8]| {
            digits.iter().try_fold(0u8, |n, &d| {
                d.is_ascii_digit()
                    .then(|| n.wrapping_mul(10).wrapping_add(d - b'0'))
            })
        };
        let parsed = match text.as_bytes() {
            [h @ .., b':', m1, m2] if (1..=2).contains(&h.len()) => number(h)
                .zip(number(&[*m1, *m2]))
                .and_then(|(h, m)| TimeOfDay::new(h, m)),
            _ => None,
        };
        parsed.ok_or_else(|| format!("time of day \"{text}\" is not HH:MM between 00:00 and 24:00"))
    }

    /// Minutes since midnight, 0 to 1440.
    pub const fn minutes(self) -> u32 {
        self.0 as u32
    }

    /// Whether this time is in the window from `from` (included) to `to` (excluded). A
    /// window whose end is before its start runs past midnight (22:00–02:00); equal ends
    /// make an empty window.
    pub fn is_within(self, from: TimeOfDay, to: TimeOfDay) -> bool {
        if from <= to {
            from <= self && self < to
        } else {
            self >= from || self < to
        }
    }
}

impl fmt::Display for TimeOfDay {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:02}:{:02}", self.0 / 60, self.0 % 60)
    }
}

impl Weekday {
    const NAMES: [&'static str; 7] = [
        "monday",
        "tuesday",
        "wednesday",
        "thursday",
        "friday",
        "saturday",
        "sunday",
    ];
    const ALL: [Weekday; 7] = [
        Weekday::Monday,
        Weekday::Tuesday,
        Weekday::Wednesday,
        Weekday::Thursday,
        Weekday::Friday,
        Weekday::Saturday,
        Weekday::Sunday,
    ];
}

impl fmt::Display for Weekday {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(Weekday::NAMES[*self as usize])
    }
}

// By hand rather than derived: a unit enum derived through serde's enum machinery costs
// about 2 kB of a policy module; a string match costs a few hundred bytes.
impl<'de> Deserialize<'de> for Weekday {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Weekday, D::Error> {
        let name = <&str>::deserialize(deserializer)?;
        let index = Weekday::NAMES.iter().position(|n| *n == name);
        index
            .map(|i| Weekday::ALL[i])
            .ok_or_else(|| D::Error::unknown_variant(name, &Weekday::NAMES))
    }
}

impl<'de> Deserialize<'de> for TimeOfDay {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<TimeOfDay, D::Error> {
        let text = <&str>::deserialize(deserializer)?;
        TimeOfDay::parse(text).map_err(D::Error::custom)
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The proleptic Gregorian date of a day count since 1970-01-01.
fn civil_from_days(days: i64) -> (i32, u8, u8) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    // In [1, 31] and [1, 12]: the casts cannot truncate.
    let day = (doy - (153 * mp + 2) / 5 + 1) as u8;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u8;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (
        year.clamp(i64::from(i32::MIN), i64::from(i32::MAX)) as i32,
        month,
        day,
    )
}

fn weekday_from_days(days: i64) -> Weekday {
    // 1970-01-01 was a Thursday.
    match (days + 3).rem_euclid(7) {
        0 => Weekday::Monday,
        1 => Weekday::Tuesday,
        2 => Weekday::Wednesday,
        3 => Weekday::Thursday,
        4 => Weekday::Friday,
        5 => Weekday::Saturday,
        _ => Weekday::Sunday,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seed_bill_created_is_a_tuesday_morning() {
        // "2025-10-21T10:30:00.000Z"
        let t = Timestamp::from_epoch_ms(1_761_042_600_000);
        assert_eq!(t, Timestamp::utc(2025, 10, 21, 10, 30));
        let local = t.local(60);
        assert_eq!((local.year, local.month, local.day), (2025, 10, 21));
        assert_eq!(local.weekday, Weekday::Tuesday);
        assert_eq!(local.time.to_string(), "11:30");
        assert_eq!(t.minutes_since_midnight(0), 630);
    }

    #[test]
    fn offsets_cross_midnight_and_dates_before_1970() {
        let t = Timestamp::utc(2024, 3, 1, 0, 30);
        let local = t.local(-60);
        assert_eq!((local.year, local.month, local.day), (2024, 2, 29));
        assert_eq!(
            local.time,
            TimeOfDay::new(23, 30).unwrap_or(TimeOfDay::MIDNIGHT)
        );
        assert_eq!(Timestamp::utc(1969, 12, 31, 23, 59).epoch_ms(), -60_000);
        assert_eq!(
            Timestamp::utc(1969, 12, 31, 0, 0).weekday(0),
            Weekday::Wednesday
        );
    }

    #[test]
    fn time_of_day_parses_and_rejects() {
        assert_eq!(TimeOfDay::parse("15:00").map(TimeOfDay::minutes), Ok(900));
        assert_eq!(TimeOfDay::parse("7:05").map(TimeOfDay::minutes), Ok(425));
        assert_eq!(TimeOfDay::parse("24:00").map(TimeOfDay::minutes), Ok(1440));
        for bad in ["24:01", "15", "15:0", "15:60", "-1:00", "ab:cd", ""] {
            assert!(TimeOfDay::parse(bad).is_err(), "{bad} should be rejected");
        }
    }

    #[test]
    fn windows_include_the_start_exclude_the_end_and_wrap() {
        let at = |s| TimeOfDay::parse(s).unwrap_or(TimeOfDay::MIDNIGHT);
        assert!(at("15:00").is_within(at("15:00"), at("17:00")));
        assert!(!at("17:00").is_within(at("15:00"), at("17:00")));
        assert!(at("23:00").is_within(at("22:00"), at("02:00")));
        assert!(at("01:59").is_within(at("22:00"), at("02:00")));
        assert!(!at("12:00").is_within(at("22:00"), at("02:00")));
        assert!(!at("12:00").is_within(at("12:00"), at("12:00")));
    }
}
