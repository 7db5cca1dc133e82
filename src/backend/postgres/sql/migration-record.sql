-- migration-record: notes that one migration was applied (in the same transaction as the migration itself).
-- Touches: inserts into celerity_migrations. Params: $1 version. Returns nothing.
INSERT INTO celerity_migrations (version, applied_at) VALUES ($1::integer, now());
