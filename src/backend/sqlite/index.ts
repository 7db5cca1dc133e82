/**
 * The embedded default result backend: a plain `celery_results` table (with `counters`, saved groups in
 * `celery_groups` and chord joins in `celery_chords` and `celery_chord_parts`) in one SQLite file, which may be the
 * broker's file. Schema and statements live in `./sql/`.
 *
 * Waiting: all `waitFor` and `watch` calls on a connection share one poller (`sqlite/watcher.ts`). When
 * `PRAGMA data_version` moves, or this connection wrote a result, the waited-for and watched task ids are looked up
 * together in one `mget`; nothing is queried while nothing changes, however many callers wait.
 */
import type { ChordPart, GroupMeta, ResultBackend, SetOptions, WaitOptions, WatchOptions } from '../port.js';
import type { ResultMeta } from '../../protocol/types.js';
import { READY_STATES } from '../../protocol/types.js';
import { ConnectionError } from '../../errors/index.js';
import { parseJson, pyDumps } from '../../protocol/json.js';
import { awaitResult } from '../wait.js';
import { openDatabase } from '../../sqlite/open.js';
import { retryWhileBusy, SYNC_WAIT_MS } from '../../sqlite/busy.js';
import type { SqliteDatabase } from '../../sqlite/open.js';
import { ChangeWatcher } from '../../sqlite/watcher.js';
import type { Mark } from '../../sqlite/watcher.js';
import { createSchema, metaToParams, partToRow, prepareStatements, rowToMeta, rowToPart } from './statements.js';
import type { ResultRow, Statements } from './statements.js';
import type { ScheduleStore } from '../schedules.js';
import { SqliteScheduleStore } from './schedules.js';

export interface SqliteBackendOptions {
  /** Database file; may be the broker's. `:memory:` gives a private store (tests only). */
  path: string;
  /** Default result lifetime in seconds; 0 = forever. */
  resultExpires: number;
  /** How often waiters check for commits from other connections, ms. Default 5. */
  pollIntervalMs?: number;
  /** How long a write waits for another process's lock on the file, ms, without blocking the loop. Default 5000. */
  busyTimeoutMs?: number;
}

interface Waiter {
  taskId: string;
  /** What the database looked like when this waiter last checked. */
  seen: Mark;
  resolve: (meta: ResultMeta) => void;
  reject: (err: unknown) => void;
}

interface Follower {
  taskId: string;
  seen: Mark;
  onMeta: (meta: ResultMeta) => void;
  onError?: (err: unknown) => void;
  /** The row last handed over, as JSON: a change elsewhere in the file does not repeat it. */
  last: string | null;
}

/** Task ids per `mget` statement, well under SQLite's default expression and JSON size limits. */
const MGET_CHUNK = 500;

export class SqliteBackend implements ResultBackend {
  private db: SqliteDatabase | null = null;
  private stmts: Statements | null = null;
  private watcher: ChangeWatcher | null = null;
  private readonly waiters = new Set<Waiter>();
  private readonly followers = new Set<Follower>();
  private unsubscribe: (() => void) | null = null;
  private scheduleStore: SqliteScheduleStore | null = null;

  constructor(private readonly options: SqliteBackendOptions) {
    retryWhileBusy(this, ['connect', 'set', 'setMany', 'delete', 'incr', 'setChordSize', 'chordPartReturn', 'chordDone', 'saveGroup', 'deleteGroup', 'cleanup'], {
      file: options.path,
      timeoutMs: options.busyTimeoutMs ?? 5000,
    });
  }

  async connect(): Promise<void> {
    if (this.db) return;
    const db = openDatabase(this.options.path, SYNC_WAIT_MS);
    try {
      createSchema(db);
      this.stmts = prepareStatements(db);
    } catch (err) {
      db.close();
      throw new ConnectionError(`cannot prepare SQLite result backend in ${this.options.path}: ${String(err)}`, {
        cause: err,
      });
    }
    this.db = db;
    this.watcher = new ChangeWatcher(db, this.options.pollIntervalMs);
  }

  async get(taskId: string): Promise<ResultMeta | null> {
    const row = this.open().stmts.get.get({ task_id: taskId, now: Date.now() });
    return row ? rowToMeta(row) : null;
  }

  async mget(taskIds: readonly string[]): Promise<(ResultMeta | null)[]> {
    const found = this.lookup(taskIds);
    return taskIds.map((id) => {
      const row = found.get(id);
      return row ? rowToMeta(row) : null;
    });
  }

  async set(taskId: string, meta: ResultMeta, options?: SetOptions): Promise<void> {
    const { stmts, watcher } = this.open();
    const now = Date.now();
    stmts.set.run(metaToParams(taskId, meta, now, this.expiresAt(now, options)));
    watcher.notify();
  }

  async setMany(entries: readonly { taskId: string; meta: ResultMeta }[], options?: SetOptions): Promise<void> {
    const { db, stmts, watcher } = this.open();
    const now = Date.now();
    const expiresAt = this.expiresAt(now, options);
    const rows = entries.map((e) => metaToParams(e.taskId, e.meta, now, expiresAt));
    db.transaction(() => {
      for (const row of rows) stmts.set.run(row);
    }).immediate();
    watcher.notify();
  }

  async delete(taskId: string): Promise<void> {
    this.open().stmts.delete.run({ task_id: taskId });
  }

  async incr(key: string, by = 1, options?: SetOptions): Promise<number> {
    const now = Date.now();
    const row = this.open().stmts.incr.get({ key, by, now, expires_at: this.expiresAt(now, options) });
    return row?.value ?? by;
  }

  async setChordSize(groupId: string, size: number, options?: SetOptions): Promise<void> {
    const { db, stmts } = this.open();
    const now = Date.now();
    const expiresAt = this.expiresAt(now, options);
    db.transaction(() => {
      stmts.chordDropExpired.run({ group_id: groupId, now });
      stmts.chordSize.run({ group_id: groupId, size, expires_at: expiresAt });
    }).immediate();
  }

  /**
   * One write transaction (BEGIN IMMEDIATE: it holds the file's write lock from the start, so no other connection
   * or process can record a part of any chord in between), which makes the count and the claim of completion
   * atomic across every process sharing the file.
   */
  async chordPartReturn(groupId: string, part: ChordPart, options?: SetOptions): Promise<ChordPart[] | null> {
    const { db, stmts } = this.open();
    const now = Date.now();
    const expiresAt = this.expiresAt(now, options);
    const row = partToRow(part);
    const record = db.transaction((): ChordPart[] | null => {
      stmts.chordDropExpired.run({ group_id: groupId, now });
      stmts.chordTouch.run({ group_id: groupId, expires_at: expiresAt });
      const added = stmts.chordPartInsert.run({ group_id: groupId, ...row }).changes;
      const counted = stmts.chordCount.get({ group_id: groupId, task_id: part.taskId, added });
      if (counted?.completed_by !== part.taskId) return null;
      return stmts.chordParts.all({ group_id: groupId }).map(rowToPart);
    });
    return record.immediate();
  }

  async chordDone(groupId: string): Promise<void> {
    this.open().stmts.chordDone.run({ group_id: groupId });
  }

  async saveGroup(groupId: string, meta: GroupMeta, options?: SetOptions): Promise<void> {
    const { stmts } = this.open();
    const now = Date.now();
    const result = pyDumps(meta.result ?? null);
    stmts.groupSave.run({ group_id: groupId, result, now, expires_at: this.expiresAt(now, options) });
  }

  async getGroup(groupId: string): Promise<GroupMeta | null> {
    const row = this.open().stmts.groupGet.get({ group_id: groupId, now: Date.now() });
    return row ? { result: parseJson(row.result, `saved group ${groupId}`) } : null;
  }

  async deleteGroup(groupId: string): Promise<void> {
    this.open().stmts.groupDelete.run({ group_id: groupId });
  }

  async waitFor(taskId: string, options: WaitOptions = {}): Promise<ResultMeta> {
    const { watcher } = this.open();
    const { signal } = options;
    if (signal?.aborted) throw signal.reason;
    const seen = watcher.mark();
    const current = await this.get(taskId);
    if (current && READY_STATES.has(current.status)) return current;
    return awaitResult(taskId, options, (settle) => {
      const waiter: Waiter = { taskId, seen, resolve: settle.resolve, reject: settle.reject };
      this.waiters.add(waiter);
      this.unsubscribe ??= watcher.subscribe((now) => this.checkWaiters(now));
      return () => {
        this.waiters.delete(waiter);
        if (this.waiters.size === 0 && this.followers.size === 0) this.stopWatching();
      };
    });
  }

  /**
   * The task's row each time the file changed and the row with it, on the poller `waitFor` uses: writes between two
   * checks (5 ms apart by default) arrive as the latest of them, never out of order.
   */
  async watch(taskId: string, onMeta: (meta: ResultMeta) => void, options: WatchOptions = {}): Promise<() => void> {
    const { watcher } = this.open();
    const { signal } = options;
    if (signal?.aborted) throw signal.reason;
    const follower: Follower = { taskId, seen: watcher.mark(), onMeta, onError: options.onError, last: null };
    this.followers.add(follower);
    this.unsubscribe ??= watcher.subscribe((now) => this.checkWaiters(now));
    const stop = (): void => {
      signal?.removeEventListener('abort', stop);
      this.followers.delete(follower);
      if (this.waiters.size === 0 && this.followers.size === 0) this.stopWatching();
    };
    signal?.addEventListener('abort', stop, { once: true });
    return stop;
  }

  async cleanup(): Promise<number> {
    const { db, stmts } = this.open();
    const now = Date.now();
    const removeExpired = db.transaction(
      () =>
        stmts.cleanupResults.run({ now }).changes +
        stmts.cleanupCounters.run({ now }).changes +
        stmts.cleanupGroups.run({ now }).changes +
        stmts.cleanupChords.run({ now }).changes,
    );
    return removeExpired.immediate();
  }

  /**
   * The schedule store on this backend's connection. It may be taken before `connect()`; its tables are created on
   * its first use after it, so a file used only for results never gets them.
   */
  schedules(): ScheduleStore {
    return (this.scheduleStore ??= new SqliteScheduleStore(() => this.open().db, {
      file: this.options.path,
      timeoutMs: this.options.busyTimeoutMs ?? 5000,
    }));
  }

  /** Rejects pending `waitFor` calls and ends every `watch` with ConnectionError, and closes the connection. */
  async close(): Promise<void> {
    if (!this.db) return;
    for (const w of [...this.waiters]) w.reject(new ConnectionError('result backend closed while waiting'));
    const followers = [...this.followers];
    this.followers.clear();
    for (const f of followers) f.onError?.(new ConnectionError('result backend closed while watching'));
    this.stopWatching();
    this.watcher?.close();
    this.db.close();
    this.db = null;
    this.stmts = null;
    this.watcher = null;
  }

  // ---- internals --------------------------------------------------------------------------------------------

  /** Re-reads, in one query, the tasks whose waiters and followers have not looked since the database last changed. */
  private checkWaiters(now: Mark): void {
    const stale = [...this.waiters].filter((w) => ChangeWatcher.changed(w.seen, now));
    const following = [...this.followers].filter((f) => ChangeWatcher.changed(f.seen, now));
    if (stale.length === 0 && following.length === 0) return;
    let found: Map<string, ResultRow>;
    try {
      found = this.lookup([...new Set([...stale, ...following].map((w) => w.taskId))]);
    } catch {
      // Busy beyond the timeout: leave the marks as they are so the next tick tries again.
      return;
    }
    for (const w of stale) {
      const row = found.get(w.taskId);
      if (row && READY_STATES.has(row.status)) w.resolve(rowToMeta(row));
      else w.seen = now;
    }
    for (const f of following) {
      f.seen = now;
      const row = found.get(f.taskId);
      const text = row ? JSON.stringify(row) : null;
      if (!row || text === f.last || !this.followers.has(f)) continue;
      f.last = text;
      let meta: ResultMeta;
      try {
        meta = rowToMeta(row);
      } catch (err) {
        this.followers.delete(f);
        f.onError?.(err);
        continue;
      }
      try {
        f.onMeta(meta);
      } catch {
        // A follower's own failure must not stop the others or the waiters' checks.
      }
    }
    if (this.waiters.size === 0 && this.followers.size === 0) this.stopWatching();
  }

  private lookup(taskIds: readonly string[]): Map<string, ResultRow> {
    const { stmts } = this.open();
    const now = Date.now();
    const found = new Map<string, ResultRow>();
    for (let i = 0; i < taskIds.length; i += MGET_CHUNK) {
      const chunk = JSON.stringify(taskIds.slice(i, i + MGET_CHUNK));
      for (const row of stmts.mget.all({ task_ids: chunk, now })) found.set(row.task_id, row);
    }
    return found;
  }

  private stopWatching(): void {
    this.unsubscribe?.();
    this.unsubscribe = null;
  }

  private expiresAt(now: number, options: SetOptions | undefined): number | null {
    const ttlMs = options?.ttlMs ?? this.options.resultExpires * 1000;
    return ttlMs > 0 ? now + ttlMs : null;
  }

  private open(): { db: SqliteDatabase; stmts: Statements; watcher: ChangeWatcher } {
    if (!this.db || !this.stmts || !this.watcher) {
      throw new ConnectionError('SQLite result backend is not connected (call connect() first)');
    }
    return { db: this.db, stmts: this.stmts, watcher: this.watcher };
  }
}
