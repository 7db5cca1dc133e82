-- broadcasts-last: the newest broadcast id (0 when none): a new subscriber starts reading after it.
SELECT coalesce(max(id), 0) AS id FROM mailbox_broadcasts;
