-- bindings-seen: refreshes the liveness of this mailbox's direct queues (:queues is a JSON array).
UPDATE mailbox_bindings SET seen_at = :now WHERE queue IN (SELECT value FROM json_each(:queues));
