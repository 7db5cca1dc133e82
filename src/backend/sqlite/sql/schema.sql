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
