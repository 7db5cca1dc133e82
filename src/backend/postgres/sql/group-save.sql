-- group-save: saves (or replaces) a group's member list, GroupResult.as_tuple() as JSON.
-- Touches: celery_groups. Params: $1 group_id, $2 result (JSON text), $3 ttl in ms (null or <= 0: never expires).
-- Returns nothing.
INSERT INTO celery_groups AS g (group_id, result, date_done, expires_at)
VALUES ($1::text, $2::json, now(), CASE WHEN $3::bigint > 0 THEN now() + $3::bigint * interval '1 millisecond' END)
ON CONFLICT (group_id) DO UPDATE SET
  result     = excluded.result,
  date_done  = excluded.date_done,
  expires_at = excluded.expires_at;
