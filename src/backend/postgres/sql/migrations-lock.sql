-- migrations-lock: serializes schema changes across every process that connects at the same time; held until the
-- migration transaction ends. The key is 'celerity' in ASCII, shared by all schemas (migrations are short).
-- Params: none. Returns one row (void).
SELECT pg_advisory_xact_lock(7162249965369652345);
