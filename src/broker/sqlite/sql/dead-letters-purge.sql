-- dead-letters-purge: deletes every dead letter, or those of one queue.
-- Params: :queue (null = all queues).
-- Returns nothing; changes = how many were deleted.
DELETE FROM dead_letters WHERE :queue IS NULL OR queue = :queue;
