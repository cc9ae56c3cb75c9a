//! What a completed bill does to its card besides the points it earns (contract 0.2): the
//! redemption of points held for its order (a `burn` ledger row of its own), the release
//! of the order's hold, and the tier and tags the policy's `accrue` changed (shown on the
//! bill's ledger row, audited). All of it runs inside the bill's own transaction, after
//! the bill's row is written, through [`apply_burn_and_card_changes!`]: exactly once,
//! because only the call that inserted the bill's row gets there.
//!
//! Bounds: a redemption is never more than the order holds (for this card, unexpired), never more
//! than `accrue` asked, and never takes the balance below zero. Card changes are bounded
//! like the admin API's; whatever does not fit is dropped and noted, never a failure.

use rabat_domain::limits::MAX_CARD_TAGS;
use rabat_domain::model::Card;
use serde_json::{Map, Value, json};

/// What the policy asked a completed bill to do beyond earning points. The default does
/// nothing (a 0.1 policy, or a failed `accrue`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Settlement {
    /// Of the points held for the order, how many to take off the card.
    pub redeem: u64,
    /// The card's new tier (already checked by the caller: not empty, bounded).
    pub set_tier: Option<String>,
    /// Tags to add (already checked one by one by the caller).
    pub add_tags: Vec<String>,
    /// Tags to take off.
    pub remove_tags: Vec<String>,
    /// Codes of the order's held coupons that the bill took, to redeem (contract 0.3).
    pub redeem_coupons: Vec<String>,
    /// Batches (by name) to issue one code each from to the card (contract 0.3; the
    /// caller bounds how many).
    pub issue_coupons: Vec<String>,
    /// Changes the caller dropped as invalid, with the reason: noted on the ledger row.
    pub dropped: Vec<String>,
    /// The policy version whose `accrue` asked for this, for the card change's audit row.
    pub policy_version: Option<i64>,
}

/// A card's tier and tags after a settlement, and what changed (`None`: nothing changed
/// and nothing was dropped).
pub(crate) struct CardAfter {
    pub tier: Option<String>,
    pub tags: Vec<String>,
    /// Whether the tier or the tags differ from the card's.
    pub changed: bool,
    pub note: Option<Value>,
}

/// Removes, then adds (a tag in both ends up on the card), keeping the card's order and
/// at most [`MAX_CARD_TAGS`] tags.
pub(crate) fn card_after(card: &Card, settlement: &Settlement) -> CardAfter {
    let mut dropped = settlement.dropped.clone();
    let mut tags: Vec<String> = card
        .tags
        .iter()
        .filter(|tag| !settlement.remove_tags.contains(tag))
        .cloned()
        .collect();
    let removed: Vec<String> = card
        .tags
        .iter()
        .filter(|tag| !tags.contains(tag))
        .cloned()
        .collect();
    let mut added = Vec::new();
    for tag in &settlement.add_tags {
        if tags.contains(tag) {
            continue;
        }
        if tags.len() >= MAX_CARD_TAGS {
            dropped.push(format!(
                "addTags '{tag}' dropped: the card already has {MAX_CARD_TAGS} tags"
            ));
            continue;
        }
        tags.push(tag.clone());
        added.push(tag.clone());
    }
    // A tag removed and added back is no change.
    let removed: Vec<String> = removed.into_iter().filter(|t| !tags.contains(t)).collect();
    let added: Vec<String> = added
        .into_iter()
        .filter(|t| !card.tags.contains(t))
        .collect();
    let tier = match &settlement.set_tier {
        Some(tier) => Some(tier.clone()),
        None => card.tier.clone(),
    };
    let mut note = Map::new();
    if tier != card.tier {
        note.insert("tier".into(), json!({"from": card.tier, "to": tier}));
    }
    if !added.is_empty() {
        note.insert("addedTags".into(), json!(added));
    }
    if !removed.is_empty() {
        note.insert("removedTags".into(), json!(removed));
    }
    let changed = !note.is_empty();
    if !dropped.is_empty() {
        note.insert("dropped".into(), json!(dropped));
    }
    CardAfter {
        tier,
        tags,
        changed,
        note: (!note.is_empty()).then_some(Value::Object(note)),
    }
}

/// How many points a bill's redemption takes: what `accrue` asked, at most what the
/// order holds for this card, and never taking a balance below zero.
pub(crate) fn redemption(asked: u64, held: i64, balance: i64) -> i64 {
    let asked = i64::try_from(asked).unwrap_or(i64::MAX);
    asked.min(held).min(balance).max(0)
}

/// Inside a bill's transaction `$tx` (after its ledger row `$row_id` is written and the
/// card's totals updated to `$balance`), for the merchant `$merchant`, the bill
/// `$record` (a `TransactionRecord`), its `$settlement` (a [`Settlement`]), the locked
/// card as it was (`$card`) and the time `$now`: takes the redemption as a `burn` row, releases the order's hold, applies the
/// card changes and notes them on the bill's row, with their audit row. Evaluates to
/// `Result<(Settled, Vec<Usage>)>`: the pools the bill used, for `add_usage` once every
/// card of the transaction is locked.
macro_rules! apply_burn_and_card_changes {
    ($tx:expr, $merchant:expr, $record:expr, $settlement:expr, $card:expr, $balance:expr,
     $row_id:expr, $now:expr) => {{
        async {
            let record: &$crate::TransactionRecord = $record;
            let settlement: &$crate::Settlement = $settlement;
            let card: &rabat_domain::model::Card = $card;
            let mut balance: i64 = $balance;
            // The order's campaign reservations become the bill's uses first (they are
            // deleted with the header below).
            let usage = $crate::reservations::take_reservations(
                &mut $crate::engine::WriteConn::from(&mut *$tx),
                $merchant,
                &record.order_id,
                &record.card_id,
                $now,
                &settlement.redeem_coupons,
            )
            .await?;
            let hold: Option<(String, i64, i64)> = sqlx::query_as(
                "DELETE FROM holds WHERE merchant_id = $1 AND order_id = $2
                 RETURNING card_id, points, expires_at",
            )
            .bind($merchant)
            .bind(&record.order_id)
            .fetch_optional(&mut *$tx)
            .await?;
            // An expired hold holds nothing: its points may have been offered again since.
            let held = match hold {
                Some((card_id, points, expires_at))
                    if card_id == record.card_id && expires_at > $now =>
                {
                    points
                }
                _ => 0,
            };
            let taken = $crate::burn::redemption(settlement.redeem, held, balance);
            let mut burn = None;
            if taken > 0 {
                balance -= taken;
                let reason = format!("{taken} of {held} held points redeemed");
                let (id,): (i64,) = sqlx::query_as(
                    "INSERT INTO ledger (merchant_id, kind, order_id, card_id, points,
                        points_balance, reason, occurred_at, recorded_at, pos)
                     VALUES ($1, 'burn', $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id",
                )
                .bind($merchant)
                .bind(&record.order_id)
                .bind(&record.card_id)
                .bind(-taken)
                .bind(balance)
                .bind(&reason)
                .bind(record.occurred_at)
                .bind($now)
                .bind(record.pos.as_str())
                .fetch_one(&mut *$tx)
                .await?;
                sqlx::query("UPDATE cards SET points = $3 WHERE merchant_id = $1 AND card_id = $2")
                    .bind($merchant)
                    .bind(&record.card_id)
                    .bind(balance)
                    .execute(&mut *$tx)
                    .await?;
                $crate::lots::move_points(
                    &mut $crate::engine::WriteConn::from(&mut *$tx),
                    $merchant,
                    &record.card_id,
                    $crate::lots::Movement::earned(-taken, id),
                    $now,
                )
                .await?;
                burn = Some($crate::LedgerEntry {
                    id,
                    kind: $crate::EntryKind::Burn,
                    order_id: Some(record.order_id.clone()),
                    card_id: record.card_id.clone(),
                    request_hash: None,
                    total: None,
                    points: -taken,
                    points_balance: balance,
                    reason: Some(reason),
                    occurred_at: record.occurred_at,
                    recorded_at: $now,
                    pos: Some(record.pos),
                    request: None,
                    accrual_error: None,
                    card_changes: None,
                });
            }
            let after = $crate::burn::card_after(card, settlement);
            if after.changed {
                let tags = serde_json::to_string(&after.tags)
                    .map_err(|e| $crate::StoreError::Invalid(e.to_string()))?;
                sqlx::query(
                    "UPDATE cards SET tier = $3, tags = $4 WHERE merchant_id = $1 AND card_id = $2",
                )
                .bind($merchant)
                .bind(&record.card_id)
                .bind(&after.tier)
                .bind(&tags)
                .execute(&mut *$tx)
                .await?;
            }
            // Coupons the policy issues to the card, in the bill's transaction: a code of
            // the batch's pattern (or a free imported code, never waiting on a lock).
            let mut issued = Vec::new();
            let mut not_issued = Vec::new();
            for batch in &settlement.issue_coupons {
                match $crate::coupons::issue_in(
                    $crate::engine::WriteConn::from(&mut *$tx),
                    $merchant,
                    $crate::coupons::BatchRef::Name(batch),
                    &record.card_id,
                    $now,
                )
                .await?
                {
                    Ok(code) => issued.push(serde_json::json!({"batch": batch, "code": code})),
                    Err(why) => not_issued.push(format!("issueCoupons '{batch}' dropped: {why}")),
                }
            }
            let mut after = after;
            if !issued.is_empty() || !not_issued.is_empty() || !settlement.redeem_coupons.is_empty() {
                let mut note = match after.note.take() {
                    Some(serde_json::Value::Object(map)) => map,
                    _ => serde_json::Map::new(),
                };
                if !issued.is_empty() {
                    note.insert("issuedCoupons".into(), serde_json::Value::Array(issued.clone()));
                }
                if !settlement.redeem_coupons.is_empty() {
                    note.insert("redeemCoupons".into(), serde_json::json!(settlement.redeem_coupons));
                }
                if !not_issued.is_empty() {
                    let dropped = note.entry("dropped").or_insert_with(|| serde_json::json!([]));
                    if let Some(list) = dropped.as_array_mut() {
                        list.extend(not_issued.into_iter().map(serde_json::Value::String));
                    }
                }
                after.note = Some(serde_json::Value::Object(note));
            }
            if !issued.is_empty() {
                let detail = serde_json::json!({
                    "cardId": record.card_id, "orderId": record.order_id,
                    "policyVersion": settlement.policy_version, "issued": issued,
                });
                let audit = $crate::AuditRecord::now("policy", "coupon.issue", detail);
                insert_audit!($tx, $merchant, &audit)?;
            }
            if let Some(note) = &after.note {
                sqlx::query("UPDATE ledger SET card_changes = $2 WHERE id = $1")
                    .bind($row_id)
                    .bind(note.to_string())
                    .execute(&mut *$tx)
                    .await?;
                if after.changed {
                    let detail = serde_json::json!({
                        "cardId": record.card_id, "orderId": record.order_id,
                        "policyVersion": settlement.policy_version, "changes": note,
                    });
                    let audit = $crate::AuditRecord::now("policy", "card.policy_change", detail);
                    insert_audit!($tx, $merchant, &audit)?;
                }
            }
            Ok::<_, $crate::StoreError>(($crate::burn::Settled {
                burn,
                card_changes: after.note,
            }, usage))
        }
        .await
    }};
}

/// What [`apply_burn_and_card_changes!`] did.
#[derive(Debug, Clone, PartialEq)]
pub struct Settled {
    /// The redemption's ledger row, if points were taken.
    pub burn: Option<crate::LedgerEntry>,
    /// The card changes as noted on the bill's row.
    pub card_changes: Option<Value>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn card(tier: Option<&str>, tags: &[&str]) -> Card {
        let mut card = Card::new("c");
        card.tier = tier.map(str::to_owned);
        card.tags = tags.iter().map(|t| (*t).to_owned()).collect();
        card
    }

    #[test]
    fn a_redemption_is_bounded_by_the_hold_the_ask_and_the_balance() {
        assert_eq!(redemption(500, 500, 1000), 500);
        assert_eq!(redemption(800, 500, 1000), 500);
        assert_eq!(redemption(300, 500, 1000), 300);
        assert_eq!(redemption(500, 500, 200), 200);
        assert_eq!(redemption(500, 500, -5), 0);
        assert_eq!(redemption(0, 500, 1000), 0);
        assert_eq!(redemption(u64::MAX, 0, i64::MAX), 0);
    }

    #[test]
    fn nothing_asked_changes_nothing() {
        let after = card_after(&card(Some("gold"), &["a"]), &Settlement::default());
        assert!(!after.changed);
        assert_eq!(after.note, None);
        assert_eq!(after.tier.as_deref(), Some("gold"));
        assert_eq!(after.tags, ["a"]);
    }

    #[test]
    fn tier_and_tags_change_and_are_noted() {
        let settlement = Settlement {
            set_tier: Some("gold".into()),
            add_tags: vec!["b".into(), "a".into()],
            remove_tags: vec!["x".into(), "gone".into()],
            ..Settlement::default()
        };
        let after = card_after(&card(Some("silver"), &["a", "x"]), &settlement);
        assert!(after.changed);
        assert_eq!(after.tags, ["a", "b"]);
        assert_eq!(
            after.note,
            Some(json!({
                "tier": {"from": "silver", "to": "gold"},
                "addedTags": ["b"],
                "removedTags": ["x"],
            }))
        );
    }

    #[test]
    fn setting_the_same_tier_or_removing_and_adding_a_tag_is_no_change() {
        let settlement = Settlement {
            set_tier: Some("gold".into()),
            add_tags: vec!["a".into()],
            remove_tags: vec!["a".into()],
            ..Settlement::default()
        };
        let after = card_after(&card(Some("gold"), &["a"]), &settlement);
        assert!(!after.changed);
        assert_eq!(after.note, None);
    }

    #[test]
    fn tags_past_the_bound_are_dropped_and_noted() {
        let full: Vec<String> = (0..MAX_CARD_TAGS).map(|i| format!("t{i}")).collect();
        let mut full_card = Card::new("c");
        full_card.tags = full.clone();
        let settlement = Settlement {
            add_tags: vec!["one-more".into()],
            dropped: vec!["setTier dropped: must not be empty".into()],
            ..Settlement::default()
        };
        let after = card_after(&full_card, &settlement);
        assert!(!after.changed);
        assert_eq!(after.tags, full);
        assert_eq!(
            after.note,
            Some(json!({"dropped": [
                "setTier dropped: must not be empty",
                format!("addTags 'one-more' dropped: the card already has {MAX_CARD_TAGS} tags"),
            ]}))
        );
    }
}
