-- restore: reserved messages whose visibility deadline passed go back to their queue, marked redelivered, with
-- their tag cleared so the consumer that lost them can no longer ack or reject them.
-- Params: :now (epoch ms).
-- Returns nothing; changes = how many were restored. One seek on messages_reserved; reserve runs it every time, so
-- a crashed worker's messages come back without anyone calling restore.
UPDATE messages
SET state = 'ready', tag = NULL, visible_at = NULL, redelivered = 1
WHERE state = 'reserved'
  AND visible_at <= :now;
