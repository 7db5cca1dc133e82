-- prune-timeline: forgets the timelines of the tasks listed in :ids (a JSON array of ids).
-- Touches: deletes from celerity_history_timeline. Params: :ids. Returns nothing.
DELETE FROM celerity_history_timeline WHERE task_id IN (SELECT value FROM json_each(:ids));
