-- migration-record: notes that one task-history migration was applied (in the same transaction as the migration).
-- Touches: inserts into celerity_history_migrations. Params: $1 version. Returns nothing.
INSERT INTO celerity_history_migrations (version, applied_at) VALUES ($1::integer, now());
