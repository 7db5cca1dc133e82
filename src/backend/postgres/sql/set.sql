-- set: stores one or many results in one statement (set and setMany; the worker's hot path), one row per element
-- of the parallel arrays, each task id at most once (the caller folds repeats of one id first).
-- Keeps a stored SUCCESS (Celery's rule: a late STARTED or FAILURE from a redelivered copy must not hide a success);
-- an expired row counts as absent and is replaced whole. Extended fields (name, args, kwargs, worker, retries,
-- queue, group_id, parent_id) keep their earlier value when the new meta leaves them out, so the row gathers the
-- task's history across STARTED, RETRY and the final state.
-- Every row written, in any state (PROGRESS included, for `watch`), is announced with pg_notify(channel, task_id),
-- delivered when this statement commits. A kept SUCCESS is not written, so not announced.
-- Touches: celery_results (insert or update), NOTIFY on $17.
-- Params: $1 task_id[], $2 status[], $3 result[] (JSON text), $4 traceback[], $5 children[] (JSON text),
--   $6 date_done[] (text with a zone, for the timestamptz column), $7 date_done_text[] (as written),
--   $8 group_id[], $9 parent_id[], $10 name[], $11 args[] (JSON text), $12 kwargs[] (JSON text), $13 worker[],
--   $14 retries[] (integer), $15 queue[], $16 ttl in ms (null or <= 0: never expires), $17 notify channel.
-- Returns one row: notified (how many results were announced).
WITH input AS (
  SELECT *
  FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[],
              $9::text[], $10::text[], $11::text[], $12::text[], $13::text[], $14::integer[], $15::text[])
       AS i (task_id, status, result, traceback, children, date_done, date_done_text, group_id, parent_id, name,
             args, kwargs, worker, retries, queue)
), written AS (
  INSERT INTO celery_results AS r
    (task_id, status, result, traceback, children, date_done, date_done_text, group_id, parent_id, name, args,
     kwargs, worker, retries, queue, created_at, updated_at, expires_at)
  SELECT task_id, status, result::json, traceback, children::json, date_done::timestamptz, date_done_text,
         group_id, parent_id, name, args::json, kwargs::json, worker, retries, queue, now(), now(),
         CASE WHEN $16::bigint > 0 THEN now() + $16::bigint * interval '1 millisecond' END
  FROM input
  ON CONFLICT (task_id) DO UPDATE SET
    status         = excluded.status,
    result         = excluded.result,
    traceback      = excluded.traceback,
    children       = excluded.children,
    date_done      = excluded.date_done,
    date_done_text = excluded.date_done_text,
    group_id       = CASE WHEN r.expires_at <= now() THEN excluded.group_id  ELSE coalesce(excluded.group_id, r.group_id) END,
    parent_id      = CASE WHEN r.expires_at <= now() THEN excluded.parent_id ELSE coalesce(excluded.parent_id, r.parent_id) END,
    name           = CASE WHEN r.expires_at <= now() THEN excluded.name      ELSE coalesce(excluded.name, r.name) END,
    args           = CASE WHEN r.expires_at <= now() THEN excluded.args      ELSE coalesce(excluded.args, r.args) END,
    kwargs         = CASE WHEN r.expires_at <= now() THEN excluded.kwargs    ELSE coalesce(excluded.kwargs, r.kwargs) END,
    worker         = CASE WHEN r.expires_at <= now() THEN excluded.worker    ELSE coalesce(excluded.worker, r.worker) END,
    retries        = CASE WHEN r.expires_at <= now() THEN excluded.retries   ELSE coalesce(excluded.retries, r.retries) END,
    queue          = CASE WHEN r.expires_at <= now() THEN excluded.queue     ELSE coalesce(excluded.queue, r.queue) END,
    created_at     = CASE WHEN r.expires_at <= now() THEN excluded.created_at ELSE r.created_at END,
    updated_at     = excluded.updated_at,
    expires_at     = excluded.expires_at
  WHERE r.status <> 'SUCCESS'
     OR r.expires_at <= now()
  RETURNING r.task_id, r.status
)
SELECT count(pg_notify($17::text, task_id))::integer AS notified
FROM written;
