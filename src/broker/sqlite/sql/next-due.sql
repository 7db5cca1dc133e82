-- next-due: the earliest epoch ms at which something may become deliverable to :queues without a new publish:
-- a delayed message of those queues falling due, or any reserved message's visibility deadline passing.
-- Params: :queues (JSON array of queue names).
-- Returns one row, column due (null when nothing is scheduled). One index seek per queue plus one.
SELECT min(due) AS due FROM (
  SELECT (SELECT not_before FROM messages
          WHERE state = 'delayed' AND queue = q.value
          ORDER BY not_before LIMIT 1) AS due
  FROM json_each(:queues) AS q
  UNION ALL
  SELECT (SELECT visible_at FROM messages WHERE state = 'reserved' ORDER BY visible_at LIMIT 1)
);
