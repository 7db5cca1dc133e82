-- migrations-present: whether this schema has the migration ledger yet (a fresh database has no tables at all).
-- Touches: nothing (catalog lookup through the search path). Params: none.
-- Returns one row: present (boolean).
SELECT to_regclass('celerity_migrations') IS NOT NULL AS present;
