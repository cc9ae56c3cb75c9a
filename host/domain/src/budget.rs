//! Campaign budgets and limits, the host's half (issue 17): what a campaign may give away
//! per period — a total discount amount and/or a number of redemptions — and how often per
//! card and per branch; the periods (day, week, month, lifetime) in the shop's time zone;
//! and the exact cut of a campaign's lines to what is left of an amount budget.
//!
//! The limits are checked and reserved by the store under a lock at endpoint 1 and used
//! exactly once at endpoint 2 (`rabat_store::reservations`); this module is pure.
//!
//! Amounts are kept by the store as whole **units** of 1/10 000 of the currency
//! ([`AMOUNT_SCALE`]), so sums in SQL stay exact integers: every currency's minor unit (at
//! most three places) is a whole number of units, and a budget amount may have at most four
//! places.

use std::fmt;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::money::{DiscountLine, DiscountResponse};

/// The decimal places of a stored unit: amounts are kept as integers of 1/10 000.
pub const AMOUNT_SCALE: u32 = 4;

/// Budget amounts are less than this (in the currency).
pub const MAX_LIMIT_AMOUNT: i64 = 1_000_000_000_000;
/// The largest redemption count a limit may name.
pub const MAX_LIMIT_REDEMPTIONS: u64 = 1_000_000_000;

/// A period a budget or a limit counts over, in the shop's time zone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub enum Period {
    /// From local midnight to the next.
    Day,
    /// From Monday 00:00 local time.
    Week,
    /// From the first of the month, 00:00 local time.
    Month,
    /// Ever.
    Lifetime,
}

impl Period {
    pub fn as_str(self) -> &'static str {
        match self {
            Period::Day => "day",
            Period::Week => "week",
            Period::Month => "month",
            Period::Lifetime => "lifetime",
        }
    }
}

/// A campaign's budget: what it may give away per period across all cards.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Budget {
    /// The most discount money per period, in the merchant's currency: a decimal string
    /// (`"500.00"`, at most 4 places, more than 0, less than 10^12), exact in every client.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "amount_text")]
    #[schema(value_type = Option<String>, example = "500.00")]
    pub amount: Option<Decimal>,
    /// The most redemptions (completed bills that took the campaign's discount) per period.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "whole::optional"
    )]
    pub redemptions: Option<u64>,
    pub period: Period,
}

/// A budget amount as text: digits, no sign, no leading zero (but `0.5`), and at most
/// [`AMOUNT_SCALE`] places after the point; more than 0 and less than 10^12.
mod amount_text {
    use std::str::FromStr;

    use rust_decimal::Decimal;
    use serde::{Deserialize, Deserializer, Serializer, de::Error};

    pub fn serialize<S: Serializer>(amount: &Option<Decimal>, s: S) -> Result<S::Ok, S::Error> {
        match amount {
            Some(amount) => s.serialize_str(&amount.to_string()),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Decimal>, D::Error> {
        let Some(text) = Option::<String>::deserialize(d)? else {
            return Ok(None);
        };
        parse(&text).map(Some).map_err(D::Error::custom)
    }

    pub(super) fn parse(text: &str) -> Result<Decimal, String> {
        let wrong = || {
            format!(
                "amount must be a decimal string such as \"500.00\" (more than 0, less than 10^12, at most {} places), not \"{}\"",
                super::AMOUNT_SCALE,
                text.chars().take(40).collect::<String>()
            )
        };
        let (whole, fraction) = match text.split_once('.') {
            Some((whole, fraction)) => (whole, Some(fraction)),
            None => (text, None),
        };
        let digits = |part: &str| !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit());
        let whole_ok =
            digits(whole) && whole.len() <= 12 && (whole == "0" || !whole.starts_with('0'));
        let fraction_ok =
            fraction.is_none_or(|f| digits(f) && f.len() <= super::AMOUNT_SCALE as usize);
        if !whole_ok || !fraction_ok {
            return Err(wrong());
        }
        match Decimal::from_str(text) {
            Ok(amount) if amount > Decimal::ZERO => Ok(amount),
            _ => Err(wrong()),
        }
    }
}

/// A count as JSON writes it: a whole number, also in a float's form (`3.0`), as JSON
/// Schema's `integer` allows.
mod whole {
    use std::str::FromStr;

    use rust_decimal::Decimal;
    use serde::{Deserialize, Deserializer, de::Error};

    fn parse<E: Error>(number: &serde_json::Number) -> Result<u64, E> {
        if let Some(n) = number.as_u64() {
            return Ok(n);
        }
        Decimal::from_str(&number.to_string())
            .ok()
            .filter(|d| d.fract().is_zero())
            .and_then(|d| u64::try_from(d).ok())
            .ok_or_else(|| E::custom(format!("must be a whole number from 1, not {number}")))
    }

    pub fn one<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
        parse(&serde_json::Number::deserialize(d)?)
    }

    pub fn optional<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
        match Option::<serde_json::Number>::deserialize(d)? {
            Some(number) => parse(&number).map(Some),
            None => Ok(None),
        }
    }
}

/// The JSON Schema pattern of a budget amount (`amount_text`'s grammar, zero excluded).
pub const AMOUNT_PATTERN: &str = r"^([1-9][0-9]{0,11}(\.[0-9]{1,4})?|0\.([1-9][0-9]{0,3}|0[1-9][0-9]{0,2}|00[1-9][0-9]?|000[1-9]))$";

/// Every time zone name a limit may name, sorted (the bundled IANA database).
pub fn time_zone_names() -> Vec<String> {
    let mut names: Vec<String> = jiff::tz::db()
        .available()
        .map(|name| name.to_string())
        .collect();
    names.sort();
    names.dedup();
    names
}

/// A limit on redemptions per card or per branch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CountLimit {
    /// The most redemptions per period.
    #[serde(deserialize_with = "whole::one")]
    pub redemptions: u64,
    pub period: Period,
}

/// A campaign's budget and limits (all optional; none: the campaign is unlimited).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Limits {
    /// The shop's time zone (IANA name, e.g. `Europe/Bratislava`) the periods follow;
    /// `UTC` when not given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_zone: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub budget: Option<Budget>,
    /// Redemptions per card.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub per_card: Option<CountLimit>,
    /// Redemptions per branch (`branchId`; a bill without one counts under the empty id).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub per_branch: Option<CountLimit>,
}

/// What a limit is counted per.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub enum Scope {
    /// The campaign's budget, across all cards.
    Budget,
    /// One card.
    Card,
    /// One branch.
    Branch,
}

impl Scope {
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Budget => "budget",
            Scope::Card => "card",
            Scope::Branch => "branch",
        }
    }

    pub fn parse(text: &str) -> Option<Scope> {
        match text {
            "budget" => Some(Scope::Budget),
            "card" => Some(Scope::Card),
            "branch" => Some(Scope::Branch),
            _ => None,
        }
    }
}

/// One counter a limit is kept in: a campaign's budget, or its use by one card or branch,
/// in one period.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PoolKey {
    pub campaign_id: i64,
    pub scope: Scope,
    /// `""` for the budget, else the card's or the branch's id.
    pub key: String,
    /// When the period began (epoch ms; 0 for lifetime).
    pub period_start: i64,
}

/// A pool with its limits, in units (amount) and redemptions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pool {
    pub key: PoolKey,
    pub limit_amount: Option<i64>,
    pub limit_count: Option<i64>,
}

/// What is left of a pool for an order: its limits minus what is used and what other
/// open orders reserve (never below zero). `None`: not limited.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Left {
    pub amount: Option<i64>,
    pub count: Option<i64>,
}

impl Left {
    /// Whether nothing at all may be given from it.
    pub fn exhausted(&self) -> bool {
        self.amount.is_some_and(|a| a <= 0) || self.count.is_some_and(|c| c <= 0)
    }
}

/// Why a limit is invalid, naming the field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidLimits(pub String);

impl fmt::Display for InvalidLimits {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for InvalidLimits {}

/// `amount` in units of 1/10 000, if it has at most [`AMOUNT_SCALE`] places and fits.
pub fn to_units(amount: Decimal) -> Option<i64> {
    let scaled = amount.checked_mul(Decimal::from(10_000_i64))?;
    if scaled.fract() != Decimal::ZERO {
        return None;
    }
    i64::try_from(scaled).ok()
}

/// Units of 1/10 000 back to the exact amount, with at least `places` decimal places.
pub fn from_units(units: i64, places: u32) -> Decimal {
    let mut amount = Decimal::new(units, AMOUNT_SCALE).normalize();
    if amount.scale() < places {
        amount.rescale(places);
    }
    amount
}

impl Limits {
    /// Whether anything is limited at all.
    pub fn is_empty(&self) -> bool {
        self.budget.is_none() && self.per_card.is_none() && self.per_branch.is_none()
    }

    /// Checks the limits; the error names the field (`limits.budget.amount: …`).
    pub fn check(&self) -> Result<(), InvalidLimits> {
        let bad =
            |field: &str, problem: String| Err(InvalidLimits(format!("limits.{field} {problem}")));
        if let Some(zone) = &self.time_zone
            && let Err(problem) = time_zone(zone)
        {
            return bad("timeZone", problem);
        }
        if let Some(budget) = &self.budget {
            if budget.amount.is_none() && budget.redemptions.is_none() {
                return bad(
                    "budget",
                    "needs an amount, a number of redemptions, or both".to_owned(),
                );
            }
            if let Some(amount) = budget.amount {
                if amount <= Decimal::ZERO {
                    return bad(
                        "budget.amount",
                        format!("must be more than 0, not {amount}"),
                    );
                }
                if amount >= Decimal::from(MAX_LIMIT_AMOUNT) {
                    return bad(
                        "budget.amount",
                        format!("must be less than {MAX_LIMIT_AMOUNT}, not {amount}"),
                    );
                }
                if to_units(amount).is_none() {
                    return bad(
                        "budget.amount",
                        format!("may have at most {AMOUNT_SCALE} decimal places, not {amount}"),
                    );
                }
            }
            if let Some(n) = budget.redemptions {
                count_ok("budget.redemptions", n).or_else(|p| bad("budget.redemptions", p))?;
            }
        }
        for (field, limit) in [("perCard", &self.per_card), ("perBranch", &self.per_branch)] {
            if let Some(limit) = limit {
                count_ok(field, limit.redemptions)
                    .or_else(|p| bad(&format!("{field}.redemptions"), p))?;
            }
        }
        Ok(())
    }

    /// The pools a bill on `card_id` at `branch_id` counts in for campaign `campaign_id`
    /// at `now` (epoch ms), in lock order. An unknown time zone counts in UTC (the limits
    /// were checked when written).
    pub fn pools(
        &self,
        campaign_id: i64,
        card_id: &str,
        branch_id: Option<&str>,
        now: i64,
    ) -> Vec<Pool> {
        let zone = self.zone();
        let start = |period: Period| period_start(period, &zone, now);
        let mut pools = Vec::with_capacity(3);
        if let Some(budget) = &self.budget {
            pools.push(Pool {
                key: PoolKey {
                    campaign_id,
                    scope: Scope::Budget,
                    key: String::new(),
                    period_start: start(budget.period),
                },
                limit_amount: budget.amount.and_then(to_units),
                limit_count: budget.redemptions.map(clamp_count),
            });
        }
        if let Some(limit) = &self.per_card {
            pools.push(Pool {
                key: PoolKey {
                    campaign_id,
                    scope: Scope::Card,
                    key: card_id.to_owned(),
                    period_start: start(limit.period),
                },
                limit_amount: None,
                limit_count: Some(clamp_count(limit.redemptions)),
            });
        }
        if let Some(limit) = &self.per_branch {
            pools.push(Pool {
                key: PoolKey {
                    campaign_id,
                    scope: Scope::Branch,
                    key: branch_id.unwrap_or_default().to_owned(),
                    period_start: start(limit.period),
                },
                limit_amount: None,
                limit_count: Some(clamp_count(limit.redemptions)),
            });
        }
        pools.sort_by(|a, b| a.key.cmp(&b.key));
        pools
    }

    /// The budget's pool key at `now` (what the admin API and the console show).
    pub fn budget_period(&self, now: i64) -> Option<(Period, i64)> {
        let budget = self.budget.as_ref()?;
        Some((
            budget.period,
            period_start(budget.period, &self.zone(), now),
        ))
    }

    fn zone(&self) -> jiff::tz::TimeZone {
        self.time_zone
            .as_deref()
            .and_then(|name| time_zone(name).ok())
            .unwrap_or(jiff::tz::TimeZone::UTC)
    }
}

fn clamp_count(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

fn count_ok(_field: &str, n: u64) -> Result<(), String> {
    if n == 0 {
        Err("must be at least 1 (pause or end the campaign to give nothing)".to_owned())
    } else if n > MAX_LIMIT_REDEMPTIONS {
        Err(format!("must be at most {MAX_LIMIT_REDEMPTIONS}, not {n}"))
    } else {
        Ok(())
    }
}

/// The IANA time zone `name`, or why not.
pub fn time_zone(name: &str) -> Result<jiff::tz::TimeZone, String> {
    if name.len() > 64 {
        return Err("must be an IANA time zone name of at most 64 characters".to_owned());
    }
    jiff::tz::TimeZone::get(name)
        .map_err(|_| format!("'{name}' is not an IANA time zone name (e.g. Europe/Bratislava)"))
}

/// When the period containing `now` (epoch ms) began in `zone`, epoch ms: local midnight,
/// Monday's midnight, the first of the month's midnight (the first instant of that day
/// where midnight does not exist), or 0 for a lifetime.
pub fn period_start(period: Period, zone: &jiff::tz::TimeZone, now: i64) -> i64 {
    if period == Period::Lifetime {
        return 0;
    }
    let Ok(instant) = jiff::Timestamp::from_millisecond(now) else {
        return 0;
    };
    let today = instant.to_zoned(zone.clone()).date();
    let first = match period {
        Period::Day | Period::Lifetime => Some(today),
        Period::Week => {
            let back = i64::from(today.weekday().to_monday_zero_offset());
            today.checked_sub(jiff::Span::new().days(back)).ok()
        }
        Period::Month => Some(today.first_of_month()),
    };
    first
        .and_then(|date| date.to_zoned(zone.clone()).ok())
        .and_then(|midnight| midnight.start_of_day().ok())
        .map_or(0, |start| start.timestamp().as_millisecond())
}

/// What happened to one campaign's lines when they were fitted to what is left.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cut {
    /// The campaign's lines' total before, in units.
    pub asked: i64,
    /// What is left of the amount budget, in units.
    pub left: i64,
}

/// Fits the lines of `response` that are one campaign's (`mine[i]` for line `i`) to `left`
/// units of an amount budget, exactly: lines are cut from the last one back (a percentage
/// line keeps its percentage and carries the smaller amount, as the money rules' caps do),
/// a line cut to nothing is removed, and `totalDiscount` is summed again. Returns the cut
/// and, for each line now in `response`, the index it had before (so the caller can keep
/// its own per-line vectors parallel), or `None` when the lines fit.
pub fn cut_to(
    response: &mut DiscountResponse,
    mine: &[bool],
    left: i64,
    places: u32,
) -> Option<(Cut, Vec<usize>)> {
    let units = |amount: Decimal| to_units(amount).unwrap_or(i64::MAX);
    let is_mine = |i: usize| mine.get(i).copied().unwrap_or(false);
    let asked: i64 = response
        .discounts
        .iter()
        .enumerate()
        .filter(|(i, _)| is_mine(*i))
        .map(|(_, line)| units(line.amount()))
        .fold(0_i64, i64::saturating_add);
    let left = left.max(0);
    if asked <= left {
        return None;
    }
    // What the lines may still carry, in whole minor units (never more than `left`).
    let mut room = from_units(left, AMOUNT_SCALE).trunc_with_scale(places);
    let mut keep: Vec<Option<Decimal>> = vec![None; response.discounts.len()];
    for (i, line) in response.discounts.iter().enumerate() {
        if is_mine(i) {
            let take = line.amount().min(room);
            room -= take;
            keep[i] = Some(take);
        }
    }
    let mut lines = Vec::with_capacity(response.discounts.len());
    let mut kept = Vec::with_capacity(response.discounts.len());
    for (i, line) in std::mem::take(&mut response.discounts)
        .into_iter()
        .enumerate()
    {
        match keep[i] {
            None => lines.push(line),
            Some(amount) if amount > Decimal::ZERO => lines.push(with_amount(line, amount)),
            Some(_) => continue,
        }
        kept.push(i);
    }
    response.discounts = lines;
    let mut total = response
        .discounts
        .iter()
        .map(DiscountLine::amount)
        .fold(Decimal::ZERO, |a, b| a + b);
    total.rescale(places);
    response.total_discount = total;
    Some((Cut { asked, left }, kept))
}

fn with_amount(line: DiscountLine, amount: Decimal) -> DiscountLine {
    match line {
        DiscountLine::PercentageOnBill {
            percentage,
            description,
            ..
        } => DiscountLine::PercentageOnBill {
            percentage,
            amount,
            description,
        },
        DiscountLine::PercentageOnItem {
            percentage,
            product_id,
            product_name,
            description,
            ..
        } => DiscountLine::PercentageOnItem {
            percentage,
            amount,
            product_id,
            product_name,
            description,
        },
        DiscountLine::CouponZeroVat {
            coupon_code,
            description,
            ..
        } => DiscountLine::CouponZeroVat {
            amount,
            coupon_code,
            description,
        },
    }
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use super::*;

    fn dec(text: &str) -> Decimal {
        Decimal::from_str(text).unwrap_or_default()
    }

    fn ms(text: &str) -> i64 {
        text.parse::<jiff::Timestamp>()
            .map(|t| t.as_millisecond())
            .unwrap_or(-1)
    }

    #[test]
    fn periods_start_at_local_midnight_monday_and_the_first() {
        let zone = time_zone("Europe/Bratislava").unwrap_or(jiff::tz::TimeZone::UTC);
        // Thursday 2026-12-10 00:30 in Bratislava is Wednesday 23:30 UTC.
        let now = ms("2026-12-09T23:30:00Z");
        assert_eq!(
            period_start(Period::Day, &zone, now),
            ms("2026-12-09T23:00:00Z")
        );
        assert_eq!(
            period_start(Period::Week, &zone, now),
            ms("2026-12-06T23:00:00Z")
        );
        assert_eq!(
            period_start(Period::Month, &zone, now),
            ms("2026-11-30T23:00:00Z")
        );
        assert_eq!(period_start(Period::Lifetime, &zone, now), 0);
        let utc = jiff::tz::TimeZone::UTC;
        assert_eq!(
            period_start(Period::Day, &utc, now),
            ms("2026-12-09T00:00:00Z")
        );
        // Summer time: the day starts at 22:00 UTC.
        assert_eq!(
            period_start(Period::Day, &zone, ms("2026-07-15T12:00:00Z")),
            ms("2026-07-14T22:00:00Z")
        );
    }

    #[test]
    fn limits_are_checked_naming_the_field() {
        let limits = |json: &str| serde_json::from_str::<Limits>(json).map_err(|e| e.to_string());
        let problem = |json: &str| limits(json).map(|l| l.check().map_err(|e| e.0));
        assert_eq!(
            problem(r#"{"budget": {"period": "month"}}"#),
            Ok(Err(
                "limits.budget needs an amount, a number of redemptions, or both".into()
            ))
        );
        assert_eq!(
            limits(r#"{"budget": {"amount": "1.00001", "period": "month"}}"#).map(|_| ()),
            Err("amount must be a decimal string such as \"500.00\" (more than 0, less than 10^12, at most 4 places), not \"1.00001\" at line 1 column 31".into())
        );
        assert_eq!(
            problem(r#"{"perCard": {"redemptions": 0, "period": "day"}}"#),
            Ok(Err("limits.perCard.redemptions must be at least 1 (pause or end the campaign to give nothing)".into()))
        );
        assert_eq!(
            problem(r#"{"timeZone": "Mars/Olympus", "perCard": {"redemptions": 1, "period": "day"}}"#),
            Ok(Err("limits.timeZone 'Mars/Olympus' is not an IANA time zone name (e.g. Europe/Bratislava)".into()))
        );
        assert!(limits(r#"{"budget": {"amount": "5", "period": "year"}}"#).is_err());
        assert!(limits(r#"{"budget": {"amount": 5, "period": "day"}}"#).is_err());
        // JSON Schema's integers include 3.0.
        assert_eq!(
            problem(
                r#"{"budget": {"redemptions": 3.0, "period": "day"}, "perCard": {"redemptions": 1.0, "period": "day"}}"#
            ),
            Ok(Ok(()))
        );
        assert!(limits(r#"{"perCard": {"redemptions": 1.5, "period": "day"}}"#).is_err());
        assert!(limits(r#"{"perCard": {"redemptions": -1, "period": "day"}}"#).is_err());
        assert_eq!(
            problem(
                r#"{"timeZone": "Europe/Bratislava", "budget": {"amount": "500.00", "redemptions": 3, "period": "month"}}"#
            ),
            Ok(Ok(()))
        );
    }

    #[test]
    fn pools_come_in_lock_order() {
        let limits: Limits = serde_json::from_str(
            r#"{"perBranch": {"redemptions": 9, "period": "lifetime"}, "perCard": {"redemptions": 1, "period": "day"}, "budget": {"amount": "500.00", "period": "month"}}"#,
        )
        .unwrap_or_default();
        let pools = limits.pools(7, "card-1", Some("pub"), ms("2026-12-09T12:00:00Z"));
        let scopes: Vec<Scope> = pools.iter().map(|p| p.key.scope).collect();
        assert_eq!(scopes, [Scope::Budget, Scope::Card, Scope::Branch]);
        assert_eq!(pools[0].limit_amount, Some(5_000_000));
        assert_eq!(pools[1].key.key, "card-1");
        assert_eq!(pools[2].key.period_start, 0);
    }

    fn bill(amount: &str) -> DiscountLine {
        DiscountLine::PercentageOnBill {
            percentage: dec("10"),
            amount: dec(amount),
            description: "tier".into(),
        }
    }

    #[test]
    fn a_cut_leaves_exactly_what_is_left_and_drops_lines_cut_to_nothing() {
        let mut response = DiscountResponse {
            discounts: vec![bill("3.00"), bill("2.00"), bill("4.00")],
            total_discount: dec("9.00"),
            message: "m".into(),
        };
        let mine = [true, false, true];
        // 3.00 + 4.00 of this campaign, 2.50 left.
        let cut = cut_to(&mut response, &mine, 25_000, 2);
        assert_eq!(
            cut,
            Some((
                Cut {
                    asked: 70_000,
                    left: 25_000
                },
                vec![0, 1]
            ))
        );
        assert_eq!(response.discounts, vec![bill("2.50"), bill("2.00")]);
        assert_eq!(response.total_discount, dec("4.50"));
        // Fitting lines are left alone.
        assert_eq!(cut_to(&mut response, &[true, false], 25_000, 2), None);
        // Nothing left: the campaign's lines go.
        let cut = cut_to(&mut response, &[true, false], 0, 2);
        assert_eq!(cut.map(|(_, kept)| kept), Some(vec![1]));
        assert_eq!(response.total_discount, dec("2.00"));
    }

    #[test]
    fn the_amount_grammar_and_its_schema_pattern_agree() {
        let pattern = |text: &str| {
            // The pattern's alternatives, checked by hand (no regex crate in the domain).
            amount_text::parse(text).is_ok()
        };
        for good in ["500.00", "0.5", "0.0001", "999999999999.9999", "7"] {
            assert!(pattern(good), "{good}");
        }
        for bad in [
            "0",
            "0.0000",
            "00.5",
            "-1",
            "1e3",
            "1.",
            ".5",
            "1.00001",
            "1000000000000",
            " 1",
            "",
        ] {
            assert!(!pattern(bad), "{bad}");
        }
    }

    #[test]
    fn the_bundled_time_zones_include_the_shops() {
        let names = time_zone_names();
        assert!(names.iter().any(|n| n == "Europe/Bratislava"));
        assert!(names.iter().any(|n| n == "UTC"));
        assert!(names.iter().all(|n| time_zone(n).is_ok()));
    }

    #[test]
    fn units_are_exact() {
        assert_eq!(to_units(dec("500.00")), Some(5_000_000));
        assert_eq!(to_units(dec("0.0001")), Some(1));
        assert_eq!(to_units(dec("0.00001")), None);
        assert_eq!(from_units(5_000_000, 2).to_string(), "500.00");
        assert_eq!(from_units(5_000_050, 2).to_string(), "500.005");
        assert_eq!(from_units(25_000, 2).to_string(), "2.50");
    }
}
