//! The evaluation log's housekeeping: removing what retention no longer keeps, at a cost
//! that follows what is removed rather than the size of the log.
//!
//! * **By age.** A row expires at `expires_at` (when it ran plus its merchant's retention
//!   in days); it is removed by the first pass after the end of the UTC day in which it
//!   expires. On PostgreSQL the table is partitioned by that day: a pass drops the
//!   partitions whose day is over (no `DELETE`), creates the coming days' partitions ahead
//!   of time, and deletes expired rows from the default partition (which catches rows whose
//!   day had no partition yet). On SQLite it is a range delete on `evaluations_by_expiry`
//!   in batches of [`HousekeepingOptions::batch`] rows, each its own short write
//!   transaction, with a pause between them so the single writer is never held for long.
//! * **By count.** A merchant's rows beyond [`EvaluationRetention::max_rows`] (its count is
//!   kept in `evaluation_counts`, written with the rows) are removed oldest first, in
//!   batches: checking costs one read of a table with a row per merchant. It runs after
//!   the removal by age, and not at all in a pass that had to leave an expired partition
//!   for later (its rows still count, and the cap would remove live rows in their place).
//! * **One replica at a time.** A pass first takes the lease row `evaluations` in
//!   `housekeeping_leases` (one conditional `UPDATE`); every step renews it inside its own
//!   transaction and stops if it was lost, so two replicas never remove rows at once. The
//!   holder keeps the lease between passes; another replica takes over only once it lapses.
//! * **Crash-safe.** Every step is one transaction that removes rows and lowers their
//!   merchants' counts together; a crash rolls back at most the step it interrupted, and
//!   nothing a step removes has not expired.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use crate::engine::EngineKind;
use crate::evaluations::EvaluationRetention;
use crate::stats::DAY_MS;
use crate::{Result, Store, StoreError};

/// How a pass goes about it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HousekeepingOptions {
    /// Rows removed per step (SQLite's range delete, the default partition, the row cap).
    pub batch: u32,
    /// The pause between two steps, which lets the log's writer and the tills in.
    pub pause: Duration,
    /// How long the lease lasts from each renewal: longer than the interval between
    /// passes, so the holder keeps it and other replicas skip.
    pub lease: Duration,
    /// PostgreSQL: how long dropping or creating a partition waits for its lock before
    /// giving up until the next pass (it must lock the whole table briefly, and everyone
    /// else would queue behind a waiting drop).
    pub lock_timeout: Duration,
}

impl Default for HousekeepingOptions {
    fn default() -> Self {
        HousekeepingOptions {
            batch: 200,
            pause: Duration::from_millis(20),
            lease: Duration::from_secs(180),
            lock_timeout: Duration::from_millis(50),
        }
    }
}

/// What a pass did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HousekeepingReport {
    /// Rows removed because they expired (dropped partitions included).
    pub expired: u64,
    /// Rows removed because their merchant was over the row cap.
    pub over_cap: u64,
    /// PostgreSQL: partitions dropped and created.
    pub partitions_dropped: u32,
    pub partitions_created: u32,
    /// PostgreSQL: partitions that could not be dropped or created this time (a lock not
    /// granted in time, a conflicting row in the default partition); retried next pass.
    pub partitions_deferred: u32,
    /// PostgreSQL: of those, the expired partitions left undropped. While any is left the
    /// pass does not trim to the row cap (it would count their rows and remove live ones).
    pub drops_deferred: u32,
}

/// Whether this replica did the pass.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Housekeeping {
    /// Another replica holds the lease.
    Skipped,
    Done(HousekeepingReport),
}

const LEASE: &str = "evaluations";

/// A PostgreSQL partition of the log, known by its name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Partition {
    /// `evaluations_d<day>`: rows expiring on that UTC day (days since 1970-01-01).
    Day(i64),
    /// `evaluations_before_<day>`: rows expiring before that day (made by the migration).
    Before(i64),
}

impl Partition {
    fn parse(name: &str) -> Option<Partition> {
        if let Some(day) = name.strip_prefix("evaluations_d") {
            return day.parse().ok().map(Partition::Day);
        }
        name.strip_prefix("evaluations_before_")
            .and_then(|day| day.parse().ok())
            .map(Partition::Before)
    }

    fn name(self) -> String {
        match self {
            Partition::Day(day) => format!("evaluations_d{day}"),
            Partition::Before(day) => format!("evaluations_before_{day}"),
        }
    }

    /// True when every row it can hold expired before `cutoff` (the start of today).
    fn over(self, cutoff_day: i64) -> bool {
        match self {
            Partition::Day(day) => day < cutoff_day,
            Partition::Before(day) => day <= cutoff_day,
        }
    }
}

fn ms(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}

/// Lowers each merchant's row count by the rows a step removed, in merchant order.
macro_rules! lower_counts {
    ($tx:expr, $removed:expr) => {{
        let removed: &BTreeMap<String, i64> = $removed;
        let mut result: std::result::Result<(), sqlx::Error> = Ok(());
        for (merchant, n) in removed {
            let done = sqlx::query(
                "UPDATE evaluation_counts SET logged = CASE WHEN logged > $2 THEN logged - $2 ELSE 0 END
                 WHERE merchant_id = $1",
            )
            .bind(merchant)
            .bind(*n)
            .execute(&mut *$tx)
            .await;
            if let Err(error) = done {
                result = Err(error);
                break;
            }
        }
        result
    }};
}

/// Renews the lease inside a step's transaction; `Ok(false)` when it was lost.
macro_rules! renew_lease {
    ($tx:expr, $holder:expr, $now:expr, $lease_ms:expr) => {{
        sqlx::query(
            "UPDATE housekeeping_leases SET expires_at = $3
             WHERE name = $4 AND holder = $1 AND expires_at > $2",
        )
        .bind($holder)
        .bind($now)
        .bind($now.saturating_add($lease_ms))
        .bind(LEASE)
        .execute(&mut *$tx)
        .await
        .map(|done| done.rows_affected() == 1)
    }};
}

fn tally(merchants: Vec<String>) -> BTreeMap<String, i64> {
    let mut removed = BTreeMap::new();
    for merchant in merchants {
        *removed.entry(merchant).or_insert(0) += 1;
    }
    removed
}

/// The pass's clock: the caller's `now`, moving on with real time.
struct Clock {
    start: i64,
    since: Instant,
}

impl Clock {
    fn now(&self) -> i64 {
        self.start
            .saturating_add(i64::try_from(self.since.elapsed().as_millis()).unwrap_or(i64::MAX))
    }
}

impl Store {
    /// One housekeeping pass over the evaluation log as of `now` (epoch ms), by the replica
    /// `holder` (any id unique to the process): takes the lease or returns
    /// [`Housekeeping::Skipped`], then removes expired rows and rows over the row cap (and,
    /// on PostgreSQL, keeps partitions ready for the coming days). See the module's
    /// documentation for how; the server runs it every minute.
    pub async fn housekeep_evaluations(
        &self,
        holder: &str,
        now: i64,
        retention: &EvaluationRetention,
        options: &HousekeepingOptions,
    ) -> Result<Housekeeping> {
        let clock = Clock {
            start: now,
            since: Instant::now(),
        };
        let lease_ms = ms(options.lease);
        let taken = with_pool!(self, pool => sqlx::query(
            "UPDATE housekeeping_leases SET holder = $1, expires_at = $3
             WHERE name = $4 AND (expires_at <= $2 OR holder = $1)",
        )
        .bind(holder)
        .bind(now)
        .bind(now.saturating_add(lease_ms))
        .bind(LEASE)
        .execute(pool)
        .await
        .map(|done| done.rows_affected()))?;
        if taken != 1 {
            return Ok(Housekeeping::Skipped);
        }
        let cutoff = now.div_euclid(DAY_MS) * DAY_MS;
        let mut report = HousekeepingReport::default();
        let mut expired_left = false;
        match self.engine() {
            EngineKind::Sqlite => {
                report.expired += self
                    .delete_expired(holder, &clock, cutoff, "evaluations", options)
                    .await?;
            }
            EngineKind::Postgres => {
                self.maintain_partitions(holder, &clock, cutoff, retention, options, &mut report)
                    .await?;
                expired_left = report.drops_deferred > 0;
                report.expired += self
                    .delete_expired(holder, &clock, cutoff, "evaluations_default", options)
                    .await?;
            }
        }
        // The row cap counts every row a merchant has. While expired rows are still there
        // (a partition whose drop was deferred), trimming to the cap would count them and
        // remove live rows in their place: the cap waits for the next pass instead.
        if !expired_left {
            report.over_cap = self.trim_to_cap(holder, &clock, retention, options).await?;
        }
        Ok(Housekeeping::Done(report))
    }

    /// Sets how many days the merchant's evaluations are kept (`None`: the operator's
    /// default), with its audit row in the same transaction. It applies to evaluations
    /// logged from then on; the operator's maximum still bounds it when they are written.
    pub async fn set_evaluation_retention(
        &self,
        merchant: &str,
        days: Option<u32>,
        audit: impl crate::AuditOf<()>,
    ) -> Result<()> {
        let found = with_pool!(self, pool => {
            let mut tx = self.turn.begin(pool).await?;
            let done = sqlx::query(
                "UPDATE merchants SET evaluation_retention_days = $2 WHERE id = $1",
            )
            .bind(merchant)
            .bind(days.map(i64::from))
            .execute(&mut *tx)
            .await?;
            let found = done.rows_affected() == 1;
            if found {
                insert_audit!(tx, merchant, &audit(&()))?;
                tx.commit().await?;
            }
            found
        });
        if !found {
            return Err(StoreError::not_found(crate::Entity::Merchant, merchant));
        }
        Ok(())
    }

    /// Each merchant's row count as the row cap sees it (`evaluation_counts`), by merchant.
    pub async fn evaluation_counts(&self) -> Result<Vec<(String, u64)>> {
        let rows: Vec<(String, i64)> = with_pool!(self, pool => sqlx::query_as(
            "SELECT merchant_id, logged FROM evaluation_counts ORDER BY merchant_id",
        )
        .fetch_all(pool)
        .await)?;
        Ok(rows
            .into_iter()
            .map(|(merchant, n)| (merchant, u64::try_from(n).unwrap_or(0)))
            .collect())
    }

    /// The merchant's own retention in days, if it set one.
    pub async fn evaluation_retention(&self, merchant: &str) -> Result<Option<u32>> {
        let days: Option<(Option<i64>,)> = with_pool!(self, pool => sqlx::query_as(
            "SELECT CAST(evaluation_retention_days AS BIGINT) FROM merchants WHERE id = $1",
        )
        .bind(merchant)
        .fetch_optional(pool)
        .await)?;
        match days {
            None => Err(StoreError::not_found(crate::Entity::Merchant, merchant)),
            Some((days,)) => Ok(days.and_then(|d| u32::try_from(d).ok())),
        }
    }

    /// Removes rows of `table` (the log, or PostgreSQL's default partition) that expired
    /// before `cutoff`, a batch per transaction, oldest first.
    async fn delete_expired(
        &self,
        holder: &str,
        clock: &Clock,
        cutoff: i64,
        table: &'static str,
        options: &HousekeepingOptions,
    ) -> Result<u64> {
        let sql = format!(
            "DELETE FROM {table} WHERE id IN (
                SELECT id FROM {table} WHERE expires_at < $1 ORDER BY expires_at LIMIT $2)
             RETURNING merchant_id"
        );
        self.delete_in_batches(holder, clock, &sql, None, cutoff, options)
            .await
    }

    /// Brings every merchant back to the row cap, oldest rows first.
    async fn trim_to_cap(
        &self,
        holder: &str,
        clock: &Clock,
        retention: &EvaluationRetention,
        options: &HousekeepingOptions,
    ) -> Result<u64> {
        let cap = i64::try_from(retention.max_rows).unwrap_or(i64::MAX);
        let over: Vec<(String, i64)> = with_pool!(self, pool => sqlx::query_as(
            "SELECT merchant_id, logged FROM evaluation_counts WHERE logged > $1
             ORDER BY merchant_id",
        )
        .bind(cap)
        .fetch_all(pool)
        .await)?;
        let sql = "DELETE FROM evaluations WHERE merchant_id = $3 AND id IN (
                SELECT id FROM evaluations WHERE merchant_id = $3 AND $1 = $1
                ORDER BY id LIMIT $2)
             RETURNING merchant_id";
        let mut removed = 0;
        for (merchant, logged) in over {
            let excess = u64::try_from(logged - cap).unwrap_or(0);
            removed += self
                .delete_in_batches(holder, clock, sql, Some((&merchant, excess)), 0, options)
                .await?;
        }
        Ok(removed)
    }

    /// Runs a `DELETE … RETURNING merchant_id` (`$1` the cutoff, `$2` the batch, `$3` the
    /// merchant when `only` names one, with at most that many rows in all) until it removes
    /// less than a batch, each batch in a transaction that renews the lease and lowers the
    /// counts.
    async fn delete_in_batches(
        &self,
        holder: &str,
        clock: &Clock,
        sql: &str,
        only: Option<(&str, u64)>,
        cutoff: i64,
        options: &HousekeepingOptions,
    ) -> Result<u64> {
        let lease_ms = ms(options.lease);
        let batch = u64::from(options.batch.max(1));
        let mut removed = 0u64;
        loop {
            let want = match only {
                Some((_, limit)) => batch.min(limit - removed),
                None => batch,
            };
            if want == 0 {
                return Ok(removed);
            }
            let now = clock.now();
            let gone = with_pool!(self, pool => {
                let mut tx = self.turn.begin(pool).await?;
                if !renew_lease!(tx, holder, now, lease_ms)? {
                    return Err(StoreError::Invalid(
                        "the housekeeping lease was taken over by another replica".into(),
                    ));
                }
                let mut query = sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
                    .bind(cutoff)
                    .bind(i64::try_from(want).unwrap_or(i64::MAX));
                if let Some((merchant, _)) = only {
                    query = query.bind(merchant);
                }
                let merchants: Vec<String> = query.fetch_all(&mut *tx).await?;
                let gone = merchants.len() as u64;
                lower_counts!(tx, &tally(merchants))?;
                tx.commit().await?;
                gone
            });
            removed += gone;
            if gone < want {
                return Ok(removed);
            }
            tokio::time::sleep(options.pause).await;
        }
    }

    /// PostgreSQL: drops the partitions whose day is over and creates those of the coming
    /// days (up to the longest retention any merchant can have now, and two days more).
    async fn maintain_partitions(
        &self,
        holder: &str,
        clock: &Clock,
        cutoff: i64,
        retention: &EvaluationRetention,
        options: &HousekeepingOptions,
        report: &mut HousekeepingReport,
    ) -> Result<()> {
        let crate::engine::Pool::Postgres(pool) = &self.pool else {
            return Ok(());
        };
        let names: Vec<String> = sqlx::query_scalar(
            "SELECT c.relname::TEXT FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
             WHERE i.inhparent = 'evaluations'::regclass",
        )
        .fetch_all(pool)
        .await?;
        let partitions: Vec<Partition> = names.iter().filter_map(|n| Partition::parse(n)).collect();
        let today = cutoff / DAY_MS;
        let lease_ms = ms(options.lease);
        let lock_timeout = format!(
            "SET LOCAL lock_timeout = {}",
            ms(options.lock_timeout).max(1)
        );
        let mut over: Vec<Partition> = partitions
            .iter()
            .copied()
            .filter(|p| p.over(today))
            .collect();
        over.sort_by_key(|p| match p {
            Partition::Day(day) | Partition::Before(day) => *day,
        });
        for partition in over {
            let name = partition.name();
            let now = clock.now();
            let mut tx = pool.begin().await?;
            if !renew_lease!(tx, holder, now, lease_ms)? {
                return Err(StoreError::Invalid(
                    "the housekeeping lease was taken over by another replica".into(),
                ));
            }
            sqlx::query(sqlx::AssertSqlSafe(lock_timeout.as_str()))
                .execute(&mut *tx)
                .await?;
            // The counts first (this reads only the partition, locking nothing the tills
            // need), then the drop, which must lock the whole table, then the count rows:
            // the log's writer takes the table before the count rows too, so the two never
            // deadlock.
            let counts: Vec<(String, i64)> = match sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "SELECT merchant_id, COUNT(*) FROM \"{name}\" GROUP BY merchant_id ORDER BY merchant_id"
            )))
            .fetch_all(&mut *tx)
            .await
            {
                Ok(counts) => counts,
                // Dropped since the list was read (a pass that lost the lease mid-way).
                Err(error) if is_undefined_table(&error) => continue,
                Err(error) => return Err(error.into()),
            };
            let dropped = sqlx::query(sqlx::AssertSqlSafe(format!("DROP TABLE \"{name}\"")))
                .execute(&mut *tx)
                .await;
            match dropped {
                Ok(_) => {}
                Err(error) if is_lock_timeout(&error) => {
                    tracing::info!(partition = %name, "evaluation log partition busy; dropped next pass");
                    report.partitions_deferred += 1;
                    report.drops_deferred += 1;
                    continue;
                }
                Err(error) => return Err(error.into()),
            }
            // One statement: the table stays locked until the commit, so no round trip per
            // merchant while tills wait.
            let (merchants, numbers): (Vec<String>, Vec<i64>) = counts.into_iter().unzip();
            sqlx::query(
                "UPDATE evaluation_counts c
                 SET logged = CASE WHEN c.logged > d.n THEN c.logged - d.n ELSE 0 END
                 FROM unnest($1::TEXT[], $2::BIGINT[]) AS d(merchant_id, n)
                 WHERE c.merchant_id = d.merchant_id",
            )
            .bind(&merchants)
            .bind(&numbers)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            let removed: BTreeMap<String, i64> = merchants.into_iter().zip(numbers).collect();
            report.partitions_dropped += 1;
            report.expired += removed
                .values()
                .map(|n| u64::try_from(*n).unwrap_or(0))
                .sum::<u64>();
        }
        let longest: Option<i64> = sqlx::query_scalar(
            "SELECT CAST(MAX(evaluation_retention_days) AS BIGINT) FROM merchants",
        )
        .fetch_one(pool)
        .await?;
        let max_days = i64::from(retention.max_days.max(1));
        let horizon = longest
            .unwrap_or(0)
            .max(i64::from(retention.default_days))
            .min(max_days)
            + 2;
        for day in today..=today + horizon {
            if partitions.contains(&Partition::Day(day)) {
                continue;
            }
            let name = Partition::Day(day).name();
            let mut tx = pool.begin().await?;
            sqlx::query(sqlx::AssertSqlSafe(lock_timeout.as_str()))
                .execute(&mut *tx)
                .await?;
            let created = sqlx::query(sqlx::AssertSqlSafe(format!(
                "CREATE TABLE IF NOT EXISTS \"{name}\" PARTITION OF evaluations
                 FOR VALUES FROM ({}) TO ({})",
                day * DAY_MS,
                (day + 1) * DAY_MS
            )))
            .execute(&mut *tx)
            .await;
            match created {
                Ok(_) => {
                    tx.commit().await?;
                    report.partitions_created += 1;
                }
                Err(error) => {
                    // A lock not granted in time, another replica creating it at the same
                    // moment, or rows for that day already in the default partition (they
                    // stay there and are deleted when they expire).
                    tracing::info!(partition = %name, %error, "evaluation log partition not created this pass");
                    report.partitions_deferred += 1;
                }
            }
        }
        Ok(())
    }
}

fn is_undefined_table(error: &sqlx::Error) -> bool {
    // 42P01: undefined_table.
    matches!(error, sqlx::Error::Database(e) if e.code().as_deref() == Some("42P01"))
}

fn is_lock_timeout(error: &sqlx::Error) -> bool {
    // 55P03: lock_not_available.
    matches!(error, sqlx::Error::Database(e) if e.code().as_deref() == Some("55P03"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partitions_are_known_by_name() {
        assert_eq!(
            Partition::parse("evaluations_d20794"),
            Some(Partition::Day(20794))
        );
        assert_eq!(
            Partition::parse("evaluations_before_20794"),
            Some(Partition::Before(20794))
        );
        assert_eq!(Partition::parse("evaluations_default"), None);
        assert_eq!(Partition::Day(7).name(), "evaluations_d7");
        // A day's partition goes once the day is over; "before" once its day has begun.
        assert!(Partition::Day(9).over(10));
        assert!(!Partition::Day(10).over(10));
        assert!(Partition::Before(10).over(10));
        assert!(!Partition::Before(11).over(10));
    }
}
