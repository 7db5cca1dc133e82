-- Mailbox of the embedded store (idempotent; run by every mailbox connection): remote control and monitoring
-- events between the processes sharing one file, as kombu's pidbox and celeryev do over Redis.
--
-- broadcasts: one row per broadcast (a control request, an event). Every subscriber reads the rows after its own
--   cursor and keeps those its binding matches; rows are kept for a short while only (broadcast-expire.sql), so a
--   subscriber that was not listening misses them, as on Redis.
-- subscribers: who listens to which exchange with which binding key, refreshed while alive (seen_at, epoch ms);
--   a broadcast counts the live ones it reaches, which is how a control client knows how many replies to expect.
-- bindings / queue: direct delivery (control replies): a send copies the envelope into every queue bound to the
--   exchange with its routing key; a taker deletes the oldest row of its queue.
CREATE TABLE IF NOT EXISTS mailbox_broadcasts (
  id          INTEGER PRIMARY KEY AUTOINCREMENT,
  exchange    TEXT    NOT NULL,
  routing_key TEXT    NOT NULL,
  envelope    TEXT    NOT NULL,
  sent_at     INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS mailbox_broadcasts_sent ON mailbox_broadcasts (sent_at);

CREATE TABLE IF NOT EXISTS mailbox_subscribers (
  id          TEXT    PRIMARY KEY,
  exchange    TEXT    NOT NULL,
  binding_key TEXT    NOT NULL,
  queue       TEXT,
  seen_at     INTEGER NOT NULL
);

CREATE TABLE IF NOT EXISTS mailbox_bindings (
  exchange    TEXT    NOT NULL,
  routing_key TEXT    NOT NULL,
  queue       TEXT    NOT NULL,
  seen_at     INTEGER NOT NULL,
  PRIMARY KEY (exchange, routing_key, queue)
);

CREATE TABLE IF NOT EXISTS mailbox_queue (
  id       INTEGER PRIMARY KEY AUTOINCREMENT,
  queue    TEXT    NOT NULL,
  envelope TEXT    NOT NULL,
  sent_at  INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS mailbox_queue_by_queue ON mailbox_queue (queue, id);
