-- upsert: writes a task as merged by the store (merge.ts applied the state precedence and kept known fields).
-- Touches: celerity_history_tasks. Params: every column by name. Returns nothing.
INSERT INTO celerity_history_tasks
  (id, name, state, queue, worker, args, kwargs, args_json, kwargs_json, result, exception, traceback, meta, retries,
   runtime, parent_id, root_id, group_id, eta, expires, created_at, sent_at, received_at, started_at, finished_at,
   updated_at)
VALUES
  (:id, :name, :state, :queue, :worker, :args, :kwargs, :args_json, :kwargs_json, :result, :exception, :traceback,
   :meta, :retries, :runtime, :parent_id, :root_id, :group_id, :eta, :expires, :created_at, :sent_at, :received_at,
   :started_at, :finished_at, :updated_at)
ON CONFLICT (id) DO UPDATE SET
  name        = excluded.name,
  state       = excluded.state,
  queue       = excluded.queue,
  worker      = excluded.worker,
  args        = excluded.args,
  kwargs      = excluded.kwargs,
  args_json   = excluded.args_json,
  kwargs_json = excluded.kwargs_json,
  result      = excluded.result,
  exception   = excluded.exception,
  traceback   = excluded.traceback,
  meta        = excluded.meta,
  retries     = excluded.retries,
  runtime     = excluded.runtime,
  parent_id   = excluded.parent_id,
  root_id     = excluded.root_id,
  group_id    = excluded.group_id,
  eta         = excluded.eta,
  expires     = excluded.expires,
  created_at  = excluded.created_at,
  sent_at     = excluded.sent_at,
  received_at = excluded.received_at,
  started_at  = excluded.started_at,
  finished_at = excluded.finished_at,
  updated_at  = excluded.updated_at;
