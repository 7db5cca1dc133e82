-- schedules/prune: deletes the fire records that were sent and claimed before $1; unsent ones stay until a leader
-- sends them. The schedules' last_slot still passes over the pruned slots.
-- Touches: celerity_schedule_fires (delete, through its partial index of sent fires). Params: $1 cutoff (epoch ms).
-- Returns one row: removed.
WITH gone AS (
  DELETE FROM celerity_schedule_fires WHERE sent AND claimed_at < $1::bigint RETURNING 1
)
SELECT count(*)::integer AS removed FROM gone;
