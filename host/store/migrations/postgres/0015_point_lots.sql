-- Points over time (issue 19). Keep in step with ../sqlite/0015_point_lots.sql, which
-- explains the tables.
ALTER TABLE merchants ADD COLUMN points_rules TEXT;
ALTER TABLE cards ADD COLUMN pending_points BIGINT NOT NULL DEFAULT 0
    CHECK (pending_points >= 0);

ALTER TABLE ledger DROP CONSTRAINT ledger_kind_check;
ALTER TABLE ledger ADD CONSTRAINT ledger_kind_check
    CHECK (kind IN ('transaction', 'adjustment', 'burn', 'expire'));
ALTER TABLE ledger ADD COLUMN lot_id BIGINT;
ALTER TABLE ledger ADD CONSTRAINT ledger_expire_check
    CHECK (kind <> 'expire' OR (lot_id IS NOT NULL AND order_id IS NULL AND points < 0));

CREATE TABLE point_lots (
    id          BIGSERIAL PRIMARY KEY,
    merchant_id TEXT    NOT NULL REFERENCES merchants (id),
    card_id     TEXT    NOT NULL,
    source      TEXT    NOT NULL CHECK (source IN ('earned', 'returned', 'migrated', 'debt')),
    ledger_id   BIGINT,
    earned_at   BIGINT  NOT NULL,
    vests_at    BIGINT  NOT NULL,
    expires_at  BIGINT,
    points      BIGINT  NOT NULL CHECK (points <> 0),
    remaining   BIGINT  NOT NULL,
    pending     BIGINT  NOT NULL CHECK (pending IN (0, 1)),
    CHECK ((points > 0 AND remaining BETWEEN 0 AND points)
           OR (points < 0 AND remaining BETWEEN points AND 0 AND pending = 0
               AND expires_at IS NULL))
);
CREATE INDEX point_lots_by_card ON point_lots (merchant_id, card_id, id) WHERE remaining <> 0;
CREATE INDEX point_lots_by_ledger ON point_lots (merchant_id, ledger_id) WHERE ledger_id IS NOT NULL;
CREATE INDEX point_lots_to_expire ON point_lots (expires_at)
    WHERE remaining > 0 AND expires_at IS NOT NULL;
CREATE INDEX point_lots_to_vest ON point_lots (vests_at) WHERE pending = 1;

INSERT INTO point_lots (merchant_id, card_id, source, earned_at, vests_at, points, remaining,
        pending)
    SELECT merchant_id, card_id, CASE WHEN points > 0 THEN 'migrated' ELSE 'debt' END,
           CAST(EXTRACT(EPOCH FROM now()) * 1000 AS BIGINT),
           CAST(EXTRACT(EPOCH FROM now()) * 1000 AS BIGINT),
           points, points, 0
    FROM cards WHERE points <> 0;
