-- schedules-sync-upsert: makes one config entry of syncConfig stored: inserted when new, its definition replaced
-- when it differs, a runtime schedule of that name turned into a config one; run state and paused flag kept. An
-- entry already stored exactly so is left alone (not even updated_at moves), so an unchanged config is no change.
-- Params: :name, :definition (JSON text), :now (epoch ms).
-- Returns nothing; changes = 1 when something changed, 0 otherwise.
INSERT INTO celerity_schedules (name, definition, source, paused, updated_at)
VALUES (:name, :definition, 'config', 0, :now)
ON CONFLICT (name) DO UPDATE SET
  definition = excluded.definition,
  source     = 'config',
  updated_at = excluded.updated_at
WHERE celerity_schedules.definition IS NOT excluded.definition
   OR celerity_schedules.source <> 'config';
