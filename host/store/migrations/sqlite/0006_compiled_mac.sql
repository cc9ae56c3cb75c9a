-- Compiled artifacts are bound to the server's secret: `artifact_mac` is an HMAC-SHA256
-- over (engine key, module SHA-256, artifact) under a key derived from the secrets key
-- (--secrets-key). A row whose MAC does not verify (written by anyone without the key) is
-- never deserialized: it is compiled again and replaced. Rows from before this migration
-- have no MAC, so they are dropped here (a cache: they are rebuilt on the next load).
DELETE FROM compiled_policies;
ALTER TABLE compiled_policies ADD COLUMN artifact_mac TEXT NOT NULL DEFAULT '';
