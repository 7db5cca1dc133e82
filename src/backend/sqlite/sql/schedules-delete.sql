-- schedules-delete: deletes one schedule (its fire records go with it, by trigger). The caller bumps the version in
-- the same transaction.
-- Params: :name.
-- Returns nothing; changes = 0 when there was none.
DELETE FROM celerity_schedules WHERE name = :name;
