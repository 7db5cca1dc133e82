-- broadcasts-after: what was broadcast after a subscriber's cursor, oldest first (the subscriber filters by binding).
SELECT id, exchange, routing_key, envelope FROM mailbox_broadcasts WHERE id > :cursor ORDER BY id LIMIT :limit;
