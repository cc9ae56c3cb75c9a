//! Campaigns: several policies live at once for one merchant (issue 17). A campaign is a
//! policy version with its own config, a schedule, a priority, a stacking mode and a
//! state; the till runs every live one and combines their answers (see the application's
//! `service::campaigns`).
//!
//! The merchant's single active policy of before is its **default** campaign (migration
//! 0011): `policy_state.active_version` and `policy_state.config` always equal the default
//! campaign's version and config. Activating a version and replacing the policy config act
//! on the default campaign (creating it on a first activation), and an edit of the default
//! campaign writes them back, so the policy routes keep their meaning.
//!
//! Every change runs in one transaction that first bumps the merchant's generation (which
//! also serialises the merchant's campaign changes on that row's lock, and which caches and
//! PostgreSQL's change trigger follow), then writes, then appends its audit row.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use rabat_domain::budget::Limits;

use super::{AuditOf, Entity, Result, Store, StoreError, now_ms};

/// The default campaign's name.
pub const DEFAULT_CAMPAIGN: &str = "default";

/// How a campaign's discounts combine with the others' (README, "Campaigns").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub enum StackingMode {
    /// Applies together with every other applying campaign, in priority order, each capped
    /// by what the higher ones left of the line and the bill.
    Stackable,
    /// When it gives anything, no lower-priority campaign applies.
    Exclusive,
    /// Of the campaigns of its group, only the one giving the most applies.
    BestOf,
}

impl StackingMode {
    pub fn as_str(self) -> &'static str {
        match self {
            StackingMode::Stackable => "stackable",
            StackingMode::Exclusive => "exclusive",
            StackingMode::BestOf => "bestOf",
        }
    }

    fn parse(text: &str) -> Result<Self> {
        match text {
            "stackable" => Ok(StackingMode::Stackable),
            "exclusive" => Ok(StackingMode::Exclusive),
            "bestOf" => Ok(StackingMode::BestOf),
            other => Err(StoreError::corrupt(format!("campaign mode '{other}'"))),
        }
    }
}

/// Whether a campaign may run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub enum CampaignState {
    /// Runs whenever its schedule says so.
    Active,
    /// Does not run until resumed.
    Paused,
    /// Never runs again (final).
    Ended,
}

impl CampaignState {
    pub fn as_str(self) -> &'static str {
        match self {
            CampaignState::Active => "active",
            CampaignState::Paused => "paused",
            CampaignState::Ended => "ended",
        }
    }

    fn parse(text: &str) -> Result<Self> {
        match text {
            "active" => Ok(CampaignState::Active),
            "paused" => Ok(CampaignState::Paused),
            "ended" => Ok(CampaignState::Ended),
            other => Err(StoreError::corrupt(format!("campaign state '{other}'"))),
        }
    }
}

/// One campaign.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Campaign {
    pub id: i64,
    pub name: String,
    /// The policy version it runs.
    pub policy_version: i64,
    /// The JSON object handed to each of its runs.
    #[schema(value_type = Object)]
    pub config: Value,
    /// When it starts running (epoch ms, included); `null`: from the start.
    pub starts_at: Option<i64>,
    /// When it stops running (epoch ms, excluded); `null`: never.
    pub ends_at: Option<i64>,
    /// Higher runs (and applies) first; equal priorities by id, older first.
    pub priority: i64,
    pub mode: StackingMode,
    /// The `bestOf` group's name (`null` for the other modes).
    pub group: Option<String>,
    /// Its budget and per-card / per-branch limits (`null`: unlimited), kept by the host
    /// exactly under concurrency.
    pub limits: Option<Limits>,
    pub state: CampaignState,
    /// The merchant's default campaign: the one activation and the policy config act on.
    pub is_default: bool,
    pub created_at: i64,
    pub updated_at: i64,
}

impl Campaign {
    /// Whether it runs at `now` (epoch ms): active and within its schedule.
    pub fn is_live(&self, now: i64) -> bool {
        self.state == CampaignState::Active
            && self.starts_at.is_none_or(|start| now >= start)
            && self.ends_at.is_none_or(|end| now < end)
    }
}

/// A campaign to create (checked by the caller; the store's constraints back it).
#[derive(Debug, Clone, PartialEq)]
pub struct NewCampaign {
    pub name: String,
    pub policy_version: i64,
    pub config: Value,
    pub starts_at: Option<i64>,
    pub ends_at: Option<i64>,
    pub priority: i64,
    pub mode: StackingMode,
    pub group: Option<String>,
    pub limits: Option<Limits>,
}

/// What an edit changes; `None` leaves a field as it is. For the schedule, `Some(None)`
/// clears the bound.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CampaignEdit {
    pub name: Option<String>,
    pub policy_version: Option<i64>,
    pub config: Option<Value>,
    pub starts_at: Option<Option<i64>>,
    pub ends_at: Option<Option<i64>>,
    pub priority: Option<i64>,
    /// The mode and, for `bestOf`, its group.
    pub mode: Option<(StackingMode, Option<String>)>,
    /// `Some(None)` removes the limits.
    pub limits: Option<Option<Limits>>,
}

/// A campaign with what it changed from, for an audit row.
#[derive(Debug, Clone, PartialEq)]
pub struct CampaignChange {
    pub before: Option<Campaign>,
    pub after: Campaign,
}

/// A runnable campaign with its module's hash (what the policy cache loads).
#[derive(Debug, Clone, PartialEq)]
pub struct RunnableCampaign {
    pub campaign: Campaign,
    pub sha256: String,
    /// The config as stored (the text the policy is handed).
    pub config_text: String,
}

/// A campaign's columns, for `concat!` (queries stay static strings).
macro_rules! columns {
    () => {
        "c.id, c.name, c.policy_version, c.config, c.starts_at, c.ends_at, c.priority, \
         c.mode, c.group_name, c.limits, c.state, c.is_default, c.created_at, c.updated_at"
    };
}

/// A campaign's row.
#[derive(sqlx::FromRow)]
struct Row {
    id: i64,
    name: String,
    policy_version: i64,
    config: String,
    starts_at: Option<i64>,
    ends_at: Option<i64>,
    priority: i64,
    mode: String,
    group_name: Option<String>,
    limits: Option<String>,
    state: String,
    is_default: i64,
    created_at: i64,
    updated_at: i64,
}

/// A campaign's row and its module's hash.
#[derive(sqlx::FromRow)]
struct RunnableRow {
    #[sqlx(flatten)]
    row: Row,
    sha256: String,
}

fn from_row(row: Row) -> Result<Campaign> {
    Ok(Campaign {
        id: row.id,
        name: row.name,
        policy_version: row.policy_version,
        config: serde_json::from_str(&row.config).map_err(StoreError::corrupt)?,
        starts_at: row.starts_at,
        ends_at: row.ends_at,
        priority: row.priority,
        mode: StackingMode::parse(&row.mode)?,
        group: row.group_name,
        limits: row
            .limits
            .as_deref()
            .map(serde_json::from_str)
            .transpose()
            .map_err(StoreError::corrupt)?,
        state: CampaignState::parse(&row.state)?,
        is_default: row.is_default != 0,
        created_at: row.created_at,
        updated_at: row.updated_at,
    })
}

/// The limits as stored: checked, and NULL for none.
fn limits_text(limits: Option<&Limits>) -> Result<Option<String>> {
    match limits {
        None => Ok(None),
        Some(limits) if limits.is_empty() && limits.time_zone.is_none() => Ok(None),
        Some(limits) => {
            limits
                .check()
                .map_err(|invalid| StoreError::Invalid(invalid.to_string()))?;
            serde_json::to_string(limits)
                .map(Some)
                .map_err(|e| StoreError::Invalid(e.to_string()))
        }
    }
}

fn object_text(config: &Value) -> Result<String> {
    if !config.is_object() {
        return Err(StoreError::Invalid(
            "config: must be a JSON object".to_owned(),
        ));
    }
    Ok(config.to_string())
}

fn schedule_ok(starts_at: Option<i64>, ends_at: Option<i64>) -> Result<()> {
    match (starts_at, ends_at) {
        (Some(start), Some(end)) if start >= end => Err(StoreError::Invalid(format!(
            "endsAt: must be after startsAt ({end} is not after {start})"
        ))),
        _ => Ok(()),
    }
}

fn mode_ok(mode: StackingMode, group: Option<&str>) -> Result<()> {
    match (mode, group) {
        (StackingMode::BestOf, None) => Err(StoreError::Invalid(
            "group: a bestOf campaign needs a group name".to_owned(),
        )),
        (StackingMode::Stackable | StackingMode::Exclusive, Some(_)) => Err(StoreError::Invalid(
            "group: only a bestOf campaign has a group".to_owned(),
        )),
        _ => Ok(()),
    }
}

/// Bumps the merchant's generation inside `$tx` (taking its row's lock), or the merchant
/// is not found.
macro_rules! bump_generation {
    ($tx:expr, $merchant:expr) => {{
        let row: Option<(i64,)> = sqlx::query_as(
            "UPDATE policy_state SET generation = generation + 1
             WHERE merchant_id = $1 RETURNING generation",
        )
        .bind($merchant)
        .fetch_optional(&mut *$tx)
        .await?;
        match row {
            Some((generation,)) => Ok::<i64, StoreError>(generation),
            None => Err(StoreError::not_found(Entity::Merchant, $merchant)),
        }
    }};
}

/// The campaign `$id` of `$merchant` inside `$tx`, or not found.
macro_rules! campaign_in {
    ($tx:expr, $merchant:expr, $id:expr) => {{
        let row: Option<Row> = sqlx::query_as(concat!(
            "SELECT ",
            columns!(),
            " FROM campaigns c WHERE c.merchant_id = $1 AND c.id = $2"
        ))
        .bind($merchant)
        .bind($id)
        .fetch_optional(&mut *$tx)
        .await?;
        match row {
            Some(row) => from_row(row),
            None => Err(StoreError::not_found(Entity::Campaign, $id.to_string())),
        }
    }};
}

/// Checks that the merchant has policy version `$version` inside `$tx`.
macro_rules! version_exists {
    ($tx:expr, $merchant:expr, $version:expr) => {{
        let row: Option<(i64,)> =
            sqlx::query_as("SELECT version FROM policies WHERE merchant_id = $1 AND version = $2")
                .bind($merchant)
                .bind($version)
                .fetch_optional(&mut *$tx)
                .await?;
        match row {
            Some(_) => Ok::<(), StoreError>(()),
            None => Err(StoreError::not_found(Entity::Policy, $version.to_string())),
        }
    }};
}

/// Another campaign of the merchant already has `$name` (other than `$id`).
macro_rules! name_taken {
    ($tx:expr, $merchant:expr, $name:expr, $id:expr) => {{
        let row: Option<(i64,)> = sqlx::query_as(
            "SELECT id FROM campaigns WHERE merchant_id = $1 AND name = $2 AND id <> $3",
        )
        .bind($merchant)
        .bind($name)
        .bind($id)
        .fetch_optional(&mut *$tx)
        .await?;
        if row.is_some() {
            Err(StoreError::Conflict {
                entity: Entity::Campaign,
                id: $name.to_owned(),
                reason: "another campaign of the merchant has this name",
            })
        } else {
            Ok(())
        }
    }};
}

/// Writes every editable column of `$c` (a `Campaign`) inside `$tx`.
macro_rules! write_campaign {
    ($tx:expr, $merchant:expr, $c:expr) => {{
        let c: &Campaign = $c;
        sqlx::query(
            "UPDATE campaigns SET name = $3, policy_version = $4, config = $5, starts_at = $6,
                    ends_at = $7, priority = $8, mode = $9, group_name = $10, state = $11,
                    updated_at = $12, limits = $13
             WHERE merchant_id = $1 AND id = $2",
        )
        .bind($merchant)
        .bind(c.id)
        .bind(&c.name)
        .bind(c.policy_version)
        .bind(c.config.to_string())
        .bind(c.starts_at)
        .bind(c.ends_at)
        .bind(c.priority)
        .bind(c.mode.as_str())
        .bind(c.group.as_deref())
        .bind(c.state.as_str())
        .bind(c.updated_at)
        .bind(limits_text(c.limits.as_ref())?)
        .execute(&mut *$tx)
        .await
    }};
}

impl Store {
    /// Creates a campaign (state `active`) and returns it. Its policy version must be the
    /// merchant's (else not found); its name must be new for the merchant (else a conflict).
    /// The merchant may have at most `max_open` campaigns that have not ended (a quota
    /// error past it), counted inside the write.
    pub async fn create_campaign(
        &self,
        merchant: &str,
        new: &NewCampaign,
        max_open: usize,
        audit: impl AuditOf<Campaign>,
    ) -> Result<Campaign> {
        let config = object_text(&new.config)?;
        schedule_ok(new.starts_at, new.ends_at)?;
        mode_ok(new.mode, new.group.as_deref())?;
        let limits = limits_text(new.limits.as_ref())?;
        let now = now_ms();
        with_pool!(self, pool => {
            let mut tx = self.turn.begin(pool).await?;
            bump_generation!(tx, merchant)?;
            version_exists!(tx, merchant, new.policy_version)?;
            name_taken!(tx, merchant, new.name.as_str(), -1_i64)?;
            // Counted under the generation row's lock taken above, so concurrent creates
            // cannot pass the bound together.
            let (open,): (i64,) = sqlx::query_as(
                "SELECT COUNT(*) FROM campaigns WHERE merchant_id = $1 AND state <> 'ended'",
            )
            .bind(merchant)
            .fetch_one(&mut *tx)
            .await?;
            if usize::try_from(open).unwrap_or(usize::MAX) >= max_open {
                return Err(StoreError::QuotaExceeded(format!(
                    "the merchant already has {open} campaigns that have not ended; at most {max_open} are allowed (end one first)"
                )));
            }
            let (id,): (i64,) = sqlx::query_as(
                "INSERT INTO campaigns (merchant_id, name, policy_version, config, starts_at,
                        ends_at, priority, mode, group_name, state, is_default, created_at,
                        updated_at, limits)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'active', 0, $10, $10, $11)
                 RETURNING id",
            )
            .bind(merchant)
            .bind(&new.name)
            .bind(new.policy_version)
            .bind(&config)
            .bind(new.starts_at)
            .bind(new.ends_at)
            .bind(new.priority)
            .bind(new.mode.as_str())
            .bind(new.group.as_deref())
            .bind(now)
            .bind(limits)
            .fetch_one(&mut *tx)
            .await?;
            let created = campaign_in!(tx, merchant, id)?;
            insert_audit!(tx, merchant, &audit(&created))?;
            tx.commit().await?;
            Ok(created)
        })
    }

    /// The merchant's campaigns, in the order they run: priority, highest first, then id.
    pub async fn list_campaigns(&self, merchant: &str) -> Result<Vec<Campaign>> {
        let rows: Vec<Row> = with_pool!(self, pool => {
            sqlx::query_as(concat!("SELECT ", columns!(), " FROM campaigns c WHERE c.merchant_id = $1
                 ORDER BY c.priority DESC, c.id"))
            .bind(merchant)
            .fetch_all(pool)
            .await
        })?;
        rows.into_iter().map(from_row).collect()
    }

    /// One campaign, or not found.
    pub async fn campaign(&self, merchant: &str, id: i64) -> Result<Campaign> {
        let row: Option<Row> = with_pool!(self, pool => {
            sqlx::query_as(concat!("SELECT ", columns!(), " FROM campaigns c WHERE c.merchant_id = $1 AND c.id = $2"))
            .bind(merchant)
            .bind(id)
            .fetch_optional(pool)
            .await
        })?;
        match row {
            Some(row) => from_row(row),
            None => Err(StoreError::not_found(Entity::Campaign, id.to_string())),
        }
    }

    /// Every merchant's active campaigns that have limits (for `/metrics`), with their
    /// merchant's id.
    pub async fn limited_campaigns(&self) -> Result<Vec<(String, Campaign)>> {
        #[derive(sqlx::FromRow)]
        struct Limited {
            merchant_id: String,
            #[sqlx(flatten)]
            row: Row,
        }
        let rows: Vec<Limited> = with_pool!(self, pool => {
            sqlx::query_as(concat!("SELECT c.merchant_id, ", columns!(), " FROM campaigns c
                 WHERE c.limits IS NOT NULL AND c.state = 'active'
                 ORDER BY c.merchant_id, c.id"))
            .fetch_all(pool)
            .await
        })?;
        rows.into_iter()
            .map(|r| Ok((r.merchant_id, from_row(r.row)?)))
            .collect()
    }

    /// The campaigns that may run (state `active`, whatever their schedule), in run order,
    /// each with its module's hash: what the policy cache keeps per merchant.
    pub async fn runnable_campaigns(&self, merchant: &str) -> Result<Vec<RunnableCampaign>> {
        let rows: Vec<RunnableRow> = with_pool!(self, pool => {
            sqlx::query_as(concat!("SELECT ", columns!(), ", p.sha256 FROM campaigns c
                     JOIN policies p ON p.merchant_id = c.merchant_id AND p.version = c.policy_version
                     WHERE c.merchant_id = $1 AND c.state = 'active'
                     ORDER BY c.priority DESC, c.id"))
            .bind(merchant)
            .fetch_all(pool)
            .await
        })?;
        rows.into_iter()
            .map(|r| {
                let config_text = r.row.config.clone();
                Ok(RunnableCampaign {
                    campaign: from_row(r.row)?,
                    sha256: r.sha256,
                    config_text,
                })
            })
            .collect()
    }

    /// Edits a campaign (not an ended one: a conflict) and returns it with what it was.
    /// A new policy version must be the merchant's; a new name must be free. Editing the
    /// default campaign's version or config writes them to the policy state too.
    pub async fn update_campaign(
        &self,
        merchant: &str,
        id: i64,
        edit: &CampaignEdit,
        audit: impl AuditOf<CampaignChange>,
    ) -> Result<CampaignChange> {
        if let Some(config) = &edit.config {
            object_text(config)?;
        }
        let now = now_ms();
        with_pool!(self, pool => {
            let mut tx = self.turn.begin(pool).await?;
            bump_generation!(tx, merchant)?;
            let before = campaign_in!(tx, merchant, id)?;
            if before.state == CampaignState::Ended {
                return Err(StoreError::Conflict {
                    entity: Entity::Campaign,
                    id: id.to_string(),
                    reason: "the campaign has ended and can no longer be edited",
                });
            }
            let mut after = before.clone();
            if let Some(name) = &edit.name {
                name_taken!(tx, merchant, name.as_str(), id)?;
                after.name = name.clone();
            }
            if let Some(version) = edit.policy_version {
                version_exists!(tx, merchant, version)?;
                after.policy_version = version;
            }
            if let Some(config) = &edit.config {
                after.config = config.clone();
            }
            if let Some(starts_at) = edit.starts_at {
                after.starts_at = starts_at;
            }
            if let Some(ends_at) = edit.ends_at {
                after.ends_at = ends_at;
            }
            if let Some(priority) = edit.priority {
                after.priority = priority;
            }
            if let Some((mode, group)) = &edit.mode {
                after.mode = *mode;
                after.group = group.clone();
            }
            if let Some(limits) = &edit.limits {
                after.limits = limits.clone();
            }
            schedule_ok(after.starts_at, after.ends_at)?;
            mode_ok(after.mode, after.group.as_deref())?;
            after.updated_at = now;
            write_campaign!(tx, merchant, &after)?;
            if after.is_default {
                sqlx::query(
                    "UPDATE policy_state SET active_version = $2, config = $3 WHERE merchant_id = $1",
                )
                .bind(merchant)
                .bind(after.policy_version)
                .bind(after.config.to_string())
                .execute(&mut *tx)
                .await?;
            }
            let change = CampaignChange {
                before: Some(before),
                after,
            };
            insert_audit!(tx, merchant, &audit(&change))?;
            tx.commit().await?;
            Ok(change)
        })
    }

    /// Pauses, resumes or ends a campaign. Asking for the state it is in changes nothing
    /// (and is not audited); an ended campaign cannot be paused or resumed (a conflict).
    pub async fn set_campaign_state(
        &self,
        merchant: &str,
        id: i64,
        state: CampaignState,
        audit: impl AuditOf<CampaignChange>,
    ) -> Result<CampaignChange> {
        let now = now_ms();
        with_pool!(self, pool => {
            let mut tx = self.turn.begin(pool).await?;
            bump_generation!(tx, merchant)?;
            let before = campaign_in!(tx, merchant, id)?;
            if before.state == state {
                // Nothing changes: the generation bump is rolled back with the transaction.
                return Ok(CampaignChange {
                    before: Some(before.clone()),
                    after: before,
                });
            }
            if before.state == CampaignState::Ended {
                return Err(StoreError::Conflict {
                    entity: Entity::Campaign,
                    id: id.to_string(),
                    reason: "the campaign has ended; an ended campaign never runs again",
                });
            }
            let mut after = before.clone();
            after.state = state;
            after.updated_at = now;
            write_campaign!(tx, merchant, &after)?;
            let change = CampaignChange {
                before: Some(before),
                after,
            };
            insert_audit!(tx, merchant, &audit(&change))?;
            tx.commit().await?;
            Ok(change)
        })
    }
}

/// Inside an activation's transaction `$tx`: points the merchant's default campaign at
/// `$version`, creating it (stackable, active, with the merchant's policy config) on the
/// first activation. Its state is left as it is: a paused default stays paused.
macro_rules! activate_default_campaign {
    ($tx:expr, $merchant:expr, $version:expr, $now:expr) => {{
        let updated = sqlx::query(
            "UPDATE campaigns SET policy_version = $2, updated_at = $3
             WHERE merchant_id = $1 AND is_default = 1",
        )
        .bind($merchant)
        .bind($version)
        .bind($now)
        .execute(&mut *$tx)
        .await?;
        if updated.rows_affected() == 0 {
            sqlx::query(
                "INSERT INTO campaigns (merchant_id, name, policy_version, config, mode, state,
                        is_default, created_at, updated_at)
                 SELECT merchant_id, $2, $3, config, 'stackable', 'active', 1, $4, $4
                 FROM policy_state WHERE merchant_id = $1",
            )
            .bind($merchant)
            .bind($crate::campaigns::DEFAULT_CAMPAIGN)
            .bind($version)
            .bind($now)
            .execute(&mut *$tx)
            .await?;
        }
        Ok::<(), StoreError>(())
    }};
}

/// Inside a config change's transaction `$tx`: the default campaign takes the merchant's
/// new policy config `$text` too.
macro_rules! configure_default_campaign {
    ($tx:expr, $merchant:expr, $text:expr, $now:expr) => {
        sqlx::query(
            "UPDATE campaigns SET config = $2, updated_at = $3
             WHERE merchant_id = $1 AND is_default = 1",
        )
        .bind($merchant)
        .bind($text)
        .bind($now)
        .execute(&mut *$tx)
        .await
    };
}
