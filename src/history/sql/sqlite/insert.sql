-- insert: writes a task seen for the first time, as merged by the store (merge.ts). A task already stored is
-- updated instead by a statement the store builds from the columns that changed (only their indexes are written).
-- Touches: celerity_history_tasks. Params: every column by name. Returns nothing.
INSERT INTO celerity_history_tasks
  (id, name, state, queue, worker, args, kwargs, args_json, kwargs_json, result, exception, traceback, meta, retries,
   runtime, parent_id, root_id, group_id, eta, expires, created_at, sent_at, received_at, started_at, finished_at,
   updated_at)
VALUES
  (:id, :name, :state, :queue, :worker, :args, :kwargs, :args_json, :kwargs_json, :result, :exception, :traceback,
   :meta, :retries, :runtime, :parent_id, :root_id, :group_id, :eta, :expires, :created_at, :sent_at, :received_at,
   :started_at, :finished_at, :updated_at);
