-- schedules/mark-sent: marks a claimed fire as sent (nothing when unknown).
-- Touches: celerity_schedule_fires (update). Params: $1 name, $2 slot.
-- Returns nothing.
UPDATE celerity_schedule_fires SET sent = true
WHERE name = $1::text AND slot = $2::bigint AND NOT sent;
