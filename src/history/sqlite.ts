/**
 * The task history in a SQLite file (WAL): `celerity_history_tasks` (one row per task) and
 * `celerity_history_timeline` (its events), schema and statements in ./sql/sqlite/. The file may be the broker's or
 * the result backend's, and several processes may open it at once (the monitor writing, the API and the CLI
 * reading): writes are short IMMEDIATE transactions retried asynchronously while another process holds the lock
 * (../sqlite/busy.ts), and readers never wait in WAL mode.
 */
import { ConnectionError } from '../errors/index.js';
import { retryBusy, SYNC_WAIT_MS } from '../sqlite/busy.js';
import { openDatabase, prepare, type SqliteDatabase } from '../sqlite/open.js';
import { readSql, type Stmt } from '../sqlite/sql-files.js';
import { FIELD_COLUMNS, mergeUpdate } from './merge.js';
import type { HistoryStore, RetentionOptions, TaskPage, TaskQuery, TaskRecord, TaskUpdate, TimelineEntry } from './port.js';
import { decodeCursor, pageLimit, pageOf, type CursorKey } from './query.js';
import { globPrefix, whereClause, type Dialect } from './where.js';

export interface SqliteHistoryOptions {
  /** Database file; may be the broker's or the result backend's. `:memory:` is private to one store (tests). */
  path: string;
  /** How long a write waits for another process's lock on the file, ms, without blocking the loop. Default 5000. */
  busyTimeoutMs?: number;
  /** Tasks forgotten per prune transaction (default 250: at a million tasks, under 0.1 s of write lock each). */
  pruneChunk?: number;
}

/** A row of celerity_history_tasks. */
type TaskRow = Record<string, string | number | null> & { id: string; state: string; created_at: number; updated_at: number };

type Boundary = { created_at: number; id: string };

const PRUNE_CHUNK = 250;

/** Up to this many states a list reads each state's index on its own (see list); more are one filtered scan. */
const MAX_STATE_ARMS = 16;

/** Every column an update may change (all but the id), in the table's order. */
const UPDATABLE: readonly string[] = ['state', 'created_at', 'updated_at', ...FIELD_COLUMNS.map(([, column]) => column)];

function prepareStatements(db: SqliteDatabase) {
  const sql = <P, R = unknown>(name: string) => prepare(db, readSql(import.meta.url, `sqlite/${name}`)) as unknown as Stmt<P, R>;
  return {
    get: sql<{ id: string }, TaskRow>('get.sql'),
    insert: sql<TaskRow>('insert.sql'),
    timelineInsert: sql<{ task_id: string } & TimelineEntry>('timeline-insert.sql'),
    timeline: sql<{ task_id: string }, TimelineEntry>('timeline.sql'),
    unfinished: sql<{ older_than: number; limit: number }, { id: string }>('unfinished.sql'),
    pruneAgeBoundary: sql<{ before: number }, Boundary>('prune-age-boundary.sql'),
    pruneCountBoundary: sql<{ keep: number }, Boundary>('prune-count-boundary.sql'),
    pruneChunk: sql<Boundary & { chunk: number }, { id: string }>('prune-chunk.sql'),
    pruneTasks: sql<{ ids: string }>('prune-tasks.sql'),
    pruneTimeline: sql<{ ids: string }>('prune-timeline.sql'),
  };
}

type Statements = ReturnType<typeof prepareStatements>;

export class SqliteHistoryStore implements HistoryStore {
  private db: SqliteDatabase | null = null;
  private stmts: Statements | null = null;
  /** list and count statements by their text (see where.ts: the shapes are few). */
  private readonly queries = new Map<string, Stmt<Record<string, unknown>, unknown>>();
  private readonly busy: { file: string; timeoutMs: number };

  constructor(private readonly options: SqliteHistoryOptions) {
    this.busy = { file: options.path, timeoutMs: options.busyTimeoutMs ?? 5000 };
  }

  async connect(): Promise<void> {
    if (this.db) return;
    const db = openDatabase(this.options.path, SYNC_WAIT_MS);
    try {
      // 64 MiB of page cache (the default is 2): the indexes of a large history are read at random by every batch.
      db.exec('PRAGMA cache_size = -65536');
      await retryBusy(async () => db.exec(readSql(import.meta.url, 'sqlite/schema.sql')), this.busy);
      this.stmts = prepareStatements(db);
    } catch (err) {
      db.close();
      if (err instanceof ConnectionError) throw err;
      throw new ConnectionError(`cannot prepare SQLite task history in ${this.options.path}: ${String(err)}`, { cause: err });
    }
    this.db = db;
  }

  /**
   * One IMMEDIATE transaction: the stored rows are read, merged with the updates in order (merge.ts) and written
   * back once each, so no other process's write can fall between the read and the write.
   */
  async apply(updates: readonly TaskUpdate[]): Promise<void> {
    if (updates.length === 0) return;
    const { db, stmts } = this.open();
    const write = db.transaction(() => {
      const stored = new Map<string, TaskRow | null>();
      const merged = new Map<string, TaskRecord>();
      for (const u of updates) {
        let current = merged.get(u.id);
        if (current === undefined) {
          const row = stmts.get.get({ id: u.id }) ?? null;
          stored.set(u.id, row);
          current = row ? rowToRecord(row) : undefined;
        }
        merged.set(u.id, mergeUpdate(current ?? null, u));
        const t = u.timeline;
        if (t) {
          stmts.timelineInsert.run({ task_id: u.id, type: t.type, timestamp: t.timestamp, hostname: t.hostname ?? null, fields: t.fields ?? null });
        }
      }
      for (const [id, record] of merged) {
        const before = stored.get(id);
        if (!before) {
          stmts.insert.run(recordToRow(record));
          continue;
        }
        // Only the columns that changed, so only the indexes over them are rewritten (most events touch a few).
        const after = recordToRow(record);
        const changed = UPDATABLE.filter((c) => after[c] !== before[c]);
        if (changed.length === 0) continue;
        const params: Record<string, unknown> = { id };
        for (const c of changed) params[c] = after[c];
        this.statement(`UPDATE celerity_history_tasks SET ${changed.map((c) => `${c} = :${c}`).join(', ')} WHERE id = :id`).run(params);
      }
    });
    await retryBusy(async () => write.immediate(), this.busy);
  }

  async get(id: string): Promise<TaskRecord | null> {
    const row = this.open().stmts.get.get({ id });
    return row ? rowToRecord(row) : null;
  }

  async timeline(id: string): Promise<TimelineEntry[]> {
    return this.open().stmts.timeline.all({ task_id: id });
  }

  async list(query: TaskQuery): Promise<TaskPage> {
    const limit = pageLimit(query.limit);
    const after = query.cursor === undefined ? null : decodeCursor(query.cursor);
    const params: Record<string, unknown> = {};
    const order = `ORDER BY created_at DESC, id DESC LIMIT ${limit + 1}`;
    const select = (q: typeof query) => `SELECT * FROM celerity_history_tasks WHERE ${this.where(q, after, params, true)} ${order}`;
    const states = query.state ?? [];
    // Several states: one page per state, each an ordered read of the state index, merged. An IN over the index
    // would sort every task in those states, and a scan in list order would read them all when they are rare.
    const sql =
      states.length > 1 && states.length <= MAX_STATE_ARMS
        ? `${[...new Set(states)].map((state) => `SELECT * FROM (${select({ ...query, state: [state] })})`).join(' UNION ALL ')} ${order}`
        : select(query);
    const rows = this.statement(sql).all(params) as TaskRow[];
    return pageOf(rows.map(rowToRecord), limit);
  }

  async count(query: Omit<TaskQuery, 'limit' | 'cursor'>): Promise<number> {
    const params: Record<string, unknown> = {};
    const where = this.where(query, null, params, false);
    const row = this.statement(`SELECT count(*) AS n FROM celerity_history_tasks WHERE ${where}`).get(params) as { n: number };
    return row.n;
  }

  async unfinished(options: { olderThan: number; limit: number }): Promise<string[]> {
    return this.open().stmts.unfinished.all({ older_than: options.olderThan, limit: options.limit }).map((r) => r.id);
  }

  /**
   * Finds the newest task over either limit, then forgets it and everything older from the oldest end, a chunk of
   * tasks (and their timelines) per transaction, letting other writers in between.
   */
  async prune(options: RetentionOptions): Promise<number> {
    const { stmts } = this.open();
    const now = options.now ?? Date.now();
    const bounds: Boundary[] = [];
    if (options.maxAgeMs !== undefined) {
      const b = stmts.pruneAgeBoundary.get({ before: now - options.maxAgeMs });
      if (b) bounds.push(b);
    }
    if (options.maxTasks !== undefined) {
      const b = stmts.pruneCountBoundary.get({ keep: options.maxTasks });
      if (b) bounds.push(b);
    }
    const bound = bounds.sort((a, b) => b.created_at - a.created_at || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0))[0];
    if (!bound) return 0;
    const chunk = this.options.pruneChunk ?? PRUNE_CHUNK;
    let forgotten = 0;
    for (;;) {
      const { db, stmts: s } = this.open();
      const removeChunk = db.transaction(() => {
        const ids = JSON.stringify(s.pruneChunk.all({ ...bound, chunk }).map((r) => r.id));
        s.pruneTimeline.run({ ids });
        return s.pruneTasks.run({ ids }).changes;
      });
      const removed = await retryBusy(async () => removeChunk.immediate(), this.busy);
      forgotten += removed;
      if (removed < chunk) return forgotten;
      await new Promise((r) => setImmediate(r));
    }
  }

  async close(): Promise<void> {
    if (!this.db) return;
    this.db.close();
    this.db = null;
    this.stmts = null;
    this.queries.clear();
  }

  /**
   * The WHERE clause, its values added to `params`. `ordered`: for a list, a name prefix is only a filter (`+name`
   * keeps the planner off the name index, whose range would have to be sorted whole to find the newest few);
   * for a count that range is exactly what is wanted.
   */
  private where(query: Omit<TaskQuery, 'limit' | 'cursor'>, after: CursorKey | null, params: Record<string, unknown>, ordered: boolean): string {
    const param = (value: unknown) => {
      const name = `p${Object.keys(params).length}`;
      params[name] = value;
      return `:${name}`;
    };
    const dialect: Dialect = {
      param,
      anyState: (states) => `${ordered ? '+' : ''}state IN (SELECT value FROM json_each(${param(JSON.stringify(states))}))`,
      namePrefix: (prefix) => `${ordered ? '+' : ''}name GLOB ${param(globPrefix(prefix))}`,
      ilike: 'LIKE',
    };
    return whereClause(query, after, dialect);
  }

  private statement(sql: string): Stmt<Record<string, unknown>, unknown> {
    const { db } = this.open();
    let stmt = this.queries.get(sql);
    if (!stmt) {
      stmt = prepare(db, sql) as unknown as Stmt<Record<string, unknown>, unknown>;
      this.queries.set(sql, stmt);
    }
    return stmt;
  }

  private open(): { db: SqliteDatabase; stmts: Statements } {
    if (!this.db || !this.stmts) throw new ConnectionError('SQLite task history is not connected (call connect() first)');
    return { db: this.db, stmts: this.stmts };
  }
}

function rowToRecord(row: TaskRow): TaskRecord {
  const record = { id: row.id, state: row.state, createdAt: row.created_at, updatedAt: row.updated_at } as Record<string, unknown>;
  for (const [key, column] of FIELD_COLUMNS) record[key] = row[column] ?? null;
  return record as unknown as TaskRecord;
}

function recordToRow(record: TaskRecord): TaskRow {
  const row = { id: record.id, state: record.state, created_at: record.createdAt, updated_at: record.updatedAt } as TaskRow;
  const source = record as unknown as Record<string, string | number | null>;
  for (const [key, column] of FIELD_COLUMNS) row[column] = source[key] ?? null;
  return row;
}
