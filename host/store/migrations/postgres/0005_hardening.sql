-- Issue 12 hardening. Keep in step with ../sqlite/0005_hardening.sql.
--
-- A merchant the operator disabled (a leaked key, an unpaid bill): while `disabled_at` is
-- set, its API key and POS tokens are refused on every replica (credentials are read from
-- the database on every request). NULL = enabled.
ALTER TABLE merchants ADD COLUMN disabled_at BIGINT;

