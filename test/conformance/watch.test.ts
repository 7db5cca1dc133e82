/**
 * `ResultBackend.watch` on every store that notifies: each follows a task's states as another connection writes
 * them, with nothing polled by the caller. What each promises differs and is asserted as such:
 *   - memory and Redis (pub/sub carries each written value): every state, in the order written;
 *   - PostgreSQL (NOTIFY carries only the task id; the row is read on it) and SQLite (a `data_version` watcher that
 *     may see several commits between two checks): the latest state promptly, never an older one after a newer.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import type { ResultBackend } from '../../src/backend/port.js';
import { MemoryBackend } from '../../src/backend/memory/index.js';
import { PostgresBackend } from '../../src/backend/postgres/index.js';
import { RedisBackend } from '../../src/backend/redis/index.js';
import { SqliteBackend } from '../../src/backend/sqlite/index.js';
import { ConnectionError } from '../../src/errors/index.js';
import type { ResultMeta } from '../../src/protocol/types.js';
import { pingPostgres, pingRedis, requireService } from '../services.js';
import { meta } from './backend-suite.js';
import { deferred } from '../helpers.js';

const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379/0';
const POSTGRES_URL = process.env.TEST_POSTGRES_URL ?? 'postgresql://postgres@127.0.0.1:5432/test';
const redis = await requireService('Redis', () => pingRedis(REDIS_URL));
const postgres = await requireService('PostgreSQL', () => pingPostgres(POSTGRES_URL));

/** A store opened twice: `watcher` follows, `writer` writes on its own connection (the same object in memory). */
interface Pair {
  watcher: ResultBackend;
  writer: ResultBackend;
  close(): Promise<void>;
  /** Kills the watcher's notification connection on the server (stores that have one). */
  kill?(): Promise<void>;
}

interface Store {
  name: string;
  ok: boolean;
  reason: string;
  /** True where writes close together may arrive as the latest one only. */
  merges: boolean;
  open(): Promise<Pair>;
}

const stores: Store[] = [
  {
    name: 'memory',
    ok: true,
    reason: '',
    merges: false,
    open: async () => {
      const backend = new MemoryBackend();
      await backend.connect();
      return { watcher: backend, writer: backend, close: () => backend.close() };
    },
  },
  {
    name: 'SQLite',
    ok: true,
    reason: '',
    merges: true,
    open: async () => {
      const dir = mkdtempSync(join(tmpdir(), 'celerity-watch-'));
      const path = join(dir, 'results.db');
      const watcher = new SqliteBackend({ path, resultExpires: 60 });
      const writer = new SqliteBackend({ path, resultExpires: 60 });
      await watcher.connect();
      await writer.connect();
      return {
        watcher,
        writer,
        close: async () => {
          await watcher.close();
          await writer.close();
          rmSync(dir, { recursive: true, force: true });
        },
      };
    },
  },
  {
    name: 'Redis',
    ok: redis.ok,
    reason: redis.reason,
    merges: false,
    open: async () => {
      const prefix = `celerity-test-${randomUUID()}:`;
      const url = `${REDIS_URL}?global_keyprefix=${encodeURIComponent(prefix)}`;
      const name = `celerity-test-${randomUUID()}`;
      const watcher = new RedisBackend({ url, resultExpires: 60, connectionName: name });
      const writer = new RedisBackend({ url, resultExpires: 60 });
      await watcher.connect();
      await writer.connect();
      // Every key written expires within a minute; nothing shared is touched.
      return {
        watcher,
        writer,
        close: () => Promise.all([watcher.close(), writer.close()]).then(() => undefined),
        kill: async () => {
          const raw = new Redis(REDIS_URL);
          try {
            const list = (await raw.client('LIST')) as string;
            const ids = list.split('\n').filter((l) => l.includes(` name=${name}:sub `)).map((l) => /(?:^| )id=(\d+)/.exec(l)![1]!);
            expect(ids).toHaveLength(1);
            await raw.client('KILL', 'ID', ids[0]!);
          } finally {
            raw.disconnect();
          }
        },
      };
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
      const watcher = new PostgresBackend({ url, resultExpires: 60, applicationName: schema });
      const writer = new PostgresBackend({ url, resultExpires: 60 });
      await watcher.connect();
      await writer.connect();
      const raw = async <T>(use: (client: pg.Client) => Promise<T>): Promise<T> => {
        const client = new pg.Client({ connectionString: POSTGRES_URL });
        await client.connect();
        try {
          return await use(client);
        } finally {
          await client.end();
        }
      };
      return {
        watcher,
        writer,
        kill: async () => {
          const killed = await raw((c) =>
            c.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1', [`${schema}:listen`]),
          );
          expect(killed.rowCount).toBe(1);
        },
        close: async () => {
          await watcher.close();
          await writer.close();
          await raw((c) => c.query(`DROP SCHEMA IF EXISTS ${pg.escapeIdentifier(schema)} CASCADE`));
        },
      };
    },
  },
];

/** What a watch delivered, and a way to await the first delivery that passes `test`. */
function recorder() {
  const seen: ResultMeta[] = [];
  const pending: { test: (m: ResultMeta) => boolean; resolve: () => void }[] = [];
  const onMeta = (m: ResultMeta): void => {
    seen.push(m);
    for (const p of [...pending]) {
      if (p.test(m)) {
        pending.splice(pending.indexOf(p), 1);
        p.resolve();
      }
    }
  };
  const next = (test: (m: ResultMeta) => boolean): Promise<void> =>
    seen.some(test) ? Promise.resolve() : new Promise((resolve) => pending.push({ test, resolve }));
  return { seen, onMeta, next };
}

const step = (m: ResultMeta): number => (m.result as { current: number }).current;

for (const store of stores) {
  describe.skipIf(!store.ok)(`watch on ${store.name}${store.ok ? '' : ` (skipped: ${store.reason})`}`, () => {
    it(`20 PROGRESS writes back to back, then SUCCESS: ${store.merges ? 'increasing steps and the last state' : 'every state, in order'}`, async () => {
      const { watcher, writer, close } = await store.open();
      try {
        const id = randomUUID();
        const r = recorder();
        const stop = await watcher.watch!(id, r.onMeta);
        for (let current = 1; current <= 20; current++) await writer.set(id, meta(id, 'PROGRESS', { current, total: 20 }));
        await writer.set(id, meta(id, 'SUCCESS', 'done'));
        await r.next((m) => m.status === 'SUCCESS');
        stop();
        expect(r.seen.at(-1)).toMatchObject({ status: 'SUCCESS', result: 'done', task_id: id });
        const steps = r.seen.filter((m) => m.status === 'PROGRESS').map(step);
        if (store.merges) {
          for (let i = 1; i < steps.length; i++) expect(steps[i]).toBeGreaterThan(steps[i - 1]!);
          expect(steps.every((s) => s >= 1 && s <= 20)).toBe(true);
        } else {
          expect(steps).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
        }
        expect(r.seen.filter((m) => m.status === 'SUCCESS')).toHaveLength(1);
      } finally {
        await close();
      }
    });

    it('the latest of many writes arrives even when no ready state follows', async () => {
      const { watcher, writer, close } = await store.open();
      try {
        const id = randomUUID();
        const r = recorder();
        const stop = await watcher.watch!(id, r.onMeta);
        await writer.set(id, meta(id, 'STARTED'));
        for (let current = 1; current <= 20; current++) await writer.set(id, meta(id, 'PROGRESS', { current, total: 20 }));
        await r.next((m) => m.status === 'PROGRESS' && step(m) === 20);
        stop();
        const states = r.seen.map((m) => (m.status === 'PROGRESS' ? step(m) : 0));
        // STARTED (0) first if it was seen at all, then never an older step after a newer one.
        for (let i = 1; i < states.length; i++) expect(states[i]).toBeGreaterThan(states[i - 1]!);
      } finally {
        await close();
      }
    });

    it('reports only the watched task, and nothing once stopped; a kept SUCCESS is not reported again', async () => {
      const { watcher, writer, close } = await store.open();
      try {
        const [a, b, c] = [randomUUID(), randomUUID(), randomUUID()];
        const ra = recorder();
        const rb = recorder();
        const rc = recorder();
        const stopA = await watcher.watch!(a, ra.onMeta);
        const stopB = await watcher.watch!(b, rb.onMeta);
        const stopC = await watcher.watch!(c, rc.onMeta);
        await writer.set(a, meta(a, 'PROGRESS', { current: 1, total: 2 }));
        await writer.set(c, meta(c, 'SUCCESS', 'c'));
        await ra.next((m) => m.status === 'PROGRESS');
        await rc.next((m) => m.status === 'SUCCESS');
        stopA();
        // A write after stopping, a refused overwrite of c's SUCCESS, then one to b: once b's arrives, every
        // earlier write has been announced (each store notifies in write order), so a and c were passed over.
        await writer.set(a, meta(a, 'PROGRESS', { current: 2, total: 2 }));
        await writer.set(c, meta(c, 'STARTED'));
        await writer.set(b, meta(b, 'STARTED'));
        await rb.next((m) => m.status === 'STARTED');
        stopB();
        stopC();
        expect(ra.seen.map((m) => [m.task_id, m.status, step(m)])).toEqual([[a, 'PROGRESS', 1]]);
        expect(rb.seen.map((m) => [m.task_id, m.status])).toEqual([[b, 'STARTED']]);
        expect(rc.seen.map((m) => [m.task_id, m.status, m.result])).toEqual([[c, 'SUCCESS', 'c']]);
        expect(await watcher.get(c)).toMatchObject({ status: 'SUCCESS' });
      } finally {
        await close();
      }
    });

    it('closing the backend ends a watch through onError with ConnectionError, and nothing is reported after', async () => {
      const { watcher, writer, close } = await store.open();
      try {
        const id = randomUUID();
        const ended = deferred<unknown>();
        const r = recorder();
        await watcher.watch!(id, r.onMeta, { onError: (err) => ended.resolve(err) });
        await watcher.close();
        const err = await ended.promise;
        expect(err).toBeInstanceOf(ConnectionError);
        expect((err as Error).message).toMatch(/closed/);
        if (writer !== watcher) await writer.set(id, meta(id, 'SUCCESS', 'late'));
        expect(r.seen).toEqual([]);
      } finally {
        await close();
      }
    });

    // Memory notifies in process and SQLite reads the file's change counter: neither has a connection to lose.
    it.runIf(store.name === 'Redis' || store.name === 'PostgreSQL')('after the notification connection is killed, the latest state still arrives and later ones follow', async () => {
      const { watcher, writer, close, kill } = await store.open();
      try {
        const id = randomUUID();
        const r = recorder();
        const stop = await watcher.watch!(id, r.onMeta);
        await writer.set(id, meta(id, 'PROGRESS', { current: 1, total: 3 }));
        await r.next((m) => m.status === 'PROGRESS' && step(m) === 1);
        await kill!();
        // Written while the connection is down or coming back: announced to nobody, found by the read after it.
        await writer.set(id, meta(id, 'PROGRESS', { current: 2, total: 3 }));
        await r.next((m) => m.status === 'PROGRESS' && step(m) === 2);
        await writer.set(id, meta(id, 'SUCCESS', 'done'));
        await r.next((m) => m.status === 'SUCCESS');
        stop();
        const states = r.seen.map((m) => (m.status === 'PROGRESS' ? step(m) : 9));
        for (let i = 1; i < states.length; i++) expect(states[i]).toBeGreaterThanOrEqual(states[i - 1]!);
        expect(states.at(-1)).toBe(9);
      } finally {
        await close();
      }
    });

    it('an aborted signal refuses to subscribe with its reason; aborting later stops the watch', async () => {
      const { watcher, writer, close } = await store.open();
      try {
        const [a, b] = [randomUUID(), randomUUID()];
        const early = new AbortController();
        early.abort(new Error('not wanted'));
        await expect(watcher.watch!(a, () => undefined, { signal: early.signal })).rejects.toThrow('not wanted');
        const later = new AbortController();
        const ra = recorder();
        const rb = recorder();
        await watcher.watch!(a, ra.onMeta, { signal: later.signal });
        const stopB = await watcher.watch!(b, rb.onMeta);
        later.abort();
        await writer.set(a, meta(a, 'STARTED'));
        await writer.set(b, meta(b, 'STARTED'));
        await rb.next((m) => m.status === 'STARTED');
        stopB();
        expect(ra.seen).toEqual([]);
      } finally {
        await close();
      }
    });
  });
}
