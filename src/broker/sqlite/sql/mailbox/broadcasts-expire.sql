-- broadcasts-expire: forgets broadcasts sent before :before (epoch ms); nobody reads them any more.
DELETE FROM mailbox_broadcasts WHERE sent_at < :before;
