-- broadcast: stores one envelope for the subscribers of :exchange. Params: exchange, routing_key, envelope, now.
INSERT INTO mailbox_broadcasts (exchange, routing_key, envelope, sent_at) VALUES (:exchange, :routing_key, :envelope, :now);
