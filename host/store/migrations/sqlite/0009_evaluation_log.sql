-- The evaluation log at a thousand merchants (issue 23), its payload compressed (issue 20).
-- Keep in step with ../postgres/0009_evaluation_log.sql.
--
-- * Retention by age: each row carries `expires_at` (epoch ms: when it was logged plus its
--   merchant's retention then in effect). Housekeeping removes a row on its first pass after
--   the end of the UTC day in which the row expires, with an indexed range delete in small
--   batches (`evaluations_by_expiry`), so its cost follows what it removes. A merchant's own
--   retention is `merchants.evaluation_retention_days` (NULL: the operator's default).
-- * The row cap (the operator's safety bound) is kept with a count per merchant, written in
--   the same transaction as the rows it counts, so checking it reads one small table.
-- * The JSON texts (request, card, response, logs) move into one `payload` BLOB: a zstd
--   frame of `{"request":…,"card":…,"response":…,"logs":…}`. Rows migrated here keep their
--   texts uncompressed in that same JSON shape (SQL cannot compress); readers tell the two
--   apart by zstd's magic number. `currency` (for the stats) and `answered` (a response was
--   logged) are copied out of the JSON so no query needs to open the payload.
-- * One lease row says which replica does housekeeping (see `housekeeping_leases`).
--
-- Existing rows keep their ids and expire 35 days after they were logged (the default).

ALTER TABLE merchants ADD COLUMN evaluation_retention_days INTEGER
    CHECK (evaluation_retention_days IS NULL OR evaluation_retention_days > 0);

CREATE TABLE evaluations_0009 (
    id             INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    merchant_id    TEXT    NOT NULL REFERENCES merchants (id),
    at             INTEGER NOT NULL,
    expires_at     INTEGER NOT NULL,
    order_id       TEXT    NOT NULL,
    card_id        TEXT,
    policy_version INTEGER,
    outcome        TEXT    NOT NULL,
    total_discount TEXT,
    currency       TEXT,
    fuel           INTEGER,
    duration_us    INTEGER NOT NULL,
    answered       INTEGER NOT NULL CHECK (answered IN (0, 1)),
    error          TEXT,
    payload        BLOB    NOT NULL
) STRICT;

INSERT INTO evaluations_0009 (id, merchant_id, at, expires_at, order_id, card_id, policy_version,
        outcome, total_discount, currency, fuel, duration_us, answered, error, payload)
    SELECT id, merchant_id, at, at + 35 * 86400000, order_id, card_id, policy_version, outcome,
           total_discount,
           CASE WHEN json_valid(request) THEN json_extract(request, '$.currency') END,
           fuel, duration_us, response IS NOT NULL, error,
           CAST('{"request":' || request || ',"card":' || COALESCE(card, 'null')
                || ',"response":' || COALESCE(response, 'null') || ',"logs":' || logs || '}'
                AS BLOB)
    FROM evaluations;

DROP TABLE evaluations;
ALTER TABLE evaluations_0009 RENAME TO evaluations;

CREATE INDEX evaluations_by_merchant ON evaluations (merchant_id, id);
CREATE INDEX evaluations_by_outcome ON evaluations (merchant_id, outcome, id);
CREATE INDEX evaluations_by_order ON evaluations (merchant_id, order_id, id);
CREATE INDEX evaluations_by_time ON evaluations (merchant_id, at);
CREATE INDEX evaluations_by_expiry ON evaluations (expires_at);

CREATE TABLE evaluation_counts (
    merchant_id TEXT    NOT NULL PRIMARY KEY REFERENCES merchants (id),
    logged      INTEGER NOT NULL CHECK (logged >= 0)
) STRICT;
INSERT INTO evaluation_counts (merchant_id, logged)
    SELECT merchant_id, COUNT(*) FROM evaluations GROUP BY merchant_id;

-- Who does a periodic job: the replica whose `holder` is here until `expires_at` (epoch ms).
-- Taken with one conditional UPDATE, renewed inside each step's own transaction.
CREATE TABLE housekeeping_leases (
    name       TEXT    NOT NULL PRIMARY KEY,
    holder     TEXT    NOT NULL,
    expires_at INTEGER NOT NULL
) STRICT;
INSERT INTO housekeeping_leases (name, holder, expires_at) VALUES ('evaluations', '', 0);
