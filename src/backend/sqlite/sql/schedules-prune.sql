-- schedules-prune: deletes the fire records that were sent and claimed before :before; unsent ones stay until a
-- leader sends them. The schedule's last_slot still passes over the pruned slots.
-- Params: :before (epoch ms).
-- Returns nothing; changes = records deleted.
DELETE FROM celerity_schedule_fires WHERE sent = 1 AND claimed_at < :before;
