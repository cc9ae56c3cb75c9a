-- Holds follow the till's latest answer (issue 21). Keep in step with
-- ../postgres/0010_holds_ledger_order.sql.
--
-- A hold may hold 0 points: once an order has a hold, every later endpoint-1 answer for it
-- replaces the row in the same request, one that reserves nothing included, so the row is
-- always the till's latest offer (endpoint 2 never reads the asynchronous evaluation log
-- for it). SQLite cannot change a table's constraints in place: the table is rebuilt.
CREATE TABLE holds_0010 (
    merchant_id TEXT    NOT NULL REFERENCES merchants (id),
    order_id    TEXT    NOT NULL,
    card_id     TEXT    NOT NULL,
    points      INTEGER NOT NULL CHECK (points >= 0),
    offer       TEXT    NOT NULL,
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL,
    PRIMARY KEY (merchant_id, order_id)
) STRICT;
INSERT INTO holds_0010 (merchant_id, order_id, card_id, points, offer, created_at, expires_at)
    SELECT merchant_id, order_id, card_id, points, offer, created_at, expires_at FROM holds;
DROP TABLE holds;
ALTER TABLE holds_0010 RENAME TO holds;
CREATE INDEX holds_by_card ON holds (merchant_id, card_id, expires_at);
