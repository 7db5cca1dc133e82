/**
 * Schema migrations of the PostgreSQL task history, applied on connect, in the result backend's way
 * (../backend/postgres/migrate.ts) but with a ledger and an advisory lock of their own
 * (`celerity_history_migrations`), so the history can live in the result backend's schema or anywhere else and
 * either can be upgraded without the other.
 */
import type { ClientBase } from 'pg';
import { runMigrations } from '../backend/postgres/migrate.js';
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
export function migrateHistory(client: ClientBase, schema: string | null): Promise<number[]> {
  return runMigrations(client, schema, { migrations: HISTORY_MIGRATIONS, sql });
}
