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

-- Holds are keyed by the ledger's order id (BIFIT's `bifit:<id>`), no longer by the POS's
-- order number, so a BIFIT order and a Papaya bill with the same number never share one.
-- A hold written before under a BIFIT order's bare number is recognised by the BIFIT
-- order still being followed for the same merchant and card, and moved to `bifit:<id>`;
-- any other hold was a Papaya bill's, whose ledger id is its own.
UPDATE holds SET order_id = 'bifit:' || order_id
WHERE EXISTS (SELECT 1 FROM bifit_orders
              WHERE bifit_orders.merchant_id = holds.merchant_id
                AND bifit_orders.order_id = holds.order_id
                AND bifit_orders.card_id = holds.card_id
                AND bifit_orders.state = 'tracking');
