/**
 * progress()/onProgress() (src/result/progress.ts) on a store with `watch`: states come from the store's
 * notification, the store is read once (after subscribing) and never polled; without `watch` they are polled.
 * The writes here come from the test, each after the watcher showed its first event, so what is asserted does not
 * depend on how fast anything runs.
 */
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import type { ResultBackend } from '../../src/backend/port.js';
import { MemoryBackend } from '../../src/backend/memory/index.js';
import { PostgresBackend } from '../../src/backend/postgres/index.js';
import { RedisBackend } from '../../src/backend/redis/index.js';
import { SqliteBackend } from '../../src/backend/sqlite/index.js';
import { TimeoutError } from '../../src/errors/index.js';
import { subscribeProgress, watchProgress, type ProgressEvent } from '../../src/result/progress.js';
import type { ResultMeta } from '../../src/protocol/types.js';
import { deferred, tempDir } from '../helpers.js';
import { pingPostgres, pingRedis, requireService } from '../services.js';

const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379/0';
const POSTGRES_URL = process.env.TEST_POSTGRES_URL ?? 'postgresql://postgres@127.0.0.1:5432/test';
const redis = await requireService('Redis', () => pingRedis(REDIS_URL));
const postgres = await requireService('PostgreSQL', () => pingPostgres(POSTGRES_URL));
const tmp = tempDir('celerity-progress-watch-');
afterAll(() => tmp.cleanup());

function meta(taskId: string, status: string, result: unknown = null): ResultMeta {
  const ready = status === 'SUCCESS' || status === 'FAILURE' || status === 'REVOKED';
  return { status, result, traceback: null, children: [], date_done: ready ? '2024-05-01T12:00:00.000000' : null, task_id: taskId };
}

const progress = (current: number) => ({ current, total: 20 });

/** Counts the calls made on `backend`; `hideWatch` makes it a store that cannot notify. */
function counted(backend: ResultBackend, hideWatch = false) {
  const calls = { get: 0, waitFor: 0, watch: 0, unwatched: 0 };
  const proxy = new Proxy(backend, {
    get(target, key) {
      if (key === 'watch' && hideWatch) return undefined;
      const value = Reflect.get(target, key, target) as unknown;
      if (typeof value !== 'function') return value;
      if (key === 'watch') {
        return async (...args: Parameters<NonNullable<ResultBackend['watch']>>) => {
          calls.watch++;
          const stop = await target.watch!(...args);
          return () => {
            calls.unwatched++;
            stop();
          };
        };
      }
      if (key in calls) calls[key as keyof typeof calls]++;
      return (value as (...a: unknown[]) => unknown).bind(target);
    },
  });
  return { store: proxy, calls };
}

/** Writes STARTED, 20 PROGRESS steps back to back and SUCCESS once the watcher has yielded its first event. */
async function collect(watcher: ResultBackend, writer: ResultBackend, options: { intervalMs?: number } = {}): Promise<ProgressEvent[]> {
  const id = randomUUID();
  const events: ProgressEvent[] = [];
  for await (const e of watchProgress(async () => watcher, id, { timeout: 20_000, ...options })) {
    events.push(e);
    if (events.length === 1) {
      await writer.set(id, meta(id, 'STARTED'));
      for (let current = 1; current <= 20; current++) await writer.set(id, meta(id, 'PROGRESS', progress(current)));
      await writer.set(id, meta(id, 'SUCCESS', 'done'));
    }
  }
  return events;
}

const steps = (events: ProgressEvent[]) => events.filter((e) => e.state === 'PROGRESS').map((e) => (e.meta as { current: number }).current);

describe('progress on an in-process store with watch', () => {
  it('yields every one of 20 back-to-back PROGRESS states in order, reading the store once and polling never', async () => {
    const backend = new MemoryBackend();
    const { store, calls } = counted(backend);
    const events = await collect(store, backend);
    expect(events[0]).toMatchObject({ state: 'PENDING', meta: null, ready: false, record: null });
    expect(events[1]).toMatchObject({ state: 'STARTED' });
    expect(steps(events)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    expect(events.at(-1)).toMatchObject({ state: 'SUCCESS', meta: 'done', ready: true });
    expect(calls).toEqual({ get: 1, waitFor: 0, watch: 1, unwatched: 1 });
  });

  it('drops the first read when a state was announced before it answered (the read is as old or older)', async () => {
    const backend = new MemoryBackend();
    const id = randomUUID();
    const readTaken = deferred<void>();
    const answer = deferred<void>();
    // A store whose first read sees PENDING but answers only after the test wrote PROGRESS.
    const slow = new Proxy(backend, {
      get(target, key) {
        const value = Reflect.get(target, key, target) as unknown;
        if (key !== 'get') return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
        return async (taskId: string) => {
          const found = await target.get(taskId);
          readTaken.resolve();
          await answer.promise;
          return found;
        };
      },
    });
    const events: ProgressEvent[] = [];
    const iterate = (async () => {
      for await (const e of watchProgress(async () => slow, id)) events.push(e);
    })();
    await readTaken.promise;
    await backend.set(id, meta(id, 'PROGRESS', progress(1)));
    await backend.set(id, meta(id, 'SUCCESS', 'done'));
    answer.resolve();
    await iterate;
    expect(events.map((e) => e.state)).toEqual(['PROGRESS', 'SUCCESS']);
  });

  it('a timeout ends it with TimeoutError naming the task, and stops the watch', async () => {
    const { store, calls } = counted(new MemoryBackend());
    const id = randomUUID();
    const states: string[] = [];
    const iterate = async () => {
      for await (const e of watchProgress(async () => store, id, { timeout: 300 })) states.push(e.state);
    };
    await expect(iterate()).rejects.toThrow(new TimeoutError(`task ${id} not ready after 300 ms`));
    expect(states).toEqual(['PENDING']);
    expect(calls.unwatched).toBe(1);
  });

  it('onProgress: unsubscribing stops the watch; a later state is not reported', async () => {
    const backend = new MemoryBackend();
    const { store, calls } = counted(backend);
    const [a, b] = [randomUUID(), randomUUID()];
    const seenA: string[] = [];
    const firstA = deferred<void>();
    const progressA = deferred<void>();
    const stopA = subscribeProgress(async () => store, a, (e) => {
      seenA.push(e.state);
      if (e.state === 'PENDING') firstA.resolve();
      if (e.state === 'PROGRESS') progressA.resolve();
    });
    await firstA.promise;
    await backend.set(a, meta(a, 'PROGRESS', progress(1)));
    await progressA.promise;
    stopA();
    // b's subscription sees its SUCCESS only after a's later write was made; a's watcher must be gone by then.
    const doneB = deferred<void>();
    const firstB = deferred<void>();
    subscribeProgress(async () => store, b, (e) => {
      if (e.state === 'PENDING') firstB.resolve();
      if (e.ready) doneB.resolve();
    });
    await firstB.promise;
    await backend.set(a, meta(a, 'SUCCESS', 'late'));
    await backend.set(b, meta(b, 'SUCCESS', 'b'));
    await doneB.promise;
    expect(seenA).toEqual(['PENDING', 'PROGRESS']);
    expect(calls.unwatched).toBe(2);
  });
});

describe('progress when the store closes', () => {
  it('ends the iteration with the ConnectionError the watch ended with', async () => {
    const backend = new MemoryBackend();
    const id = randomUUID();
    const states: string[] = [];
    const iterate = async () => {
      for await (const e of watchProgress(async () => backend, id)) {
        states.push(e.state);
        if (e.state === 'PENDING') await backend.set(id, meta(id, 'PROGRESS', progress(1)));
        if (e.state === 'PROGRESS') await backend.close();
      }
    };
    await expect(iterate()).rejects.toThrow(/closed while watching/);
    expect(states).toEqual(['PENDING', 'PROGRESS']);
  });
});

describe('progress on a store without watch', () => {
  it('polls: every state is still reported when the writer waits for each to be seen, through get and waitFor', async () => {
    const backend = new MemoryBackend();
    const { store, calls } = counted(backend, true);
    const id = randomUUID();
    const events: ProgressEvent[] = [];
    for await (const e of watchProgress(async () => store, id, { intervalMs: 5, timeout: 20_000 })) {
      events.push(e);
      const next = e.state === 'PENDING' ? 1 : e.state === 'PROGRESS' ? (e.meta as { current: number }).current + 1 : 0;
      if (next >= 1 && next <= 3) await backend.set(id, meta(id, 'PROGRESS', progress(next)));
      if (next === 4) await backend.set(id, meta(id, 'SUCCESS', 'done'));
    }
    expect(steps(events)).toEqual([1, 2, 3]);
    expect(events.at(-1)).toMatchObject({ state: 'SUCCESS', meta: 'done' });
    expect(calls.get).toBeGreaterThanOrEqual(4);
    expect(calls.waitFor).toBe(1);
    expect(calls.watch).toBe(0);
  });
});

/** The stores that notify from another connection: `merges` where close writes may arrive as the latest only. */
const servers: { name: string; ok: boolean; reason: string; merges: boolean; open(): Promise<[ResultBackend, ResultBackend, () => Promise<void>]> }[] = [
  {
    name: 'SQLite',
    ok: true,
    reason: '',
    merges: true,
    open: async () => {
      const path = join(tmp.dir, `${randomUUID()}.db`);
      const [a, b] = [new SqliteBackend({ path, resultExpires: 60 }), new SqliteBackend({ path, resultExpires: 60 })];
      await a.connect();
      await b.connect();
      return [a, b, async () => void (await Promise.all([a.close(), b.close()]))];
    },
  },
  {
    name: 'Redis',
    ok: redis.ok,
    reason: redis.reason,
    merges: false,
    open: async () => {
      const url = `${REDIS_URL}?global_keyprefix=${encodeURIComponent(`celerity-test-${randomUUID()}:`)}`;
      const [a, b] = [new RedisBackend({ url, resultExpires: 60 }), new RedisBackend({ url, resultExpires: 60 })];
      await a.connect();
      await b.connect();
      return [a, b, async () => void (await Promise.all([a.close(), b.close()]))];
    },
  },
  {
    name: 'PostgreSQL',
    ok: postgres.ok,
    reason: postgres.reason,
    merges: true,
    open: async () => {
      const schema = `celerity_test_${randomUUID().replace(/-/g, '').slice(0, 16)}`;
      const url = `${POSTGRES_URL}${POSTGRES_URL.includes('?') ? '&' : '?'}schema=${schema}`;
      const [a, b] = [new PostgresBackend({ url, resultExpires: 60 }), new PostgresBackend({ url, resultExpires: 60 })];
      await a.connect();
      await b.connect();
      return [
        a,
        b,
        async () => {
          await Promise.all([a.close(), b.close()]);
          const raw = new pg.Client({ connectionString: POSTGRES_URL });
          await raw.connect();
          await raw.query(`DROP SCHEMA IF EXISTS ${pg.escapeIdentifier(schema)} CASCADE`);
          await raw.end();
        },
      ];
    },
  },
];

for (const server of servers) {
  describe.skipIf(!server.ok)(`progress on ${server.name}${server.ok ? '' : ` (skipped: ${server.reason})`}`, () => {
    it(`20 back-to-back PROGRESS writes from another connection: ${server.merges ? 'increasing steps' : 'every step'}, then SUCCESS, one read`, async () => {
      const [watcher, writer, close] = await server.open();
      try {
        const { store, calls } = counted(watcher);
        const events = await collect(store, writer);
        const seen = steps(events);
        if (server.merges) for (let i = 1; i < seen.length; i++) expect(seen[i]).toBeGreaterThan(seen[i - 1]!);
        else expect(seen).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
        expect(events[0]).toMatchObject({ state: 'PENDING' });
        expect(events.at(-1)).toMatchObject({ state: 'SUCCESS', meta: 'done', ready: true });
        expect(events.filter((e) => e.ready)).toHaveLength(1);
        expect(calls).toMatchObject({ get: 1, waitFor: 0, watch: 1, unwatched: 1 });
      } finally {
        await close();
      }
    });
  });
}
