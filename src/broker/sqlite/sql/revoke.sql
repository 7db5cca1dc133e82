-- revoke: records one revoked task id for every worker on this file to read (revocations.sql).
-- Params: task_id, terminate (0/1), signal, now (epoch ms).
INSERT INTO revocations (task_id, terminate, signal, created_at) VALUES (:task_id, :terminate, :signal, :now);
