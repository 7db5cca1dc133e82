/**
 * Schema migrations, applied on connect: an ordered list of SQL files in `./sql/migrations/`, each recorded in
 * `celerity_migrations` in the same transaction that runs it. The transaction first takes a fixed advisory lock,
 * so workers starting together queue behind the first one and then find its work done, instead of racing on
 * CREATE TABLE. A schema that is already current is only read: no lock, no DDL.
 */
import { escapeIdentifier, Pool } from 'pg';
import type { ClientBase, PoolConfig } from 'pg';
import { ConnectionError } from '../../errors/index.js';
import { sql } from './statements.js';

/** In order; a released version is never edited, only followed by a new one. */
export const MIGRATIONS: readonly { version: number; file: string }[] = [
  { version: 1, file: 'migrations/001-results.sql' },
  { version: 2, file: 'migrations/002-canvas.sql' },
  { version: 3, file: 'migrations/003-schedules.sql' },
];

/** A store's migrations: its ordered files, and where its SQL (ledger, lock and migration files) is read from. */
export interface MigrationSet {
  migrations: readonly { version: number; file: string }[];
  sql(name: string): string;
}

/**
 * Brings the schema up to date on `client` (a connection whose search_path starts with `schema` when given).
 * Resolves to the versions this call applied: empty when another process had already done it.
 */
export function migrate(client: ClientBase, schema: string | null): Promise<number[]> {
  return runMigrations(client, schema, { migrations: MIGRATIONS, sql });
}

/**
 * The migration procedure, for any set with its own ledger and lock (the result store's, the task history's).
 */
export async function runMigrations(client: ClientBase, schema: string | null, set: MigrationSet): Promise<number[]> {
  const { migrations, sql } = set;
  if (isCurrent(migrations, await appliedVersions(client, sql))) return [];
  await client.query('BEGIN');
  try {
    await client.query(sql('migrations-lock.sql'));
    // The schema name is checked against a strict pattern (url.ts); it is still quoted, as an identifier must be.
    if (schema !== null) await client.query(`CREATE SCHEMA IF NOT EXISTS ${escapeIdentifier(schema)}`);
    await client.query(sql('migrations-table.sql'));
    // Read again under the lock: whoever held it before may have applied some or all of them.
    const applied = await appliedVersions(client, sql);
    const ran: number[] = [];
    for (const { version, file } of migrations) {
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

function isCurrent(migrations: MigrationSet['migrations'], applied: ReadonlySet<number>): boolean {
  return migrations.every((m) => applied.has(m.version));
}

async function appliedVersions(client: ClientBase, sql: MigrationSet['sql']): Promise<Set<number>> {
  const { rows } = await client.query<{ present: boolean }>(sql('migrations-present.sql'));
  if (!rows[0]?.present) return new Set();
  const applied = await client.query<{ version: number }>(sql('migrations-applied.sql'));
  return new Set(applied.rows.map((r) => r.version));
}

/**
 * A connection pool whose first connection has brought the schema up to date; an unreachable server or a failed
 * migration is a ConnectionError naming `what` (e.g. `PostgreSQL result backend at postgresql://...`).
 */
export async function openMigratedPool(config: PoolConfig, what: string, run: (client: ClientBase) => Promise<number[]>): Promise<{ pool: Pool; applied: number[] }> {
  const pool = new Pool(config);
  // An idle pooled connection that fails (server restart) is dropped by the pool; without a listener Node would
  // treat the event as unhandled. Statements in flight see the failure themselves.
  pool.on('error', () => undefined);
  let client;
  try {
    client = await pool.connect();
  } catch (err) {
    await pool.end().catch(() => undefined);
    throw new ConnectionError(`${what} is unreachable: ${oneLine(err)}`, { cause: err });
  }
  try {
    const applied = await run(client);
    client.release();
    return { pool, applied };
  } catch (err) {
    client.release(true);
    await pool.end().catch(() => undefined);
    throw new ConnectionError(`cannot prepare ${what}: ${oneLine(err)}`, { cause: err });
  }
}

/** A driver error as one line for a message: Node reports a host with several addresses as an AggregateError whose own message is empty. */
export function oneLine(err: unknown): string {
  const e = err as { message?: unknown; code?: unknown; errors?: unknown } | null;
  const first = Array.isArray(e?.errors) ? (e.errors[0] as { message?: unknown } | undefined) : undefined;
  const text = [e?.message, first?.message, e?.code, String(err)].find((t) => typeof t === 'string' && t !== '');
  return String(text).replace(/\s*\n\s*/g, ' ').trim();
}
