-- The contract each policy version was built for (issue 21). Keep in step with
-- ../postgres/0008_policy_contract.sql.
--
-- `contract` is the contract's package and version as `rabat check` prints it
-- (`rabat:rules@0.2.0`), written at upload from the compiled component. Versions
-- uploaded before this migration have NULL: rabat reads their contract off the stored
-- module (its component types, without compiling it) the first time the merchant's
-- versions are listed, and writes it back. Doing that here would need a WebAssembly
-- parser inside the migration; doing it at start would read every module of every
-- merchant before serving.
ALTER TABLE policies ADD COLUMN contract TEXT;

-- Listing one customer's cards a page at a time, in card-id order (was: at most two).
DROP INDEX cards_by_customer;
CREATE INDEX cards_by_customer ON cards (merchant_id, customer_id, card_id);
