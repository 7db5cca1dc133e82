-- stale-subscribers: forgets subscriptions whose process stopped refreshing them before :before (epoch ms).
DELETE FROM mailbox_subscribers WHERE seen_at < :before;
