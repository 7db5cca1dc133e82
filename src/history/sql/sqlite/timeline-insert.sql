-- timeline-insert: appends one event to a task's timeline.
-- Touches: celerity_history_timeline. Params: :task_id, :type, :timestamp, :hostname, :fields. Returns nothing.
INSERT INTO celerity_history_timeline (task_id, type, timestamp, hostname, fields)
VALUES (:task_id, :type, :timestamp, :hostname, :fields);
