-- oldest-age: when the oldest message of a queue that could be delivered now became deliverable (epoch ms): its
-- publish time, or its ETA when it had one. Delayed rows whose ETA passed count too (promote.sql only moves them
-- when a worker reserves, which is what a queue without consumers never does).
-- Params: :queue, :now.
-- Returns one row, column since (null when no message is deliverable).
SELECT min(since) AS since FROM (
  SELECT max(created_at, coalesce(not_before, 0)) AS since FROM messages WHERE queue = :queue AND state = 'ready'
  UNION ALL
  SELECT not_before AS since FROM messages WHERE queue = :queue AND state = 'delayed' AND not_before <= :now
);
