/**
 * The PostgreSQL result backend: plain tables (`celery_results`, `celery_groups`, the chord join tables and
 * `celery_counters`) that psql can query by hand, created and migrated on connect (./migrate.ts). Statements live
 * one per file in ./sql/ and run on a pool; `waitFor` uses LISTEN/NOTIFY on one more, dedicated connection
 * (./listener.ts). See docs/postgres.md.
 */
import { Client, DatabaseError } from 'pg';
import type { ClientConfig, Pool, PoolConfig, QueryResultRow } from 'pg';
import type { ChordPart, GroupMeta, ResultBackend, SetOptions, WaitOptions, WatchOptions } from '../port.js';
import type { ResultMeta } from '../../protocol/types.js';
import { ConnectionError } from '../../errors/index.js';
import { jsonColumnText } from '../../protocol/json.js';
import { awaitResult, untilAborted } from '../wait.js';
import { ResultListener } from './listener.js';
import { migrate, oneLine, openMigratedPool } from './migrate.js';
import { exactJsonTypes } from './json-columns.js';
import { foldEntries, resultColumns, rowToMeta, rowToPart, sql } from './statements.js';
import type { ChordPartRow, ResultRow } from './statements.js';
import { channelFor, parsePostgresUrl } from './url.js';
import type { ScheduleStore } from '../schedules.js';
import { PostgresScheduleStore } from './schedules.js';

export interface PostgresBackendOptions {
  /** postgresql://, postgres:// or db+postgresql[+driver]:// URL; see ./url.ts for its options. */
  url: string;
  /** Default result lifetime in seconds; 0 = forever. */
  resultExpires: number;
  /** Pooled connections for statements (the LISTEN connection is one more). Default: the URL's pool_size, or 10. */
  poolSize?: number;
  /** How long opening a connection may take, ms. Default: the URL's connect_timeout, or 5000. */
  connectTimeoutMs?: number;
  /** application_name of the pooled connections; the LISTEN one adds `:listen`. Default: the URL's, or `celerity`. */
  applicationName?: string;
}

const DEFAULT_POOL_SIZE = 10;
const DEFAULT_CONNECT_TIMEOUT_MS = 5000;

export class PostgresBackend implements ResultBackend {
  private pool: Pool | null = null;
  private listener: ResultListener | null = null;
  private connecting: Promise<void> | null = null;
  private applied: readonly number[] = [];
  private readonly clientConfig: ClientConfig;
  private readonly poolSize: number;
  private readonly schema: string | null;
  private readonly channel: string;
  /** The URL with its password masked, for messages. */
  private readonly target: string;
  private scheduleStore: PostgresScheduleStore | null = null;

  constructor(private readonly options: PostgresBackendOptions) {
    const url = parsePostgresUrl(options.url);
    this.schema = url.schema;
    this.channel = channelFor(url.schema);
    this.target = url.display;
    this.poolSize = options.poolSize ?? url.poolSize ?? DEFAULT_POOL_SIZE;
    const searchPath = url.schema === null ? null : `-c search_path=${url.schema}`;
    this.clientConfig = {
      connectionString: url.connectionString,
      connectionTimeoutMillis: options.connectTimeoutMs ?? url.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS,
      application_name: options.applicationName ?? url.applicationName ?? 'celerity',
      // The schema goes in at connection start, so every statement (and psql's view of them) names bare tables.
      ...(url.options !== null || searchPath !== null
        ? { options: [url.options, searchPath].filter((o) => o !== null).join(' ') }
        : {}),
    };
  }

  /** The migration versions the last `connect()` applied; empty when the schema was already current. */
  get migrated(): readonly number[] {
    return this.applied;
  }

  /** Opens the pool and migrates the schema; an unreachable server is a ConnectionError naming the masked URL. */
  async connect(): Promise<void> {
    if (this.pool) return;
    // Concurrent callers share one attempt rather than each opening a pool.
    this.connecting ??= this.establish().finally(() => (this.connecting = null));
    return this.connecting;
  }

  private async establish(): Promise<void> {
    const { pool, applied } = await openMigratedPool(
      { ...this.clientConfig, max: this.poolSize, types: exactJsonTypes } satisfies PoolConfig,
      `PostgreSQL result backend at ${this.target}`,
      (client) => migrate(client, this.schema),
    );
    this.applied = applied;
    this.pool = pool;
    this.listener = new ResultListener({
      channel: this.channel,
      connect: () => this.openListenConnection(),
      read: (taskIds) => this.lookup(taskIds),
    });
  }

  async get(taskId: string): Promise<ResultMeta | null> {
    const { rows } = await this.query<ResultRow>(sql('get.sql'), [taskId]);
    return rows[0] ? rowToMeta(rows[0]) : null;
  }

  async mget(taskIds: readonly string[]): Promise<(ResultMeta | null)[]> {
    if (taskIds.length === 0) return [];
    const found = await this.lookup(taskIds);
    return taskIds.map((id) => found.get(id) ?? null);
  }

  async set(taskId: string, meta: ResultMeta, options?: SetOptions): Promise<void> {
    await this.setMany([{ taskId, meta }], options);
  }

  /** One statement for the whole batch (set.sql), which also announces each one written to waiters and watchers. */
  async setMany(entries: readonly { taskId: string; meta: ResultMeta }[], options?: SetOptions): Promise<void> {
    if (entries.length === 0) return;
    const columns = resultColumns(foldEntries(entries));
    await this.query(sql('set.sql'), [...columns, this.ttlMs(options), this.channel]);
  }

  async delete(taskId: string): Promise<void> {
    await this.query(sql('delete.sql'), [taskId]);
  }

  async incr(key: string, by = 1, options?: SetOptions): Promise<number> {
    const { rows } = await this.query<{ value: string }>(sql('incr.sql'), [key, by, this.ttlMs(options)]);
    return Number(rows[0]!.value);
  }

  async setChordSize(groupId: string, size: number, options?: SetOptions): Promise<void> {
    await this.query(sql('chord-size.sql'), [groupId, size, this.ttlMs(options)]);
  }

  /**
   * chord-part.sql records the part and decides, atomically, whether this call completed the chord; only then are
   * the parts read, in a second statement that sees every part counted before this one.
   */
  async chordPartReturn(groupId: string, part: ChordPart, options?: SetOptions): Promise<ChordPart[] | null> {
    const params = [
      groupId,
      part.taskId,
      part.groupIndex,
      part.status,
      jsonColumnText(part.result ?? null),
      this.ttlMs(options),
    ];
    const { rows } = await this.query<{ claimed: boolean }>(sql('chord-part.sql'), params);
    if (!rows[0]?.claimed) return null;
    const parts = await this.query<ChordPartRow>(sql('chord-parts.sql'), [groupId]);
    return parts.rows.map(rowToPart);
  }

  async chordDone(groupId: string): Promise<void> {
    await this.query(sql('chord-done.sql'), [groupId]);
  }

  async saveGroup(groupId: string, meta: GroupMeta, options?: SetOptions): Promise<void> {
    const params = [groupId, jsonColumnText(meta.result ?? null), this.ttlMs(options)];
    await this.query(sql('group-save.sql'), params);
  }

  async getGroup(groupId: string): Promise<GroupMeta | null> {
    const { rows } = await this.query<{ result: unknown }>(sql('group-get.sql'), [groupId]);
    return rows[0] ? { result: rows[0].result ?? null } : null;
  }

  async deleteGroup(groupId: string): Promise<void> {
    await this.query(sql('group-delete.sql'), [groupId]);
  }

  async waitFor(taskId: string, options: WaitOptions = {}): Promise<ResultMeta> {
    this.open();
    const listener = this.listener!;
    if (options.signal?.aborted) throw options.signal.reason;
    return awaitResult(taskId, options, (settle) => listener.watch(taskId, settle));
  }

  /**
   * Every write to the task, announced by set.sql's NOTIFY on the LISTEN connection `waitFor` uses; the row is read
   * on each announcement, so writes close together may arrive as the latest one, never out of order.
   */
  async watch(taskId: string, onMeta: (meta: ResultMeta) => void, options: WatchOptions = {}): Promise<() => void> {
    this.open();
    const { signal } = options;
    if (signal?.aborted) throw signal.reason;
    return untilAborted(this.listener!.follow(taskId, onMeta, options.onError), signal);
  }

  /** Deletes expired results, groups, chord state and counters; resolves to how many (a chord's parts count as one). */
  async cleanup(): Promise<number> {
    const { rows } = await this.query<{ removed: number }>(sql('cleanup.sql'));
    return rows[0]?.removed ?? 0;
  }

  /**
   * The schedule store on this backend's pool, in the tables of migration 3 (in the URL's schema). It may be taken
   * before `connect()` and follows the backend across a close and reconnect.
   */
  schedules(): ScheduleStore {
    return (this.scheduleStore ??= new PostgresScheduleStore({
      query: (text, values) => this.query(text, values),
      pool: () => this.open(),
      failure: (err) =>
        err instanceof DatabaseError || err instanceof ConnectionError
          ? err
          : new ConnectionError(`PostgreSQL result backend at ${this.target}: ${oneLine(err)}`, { cause: err }),
    }));
  }

  /** Rejects pending `waitFor` calls and ends every `watch` with ConnectionError; closes the LISTEN connection and the pool. */
  async close(): Promise<void> {
    await this.connecting?.catch(() => undefined);
    const { pool, listener } = this;
    this.pool = null;
    this.listener = null;
    await listener?.close(new ConnectionError('result backend closed while waiting'));
    await pool?.end();
  }

  // ---- internals --------------------------------------------------------------------------------------------

  /**
   * Runs one statement on the pool. Errors the server answered with pass unchanged; a connection that could not be
   * opened or was lost becomes a ConnectionError naming the (masked) URL.
   */
  private async query<R extends QueryResultRow = QueryResultRow>(text: string, values?: unknown[]): Promise<{ rows: R[] }> {
    const pool = this.open();
    try {
      return await pool.query<R>(text, values);
    } catch (err) {
      if (err instanceof DatabaseError) throw err;
      throw new ConnectionError(`PostgreSQL result backend at ${this.target}: ${oneLine(err)}`, { cause: err });
    }
  }

  private async lookup(taskIds: readonly string[]): Promise<Map<string, ResultMeta>> {
    const { rows } = await this.query<ResultRow>(sql('mget.sql'), [taskIds]);
    return new Map(rows.map((row) => [row.task_id, rowToMeta(row)]));
  }

  private async openListenConnection(): Promise<Client> {
    const client = new Client({
      ...this.clientConfig,
      application_name: `${this.clientConfig.application_name}:listen`,
      // A LISTEN connection is idle for long stretches; keepalives notice a peer that vanished without a FIN.
      keepAlive: true,
      // The OS default waits two hours before the first probe: a LISTEN connection dropped without a reset (NAT
      // timeout, failover) would leave waiters hanging that long.
      keepAliveInitialDelayMillis: 10_000,
    });
    // Errors before 'connect' resolves reject it; later ones are the listener's to handle.
    client.on('error', () => undefined);
    try {
      await client.connect();
    } catch (err) {
      await client.end().catch(() => undefined);
      throw err;
    }
    return client;
  }

  /** The ttl in ms for a statement: null = never expires. */
  private ttlMs(options: SetOptions | undefined): number | null {
    const ttl = options?.ttlMs ?? this.options.resultExpires * 1000;
    return ttl > 0 ? Math.max(1, Math.round(ttl)) : null;
  }

  private open(): Pool {
    if (!this.pool) throw new ConnectionError('PostgreSQL result backend is not connected (call connect() first)');
    return this.pool;
  }
}
