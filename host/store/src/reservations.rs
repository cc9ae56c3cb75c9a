//! The reservation piece: what endpoint 1 reserves for an open order and endpoint 2 takes
//! exactly once — a card's points (the order's `holds` row, the header) and, beside it, a
//! campaign's budget, per-card and per-branch limits (`campaign_holds`, one row per pool,
//! deleted with the header). ARCHITECTURE.md ("Reservations") gives the rules; in short:
//!
//! - **Reserve** ([`Store::reserve`]) in one write transaction: lock the card (the card
//!   row's lock on PostgreSQL, the database's write lock on SQLite), then each limited pool
//!   in [`PoolKey`] order (its `campaign_usage` row, created at 0 when new; a per-card pool
//!   needs no lock of its own: the card's covers it), read what is left — the limit minus
//!   what completed bills used minus what the other open orders' unexpired reservations
//!   hold — let the caller's `plan` decide, and write its answer as the order's
//!   reservation, replacing the order's earlier one whole.
//! - **Use** (in the bill's transaction, `apply_burn_and_card_changes!` then
//!   [`add_usage`]): an unexpired reservation of the bill's card becomes a `campaign_uses`
//!   row (once per order, campaign and scope) and, after every card of the transaction is
//!   locked, is added to its counters in [`PoolKey`] order — the same order endpoint 1
//!   locks them in, so the two never deadlock. An expired reservation, or another card's,
//!   uses nothing: its amount may have been reserved by another order since.
//! - Counters never go past their limit: should a bill's use arrive after its reservation
//!   lapsed on another replica's clock, the counter stops at the limit and the excess is
//!   logged, never counted twice.

use rabat_domain::budget::{Left, Pool, PoolKey, Scope};

use super::cards::{CardRow, LOCK_CARD};
use super::coupons::{CodeState, CouponCheck, CouponUse, parse_terms};
use tokio::sync::oneshot;

use super::engine::WriteConn;
use super::holds::NewHold;
use super::reserve_queue::Ask;
use super::{Entity, Result, Store, StoreError};

/// The points of a card's unexpired holds, except the hold of `$4` (an order id, or ''
/// for none): $1 merchant, $2 card, $3 now. The CAST because PostgreSQL sums BIGINTs
/// to NUMERIC (no overflow: each hold fits in the balance it was taken from).
pub(crate) const HELD_ELSEWHERE: &str = "SELECT CAST(COALESCE(SUM(points), 0) AS BIGINT) FROM holds
     WHERE merchant_id = $1 AND card_id = $2 AND expires_at > $3 AND order_id <> $4";

/// Creates a pool's counter at 0 or takes it as it is, locking the row (PostgreSQL) for the
/// rest of the transaction; returns what it has used.
const LOCK_POOL: &str = "INSERT INTO campaign_usage (merchant_id, campaign_id, scope, scope_key,
        period_start, used_amount, used_count)
     VALUES ($1, $2, $3, $4, $5, 0, 0)
     ON CONFLICT (merchant_id, campaign_id, scope, scope_key, period_start)
     DO UPDATE SET used_count = campaign_usage.used_count
     RETURNING used_amount, used_count";

/// What a pool's counter has used (no lock).
const POOL_USED: &str = "SELECT used_amount, used_count FROM campaign_usage
     WHERE merchant_id = $1 AND campaign_id = $2 AND scope = $3 AND scope_key = $4
       AND period_start = $5";

/// What the unexpired reservations of orders other than `$7` hold of a pool ($6: now).
const RESERVED_ELSEWHERE: &str = "SELECT CAST(COALESCE(SUM(amount), 0) AS BIGINT),
            CAST(COALESCE(SUM(count), 0) AS BIGINT)
     FROM campaign_holds
     WHERE merchant_id = $1 AND campaign_id = $2 AND scope = $3 AND scope_key = $4
       AND period_start = $5 AND expires_at > $6 AND order_id <> $7";

/// What the order may reserve: the card's available points and, per pool asked for (in
/// the order given), what is left of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Available {
    /// The card's balance minus the unexpired holds of its other orders (0 when the order
    /// is already recorded: a completed bill redeems nothing more).
    pub points: i64,
    pub left: Vec<Left>,
    /// Per code asked for (in code order, each once), whether the order may hold it.
    pub coupons: Vec<CouponCheck>,
    /// The order is already recorded: nothing reserved now would ever be used, so the
    /// store writes no pool reservations for it.
    pub recorded: bool,
}

/// What an order reserves of one pool.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reservation {
    pub pool: Pool,
    /// Units (1/10 000 of the currency) of the campaign's discount.
    pub amount: i64,
    /// Redemptions (1 for a discount given).
    pub count: i64,
}

/// A plan's answer: the order's header (points held and the offer; `None` deletes the
/// order's reservation whole), its pool reservations (written only with a header), and what
/// the caller wants back.
#[derive(Debug)]
pub struct Reserved<T> {
    pub hold: Option<NewHold>,
    pub reservations: Vec<Reservation>,
    /// The coupon codes the order holds (each one [`Available::coupons`] said is usable;
    /// written only with a header).
    pub coupons: Vec<String>,
    pub out: T,
}

/// What a completed bill used, applied once every card of its transaction is locked:
/// its coupons first (in code order), then its pools (in [`PoolKey`] order).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Usage {
    Coupon(CouponUse),
    Pool(PoolUsage),
}

/// One pool's use by a completed bill, to be added to its counter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PoolUsage {
    pub merchant: String,
    pub key: PoolKey,
    pub amount: i64,
    pub count: i64,
    pub limit_amount: Option<i64>,
    pub limit_count: Option<i64>,
}

/// What is used and reserved of a pool, and its limits (the admin API's budget view).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PoolUse {
    pub used_amount: i64,
    pub used_count: i64,
    pub reserved_amount: i64,
    pub reserved_count: i64,
}

fn left_of(pool: &Pool, used: (i64, i64), reserved: (i64, i64)) -> Left {
    Left {
        amount: pool.limit_amount.map(|limit| {
            limit
                .saturating_sub(used.0)
                .saturating_sub(reserved.0)
                .max(0)
        }),
        count: pool.limit_count.map(|limit| {
            limit
                .saturating_sub(used.1)
                .saturating_sub(reserved.1)
                .max(0)
        }),
    }
}

impl Store {
    /// Endpoint 1's check-and-reserve for an order, atomically (see the module docs):
    /// locks the card, sweeps its expired holds, locks `pools` (which must be in
    /// [`PoolKey`] order), hands what is available to `plan`, and writes what `plan`
    /// decides as the order's reservation, replacing any earlier one: a header of 0 points
    /// and no pool reservations only replaces an existing header (answers without a cost
    /// for an order that never reserved anything write nothing); `None` deletes it.
    /// `order_id` is the ledger's order id. An unknown card is [`StoreError::NotFound`].
    #[allow(clippy::too_many_arguments)]
    pub async fn reserve<T: Send>(
        &self,
        merchant: &str,
        card_id: &str,
        order_id: &str,
        now: i64,
        ttl_ms: i64,
        pools: &[Pool],
        codes: &[String],
        plan: impl FnOnce(Available) -> Reserved<T> + Send,
    ) -> Result<T> {
        let expires_at = now.saturating_add(ttl_ms);
        let codes = lock_order(codes);
        if let Some(queue) = &self.reserve_queue {
            let (available, read) = oneshot::channel();
            let (decide, decision) = oneshot::channel();
            let (done, committed) = oneshot::channel();
            let ask = Ask {
                merchant: merchant.to_owned(),
                card_id: card_id.to_owned(),
                order_id: order_id.to_owned(),
                now,
                expires_at,
                pools: pools.to_vec(),
                codes: codes.clone(),
                available,
                decision,
                done,
            };
            // Unread (the writer is gone, or could not begin): nothing of this order was
            // written, so it is reserved on a transaction of its own below.
            if queue.send(ask).await.is_ok()
                && let Ok(available) = read.await
            {
                let available = available?;
                let recorded = available.recorded;
                let Reserved {
                    hold,
                    reservations,
                    coupons,
                    out,
                } = plan(available);
                let (reservations, coupons) = if recorded {
                    (Vec::new(), Vec::new())
                } else {
                    (reservations, coupons)
                };
                decide
                    .send((hold, reservations, coupons))
                    .map_err(|_| StoreError::Database(sqlx::Error::WorkerCrashed))?;
                return match committed.await {
                    Ok(result) => result.map(|()| out),
                    // The writer went away mid-transaction: nothing of it was committed.
                    Err(_) => Err(StoreError::Database(sqlx::Error::WorkerCrashed)),
                };
            }
        }
        self.reserve_alone(
            merchant, card_id, order_id, now, expires_at, pools, &codes, plan,
        )
        .await
    }

    /// [`Store::reserve`] in a transaction of its own.
    #[allow(clippy::too_many_arguments)]
    async fn reserve_alone<T: Send>(
        &self,
        merchant: &str,
        card_id: &str,
        order_id: &str,
        now: i64,
        expires_at: i64,
        pools: &[Pool],
        codes: &[String],
        plan: impl FnOnce(Available) -> Reserved<T> + Send,
    ) -> Result<T> {
        let out = with_pool!(self, pool => {
            let mut tx = self.turn.begin(pool).await?;
            let available =
                read_available((&mut *tx).into(), merchant, card_id, order_id, now, pools, codes).await?;
            let recorded = available.recorded;
            let Reserved { hold, reservations, coupons, out } = plan(available);
            let (reservations, coupons) =
                if recorded { (Vec::new(), Vec::new()) } else { (reservations, coupons) };
            write_reservation(
                (&mut *tx).into(),
                merchant,
                card_id,
                order_id,
                now,
                expires_at,
                hold,
                &reservations,
                &coupons,
            )
            .await?;
            tx.commit().await?;
            out
        });
        Ok(out)
    }

    /// What is left of `pools` (in any order) at `now`, read without a lock: endpoint 1's
    /// first look, so a campaign with nothing left is not run at all. [`Store::reserve`]
    /// decides under the lock.
    pub async fn pools_left(&self, merchant: &str, pools: &[Pool], now: i64) -> Result<Vec<Left>> {
        let mut left = Vec::with_capacity(pools.len());
        for p in pools {
            let used = self.pool_use(merchant, &p.key, now).await?;
            left.push(left_of(
                p,
                (used.used_amount, used.used_count),
                (used.reserved_amount, used.reserved_count),
            ));
        }
        Ok(left)
    }

    /// What is used and reserved (by unexpired reservations) of one pool at `now`.
    pub async fn pool_use(&self, merchant: &str, key: &PoolKey, now: i64) -> Result<PoolUse> {
        let (used, reserved) = with_pool!(self, pool => {
            let used: Option<(i64, i64)> = sqlx::query_as(POOL_USED)
                .bind(merchant)
                .bind(key.campaign_id)
                .bind(key.scope.as_str())
                .bind(&key.key)
                .bind(key.period_start)
                .fetch_optional(pool)
                .await?;
            let reserved: (i64, i64) = sqlx::query_as(RESERVED_ELSEWHERE)
                .bind(merchant)
                .bind(key.campaign_id)
                .bind(key.scope.as_str())
                .bind(&key.key)
                .bind(key.period_start)
                .bind(now)
                .bind("")
                .fetch_one(pool)
                .await?;
            (used.unwrap_or((0, 0)), reserved)
        });
        Ok(PoolUse {
            used_amount: used.0,
            used_count: used.1,
            reserved_amount: reserved.0,
            reserved_count: reserved.1,
        })
    }
}

/// Inside a bill's transaction, before the order's header is deleted: the order's pool
/// reservations, if they are the bill's card's and unexpired at `now`, become the bill's
/// uses (a `campaign_uses` row each) and are returned for [`add_usage`]; otherwise nothing
/// is used.
pub(crate) async fn take_reservations(
    conn: &mut WriteConn<'_>,
    merchant: &str,
    order_id: &str,
    card_id: &str,
    now: i64,
    redeem: &[String],
) -> Result<Vec<Usage>> {
    type Row = (i64, String, String, i64, i64, i64, Option<i64>, Option<i64>);
    with_conn!(conn, c => {
        let mut used = Vec::new();
        if !redeem.is_empty() {
            // The codes the order holds for this card, unexpired, that the bill took.
            let held: Vec<(String,)> = sqlx::query_as(
                "SELECT ch.code FROM coupon_holds ch
                 JOIN holds h ON h.merchant_id = ch.merchant_id AND h.order_id = ch.order_id
                 WHERE ch.merchant_id = $1 AND ch.order_id = $2 AND h.card_id = $3
                   AND ch.expires_at > $4
                 ORDER BY ch.code",
            )
            .bind(merchant)
            .bind(order_id)
            .bind(card_id)
            .bind(now)
            .fetch_all(&mut **c)
            .await?;
            for (code,) in held {
                if redeem.contains(&code) {
                    used.push(Usage::Coupon(CouponUse {
                        merchant: merchant.to_owned(),
                        code,
                        order_id: order_id.to_owned(),
                        card_id: card_id.to_owned(),
                    }));
                }
            }
        }
        let rows: Vec<Row> = sqlx::query_as(
            "SELECT ch.campaign_id, ch.scope, ch.scope_key, ch.period_start, ch.amount, ch.count,
                    ch.limit_amount, ch.limit_count
             FROM campaign_holds ch
             JOIN holds h ON h.merchant_id = ch.merchant_id AND h.order_id = ch.order_id
             WHERE ch.merchant_id = $1 AND ch.order_id = $2 AND h.card_id = $3
               AND ch.expires_at > $4
             ORDER BY ch.campaign_id, ch.scope",
        )
        .bind(merchant)
        .bind(order_id)
        .bind(card_id)
        .bind(now)
        .fetch_all(&mut **c)
        .await?;
        for (campaign_id, scope, key, period_start, amount, count, limit_amount, limit_count) in rows {
            let scope = Scope::parse(&scope)
                .ok_or_else(|| StoreError::corrupt(format!("reservation scope '{scope}'")))?;
            sqlx::query(
                "INSERT INTO campaign_uses (merchant_id, order_id, campaign_id, scope, scope_key,
                    period_start, amount, count, used_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
                 ON CONFLICT (merchant_id, order_id, campaign_id, scope) DO NOTHING",
            )
            .bind(merchant)
            .bind(order_id)
            .bind(campaign_id)
            .bind(scope.as_str())
            .bind(&key)
            .bind(period_start)
            .bind(amount)
            .bind(count)
            .bind(now)
            .execute(&mut **c)
            .await?;
            used.push(Usage::Pool(PoolUsage {
                merchant: merchant.to_owned(),
                key: PoolKey { campaign_id, scope, key, period_start },
                amount,
                count,
                limit_amount,
                limit_count,
            }));
        }
        Ok(used)
    })
}

/// At the end of a bill transaction, after all of its cards are locked: adds the bills'
/// `usage` to the pools' counters, in lock order, each stopping at its limit.
pub(crate) async fn add_usage(conn: &mut WriteConn<'_>, mut usage: Vec<Usage>) -> Result<()> {
    if usage.is_empty() {
        return Ok(());
    }
    let (mut coupons, mut pools): (Vec<CouponUse>, Vec<PoolUsage>) = (Vec::new(), Vec::new());
    for u in usage.drain(..) {
        match u {
            Usage::Coupon(c) => coupons.push(c),
            Usage::Pool(p) => pools.push(p),
        }
    }
    coupons.sort_by(|a, b| (&a.merchant, &a.code).cmp(&(&b.merchant, &b.code)));
    pools.sort_by(|a, b| (&a.merchant, &a.key).cmp(&(&b.merchant, &b.key)));
    with_conn!(conn, c => {
        for u in &coupons {
            // Never past the code's uses, and never a voided code: what was held may have
            // been voided since (the hold then redeems nothing).
            let redeemed: Option<(i64,)> = sqlx::query_as(
                "UPDATE coupons SET uses = uses + 1
                 WHERE merchant_id = $1 AND code = $2 AND uses < max_uses AND voided_at IS NULL
                 RETURNING uses",
            )
            .bind(&u.merchant)
            .bind(&u.code)
            .fetch_optional(&mut **c)
            .await?;
            if redeemed.is_none() {
                tracing::warn!(merchant = %u.merchant, code = %u.code, order = %u.order_id, "a held coupon was not redeemed: voided or used up since it was held");
                continue;
            }
            sqlx::query(
                "INSERT INTO coupon_redemptions (merchant_id, code, order_id, card_id, redeemed_at)
                 VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(&u.merchant)
            .bind(&u.code)
            .bind(&u.order_id)
            .bind(&u.card_id)
            .bind(super::now_ms())
            .execute(&mut **c)
            .await?;
        }
        for u in &pools {
            let k = &u.key;
            let (amount, count): (i64, i64) = sqlx::query_as(LOCK_POOL)
                .bind(&u.merchant)
                .bind(k.campaign_id)
                .bind(k.scope.as_str())
                .bind(&k.key)
                .bind(k.period_start)
                .fetch_one(&mut **c)
                .await?;
            let mut new_amount = amount.saturating_add(u.amount);
            let mut new_count = count.saturating_add(u.count);
            if let Some(limit) = u.limit_amount && new_amount > limit {
                tracing::warn!(merchant = %u.merchant, campaign = k.campaign_id, scope = k.scope.as_str(), over = new_amount - limit, "a bill used more of a budget than was left (its reservation had lapsed); counted up to the limit");
                new_amount = limit.max(amount);
            }
            if let Some(limit) = u.limit_count && new_count > limit {
                tracing::warn!(merchant = %u.merchant, campaign = k.campaign_id, scope = k.scope.as_str(), "a bill redeemed past a limit (its reservation had lapsed); counted up to the limit");
                new_count = limit.max(count);
            }
            sqlx::query(
                "UPDATE campaign_usage SET used_amount = $6, used_count = $7
                 WHERE merchant_id = $1 AND campaign_id = $2 AND scope = $3 AND scope_key = $4
                   AND period_start = $5",
            )
            .bind(&u.merchant)
            .bind(k.campaign_id)
            .bind(k.scope.as_str())
            .bind(&k.key)
            .bind(k.period_start)
            .bind(new_amount)
            .bind(new_count)
            .execute(&mut **c)
            .await?;
        }
        Ok(())
    })
}

/// Reserve's first step, under the card's lock (see [`Store::reserve`]): sweeps the card's
/// expired holds, locks `pools` in order and reads what the order may reserve.
pub(crate) async fn read_available(
    conn: WriteConn<'_>,
    merchant: &str,
    card_id: &str,
    order_id: &str,
    now: i64,
    pools: &[Pool],
    codes: &[String],
) -> Result<Available> {
    with_conn!(conn, c => {
        let card: Option<CardRow> = sqlx::query_as(LOCK_CARD)
            .bind(merchant)
            .bind(card_id)
            .bind(now)
            .fetch_optional(&mut *c)
            .await?;
        let card = card
            .ok_or_else(|| StoreError::not_found(Entity::Card, card_id))?
            .into_card()?;
        sqlx::query("DELETE FROM holds WHERE merchant_id = $1 AND card_id = $2 AND expires_at <= $3")
            .bind(merchant)
            .bind(card_id)
            .bind(now)
            .execute(&mut *c)
            .await?;
        let (held,): (i64,) = sqlx::query_as(HELD_ELSEWHERE)
            .bind(merchant)
            .bind(card_id)
            .bind(now)
            .bind(order_id)
            .fetch_one(&mut *c)
            .await?;
        let recorded: Option<(i64,)> = sqlx::query_as(
            "SELECT id FROM ledger
             WHERE merchant_id = $1 AND order_id = $2 AND kind = 'transaction'",
        )
        .bind(merchant)
        .bind(order_id)
        .fetch_optional(&mut *c)
        .await?;
        // The codes before the pools: the lock order every writer keeps.
        let mut coupons = Vec::with_capacity(codes.len());
        for code in codes {
            type Locked = (i64, Option<String>, i64, i64, Option<i64>, Option<i64>, Option<i64>);
            let locked: Option<Locked> = sqlx::query_as(
                "UPDATE coupons SET uses = uses WHERE merchant_id = $1 AND code = $2
                 RETURNING batch_id, card_id, max_uses, uses, valid_from, valid_until, voided_at",
            )
            .bind(merchant)
            .bind(code)
            .fetch_optional(&mut *c)
            .await?;
            let usable = match locked {
                None => Err(format!("coupon {code} is unknown")),
                Some((batch_id, owner, max_uses, uses, valid_from, valid_until, voided_at)) => {
                    let (held,): (i64,) = sqlx::query_as(
                        "SELECT COUNT(*) FROM coupon_holds
                         WHERE merchant_id = $1 AND code = $2 AND expires_at > $3 AND order_id <> $4",
                    )
                    .bind(merchant)
                    .bind(code)
                    .bind(now)
                    .bind(order_id)
                    .fetch_one(&mut *c)
                    .await?;
                    let state = CodeState { owner, max_uses, uses, valid_from, valid_until, voided: voided_at.is_some(), held };
                    if let Some(why) = state.unusable(code, card_id, now) {
                        Err(why)
                    } else {
                        let terms: (String, String, Option<String>) = sqlx::query_as(
                            "SELECT name, value, min_bill FROM coupon_batches
                             WHERE merchant_id = $1 AND id = $2",
                        )
                        .bind(merchant)
                        .bind(batch_id)
                        .fetch_one(&mut *c)
                        .await?;
                        Ok(parse_terms(terms)?)
                    }
                }
            };
            coupons.push(CouponCheck { code: code.clone(), usable });
        }
        let mut left = Vec::with_capacity(pools.len());
        for p in pools {
            let k = &p.key;
            let used: Option<(i64, i64)> = sqlx::query_as(if k.scope == Scope::Card { POOL_USED } else { LOCK_POOL })
                .bind(merchant)
                .bind(k.campaign_id)
                .bind(k.scope.as_str())
                .bind(&k.key)
                .bind(k.period_start)
                .fetch_optional(&mut *c)
                .await?;
            let reserved: (i64, i64) = sqlx::query_as(RESERVED_ELSEWHERE)
                .bind(merchant)
                .bind(k.campaign_id)
                .bind(k.scope.as_str())
                .bind(&k.key)
                .bind(k.period_start)
                .bind(now)
                .bind(order_id)
                .fetch_one(&mut *c)
                .await?;
            left.push(left_of(p, used.unwrap_or((0, 0)), reserved));
        }
        let recorded = recorded.is_some();
        Ok(Available {
            points: if recorded { 0 } else { card.spendable_points().saturating_sub(held) },
            left,
            coupons,
            recorded,
        })
    })
}

/// `codes` in the lock order (code order), each once.
fn lock_order(codes: &[String]) -> Vec<String> {
    let mut codes = codes.to_vec();
    codes.sort();
    codes.dedup();
    codes
}

/// Reserve's second step: writes the plan's answer as the order's reservation, replacing
/// its earlier one (see [`Store::reserve`]).
#[allow(clippy::too_many_arguments)]
pub(crate) async fn write_reservation(
    conn: WriteConn<'_>,
    merchant: &str,
    card_id: &str,
    order_id: &str,
    now: i64,
    expires_at: i64,
    hold: Option<NewHold>,
    reservations: &[Reservation],
    coupons: &[String],
) -> Result<()> {
    with_conn!(conn, c => {
        match hold {
            Some(hold) => {
                if hold.points == 0 && reservations.is_empty() && coupons.is_empty() {
                    // Nothing reserved: only an existing header records the answer (an
                    // order that never reserved anything writes nothing).
                    sqlx::query(
                        "UPDATE holds SET card_id = $3, points = 0, offer = $4, created_at = $5,
                            expires_at = $6
                         WHERE merchant_id = $1 AND order_id = $2",
                    )
                    .bind(merchant)
                    .bind(order_id)
                    .bind(card_id)
                    .bind(&hold.offer)
                    .bind(now)
                    .bind(expires_at)
                    .execute(&mut *c)
                    .await?;
                } else {
                    let points = i64::try_from(hold.points)
                        .map_err(|_| StoreError::Invalid("held points are out of range".into()))?;
                    sqlx::query(
                        "INSERT INTO holds (merchant_id, order_id, card_id, points, offer,
                            created_at, expires_at)
                         VALUES ($1, $2, $3, $4, $5, $6, $7)
                         ON CONFLICT (merchant_id, order_id) DO UPDATE
                         SET card_id = excluded.card_id, points = excluded.points,
                             offer = excluded.offer, created_at = excluded.created_at,
                             expires_at = excluded.expires_at",
                    )
                    .bind(merchant)
                    .bind(order_id)
                    .bind(card_id)
                    .bind(points)
                    .bind(&hold.offer)
                    .bind(now)
                    .bind(expires_at)
                    .execute(&mut *c)
                    .await?;
                }
                // The order's earlier pool reservations and codes are replaced whole.
                sqlx::query("DELETE FROM campaign_holds WHERE merchant_id = $1 AND order_id = $2")
                    .bind(merchant)
                    .bind(order_id)
                    .execute(&mut *c)
                    .await?;
                sqlx::query("DELETE FROM coupon_holds WHERE merchant_id = $1 AND order_id = $2")
                    .bind(merchant)
                    .bind(order_id)
                    .execute(&mut *c)
                    .await?;
                for code in lock_order(coupons) {
                    sqlx::query(
                        "INSERT INTO coupon_holds (merchant_id, order_id, code, expires_at)
                         VALUES ($1, $2, $3, $4)",
                    )
                    .bind(merchant)
                    .bind(order_id)
                    .bind(&code)
                    .bind(expires_at)
                    .execute(&mut *c)
                    .await?;
                }
                for r in reservations {
                    let k = &r.pool.key;
                    sqlx::query(
                        "INSERT INTO campaign_holds (merchant_id, order_id, campaign_id, scope,
                            scope_key, period_start, amount, count, limit_amount, limit_count,
                            expires_at)
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
                    )
                    .bind(merchant)
                    .bind(order_id)
                    .bind(k.campaign_id)
                    .bind(k.scope.as_str())
                    .bind(&k.key)
                    .bind(k.period_start)
                    .bind(r.amount.max(0))
                    .bind(r.count.max(0))
                    .bind(r.pool.limit_amount)
                    .bind(r.pool.limit_count)
                    .bind(expires_at)
                    .execute(&mut *c)
                    .await?;
                }
            }
            None => {
                // The order's pool reservations go with it (foreign key, ON DELETE CASCADE).
                sqlx::query("DELETE FROM holds WHERE merchant_id = $1 AND order_id = $2")
                    .bind(merchant)
                    .bind(order_id)
                    .execute(&mut *c)
                    .await?;
            }
        }
        Ok(())
    })
}
