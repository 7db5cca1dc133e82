-- subscriber-remove: ends a subscription.
DELETE FROM mailbox_subscribers WHERE id = :id;
