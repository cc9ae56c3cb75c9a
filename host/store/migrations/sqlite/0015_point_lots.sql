-- Points over time (issue 19). Keep in step with ../postgres/0015_point_lots.sql.
--
-- - `merchants.points_rules`: JSON of `rabat_domain::lots::PointsRules` (expiry, vesting,
--   time zone); NULL: points never expire and vest at once.
-- - `cards.pending_points`: the part of `points` (the balance, the sum of the card's ledger
--   rows) not vested yet; a card's spendable points are `points - pending_points`.
-- - `point_lots`: every earning is a lot (`points` earned, `remaining` of them left) with
--   its own `vests_at` and `expires_at` (NULL: never), fixed from the rules when earned.
--   Spending, taking back and negative adjustments lower `remaining` oldest spendable lot
--   first; what they take beyond every lot is a debt lot (`points` and `remaining`
--   negative) that later earnings pay off first. Every change of a card's lots is made
--   under the card's row lock, in the transaction that writes its ledger row, so for
--   every card SUM(remaining) = points = the sum of its ledger rows.
-- - The ledger gains `expire` rows (one per lot expired, `lot_id` naming it). SQLite
--   cannot change a CHECK in place: the table is rebuilt, ids kept.
-- - Existing balances become one lot per card, earned at this migration, never expiring
--   and vested; a merchant that turns expiry on later gives every lot without an expiry
--   one counted from that moment (`Store::set_points_rules`).
ALTER TABLE merchants ADD COLUMN points_rules TEXT;
ALTER TABLE cards ADD COLUMN pending_points INTEGER NOT NULL DEFAULT 0
    CHECK (pending_points >= 0);

CREATE TABLE ledger_0015 (
    id             INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    merchant_id    TEXT    NOT NULL REFERENCES merchants (id),
    kind           TEXT    NOT NULL CHECK (kind IN ('transaction', 'adjustment', 'burn', 'expire')),
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
    card_changes   TEXT,
    lot_id         INTEGER,
    UNIQUE (merchant_id, order_id, kind),
    CHECK (kind <> 'transaction'
           OR (order_id IS NOT NULL AND request_hash IS NOT NULL AND total IS NOT NULL)),
    CHECK (kind <> 'burn' OR (order_id IS NOT NULL AND points <= 0)),
    CHECK (kind <> 'expire' OR (lot_id IS NOT NULL AND order_id IS NULL AND points < 0))
) STRICT;
INSERT INTO ledger_0015 (id, merchant_id, kind, order_id, card_id, request_hash, total, points,
        points_balance, reason, occurred_at, recorded_at, pos, request, accrual_error,
        card_changes)
    SELECT id, merchant_id, kind, order_id, card_id, request_hash, total, points,
           points_balance, reason, occurred_at, recorded_at, pos, request, accrual_error,
           card_changes
    FROM ledger;
DROP TABLE ledger;
ALTER TABLE ledger_0015 RENAME TO ledger;
CREATE INDEX ledger_by_merchant ON ledger (merchant_id, id);
CREATE INDEX ledger_by_card ON ledger (merchant_id, card_id, id);

CREATE TABLE point_lots (
    id          INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    merchant_id TEXT    NOT NULL REFERENCES merchants (id),
    card_id     TEXT    NOT NULL,
    source      TEXT    NOT NULL CHECK (source IN ('earned', 'returned', 'migrated', 'debt')),
    ledger_id   INTEGER,
    earned_at   INTEGER NOT NULL,
    vests_at    INTEGER NOT NULL,
    expires_at  INTEGER,
    points      INTEGER NOT NULL CHECK (points <> 0),
    remaining   INTEGER NOT NULL,
    pending     INTEGER NOT NULL CHECK (pending IN (0, 1)),
    CHECK ((points > 0 AND remaining BETWEEN 0 AND points)
           OR (points < 0 AND remaining BETWEEN points AND 0 AND pending = 0
               AND expires_at IS NULL))
) STRICT;
CREATE INDEX point_lots_by_card ON point_lots (merchant_id, card_id, id) WHERE remaining <> 0;
CREATE INDEX point_lots_by_ledger ON point_lots (merchant_id, ledger_id) WHERE ledger_id IS NOT NULL;
CREATE INDEX point_lots_to_expire ON point_lots (expires_at)
    WHERE remaining > 0 AND expires_at IS NOT NULL;
CREATE INDEX point_lots_to_vest ON point_lots (vests_at) WHERE pending = 1;

INSERT INTO point_lots (merchant_id, card_id, source, earned_at, vests_at, points, remaining,
        pending)
    SELECT merchant_id, card_id, CASE WHEN points > 0 THEN 'migrated' ELSE 'debt' END,
           CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER),
           CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER),
           points, points, 0
    FROM cards WHERE points <> 0;
