//! What-ifs over a set of campaigns (issue 17): the merchant's campaigns, without some
//! ("what if I end that one") and with new ones ("what if I add this one"), on one bill
//! (a dry-run) or on the merchant's recorded bills (a replay), with per-campaign effects.
//! Records nothing.
//!
//! Each campaign runs in its own sandboxed call, as at the till, and the answers combine by
//! the same rules ([`super::stacking`]); limits apply as the till applies them: a campaign
//! whose limit is reached does not run, and its lines are cut to what is left of an amount
//! budget. A dry-run takes what is left now from the store; a replay starts every budget
//! and limit at zero and counts, bill by bill in the order they were recorded, what each
//! would have given — "what would this have cost last month, within its budget". The
//! points gate is not applied (a what-if holds nothing).

use std::collections::{BTreeMap, HashMap};

use rabat_domain::budget::{self, Left, Pool, PoolKey};
use rabat_domain::currency;
use rabat_domain::model::{Card, Order};
use rabat_domain::money::{self, DiscountResponse};
use rabat_sandbox::Failure;
use rabat_store::{Campaign, CampaignState, NewCampaign};
use rust_decimal::Decimal;
use serde::Serialize;

use super::runner::Call;
use super::stacking::{self, Ran};
use super::whatif::{DryRunCard, WhatIf};
use super::{ServiceError, ServiceResult};
use rabat_sandbox::CompiledPolicy;

/// The most recorded bills a campaign-set replay re-runs.
pub const MAX_SET_REPLAY_BILLS: u32 = 1_000;
/// The most campaigns a what-if may add.
pub const MAX_ADDED_CAMPAIGNS: usize = 5;

/// Which campaigns a what-if runs: the merchant's (those not ended, live at the bill's
/// time), minus `without`, plus `with` (each as if created now).
#[derive(Debug, Clone, Default)]
pub struct CampaignSet {
    pub without: Vec<i64>,
    pub with: Vec<NewCampaign>,
}

/// What one campaign did on a bill, or over a replay.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CampaignEffect {
    /// The campaign's id; `null` for one added by the what-if.
    pub id: Option<i64>,
    pub name: String,
    pub policy_version: i64,
    /// Money it gave, per currency, exactly (decimal strings).
    pub gave: BTreeMap<String, String>,
    /// Bills it gave something on.
    pub bills: u64,
    /// Money its amount budget cut away, per currency.
    pub cut_by_budget: BTreeMap<String, String>,
    /// Bills it did not run on because a limit was reached.
    pub stopped_by_limits: u64,
    /// Bills on which it failed (trap, fuel, timeout, invalid answer).
    pub failed: u64,
    /// On a dry-run: what became of it (`applied: 5.00 off`, `not run: …`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// A dry-run of a campaign set on one bill (documented in the HTTP layer, which knows
/// the shape of endpoint 1's answer).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SetDryRun {
    /// What endpoint 1 would answer.
    pub response: DiscountResponse,
    pub campaigns: Vec<CampaignEffect>,
    /// The card the campaigns saw: `inline`, `stored` or `unknown`.
    pub card_source: &'static str,
}

/// A replay of a campaign set over recorded bills.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SetReplay {
    /// Recorded bills re-run (the oldest first).
    pub bills: u64,
    /// When the first and the last of them were evaluated (epoch ms).
    pub from: Option<i64>,
    pub to: Option<i64>,
    /// What the tills were answered then, per currency.
    pub before: BTreeMap<String, String>,
    /// What the set would have given, per currency.
    pub after: BTreeMap<String, String>,
    pub campaigns: Vec<CampaignEffect>,
}

/// A campaign of the set, ready to run.
struct Member {
    campaign: Campaign,
    policy: CompiledPolicy,
    config: String,
}

/// Per campaign, money by currency (exact).
#[derive(Default)]
struct Tally {
    gave: BTreeMap<String, Decimal>,
    bills: u64,
    cut: BTreeMap<String, Decimal>,
    stopped: u64,
    failed: u64,
    note: Option<String>,
}

fn texts(map: BTreeMap<String, Decimal>) -> BTreeMap<String, String> {
    map.into_iter().map(|(k, v)| (k, v.to_string())).collect()
}

impl WhatIf {
    /// The set's campaigns, in run order, with their modules.
    async fn members(&self, merchant: &str, set: &CampaignSet) -> ServiceResult<Vec<Member>> {
        let mut campaigns: Vec<Campaign> = self
            .store()
            .list_campaigns(merchant)
            .await?
            .into_iter()
            .filter(|c| c.state == CampaignState::Active && !set.without.contains(&c.id))
            .collect();
        for id in &set.without {
            if !campaigns.iter().any(|c| c.id == *id) {
                // Not active or unknown: an unknown one is the caller's mistake.
                self.store().campaign(merchant, *id).await?;
            }
        }
        let now = rabat_domain::clock::now_ms();
        for (i, new) in set.with.iter().enumerate() {
            campaigns.push(Campaign {
                // Added campaigns run after the merchant's of equal priority, as if new.
                id: i64::MAX - i64::try_from(set.with.len() - i).unwrap_or(0),
                name: new.name.clone(),
                policy_version: new.policy_version,
                config: new.config.clone(),
                starts_at: new.starts_at,
                ends_at: new.ends_at,
                priority: new.priority,
                mode: new.mode,
                group: new.group.clone(),
                limits: new.limits.clone(),
                state: CampaignState::Active,
                is_default: false,
                created_at: now,
                updated_at: now,
            });
        }
        campaigns.sort_by(|a, b| b.priority.cmp(&a.priority).then(a.id.cmp(&b.id)));
        let mut members = Vec::with_capacity(campaigns.len());
        for campaign in campaigns {
            let policy = self
                .runner()
                .version(merchant, campaign.policy_version)
                .await?;
            let config = campaign.config.to_string();
            members.push(Member {
                campaign,
                policy,
                config,
            });
        }
        Ok(members)
    }

    /// Runs the live `members` on one bill at `at`, with what is left of each campaign's
    /// pools from `left_of`; returns the answer, each member's outcome (`None`: not live)
    /// and, per member, the money it gave and the money a budget cut from it.
    async fn run_on(
        &self,
        merchant: &str,
        members: &[Member],
        order: &Order,
        card: &Card,
        at: i64,
        left_of: &(dyn Fn(&Pool) -> Left + Sync),
    ) -> ServiceResult<Bill> {
        let places = currency::minor_units(&order.currency);
        let live: Vec<usize> = (0..members.len())
            .filter(|i| members[*i].campaign.is_live(at))
            .collect();
        let mut pools: Vec<Vec<Pool>> = vec![Vec::new(); members.len()];
        let mut stopped = vec![false; members.len()];
        let mut results: Vec<Option<Result<rabat_domain::model::Evaluation, String>>> =
            vec![None; members.len()];
        for i in &live {
            let campaign = &members[*i].campaign;
            if let Some(limits) = &campaign.limits {
                pools[*i] =
                    limits.pools(campaign.id, &card.card_id, order.branch_id.as_deref(), at);
                if let Some((pool, _)) = pools[*i]
                    .iter()
                    .map(|p| (p, left_of(p)))
                    .find(|(_, l)| l.exhausted())
                {
                    stopped[*i] = true;
                    results[*i] = Some(Err(format!(
                        "not run: its {} limit is reached",
                        pool.key.scope.as_str()
                    )));
                    continue;
                }
            }
            let slot = self
                .admission()
                .enter_within(merchant, super::whatif::DRY_RUN_WAIT)
                .await
                .map_err(|busy| ServiceError::Busy(busy.to_string()))?;
            let extras = self
                .runner()
                .extras(
                    merchant,
                    card,
                    order,
                    &order.order_id,
                    members[*i].policy.contract(),
                    None,
                )
                .await?;
            let call = Call {
                policy: members[*i].policy.clone(),
                inline: None,
                config: members[*i].config.clone().into(),
                limits: self.runner().limits().clone(),
                order: order.clone(),
                card: card.clone(),
                offer: None,
                extras,
                slot: Some(slot),
            };
            let report = self.runner().evaluate(call).await?;
            results[*i] = Some(report.result.map_err(|f: Failure| f.to_string()));
        }
        let ran: Vec<Ran<'_>> = live
            .iter()
            .map(|i| Ran {
                campaign: &members[*i].campaign,
                result: results[*i]
                    .clone()
                    .unwrap_or_else(|| Err("not run".to_owned())),
            })
            .collect();
        let combined = stacking::combine(order, &ran);
        let (mut response, sources) =
            match money::discount_response_traced(order, &combined.evaluation) {
                Ok(traced) => traced,
                Err(invalid) => (DiscountResponse::fail_safe(&order.currency), {
                    let _ = invalid;
                    Vec::new()
                }),
            };
        // Owners as member indexes.
        let mut owners: Vec<usize> = sources.iter().map(|s| live[combined.owners[*s]]).collect();
        let mut cut = vec![Decimal::ZERO; members.len()];
        for (i, member_pools) in pools.iter().enumerate() {
            let least = member_pools.iter().filter_map(|p| left_of(p).amount).min();
            let Some(left) = least else { continue };
            let mine: Vec<bool> = owners.iter().map(|o| *o == i).collect();
            if let Some((c, kept)) = budget::cut_to(&mut response, &mine, left, places) {
                owners = kept.iter().map(|k| owners[*k]).collect();
                cut[i] = budget::from_units(c.asked.saturating_sub(c.left), places);
            }
        }
        let mut gave = vec![Decimal::ZERO; members.len()];
        for (line, owner) in response.discounts.iter().zip(&owners) {
            gave[*owner] += line.amount();
        }
        let mut notes: Vec<Option<String>> = vec![None; members.len()];
        for (k, i) in live.iter().enumerate() {
            notes[*i] = combined.notes.get(k).cloned();
        }
        let failed = (0..members.len())
            .map(|i| !stopped[i] && matches!(results[i], Some(Err(_))))
            .collect();
        Ok(Bill {
            response,
            gave,
            cut,
            stopped,
            failed,
            notes,
            pools,
        })
    }

    /// A campaign set on one bill, exactly as the till would combine it (points aside), with
    /// what is left of every limit now. Records nothing.
    pub async fn dry_run_set(
        &self,
        merchant: &str,
        set: &CampaignSet,
        order: Order,
        card: DryRunCard,
        now: i64,
    ) -> ServiceResult<SetDryRun> {
        let (card, card_source, _) = self.card_for(merchant, card).await?;
        let members = self.members(merchant, set).await?;
        // What is left of every pool the live members count in, from the store.
        let mut known: HashMap<PoolKey, Left> = HashMap::new();
        for member in &members {
            if let Some(limits) = &member.campaign.limits {
                let pools = limits.pools(
                    member.campaign.id,
                    &card.card_id,
                    order.branch_id.as_deref(),
                    now,
                );
                let left = if member.campaign.id > i64::MAX - 100 {
                    // Added by the what-if: nothing used yet.
                    pools
                        .iter()
                        .map(|p| Left {
                            amount: p.limit_amount,
                            count: p.limit_count,
                        })
                        .collect()
                } else {
                    self.store().pools_left(merchant, &pools, now).await?
                };
                for (pool, left) in pools.into_iter().zip(left) {
                    known.insert(pool.key, left);
                }
            }
        }
        let left_of = |pool: &Pool| known.get(&pool.key).copied().unwrap_or_default();
        let bill = self
            .run_on(merchant, &members, &order, &card, now, &left_of)
            .await?;
        let currency = order.currency.clone();
        let campaigns = members
            .iter()
            .enumerate()
            .map(|(i, m)| {
                effect(
                    &m.campaign,
                    Tally {
                        gave: if bill.gave[i] > Decimal::ZERO {
                            BTreeMap::from([(currency.clone(), bill.gave[i])])
                        } else {
                            BTreeMap::new()
                        },
                        bills: u64::from(bill.gave[i] > Decimal::ZERO),
                        cut: if bill.cut[i] > Decimal::ZERO {
                            BTreeMap::from([(currency.clone(), bill.cut[i])])
                        } else {
                            BTreeMap::new()
                        },
                        stopped: u64::from(bill.stopped[i]),
                        failed: u64::from(bill.failed[i]),
                        note: Some(
                            bill.notes[i]
                                .clone()
                                .unwrap_or_else(|| "not live at this time".to_owned()),
                        ),
                    },
                )
            })
            .collect();
        Ok(SetDryRun {
            response: bill.response,
            campaigns,
            card_source,
        })
    }

    /// A campaign set over the merchant's newest `limit` recorded bills since `since`
    /// (oldest first), every budget and limit counted from zero over them.
    pub async fn replay_set(
        &self,
        merchant: &str,
        set: &CampaignSet,
        limit: u32,
        since: i64,
    ) -> ServiceResult<SetReplay> {
        let members = self.members(merchant, set).await?;
        let mut sources = Vec::new();
        let mut before_id = i64::MAX;
        let mut left = limit.min(MAX_SET_REPLAY_BILLS);
        while left > 0 {
            let page = self
                .store()
                .replay_sources(merchant, since, before_id, left.min(200))
                .await?;
            let Some(last) = page.last().map(|row| row.id) else {
                break;
            };
            left = left.saturating_sub(u32::try_from(page.len()).unwrap_or(u32::MAX));
            before_id = last;
            sources.extend(page);
        }
        sources.reverse();
        let mut used: HashMap<PoolKey, (i64, i64)> = HashMap::new();
        let mut tallies: Vec<Tally> = (0..members.len()).map(|_| Tally::default()).collect();
        let mut before: BTreeMap<String, Decimal> = BTreeMap::new();
        let mut after: BTreeMap<String, Decimal> = BTreeMap::new();
        let (mut from, mut to, mut bills) = (None, None, 0_u64);
        for source in &sources {
            let Ok(order) = serde_json::from_str::<Order>(&source.request) else {
                continue;
            };
            let card = source
                .card
                .as_deref()
                .and_then(|text| serde_json::from_str::<Card>(text).ok())
                .unwrap_or_else(|| Card::new(""));
            let left_of = |pool: &Pool| {
                let (amount, count) = used.get(&pool.key).copied().unwrap_or((0, 0));
                Left {
                    amount: pool.limit_amount.map(|l| (l - amount).max(0)),
                    count: pool.limit_count.map(|l| (l - count).max(0)),
                }
            };
            let bill = self
                .run_on(merchant, &members, &order, &card, source.at, &left_of)
                .await?;
            bills += 1;
            from.get_or_insert(source.at);
            to = Some(source.at);
            let currency = order.currency.clone();
            if let Some(total) = source.total_discount {
                *before.entry(currency.clone()).or_default() += total;
            }
            *after.entry(currency.clone()).or_default() += bill.response.total_discount;
            for (i, tally) in tallies.iter_mut().enumerate() {
                if bill.gave[i] > Decimal::ZERO {
                    *tally.gave.entry(currency.clone()).or_default() += bill.gave[i];
                    tally.bills += 1;
                    // What the bill would have used of each of its pools.
                    let units = budget::to_units(bill.gave[i]).unwrap_or(0);
                    for pool in &bill.pools[i] {
                        let entry = used.entry(pool.key.clone()).or_default();
                        entry.0 += units;
                        entry.1 += 1;
                    }
                }
                if bill.cut[i] > Decimal::ZERO {
                    *tally.cut.entry(currency.clone()).or_default() += bill.cut[i];
                }
                tally.stopped += u64::from(bill.stopped[i]);
                tally.failed += u64::from(bill.failed[i]);
            }
        }
        let campaigns = members
            .iter()
            .zip(tallies)
            .map(|(m, tally)| effect(&m.campaign, tally))
            .collect();
        Ok(SetReplay {
            bills,
            from,
            to,
            before: texts(before),
            after: texts(after),
            campaigns,
        })
    }
}

/// One bill's run of a set, per member (the members' order).
struct Bill {
    response: DiscountResponse,
    gave: Vec<Decimal>,
    cut: Vec<Decimal>,
    stopped: Vec<bool>,
    failed: Vec<bool>,
    notes: Vec<Option<String>>,
    pools: Vec<Vec<Pool>>,
}

fn effect(campaign: &Campaign, tally: Tally) -> CampaignEffect {
    let added = campaign.id > i64::MAX - 100;
    CampaignEffect {
        id: (!added).then_some(campaign.id),
        name: campaign.name.clone(),
        policy_version: campaign.policy_version,
        gave: texts(tally.gave),
        bills: tally.bills,
        cut_by_budget: texts(tally.cut),
        stopped_by_limits: tally.stopped,
        failed: tally.failed,
        note: tally.note,
    }
}
