-- migrations-table: creates the ledger of applied migrations if it is missing (run under migrations-lock).
-- Touches: celerity_migrations. Params: none. Returns nothing.
CREATE TABLE IF NOT EXISTS celerity_migrations (
  version    integer PRIMARY KEY,
  applied_at timestamptz NOT NULL DEFAULT now()
);
