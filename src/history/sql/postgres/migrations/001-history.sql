-- Task history migration 1: the tasks and timeline tables, their indexes, and the function that applies a batch of
-- updates with Celery's state precedence.
-- Touches: creates celerity_history_tasks, celerity_history_timeline, celerity_history_rank,
-- celerity_history_replaces and celerity_history_apply in the store's schema (which may be the result backend's:
-- every name starts with celerity_history_).
-- Returns nothing. Runs once, inside the migration transaction (see ../../../postgres-migrate.ts).
--
-- celerity_history_tasks: one row per task, e.g. psql -c "select id, name, state from celerity_history_tasks order by
--   created_at desc limit 20"
--   id, name                         COLLATE "C": ids order bytewise as in every other store (the list order and the
--                                    cursor depend on it), and a name prefix is an index range
--   args, kwargs, result, meta       repr or JSON text as the events carry them (text, not json: reprs are not JSON)
--   created_at ... updated_at        epoch ms as double precision (event times have fractions of a millisecond)
--   retries, runtime                 double precision: numbers read back as any other store keeps them
-- celerity_history_timeline: every event of every task, deleted with its task by prune; seq is the arrival order.
CREATE TABLE celerity_history_tasks (
  id          text COLLATE "C" PRIMARY KEY,
  name        text COLLATE "C",
  state       text NOT NULL,
  queue       text,
  worker      text,
  args        text,
  kwargs      text,
  args_json   text,
  kwargs_json text,
  result      text,
  exception   text,
  traceback   text,
  meta        text,
  retries     double precision,
  runtime     double precision,
  parent_id   text,
  root_id     text,
  group_id    text,
  eta         text,
  expires     text,
  created_at  double precision NOT NULL,
  sent_at     double precision,
  received_at double precision,
  started_at  double precision,
  finished_at double precision,
  updated_at  double precision NOT NULL
);

CREATE INDEX celerity_history_tasks_created ON celerity_history_tasks (created_at, id);
CREATE INDEX celerity_history_tasks_state ON celerity_history_tasks (state, created_at, id);
CREATE INDEX celerity_history_tasks_name ON celerity_history_tasks (name, created_at, id);
CREATE INDEX celerity_history_tasks_worker ON celerity_history_tasks (worker, created_at, id);
CREATE INDEX celerity_history_tasks_queue ON celerity_history_tasks (queue, created_at, id);
CREATE INDEX celerity_history_tasks_parent ON celerity_history_tasks (parent_id, created_at, id) WHERE parent_id IS NOT NULL;
CREATE INDEX celerity_history_tasks_root ON celerity_history_tasks (root_id, created_at, id) WHERE root_id IS NOT NULL;
CREATE INDEX celerity_history_tasks_group ON celerity_history_tasks (group_id, created_at, id) WHERE group_id IS NOT NULL;
CREATE INDEX celerity_history_tasks_unfinished ON celerity_history_tasks (updated_at, id)
  WHERE state NOT IN ('SUCCESS', 'FAILURE', 'REVOKED', 'REJECTED');

CREATE TABLE celerity_history_timeline (
  seq       bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  task_id   text COLLATE "C" NOT NULL,
  type      text NOT NULL,
  timestamp double precision NOT NULL,
  hostname  text,
  fields    text
);

CREATE INDEX celerity_history_timeline_task ON celerity_history_timeline (task_id, timestamp, seq);

-- Celery's state precedence (src/history/port.ts STATE_PRECEDENCE): lower = later in a task's life; a state not
-- listed ranks between FAILURE and REVOKED.
CREATE FUNCTION celerity_history_rank(state text) RETURNS integer LANGUAGE sql IMMUTABLE AS $$
  SELECT CASE state
    WHEN 'SUCCESS' THEN 0 WHEN 'FAILURE' THEN 1 WHEN 'REVOKED' THEN 3 WHEN 'STARTED' THEN 4 WHEN 'RECEIVED' THEN 5
    WHEN 'REJECTED' THEN 6 WHEN 'RETRY' THEN 7 WHEN 'PENDING' THEN 8 ELSE 2 END
$$;

-- Whether a stored state gives way to an incoming one (port.ts stateReplaces).
CREATE FUNCTION celerity_history_replaces(current text, incoming text) RETURNS boolean LANGUAGE sql IMMUTABLE AS $$
  SELECT current IS NULL OR current = 'RETRY' OR incoming = 'RETRY'
      OR celerity_history_rank(incoming) <= celerity_history_rank(current)
$$;

-- Applies a batch of updates in order (src/history/merge.ts mergeUpdate, row by row, so several updates of one
-- task in a batch act as separate batches would). Each element: {id, ts, state?, f: {column: value, ...}, tl?:
-- {type, timestamp, hostname, fields}}; f holds only the fields the update carries (absent = keep the stored one).
CREATE FUNCTION celerity_history_apply(updates jsonb) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
  u  jsonb;
  f  jsonb;
  st text;
  ts double precision;
  finished boolean;
BEGIN
  FOR u IN SELECT e.value FROM jsonb_array_elements(updates) WITH ORDINALITY AS e (value, n) ORDER BY e.n LOOP
    f := coalesce(u -> 'f', '{}'::jsonb);
    st := u ->> 'state';
    ts := (u ->> 'ts')::double precision;
    finished := st IN ('SUCCESS', 'FAILURE', 'REVOKED', 'REJECTED');
    INSERT INTO celerity_history_tasks AS t
      (id, name, state, queue, worker, args, kwargs, args_json, kwargs_json, result, exception, traceback, meta,
       retries, runtime, parent_id, root_id, group_id, eta, expires, created_at, sent_at, received_at, started_at,
       finished_at, updated_at)
    VALUES
      (u ->> 'id', f ->> 'name', coalesce(st, 'PENDING'), f ->> 'queue', f ->> 'worker', f ->> 'args', f ->> 'kwargs',
       f ->> 'args_json', f ->> 'kwargs_json', f ->> 'result', f ->> 'exception', f ->> 'traceback', f ->> 'meta',
       (f ->> 'retries')::double precision, (f ->> 'runtime')::double precision, f ->> 'parent_id', f ->> 'root_id',
       f ->> 'group_id', f ->> 'eta', f ->> 'expires', ts,
       coalesce((f ->> 'sent_at')::double precision, CASE WHEN st = 'PENDING' THEN ts END),
       coalesce((f ->> 'received_at')::double precision, CASE WHEN st = 'RECEIVED' THEN ts END),
       coalesce((f ->> 'started_at')::double precision, CASE WHEN st = 'STARTED' THEN ts END),
       coalesce((f ->> 'finished_at')::double precision, CASE WHEN finished THEN ts END),
       ts)
    ON CONFLICT (id) DO UPDATE SET
      state       = CASE WHEN st IS NOT NULL AND celerity_history_replaces(t.state, st) THEN st ELSE t.state END,
      name        = coalesce(excluded.name, t.name),
      queue       = coalesce(excluded.queue, t.queue),
      worker      = coalesce(excluded.worker, t.worker),
      args        = coalesce(excluded.args, t.args),
      kwargs      = coalesce(excluded.kwargs, t.kwargs),
      args_json   = coalesce(excluded.args_json, t.args_json),
      kwargs_json = coalesce(excluded.kwargs_json, t.kwargs_json),
      result      = coalesce(excluded.result, t.result),
      exception   = coalesce(excluded.exception, t.exception),
      traceback   = coalesce(excluded.traceback, t.traceback),
      meta        = coalesce(excluded.meta, t.meta),
      retries     = coalesce(excluded.retries, t.retries),
      runtime     = coalesce(excluded.runtime, t.runtime),
      parent_id   = coalesce(excluded.parent_id, t.parent_id),
      root_id     = coalesce(excluded.root_id, t.root_id),
      group_id    = coalesce(excluded.group_id, t.group_id),
      eta         = coalesce(excluded.eta, t.eta),
      expires     = coalesce(excluded.expires, t.expires),
      created_at  = least(t.created_at, excluded.created_at),
      sent_at     = coalesce(excluded.sent_at, t.sent_at),
      received_at = coalesce(excluded.received_at, t.received_at),
      started_at  = coalesce(excluded.started_at, t.started_at),
      finished_at = coalesce(excluded.finished_at, t.finished_at),
      updated_at  = greatest(t.updated_at, excluded.updated_at);
    IF u ? 'tl' THEN
      INSERT INTO celerity_history_timeline (task_id, type, timestamp, hostname, fields)
      VALUES (u ->> 'id', u -> 'tl' ->> 'type', (u -> 'tl' ->> 'timestamp')::double precision, u -> 'tl' ->> 'hostname',
              u -> 'tl' ->> 'fields');
    END IF;
  END LOOP;
END
$$;
