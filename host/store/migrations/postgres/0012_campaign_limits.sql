-- Campaign budgets and limits (issue 17). Keep in step with
-- ../sqlite/0012_campaign_limits.sql, which explains the tables.
--
ALTER TABLE campaigns ADD COLUMN limits TEXT;

CREATE TABLE campaign_usage (
    merchant_id  TEXT    NOT NULL REFERENCES merchants (id),
    campaign_id  BIGINT  NOT NULL REFERENCES campaigns (id),
    scope        TEXT    NOT NULL CHECK (scope IN ('budget', 'card', 'branch')),
    scope_key    TEXT    NOT NULL,
    period_start BIGINT  NOT NULL,
    used_amount  BIGINT  NOT NULL DEFAULT 0 CHECK (used_amount >= 0),
    used_count   BIGINT  NOT NULL DEFAULT 0 CHECK (used_count >= 0),
    PRIMARY KEY (merchant_id, campaign_id, scope, scope_key, period_start)
);

CREATE TABLE campaign_holds (
    merchant_id  TEXT    NOT NULL,
    order_id     TEXT    NOT NULL,
    campaign_id  BIGINT  NOT NULL,
    scope        TEXT    NOT NULL CHECK (scope IN ('budget', 'card', 'branch')),
    scope_key    TEXT    NOT NULL,
    period_start BIGINT  NOT NULL,
    amount       BIGINT  NOT NULL CHECK (amount >= 0),
    count        BIGINT  NOT NULL CHECK (count >= 0),
    limit_amount BIGINT,
    limit_count  BIGINT,
    expires_at   BIGINT  NOT NULL,
    PRIMARY KEY (merchant_id, order_id, campaign_id, scope),
    FOREIGN KEY (merchant_id, order_id) REFERENCES holds (merchant_id, order_id)
        ON DELETE CASCADE
);
CREATE INDEX campaign_holds_by_pool
    ON campaign_holds (merchant_id, campaign_id, scope, scope_key, period_start, expires_at);

CREATE TABLE campaign_uses (
    merchant_id  TEXT    NOT NULL REFERENCES merchants (id),
    order_id     TEXT    NOT NULL,
    campaign_id  BIGINT  NOT NULL,
    scope        TEXT    NOT NULL CHECK (scope IN ('budget', 'card', 'branch')),
    scope_key    TEXT    NOT NULL,
    period_start BIGINT  NOT NULL,
    amount       BIGINT  NOT NULL CHECK (amount >= 0),
    count        BIGINT  NOT NULL CHECK (count >= 0),
    used_at      BIGINT  NOT NULL,
    PRIMARY KEY (merchant_id, order_id, campaign_id, scope)
);
