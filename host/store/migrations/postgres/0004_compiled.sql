-- Compiled policies: wasmtime's native artifact for a module, so a restart or a new
-- replica loads it in milliseconds instead of compiling again. Keyed by the module's
-- SHA-256 and the engine's compatibility key (wasmtime version, target and settings): an
-- engine that cannot run an artifact never finds it. `artifact_sha256` catches a damaged
-- row before wasmtime reads it. A cache only: deleting rows is safe.
-- Keep in step with ../sqlite/0004_compiled.sql.
CREATE TABLE compiled_policies (
    module_sha256   TEXT   NOT NULL,
    engine          TEXT   NOT NULL,
    artifact        BYTEA  NOT NULL,
    artifact_sha256 TEXT   NOT NULL,
    created_at      BIGINT NOT NULL,
    PRIMARY KEY (module_sha256, engine)
);

-- Replicas cache each merchant's active policy and config; this tells every replica the
-- moment a merchant's generation moves (activation, rollback, config change), whichever
-- code path moved it. Sent at commit; the payload is `schema:merchant_id`, since channels
-- are database-wide and several deployments (or tests) may share a database. Replicas
-- still revalidate against `generation` periodically, in case a notification is lost.
CREATE FUNCTION rabat_policy_changed() RETURNS trigger AS $$
BEGIN
    PERFORM pg_notify('rabat_policy_changed', TG_TABLE_SCHEMA || ':' || NEW.merchant_id);
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER policy_state_changed
    AFTER UPDATE ON policy_state
    FOR EACH ROW
    WHEN (OLD.generation IS DISTINCT FROM NEW.generation)
    EXECUTE FUNCTION rabat_policy_changed();
