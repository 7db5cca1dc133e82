-- set: stores a task's result meta, keeping a stored SUCCESS (Celery's rule: a late STARTED or FAILURE from a
-- redelivered copy must not hide a success). An expired row counts as absent and is replaced.
-- Extended fields (name, args, kwargs, worker, queue, group_id, parent_id, retries) keep their earlier value when
-- the new meta leaves them out, so the row gathers the task's history across STARTED, RETRY and the final state.
-- Params: every column; :now (epoch ms) for created_at/updated_at.
-- Returns nothing; changes = 0 when a SUCCESS was kept.
INSERT INTO celery_results
  (task_id, status, result, traceback, children, date_done, group_id, parent_id, name, args, kwargs, worker,
   retries, queue, created_at, updated_at, expires_at)
VALUES
  (:task_id, :status, :result, :traceback, :children, :date_done, :group_id, :parent_id, :name, :args, :kwargs,
   :worker, :retries, :queue, :now, :now, :expires_at)
ON CONFLICT (task_id) DO UPDATE SET
  status     = excluded.status,
  result     = excluded.result,
  traceback  = excluded.traceback,
  children   = excluded.children,
  date_done  = excluded.date_done,
  group_id   = coalesce(excluded.group_id, celery_results.group_id),
  parent_id  = coalesce(excluded.parent_id, celery_results.parent_id),
  name       = coalesce(excluded.name, celery_results.name),
  args       = coalesce(excluded.args, celery_results.args),
  kwargs     = coalesce(excluded.kwargs, celery_results.kwargs),
  worker     = coalesce(excluded.worker, celery_results.worker),
  retries    = coalesce(excluded.retries, celery_results.retries),
  queue      = coalesce(excluded.queue, celery_results.queue),
  updated_at = excluded.updated_at,
  expires_at = excluded.expires_at
WHERE celery_results.status <> 'SUCCESS'
   OR celery_results.expires_at <= excluded.updated_at;
