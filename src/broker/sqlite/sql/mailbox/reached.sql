-- reached: how many live subscribers (seen since :live_since, epoch ms) a broadcast with :routing_key reaches.
-- Binding keys match as kombu's Redis transport matches them: '#' and '*' any run of characters (GLOB after
-- replacing '#'), and an empty binding key only an empty routing key.
SELECT count(*) AS n FROM mailbox_subscribers
WHERE exchange = :exchange AND seen_at >= :live_since
  AND ((binding_key = '' AND :routing_key = '')
    OR (binding_key <> '' AND :routing_key <> '' AND :routing_key GLOB replace(binding_key, '#', '*')));
