//! A merchant's campaigns (issue 17): create, edit, pause, resume, end. Each change is
//! checked here (every message names the field), written and audited in one transaction
//! by the store, and dropped from this server's policy cache (other replicas hear of it
//! through the generation every change bumps, and on PostgreSQL at once through its
//! change trigger).
//!
//! Also the till's [`Clock`], which decides which campaigns are live: real time, or a
//! fixed instant set by a test (never slept).

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use rabat_domain::budget::{self, Limits, Period, Scope};
use rabat_domain::clock::now_ms;
use rabat_store::{
    Campaign, CampaignChange, CampaignEdit, CampaignState, DEFAULT_CAMPAIGN, NewCampaign, Store,
};
use serde::Serialize;
use serde_json::{Value, json};

use super::audit::Actor;
use super::{ServiceError, ServiceResult};
use crate::active::ActivePolicies;

/// The longest campaign or group name, in characters.
pub const MAX_NAME_CHARS: usize = 100;
/// The latest instant a schedule may name: 9999-12-31T23:59:59.999Z, epoch ms.
pub const MAX_INSTANT_MS: i64 = 253_402_300_799_999;
/// The range of a priority.
pub const MAX_PRIORITY: i64 = 1_000_000;
/// The most campaigns a merchant may have that are not ended (each live one is one more
/// sandboxed call per bill).
pub const MAX_OPEN_CAMPAIGNS: usize = 20;

/// What the till takes for "now": real time unless a test fixed it. Clones share the
/// setting.
#[derive(Debug, Clone)]
pub struct Clock(Arc<AtomicI64>);

const REAL_TIME: i64 = i64::MIN;

impl Default for Clock {
    fn default() -> Self {
        Clock::real()
    }
}

impl Clock {
    pub fn real() -> Self {
        Clock(Arc::new(AtomicI64::new(REAL_TIME)))
    }

    /// Now, epoch ms.
    pub fn now(&self) -> i64 {
        match self.0.load(Ordering::Relaxed) {
            REAL_TIME => now_ms(),
            fixed => fixed,
        }
    }

    /// From now on, "now" is `at` (epoch ms), until [`Clock::unfix`].
    pub fn fix(&self, at: i64) {
        self.0.store(at.max(REAL_TIME + 1), Ordering::Relaxed);
    }

    /// Back to real time.
    pub fn unfix(&self) {
        self.0.store(REAL_TIME, Ordering::Relaxed);
    }
}

/// A campaign budget's state in one period: what completed bills used, what open orders
/// reserve, and what is left for new ones.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct BudgetUse {
    pub period: Period,
    /// When the period began (epoch ms).
    pub period_start: i64,
    /// The time zone the period follows.
    pub time_zone: String,
    /// The amount budget (decimal strings in the merchant's currency), if it has one.
    pub amount: Option<AmountUse>,
    /// The redemption budget, if it has one.
    pub redemptions: Option<CountUse>,
}

/// A merchant's budgets summed (amounts in units of 1/10 000 of the currency).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BudgetTotals {
    pub amount_limit: i64,
    pub amount_used: i64,
    pub amount_reserved: i64,
    pub redemptions_limit: i64,
    pub redemptions_used: i64,
    pub redemptions_reserved: i64,
}

/// An amount budget's use, as exact decimal strings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AmountUse {
    pub limit: String,
    pub used: String,
    pub reserved: String,
    pub left: String,
}

/// A redemption budget's use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CountUse {
    pub limit: i64,
    pub used: i64,
    pub reserved: i64,
    pub left: i64,
}

/// The campaigns service. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Campaigns {
    store: Store,
    active: Arc<ActivePolicies>,
}

/// Checks a name (campaign or group): not empty, bounded, no control characters.
pub fn name_problem(name: &str) -> Option<String> {
    let chars = name.chars().count();
    if name.trim().is_empty() {
        Some("must not be empty".to_owned())
    } else if chars > MAX_NAME_CHARS {
        Some(format!(
            "must be at most {MAX_NAME_CHARS} characters, not {chars}"
        ))
    } else if name.chars().any(char::is_control) {
        Some("must not contain control characters".to_owned())
    } else {
        None
    }
}

fn check_name(field: &str, name: &str) -> ServiceResult<()> {
    match name_problem(name) {
        Some(problem) => Err(ServiceError::Invalid(format!("{field} {problem}"))),
        None => Ok(()),
    }
}

fn check_instant(field: &str, at: Option<i64>) -> ServiceResult<()> {
    match at {
        Some(at) if !(0..=MAX_INSTANT_MS).contains(&at) => Err(ServiceError::Invalid(format!(
            "{field} must be an instant in epoch milliseconds between 0 and {MAX_INSTANT_MS}, not {at}"
        ))),
        _ => Ok(()),
    }
}

fn check_priority(priority: i64) -> ServiceResult<()> {
    if (-MAX_PRIORITY..=MAX_PRIORITY).contains(&priority) {
        Ok(())
    } else {
        Err(ServiceError::Invalid(format!(
            "priority must be between -{MAX_PRIORITY} and {MAX_PRIORITY}, not {priority}"
        )))
    }
}

fn check_version(version: i64) -> ServiceResult<()> {
    if version > 0 {
        Ok(())
    } else {
        Err(ServiceError::Invalid(format!(
            "policyVersion must be a positive whole number, not {version}"
        )))
    }
}

fn check_limits(limits: Option<&Limits>) -> ServiceResult<()> {
    match limits.map(Limits::check) {
        Some(Err(invalid)) => Err(ServiceError::Invalid(invalid.to_string())),
        _ => Ok(()),
    }
}

fn detail(campaign: &Campaign) -> Value {
    serde_json::to_value(campaign).unwrap_or(Value::Null)
}

impl Campaigns {
    pub fn new(store: Store, active: Arc<ActivePolicies>) -> Self {
        Campaigns { store, active }
    }

    /// Creates a campaign, active at once (within its schedule).
    pub async fn create(
        &self,
        merchant: &str,
        actor: &Actor,
        new: NewCampaign,
    ) -> ServiceResult<Campaign> {
        check_name("name", &new.name)?;
        if new.name == DEFAULT_CAMPAIGN {
            return Err(ServiceError::Invalid(format!(
                "name '{DEFAULT_CAMPAIGN}' is the default campaign's (the one activation and the policy config act on); choose another"
            )));
        }
        if let Some(group) = &new.group {
            check_name("group", group)?;
        }
        check_version(new.policy_version)?;
        check_instant("startsAt", new.starts_at)?;
        check_instant("endsAt", new.ends_at)?;
        check_priority(new.priority)?;
        check_limits(new.limits.as_ref())?;
        let audit = |created: &Campaign| actor.did("campaign.create", detail(created));
        // The bound on open campaigns is counted inside the write, under the merchant's lock.
        let created = self
            .store
            .create_campaign(merchant, &new, MAX_OPEN_CAMPAIGNS, audit)
            .await?;
        self.active.invalidate(merchant);
        tracing::info!(merchant, campaign = created.id, "campaign created");
        Ok(created)
    }

    pub async fn list(&self, merchant: &str) -> ServiceResult<Vec<Campaign>> {
        Ok(self.store.list_campaigns(merchant).await?)
    }

    pub async fn get(&self, merchant: &str, id: i64) -> ServiceResult<Campaign> {
        Ok(self.store.campaign(merchant, id).await?)
    }

    /// What the campaign's budget has used, reserved and left in the period containing
    /// `now` (`None` for a campaign without a budget).
    pub async fn budget_use(
        &self,
        merchant: &str,
        id: i64,
        now: i64,
    ) -> ServiceResult<Option<BudgetUse>> {
        let campaign = self.store.campaign(merchant, id).await?;
        Ok(match campaign.limits.as_ref() {
            Some(limits) => self.budget_of(merchant, &campaign, limits, now).await?,
            None => None,
        })
    }

    /// [`Campaigns::budget_use`] of every campaign that has a budget and has not ended.
    pub async fn budgets(
        &self,
        merchant: &str,
        now: i64,
    ) -> ServiceResult<Vec<(Campaign, BudgetUse)>> {
        let mut out = Vec::new();
        for campaign in self.store.list_campaigns(merchant).await? {
            if campaign.state == CampaignState::Ended {
                continue;
            }
            if let Some(limits) = campaign.limits.clone()
                && let Some(used) = self.budget_of(merchant, &campaign, &limits, now).await?
            {
                out.push((campaign, used));
            }
        }
        Ok(out)
    }

    /// Per merchant, its active campaigns' budgets in their current periods, summed: what
    /// `/metrics` shows (`(merchant, use)`, amounts in units of 1/10 000 of the currency).
    pub async fn budget_totals(&self, now: i64) -> ServiceResult<Vec<(String, BudgetTotals)>> {
        let mut totals: Vec<(String, BudgetTotals)> = Vec::new();
        for (merchant, campaign) in self.store.limited_campaigns().await? {
            let Some(limits) = &campaign.limits else {
                continue;
            };
            let Some(pool) = limits
                .pools(campaign.id, "", None, now)
                .into_iter()
                .find(|pool| pool.key.scope == Scope::Budget)
            else {
                continue;
            };
            let used = self.store.pool_use(&merchant, &pool.key, now).await?;
            if totals.last().is_none_or(|(m, _)| *m != merchant) {
                totals.push((merchant.clone(), BudgetTotals::default()));
            }
            if let Some((_, t)) = totals.last_mut() {
                if let Some(limit) = pool.limit_amount {
                    t.amount_limit = t.amount_limit.saturating_add(limit);
                    t.amount_used = t.amount_used.saturating_add(used.used_amount);
                    t.amount_reserved = t.amount_reserved.saturating_add(used.reserved_amount);
                }
                if let Some(limit) = pool.limit_count {
                    t.redemptions_limit = t.redemptions_limit.saturating_add(limit);
                    t.redemptions_used = t.redemptions_used.saturating_add(used.used_count);
                    t.redemptions_reserved =
                        t.redemptions_reserved.saturating_add(used.reserved_count);
                }
            }
        }
        Ok(totals)
    }

    async fn budget_of(
        &self,
        merchant: &str,
        campaign: &Campaign,
        limits: &Limits,
        now: i64,
    ) -> ServiceResult<Option<BudgetUse>> {
        let Some(pool) = limits
            .pools(campaign.id, "", None, now)
            .into_iter()
            .find(|pool| pool.key.scope == Scope::Budget)
        else {
            return Ok(None);
        };
        let Some((period, period_start)) = limits.budget_period(now) else {
            return Ok(None);
        };
        let used = self.store.pool_use(merchant, &pool.key, now).await?;
        let amount = |units: i64| budget::from_units(units, 2).to_string();
        Ok(Some(BudgetUse {
            period,
            period_start,
            time_zone: limits.time_zone.clone().unwrap_or_else(|| "UTC".to_owned()),
            amount: pool.limit_amount.map(|limit| AmountUse {
                limit: amount(limit),
                used: amount(used.used_amount),
                reserved: amount(used.reserved_amount),
                left: amount(
                    limit
                        .saturating_sub(used.used_amount)
                        .saturating_sub(used.reserved_amount)
                        .max(0),
                ),
            }),
            redemptions: pool.limit_count.map(|limit| CountUse {
                limit,
                used: used.used_count,
                reserved: used.reserved_count,
                left: limit
                    .saturating_sub(used.used_count)
                    .saturating_sub(used.reserved_count)
                    .max(0),
            }),
        }))
    }

    /// Edits a campaign; an ended one cannot be edited (a conflict).
    pub async fn edit(
        &self,
        merchant: &str,
        actor: &Actor,
        id: i64,
        edit: CampaignEdit,
    ) -> ServiceResult<Campaign> {
        if let Some(name) = &edit.name {
            check_name("name", name)?;
        }
        if let Some((_, Some(group))) = &edit.mode {
            check_name("group", group)?;
        }
        if let Some(version) = edit.policy_version {
            check_version(version)?;
        }
        check_instant("startsAt", edit.starts_at.flatten())?;
        check_instant("endsAt", edit.ends_at.flatten())?;
        if let Some(priority) = edit.priority {
            check_priority(priority)?;
        }
        if let Some(limits) = &edit.limits {
            check_limits(limits.as_ref())?;
        }
        let current = self.store.campaign(merchant, id).await?;
        if let Some(name) = &edit.name
            && name == DEFAULT_CAMPAIGN
            && !current.is_default
        {
            return Err(ServiceError::Invalid(format!(
                "name '{DEFAULT_CAMPAIGN}' is the default campaign's; choose another"
            )));
        }
        let audit = |change: &CampaignChange| {
            let before = change.before.as_ref().map(detail);
            actor.did(
                "campaign.edit",
                json!({"id": id, "before": before, "after": detail(&change.after)}),
            )
        };
        let change = self
            .store
            .update_campaign(merchant, id, &edit, audit)
            .await?;
        self.active.invalidate(merchant);
        Ok(change.after)
    }

    /// Pauses (`Paused`), resumes (`Active`) or ends (`Ended`) a campaign.
    pub async fn set_state(
        &self,
        merchant: &str,
        actor: &Actor,
        id: i64,
        state: CampaignState,
    ) -> ServiceResult<Campaign> {
        let action = match state {
            CampaignState::Active => "campaign.resume",
            CampaignState::Paused => "campaign.pause",
            CampaignState::Ended => "campaign.end",
        };
        let audit = |change: &CampaignChange| {
            actor.did(
                action,
                json!({
                    "id": id,
                    "from": change.before.as_ref().map(|c| c.state),
                    "to": change.after.state,
                }),
            )
        };
        let change = self
            .store
            .set_campaign_state(merchant, id, state, audit)
            .await?;
        self.active.invalidate(merchant);
        tracing::info!(
            merchant,
            campaign = id,
            state = state.as_str(),
            "campaign state set"
        );
        Ok(change.after)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fixed_clock_stays_until_unfixed() {
        let clock = Clock::real();
        let shared = clock.clone();
        clock.fix(1_000);
        assert_eq!(shared.now(), 1_000);
        clock.unfix();
        assert!(shared.now() > 1_000);
    }

    #[test]
    fn names_are_bounded() {
        assert!(name_problem("Happy hour").is_none());
        assert!(name_problem(" ").is_some());
        assert!(name_problem(&"x".repeat(MAX_NAME_CHARS + 1)).is_some());
        assert!(name_problem("a\nb").is_some());
    }
}
