-- promote: delayed messages of the given queues whose not_before has passed become ready.
-- Params: :queues (JSON array of queue names), :now (epoch ms).
-- Returns nothing; changes = how many were promoted. One seek on messages_delayed per queue; a no-op costs
-- microseconds, so reserve runs it every time.
UPDATE messages
SET state = 'ready'
WHERE state = 'delayed'
  AND queue IN (SELECT value FROM json_each(:queues))
  AND not_before <= :now;
