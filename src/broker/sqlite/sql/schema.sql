-- Broker schema of the embedded store (idempotent; run by every connection on connect).
--
-- messages: one row per message waiting in, or reserved from, a queue.
--   state       'ready'    waiting, deliverable now
--               'delayed'  waiting until not_before (epoch ms); promote.sql makes it ready when due
--               'reserved' handed to a consumer with `tag` until visible_at (epoch ms); restore.sql makes it ready
--                          again (redelivered = 1) once visible_at passes, ack.sql deletes it
--   tag         random per reservation: an ack or reject carrying an older tag matches nothing
--   headers, properties  JSON text; body the serialized payload as bytes
-- dead_letters: messages rejected without requeue; raw is the JSON text of the stored parts (body base64),
--   task_id/task_name copied out for listing.
--
-- Three partial indexes, one per state, so each hot statement is one index seek that never walks rows in
-- another state: with 10,000 delayed messages in a queue, a reserve still reads only the ready ones.
CREATE TABLE IF NOT EXISTS messages (
  id               INTEGER PRIMARY KEY AUTOINCREMENT,
  queue            TEXT    NOT NULL,
  priority         INTEGER NOT NULL DEFAULT 0,
  not_before       INTEGER,
  state            TEXT    NOT NULL DEFAULT 'ready',
  tag              TEXT,
  visible_at       INTEGER,
  redelivered      INTEGER NOT NULL DEFAULT 0,
  headers          TEXT    NOT NULL DEFAULT '{}',
  properties       TEXT    NOT NULL DEFAULT '{}',
  body             BLOB    NOT NULL,
  content_type     TEXT    NOT NULL,
  content_encoding TEXT    NOT NULL,
  created_at       INTEGER NOT NULL
);

-- reserve.sql: per queue, highest priority first, then publish order.
CREATE INDEX IF NOT EXISTS messages_ready ON messages (queue, priority DESC, id) WHERE state = 'ready';
-- promote.sql and next-due.sql: per queue, earliest due first.
CREATE INDEX IF NOT EXISTS messages_delayed ON messages (queue, not_before) WHERE state = 'delayed';
-- restore.sql and next-due.sql: earliest visibility deadline first.
CREATE INDEX IF NOT EXISTS messages_reserved ON messages (visible_at) WHERE state = 'reserved';

CREATE TABLE IF NOT EXISTS dead_letters (
  id        INTEGER PRIMARY KEY AUTOINCREMENT,
  queue     TEXT    NOT NULL,
  reason    TEXT    NOT NULL,
  raw       TEXT    NOT NULL,
  task_id   TEXT,
  task_name TEXT,
  failed_at INTEGER NOT NULL
);

-- rate-slot.sql: the next free start of each global rate limit, epoch ms.
CREATE TABLE IF NOT EXISTS rate_slots (
  key  TEXT PRIMARY KEY,
  next REAL NOT NULL
);

-- revoke.sql / revocations.sql: revoked task ids, read by every worker on this file (the embedded store has no
-- fanout for remote control). seq orders them; rows older than Celery's REVOKE_EXPIRES (3 hours) are dropped.
CREATE TABLE IF NOT EXISTS revocations (
  seq        INTEGER PRIMARY KEY AUTOINCREMENT,
  task_id    TEXT    NOT NULL,
  terminate  INTEGER NOT NULL,
  signal     TEXT    NOT NULL,
  created_at INTEGER NOT NULL
);
