-- Migration 2: saved groups and chord joins.
-- Touches: creates celery_groups, celery_chords, celery_chord_parts and their indexes in the backend's schema.
-- Returns nothing. Runs once, inside the migration transaction (see ../migrate.ts).
--
-- celery_groups: GroupResult.save(); result is GroupResult.as_tuple() as json.
-- celery_chords: one row per running chord: how many header members it waits for (size, null until the producer
--   said), how many have finished (done), and which member's part completed it (completed_by).
-- celery_chord_parts: each finished header member once (a redelivered one conflicts on the primary key), with its
--   place in the header (group_index) and arrival order for members without one.
CREATE TABLE celery_groups (
  group_id   text PRIMARY KEY,
  result     json,
  date_done  timestamptz NOT NULL DEFAULT now(),
  expires_at timestamptz
);

CREATE INDEX celery_groups_expires_at ON celery_groups (expires_at) WHERE expires_at IS NOT NULL;

CREATE TABLE celery_chords (
  group_id     text PRIMARY KEY,
  size         integer,
  done         integer     NOT NULL DEFAULT 0,
  completed_by text,
  created_at   timestamptz NOT NULL DEFAULT now(),
  expires_at   timestamptz
);

CREATE INDEX celery_chords_expires_at ON celery_chords (expires_at) WHERE expires_at IS NOT NULL;

CREATE TABLE celery_chord_parts (
  group_id    text        NOT NULL,
  task_id     text        NOT NULL,
  group_index integer,
  status      text        NOT NULL,
  result      json,
  arrival     bigint      GENERATED ALWAYS AS IDENTITY,
  created_at  timestamptz NOT NULL DEFAULT now(),
  expires_at  timestamptz,
  PRIMARY KEY (group_id, task_id)
);

CREATE INDEX celery_chord_parts_expires_at ON celery_chord_parts (expires_at) WHERE expires_at IS NOT NULL;
