-- queue-clear: deletes what is left in a direct queue that was unbound.
DELETE FROM mailbox_queue WHERE queue = :queue;
