//! Points over time: when a lot of earned points expires and when it vests.
//!
//! Every earning is a **lot** with its own expiry and vesting date, fixed when it is earned
//! from the merchant's [`PointsRules`] at that moment. Pending points (not yet vested) are
//! on the card but cannot be spent; spending, negative adjustments and expiry consume lots
//! (the store does that, oldest spendable first). Dates are computed in the merchant's time
//! zone (UTC unless it names one), with jiff's calendar arithmetic: "12 months after 31
//! January" is 31 January of the next year, "1 month after 31 January" is the last day of
//! February.

use serde::{Deserialize, Serialize};

use crate::budget::time_zone;

/// The longest expiry in days, months, or months to the end of a month: ten years.
pub const MAX_EXPIRY_DAYS: u32 = 3_650;
pub const MAX_EXPIRY_MONTHS: u32 = 120;
/// The longest vesting (a returns window): a year.
pub const MAX_VESTING_DAYS: u32 = 365;

/// When a lot expires, counted from when it was earned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub enum Expiry {
    /// Points never expire (the default).
    #[default]
    Never,
    /// N days after earning, to the millisecond.
    Days(u32),
    /// N calendar months after earning, at the same local time (clamped to the month's
    /// last day).
    Months(u32),
    /// At the end (local midnight after the last day) of the Nth month after the one the
    /// points were earned in: `{"endOfMonth": 0}` is the end of the month of earning.
    EndOfMonth(u32),
}

/// A merchant's rules for points over time.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PointsRules {
    #[serde(default)]
    pub expiry: Expiry,
    /// Days an earned lot stays pending (a returns window) before it can be spent; 0: at
    /// once.
    #[serde(default)]
    pub vesting_days: u32,
    /// The IANA time zone months and month ends are counted in; UTC when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_zone: Option<String>,
}

/// A card's next expiry: when (epoch ms) and how many of its points expire then.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NextExpiry {
    pub at: i64,
    pub points: i64,
}

const DAY_MS: i64 = 86_400_000;

impl PointsRules {
    /// Every problem with the rules, as (field, what is wrong).
    pub fn problems(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        match self.expiry {
            Expiry::Never => {}
            Expiry::Days(n) if n == 0 || n > MAX_EXPIRY_DAYS => out.push((
                "expiry.days".to_owned(),
                format!("must be 1 to {MAX_EXPIRY_DAYS}, not {n}"),
            )),
            Expiry::Months(n) if n == 0 || n > MAX_EXPIRY_MONTHS => out.push((
                "expiry.months".to_owned(),
                format!("must be 1 to {MAX_EXPIRY_MONTHS}, not {n}"),
            )),
            Expiry::EndOfMonth(n) if n > MAX_EXPIRY_MONTHS => out.push((
                "expiry.endOfMonth".to_owned(),
                format!("must be 0 to {MAX_EXPIRY_MONTHS}, not {n}"),
            )),
            _ => {}
        }
        if self.vesting_days > MAX_VESTING_DAYS {
            out.push((
                "vestingDays".to_owned(),
                format!("must be 0 to {MAX_VESTING_DAYS}, not {}", self.vesting_days),
            ));
        }
        if let Some(zone) = &self.time_zone
            && let Err(problem) = time_zone(zone)
        {
            out.push(("timeZone".to_owned(), problem));
        }
        out
    }

    fn zone(&self) -> jiff::tz::TimeZone {
        self.time_zone
            .as_deref()
            .and_then(|name| time_zone(name).ok())
            .unwrap_or(jiff::tz::TimeZone::UTC)
    }

    /// When a lot earned at `earned_at` (epoch ms) expires, epoch ms; `None`: never.
    pub fn expires_at(&self, earned_at: i64) -> Option<i64> {
        match self.expiry {
            Expiry::Never => None,
            Expiry::Days(n) => Some(earned_at.saturating_add(i64::from(n) * DAY_MS)),
            Expiry::Months(n) => {
                let zoned = jiff::Timestamp::from_millisecond(earned_at)
                    .ok()?
                    .to_zoned(self.zone());
                let later = zoned.checked_add(jiff::Span::new().months(n)).ok()?;
                Some(later.timestamp().as_millisecond())
            }
            Expiry::EndOfMonth(n) => {
                let zoned = jiff::Timestamp::from_millisecond(earned_at)
                    .ok()?
                    .to_zoned(self.zone());
                let first = zoned.date().first_of_month();
                let next = first
                    .checked_add(jiff::Span::new().months(i64::from(n) + 1))
                    .ok()?;
                let end = next.to_zoned(self.zone()).ok()?.start_of_day().ok()?;
                Some(end.timestamp().as_millisecond())
            }
        }
    }

    /// When a lot earned at `earned_at` can be spent, epoch ms.
    pub fn vests_at(&self, earned_at: i64) -> i64 {
        earned_at.saturating_add(i64::from(self.vesting_days) * DAY_MS)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(text: &str) -> i64 {
        text.parse::<jiff::Timestamp>()
            .map(|t| t.as_millisecond())
            .unwrap_or(0)
    }

    fn rules(expiry: Expiry, zone: Option<&str>) -> PointsRules {
        PointsRules {
            expiry,
            vesting_days: 14,
            time_zone: zone.map(str::to_owned),
        }
    }

    #[test]
    fn expiry_dates() {
        let earned = ms("2026-01-31T10:00:00Z");
        assert_eq!(rules(Expiry::Never, None).expires_at(earned), None);
        assert_eq!(
            rules(Expiry::Days(30), None).expires_at(earned),
            Some(ms("2026-03-02T10:00:00Z"))
        );
        assert_eq!(
            rules(Expiry::Months(1), None).expires_at(earned),
            Some(ms("2026-02-28T10:00:00Z"))
        );
        assert_eq!(
            rules(Expiry::Months(12), None).expires_at(earned),
            Some(ms("2027-01-31T10:00:00Z"))
        );
        assert_eq!(
            rules(Expiry::EndOfMonth(0), None).expires_at(earned),
            Some(ms("2026-02-01T00:00:00Z"))
        );
        assert_eq!(
            rules(Expiry::EndOfMonth(12), None).expires_at(earned),
            Some(ms("2027-02-01T00:00:00Z"))
        );
        // Local midnight in the shop's zone (CET in winter).
        assert_eq!(
            rules(Expiry::EndOfMonth(0), Some("Europe/Bratislava")).expires_at(earned),
            Some(ms("2026-01-31T23:00:00Z"))
        );
        assert_eq!(
            rules(Expiry::Never, None).vests_at(earned),
            ms("2026-02-14T10:00:00Z")
        );
    }

    #[test]
    fn rules_read_and_name_their_problems() {
        let read: PointsRules = serde_json::from_str(
            r#"{"expiry": {"months": 12}, "vestingDays": 14, "timeZone": "Europe/Bratislava"}"#,
        )
        .unwrap_or_default();
        assert_eq!(read.expiry, Expiry::Months(12));
        let never: PointsRules = serde_json::from_str(r#"{"expiry": "never"}"#).unwrap_or_default();
        assert_eq!(never, PointsRules::default());
        let bad = PointsRules {
            expiry: Expiry::Days(0),
            vesting_days: 400,
            time_zone: Some("Mars/Olympus".into()),
        };
        let fields: Vec<String> = bad.problems().into_iter().map(|(f, _)| f).collect();
        assert_eq!(fields, ["expiry.days", "vestingDays", "timeZone"]);
    }
}
