-- apply: applies a batch of task updates in order, in one statement (so one transaction and one round trip).
-- Touches: celerity_history_tasks, celerity_history_timeline (through celerity_history_apply, migration 1).
-- Params: $1 the updates as JSON (see the function). Returns one row (void).
SELECT celerity_history_apply($1::jsonb);
