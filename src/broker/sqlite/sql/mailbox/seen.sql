-- seen: refreshes the liveness of this mailbox's subscriptions (:ids is a JSON array of their ids).
UPDATE mailbox_subscribers SET seen_at = :now WHERE id IN (SELECT value FROM json_each(:ids));
