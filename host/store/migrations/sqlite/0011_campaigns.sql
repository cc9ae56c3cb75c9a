-- Campaigns (issue 17). Keep in step with ../postgres/0011_campaigns.sql.
--
-- A merchant runs any number of campaigns at once: each is a policy version with its own
-- config, a schedule (optional start and end instants, epoch ms, the end excluded), a
-- priority (higher first; equal priorities by id, older first), a stacking mode
-- (`stackable`, `exclusive`, or `bestOf` within `group_name`) and a state (`active`,
-- `paused`, `ended`; an ended campaign never runs again).
--
-- The merchant's single active policy of before becomes its `is_default` campaign, named
-- "default", stackable: `policy_state.active_version` and `policy_state.config` stay
-- the default campaign's version and config (activation and the policy-config route act
-- on it, and a change to the default campaign writes them back), so a merchant who never
-- touches campaigns sees no change. Every campaign change bumps `policy_state.generation`,
-- which caches compare and which PostgreSQL's trigger (0004) announces to the replicas.
CREATE TABLE campaigns (
    id             INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    merchant_id    TEXT    NOT NULL REFERENCES merchants (id),
    name           TEXT    NOT NULL,
    policy_version INTEGER NOT NULL,
    config         TEXT    NOT NULL DEFAULT '{}',
    starts_at      INTEGER,
    ends_at        INTEGER,
    priority       INTEGER NOT NULL DEFAULT 0,
    mode           TEXT    NOT NULL CHECK (mode IN ('stackable', 'exclusive', 'bestOf')),
    group_name     TEXT,
    state          TEXT    NOT NULL CHECK (state IN ('active', 'paused', 'ended')),
    is_default     INTEGER NOT NULL DEFAULT 0 CHECK (is_default IN (0, 1)),
    created_at     INTEGER NOT NULL,
    updated_at     INTEGER NOT NULL,
    UNIQUE (merchant_id, name),
    FOREIGN KEY (merchant_id, policy_version) REFERENCES policies (merchant_id, version),
    CHECK ((mode = 'bestOf') = (group_name IS NOT NULL)),
    CHECK (starts_at IS NULL OR ends_at IS NULL OR starts_at < ends_at)
) STRICT;
CREATE UNIQUE INDEX campaigns_one_default ON campaigns (merchant_id) WHERE is_default = 1;
CREATE INDEX campaigns_by_merchant ON campaigns (merchant_id, state);

INSERT INTO campaigns (merchant_id, name, policy_version, config, mode, state, is_default,
                       created_at, updated_at)
    SELECT merchant_id, 'default', active_version, config, 'stackable', 'active', 1,
           CAST(strftime('%s', 'now') AS INTEGER) * 1000,
           CAST(strftime('%s', 'now') AS INTEGER) * 1000
    FROM policy_state WHERE active_version IS NOT NULL;
