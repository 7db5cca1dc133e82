-- chord-size: records how many header members chord $1 waits for. Members that finished earlier have already
-- created the row and counted themselves; their count is kept.
-- Touches: celery_chords. Params: $1 group_id, $2 size, $3 ttl in ms (null or <= 0: never expires).
-- Returns nothing.
INSERT INTO celery_chords AS c (group_id, size, done, expires_at)
VALUES ($1::text, $2::integer, 0, CASE WHEN $3::bigint > 0 THEN now() + $3::bigint * interval '1 millisecond' END)
ON CONFLICT (group_id) DO UPDATE SET
  size       = excluded.size,
  expires_at = excluded.expires_at;
