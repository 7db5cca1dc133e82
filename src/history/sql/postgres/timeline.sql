-- timeline: a task's events, oldest first (arrival order among equal timestamps).
-- Touches: reads celerity_history_timeline. Params: $1 task id.
-- Returns one row per event: type, timestamp, hostname, fields.
SELECT type, timestamp, hostname, fields
FROM celerity_history_timeline
WHERE task_id = $1
ORDER BY timestamp, seq;
