-- migrations-present: whether this schema has the task-history migration ledger yet.
-- Touches: nothing (catalog lookup through the search path). Params: none.
-- Returns one row: present (boolean).
SELECT to_regclass('celerity_history_migrations') IS NOT NULL AS present;
