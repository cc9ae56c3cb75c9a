-- Campaign budgets and limits (issue 17). Keep in step with
-- ../postgres/0012_campaign_limits.sql.
--
-- `campaigns.limits`: the campaign's budget (an amount and/or a number of redemptions per
-- day, week, month or lifetime, in the shop's time zone) and its per-card and per-branch
-- redemption limits, as JSON (`rabat_domain::budget::Limits`); NULL: unlimited.
--
-- The reservation piece (`host/store/src/reservations.rs`), beside the points held in
-- `holds` (the order's header row):
-- - `campaign_usage`: one counter per campaign, scope (`budget`, `card`, `branch`), key
--   (the card's or branch's id; '' for the budget) and period (its local start, epoch ms;
--   0 for a lifetime): what completed bills used. Amounts are integers of 1/10 000 of the
--   currency, so sums stay exact. The row is also the pool's lock: endpoint 1 takes it
--   (after the card's) to check and reserve, a bill's transaction takes it (after all of
--   its cards') to add what it used.
-- - `campaign_holds`: what an open order reserves of each pool, with the limits it was
--   reserved under; written, replaced and deleted with the order's `holds` row (the
--   foreign key deletes them with it). Unexpired rows count as reserved.
-- - `campaign_uses`: what each completed bill used, once per (order, campaign, scope):
--   what a return gives back, and the console's history.
ALTER TABLE campaigns ADD COLUMN limits TEXT;

CREATE TABLE campaign_usage (
    merchant_id  TEXT    NOT NULL REFERENCES merchants (id),
    campaign_id  INTEGER NOT NULL REFERENCES campaigns (id),
    scope        TEXT    NOT NULL CHECK (scope IN ('budget', 'card', 'branch')),
    scope_key    TEXT    NOT NULL,
    period_start INTEGER NOT NULL,
    used_amount  INTEGER NOT NULL DEFAULT 0 CHECK (used_amount >= 0),
    used_count   INTEGER NOT NULL DEFAULT 0 CHECK (used_count >= 0),
    PRIMARY KEY (merchant_id, campaign_id, scope, scope_key, period_start)
) STRICT;

CREATE TABLE campaign_holds (
    merchant_id  TEXT    NOT NULL,
    order_id     TEXT    NOT NULL,
    campaign_id  INTEGER NOT NULL,
    scope        TEXT    NOT NULL CHECK (scope IN ('budget', 'card', 'branch')),
    scope_key    TEXT    NOT NULL,
    period_start INTEGER NOT NULL,
    amount       INTEGER NOT NULL CHECK (amount >= 0),
    count        INTEGER NOT NULL CHECK (count >= 0),
    limit_amount INTEGER,
    limit_count  INTEGER,
    expires_at   INTEGER NOT NULL,
    PRIMARY KEY (merchant_id, order_id, campaign_id, scope),
    FOREIGN KEY (merchant_id, order_id) REFERENCES holds (merchant_id, order_id)
        ON DELETE CASCADE
) STRICT;
CREATE INDEX campaign_holds_by_pool
    ON campaign_holds (merchant_id, campaign_id, scope, scope_key, period_start, expires_at);

CREATE TABLE campaign_uses (
    merchant_id  TEXT    NOT NULL REFERENCES merchants (id),
    order_id     TEXT    NOT NULL,
    campaign_id  INTEGER NOT NULL,
    scope        TEXT    NOT NULL CHECK (scope IN ('budget', 'card', 'branch')),
    scope_key    TEXT    NOT NULL,
    period_start INTEGER NOT NULL,
    amount       INTEGER NOT NULL CHECK (amount >= 0),
    count        INTEGER NOT NULL CHECK (count >= 0),
    used_at      INTEGER NOT NULL,
    PRIMARY KEY (merchant_id, order_id, campaign_id, scope)
) STRICT;
