-- rabat schema, PostgreSQL engine. Keep in step with ../sqlite/0001_initial.sql: same
-- tables, same columns, same meaning; only the engine's spelling differs.
--
-- Money is TEXT holding a rust_decimal string, the same representation on both engines so
-- one set of queries serves both; the CHECKs guarantee it parses as NUMERIC, so ad-hoc SQL
-- can still `SUM(total::numeric)` exactly. Times are epoch milliseconds (UTC) as BIGINT.
-- Secrets are SHA-256 hex.

CREATE TABLE merchants (
    id           TEXT   NOT NULL PRIMARY KEY,
    name         TEXT   NOT NULL,
    api_key_hash TEXT   NOT NULL UNIQUE,
    created_at   BIGINT NOT NULL
);

CREATE TABLE pos_tokens (
    token_id    TEXT   NOT NULL PRIMARY KEY,
    merchant_id TEXT   NOT NULL REFERENCES merchants (id),
    token_hash  TEXT   NOT NULL UNIQUE,
    created_at  BIGINT NOT NULL,
    revoked_at  BIGINT
);
CREATE INDEX pos_tokens_by_merchant ON pos_tokens (merchant_id);

CREATE TABLE policies (
    merchant_id TEXT   NOT NULL REFERENCES merchants (id),
    version     BIGINT NOT NULL CHECK (version > 0),
    sha256      TEXT   NOT NULL,
    size_bytes  BIGINT NOT NULL,
    wasm        BYTEA  NOT NULL,
    created_at  BIGINT NOT NULL,
    note        TEXT,
    PRIMARY KEY (merchant_id, version)
);

-- One row per merchant, created with it. `generation` moves on every activation or config
-- change so caches on any replica can tell they are stale; `next_version` hands out policy
-- version numbers under the row's lock.
CREATE TABLE policy_state (
    merchant_id    TEXT   NOT NULL PRIMARY KEY REFERENCES merchants (id),
    active_version BIGINT,
    config         TEXT   NOT NULL DEFAULT '{}',
    generation     BIGINT NOT NULL DEFAULT 0,
    next_version   BIGINT NOT NULL DEFAULT 1,
    FOREIGN KEY (merchant_id, active_version) REFERENCES policies (merchant_id, version)
);

CREATE TABLE cards (
    merchant_id TEXT   NOT NULL REFERENCES merchants (id),
    card_id     TEXT   NOT NULL,
    customer_id TEXT,
    name        TEXT,
    tier        TEXT,
    tags        TEXT   NOT NULL DEFAULT '[]',
    points      BIGINT NOT NULL DEFAULT 0,
    visits      BIGINT NOT NULL DEFAULT 0,
    total_spent TEXT   NOT NULL DEFAULT '0' CHECK ((total_spent::numeric) IS NOT NULL),
    first_visit BIGINT,
    last_visit  BIGINT,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL,
    PRIMARY KEY (merchant_id, card_id)
);

-- Append-only. A bill is recorded once per (merchant, order_id): the unique constraint is
-- what makes a repeated POS call idempotent. Adjustments have no order id (NULLs never
-- collide). No foreign key to cards: history outlives a deleted card.
CREATE TABLE ledger (
    id             BIGINT NOT NULL GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    merchant_id    TEXT   NOT NULL REFERENCES merchants (id),
    kind           TEXT   NOT NULL CHECK (kind IN ('transaction', 'adjustment')),
    order_id       TEXT,
    card_id        TEXT   NOT NULL,
    request_hash   TEXT,
    total          TEXT   CHECK ((total::numeric) IS NOT NULL OR total IS NULL),
    points         BIGINT NOT NULL,
    points_balance BIGINT NOT NULL,
    reason         TEXT,
    occurred_at    BIGINT NOT NULL,
    recorded_at    BIGINT NOT NULL,
    pos            TEXT,
    request        TEXT,
    accrual_error  TEXT,
    UNIQUE (merchant_id, order_id),
    CHECK (kind <> 'transaction'
           OR (order_id IS NOT NULL AND request_hash IS NOT NULL AND total IS NOT NULL))
);
CREATE INDEX ledger_by_merchant ON ledger (merchant_id, id);
CREATE INDEX ledger_by_card ON ledger (merchant_id, card_id, id);

CREATE TABLE evaluations (
    id             BIGINT NOT NULL GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    merchant_id    TEXT   NOT NULL REFERENCES merchants (id),
    at             BIGINT NOT NULL,
    order_id       TEXT   NOT NULL,
    card_id        TEXT,
    policy_version BIGINT,
    outcome        TEXT   NOT NULL,
    total_discount TEXT   CHECK ((total_discount::numeric) IS NOT NULL OR total_discount IS NULL),
    fuel           BIGINT,
    duration_us    BIGINT NOT NULL,
    request        TEXT   NOT NULL,
    card           TEXT,
    response       TEXT,
    logs           TEXT   NOT NULL DEFAULT '[]',
    error          TEXT
);
CREATE INDEX evaluations_by_merchant ON evaluations (merchant_id, id);
CREATE INDEX evaluations_by_outcome ON evaluations (merchant_id, outcome, id);

CREATE TABLE audit_log (
    id          BIGINT NOT NULL GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    merchant_id TEXT   NOT NULL REFERENCES merchants (id),
    at          BIGINT NOT NULL,
    actor       TEXT   NOT NULL,
    action      TEXT   NOT NULL,
    detail      TEXT   NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_log_by_merchant ON audit_log (merchant_id, id);
