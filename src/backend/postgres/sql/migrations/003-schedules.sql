-- Migration 3: the schedule store of beat (periodic tasks): schedules with their run state, one fire record per
-- (schedule, slot), the leader lease and a version counter.
-- Touches: creates celerity_schedules, celerity_schedule_fires, celerity_beat_lease, celerity_schedule_version and
-- their indexes in the backend's schema.
-- Returns nothing. Runs once, inside the migration transaction (see ../migrate.ts).
--
-- Times are epoch milliseconds (bigint) as the beats pass them in, never the server's clock: beats agree on time
-- through the lease, and a skewed clock can only delay a fail-over.
--
-- celerity_schedules: one row per schedule, e.g. psql -c "select name, paused, total_runs, last_task_id from
--   celerity_schedules"
--   name                             COLLATE "C": listed in byte order, as every other store lists them
--   definition                       json (task, schedule, args, kwargs, options, policies), opaque to the store;
--                                    json rather than jsonb so it reads back as written and compares as text
--   source                           'config' (replaced by syncConfig) or 'runtime' (changed by explicit calls only)
--   last_slot                        the newest slot fired or skipped, null before the first
--   last_run_at, last_task_id        when the newest fire or manual run was recorded, and the id its task got
--   total_runs                       fires plus manual runs
--   next_due_at                      the next slot as the beat that last fired or skipped computed it (null: none)
--   updated_at                       the last change of the definition or the paused flag
-- celerity_schedule_fires: the claim of one slot of one schedule; the primary key makes it exactly once.
--   token                            the lease token it was claimed under (unsent ones of an older token are
--                                    resent by the next leader)
--   sent                             false until the task was sent
--   Deleted with their schedule (the foreign key), so a schedule created again under a name starts afresh.
-- celerity_beat_lease: at most one row (id 1), the leader lease: who holds it, the fencing token it holds it with
--   (grows on every change of hands, never reused: the row is never deleted) and expires_at (null once its holder
--   gave it up).
-- celerity_schedule_version: one row; version grows whenever a definition, a paused flag or the set of schedules
--   changes, so a beat can tell cheaply whether to reload.
CREATE TABLE celerity_schedules (
  name         text COLLATE "C" PRIMARY KEY,
  definition   json    NOT NULL,
  source       text    NOT NULL CHECK (source IN ('config', 'runtime')),
  paused       boolean NOT NULL DEFAULT false,
  last_slot    bigint,
  last_run_at  bigint,
  total_runs   bigint  NOT NULL DEFAULT 0,
  next_due_at  bigint,
  last_task_id text,
  updated_at   bigint  NOT NULL
);

CREATE TABLE celerity_schedule_fires (
  name       text COLLATE "C" NOT NULL REFERENCES celerity_schedules (name) ON DELETE CASCADE,
  slot       bigint  NOT NULL,
  task_id    text    NOT NULL,
  token      bigint  NOT NULL,
  claimed_at bigint  NOT NULL,
  sent       boolean NOT NULL DEFAULT false,
  PRIMARY KEY (name, slot)
);

CREATE INDEX celerity_schedule_fires_unsent ON celerity_schedule_fires (token) WHERE NOT sent;
CREATE INDEX celerity_schedule_fires_sent ON celerity_schedule_fires (claimed_at) WHERE sent;

CREATE TABLE celerity_beat_lease (
  id         integer PRIMARY KEY CHECK (id = 1),
  holder     text    NOT NULL,
  token      bigint  NOT NULL,
  expires_at bigint
);

CREATE TABLE celerity_schedule_version (
  id      integer PRIMARY KEY CHECK (id = 1),
  version bigint  NOT NULL
);

INSERT INTO celerity_schedule_version (id, version) VALUES (1, 0);
