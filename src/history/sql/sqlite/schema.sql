-- Task history schema of the embedded store (idempotent; run by every connection on connect). It may share a file
-- with the broker and the result backend: every name starts with celerity_history_.
--
-- celerity_history_tasks: one row per task, e.g.
--   sqlite3 celerity-history.db "select id, name, state from celerity_history_tasks order by created_at desc limit 20"
--   args, kwargs                     Python repr text as events carry it
--   args_json, kwargs_json           the arguments as JSON text when known exactly (null = unknown)
--   result, meta                     repr or JSON text; meta is a custom state's meta as JSON text
--   runtime                          seconds the task ran
--   created_at                       epoch ms of the earliest event seen; the list order (with id) and the retention
--   updated_at                       epoch ms of the latest event seen
--   sent_at, received_at, started_at, finished_at
--                                    epoch ms of the PENDING, RECEIVED, STARTED and ready-state events
-- celerity_history_timeline: every event of every task, deleted with its task by prune:
--   seq                              arrival order (the order among events with the same timestamp)
--   fields                           the event's own fields as JSON text
--
-- Indexes: each list filter is an index led by its column and followed by the list order (created_at, id), so a
-- page is an index range read newest first with no sort, at any table size.
CREATE TABLE IF NOT EXISTS celerity_history_tasks (
  id          TEXT PRIMARY KEY,
  name        TEXT,
  state       TEXT    NOT NULL,
  queue       TEXT,
  worker      TEXT,
  args        TEXT,
  kwargs      TEXT,
  args_json   TEXT,
  kwargs_json TEXT,
  result      TEXT,
  exception   TEXT,
  traceback   TEXT,
  meta        TEXT,
  retries     INTEGER,
  runtime     REAL,
  parent_id   TEXT,
  root_id     TEXT,
  group_id    TEXT,
  eta         TEXT,
  expires     TEXT,
  created_at  INTEGER NOT NULL,
  sent_at     INTEGER,
  received_at INTEGER,
  started_at  INTEGER,
  finished_at INTEGER,
  updated_at  INTEGER NOT NULL
);

CREATE INDEX IF NOT EXISTS celerity_history_tasks_created ON celerity_history_tasks (created_at, id);
CREATE INDEX IF NOT EXISTS celerity_history_tasks_state ON celerity_history_tasks (state, created_at, id);
CREATE INDEX IF NOT EXISTS celerity_history_tasks_name ON celerity_history_tasks (name, created_at, id);
CREATE INDEX IF NOT EXISTS celerity_history_tasks_worker ON celerity_history_tasks (worker, created_at, id);
CREATE INDEX IF NOT EXISTS celerity_history_tasks_queue ON celerity_history_tasks (queue, created_at, id);
CREATE INDEX IF NOT EXISTS celerity_history_tasks_parent ON celerity_history_tasks (parent_id, created_at, id)
  WHERE parent_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS celerity_history_tasks_root ON celerity_history_tasks (root_id, created_at, id)
  WHERE root_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS celerity_history_tasks_group ON celerity_history_tasks (group_id, created_at, id)
  WHERE group_id IS NOT NULL;
-- unfinished.sql's order, over the tasks it can return only.
CREATE INDEX IF NOT EXISTS celerity_history_tasks_unfinished ON celerity_history_tasks (updated_at, id)
  WHERE state NOT IN ('SUCCESS', 'FAILURE', 'REVOKED', 'REJECTED');

CREATE TABLE IF NOT EXISTS celerity_history_timeline (
  seq       INTEGER PRIMARY KEY,
  task_id   TEXT    NOT NULL,
  type      TEXT    NOT NULL,
  timestamp INTEGER NOT NULL,
  hostname  TEXT,
  fields    TEXT
);

CREATE INDEX IF NOT EXISTS celerity_history_timeline_task ON celerity_history_timeline (task_id, timestamp, seq);
