-- Migration 1: the result table and the counters (chord joins by count).
-- Touches: creates celery_results, celery_counters and their indexes in the backend's schema.
-- Returns nothing. Runs once, inside the migration transaction (see ../migrate.ts).
--
-- celery_results: one row per task, plain enough to query by hand in psql.
--   args, kwargs, result, children   json (not jsonb, which reorders object keys: results read back as written)
--   date_done                        when the task finished, as timestamptz (naive Celery dates are UTC)
--   date_done_text                   the same instant exactly as the worker wrote it ('2024-05-01T12:00:00.000000');
--                                    what clients read back, so the meta round-trips to the character
--   created_at, updated_at           first and latest write
--   expires_at                       after this the row counts as absent (null = kept forever); cleanup deletes it
-- celery_counters: atomic counters, with the same expiry rule.
CREATE TABLE celery_results (
  task_id        text PRIMARY KEY,
  name           text,
  status         text        NOT NULL,
  args           json,
  kwargs         json,
  result         json,
  traceback      text,
  children       json,
  worker         text,
  retries        integer,
  queue          text,
  group_id       text,
  parent_id      text,
  date_done      timestamptz,
  date_done_text text,
  created_at     timestamptz NOT NULL DEFAULT now(),
  updated_at     timestamptz NOT NULL DEFAULT now(),
  expires_at     timestamptz
);

CREATE INDEX celery_results_status_date_done ON celery_results (status, date_done);
CREATE INDEX celery_results_name ON celery_results (name);
CREATE INDEX celery_results_group_id ON celery_results (group_id) WHERE group_id IS NOT NULL;
CREATE INDEX celery_results_expires_at ON celery_results (expires_at) WHERE expires_at IS NOT NULL;

CREATE TABLE celery_counters (
  key        text PRIMARY KEY,
  value      bigint NOT NULL,
  expires_at timestamptz
);

CREATE INDEX celery_counters_expires_at ON celery_counters (expires_at) WHERE expires_at IS NOT NULL;
