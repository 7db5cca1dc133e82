-- schedules-mark-sent: marks a claimed fire as sent (nothing when unknown).
-- Params: :name, :slot.
-- Returns nothing.
UPDATE celerity_schedule_fires SET sent = 1 WHERE name = :name AND slot = :slot;
