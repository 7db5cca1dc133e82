-- migrations-lock: serializes task-history schema changes across every process that connects at the same time;
-- held until the migration transaction ends. Its own key (not the result backend's), shared by all schemas.
-- Params: none. Returns one row (void).
SELECT pg_advisory_xact_lock(7162249965369652346);
