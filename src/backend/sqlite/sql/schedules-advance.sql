-- schedules-advance: records that slots up to :slot were passed over (misfire skip), under claimFire's fencing rule
-- in the same statement, so a beat that lost the lease changes nothing. No fire record, no run counted.
-- Params: :name, :slot, :token, :now, :next_due_at (epoch ms or null).
-- Returns nothing; changes = 0 when fenced or when no schedule has that name.
UPDATE celerity_schedules
SET last_slot   = max(coalesce(last_slot, :slot), :slot),
    next_due_at = :next_due_at
WHERE name = :name
  AND EXISTS (SELECT 1 FROM celerity_beat_lease WHERE id = 1 AND token = :token AND expires_at > :now);
