-- schedules/advance: records that slots up to $4 were passed over (misfire policy skip), under schedules/claim.sql's
-- fencing rule in the same statement: last_slot becomes the max and next_due_at is set. No fire record, no run
-- counted.
-- Touches: celerity_beat_lease (share lock), celerity_schedules (update).
-- Params: $1 token, $2 now (epoch ms), $3 name, $4 slot (epoch ms), $5 next_due_at (null: none).
-- Returns one row: advanced (false when fenced or when no schedule has that name).
WITH lease AS (
  SELECT token FROM celerity_beat_lease
  WHERE id = 1 AND token = $1::bigint AND expires_at > $2::bigint
  FOR SHARE
), moved AS (
  UPDATE celerity_schedules s SET
    last_slot   = greatest(s.last_slot, $4::bigint),
    next_due_at = $5::bigint
  WHERE s.name = $3::text AND EXISTS (SELECT FROM lease)
  RETURNING 1
)
SELECT EXISTS (SELECT FROM moved) AS advanced;
