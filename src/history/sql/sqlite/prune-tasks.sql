-- prune-tasks: forgets the tasks listed in :ids (a JSON array of ids).
-- Touches: deletes from celerity_history_tasks. Params: :ids. Returns nothing; changes = tasks deleted.
DELETE FROM celerity_history_tasks WHERE id IN (SELECT value FROM json_each(:ids));
