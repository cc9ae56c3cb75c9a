-- Holds follow the till's latest answer (issue 21). Keep in step with
-- ../sqlite/0010_holds_ledger_order.sql.
--
-- A hold may hold 0 points: once an order has a hold, every later endpoint-1 answer for it
-- replaces the row in the same request, one that reserves nothing included, so the row is
-- always the till's latest offer (endpoint 2 never reads the asynchronous evaluation log
-- for it).
ALTER TABLE holds DROP CONSTRAINT holds_points_check;
ALTER TABLE holds ADD CONSTRAINT holds_points_check CHECK (points >= 0);

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
