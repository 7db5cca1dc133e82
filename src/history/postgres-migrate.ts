/**
 * Schema migrations of the PostgreSQL task history, applied on connect, in the result backend's way
 * (../backend/postgres/migrate.ts) but with a ledger and an advisory lock of their own
 * (`celerity_history_migrations`), so the history can live in the result backend's schema or anywhere else and
 * either can be upgraded without the other.
 */
import { escapeIdentifier } from 'pg';
import type { ClientBase } from 'pg';
import { readAsset } from '../util/assets.js';

/** The text of `sql/postgres/<name>` (read once, cached). */
export function sql(name: string): string {
  return readAsset(import.meta.url, `sql/postgres/${name}`);
}

/** In order; a released version is never edited, only followed by a new one. */
export const HISTORY_MIGRATIONS: readonly { version: number; file: string }[] = [{ version: 1, file: 'migrations/001-history.sql' }];

/**
 * Brings the history schema up to date on `client` (whose search_path starts with `schema` when given). Resolves to
 * the versions this call applied: empty when the schema was current, or another process had just done it.
 */
export async function migrateHistory(client: ClientBase, schema: string | null): Promise<number[]> {
  if (isCurrent(await appliedVersions(client))) return [];
  await client.query('BEGIN');
  try {
    await client.query(sql('migrations-lock.sql'));
    // The schema name is checked against a strict pattern (backend/postgres/url.ts); it is still quoted.
    if (schema !== null) await client.query(`CREATE SCHEMA IF NOT EXISTS ${escapeIdentifier(schema)}`);
    await client.query(sql('migrations-table.sql'));
    // Read again under the lock: whoever held it before may have applied some or all of them.
    const applied = await appliedVersions(client);
    const ran: number[] = [];
    for (const { version, file } of HISTORY_MIGRATIONS) {
      if (applied.has(version)) continue;
      await client.query(sql(file));
      await client.query(sql('migration-record.sql'), [version]);
      ran.push(version);
    }
    await client.query('COMMIT');
    return ran;
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  }
}

function isCurrent(applied: ReadonlySet<number>): boolean {
  return HISTORY_MIGRATIONS.every((m) => applied.has(m.version));
}

async function appliedVersions(client: ClientBase): Promise<Set<number>> {
  const { rows } = await client.query<{ present: boolean }>(sql('migrations-present.sql'));
  if (!rows[0]?.present) return new Set();
  const applied = await client.query<{ version: number }>(sql('migrations-applied.sql'));
  return new Set(applied.rows.map((r) => r.version));
}
