/**
 * Runs the task-history conformance suite on the in-process store and on the embedded store (a fresh file per
 * test), then what only the SQLite store has: a second store on the same file, a file shared with the result
 * backend, and a write lock held by another connection.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { SqliteBackend } from '../../src/backend/sqlite/index.js';
import { ConnectionError } from '../../src/errors/index.js';
import { MemoryHistoryStore } from '../../src/history/memory.js';
import type { HistoryStore } from '../../src/history/port.js';
import type { ResultMeta } from '../../src/protocol/types.js';
import { SqliteHistoryStore } from '../../src/history/sqlite.js';
import { T, ev, historyConformance } from './history-suite.js';

historyConformance('memory', async () => {
  const store = new MemoryHistoryStore();
  await store.connect();
  return { store, close: () => store.close() };
});

function sqliteHarness(pruneChunk?: number) {
  return async () => {
    const dir = mkdtempSync(join(tmpdir(), 'celerity-history-'));
    const path = join(dir, 'history.db');
    const stores: HistoryStore[] = [];
    const connect = async () => {
      const store = new SqliteHistoryStore({ path, ...(pruneChunk === undefined ? {} : { pruneChunk }) });
      stores.push(store);
      await store.connect();
      return store;
    };
    return {
      store: await connect(),
      reopen: connect,
      close: async () => {
        for (const s of stores) await s.close();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  };
}

historyConformance('sqlite', sqliteHarness());
// Chunks of 7 make every prune above take many transactions, including ones that end exactly on a chunk edge.
historyConformance('sqlite, pruned in small chunks', sqliteHarness(7));

describe('sqlite task history specifics', () => {
  const cleanups: (() => Promise<void> | void)[] = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });
  function tempFile(): string {
    const dir = mkdtempSync(join(tmpdir(), 'celerity-history-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    return join(dir, 'shared.db');
  }
  async function open(path: string, busyTimeoutMs?: number): Promise<SqliteHistoryStore> {
    const store = new SqliteHistoryStore({ path, ...(busyTimeoutMs === undefined ? {} : { busyTimeoutMs }) });
    cleanups.push(() => store.close());
    await store.connect();
    return store;
  }

  it('two stores on one file see each other\'s writes, and their updates merge in order', async () => {
    const path = tempFile();
    const a = await open(path);
    const b = await open(path);
    await a.apply([ev('x', 'RECEIVED', T, { name: 'proj.x' })]);
    expect(await b.get('x')).toMatchObject({ state: 'RECEIVED', name: 'proj.x' });
    await b.apply([ev('x', 'SUCCESS', T + 2, { result: '1' })]);
    await a.apply([ev('x', 'STARTED', T + 1, { worker: 'celery@a' })]);
    expect(await b.get('x')).toMatchObject({ state: 'SUCCESS', worker: 'celery@a', result: '1', startedAt: T + 1 });
    expect((await a.timeline('x')).map((e) => e.type)).toEqual(['task-received', 'task-started', 'task-success']);
    await Promise.all([a.apply([ev('y', 'PENDING', T)]), b.apply([ev('z', 'PENDING', T)])]);
    expect(await a.count({})).toBe(3);
  });

  it('shares a file with the result backend without touching its tables', async () => {
    const path = tempFile();
    const backend = new SqliteBackend({ path, resultExpires: 0 });
    cleanups.push(() => backend.close());
    await backend.connect();
    await backend.set('task-1', { status: 'SUCCESS', result: 3, traceback: null, children: [], date_done: null, task_id: 'task-1' } as ResultMeta);
    const history = await open(path);
    await history.apply([ev('task-1', 'SUCCESS', T)]);
    await history.prune({ maxTasks: 0 });
    expect(await history.get('task-1')).toBeNull();
    expect(await backend.get('task-1')).toMatchObject({ status: 'SUCCESS', result: 3 });
    const db = new Database(path, { readonly: true });
    const tables = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE 'celerity_history%' ORDER BY name").all();
    db.close();
    expect(tables).toEqual([{ name: 'celerity_history_tasks' }, { name: 'celerity_history_timeline' }]);
  });

  it('a write waits for another connection\'s lock without blocking, then fails naming the file', async () => {
    const path = tempFile();
    const store = await open(path, 200);
    await store.apply([ev('w', 'PENDING', T)]);
    const holder = new Database(path);
    cleanups.push(() => void holder.close());
    holder.exec('BEGIN IMMEDIATE');
    let ticks = 0;
    const ticker = setInterval(() => ticks++, 5);
    const err = await store.apply([ev('w', 'SUCCESS', T + 1)]).catch((e: unknown) => e);
    clearInterval(ticker);
    expect(err).toBeInstanceOf(ConnectionError);
    expect((err as Error).message).toContain(path);
    // The event loop kept running while the write waited (the lock is waited for asynchronously).
    expect(ticks).toBeGreaterThan(0);
    // Readers are not blocked by a writer in WAL mode.
    expect(await store.get('w')).toMatchObject({ state: 'PENDING' });
    holder.exec('ROLLBACK');
    await store.apply([ev('w', 'SUCCESS', T + 1)]);
    expect(await store.get('w')).toMatchObject({ state: 'SUCCESS' });
  });

  it('a write that waited for the lock goes through once it is released', async () => {
    const path = tempFile();
    const store = await open(path);
    const holder = new Database(path);
    cleanups.push(() => void holder.close());
    holder.exec('BEGIN IMMEDIATE');
    const pending = store.apply([ev('v', 'PENDING', T)]);
    await new Promise((r) => setImmediate(r));
    holder.exec('COMMIT');
    await pending;
    expect(await store.get('v')).toMatchObject({ state: 'PENDING' });
  });

  it('fails clearly when used before connect, after close, or on a path that cannot be opened', async () => {
    const path = tempFile();
    const store = new SqliteHistoryStore({ path });
    await expect(store.get('x')).rejects.toBeInstanceOf(ConnectionError);
    await store.connect();
    await store.close();
    await expect(store.list({})).rejects.toThrow(/not connected/);
    const missing = new SqliteHistoryStore({ path: join(path, 'nope', 'history.db') });
    await expect(missing.connect()).rejects.toThrow(/does not exist/);
  });
});
