-- stale-queues: empties direct queues whose owner stopped refreshing them before :before (epoch ms): killed.
DELETE FROM mailbox_queue WHERE queue IN (SELECT queue FROM mailbox_bindings WHERE seen_at < :before);
