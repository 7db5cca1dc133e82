-- migrations-applied: the migrations this schema has (only after migrations-present said the ledger exists).
-- Touches: reads celerity_migrations. Params: none.
-- Returns one row per applied migration: version.
SELECT version FROM celerity_migrations ORDER BY version;
