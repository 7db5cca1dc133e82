-- size: how many messages wait in a queue (ready or delayed), not counting reserved ones.
-- Params: :queue.
-- Returns one row, column n. Two counts over the partial indexes, no table rows read.
SELECT (SELECT count(*) FROM messages WHERE queue = :queue AND state = 'ready')
     + (SELECT count(*) FROM messages WHERE queue = :queue AND state = 'delayed') AS n;
