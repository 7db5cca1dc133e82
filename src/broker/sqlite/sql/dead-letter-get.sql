-- dead-letter-get: one dead letter's stored form, read before putting it back on its queue.
-- Params: :id.
-- Returns raw, or nothing when the id is unknown.
SELECT raw FROM dead_letters WHERE id = :id;
