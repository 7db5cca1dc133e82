/**
 * The dead-letter routes on the SQLite default, Redis and RabbitMQ, with letters made the way they happen: a worker that
 * does not know the task rejects it. They are listed (newest first, with an arguments preview), requeued by id and
 * by queue (a worker that knows the task then runs them), deleted one by one and in bulk; unknown ids are 404s
 * and bad bodies 400s naming the field.
 */
import { randomUUID } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Celerity, type Worker } from '../../src/index.js';
import { openDatabase, sqlitePathFromUrl } from '../../src/sqlite/open.js';
import { startApiHarness } from '../api-harness.js';
import { freshVhost, pingRabbit, pingRedis, requireService } from '../services.js';
import { deleteRedisKeys } from './api-ops-fixtures.js';

const REDIS = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379/0';
const redis = await requireService('Redis', () => pingRedis(REDIS));
const rabbit = await requireService('RabbitMQ', () => pingRabbit());

type Harness = Awaited<ReturnType<typeof startApiHarness>>;

interface Letter {
  id: string;
  queue: string;
  taskName: string | null;
  taskId: string | null;
  reason: string;
  failedAt: number;
  argsPreview: string | null;
}

interface Store {
  name: string;
  skip: string | null;
  /** A broker of the test's own (undefined: the harness's SQLite file) and what removes it afterwards. */
  scope(): Promise<{ broker?: string; cleanup(): Promise<void> }>;
}

const STORES: Store[] = [
  { name: 'sqlite', skip: null, scope: async () => ({ cleanup: async () => undefined }) },
  {
    name: 'redis',
    skip: redis.ok ? null : redis.reason,
    scope: async () => {
      const prefix = `celerity-test-${randomUUID()}:`;
      return { broker: `${REDIS}?global_keyprefix=${prefix}`, cleanup: () => deleteRedisKeys(REDIS, prefix) };
    },
  },
  {
    name: 'amqp',
    skip: rabbit.ok ? null : rabbit.reason,
    // A vhost of its own: the dead-letter queue is one per vhost.
    scope: async () => {
      const space = await freshVhost('api-dl');
      return { broker: space.url, cleanup: () => space.remove() };
    },
  },
];

for (const store of STORES) {
  describe.skipIf(store.skip !== null)(`dead-letters API on ${store.name}${store.skip ? ` (${store.skip})` : ''}`, () => {
    let h: Harness;
    let cleanup: () => Promise<void>;
    let brokerUrl: string;
    const workers: { app: Celerity; worker: Worker }[] = [];
    let q: string;

    beforeEach(async () => {
      const scope = await store.scope();
      cleanup = scope.cleanup;
      h = await startApiHarness(scope.broker ? { broker: scope.broker } : {});
      brokerUrl = h.app.conf.broker;
      q = `dl-${randomUUID().slice(0, 8)}`;
    });

    afterEach(async () => {
      for (const { app, worker } of workers.splice(0)) {
        await worker.stop();
        await app.close();
      }
      await h.close();
      await cleanup();
    });

    /** A worker on `q` (another app on the broker, as another process would be) knowing `tasks`. */
    async function startWorker(tasks: Record<string, (...args: number[]) => unknown>): Promise<Worker> {
      const app = new Celerity('api-dead-letters', { broker: brokerUrl, backend: h.app.conf.backend, loglevel: 'silent' }, {});
      for (const [name, fn] of Object.entries(tasks)) app.task(name, fn);
      const worker = app.worker({ concurrency: 1, queues: [q], hostname: `dl-${randomUUID().slice(0, 8)}@test` });
      workers.push({ app, worker });
      await worker.start();
      return worker;
    }

    /** Sends `ops.mul` with each pair to `q`, where a worker that does not know the task rejects each into the dead letters. */
    async function deadLetter(...pairs: [number, number][]): Promise<string[]> {
      const worker = await startWorker({});
      const ids: string[] = [];
      const rejected = new Promise<void>((resolve) => {
        const seen = new Set<string>();
        worker.on('task-rejected', ({ id, requeue }) => {
          if (id && !requeue) seen.add(id);
          if (ids.length === pairs.length && ids.every((i) => seen.has(i))) resolve();
        });
      });
      // One at a time, so the letters are made in this order.
      for (const pair of pairs) ids.push((await h.app.sendTask('ops.mul', pair, { queue: q })).id);
      await rejected;
      const entry = workers.pop()!;
      await entry.worker.stop();
      await entry.app.close();
      return ids;
    }

    const listLetters = async (query = `queue=${q}`): Promise<Letter[]> => {
      const res = await h.api.inject({ method: 'GET', url: `/api/v1/dead-letters?${query}` });
      expect(res.statusCode).toBe(200);
      return res.json().deadLetters;
    };
    const post = (url: string, payload: unknown) => h.api.inject({ method: 'POST', url, payload: payload as object });

    it('lists, requeues (the task then runs), deletes one and many; unknown ids are 404s', async () => {
      const [a, b, c, d] = (await deadLetter([6, 7], [2, 3], [1, 1], [5, 5])) as [string, string, string, string];
      const letters = await listLetters();
      expect(letters.map((l) => l.taskId)).toEqual([d, c, b, a]);
      expect(letters[3]).toMatchObject({ queue: q, taskName: 'ops.mul', taskId: a });
      expect(letters[3]!.reason).toMatch(/ops\.mul/);
      expect(letters[3]!.argsPreview).toContain('6, 7');
      expect(letters[3]!.failedAt).toBeLessThanOrEqual(Date.now());
      expect((await listLetters(`queue=${q}&limit=1`)).map((l) => l.taskId)).toEqual([d]);
      expect(await listLetters(`queue=other-${q}`)).toEqual([]);
      const letterOf = (taskId: string) => letters.find((l) => l.taskId === taskId)!.id;

      const byId = await post('/api/v1/dead-letters/requeue', { ids: [letterOf(a), 'no-such-letter'] });
      expect(byId.statusCode).toBe(200);
      expect(byId.json()).toEqual({ requeued: 1, notFound: ['no-such-letter'], unreadable: [] });

      const deleted = await h.api.inject({ method: 'DELETE', url: `/api/v1/dead-letters/${encodeURIComponent(letterOf(b))}` });
      expect(deleted.statusCode).toBe(200);
      expect(deleted.json()).toEqual({ deleted: 1, notFound: [] });
      const again = await h.api.inject({ method: 'DELETE', url: `/api/v1/dead-letters/${encodeURIComponent(letterOf(b))}` });
      expect(again.statusCode).toBe(404);
      expect(again.json()).toMatchObject({ status: 404, field: '/params/id' });

      const noneKnown = await post('/api/v1/dead-letters/delete', { ids: ['nope-1', 'nope-2'] });
      expect(noneKnown.statusCode).toBe(404);
      expect(noneKnown.json()).toMatchObject({ field: '/body/ids' });
      const bulk = await post('/api/v1/dead-letters/delete', { ids: [letterOf(c), 'nope-1'] });
      expect(bulk.json()).toEqual({ deleted: 1, notFound: ['nope-1'] });

      const all = await post('/api/v1/dead-letters/requeue', { queue: q, all: true });
      expect(all.json()).toEqual({ requeued: 1, notFound: [], unreadable: [] });
      expect(await listLetters()).toEqual([]);
      const nothingLeft = await post('/api/v1/dead-letters/requeue', { ids: [letterOf(d)] });
      expect(nothingLeft.statusCode).toBe(404);

      // The two requeued messages wait on their queue; a worker that knows the task runs them.
      const worker = await startWorker({ 'ops.mul': (x, y) => x * y });
      const results = new Map<string, unknown>();
      await new Promise<void>((resolve) => {
        worker.on('task-succeeded', ({ id, result }) => {
          results.set(id, result);
          if (results.size === 2) resolve();
        });
        if (results.size === 2) resolve();
      });
      expect(Object.fromEntries(results)).toEqual({ [a]: 42, [d]: 25 });
    });

    it('refuses bad bodies and query strings with a 400 naming the field', async () => {
      const cases: [string, unknown, string][] = [
        ['/api/v1/dead-letters/requeue', {}, '/body/ids'],
        ['/api/v1/dead-letters/requeue', { ids: [] }, '/body/ids'],
        ['/api/v1/dead-letters/requeue', { ids: ['1'], all: true }, '/body/all'],
        ['/api/v1/dead-letters/requeue', { all: false }, '/body/all'],
        ['/api/v1/dead-letters/requeue', { ids: ['1'], queue: q }, '/body/queue'],
        ['/api/v1/dead-letters/requeue', { ids: [''] }, '/body/ids/0'],
        ['/api/v1/dead-letters/delete', { ids: 'x' }, '/body/ids'],
        ['/api/v1/dead-letters/delete', { ids: Array.from({ length: 1001 }, (_, i) => String(i)) }, '/body/ids'],
      ];
      for (const [url, body, field] of cases) {
        const res = await post(url, body);
        expect(res.statusCode, JSON.stringify(body)).toBe(400);
        expect(res.headers['content-type']).toContain('application/problem+json');
        expect(res.json().field, JSON.stringify(body)).toBe(field);
      }
      for (const limit of ['0', '-1', '2.5', 'ten', '1001']) {
        const res = await h.api.inject({ method: 'GET', url: `/api/v1/dead-letters?limit=${limit}` });
        expect(res.statusCode, limit).toBe(400);
        expect(res.json().field, limit).toBe('/query/limit');
      }
      expect((await h.api.inject({ method: 'DELETE', url: '/api/v1/dead-letters/bad%01id' })).statusCode).toBe(400);
    });
  });
}

describe('dead letters another tool wrote', () => {
  it('a letter whose stored text cannot be read is listed without a preview, and a requeue leaves it where it is', async () => {
    const h = await startApiHarness();
    try {
      await h.app.broker();
      const db = openDatabase(sqlitePathFromUrl(h.app.conf.broker, 'broker'));
      try {
        db.prepare("INSERT INTO dead_letters (queue, reason, raw, task_id, task_name, failed_at) VALUES ('q', 'foreign', 'not json', NULL, NULL, ?)").run(Date.now());
      } finally {
        db.close();
      }
      const [letter] = (await h.api.inject({ method: 'GET', url: '/api/v1/dead-letters' })).json().deadLetters;
      expect(letter).toMatchObject({ queue: 'q', reason: 'foreign', taskId: null, taskName: null, argsPreview: null });
      const res = await h.api.inject({ method: 'POST', url: '/api/v1/dead-letters/requeue', payload: { ids: [letter.id] } });
      expect(res.statusCode).toBe(200);
      expect(res.json()).toEqual({ requeued: 0, notFound: [], unreadable: [letter.id] });
      expect((await h.api.inject({ method: 'GET', url: '/api/v1/dead-letters' })).json().deadLetters).toEqual([letter]);
    } finally {
      await h.close();
    }
  });
});
