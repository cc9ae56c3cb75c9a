//! How the answers of several live campaigns become one (issue 17; README, "Campaigns").
//!
//! Campaigns are taken in run order: priority, highest first, then the older first. Each
//! campaign's answer is first checked alone against the money rules; an invalid answer, like
//! a trap, fuel or a timeout, drops that campaign alone. Then:
//! - `stackable`: applies, its discounts after those of the campaigns before it, so the
//!   money rules cap each at what those left of the line and the bill;
//! - `exclusive`: applies; when it adds anything, no campaign after it applies;
//! - `bestOf`: the group is decided where its first (highest-priority) campaign stands:
//!   of the group's campaigns that answered, the one adding the most money on top of what
//!   already applies (exact, after the caps) applies, ties to the higher priority; the
//!   others of the group do not.
//!
//! What a campaign "adds" is the bill's total discount with it minus without it, so an
//! answer whose every line is capped to nothing adds nothing. The result keeps, per
//! discount, which campaign asked for it, and per campaign a note of what became of it,
//! for the evaluation log.

use std::collections::HashSet;

use rabat_domain::model::{DiscountRequest, Evaluation, Order};
use rabat_domain::money::{self, MAX_DISCOUNTS};
use rust_decimal::Decimal;

use crate::store::{Campaign, StackingMode};

/// The longest combined cashier message, in characters.
pub const MAX_MESSAGE_CHARS: usize = 120;

/// One campaign's run: its answer, or why it has none.
#[derive(Debug, Clone)]
pub struct Ran<'a> {
    pub campaign: &'a Campaign,
    pub result: Result<Evaluation, String>,
}

/// The campaigns' answers, combined.
#[derive(Debug, Clone, Default)]
pub struct Combined {
    /// The discounts of the campaigns that apply, in run order, and the message.
    pub evaluation: Evaluation,
    /// For each discount of `evaluation`, the index (in the input) of its campaign.
    pub owners: Vec<usize>,
    /// The indexes of the campaigns that apply and add something, in run order.
    pub applied: Vec<usize>,
    /// Per campaign (input order), what became of it.
    pub notes: Vec<String>,
}

/// How a campaign is named in the log: `campaign #3 'happy hour' (v2)`.
pub fn label(campaign: &Campaign) -> String {
    format!(
        "campaign #{} '{}' (v{})",
        campaign.id, campaign.name, campaign.policy_version
    )
}

fn total(order: &Order, discounts: &[DiscountRequest]) -> Decimal {
    let evaluation = Evaluation {
        discounts: discounts.to_vec(),
        message: None,
    };
    money::discount_response(order, &evaluation).map_or(Decimal::ZERO, |r| r.total_discount)
}

/// Combines `ran` (in run order) for `order`.
pub fn combine(order: &Order, ran: &[Ran<'_>]) -> Combined {
    let mut notes = vec![String::new(); ran.len()];
    // Each answer alone: valid, and its own cashier message.
    let mut alone: Vec<Option<(Evaluation, String)>> = Vec::with_capacity(ran.len());
    for (i, run) in ran.iter().enumerate() {
        alone.push(match &run.result {
            Ok(evaluation) => match money::discount_response(order, evaluation) {
                Ok(response) => Some((evaluation.clone(), response.message)),
                Err(invalid) => {
                    notes[i] = format!("dropped: invalid answer: {invalid}");
                    None
                }
            },
            Err(failure) => {
                notes[i] = format!("dropped: {failure}");
                None
            }
        });
    }
    let mut discounts: Vec<DiscountRequest> = Vec::new();
    let mut owners: Vec<usize> = Vec::new();
    let mut applied: Vec<usize> = Vec::new();
    let mut now_total = Decimal::ZERO;
    let mut stopped_by: Option<usize> = None;
    let mut groups_done: HashSet<&str> = HashSet::new();
    let with = |discounts: &[DiscountRequest], extra: &[DiscountRequest]| {
        let mut all = discounts.to_vec();
        all.extend_from_slice(extra);
        all
    };
    for (i, run) in ran.iter().enumerate() {
        if alone[i].is_none() {
            continue;
        }
        if let Some(by) = stopped_by {
            notes[i] = format!(
                "not applied: exclusive {} gave a discount first",
                label(ran[by].campaign)
            );
            continue;
        }
        let candidate = match (run.campaign.mode, run.campaign.group.as_deref()) {
            (StackingMode::BestOf, Some(group)) => {
                if !groups_done.insert(group) {
                    // Decided where the group's first campaign stands; its note is set.
                    continue;
                }
                // Every member that answered, in run order; the first largest gain wins.
                let mut best: Option<(usize, Decimal)> = None;
                let mut gains = Vec::new();
                for (j, member) in ran.iter().enumerate().skip(i) {
                    if member.campaign.mode != StackingMode::BestOf
                        || member.campaign.group.as_deref() != Some(group)
                    {
                        continue;
                    }
                    let Some((member_eval, _)) = &alone[j] else {
                        continue;
                    };
                    let all = with(&discounts, &member_eval.discounts);
                    let gain = if all.len() > MAX_DISCOUNTS {
                        Decimal::ZERO
                    } else {
                        total(order, &all) - now_total
                    };
                    gains.push((j, gain));
                    if best.is_none_or(|(_, most)| gain > most) {
                        best = Some((j, gain));
                    }
                }
                let Some((winner, most)) = best else {
                    continue;
                };
                for (j, gain) in gains {
                    if j != winner {
                        notes[j] = format!(
                            "not applied: {} gave more in bestOf group '{group}' ({most} against {gain})",
                            label(ran[winner].campaign)
                        );
                    }
                }
                winner
            }
            _ => i,
        };
        let Some((chosen, _)) = &alone[candidate] else {
            continue;
        };
        let chosen = &chosen.discounts;
        let all = with(&discounts, chosen);
        if all.len() > MAX_DISCOUNTS {
            notes[candidate] = format!(
                "dropped: with the campaigns before it the bill would have {} discounts; at most {MAX_DISCOUNTS} are allowed",
                all.len()
            );
            continue;
        }
        let after = total(order, &all);
        let gain = after - now_total;
        owners.extend(std::iter::repeat_n(candidate, chosen.len()));
        discounts = all;
        now_total = after;
        if gain > Decimal::ZERO {
            applied.push(candidate);
            notes[candidate] = format!("applied: {gain} off");
            if ran[candidate].campaign.mode == StackingMode::Exclusive {
                stopped_by = Some(candidate);
            }
        } else {
            notes[candidate] = "applied: adds nothing".to_owned();
        }
    }
    let message = match applied.as_slice() {
        [] => None,
        [one] => alone[*one].as_ref().map(|(_, message)| message.clone()),
        several => {
            let joined = several
                .iter()
                .filter_map(|i| alone[*i].as_ref().map(|(_, m)| m.as_str()))
                .collect::<Vec<_>>()
                .join("; ");
            Some(shortened(&joined, MAX_MESSAGE_CHARS))
        }
    };
    Combined {
        evaluation: Evaluation { discounts, message },
        owners,
        applied,
        notes,
    }
}

/// `text` cut to at most `max` characters, ending in "…" when cut.
pub(crate) fn shortened(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let mut cut: String = text.chars().take(max.saturating_sub(1)).collect();
    cut.push('…');
    cut
}

#[cfg(test)]
mod tests {
    use rabat_domain::model::{DiscountKind, OrderItem, Pos};
    use serde_json::json;

    use super::*;
    use crate::store::CampaignState;

    fn campaign(id: i64, priority: i64, mode: StackingMode, group: Option<&str>) -> Campaign {
        Campaign {
            id,
            name: format!("c{id}"),
            policy_version: 1,
            config: json!({}),
            starts_at: None,
            ends_at: None,
            priority,
            mode,
            group: group.map(str::to_owned),
            limits: None,
            state: CampaignState::Active,
            is_default: false,
            created_at: 0,
            updated_at: 0,
        }
    }

    fn bill_percent(percentage: i64) -> Result<Evaluation, String> {
        Ok(Evaluation {
            discounts: vec![DiscountRequest {
                kind: DiscountKind::PercentageOnBill {
                    percentage: Decimal::from(percentage),
                },
                description: format!("{percentage}% off"),
                points: 0,
                coupon: None,
                divisible: false,
            }],
            message: None,
        })
    }

    fn order() -> Order {
        let hundred = Decimal::new(10000, 2);
        Order {
            order_id: "o1".into(),
            pos: Pos::Papaya,
            status: "open".into(),
            total: hundred,
            total_without_vat: None,
            vat: None,
            currency: "EUR".into(),
            created: None,
            updated: None,
            branch_id: None,
            note: None,
            items: vec![OrderItem {
                id: "1".into(),
                product_id: "p1".into(),
                name: "Tea".into(),
                description: None,
                quantity: Decimal::ONE,
                unit_price: hundred,
                total_price: hundred,
                vat: None,
                vat_rate: None,
                category_id: None,
                category_name: None,
                ean: None,
                note: None,
            }],
            attributes: Vec::new(),
        }
    }

    fn response(order: &Order, combined: &Combined) -> Decimal {
        money::discount_response(order, &combined.evaluation)
            .unwrap()
            .total_discount
    }

    #[test]
    fn stackable_campaigns_all_apply_each_on_what_is_left() {
        let a = campaign(1, 10, StackingMode::Stackable, None);
        let b = campaign(2, 5, StackingMode::Stackable, None);
        let ran = [
            Ran {
                campaign: &a,
                result: bill_percent(10),
            },
            Ran {
                campaign: &b,
                result: bill_percent(10),
            },
        ];
        let combined = combine(&order(), &ran);
        assert_eq!(combined.applied, [0, 1]);
        // 10.00, then 10 % of the 90.00 left.
        assert_eq!(response(&order(), &combined), Decimal::new(1900, 2));
        assert_eq!(combined.owners, [0, 1]);
        assert_eq!(
            combined.evaluation.message.as_deref(),
            Some("10% off; 10% off")
        );
    }

    #[test]
    fn an_exclusive_campaign_that_gives_stops_the_lower_ones() {
        let a = campaign(1, 10, StackingMode::Exclusive, None);
        let b = campaign(2, 5, StackingMode::Stackable, None);
        let ran = [
            Ran {
                campaign: &a,
                result: bill_percent(20),
            },
            Ran {
                campaign: &b,
                result: bill_percent(10),
            },
        ];
        let combined = combine(&order(), &ran);
        assert_eq!(combined.applied, [0]);
        assert!(
            combined.notes[1].contains("exclusive campaign #1"),
            "{:?}",
            combined.notes
        );
        // An exclusive campaign that gives nothing stops nothing.
        let ran = [
            Ran {
                campaign: &a,
                result: Ok(Evaluation::default()),
            },
            Ran {
                campaign: &b,
                result: bill_percent(10),
            },
        ];
        assert_eq!(combine(&order(), &ran).applied, [1]);
    }

    #[test]
    fn best_of_takes_the_member_giving_most_ties_to_priority() {
        let a = campaign(1, 10, StackingMode::BestOf, Some("g"));
        let b = campaign(2, 5, StackingMode::BestOf, Some("g"));
        let c = campaign(3, 1, StackingMode::Stackable, None);
        let ran = [
            Ran {
                campaign: &a,
                result: bill_percent(10),
            },
            Ran {
                campaign: &b,
                result: bill_percent(30),
            },
            Ran {
                campaign: &c,
                result: bill_percent(50),
            },
        ];
        let combined = combine(&order(), &ran);
        assert_eq!(combined.applied, [1, 2]);
        assert!(combined.notes[0].contains("gave more in bestOf group 'g'"));
        let ran = [
            Ran {
                campaign: &a,
                result: bill_percent(10),
            },
            Ran {
                campaign: &b,
                result: bill_percent(10),
            },
        ];
        assert_eq!(combine(&order(), &ran).applied, [0]);
    }

    #[test]
    fn a_failed_or_invalid_campaign_drops_alone() {
        let a = campaign(1, 10, StackingMode::Exclusive, None);
        let b = campaign(2, 5, StackingMode::Stackable, None);
        let c = campaign(3, 1, StackingMode::Stackable, None);
        let ran = [
            Ran {
                campaign: &a,
                result: Err("trap: unreachable".into()),
            },
            Ran {
                campaign: &b,
                result: bill_percent(150),
            },
            Ran {
                campaign: &c,
                result: bill_percent(10),
            },
        ];
        let combined = combine(&order(), &ran);
        assert_eq!(combined.applied, [2]);
        assert_eq!(combined.notes[0], "dropped: trap: unreachable");
        assert!(combined.notes[1].starts_with("dropped: invalid answer"));
        assert_eq!(combined.evaluation.message.as_deref(), Some("10% off"));
    }
}
