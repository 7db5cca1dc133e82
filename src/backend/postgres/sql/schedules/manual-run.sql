-- schedules/manual-run: counts a task sent by hand ("run now"): one more run, its time and task id; the slots are
-- left alone, so the schedule keeps its own rhythm.
-- Touches: celerity_schedules (update). Params: $1 name, $2 task id, $3 now (epoch ms).
-- Returns one row when the schedule exists, no row otherwise.
UPDATE celerity_schedules SET total_runs = total_runs + 1, last_run_at = $3::bigint, last_task_id = $2::text
WHERE name = $1::text
RETURNING 1 AS found;
