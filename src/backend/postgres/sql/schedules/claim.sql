-- schedules/claim: records the fire of one slot of one schedule, exactly once across every beat, in one statement:
--   fenced    unless $1 is the current lease's token and that lease has not expired at $2. The lease row is read
--             FOR SHARE: a beat taking the lease over waits for claims in flight, so once it holds the lease no
--             claim under the old token can still commit;
--   missing   when no schedule has that name. The schedule row is locked FOR UPDATE: a delete in flight finishes
--             first (then it is missing) or waits for this claim, and claims of one schedule queue here;
--   duplicate when (name, slot) was claimed before, by anyone: the insert conflicts on the primary key and does
--             nothing, also when the other claim committed after this statement began;
--   claimed   otherwise: the fire is recorded unsent and the run state updated (last_slot the max, last_run_at,
--             total_runs + 1, last_task_id, next_due_at).
-- Touches: celerity_beat_lease (share lock), celerity_schedules (lock, update), celerity_schedule_fires (insert).
-- Params: $1 token, $2 now (epoch ms), $3 name, $4 slot (epoch ms), $5 task id, $6 next_due_at (null: none).
-- Returns one row: outcome ('claimed', 'duplicate', 'fenced' or 'missing').
WITH lease AS (
  SELECT token FROM celerity_beat_lease
  WHERE id = 1 AND token = $1::bigint AND expires_at > $2::bigint
  FOR SHARE
), schedule AS (
  SELECT name FROM celerity_schedules
  WHERE name = $3::text AND EXISTS (SELECT FROM lease)
  FOR UPDATE
), fire AS (
  INSERT INTO celerity_schedule_fires (name, slot, task_id, token, claimed_at)
  SELECT name, $4::bigint, $5::text, $1::bigint, $2::bigint FROM schedule
  ON CONFLICT (name, slot) DO NOTHING
  RETURNING name
), state AS (
  -- greatest() passes over a null last_slot.
  UPDATE celerity_schedules s SET
    last_slot    = greatest(s.last_slot, $4::bigint),
    last_run_at  = $2::bigint,
    total_runs   = s.total_runs + 1,
    last_task_id = $5::text,
    next_due_at  = $6::bigint
  FROM fire
  WHERE s.name = fire.name
)
SELECT CASE
         WHEN NOT EXISTS (SELECT FROM lease) THEN 'fenced'
         WHEN NOT EXISTS (SELECT FROM schedule) THEN 'missing'
         WHEN EXISTS (SELECT FROM fire) THEN 'claimed'
         ELSE 'duplicate'
       END AS outcome;
