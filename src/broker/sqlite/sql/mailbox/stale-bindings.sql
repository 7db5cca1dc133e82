-- stale-bindings: then forgets those queues' bindings.
DELETE FROM mailbox_bindings WHERE seen_at < :before;
