-- chord-count: adds :added (1 for a new part, 0 for a repeat) to a join's count of recorded members and, when that
-- makes the count reach the chord's size and no member completed the chord yet, marks it completed by :task_id.
-- Run in the transaction that recorded the part, after chord-part-insert: the count and the claim are one step, so
-- however many processes record parts at once, exactly one of them sees its own task id come back.
-- Params: :group_id, :task_id, :added.
-- Returns { completed_by } after the update: :task_id when this member completed the chord (now or, for a
-- redelivery of the completing member, earlier), another id or null otherwise.
UPDATE celery_chords
SET done         = done + :added,
    completed_by = CASE
                     WHEN completed_by IS NULL AND size = done + :added THEN :task_id
                     ELSE completed_by
                   END
WHERE group_id = :group_id
RETURNING completed_by;
