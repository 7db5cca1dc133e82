-- migrations-applied: the task-history migrations this schema has (only after migrations-present said the ledger
-- exists). Touches: reads celerity_history_migrations. Params: none.
-- Returns one row per applied migration: version.
SELECT version FROM celerity_history_migrations ORDER BY version;
