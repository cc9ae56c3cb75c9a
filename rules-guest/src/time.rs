//! Time helpers for rules that depend on when a bill was opened (happy hours, weekdays).
//!
//! Times cross the boundary as Unix epoch milliseconds, UTC ([`Order::created`]). A shop
//! lives in a time zone: name it in the config (`"timeZone": "Europe/Bratislava"`, read
//! into a [`TimeZone`]) and ask for the local time there with [`Timestamp::in_zone`],
//! daylight saving included:
//!
//! ```
//! use rabat_rules::prelude::*;
//!
//! let zone = TimeZone::named("Europe/Bratislava")?;
//! // 14:30 UTC is 16:30 in July (CEST, UTC+2) and 15:30 in January (CET, UTC+1).
//! assert_eq!(Timestamp::utc(2026, 7, 15, 14, 30).in_zone(zone).time.to_string(), "16:30");
//! assert_eq!(Timestamp::utc(2026, 1, 15, 14, 30).in_zone(zone).time.to_string(), "15:30");
//! # Ok::<(), String>(())
//! ```
//!
//! The IANA rules are compiled in (every zone name of tzdata [`TZDATA_VERSION`], links
//! such as `Europe/Bratislava` included): for each zone, the rule its TZif file gives for
//! today and every future year (`CET-1CEST,M3.5.0,M10.5.0/3`: CET, CEST from the last
//! Sunday of March 02:00 to the last Sunday of October 03:00). A bill is judged by the
//! rule in force now, also for dates before a zone last changed its rules. The four zones
//! whose clock follows Ramadan (`Africa/Casablanca`, `Africa/El_Aaiun`, `Asia/Gaza`,
//! `Asia/Hebron`) have no such rule and are refused by name. The table costs a module
//! that uses it about 9 kB; one that does not pays nothing. A fixed offset works too:
//! [`Timestamp::local`] (minutes east of UTC).
//!
//! The policy has no clock: the host freezes time at the order's.
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
    /// The UTC offset this local time is at, in minutes east (120 for CEST).
    pub utc_offset_minutes: i32,
}

/// A time zone: an IANA name (`"Europe/Bratislava"`) and its UTC offset rule, daylight
/// saving included.
///
/// In a config it is written as its name and deserializes directly:
/// `#[derive(Deserialize)] struct Config { time_zone: TimeZone }`; an unknown name is a
/// config error that names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeZone {
    /// `"Europe"`, or empty for a name without one (`"UTC"`).
    region: &'static str,
    /// `"Bratislava"`.
    city: &'static str,
    rule: &'static Rule,
}

/// The tzdata release whose rules are compiled in (e.g. `"2025b"`).
pub const TZDATA_VERSION: &str = tzdata::VERSION;

#[path = "tzdata.rs"]
mod tzdata;

/// A zone's rule, as the POSIX TZ string at the end of its TZif file says it: a standard
/// offset, and optionally a daylight-saving offset with the local times it starts and
/// ends each year. Offsets in minutes east of UTC.
#[derive(Debug, PartialEq, Eq)]
struct Rule {
    std: i16,
    dst: i16,
    /// When daylight saving starts (local standard time); `date` 0 for a fixed offset.
    start: Change,
    /// When it ends (local daylight-saving time).
    end: Change,
}

/// `Mm.w.d/time`: the `week`-th (5 = last) `weekday` (0 = Sunday) of `month`, at
/// `minute` after that day's midnight (may be negative or past 24:00).
/// Packed in four bytes (the table is in every module that looks up a zone): month,
/// week and weekday in `date` as `0xMMWD`.
#[derive(Debug, PartialEq, Eq)]
struct Change {
    date: u16,
    minute: i16,
}

impl Change {
    const fn new(month: u8, week: u8, weekday: u8, minute: i16) -> Change {
        Change {
            date: (month as u16) << 8 | (week as u16 & 0xf) << 4 | (weekday as u16 & 0xf),
            minute,
        }
    }

    /// The instant (epoch ms) of this change in `year`, its time read at `offset` minutes.
    fn at(&self, year: i64, offset: i16) -> i64 {
        let month = i64::from(self.date >> 8);
        let (week, weekday) = (i64::from(self.date >> 4 & 0xf), i64::from(self.date & 0xf));
        let first = days_from_civil(year, month, 1);
        // Month 13 is January of the next year in the algorithm's March-based years.
        let next = days_from_civil(year, month + 1, 1);
        // 1970-01-01 was a Thursday (4, counting from Sunday as 0).
        let first_weekday = (first + 4).rem_euclid(7);
        let mut day = first + (weekday - first_weekday).rem_euclid(7) + (week - 1) * 7;
        while day >= next {
            day -= 7;
        }
        day.saturating_mul(MS_PER_DAY)
            .saturating_add((i64::from(self.minute) - i64::from(offset)) * MS_PER_MINUTE)
    }
}

impl Rule {
    const fn fixed(offset: i16) -> Rule {
        Rule {
            std: offset,
            dst: offset,
            start: Change::new(0, 0, 0, 0),
            end: Change::new(0, 0, 0, 0),
        }
    }

    const fn dst(std: i16, dst: i16, start: Change, end: Change) -> Rule {
        Rule {
            std,
            dst,
            start,
            end,
        }
    }

    /// The offset in minutes east of UTC at `epoch_ms`.
    fn offset_at(&self, epoch_ms: i64) -> i16 {
        if self.start.date == 0 {
            return self.std;
        }
        let std_ms = epoch_ms.saturating_add(i64::from(self.std) * MS_PER_MINUTE);
        let year = i64::from(civil_from_days(std_ms.div_euclid(MS_PER_DAY)).0);
        let start = self.start.at(year, self.std);
        let end = self.end.at(year, self.dst);
        let in_dst = if start <= end {
            start <= epoch_ms && epoch_ms < end
        } else {
            // The southern hemisphere: daylight saving runs over New Year.
            !(end <= epoch_ms && epoch_ms < start)
        };
        if in_dst { self.dst } else { self.std }
    }
}

const UTC_RULE: Rule = Rule::fixed(0);

impl TimeZone {
    /// Coordinated Universal Time.
    pub const UTC: TimeZone = TimeZone {
        region: "",
        city: "UTC",
        rule: &UTC_RULE,
    };

    /// The zone of an IANA name, e.g. `"Europe/Bratislava"` (case-sensitive, as IANA
    /// writes it). The error names the zone and says why it was refused.
    pub fn named(name: &str) -> Result<TimeZone, String> {
        let found = find_zone(name.as_bytes());
        let why = match found {
            Some((region, city, index)) => match tzdata::RULES.get(usize::from(index)) {
                Some(rule) => return Ok(TimeZone { region, city, rule }),
                None => "is not supported (its clock follows no yearly rule)",
            },
            None => "is unknown: use an IANA name such as \"Europe/Bratislava\"",
        };
        Err(format!(
            "time zone \"{name}\" {why} (tzdata {TZDATA_VERSION})"
        ))
    }

    /// The zone's IANA name, e.g. `"Europe/Bratislava"`.
    pub fn name(self) -> String {
        format!("{self}")
    }

    /// The UTC offset at `at`, in minutes east (60 for CET, 120 for CEST).
    pub fn utc_offset_minutes(self, at: Timestamp) -> i32 {
        i32::from(self.rule.offset_at(at.0))
    }
}

impl fmt::Display for TimeZone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.region.is_empty() {
            f.write_str(self.region)?;
            f.write_str("/")?;
        }
        f.write_str(self.city)
    }
}

impl<'de> Deserialize<'de> for TimeZone {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<TimeZone, D::Error> {
        let name = <&str>::deserialize(deserializer)?;
        TimeZone::named(name).map_err(D::Error::custom)
    }
}

/// A zone found in the table: region, city, rule index (or [`tzdata::UNSUPPORTED`]).
type Entry = (&'static str, &'static str, u8);

/// The table's entries in order.
#[cfg(test)]
fn zone_entries() -> impl Iterator<Item = Entry> {
    tzdata::NAMES
        .split_inclusive(|b| *b >= 0x80)
        .filter_map(|e| {
            let (&tag, name) = e.split_last()?;
            let (region, city) = match name.split_first() {
                Some((&code, city)) if code < 0x20 => {
                    (*tzdata::REGIONS.get(usize::from(code) - 1)?, city)
                }
                _ => ("", name),
            };
            Some((region, core::str::from_utf8(city).ok()?, tag - 0x80))
        })
}

/// Binary search of the sorted, variable-length entries of [`tzdata::NAMES`] (each ends
/// with its tag byte, >= 0x80): no index needed beside the names. The name is looked up
/// as stored, its region turned into the region's byte.
fn find_zone(name: &[u8]) -> Option<Entry> {
    let (region, code, city) = match name.iter().rposition(|b| *b == b'/') {
        Some(slash) => {
            let region = name.get(..slash)?;
            let index = tzdata::REGIONS
                .iter()
                .position(|r| r.as_bytes() == region)?;
            let code = u8::try_from(index + 1).ok();
            (*tzdata::REGIONS.get(index)?, code, name.get(slash + 1..)?)
        }
        None => ("", None, name),
    };
    // The stored form of `name`: [code] city (no name is near 64 bytes long).
    let mut buffer = [0u8; 64];
    let mut len = 0;
    if let Some(code) = code {
        buffer[0] = code;
        len = 1;
    }
    buffer.get_mut(len..len + city.len())?.copy_from_slice(city);
    let key = buffer.get(..len + city.len())?;
    let names = tzdata::NAMES;
    let is_tag = |b: &u8| *b >= 0x80;
    let (mut lo, mut hi) = (0, names.len());
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        // The entry around `mid`: back to the end of the previous one, on to its tag.
        let start = names
            .get(lo..mid)?
            .iter()
            .rposition(is_tag)
            .map_or(lo, |p| lo + p + 1);
        let end = start + names.get(start..hi)?.iter().position(is_tag)?;
        let stored = names.get(start..end)?;
        match stored.cmp(key) {
            core::cmp::Ordering::Equal => {
                let city = core::str::from_utf8(stored.get(len..)?).ok()?;
                return Some((region, city, names.get(end)?.checked_sub(0x80)?));
            }
            core::cmp::Ordering::Less => lo = end + 1,
            core::cmp::Ordering::Greater => hi = start,
        }
    }
    None
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

    /// The date and time in `zone`, daylight saving included.
    pub fn in_zone(self, zone: TimeZone) -> LocalTime {
        self.local(zone.utc_offset_minutes(self))
    }

    /// The date and time at a fixed `utc_offset_minutes` (60 for UTC+01:00); for a shop's
    /// local time, prefer [`Timestamp::in_zone`], which knows daylight saving.
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
            utc_offset_minutes,
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

    fn zone(name: &str) -> TimeZone {
        TimeZone::named(name).unwrap_or_else(|e| panic!("{e}"))
    }

    /// The offset at a UTC instant given to the second.
    fn offset(zone: TimeZone, (y, mo, d, h, mi): (i32, u8, u8, u8, u8), second: i64) -> i32 {
        let t = Timestamp::utc(y, mo, d, h, mi).epoch_ms() + second * 1000;
        zone.utc_offset_minutes(Timestamp::from_epoch_ms(t))
    }

    #[test]
    fn bratislava_switches_on_the_last_sundays_of_march_and_october() {
        let z = zone("Europe/Bratislava");
        assert_eq!(z.name(), "Europe/Bratislava");
        // 2026: CEST from Sunday 29 March 02:00 CET (01:00 UTC) ...
        assert_eq!(offset(z, (2026, 3, 29, 0, 59), 59), 60);
        assert_eq!(offset(z, (2026, 3, 29, 1, 0), 0), 120);
        // ... to Sunday 25 October 03:00 CEST (01:00 UTC).
        assert_eq!(offset(z, (2026, 10, 25, 0, 59), 59), 120);
        assert_eq!(offset(z, (2026, 10, 25, 1, 0), 0), 60);
        // 2025: 30 March and 26 October.
        assert_eq!(offset(z, (2025, 3, 30, 0, 59), 0), 60);
        assert_eq!(offset(z, (2025, 3, 30, 1, 0), 0), 120);
        assert_eq!(offset(z, (2025, 10, 26, 0, 59), 0), 120);
        assert_eq!(offset(z, (2025, 10, 26, 1, 0), 0), 60);
        // Local time: the wall clock jumps from 01:59 to 03:00 and back from 02:59 to 02:00.
        let at = |h, m| Timestamp::utc(2026, 3, 29, h, m).in_zone(z);
        assert_eq!(at(0, 59).time.to_string(), "01:59");
        assert_eq!(at(1, 0).time.to_string(), "03:00");
        assert_eq!(at(1, 0).utc_offset_minutes, 120);
        let summer = Timestamp::utc(2026, 7, 15, 14, 30).in_zone(z);
        assert_eq!((summer.month, summer.day), (7, 15));
        assert_eq!(summer.time.to_string(), "16:30");
        assert_eq!(summer.weekday, Weekday::Wednesday);
        let winter = Timestamp::utc(2026, 1, 15, 23, 30).in_zone(z);
        assert_eq!(
            (winter.month, winter.day, winter.weekday),
            (1, 16, Weekday::Friday)
        );
        assert_eq!(winter.time.to_string(), "00:30");
    }

    #[test]
    fn the_southern_hemisphere_has_summer_time_over_new_year() {
        let sydney = zone("Australia/Sydney");
        // AEDT (UTC+11) until Sunday 5 April 2026 03:00 local (16:00 UTC on the 4th) ...
        assert_eq!(offset(sydney, (2026, 1, 1, 0, 0), 0), 660);
        assert_eq!(offset(sydney, (2026, 4, 4, 15, 59), 59), 660);
        assert_eq!(offset(sydney, (2026, 4, 4, 16, 0), 0), 600);
        // ... and again from Sunday 4 October 02:00 local (16:00 UTC on the 3rd).
        assert_eq!(offset(sydney, (2026, 10, 3, 15, 59), 59), 600);
        assert_eq!(offset(sydney, (2026, 10, 3, 16, 0), 0), 660);
        assert_eq!(offset(sydney, (2026, 12, 31, 23, 0), 0), 660);
        // New Year's Eve 23:30 in Sydney is 12:30 UTC.
        let eve = Timestamp::utc(2026, 12, 31, 12, 30).in_zone(sydney);
        assert_eq!((eve.year, eve.month, eve.day), (2026, 12, 31));
        assert_eq!(eve.time.to_string(), "23:30");
        // Santiago: UTC-3 in (southern) summer, UTC-4 in winter.
        let santiago = zone("America/Santiago");
        assert_eq!(offset(santiago, (2026, 1, 15, 12, 0), 0), -180);
        assert_eq!(offset(santiago, (2026, 7, 15, 12, 0), 0), -240);
    }

    #[test]
    fn zones_without_daylight_saving_keep_one_offset() {
        for (name, minutes) in [("Asia/Tokyo", 540), ("Asia/Kolkata", 330), ("UTC", 0)] {
            let z = zone(name);
            for month in 1..=12 {
                assert_eq!(offset(z, (2026, month, 15, 12, 0), 0), minutes, "{name}");
            }
        }
        assert_eq!(
            TimeZone::UTC.utc_offset_minutes(Timestamp::from_epoch_ms(0)),
            0
        );
        // Dublin's rule has "negative" daylight saving (IST in summer is its standard).
        let dublin = zone("Europe/Dublin");
        assert_eq!(offset(dublin, (2026, 7, 1, 12, 0), 0), 60);
        assert_eq!(offset(dublin, (2026, 1, 1, 12, 0), 0), 0);
    }

    #[test]
    fn unknown_and_unsupported_zones_are_refused_by_name() {
        let err = TimeZone::named("Europe/Bratslava").unwrap_err();
        assert!(
            err.starts_with("time zone \"Europe/Bratslava\" is unknown"),
            "{err}"
        );
        assert!(TimeZone::named("").is_err());
        assert!(TimeZone::named("Europe/").is_err());
        assert!(TimeZone::named("Europe/Bratislava/x").is_err());
        let err = TimeZone::named("Africa/Casablanca").unwrap_err();
        assert!(
            err.starts_with("time zone \"Africa/Casablanca\" is not supported"),
            "{err}"
        );
        assert!(TimeZone::named("europe/bratislava").is_err());
        // In a config.
        let err = crate::json::from_str::<TimeZone>("\"Mars/Olympus\"").unwrap_err();
        assert!(err.to_string().contains("Mars/Olympus"), "{err}");
        assert_eq!(
            crate::json::from_str::<TimeZone>("\"Asia/Tokyo\"").map(TimeZone::name),
            Ok("Asia/Tokyo".to_owned())
        );
    }

    #[test]
    fn every_name_in_the_table_is_found_and_extremes_do_not_panic() {
        let mut count = 0;
        for (region, city, index) in zone_entries() {
            let name = TimeZone {
                region,
                city,
                rule: &UTC_RULE,
            }
            .name();
            assert_eq!(
                find_zone(name.as_bytes()),
                Some((region, city, index)),
                "{name}"
            );
            count += 1;
        }
        assert!(count > 590, "{count}");
        let z = zone("Europe/Bratislava");
        for t in [i64::MIN, i64::MIN / 2, -1, 0, i64::MAX / 2, i64::MAX] {
            let _ = Timestamp::from_epoch_ms(t).in_zone(z);
        }
    }

    /// Every supported zone agrees with the system's tzdata on 2026: its offset on New
    /// Year and each change to the second (`tz/check-2026.txt`, written by
    /// `tz/generate.py` from Python's zoneinfo, not from the rules the SDK evaluates).
    #[test]
    fn every_zone_agrees_with_tzdata_on_2026() {
        let text = include_str!("../tz/check-2026.txt");
        let mut zones = 0;
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            let mut words = line.split(' ');
            let name = words.next().unwrap_or_default();
            let z = zone(name);
            let numbers: Vec<i64> = words.map(|w| w.parse().unwrap_or(i64::MIN)).collect();
            let new_year = Timestamp::utc(2026, 1, 1, 0, 0);
            assert_eq!(
                i64::from(z.utc_offset_minutes(new_year)),
                numbers[0],
                "{name}"
            );
            for change in numbers[1..].chunks(2) {
                let (at, minutes) = (change[0] * 1000, change[1]);
                let before = z.utc_offset_minutes(Timestamp::from_epoch_ms(at - 1000));
                let after = z.utc_offset_minutes(Timestamp::from_epoch_ms(at));
                assert_eq!(i64::from(after), minutes, "{name} at {at}");
                assert_ne!(before, after, "{name} at {at}");
            }
            zones += 1;
        }
        assert_eq!(
            zones,
            zone_entries()
                .filter(|(_, _, i)| *i != tzdata::UNSUPPORTED)
                .count()
        );
    }
}
