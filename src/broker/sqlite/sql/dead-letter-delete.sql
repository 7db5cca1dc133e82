-- dead-letter-delete: removes a dead letter once it is back on its queue (same transaction as publish.sql).
-- Params: :id.
-- Returns nothing.
DELETE FROM dead_letters WHERE id = :id;
