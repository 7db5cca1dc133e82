-- revocations: the revocations stored after :cursor, oldest first, no older than :since (epoch ms).
-- Returns seq, task_id, terminate, signal.
SELECT seq, task_id, terminate, signal FROM revocations WHERE seq > :cursor AND created_at >= :since ORDER BY seq;
