//! Points over time (issue 19): the merchant's rules for expiry and vesting, a card's
//! points as they stand (spendable, pending, held, the next expiry, its lots), and the
//! task that vests and expires lots on every replica (`rabat_store::Store::age_points`
//! makes each happen once).

use std::time::Duration;

use rabat_domain::lots::PointsRules;
use rabat_store::{AgingReport, Lot, PointsSummary, Store};
use serde::Serialize;

use super::{Actor, ServiceError, ServiceResult};

/// How often the points task runs on each replica.
pub const AGING_EVERY: Duration = Duration::from_secs(60);
/// Cards read per page of a run.
const AGING_PAGE: u32 = 200;

/// A card's points with its lots.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CardPoints {
    #[serde(flatten)]
    pub summary: PointsSummary,
    /// Lots with points left (or owed: a debt lot), oldest first.
    pub lots: Vec<Lot>,
}

/// Sets the merchant's rules (every problem named, field by field), audited with how many
/// existing lots got an expiry counted from now.
pub async fn set_rules(
    store: &Store,
    actor: &Actor,
    merchant: &str,
    rules: &PointsRules,
) -> ServiceResult<u64> {
    let problems = rules.problems();
    if !problems.is_empty() {
        let text = problems
            .iter()
            .map(|(field, why)| format!("{field} {why}"))
            .collect::<Vec<_>>()
            .join("; ");
        return Err(ServiceError::Invalid(text));
    }
    let audit = |dated: &u64| {
        actor.did(
            "points_rules.set",
            serde_json::json!({"rules": rules, "lotsDated": dated}),
        )
    };
    Ok(store.set_points_rules(merchant, rules, audit).await?)
}

/// The card's points at `now`, with its lots.
pub async fn card_points(
    store: &Store,
    merchant: &str,
    card_id: &str,
    now: i64,
) -> ServiceResult<CardPoints> {
    let summary = store.points_summary(merchant, card_id, now).await?;
    let lots = store.card_lots(merchant, card_id).await?;
    Ok(CardPoints { summary, lots })
}

/// One run of the points task at `now` (what the background task calls every
/// [`AGING_EVERY`]).
pub async fn age(store: &Store, now: i64) -> ServiceResult<AgingReport> {
    Ok(store.age_points(now, AGING_PAGE).await?)
}
