-- Earn and burn (issue 10). Keep in step with ../postgres/0007_earn_burn.sql.
--
-- Points a till was offered for an open order are held until the bill completes (and a
-- redemption takes them) or the hold expires. One hold per (merchant, order): a repeat of
-- endpoint 1 for the order replaces it. `offer` is the till's last offer for the order as
-- JSON (what `accrue` sees when the bill completes). A card's available points are its
-- balance minus the unexpired holds of its other orders. No foreign key to cards, like the
-- ledger: holds of a deleted card are deleted with it.
CREATE TABLE holds (
    merchant_id TEXT    NOT NULL REFERENCES merchants (id),
    order_id    TEXT    NOT NULL,
    card_id     TEXT    NOT NULL,
    points      INTEGER NOT NULL CHECK (points > 0),
    offer       TEXT    NOT NULL,
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL,
    PRIMARY KEY (merchant_id, order_id)
) STRICT;
CREATE INDEX holds_by_card ON holds (merchant_id, card_id, expires_at);

-- The ledger gains 'burn' rows (a redemption of held points, its own row beside the
-- bill's 'transaction' row, under the same order id) and `card_changes` (the tier and
-- tags a policy's `accrue` changed, JSON, on the bill's row). An order may now have one
-- row of each kind, so uniqueness moves to (merchant_id, order_id, kind). SQLite cannot
-- change a table's constraints in place: the table is rebuilt, ids kept.
CREATE TABLE ledger_0007 (
    id             INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    merchant_id    TEXT    NOT NULL REFERENCES merchants (id),
    kind           TEXT    NOT NULL CHECK (kind IN ('transaction', 'adjustment', 'burn')),
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
    UNIQUE (merchant_id, order_id, kind),
    CHECK (kind <> 'transaction'
           OR (order_id IS NOT NULL AND request_hash IS NOT NULL AND total IS NOT NULL)),
    CHECK (kind <> 'burn' OR (order_id IS NOT NULL AND points <= 0))
) STRICT;
INSERT INTO ledger_0007 (id, merchant_id, kind, order_id, card_id, request_hash, total, points,
        points_balance, reason, occurred_at, recorded_at, pos, request, accrual_error)
    SELECT id, merchant_id, kind, order_id, card_id, request_hash, total, points,
           points_balance, reason, occurred_at, recorded_at, pos, request, accrual_error
    FROM ledger;
DROP TABLE ledger;
ALTER TABLE ledger_0007 RENAME TO ledger;
CREATE INDEX ledger_by_merchant ON ledger (merchant_id, id);
CREATE INDEX ledger_by_card ON ledger (merchant_id, card_id, id);

-- Endpoint 2 reads the order's latest endpoint-1 answer when it has no hold.
CREATE INDEX evaluations_by_order ON evaluations (merchant_id, order_id, id);
