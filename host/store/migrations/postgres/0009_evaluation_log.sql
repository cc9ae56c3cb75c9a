-- The evaluation log at a thousand merchants (issue 23), its payload compressed (issue 20).
-- Keep in step with ../sqlite/0009_evaluation_log.sql, which says what the columns mean.
--
-- Here the table is partitioned by RANGE (expires_at), one partition per UTC day of
-- expiry, named `evaluations_d<day number since 1970-01-01>`: housekeeping drops a whole
-- partition once its day is over (no DELETE), creates the coming days' partitions ahead of
-- time, and `evaluations_default` catches any row whose day has no partition yet (those
-- are deleted by an indexed range delete when they expire). Rows already past their expiry
-- at migration go to `evaluations_before_<day>`, dropped by the first pass.
--
-- Identity columns cannot be declared on a partitioned table before PostgreSQL 17: ids
-- come from a sequence, continuing the old table's.

ALTER TABLE merchants ADD COLUMN evaluation_retention_days INTEGER
    CHECK (evaluation_retention_days IS NULL OR evaluation_retention_days > 0);

ALTER TABLE evaluations RENAME TO evaluations_0008;

CREATE SEQUENCE evaluation_ids AS BIGINT;
SELECT setval('evaluation_ids', COALESCE((SELECT MAX(id) FROM evaluations_0008), 0) + 1, false);

CREATE TABLE evaluations (
    id             BIGINT  NOT NULL DEFAULT nextval('evaluation_ids'),
    merchant_id    TEXT    NOT NULL REFERENCES merchants (id),
    at             BIGINT  NOT NULL,
    expires_at     BIGINT  NOT NULL,
    order_id       TEXT    NOT NULL,
    card_id        TEXT,
    policy_version BIGINT,
    outcome        TEXT    NOT NULL,
    total_discount TEXT    CHECK ((total_discount::numeric) IS NOT NULL OR total_discount IS NULL),
    currency       TEXT,
    fuel           BIGINT,
    duration_us    BIGINT  NOT NULL,
    answered       BOOLEAN NOT NULL,
    error          TEXT,
    payload        BYTEA   NOT NULL,
    PRIMARY KEY (id, expires_at)
) PARTITION BY RANGE (expires_at);
ALTER SEQUENCE evaluation_ids OWNED BY evaluations.id;

CREATE TABLE evaluations_default PARTITION OF evaluations DEFAULT;
CREATE INDEX evaluations_default_by_expiry ON evaluations_default (expires_at);

-- Rows already expired go to one partition; then one per day up to 40 days ahead (the
-- default retention and a margin; housekeeping keeps creating them ahead).
DO $$
DECLARE
    today BIGINT := (extract(epoch FROM now()) * 1000)::BIGINT / 86400000;
BEGIN
    EXECUTE format('CREATE TABLE %I PARTITION OF evaluations FOR VALUES FROM (MINVALUE) TO (%s)',
                   'evaluations_before_' || today, today * 86400000);
    -- (A FOR loop's variable is an INTEGER: widened before multiplying.)
    FOR day IN today .. today + 40 LOOP
        EXECUTE format('CREATE TABLE %I PARTITION OF evaluations FOR VALUES FROM (%s) TO (%s)',
                       'evaluations_d' || day, day::BIGINT * 86400000,
                       (day::BIGINT + 1) * 86400000);
    END LOOP;
END $$;

CREATE FUNCTION pg_temp.currency_of(request TEXT) RETURNS TEXT AS $$
BEGIN
    RETURN request::jsonb ->> 'currency';
EXCEPTION WHEN others THEN
    RETURN NULL;
END $$ LANGUAGE plpgsql;

INSERT INTO evaluations (id, merchant_id, at, expires_at, order_id, card_id, policy_version,
        outcome, total_discount, currency, fuel, duration_us, answered, error, payload)
    SELECT id, merchant_id, at, at + 35 * 86400000::BIGINT, order_id, card_id, policy_version,
           outcome, total_discount, pg_temp.currency_of(request), fuel, duration_us,
           response IS NOT NULL, error,
           convert_to('{"request":' || request || ',"card":' || COALESCE(card, 'null')
                      || ',"response":' || COALESCE(response, 'null') || ',"logs":' || logs
                      || '}', 'UTF8')
    FROM evaluations_0008;

DROP TABLE evaluations_0008;

CREATE INDEX evaluations_by_merchant ON evaluations (merchant_id, id);
CREATE INDEX evaluations_by_outcome ON evaluations (merchant_id, outcome, id);
CREATE INDEX evaluations_by_order ON evaluations (merchant_id, order_id, id);
CREATE INDEX evaluations_by_time ON evaluations (merchant_id, at);

CREATE TABLE evaluation_counts (
    merchant_id TEXT   NOT NULL PRIMARY KEY REFERENCES merchants (id),
    logged      BIGINT NOT NULL CHECK (logged >= 0)
);
INSERT INTO evaluation_counts (merchant_id, logged)
    SELECT merchant_id, COUNT(*) FROM evaluations GROUP BY merchant_id;

CREATE TABLE housekeeping_leases (
    name       TEXT   NOT NULL PRIMARY KEY,
    holder     TEXT   NOT NULL,
    expires_at BIGINT NOT NULL
);
INSERT INTO housekeeping_leases (name, holder, expires_at) VALUES ('evaluations', '', 0);
