-- migrations-table: creates the ledger of applied task-history migrations if it is missing (run under
-- migrations-lock). The history keeps its own ledger, so it can share a schema with the result backend's.
-- Touches: celerity_history_migrations. Params: none. Returns nothing.
CREATE TABLE IF NOT EXISTS celerity_history_migrations (
  version    integer PRIMARY KEY,
  applied_at timestamptz NOT NULL DEFAULT now()
);
