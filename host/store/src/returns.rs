//! Returns (issue 19): a recorded bill returned whole or in part, exactly once per return
//! id, in one transaction under the card's lock: the points it earned taken back and the
//! points it burned given back, pro rata to the returned value by the cumulative floor
//! (`rabat_domain::returns`), each as a ledger row of its own (an adjustment naming the
//! return); a whole return also restores the coupon codes the bill redeemed. A card never
//! goes below zero: what cannot be taken is the return's `shortfall`, recorded and shown.

use std::collections::BTreeMap;

use rust_decimal::Decimal;
use serde::Serialize;

use rabat_domain::budget::{PoolKey, Scope};
use rabat_domain::returns::this_return;

use super::cards::{CardRow, LOCK_CARD};
use super::ledger::INSERT_ADJUSTMENT;
use super::{AuditOf, Entity, Result, Store, StoreError, now_ms};

/// One returned line: how much of it, of how much bought, worth what.
#[derive(Debug, Clone, PartialEq)]
pub struct ReturnedLine {
    pub line_id: String,
    pub quantity: Decimal,
    /// The line's quantity on the bill.
    pub bought: Decimal,
    /// The returned quantity's share of the line's total.
    pub value: Decimal,
}

/// A return to record.
#[derive(Debug, Clone, PartialEq)]
pub struct NewReturn {
    pub return_id: String,
    pub order_id: String,
    /// Tells a repeat (the same hash) from another return under the same id.
    pub request_hash: String,
    /// The lines returned; `None`: the whole bill (what earlier returns left of it).
    pub lines: Option<Vec<ReturnedLine>>,
}

/// Campaign usage a return gave back: of one pool (campaign, scope, period), an amount in
/// units of 1/10 000 of the currency (pro rata, by the cumulative floor) and, when the bill
/// is returned whole, its redemption.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UsageGiven {
    pub campaign_id: i64,
    /// `budget`, `card` or `branch`.
    pub scope: String,
    pub period_start: i64,
    pub amount_units: i64,
    pub count: i64,
}

/// A return as recorded.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Return {
    pub return_id: String,
    pub order_id: String,
    pub card_id: String,
    /// What this return gave back of the bill's total.
    #[serde(with = "rust_decimal::serde::str")]
    #[schema(value_type = String)]
    pub value: Decimal,
    /// Whether the bill is now returned whole (this return or with the earlier ones).
    pub whole: bool,
    /// Line id → quantity returned by this return (empty for a whole return).
    #[schema(value_type = BTreeMap<String, String>)]
    pub lines: BTreeMap<String, String>,
    /// Points the bill earned that this return took back.
    pub points_taken: i64,
    /// Points the bill burned that this return gave back.
    pub points_given: i64,
    /// Points it should have taken but could not without the card going below zero.
    pub shortfall: i64,
    /// Coupon codes the bill redeemed that this return restored.
    pub coupons: Vec<String>,
    /// The campaign budget and limit usage this return gave back.
    pub usage: Vec<UsageGiven>,
    pub created_at: i64,
    /// False when this answer is a repeat of a return recorded before.
    pub new: bool,
}

type ReturnRow = (
    String,
    String,
    String,
    String,
    String,
    i64,
    String,
    i64,
    i64,
    i64,
    String,
    String,
    i64,
);

fn return_of(row: ReturnRow, new: bool) -> Result<Return> {
    let (
        return_id,
        order_id,
        card_id,
        _hash,
        value,
        whole,
        lines,
        taken,
        given,
        short,
        coupons,
        usage,
        at,
    ) = row;
    Ok(Return {
        return_id,
        order_id,
        card_id,
        value: value
            .parse()
            .map_err(|e| StoreError::corrupt(format!("return value '{value}': {e}")))?,
        whole: whole == 1,
        lines: serde_json::from_str(&lines)
            .map_err(|e| StoreError::corrupt(format!("return lines: {e}")))?,
        points_taken: taken,
        points_given: given,
        shortfall: short,
        coupons: serde_json::from_str(&coupons)
            .map_err(|e| StoreError::corrupt(format!("return coupons: {e}")))?,
        usage: serde_json::from_str(&usage)
            .map_err(|e| StoreError::corrupt(format!("return usage: {e}")))?,
        created_at: at,
        new,
    })
}

const SELECT_RETURN: &str = "SELECT return_id, order_id, card_id, request_hash, value, whole,
        lines, points_taken, points_given, shortfall, coupons, usage, created_at
     FROM returns WHERE merchant_id = $1 AND return_id = $2";

impl Store {
    /// Records a return of the recorded bill `ret.order_id` (see the module docs). A repeat
    /// (same id, same request) answers the recorded return; another request under that id
    /// is a conflict; an unknown bill is not found; returning more of a line than the bill
    /// had (with the earlier returns), or anything of a bill returned whole already, is
    /// invalid, naming the line.
    pub async fn record_return(
        &self,
        merchant: &str,
        ret: &NewReturn,
        audit: impl AuditOf<Return>,
    ) -> Result<Return> {
        let now = now_ms();
        let recorded = with_pool!(self, pool => {
            let mut tx = self.turn.begin(pool).await?;
            let existing: Option<ReturnRow> = sqlx::query_as(SELECT_RETURN)
                .bind(merchant)
                .bind(&ret.return_id)
                .fetch_optional(&mut *tx)
                .await?;
            if let Some(row) = existing {
                if row.3 == ret.request_hash {
                    return return_of(row, false);
                }
                return Err(StoreError::Conflict {
                    entity: Entity::Return,
                    id: ret.return_id.clone(),
                    reason: "another return was recorded under this id",
                });
            }
            let bill: Option<(i64, String, String, i64)> = sqlx::query_as(
                "SELECT id, card_id, total, points FROM ledger
                 WHERE merchant_id = $1 AND order_id = $2 AND kind = 'transaction'",
            )
            .bind(merchant)
            .bind(&ret.order_id)
            .fetch_optional(&mut *tx)
            .await?;
            let (bill_id, card_id, total, earned) =
                bill.ok_or_else(|| StoreError::not_found(Entity::Order, &ret.order_id))?;
            let total: Decimal = total
                .parse()
                .map_err(|e| StoreError::corrupt(format!("bill total '{total}': {e}")))?;
            let (burned,): (i64,) = sqlx::query_as(
                "SELECT CAST(COALESCE(SUM(-points), 0) AS BIGINT) FROM ledger
                 WHERE merchant_id = $1 AND order_id = $2 AND kind = 'burn'",
            )
            .bind(merchant)
            .bind(&ret.order_id)
            .fetch_one(&mut *tx)
            .await?;
            // The card first (the lock every writer of it takes), then the bill's returns.
            let card: Option<CardRow> = sqlx::query_as(LOCK_CARD)
                .bind(merchant)
                .bind(&card_id)
                .bind(now)
                .fetch_optional(&mut *tx)
                .await?;
            let card = card
                .ok_or_else(|| StoreError::not_found(Entity::Card, &card_id))?
                .into_card()?;
            let earlier: Vec<(String, i64, String)> = sqlx::query_as(
                "SELECT value, whole, lines FROM returns WHERE merchant_id = $1 AND order_id = $2",
            )
            .bind(merchant)
            .bind(&ret.order_id)
            .fetch_all(&mut *tx)
            .await?;
            let mut before = Decimal::ZERO;
            let mut returned: BTreeMap<String, Decimal> = BTreeMap::new();
            for (value, whole, lines) in &earlier {
                if *whole == 1 {
                    return Err(StoreError::Invalid(format!(
                        "order '{}' is returned whole already",
                        ret.order_id
                    )));
                }
                before += value.parse::<Decimal>().map_err(|e| StoreError::corrupt(format!("return value: {e}")))?;
                let lines: BTreeMap<String, String> = serde_json::from_str(lines)
                    .map_err(|e| StoreError::corrupt(format!("return lines: {e}")))?;
                for (line, quantity) in lines {
                    let quantity: Decimal = quantity.parse().map_err(|e| StoreError::corrupt(format!("return quantity: {e}")))?;
                    *returned.entry(line).or_default() += quantity;
                }
            }
            let (value, lines) = match &ret.lines {
                None => (total - before, BTreeMap::new()),
                Some(asked) => {
                    let mut value = Decimal::ZERO;
                    let mut lines = BTreeMap::new();
                    for line in asked {
                        let already = returned.get(&line.line_id).copied().unwrap_or_default();
                        if already + line.quantity > line.bought {
                            return Err(StoreError::Invalid(format!(
                                "line '{}': {} returned of {} bought ({} returned before)",
                                line.line_id, line.quantity, line.bought, already
                            )));
                        }
                        value += line.value;
                        lines.insert(line.line_id.clone(), line.quantity.to_string());
                    }
                    (value.min(total - before), lines)
                }
            };
            let whole = ret.lines.is_none() || before + value >= total;
            let taken_wanted = this_return(earned, before, value, total);
            let given = this_return(burned, before, value, total);
            // Given back first, then taken, never below zero: the rest is the shortfall.
            let mut balance = card.points.checked_add(given).ok_or_else(|| StoreError::Invalid("the card's balance would overflow".into()))?;
            let taken = taken_wanted.min(balance.max(0));
            let shortfall = taken_wanted - taken;
            let what = format!("return '{}' of order '{}'", ret.return_id, ret.order_id);
            if given > 0 {
                let (id,): (i64,) = sqlx::query_as(INSERT_ADJUSTMENT)
                    .bind(merchant)
                    .bind(&card_id)
                    .bind(given)
                    .bind(balance)
                    .bind(format!("{what}: {given} of {burned} paid points given back"))
                    .bind(now)
                    .fetch_one(&mut *tx)
                    .await?;
                // A new lot, dated now (vesting and expiry as for any earning).
                crate::lots::move_points(
                    &mut crate::engine::WriteConn::from(&mut *tx), merchant, &card_id,
                    crate::lots::Movement { source: crate::LotSource::Returned, ..crate::lots::Movement::earned(given, id) },
                    now,
                )
                .await?;
            }
            if taken > 0 || shortfall > 0 {
                balance -= taken;
                let short = if shortfall > 0 {
                    format!("; {shortfall} could not be taken (the card has no more)")
                } else {
                    String::new()
                };
                if taken > 0 {
                    let (id,): (i64,) = sqlx::query_as(INSERT_ADJUSTMENT)
                        .bind(merchant)
                        .bind(&card_id)
                        .bind(-taken)
                        .bind(balance)
                        .bind(format!("{what}: {taken} of {earned} earned points taken back{short}"))
                        .bind(now)
                        .fetch_one(&mut *tx)
                        .await?;
                    // From the bill's own lot first (pending or not), then the oldest.
                    crate::lots::move_points(
                        &mut crate::engine::WriteConn::from(&mut *tx), merchant, &card_id,
                        crate::lots::Movement { prefer: Some(bill_id), ..crate::lots::Movement::earned(-taken, id) },
                        now,
                    )
                    .await?;
                }
            }
            sqlx::query("UPDATE cards SET points = $3 WHERE merchant_id = $1 AND card_id = $2")
                .bind(merchant)
                .bind(&card_id)
                .bind(balance)
                .execute(&mut *tx)
                .await?;
            // A whole return gives the bill's coupons back.
            let mut coupons = Vec::new();
            if whole {
                let redeemed: Vec<(String,)> = sqlx::query_as(
                    "SELECT code FROM coupon_redemptions
                     WHERE merchant_id = $1 AND order_id = $2 AND restored_at IS NULL
                     ORDER BY code",
                )
                .bind(merchant)
                .bind(&ret.order_id)
                .fetch_all(&mut *tx)
                .await?;
                for (code,) in redeemed {
                    sqlx::query(
                        "UPDATE coupon_redemptions SET restored_at = $4
                         WHERE merchant_id = $1 AND code = $2 AND order_id = $3",
                    )
                    .bind(merchant)
                    .bind(&code)
                    .bind(&ret.order_id)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                    sqlx::query("UPDATE coupons SET uses = uses - 1 WHERE merchant_id = $1 AND code = $2 AND uses > 0")
                        .bind(merchant)
                        .bind(&code)
                        .execute(&mut *tx)
                        .await?;
                    coupons.push(code);
                }
            }
            // The campaign usage the bill counted, given back: after its cards and codes, the
            // pools in `PoolKey` order, the lock order every writer keeps.
            type UseRow = (i64, String, String, i64, i64, i64);
            let used: Vec<UseRow> = sqlx::query_as(
                "SELECT campaign_id, scope, scope_key, period_start, amount, count
                 FROM campaign_uses WHERE merchant_id = $1 AND order_id = $2",
            )
            .bind(merchant)
            .bind(&ret.order_id)
            .fetch_all(&mut *tx)
            .await?;
            let mut used: Vec<(PoolKey, i64, i64)> = used
                .into_iter()
                .map(|(campaign_id, scope, key, period_start, amount, count)| {
                    let scope = Scope::parse(&scope)
                        .ok_or_else(|| StoreError::corrupt(format!("use scope '{scope}'")))?;
                    Ok((PoolKey { campaign_id, scope, key, period_start }, amount, count))
                })
                .collect::<Result<_>>()?;
            used.sort_by(|a, b| a.0.cmp(&b.0));
            let mut usage = Vec::new();
            for (pool, amount, count) in used {
                let amount_back = this_return(amount, before, value, total);
                let count_back = if whole { count } else { 0 };
                if amount_back == 0 && count_back == 0 {
                    continue;
                }
                sqlx::query(
                    "UPDATE campaign_usage
                     SET used_amount = CASE WHEN used_amount > $6 THEN used_amount - $6 ELSE 0 END,
                         used_count = CASE WHEN used_count > $7 THEN used_count - $7 ELSE 0 END
                     WHERE merchant_id = $1 AND campaign_id = $2 AND scope = $3
                       AND scope_key = $4 AND period_start = $5",
                )
                .bind(merchant)
                .bind(pool.campaign_id)
                .bind(pool.scope.as_str())
                .bind(&pool.key)
                .bind(pool.period_start)
                .bind(amount_back)
                .bind(count_back)
                .execute(&mut *tx)
                .await?;
                usage.push(UsageGiven {
                    campaign_id: pool.campaign_id,
                    scope: pool.scope.as_str().to_owned(),
                    period_start: pool.period_start,
                    amount_units: amount_back,
                    count: count_back,
                });
            }
            let usage_text = serde_json::to_string(&usage).map_err(|e| StoreError::Invalid(e.to_string()))?;
            let lines_text = serde_json::to_string(&lines).map_err(|e| StoreError::Invalid(e.to_string()))?;
            let coupons_text = serde_json::to_string(&coupons).map_err(|e| StoreError::Invalid(e.to_string()))?;
            sqlx::query(
                "INSERT INTO returns (merchant_id, return_id, order_id, card_id, request_hash,
                    value, whole, lines, points_taken, points_given, shortfall, coupons, usage,
                    created_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
            )
            .bind(merchant)
            .bind(&ret.return_id)
            .bind(&ret.order_id)
            .bind(&card_id)
            .bind(&ret.request_hash)
            .bind(value.to_string())
            .bind(i64::from(whole))
            .bind(&lines_text)
            .bind(taken)
            .bind(given)
            .bind(shortfall)
            .bind(&coupons_text)
            .bind(&usage_text)
            .bind(now)
            .execute(&mut *tx)
            .await?;
            let recorded = Return {
                return_id: ret.return_id.clone(),
                order_id: ret.order_id.clone(),
                card_id,
                value,
                whole,
                lines,
                points_taken: taken,
                points_given: given,
                shortfall,
                coupons,
                usage,
                created_at: now,
                new: true,
            };
            insert_audit!(tx, merchant, &audit(&recorded))?;
            tx.commit().await?;
            recorded
        });
        Ok(recorded)
    }

    /// The returns of a recorded bill, oldest first.
    pub async fn returns_of(&self, merchant: &str, order_id: &str) -> Result<Vec<Return>> {
        let rows: Vec<ReturnRow> = with_pool!(self, pool => sqlx::query_as(
            "SELECT return_id, order_id, card_id, request_hash, value, whole, lines,
                    points_taken, points_given, shortfall, coupons, usage, created_at
             FROM returns WHERE merchant_id = $1 AND order_id = $2
             ORDER BY created_at, return_id",
        )
        .bind(merchant)
        .bind(order_id)
        .fetch_all(pool)
        .await)?;
        rows.into_iter().map(|row| return_of(row, false)).collect()
    }
}
