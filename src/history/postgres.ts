/**
 * The task history in PostgreSQL: `celerity_history_tasks` and `celerity_history_timeline`, created and migrated on
 * connect (./postgres-migrate.ts), possibly in the result backend's database and schema (every name differs from
 * the backend's). A batch of updates is one statement, `celerity_history_apply`, which merges them in order with
 * Celery's state precedence on the server: one round trip and one transaction per batch. Other statements live one
 * per file in ./sql/postgres/; list and count compose their WHERE from fixed fragments (./where.ts).
 *
 * URL options are the result backend's (../backend/postgres/url.ts): `schema`, `pool_size`, `connect_timeout`,
 * `application_name`, `options`.
 */
import type { Pool } from 'pg';
import type { PoolConfig, QueryResultRow } from 'pg';
import { oneLine, openMigratedPool } from '../backend/postgres/migrate.js';
import { parsePostgresUrl, type PostgresUrl } from '../backend/postgres/url.js';
import { ConfigurationError, ConnectionError } from '../errors/index.js';
import { checkUpdate, FIELD_COLUMNS } from './merge.js';
import type { HistoryStore, RetentionOptions, TaskPage, TaskQuery, TaskRecord, TaskUpdate, TimelineEntry } from './port.js';
import { migrateHistory, sql } from './postgres-migrate.js';
import { decodeCursor, pageLimit, pageOf, type CursorKey } from './query.js';
import { likePrefix, whereClause, type Dialect } from './where.js';

export interface PostgresHistoryOptions {
  /** postgresql:// or postgres:// URL (also Celery's db+postgresql:// spellings). */
  url: string;
  /** Pooled connections. Default: the URL's pool_size, or 4. */
  poolSize?: number;
  /** How long opening a connection may take, ms. Default: the URL's connect_timeout, or 5000. */
  connectTimeoutMs?: number;
  /** Default: the URL's application_name, or `celerity:history`. */
  applicationName?: string;
  /** Tasks forgotten per prune statement (default 1000). */
  pruneChunk?: number;
}

type TaskRow = Record<string, string | number | null> & { id: string; state: string; created_at: number; updated_at: number };

const PRUNE_CHUNK = 1000;

export class PostgresHistoryStore implements HistoryStore {
  private pool: Pool | null = null;
  private connecting: Promise<void> | null = null;
  private applied: readonly number[] = [];
  private readonly url: PostgresUrl;
  private readonly config: PoolConfig;

  constructor(private readonly options: PostgresHistoryOptions) {
    this.url = parseHistoryUrl(options.url);
    const searchPath = this.url.schema === null ? null : `-c search_path=${this.url.schema}`;
    this.config = {
      connectionString: this.url.connectionString,
      connectionTimeoutMillis: options.connectTimeoutMs ?? this.url.connectTimeoutMs ?? 5000,
      application_name: options.applicationName ?? this.url.applicationName ?? 'celerity:history',
      max: options.poolSize ?? this.url.poolSize ?? 4,
      ...(this.url.options !== null || searchPath !== null
        ? { options: [this.url.options, searchPath].filter((o) => o !== null).join(' ') }
        : {}),
    };
  }

  /** The migration versions the last `connect()` applied; empty when the schema was already current. */
  get migrated(): readonly number[] {
    return this.applied;
  }

  async connect(): Promise<void> {
    if (this.pool) return;
    this.connecting ??= this.establish().finally(() => (this.connecting = null));
    return this.connecting;
  }

  private async establish(): Promise<void> {
    const { pool, applied } = await openMigratedPool(this.config, `PostgreSQL task history at ${this.url.display}`, (client) => migrateHistory(client, this.url.schema));
    this.applied = applied;
    this.pool = pool;
  }

  async apply(updates: readonly TaskUpdate[]): Promise<void> {
    if (updates.length === 0) return;
    // Checked here, before anything is sent, so a bad update fails the batch with the same message as elsewhere.
    for (const u of updates) checkUpdate(u);
    await this.query(sql('apply.sql'), [JSON.stringify(updates.map(toWire))]);
  }

  async get(id: string): Promise<TaskRecord | null> {
    const { rows } = await this.query<TaskRow>(sql('get.sql'), [id]);
    return rows[0] ? rowToRecord(rows[0]) : null;
  }

  async timeline(id: string): Promise<TimelineEntry[]> {
    const { rows } = await this.query<TimelineEntry>(sql('timeline.sql'), [id]);
    return rows;
  }

  async list(query: TaskQuery): Promise<TaskPage> {
    const limit = pageLimit(query.limit);
    const after = query.cursor === undefined ? null : decodeCursor(query.cursor);
    const params: unknown[] = [];
    const where = whereClause(query, after, dialect(params));
    params.push(limit + 1);
    const text = `SELECT * FROM celerity_history_tasks WHERE ${where} ORDER BY created_at DESC, id DESC LIMIT $${params.length}`;
    const { rows } = await this.query<TaskRow>(text, params);
    return pageOf(rows.map(rowToRecord), limit);
  }

  async count(query: Omit<TaskQuery, 'limit' | 'cursor'>): Promise<number> {
    const params: unknown[] = [];
    const where = whereClause(query, null, dialect(params));
    const { rows } = await this.query<{ n: number }>(`SELECT count(*)::integer AS n FROM celerity_history_tasks WHERE ${where}`, params);
    return rows[0]!.n;
  }

  async unfinished(options: { olderThan: number; limit: number }): Promise<string[]> {
    const { rows } = await this.query<{ id: string }>(sql('unfinished.sql'), [options.olderThan, options.limit]);
    return rows.map((r) => r.id);
  }

  /** As the SQLite store: the newest task over either limit, then chunks from the oldest end, one statement each. */
  async prune(options: RetentionOptions): Promise<number> {
    const now = options.now ?? Date.now();
    const bounds: CursorKey[] = [];
    if (options.maxAgeMs !== undefined) {
      const { rows } = await this.query<TaskRow>(sql('prune-age-boundary.sql'), [now - options.maxAgeMs]);
      if (rows[0]) bounds.push({ createdAt: rows[0].created_at, id: rows[0].id });
    }
    if (options.maxTasks !== undefined) {
      const { rows } = await this.query<TaskRow>(sql('prune-count-boundary.sql'), [options.maxTasks]);
      if (rows[0]) bounds.push({ createdAt: rows[0].created_at, id: rows[0].id });
    }
    const bound = bounds.sort((a, b) => b.createdAt - a.createdAt || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0))[0];
    if (!bound) return 0;
    const chunk = this.options.pruneChunk ?? PRUNE_CHUNK;
    let forgotten = 0;
    for (;;) {
      const { rowCount } = await this.query(sql('prune-chunk.sql'), [bound.createdAt, bound.id, chunk]);
      forgotten += rowCount ?? 0;
      if ((rowCount ?? 0) < chunk) return forgotten;
    }
  }

  async close(): Promise<void> {
    await this.connecting?.catch(() => undefined);
    const pool = this.pool;
    this.pool = null;
    await pool?.end();
  }

  private async query<R extends QueryResultRow>(text: string, params: unknown[]) {
    if (!this.pool) throw new ConnectionError('PostgreSQL task history is not connected (call connect() first)');
    try {
      return await this.pool.query<R>(text, params);
    } catch (err) {
      if (isConnectionFailure(err)) {
        throw new ConnectionError(`PostgreSQL task history at ${this.url.display} failed: ${oneLine(err)}`, { cause: err });
      }
      throw err;
    }
  }
}

/** The result backend's URL reader, its errors naming the history's setting. */
function parseHistoryUrl(url: string): PostgresUrl {
  try {
    return parsePostgresUrl(url);
  } catch (err) {
    if (err instanceof ConfigurationError) throw new ConfigurationError(err.key.replace(/^backend/, 'historyUrl'), err.value, err.expected);
    throw err;
  }
}

function dialect(params: unknown[]): Dialect {
  const param = (value: unknown) => {
    params.push(value);
    return `$${params.length}`;
  };
  return {
    param,
    anyState: (states) => `state = ANY(${param(states)}::text[])`,
    namePrefix: (prefix) => `name LIKE ${param(likePrefix(prefix))} ESCAPE '\\'`,
    ilike: 'ILIKE',
  };
}

/**
 * An update as celerity_history_apply reads it: fields under their column names, only those it carries. PostgreSQL
 * text cannot hold NUL (one would fail the whole batch), so it becomes U+FFFD.
 */
function toWire(u: TaskUpdate): object {
  const f: Record<string, unknown> = {};
  const fields = u.fields as Record<string, unknown> | undefined;
  if (fields) {
    for (const [key, column] of FIELD_COLUMNS) {
      const value = fields[key];
      if (value !== undefined && value !== null) f[column] = clean(value);
    }
  }
  const t = u.timeline;
  return {
    id: clean(u.id),
    ts: u.timestamp,
    ...(u.state === undefined ? {} : { state: clean(u.state) }),
    f,
    ...(t ? { tl: { type: clean(t.type), timestamp: t.timestamp, hostname: clean(t.hostname ?? null), fields: clean(t.fields ?? null) } } : {}),
  };
}

function clean<T>(value: T): T {
  return (typeof value === 'string' && value.includes('\u0000') ? value.replaceAll('\u0000', '\ufffd') : value) as T;
}

function rowToRecord(row: TaskRow): TaskRecord {
  const record = { id: row.id, state: row.state, createdAt: row.created_at, updatedAt: row.updated_at } as Record<string, unknown>;
  for (const [key, column] of FIELD_COLUMNS) record[key] = row[column] ?? null;
  return record as unknown as TaskRecord;
}

/** A failure of the connection or server rather than of the statement (which is reported as it is). */
function isConnectionFailure(err: unknown): boolean {
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string') return /^(08|57P)/.test(code) || ['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND'].includes(code);
  return /Connection terminated|timeout exceeded when trying to connect/i.test(String((err as Error)?.message));
}

