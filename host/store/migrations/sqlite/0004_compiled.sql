-- Compiled policies: wasmtime's native artifact for a module, so a restart (or another
-- process on this file) loads it in milliseconds instead of compiling again. Keyed by the
-- module's SHA-256 and the engine's compatibility key (wasmtime version, target and
-- settings): an engine that cannot run an artifact never finds it. `artifact_sha256`
-- catches a damaged row before wasmtime reads it. A cache only: deleting rows is safe.
CREATE TABLE compiled_policies (
    module_sha256   TEXT    NOT NULL,
    engine          TEXT    NOT NULL,
    artifact        BLOB    NOT NULL,
    artifact_sha256 TEXT    NOT NULL,
    created_at      INTEGER NOT NULL,
    PRIMARY KEY (module_sha256, engine)
) STRICT;
