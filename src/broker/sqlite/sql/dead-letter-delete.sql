-- dead-letter-delete: removes one dead letter, once it is back on its queue (same transaction as publish.sql) or
-- when deleted by id (`celerity dead-letters delete`).
-- Params: :id.
-- Returns nothing; changes = 1 when the id was there, 0 otherwise.
DELETE FROM dead_letters WHERE id = :id;
