//! Coupons (issue 18): a merchant's batches of codes, the card's wallet, and a code's way
//! through an order — held at endpoint 1, redeemed once by the bill that took it.
//!
//! A code's row is its lock, taken with the portable `UPDATE … SET x = x … RETURNING`
//! idiom (a row lock on PostgreSQL; SQLite's one writer anyway). The lock order every
//! writer keeps: the card(s), then codes in code order, then budget pools in
//! [`PoolKey`](rabat_domain::budget::PoolKey) order. Endpoint 1 (`reservations.rs`) locks
//! the card, then each code the answer offers, reads what is left of it (its uses, what
//! other open orders' unexpired holds hold of it), and holds the codes it keeps for the
//! order in `coupon_holds`; a bill's transaction takes them after all of its cards are
//! locked (`add_usage`), and `uses` never passes `max_uses` (the `UPDATE … WHERE uses <
//! max_uses`, and the table's CHECK as the last guard). Admin changes to one code (void,
//! restore, assign) lock that code alone.

use rand::RngExt as _;
use rust_decimal::Decimal;
use serde::Serialize;

use rabat_domain::coupon::{
    CardExtras, CodePattern, CouponTerms, CouponValue, MAX_WALLET_COUPONS, Profile, WalletCoupon,
    uniform_symbol,
};
use rabat_domain::lots::NextExpiry;
use rabat_domain::model::Card;

use super::cards::CardRow;
use super::engine::WriteConn;
use super::lots::next_expiry_sql;
use super::page::{self, Page};
use super::{AuditOf, Entity, Result, Store, StoreError, now_ms};

/// Rows per multi-row insert of codes (9 parameters each, far below both engines' caps).
/// A card's usable wallet (merchant `$1`, card `$2`, at `$3`, for order `$4`, whose own
/// holds do not count against it): its codes not voided, valid at `$3`, with uses left
/// beyond what other open orders hold, soonest to expire first, at most
/// [`MAX_WALLET_COUPONS`]. The limit is written into the statement, not bound: SQLite's
/// planner reads a bound LIMIT's value, and a statement whose plan read a parameter is
/// prepared again every time that parameter is bound — on endpoint 1's every read (a
/// third of its time in SQLite's parser, BENCHMARKS.md).
macro_rules! usable_wallet_sql {
    () => {
        "SELECT c.code, b.name, b.value, b.min_bill, c.valid_until
         FROM coupons c JOIN coupon_batches b ON b.id = c.batch_id
         WHERE c.merchant_id = $1 AND c.card_id = $2 AND c.voided_at IS NULL
           AND (c.valid_from IS NULL OR c.valid_from <= $3)
           AND (c.valid_until IS NULL OR c.valid_until > $3)
           AND c.uses + (SELECT COUNT(*) FROM coupon_holds x
                         WHERE x.merchant_id = c.merchant_id AND x.code = c.code
                           AND x.expires_at > $3 AND x.order_id <> $4) < c.max_uses
         ORDER BY c.valid_until IS NULL, c.valid_until, c.code
         LIMIT 32"
    };
}
const _: () = assert!(MAX_WALLET_COUPONS == 32, "usable_wallet_sql!'s LIMIT");

const INSERT_CHUNK: usize = 500;

/// How a new batch gets its codes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NewCodes {
    /// None yet (codes are generated or imported later, or issued one by one).
    None,
    /// `count` codes of the batch's pattern.
    Generate(usize),
    /// These codes (normalized, unique, checked by the caller), with their CSV line
    /// numbers for the error that names an existing one.
    Import(Vec<(usize, String)>),
}

/// A batch to create.
#[derive(Debug, Clone, PartialEq)]
pub struct NewBatch {
    pub name: String,
    pub value: CouponValue,
    pub min_bill: Option<Decimal>,
    pub valid_from: Option<i64>,
    pub valid_until: Option<i64>,
    /// A code is valid for this many days from its issue (and within the fixed dates).
    pub valid_days: Option<i64>,
    pub uses_per_code: i64,
    /// Generated codes' pattern (`None`: codes are imported).
    pub pattern: Option<String>,
}

/// A coupon batch as stored, with its counts.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Batch {
    pub id: i64,
    pub name: String,
    pub value: CouponValue,
    #[serde(with = "rust_decimal::serde::str_option")]
    #[schema(value_type = Option<String>)]
    pub min_bill: Option<Decimal>,
    pub valid_from: Option<i64>,
    pub valid_until: Option<i64>,
    pub valid_days: Option<i64>,
    pub uses_per_code: i64,
    /// The pattern of generated codes; `null` for imported ones.
    pub pattern: Option<String>,
    pub created_at: i64,
    /// Codes in the batch.
    pub codes: i64,
    /// Codes issued to a card.
    pub issued: i64,
    /// Redemptions of the batch's codes.
    pub redeemed: i64,
}

/// Where a code stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub enum CouponState {
    Available,
    /// An open order holds it (its hold unexpired).
    Held,
    /// Used as often as it may be.
    Redeemed,
    Expired,
    Voided,
}

/// One code, with its state.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Coupon {
    pub code: String,
    pub batch_id: i64,
    pub batch: String,
    pub card_id: Option<String>,
    pub state: CouponState,
    pub value: CouponValue,
    #[serde(with = "rust_decimal::serde::str_option")]
    #[schema(value_type = Option<String>)]
    pub min_bill: Option<Decimal>,
    pub uses: i64,
    pub max_uses: i64,
    pub valid_from: Option<i64>,
    pub valid_until: Option<i64>,
    pub issued_at: Option<i64>,
    pub voided_at: Option<i64>,
    pub created_at: i64,
}

/// A coupon's terms from its batch's name, value and min bill columns.
pub(crate) fn parse_terms(
    (batch, value, min_bill): (String, String, Option<String>),
) -> Result<CouponTerms> {
    Ok(CouponTerms {
        batch,
        value: parse_value(&value)?,
        min_bill: parse_decimal(min_bill)?,
    })
}

/// Whether an order may hold one code: its terms, or why not (a cashier-readable reason).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CouponCheck {
    pub code: String,
    pub usable: std::result::Result<CouponTerms, String>,
}

/// What decides whether an order of `card_id` may hold a code now: one rule for endpoint
/// 1's check under the lock and for a code typed in.
pub(crate) struct CodeState {
    /// The card the code belongs to (`None`: a flyer code, anyone's).
    pub owner: Option<String>,
    pub max_uses: i64,
    pub uses: i64,
    pub valid_from: Option<i64>,
    pub valid_until: Option<i64>,
    pub voided: bool,
    /// Unexpired holds of other orders.
    pub held: i64,
}

impl CodeState {
    /// Why the code cannot be held now, in the cashier's words; `None`: it can.
    pub(crate) fn unusable(&self, code: &str, card_id: &str, now: i64) -> Option<String> {
        let why = if self.voided {
            "is voided"
        } else if self.owner.as_deref().is_some_and(|owner| owner != card_id) {
            "is another card's"
        } else if self.valid_from.is_some_and(|from| from > now) {
            "is not valid yet"
        } else if self.valid_until.is_some_and(|until| until <= now) {
            "has expired"
        } else if self.uses >= self.max_uses {
            "is already redeemed"
        } else if self.uses.saturating_add(self.held) >= self.max_uses {
            "is held by another open bill"
        } else {
            return None;
        };
        Some(format!("coupon {code} {why}"))
    }
}

/// A code the bill took, to be redeemed after all of the transaction's cards are locked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CouponUse {
    pub merchant: String,
    pub code: String,
    pub order_id: String,
    pub card_id: String,
}

type BatchRow = (
    i64,
    String,
    String,
    Option<String>,
    Option<i64>,
    Option<i64>,
    Option<i64>,
    i64,
    Option<String>,
    i64,
);

/// `SELECT` of a batch's columns, as a literal for `concat!`.
macro_rules! select_batch {
    () => {
        "SELECT id, name, value, min_bill, valid_from, valid_until, valid_days, uses_per_code,
            pattern, created_at FROM coupon_batches WHERE merchant_id = $1"
    };
}

fn parse_profile(text: Option<String>) -> Result<Profile> {
    text.map_or(Ok(Profile::default()), |t| {
        serde_json::from_str(&t).map_err(|e| StoreError::corrupt(format!("card profile: {e}")))
    })
}

fn parse_value(text: &str) -> Result<CouponValue> {
    serde_json::from_str(text).map_err(|e| StoreError::corrupt(format!("coupon value: {e}")))
}

fn parse_decimal(text: Option<String>) -> Result<Option<Decimal>> {
    text.map(|t| {
        t.parse::<Decimal>()
            .map_err(|e| StoreError::corrupt(format!("coupon min bill '{t}': {e}")))
    })
    .transpose()
}

fn batch_of(row: BatchRow, counts: (i64, i64, i64)) -> Result<Batch> {
    let (id, name, value, min_bill, valid_from, valid_until, valid_days, uses, pattern, created) =
        row;
    Ok(Batch {
        id,
        name,
        value: parse_value(&value)?,
        min_bill: parse_decimal(min_bill)?,
        valid_from,
        valid_until,
        valid_days,
        uses_per_code: uses,
        pattern,
        created_at: created,
        codes: counts.0,
        issued: counts.1,
        redeemed: counts.2,
    })
}

/// A code's columns as listed (joined with its batch), `$now` being the time its state is
/// read at: `held` counts the unexpired holds of open orders.
macro_rules! select_coupon {
    () => {
        "SELECT c.code, c.batch_id, b.name, c.card_id, c.uses, c.max_uses,
        c.valid_from, c.valid_until, c.issued_at, c.voided_at, c.created_at, b.value,
        b.min_bill,
        (SELECT COUNT(*) FROM coupon_holds h
          WHERE h.merchant_id = c.merchant_id AND h.code = c.code AND h.expires_at > $2)
     FROM coupons c JOIN coupon_batches b ON b.id = c.batch_id
     WHERE c.merchant_id = $1"
    };
}

type CouponRow = (
    String,
    i64,
    String,
    Option<String>,
    i64,
    i64,
    Option<i64>,
    Option<i64>,
    Option<i64>,
    Option<i64>,
    i64,
    String,
    Option<String>,
    i64,
);

fn coupon_of(row: CouponRow, now: i64) -> Result<Coupon> {
    let (
        code,
        batch_id,
        batch,
        card_id,
        uses,
        max_uses,
        valid_from,
        valid_until,
        issued_at,
        voided_at,
        created_at,
        value,
        min_bill,
        held,
    ) = row;
    let state = if voided_at.is_some() {
        CouponState::Voided
    } else if uses >= max_uses {
        CouponState::Redeemed
    } else if valid_until.is_some_and(|until| until <= now) {
        CouponState::Expired
    } else if uses.saturating_add(held) >= max_uses {
        CouponState::Held
    } else {
        CouponState::Available
    };
    Ok(Coupon {
        code,
        batch_id,
        batch,
        card_id,
        state,
        value: parse_value(&value)?,
        min_bill: parse_decimal(min_bill)?,
        uses,
        max_uses,
        valid_from,
        valid_until,
        issued_at,
        voided_at,
        created_at,
    })
}

/// A fresh code of `pattern` from the OS-seeded CSPRNG (`rand`'s thread generator).
fn generate_code(pattern: &CodePattern) -> String {
    let mut rng = rand::rng();
    pattern.fill(|| uniform_symbol(|| rng.random::<u8>()))
}

/// When a code issued at `now` from a batch stops being valid: the batch's end, or
/// `valid_days` after `now`, whichever is first.
fn issued_until(valid_until: Option<i64>, valid_days: Option<i64>, now: i64) -> Option<i64> {
    let by_days = valid_days.map(|days| now.saturating_add(days.saturating_mul(86_400_000)));
    match (valid_until, by_days) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// Inserts `codes` into `batch` (merchant `merchant`), valid as given; returns the codes
/// that already existed (nothing of them inserted).
#[allow(clippy::too_many_arguments)]
async fn insert_codes(
    conn: &mut WriteConn<'_>,
    merchant: &str,
    batch: i64,
    codes: &[String],
    card_id: Option<&str>,
    max_uses: i64,
    valid: (Option<i64>, Option<i64>),
    now: i64,
) -> Result<Vec<String>> {
    let mut existing = Vec::new();
    with_conn!(conn, c => {
        for chunk in codes.chunks(INSERT_CHUNK) {
            let mut insert = sqlx::QueryBuilder::new(
                "INSERT INTO coupons (merchant_id, code, batch_id, card_id, max_uses, uses,
                    issued_at, valid_from, valid_until, created_at) ",
            );
            insert.push_values(chunk, |mut row, code| {
                row.push_bind(merchant)
                    .push_bind(code.as_str())
                    .push_bind(batch)
                    .push_bind(card_id)
                    .push_bind(max_uses)
                    .push_bind(0_i64)
                    .push_bind(card_id.map(|_| now))
                    .push_bind(valid.0)
                    .push_bind(valid.1)
                    .push_bind(now);
            });
            insert.push(" ON CONFLICT (merchant_id, code) DO NOTHING RETURNING code");
            let inserted: Vec<(String,)> = insert.build_query_as().fetch_all(&mut **c).await?;
            if inserted.len() < chunk.len() {
                let inserted: std::collections::HashSet<String> =
                    inserted.into_iter().map(|(code,)| code).collect();
                existing.extend(chunk.iter().filter(|code| !inserted.contains(*code)).cloned());
            }
        }
        Ok::<_, StoreError>(())
    })?;
    Ok(existing)
}

impl Store {
    /// Creates a batch and its first codes in one transaction, audited. A name already
    /// used is a conflict; an imported code that exists already (in any batch) refuses
    /// the whole import, naming its line.
    pub async fn create_coupon_batch(
        &self,
        merchant: &str,
        batch: &NewBatch,
        codes: NewCodes,
        audit: impl AuditOf<Batch>,
    ) -> Result<Batch> {
        let now = now_ms();
        let value = serde_json::to_string(&batch.value)
            .map_err(|e| StoreError::Invalid(format!("value: {e}")))?;
        let pattern = batch
            .pattern
            .as_deref()
            .map(CodePattern::parse)
            .transpose()
            .map_err(StoreError::Invalid)?;
        let created = with_pool!(self, pool => {
            let mut tx = self.turn.begin(pool).await?;
            let inserted: std::result::Result<(i64,), sqlx::Error> = sqlx::query_as(
                "INSERT INTO coupon_batches (merchant_id, name, value, min_bill, valid_from,
                    valid_until, valid_days, uses_per_code, pattern, created_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id",
            )
            .bind(merchant)
            .bind(&batch.name)
            .bind(&value)
            .bind(batch.min_bill.map(|d| d.to_string()))
            .bind(batch.valid_from)
            .bind(batch.valid_until)
            .bind(batch.valid_days)
            .bind(batch.uses_per_code)
            .bind(batch.pattern.as_deref().map(rabat_domain::coupon::normalize_code))
            .bind(now)
            .fetch_one(&mut *tx)
            .await;
            let (id,) = match inserted {
                Ok(row) => row,
                Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
                    return Err(StoreError::Conflict {
                        entity: Entity::CouponBatch,
                        id: batch.name.clone(),
                        reason: "a coupon batch of this name exists",
                    });
                }
                Err(e) => return Err(super::error::merchant_or_db(e, merchant)),
            };
            let mut conn = WriteConn::from(&mut *tx);
            add_codes(&mut conn, merchant, id, batch, pattern.as_ref(), codes, now).await?;
            let created = read_batch(&mut conn, merchant, id).await?;
            insert_audit!(tx, merchant, &audit(&created))?;
            tx.commit().await?;
            created
        });
        Ok(created)
    }

    /// Adds codes to an existing batch (generated from its pattern, or imported), audited;
    /// returns the batch with its new counts.
    pub async fn add_coupon_codes(
        &self,
        merchant: &str,
        batch_id: i64,
        codes: NewCodes,
        audit: impl AuditOf<Batch>,
    ) -> Result<Batch> {
        let now = now_ms();
        let batch = self.coupon_batch(merchant, batch_id).await?;
        let pattern = batch
            .pattern
            .as_deref()
            .map(CodePattern::parse)
            .transpose()
            .map_err(StoreError::corrupt)?;
        let new = NewBatch {
            name: batch.name.clone(),
            value: batch.value,
            min_bill: batch.min_bill,
            valid_from: batch.valid_from,
            valid_until: batch.valid_until,
            valid_days: batch.valid_days,
            uses_per_code: batch.uses_per_code,
            pattern: batch.pattern.clone(),
        };
        with_pool!(self, pool => {
            let mut tx = self.turn.begin(pool).await?;
            let mut conn = WriteConn::from(&mut *tx);
            add_codes(&mut conn, merchant, batch_id, &new, pattern.as_ref(), codes, now).await?;
            let after = read_batch(&mut conn, merchant, batch_id).await?;
            insert_audit!(tx, merchant, &audit(&after))?;
            tx.commit().await?;
            Ok(after)
        })
    }

    /// One batch, with its counts.
    pub async fn coupon_batch(&self, merchant: &str, batch_id: i64) -> Result<Batch> {
        with_pool!(self, pool => {
            let mut conn = pool.acquire().await?;
            read_batch(&mut WriteConn::from(&mut *conn), merchant, batch_id).await
        })
    }

    /// The merchant's batches, newest first.
    pub async fn coupon_batches(&self, merchant: &str) -> Result<Vec<Batch>> {
        let ids: Vec<(i64,)> = with_pool!(self, pool => sqlx::query_as(
            "SELECT id FROM coupon_batches WHERE merchant_id = $1 ORDER BY id DESC LIMIT 500",
        )
        .bind(merchant)
        .fetch_all(pool)
        .await)?;
        let mut batches = Vec::with_capacity(ids.len());
        for (id,) in ids {
            batches.push(self.coupon_batch(merchant, id).await?);
        }
        Ok(batches)
    }

    /// A page of a batch's codes (or, with `card_id`, of a card's wallet), in code order.
    pub async fn coupons(
        &self,
        merchant: &str,
        filter: CouponFilter<'_>,
        cursor: Option<&str>,
        limit: u32,
    ) -> Result<Page<Coupon>> {
        let now = now_ms();
        let after = cursor
            .map(page::decode_text)
            .transpose()?
            .unwrap_or_default();
        let fetch = page::fetch_count(limit);
        let rows: Vec<CouponRow> = with_pool!(self, pool => match filter {
            CouponFilter::Batch(batch) => sqlx::query_as(concat!(select_coupon!(), " AND c.batch_id = $3 AND c.code > $4 ORDER BY c.code LIMIT $5"))
            .bind(merchant)
            .bind(now)
            .bind(batch)
            .bind(&after)
            .bind(fetch)
            .fetch_all(pool)
            .await,
            CouponFilter::Card(card) => sqlx::query_as(concat!(select_coupon!(), " AND c.card_id = $3 AND c.code > $4 ORDER BY c.code LIMIT $5"))
            .bind(merchant)
            .bind(now)
            .bind(card)
            .bind(&after)
            .bind(fetch)
            .fetch_all(pool)
            .await,
        })?;
        let items = rows
            .into_iter()
            .map(|row| coupon_of(row, now))
            .collect::<Result<Vec<_>>>()?;
        Ok(page::finish(items, limit, |c| c.code.clone()))
    }

    /// One code.
    pub async fn coupon(&self, merchant: &str, code: &str) -> Result<Coupon> {
        let now = now_ms();
        let row: Option<CouponRow> = with_pool!(self, pool => sqlx::query_as(concat!(select_coupon!(), " AND c.code = $3"))
        .bind(merchant)
        .bind(now)
        .bind(code)
        .fetch_optional(pool)
        .await)?;
        coupon_of(
            row.ok_or_else(|| StoreError::not_found(Entity::Coupon, code))?,
            now,
        )
    }

    /// Issues a code of `batch_id` to `card_id`: a new code of the batch's pattern, or (an
    /// imported batch) its first unassigned, unused, unheld code. Audited.
    pub async fn issue_coupon(
        &self,
        merchant: &str,
        batch_id: i64,
        card_id: &str,
        audit: impl AuditOf<Coupon>,
    ) -> Result<Coupon> {
        let now = now_ms();
        with_pool!(self, pool => {
            let mut tx = self.turn.begin(pool).await?;
            let card: Option<(String,)> = sqlx::query_as(
                "SELECT card_id FROM cards WHERE merchant_id = $1 AND card_id = $2",
            )
            .bind(merchant)
            .bind(card_id)
            .fetch_optional(&mut *tx)
            .await?;
            if card.is_none() {
                return Err(StoreError::not_found(Entity::Card, card_id));
            }
            let code = issue_in((&mut *tx).into(), merchant, BatchRef::Id(batch_id), card_id, now)
                .await?
                .map_err(|why| why.into_error(batch_id))?;
            let issued = read_coupon(&mut WriteConn::from(&mut *tx), merchant, &code, now).await?;
            insert_audit!(tx, merchant, &audit(&issued))?;
            tx.commit().await?;
            Ok(issued)
        })
    }

    /// Assigns an unassigned code to a card (a flyer code handed to a known customer).
    pub async fn assign_coupon(
        &self,
        merchant: &str,
        code: &str,
        card_id: &str,
        audit: impl AuditOf<Coupon>,
    ) -> Result<Coupon> {
        let now = now_ms();
        with_pool!(self, pool => {
            let mut tx = self.turn.begin(pool).await?;
            let card: Option<(String,)> = sqlx::query_as(
                "SELECT card_id FROM cards WHERE merchant_id = $1 AND card_id = $2",
            )
            .bind(merchant)
            .bind(card_id)
            .fetch_optional(&mut *tx)
            .await?;
            if card.is_none() {
                return Err(StoreError::not_found(Entity::Card, card_id));
            }
            let locked: Option<(Option<String>, Option<i64>, Option<i64>)> = sqlx::query_as(
                "UPDATE coupons SET uses = uses WHERE merchant_id = $1 AND code = $2
                 RETURNING card_id, valid_until, voided_at",
            )
            .bind(merchant)
            .bind(code)
            .fetch_optional(&mut *tx)
            .await?;
            let (owner, _, _) = locked.ok_or_else(|| StoreError::not_found(Entity::Coupon, code))?;
            if let Some(owner) = owner {
                if owner == card_id {
                    return Err(StoreError::Conflict { entity: Entity::Coupon, id: code.to_owned(), reason: "the code is already this card's" });
                }
                return Err(StoreError::Conflict { entity: Entity::Coupon, id: code.to_owned(), reason: "the code belongs to another card" });
            }
            sqlx::query(
                "UPDATE coupons SET card_id = $3, issued_at = $4 WHERE merchant_id = $1 AND code = $2",
            )
            .bind(merchant)
            .bind(code)
            .bind(card_id)
            .bind(now)
            .execute(&mut *tx)
            .await?;
            let assigned = read_coupon(&mut WriteConn::from(&mut *tx), merchant, code, now).await?;
            insert_audit!(tx, merchant, &audit(&assigned))?;
            tx.commit().await?;
            Ok(assigned)
        })
    }

    /// Voids a code (it is never offered, held or redeemed again until restored), or, with
    /// `void` false, restores it: lifts the void, or gives back its last redemption's use.
    /// Audited. Restoring a code that is neither voided nor redeemed is a conflict.
    pub async fn void_coupon(
        &self,
        merchant: &str,
        code: &str,
        void: bool,
        audit: impl AuditOf<Coupon>,
    ) -> Result<Coupon> {
        let now = now_ms();
        with_pool!(self, pool => {
            let mut tx = self.turn.begin(pool).await?;
            let locked: Option<(i64, Option<i64>)> = sqlx::query_as(
                "UPDATE coupons SET uses = uses WHERE merchant_id = $1 AND code = $2
                 RETURNING uses, voided_at",
            )
            .bind(merchant)
            .bind(code)
            .fetch_optional(&mut *tx)
            .await?;
            let (uses, voided_at) = locked.ok_or_else(|| StoreError::not_found(Entity::Coupon, code))?;
            let conflict = |reason| StoreError::Conflict { entity: Entity::Coupon, id: code.to_owned(), reason };
            if void {
                if voided_at.is_some() {
                    return Err(conflict("the code is voided already"));
                }
                sqlx::query("UPDATE coupons SET voided_at = $3 WHERE merchant_id = $1 AND code = $2")
                    .bind(merchant)
                    .bind(code)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
            } else if voided_at.is_some() {
                sqlx::query("UPDATE coupons SET voided_at = NULL WHERE merchant_id = $1 AND code = $2")
                    .bind(merchant)
                    .bind(code)
                    .execute(&mut *tx)
                    .await?;
            } else if uses > 0 {
                let last: Option<(String,)> = sqlx::query_as(
                    "SELECT order_id FROM coupon_redemptions
                     WHERE merchant_id = $1 AND code = $2 AND restored_at IS NULL
                     ORDER BY redeemed_at DESC, order_id DESC LIMIT 1",
                )
                .bind(merchant)
                .bind(code)
                .fetch_optional(&mut *tx)
                .await?;
                if let Some((order_id,)) = last {
                    sqlx::query(
                        "UPDATE coupon_redemptions SET restored_at = $4
                         WHERE merchant_id = $1 AND code = $2 AND order_id = $3",
                    )
                    .bind(merchant)
                    .bind(code)
                    .bind(&order_id)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                }
                sqlx::query("UPDATE coupons SET uses = uses - 1 WHERE merchant_id = $1 AND code = $2")
                    .bind(merchant)
                    .bind(code)
                    .execute(&mut *tx)
                    .await?;
            } else {
                return Err(conflict("the code is neither voided nor redeemed: nothing to restore"));
            }
            let after = read_coupon(&mut WriteConn::from(&mut *tx), merchant, code, now).await?;
            insert_audit!(tx, merchant, &audit(&after))?;
            tx.commit().await?;
            Ok(after)
        })
    }

    /// A card's profile (empty when none was set). An unknown card is
    /// [`StoreError::NotFound`].
    pub async fn card_profile(&self, merchant: &str, card_id: &str) -> Result<Profile> {
        let row: Option<(Option<String>,)> = with_pool!(self, pool => sqlx::query_as(
            "SELECT profile FROM cards WHERE merchant_id = $1 AND card_id = $2",
        )
        .bind(merchant)
        .bind(card_id)
        .fetch_optional(pool)
        .await)?;
        let (profile,) = row.ok_or_else(|| StoreError::not_found(Entity::Card, card_id))?;
        parse_profile(profile)
    }

    /// Replaces a card's profile (checked by the caller), audited.
    pub async fn set_card_profile(
        &self,
        merchant: &str,
        card_id: &str,
        profile: &Profile,
        audit: impl AuditOf<Profile>,
    ) -> Result<Profile> {
        let text = (!profile.is_empty())
            .then(|| serde_json::to_string(profile))
            .transpose()
            .map_err(|e| StoreError::Invalid(format!("profile: {e}")))?;
        with_pool!(self, pool => {
            let mut tx = self.turn.begin(pool).await?;
            let updated = sqlx::query(
                "UPDATE cards SET profile = $3 WHERE merchant_id = $1 AND card_id = $2",
            )
            .bind(merchant)
            .bind(card_id)
            .bind(&text)
            .execute(&mut *tx)
            .await?;
            if updated.rows_affected() == 0 {
                return Err(StoreError::not_found(Entity::Card, card_id));
            }
            insert_audit!(tx, merchant, &audit(profile))?;
            tx.commit().await?;
        });
        Ok(profile.clone())
    }

    /// What a contract-0.3 policy sees of a card at endpoint 1 besides the card (whose
    /// spendable points are `points`): the points its other open orders do not hold, its
    /// usable wallet, its profile, its next expiry. Read without a lock; the reservation
    /// decides under it.
    pub async fn card_extras(
        &self,
        merchant: &str,
        card_id: &str,
        order_id: &str,
        points: i64,
        now: i64,
    ) -> Result<CardExtras> {
        let rows = self
            .card_with_extras_rows(merchant, card_id, order_id, now)
            .await?;
        extras_of(points, rows.into_iter().map(|row| row.extras))
    }

    /// The card and what a contract-0.3 policy sees of it beyond it (see
    /// [`Store::card_extras`]) in **one** round trip: endpoint 1's read for a 0.3 policy.
    /// Each round trip costs a hop to the database's thread and back; a second one for the
    /// extras cost 0.3 policies more than half of endpoint 1's throughput (BENCHMARKS.md).
    /// `None`: no such card.
    pub async fn card_with_extras(
        &self,
        merchant: &str,
        card_id: &str,
        order_id: &str,
        now: i64,
    ) -> Result<Option<(Card, CardExtras)>> {
        let mut rows = self
            .card_with_extras_rows(merchant, card_id, order_id, now)
            .await?
            .into_iter();
        let Some(first) = rows.next() else {
            return Ok(None);
        };
        let card = first.card.into_card()?;
        let extras = extras_of(
            card.spendable_points(),
            std::iter::once(first.extras).chain(rows.map(|row| row.extras)),
        )?;
        Ok(Some((card, extras)))
    }

    async fn card_with_extras_rows(
        &self,
        merchant: &str,
        card_id: &str,
        order_id: &str,
        now: i64,
    ) -> Result<Vec<CardWithExtrasRow>> {
        if let Some(rows) = self.local.as_ref().and_then(|local| {
            local.rows(
                CARD_WITH_EXTRAS,
                &[
                    ("$1", &merchant),
                    ("$2", &card_id),
                    ("$3", &now),
                    ("$4", &order_id),
                ],
                |row| {
                    Ok(CardWithExtrasRow {
                        card: super::local_read::card_row(row, 0)?,
                        extras: super::local_read::extras_row(row, 11)?,
                    })
                },
            )
        }) {
            return Ok(rows);
        }
        Ok(with_pool!(self, pool => sqlx::query_as(CARD_WITH_EXTRAS)
        .bind(merchant)
        .bind(card_id)
        .bind(now)
        .bind(order_id)
        .fetch_all(pool)
        .await)?)
    }

    /// What a contract-0.3 policy sees of the card's wallet at endpoint 1: its usable codes
    /// (not voided, valid at `now`, uses left beyond what other open orders hold; the
    /// order `order_id`'s own hold does not count against it), soonest to expire first, at
    /// most [`MAX_WALLET_COUPONS`]. Read without a lock: the hold decides under it.
    pub async fn usable_wallet(
        &self,
        merchant: &str,
        card_id: &str,
        order_id: &str,
        now: i64,
    ) -> Result<Vec<WalletCoupon>> {
        type Row = (String, String, String, Option<String>, Option<i64>);
        let rows: Vec<Row> = with_pool!(self, pool => sqlx::query_as(usable_wallet_sql!())
        .bind(merchant)
        .bind(card_id)
        .bind(now)
        .bind(order_id)
        .fetch_all(pool)
        .await)?;
        rows.into_iter().map(wallet_coupon).collect()
    }

    /// A code the customer typed in (a bill's `couponCode`), as a wallet coupon when this
    /// card may use it now (its own or no card's, not voided, valid, uses left beyond the
    /// other open orders' holds), else why not, in the cashier's words. Read without a
    /// lock: the hold decides under it.
    pub async fn typed_coupon(
        &self,
        merchant: &str,
        card_id: &str,
        order_id: &str,
        code: &str,
        now: i64,
    ) -> Result<std::result::Result<WalletCoupon, String>> {
        type Row = (String, String, String, Option<String>, Option<i64>);
        let row: Option<Row> = with_pool!(self, pool => sqlx::query_as(
            "SELECT c.code, b.name, b.value, b.min_bill, c.valid_until
             FROM coupons c JOIN coupon_batches b ON b.id = c.batch_id
             WHERE c.merchant_id = $1 AND c.code = $5
               AND (c.card_id IS NULL OR c.card_id = $2) AND c.voided_at IS NULL
               AND (c.valid_from IS NULL OR c.valid_from <= $3)
               AND (c.valid_until IS NULL OR c.valid_until > $3)
               AND c.uses + (SELECT COUNT(*) FROM coupon_holds h
                             WHERE h.merchant_id = c.merchant_id AND h.code = c.code
                               AND h.expires_at > $3 AND h.order_id <> $4) < c.max_uses",
        )
        .bind(merchant)
        .bind(card_id)
        .bind(now)
        .bind(order_id)
        .bind(code)
        .fetch_optional(pool)
        .await)?;
        if let Some(row) = row {
            return Ok(Ok(wallet_coupon(row)?));
        }
        type StateRow = (
            Option<String>,
            i64,
            i64,
            Option<i64>,
            Option<i64>,
            Option<i64>,
            i64,
        );
        let state: Option<StateRow> = with_pool!(self, pool => sqlx::query_as(
            "SELECT c.card_id, c.max_uses, c.uses, c.valid_from, c.valid_until, c.voided_at,
                    (SELECT COUNT(*) FROM coupon_holds h
                      WHERE h.merchant_id = c.merchant_id AND h.code = c.code
                        AND h.expires_at > $3 AND h.order_id <> $4)
             FROM coupons c WHERE c.merchant_id = $1 AND c.code = $2",
        )
        .bind(merchant)
        .bind(code)
        .bind(now)
        .bind(order_id)
        .fetch_optional(pool)
        .await)?;
        let why = match state {
            None => format!("coupon {code} is unknown"),
            Some((owner, max_uses, uses, valid_from, valid_until, voided_at, held)) => CodeState {
                owner,
                max_uses,
                uses,
                valid_from,
                valid_until,
                voided: voided_at.is_some(),
                held,
            }
            .unusable(code, card_id, now)
            .unwrap_or_else(|| format!("coupon {code} is not usable now")),
        };
        Ok(Err(why))
    }
}

/// The card on every row, with its held points (other orders' holds), its profile and its
/// next expiry; the usable wallet's coupons beside them (none: one row of NULLs). No card:
/// no rows. The card's columns come first (11), then the extras' (9).
const CARD_WITH_EXTRAS: &str = concat!(
    "SELECT k.card_id, k.customer_id, k.name, k.tier, k.tags, k.points, k.pending_points,
            k.visits, k.total_spent, k.first_visit, k.last_visit,
            h.held, k.profile, n.at AS expiry_at, n.points AS expiry_points,
            w.code, w.name AS batch, w.value, w.min_bill, w.valid_until
     FROM cards k
     CROSS JOIN (SELECT CAST(COALESCE(SUM(points), 0) AS BIGINT) AS held FROM holds
                 WHERE merchant_id = $1 AND card_id = $2 AND expires_at > $3
                   AND order_id <> $4) h
     CROSS JOIN (",
    next_expiry_sql!(),
    ") n
     LEFT JOIN (",
    usable_wallet_sql!(),
    ") w ON 1 = 1
     WHERE k.merchant_id = $1 AND k.card_id = $2
     ORDER BY w.valid_until IS NULL, w.valid_until, w.code"
);

/// One row of [`Store::card_with_extras`]'s read: the card, and one wallet coupon.
#[derive(sqlx::FromRow)]
pub(crate) struct CardWithExtrasRow {
    #[sqlx(flatten)]
    pub(crate) card: CardRow,
    #[sqlx(flatten)]
    pub(crate) extras: ExtrasRow,
}

#[derive(sqlx::FromRow)]
pub(crate) struct ExtrasRow {
    pub(crate) held: i64,
    pub(crate) profile: Option<String>,
    pub(crate) expiry_at: Option<i64>,
    pub(crate) expiry_points: Option<i64>,
    pub(crate) code: Option<String>,
    pub(crate) batch: Option<String>,
    pub(crate) value: Option<String>,
    pub(crate) min_bill: Option<String>,
    pub(crate) valid_until: Option<i64>,
}

/// The extras of a card with `points` spendable, from its read's rows.
fn extras_of(points: i64, rows: impl Iterator<Item = ExtrasRow>) -> Result<CardExtras> {
    let mut rows = rows.peekable();
    let (held, profile, next_expiry) = match rows.peek_mut() {
        Some(first) => (
            first.held,
            parse_profile(first.profile.take())?,
            first
                .expiry_at
                .zip(first.expiry_points)
                .map(|(at, points)| NextExpiry { at, points }),
        ),
        None => (0, Profile::default(), None),
    };
    let wallet = rows
        .filter_map(|row| {
            Some((
                row.code?,
                row.batch?,
                row.value?,
                row.min_bill,
                row.valid_until,
            ))
        })
        .map(wallet_coupon)
        .collect::<Result<Vec<_>>>()?;
    Ok(CardExtras {
        available_points: points.saturating_sub(held),
        wallet,
        profile,
        next_expiry,
        notes: Vec::new(),
    })
}

fn wallet_coupon(
    (code, batch, value, min_bill, valid_until): (
        String,
        String,
        String,
        Option<String>,
        Option<i64>,
    ),
) -> Result<WalletCoupon> {
    Ok(WalletCoupon {
        code,
        batch,
        value: parse_value(&value)?,
        min_bill: parse_decimal(min_bill)?,
        valid_until,
    })
}

/// Which codes to list.
#[derive(Debug, Clone, Copy)]
pub enum CouponFilter<'a> {
    Batch(i64),
    Card(&'a str),
}

/// The batch `id` of `merchant` with its counts.
async fn read_batch(conn: &mut WriteConn<'_>, merchant: &str, id: i64) -> Result<Batch> {
    with_conn!(conn, c => {
        let row: Option<BatchRow> = sqlx::query_as(concat!(select_batch!(), " AND id = $2"))
        .bind(merchant)
        .bind(id)
        .fetch_optional(&mut **c)
        .await?;
        let row = row.ok_or_else(|| StoreError::not_found(Entity::CouponBatch, id.to_string()))?;
        let counts: (i64, i64, i64) = sqlx::query_as(
            "SELECT COUNT(*), COUNT(card_id), CAST(COALESCE(SUM(uses), 0) AS BIGINT)
             FROM coupons WHERE merchant_id = $1 AND batch_id = $2",
        )
        .bind(merchant)
        .bind(id)
        .fetch_one(&mut **c)
        .await?;
        batch_of(row, counts)
    })
}

/// The code `code` of `merchant`, its state read at `now`.
async fn read_coupon(
    conn: &mut WriteConn<'_>,
    merchant: &str,
    code: &str,
    now: i64,
) -> Result<Coupon> {
    with_conn!(conn, c => {
        let row: Option<CouponRow> = sqlx::query_as(concat!(select_coupon!(), " AND c.code = $3"))
            .bind(merchant)
            .bind(now)
            .bind(code)
            .fetch_optional(&mut **c)
            .await?;
        coupon_of(row.ok_or_else(|| StoreError::not_found(Entity::Coupon, code))?, now)
    })
}

/// Adds `codes` to the batch `id` (described by `batch`) inside a write transaction. An
/// imported code that exists already refuses the whole call, naming its line (up to 20
/// of them); generated codes that collide are drawn again.
async fn add_codes(
    conn: &mut WriteConn<'_>,
    merchant: &str,
    id: i64,
    batch: &NewBatch,
    pattern: Option<&CodePattern>,
    codes: NewCodes,
    now: i64,
) -> Result<()> {
    let valid = (batch.valid_from, batch.valid_until);
    match codes {
        NewCodes::None => Ok(()),
        NewCodes::Import(lines) => {
            let codes: Vec<String> = lines.iter().map(|(_, code)| code.clone()).collect();
            let existing = insert_codes(
                conn,
                merchant,
                id,
                &codes,
                None,
                batch.uses_per_code,
                valid,
                now,
            )
            .await?;
            if existing.is_empty() {
                return Ok(());
            }
            let existing: std::collections::HashSet<&String> = existing.iter().collect();
            let named: Vec<String> = lines
                .iter()
                .filter(|(_, code)| existing.contains(code))
                .take(20)
                .map(|(line, code)| format!("line {line}: code '{code}' exists already"))
                .collect();
            Err(StoreError::Invalid(format!(
                "nothing imported: {} of the codes exist already ({})",
                existing.len(),
                named.join("; ")
            )))
        }
        NewCodes::Generate(count) => {
            let pattern = pattern.ok_or_else(|| StoreError::Conflict {
                entity: Entity::CouponBatch,
                id: batch.name.clone(),
                reason: "the batch has no pattern: its codes are imported, not generated",
            })?;
            let mut left = count;
            // Collisions are astronomically rare with >= 46 bits a code; a few rounds end it.
            for _ in 0..8 {
                if left == 0 {
                    return Ok(());
                }
                let mut fresh: Vec<String> = (0..left).map(|_| generate_code(pattern)).collect();
                fresh.sort();
                fresh.dedup();
                let dropped = left - fresh.len();
                let existing = insert_codes(
                    conn,
                    merchant,
                    id,
                    &fresh,
                    None,
                    batch.uses_per_code,
                    valid,
                    now,
                )
                .await?;
                left = existing.len() + dropped;
            }
            if left == 0 {
                Ok(())
            } else {
                Err(StoreError::Invalid(format!(
                    "the pattern's codes are exhausted: {left} could not be made unique"
                )))
            }
        }
    }
}

/// Why a batch issued no code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum NotIssued {
    /// No such batch (its id, or its name quoted).
    Unknown(String),
    Ended(String),
    /// An imported batch with no free code left.
    Exhausted(String),
    NoUniqueCode(String),
}

impl std::fmt::Display for NotIssued {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            NotIssued::Unknown(batch) => write!(f, "coupon batch {batch} does not exist"),
            NotIssued::Ended(name) => write!(f, "coupon batch '{name}' has ended"),
            NotIssued::Exhausted(name) => {
                write!(f, "coupon batch '{name}' has no unassigned code left")
            }
            NotIssued::NoUniqueCode(name) => {
                write!(f, "coupon batch '{name}': no unique code could be made")
            }
        }
    }
}

impl NotIssued {
    /// As the admin API's error: an unknown batch is not found, the rest a conflict with
    /// the batch's state.
    fn into_error(self, batch_id: i64) -> StoreError {
        let conflict = |name: String, reason| StoreError::Conflict {
            entity: Entity::CouponBatch,
            id: name,
            reason,
        };
        match self {
            NotIssued::Unknown(_) => {
                StoreError::not_found(Entity::CouponBatch, batch_id.to_string())
            }
            NotIssued::Ended(name) => conflict(name, "the batch has ended"),
            NotIssued::Exhausted(name) => conflict(name, "the batch has no unassigned code left"),
            NotIssued::NoUniqueCode(name) => {
                conflict(name, "no unique code of the batch's pattern could be made")
            }
        }
    }
}

/// Which batch to issue from.
pub(crate) enum BatchRef<'a> {
    Id(i64),
    Name(&'a str),
}

/// Issues one code of a batch to `card_id` inside a write transaction (the caller locked
/// or checked the card): `Ok(Err(why))` when the batch cannot issue (unknown, ended,
/// an imported batch with no free code). An imported batch's free code is taken with
/// `SKIP LOCKED` on PostgreSQL, so issuing never waits on a code another transaction
/// holds (no lock-order cycle with endpoint 1).
pub(crate) async fn issue_in(
    mut conn: WriteConn<'_>,
    merchant: &str,
    batch: BatchRef<'_>,
    card_id: &str,
    now: i64,
) -> Result<std::result::Result<String, NotIssued>> {
    let conn = &mut conn;
    let postgres = matches!(conn, WriteConn::Postgres(_));
    with_conn!(conn, c => {
        let row: Option<BatchRow> = match batch {
            BatchRef::Id(id) => sqlx::query_as(concat!(select_batch!(), " AND id = $2"))
            .bind(merchant)
            .bind(id)
            .fetch_optional(&mut **c)
            .await?,
            BatchRef::Name(name) => sqlx::query_as(concat!(select_batch!(), " AND name = $2"))
            .bind(merchant)
            .bind(name)
            .fetch_optional(&mut **c)
            .await?,
        };
        let Some(row) = row else {
            return Ok(Err(NotIssued::Unknown(match batch {
                BatchRef::Id(id) => id.to_string(),
                BatchRef::Name(name) => format!("'{name}'"),
            })));
        };
        let (id, name, _, _, valid_from, valid_until, valid_days, uses, pattern, _) = row;
        if valid_until.is_some_and(|until| until <= now) {
            return Ok(Err(NotIssued::Ended(name)));
        }
        let until = issued_until(valid_until, valid_days, now);
        match pattern {
            Some(pattern) => {
                let pattern = CodePattern::parse(&pattern).map_err(StoreError::corrupt)?;
                for _ in 0..8 {
                    let code = generate_code(&pattern);
                    let inserted: Option<(String,)> = sqlx::query_as(
                        "INSERT INTO coupons (merchant_id, code, batch_id, card_id, max_uses, uses,
                            issued_at, valid_from, valid_until, created_at)
                         VALUES ($1, $2, $3, $4, $5, 0, $6, $7, $8, $6)
                         ON CONFLICT (merchant_id, code) DO NOTHING RETURNING code",
                    )
                    .bind(merchant)
                    .bind(&code)
                    .bind(id)
                    .bind(card_id)
                    .bind(uses)
                    .bind(now)
                    .bind(valid_from)
                    .bind(until)
                    .fetch_optional(&mut **c)
                    .await?;
                    if let Some((code,)) = inserted {
                        return Ok(Ok(code));
                    }
                }
                Ok(Err(NotIssued::NoUniqueCode(name)))
            }
            None => {
                macro_rules! free_code {
                    ($lock:literal) => {
                        concat!(
                            "SELECT c.code FROM coupons c
                             WHERE c.merchant_id = $1 AND c.batch_id = $2 AND c.card_id IS NULL
                               AND c.uses = 0 AND c.voided_at IS NULL
                               AND NOT EXISTS (SELECT 1 FROM coupon_holds h
                                               WHERE h.merchant_id = c.merchant_id
                                                 AND h.code = c.code AND h.expires_at > $3)
                             ORDER BY c.code LIMIT 1",
                            $lock
                        )
                    };
                }
                let free: Option<(String,)> = sqlx::query_as(if postgres {
                    free_code!(" FOR UPDATE SKIP LOCKED")
                } else {
                    free_code!("")
                })
                .bind(merchant)
                .bind(id)
                .bind(now)
                .fetch_optional(&mut **c)
                .await?;
                let Some((code,)) = free else {
                    return Ok(Err(NotIssued::Exhausted(name)));
                };
                sqlx::query(
                    "UPDATE coupons SET card_id = $3, issued_at = $4,
                        valid_until = CASE WHEN $5 IS NULL THEN valid_until ELSE $5 END
                     WHERE merchant_id = $1 AND code = $2",
                )
                .bind(merchant)
                .bind(&code)
                .bind(card_id)
                .bind(now)
                .bind(until)
                .execute(&mut **c)
                .await?;
                Ok(Ok(code))
            }
        }
    })
}
