-- Result backend schema of the embedded store (idempotent; run by every connection on connect). It can live in the
-- same file as the broker's tables.
--
-- celery_results: one row per task, plain enough to query by hand, e.g.
--   sqlite3 celerity.db "select task_id, status, name from celery_results where status = 'FAILURE'"
--   result, children, args, kwargs   JSON text
--   date_done                        Celery's naive UTC ISO text, null until ready
--   created_at, updated_at           epoch ms of the first and the latest write
--   expires_at                       epoch ms after which the row counts as absent (null = kept forever);
--                                    cleanup.sql deletes such rows
-- counters: atomic counters (chord joins), with the same expiry rule.
-- celery_groups: saved groups (Celery's GroupResult.save), one row per group id:
--   result                           JSON text of GroupResult.as_tuple(), [[group_id, parent], [[[task_id, parent],
--                                    null], ...]]
--   created_at                       epoch ms of the latest save (a save replaces the group)
--   expires_at                       as in celery_results
-- celery_chords: one chord join per header group id:
--   size                             members the chord waits for (null until setChordSize; nothing completes then)
--   done                             distinct members recorded so far
--   completed_by                     task id of the member whose part completed the chord; it alone gets the parts
--                                    again (a redelivery before the body was sent), anyone else gets nothing
--   expires_at                       as in celery_results, renewed by every write to the join; an expired join
--                                    counts as absent and takes its parts with it
-- celery_chord_parts: the recorded members of each join, deleted with their celery_chords row (trigger below):
--   group_index                      position in the header, null when unknown (handed back last)
--   status, result                   the member's state and return value or serialized error (JSON text)
--   seq                              arrival number within the join, the order among equal group indexes
CREATE TABLE IF NOT EXISTS celery_results (
  task_id    TEXT PRIMARY KEY,
  status     TEXT    NOT NULL,
  result     TEXT,
  traceback  TEXT,
  children   TEXT,
  date_done  TEXT,
  group_id   TEXT,
  parent_id  TEXT,
  name       TEXT,
  args       TEXT,
  kwargs     TEXT,
  worker     TEXT,
  retries    INTEGER,
  queue      TEXT,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  expires_at INTEGER
);

CREATE INDEX IF NOT EXISTS celery_results_status ON celery_results (status, updated_at);
CREATE INDEX IF NOT EXISTS celery_results_group ON celery_results (group_id) WHERE group_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS celery_results_expires ON celery_results (expires_at) WHERE expires_at IS NOT NULL;

CREATE TABLE IF NOT EXISTS counters (
  key        TEXT PRIMARY KEY,
  value      INTEGER NOT NULL,
  expires_at INTEGER
);

CREATE TABLE IF NOT EXISTS celery_groups (
  group_id   TEXT PRIMARY KEY,
  result     TEXT    NOT NULL,
  created_at INTEGER NOT NULL,
  expires_at INTEGER
);

CREATE INDEX IF NOT EXISTS celery_groups_expires ON celery_groups (expires_at) WHERE expires_at IS NOT NULL;

CREATE TABLE IF NOT EXISTS celery_chords (
  group_id     TEXT PRIMARY KEY,
  size         INTEGER,
  done         INTEGER NOT NULL DEFAULT 0,
  completed_by TEXT,
  expires_at   INTEGER
);

CREATE INDEX IF NOT EXISTS celery_chords_expires ON celery_chords (expires_at) WHERE expires_at IS NOT NULL;

CREATE TABLE IF NOT EXISTS celery_chord_parts (
  group_id    TEXT    NOT NULL,
  task_id     TEXT    NOT NULL,
  group_index INTEGER,
  status      TEXT    NOT NULL,
  result      TEXT    NOT NULL,
  seq         INTEGER NOT NULL,
  PRIMARY KEY (group_id, task_id)
);

-- Parts live exactly as long as their join: whoever deletes a celery_chords row (chordDone, cleanup, an expired
-- join being replaced, or someone by hand) cannot leave parts behind to be counted by a later join of that id.
CREATE TRIGGER IF NOT EXISTS celery_chords_delete_parts AFTER DELETE ON celery_chords
BEGIN
  DELETE FROM celery_chord_parts WHERE group_id = old.group_id;
END;
