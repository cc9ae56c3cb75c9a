-- Holds follow the till's latest answer (issue 21). Keep in step with
-- ../sqlite/0010_holds_ledger_order.sql.
--
-- A hold may hold 0 points: once an order has a hold, every later endpoint-1 answer for it
-- replaces the row in the same request, one that reserves nothing included, so the row is
-- always the till's latest offer (endpoint 2 never reads the asynchronous evaluation log
-- for it).
ALTER TABLE holds DROP CONSTRAINT holds_points_check;
ALTER TABLE holds ADD CONSTRAINT holds_points_check CHECK (points >= 0);
