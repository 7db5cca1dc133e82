-- schedules-fire-insert: records the claim of one slot of one schedule, unsent, unless that (name, slot) was claimed
-- before: the primary key makes the claim exactly once. Run in claimFire's transaction after the fencing check.
-- Params: :name, :slot, :task_id, :token, :now (epoch ms).
-- Returns nothing; changes = 1 when this call claimed the slot, 0 for a duplicate.
INSERT INTO celerity_schedule_fires (name, slot, task_id, token, claimed_at, sent)
VALUES (:name, :slot, :task_id, :token, :now, 0)
ON CONFLICT (name, slot) DO NOTHING;
