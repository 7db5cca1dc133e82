-- schedules-fire-state: the run state after a claimed fire: the newest slot stays the newest, one more run, and the
-- claim's task id and next slot. Run in claimFire's transaction right after schedules-fire-insert claimed the slot.
-- Params: :name, :slot, :task_id, :now, :next_due_at (epoch ms or null).
-- Returns nothing.
UPDATE celerity_schedules
SET last_slot    = max(coalesce(last_slot, :slot), :slot),
    last_run_at  = :now,
    total_runs   = total_runs + 1,
    last_task_id = :task_id,
    next_due_at  = :next_due_at
WHERE name = :name;
