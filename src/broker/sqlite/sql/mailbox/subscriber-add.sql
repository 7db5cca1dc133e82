-- subscriber-add: registers a subscription. Params: id, exchange, binding_key, queue (or null), now.
INSERT OR REPLACE INTO mailbox_subscribers (id, exchange, binding_key, queue, seen_at)
VALUES (:id, :exchange, :binding_key, :queue, :now);
