-- send: copies an envelope into every queue bound to the direct :exchange with :routing_key (none bound: nothing).
INSERT INTO mailbox_queue (queue, envelope, sent_at)
SELECT queue, :envelope, :now FROM mailbox_bindings WHERE exchange = :exchange AND routing_key = :routing_key;
