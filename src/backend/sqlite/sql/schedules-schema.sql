-- Schedule-store schema of the embedded store (beat): periodic-task schedules with their run state, one fire record
-- per (schedule, slot), the leader lease and a version counter. Idempotent; run by each connection the first time
-- its schedule store is used, in the result backend's file (which may be the broker's too).
--
-- celerity_schedules: one row per schedule, plain enough to query by hand, e.g.
--   sqlite3 celerity.db "select name, paused, total_runs, last_task_id from celerity_schedules"
--   definition                       JSON text (task, schedule, args, kwargs, options, policies), opaque to the store
--   source                           'config' (replaced by syncConfig) or 'runtime' (changed by explicit calls only)
--   paused                           0 or 1
--   last_slot                        epoch ms of the newest slot fired or skipped, null before the first
--   last_run_at, last_task_id        when the newest fire or manual run was recorded, and the id its task got
--   total_runs                       fires plus manual runs
--   next_due_at                      the next slot as the beat that last fired or skipped computed it (null: none)
--   updated_at                       epoch ms of the last change of the definition or the paused flag
-- celerity_schedule_fires: the claim of one slot of one schedule; the primary key is what makes it exactly once:
--   token                            the lease token it was claimed under (fencing; unsent ones of an older token
--                                    are resent by the next leader)
--   claimed_at                       epoch ms; sent: 0 until the task was sent, then 1
--   Deleted with their schedule (trigger below).
-- celerity_beat_lease: at most one row (id 1), the leader lease:
--   holder, token                    who holds it and the fencing token it holds it with (grows on every change of
--                                    hands, never reused: the row is never deleted)
--   expires_at                       epoch ms; null once its holder gave it up (nobody holds it)
-- celerity_schedule_version: one row (id 1); version grows whenever a definition, a paused flag or the set of
--   schedules changes, so a beat can tell cheaply whether to reload.
CREATE TABLE IF NOT EXISTS celerity_schedules (
  name         TEXT    PRIMARY KEY,
  definition   TEXT    NOT NULL,
  source       TEXT    NOT NULL CHECK (source IN ('config', 'runtime')),
  paused       INTEGER NOT NULL DEFAULT 0,
  last_slot    INTEGER,
  last_run_at  INTEGER,
  total_runs   INTEGER NOT NULL DEFAULT 0,
  next_due_at  INTEGER,
  last_task_id TEXT,
  updated_at   INTEGER NOT NULL
);

CREATE TABLE IF NOT EXISTS celerity_schedule_fires (
  name       TEXT    NOT NULL,
  slot       INTEGER NOT NULL,
  task_id    TEXT    NOT NULL,
  token      INTEGER NOT NULL,
  claimed_at INTEGER NOT NULL,
  sent       INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (name, slot)
);

CREATE INDEX IF NOT EXISTS celerity_schedule_fires_unsent ON celerity_schedule_fires (token) WHERE sent = 0;
CREATE INDEX IF NOT EXISTS celerity_schedule_fires_sent ON celerity_schedule_fires (claimed_at) WHERE sent = 1;

CREATE TABLE IF NOT EXISTS celerity_beat_lease (
  id         INTEGER PRIMARY KEY CHECK (id = 1),
  holder     TEXT    NOT NULL,
  token      INTEGER NOT NULL,
  expires_at INTEGER
);

CREATE TABLE IF NOT EXISTS celerity_schedule_version (
  id      INTEGER PRIMARY KEY CHECK (id = 1),
  version INTEGER NOT NULL
);

INSERT OR IGNORE INTO celerity_schedule_version (id, version) VALUES (1, 0);

-- Fire records live exactly as long as their schedule: whoever deletes a schedule (delete, syncConfig, someone by
-- hand) cannot leave claims behind that would make a new schedule of that name see its slots as duplicates.
CREATE TRIGGER IF NOT EXISTS celerity_schedules_delete_fires AFTER DELETE ON celerity_schedules
BEGIN
  DELETE FROM celerity_schedule_fires WHERE name = old.name;
END;
