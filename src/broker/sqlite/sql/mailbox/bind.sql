-- bind: declares :queue bound to the direct :exchange with :routing_key.
INSERT OR REPLACE INTO mailbox_bindings (exchange, routing_key, queue, seen_at) VALUES (:exchange, :routing_key, :queue, :now);
