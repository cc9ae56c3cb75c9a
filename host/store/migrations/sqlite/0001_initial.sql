-- rabat schema, SQLite engine. Keep in step with ../postgres/0001_initial.sql: same tables,
-- same columns, same meaning; only the engine's spelling differs.
--
-- Money is TEXT holding a rust_decimal string (exact; STRICT stops SQLite from turning it
-- into a REAL). Times are epoch milliseconds (UTC) as INTEGER. Secrets are SHA-256 hex.

CREATE TABLE merchants (
    id           TEXT    NOT NULL PRIMARY KEY,
    name         TEXT    NOT NULL,
    api_key_hash TEXT    NOT NULL UNIQUE,
    created_at   INTEGER NOT NULL
) STRICT;

CREATE TABLE pos_tokens (
    token_id    TEXT    NOT NULL PRIMARY KEY,
    merchant_id TEXT    NOT NULL REFERENCES merchants (id),
    token_hash  TEXT    NOT NULL UNIQUE,
    created_at  INTEGER NOT NULL,
    revoked_at  INTEGER
) STRICT;
CREATE INDEX pos_tokens_by_merchant ON pos_tokens (merchant_id);

CREATE TABLE policies (
    merchant_id TEXT    NOT NULL REFERENCES merchants (id),
    version     INTEGER NOT NULL CHECK (version > 0),
    sha256      TEXT    NOT NULL,
    size_bytes  INTEGER NOT NULL,
    wasm        BLOB    NOT NULL,
    created_at  INTEGER NOT NULL,
    note        TEXT,
    PRIMARY KEY (merchant_id, version)
) STRICT;

-- One row per merchant, created with it. `generation` moves on every activation or config
-- change so caches on any replica can tell they are stale; `next_version` hands out policy
-- version numbers under the row's write lock.
CREATE TABLE policy_state (
    merchant_id    TEXT    NOT NULL PRIMARY KEY REFERENCES merchants (id),
    active_version INTEGER,
    config         TEXT    NOT NULL DEFAULT '{}',
    generation     INTEGER NOT NULL DEFAULT 0,
    next_version   INTEGER NOT NULL DEFAULT 1,
    FOREIGN KEY (merchant_id, active_version) REFERENCES policies (merchant_id, version)
) STRICT;

CREATE TABLE cards (
    merchant_id TEXT    NOT NULL REFERENCES merchants (id),
    card_id     TEXT    NOT NULL,
    customer_id TEXT,
    name        TEXT,
    tier        TEXT,
    tags        TEXT    NOT NULL DEFAULT '[]',
    points      INTEGER NOT NULL DEFAULT 0,
    visits      INTEGER NOT NULL DEFAULT 0,
    total_spent TEXT    NOT NULL DEFAULT '0',
    first_visit INTEGER,
    last_visit  INTEGER,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL,
    PRIMARY KEY (merchant_id, card_id)
) STRICT;

-- Append-only. A bill is recorded once per (merchant, order_id): the unique constraint is
-- what makes a repeated POS call idempotent. Adjustments have no order id (NULLs never
-- collide). No foreign key to cards: history outlives a deleted card.
CREATE TABLE ledger (
    id             INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    merchant_id    TEXT    NOT NULL REFERENCES merchants (id),
    kind           TEXT    NOT NULL CHECK (kind IN ('transaction', 'adjustment')),
    order_id       TEXT,
    card_id        TEXT    NOT NULL,
    request_hash   TEXT,
    total          TEXT,
    points         INTEGER NOT NULL,
    points_balance INTEGER NOT NULL,
    reason         TEXT,
    occurred_at    INTEGER NOT NULL,
    recorded_at    INTEGER NOT NULL,
    pos            TEXT,
    request        TEXT,
    accrual_error  TEXT,
    UNIQUE (merchant_id, order_id),
    CHECK (kind <> 'transaction'
           OR (order_id IS NOT NULL AND request_hash IS NOT NULL AND total IS NOT NULL))
) STRICT;
CREATE INDEX ledger_by_merchant ON ledger (merchant_id, id);
CREATE INDEX ledger_by_card ON ledger (merchant_id, card_id, id);

CREATE TABLE evaluations (
    id             INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    merchant_id    TEXT    NOT NULL REFERENCES merchants (id),
    at             INTEGER NOT NULL,
    order_id       TEXT    NOT NULL,
    card_id        TEXT,
    policy_version INTEGER,
    outcome        TEXT    NOT NULL,
    total_discount TEXT,
    fuel           INTEGER,
    duration_us    INTEGER NOT NULL,
    request        TEXT    NOT NULL,
    card           TEXT,
    response       TEXT,
    logs           TEXT    NOT NULL DEFAULT '[]',
    error          TEXT
) STRICT;
CREATE INDEX evaluations_by_merchant ON evaluations (merchant_id, id);
CREATE INDEX evaluations_by_outcome ON evaluations (merchant_id, outcome, id);

CREATE TABLE audit_log (
    id          INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    merchant_id TEXT    NOT NULL REFERENCES merchants (id),
    at          INTEGER NOT NULL,
    actor       TEXT    NOT NULL,
    action      TEXT    NOT NULL,
    detail      TEXT    NOT NULL DEFAULT '{}'
) STRICT;
CREATE INDEX audit_log_by_merchant ON audit_log (merchant_id, id);
