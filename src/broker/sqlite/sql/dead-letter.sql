-- dead-letter: records a rejected message; runs in the same transaction as take.sql.
-- Params: :queue, :reason, :raw (JSON text of the stored parts), :task_id, :task_name, :failed_at (epoch ms).
-- Returns nothing.
INSERT INTO dead_letters (queue, reason, raw, task_id, task_name, failed_at)
VALUES (:queue, :reason, :raw, :task_id, :task_name, :failed_at);
