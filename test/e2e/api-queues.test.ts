/**
 * The queues routes on the SQLite default and on Redis: depth from the broker, consumers from the workers'
 * active_queues replies, the no-consumer warning, and the oldest message's age with its source: the SQLite store's
 * own publish times, or on Redis (whose lists keep none) the oldest task of the queue still PENDING in the history.
 */
import { randomUUID } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Celerity, type Worker } from '../../src/index.js';
import { oldestPending } from '../../src/api/routes/queues.js';
import { openDatabase, sqlitePathFromUrl } from '../../src/sqlite/open.js';
import { startApiHarness } from '../api-harness.js';
import { freshVhost, pingRabbit, pingRedis, requireService } from '../services.js';
import { deleteRedisKeys } from './api-ops-fixtures.js';

const REDIS = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379/0';
const redis = await requireService('Redis', () => pingRedis(REDIS));
const rabbit = await requireService('RabbitMQ', () => pingRabbit());

/** The brokers that keep no enqueue time, each in a space of its own (a key prefix, a vhost). */
const WITHOUT_AGE = [
  {
    name: 'Redis',
    skip: redis.ok ? null : redis.reason,
    scope: async () => {
      const prefix = `celerity-test-${randomUUID()}:`;
      return { broker: `${REDIS}?global_keyprefix=${prefix}`, cleanup: () => deleteRedisKeys(REDIS, prefix) };
    },
  },
  {
    name: 'RabbitMQ',
    skip: rabbit.ok ? null : rabbit.reason,
    scope: async () => {
      const space = await freshVhost('api-queues');
      return { broker: space.url, cleanup: () => space.remove() };
    },
  },
];

type Harness = Awaited<ReturnType<typeof startApiHarness>>;

interface QueueRow {
  name: string;
  messages: number;
  consumers: number | null;
  consumerNames: string[] | null;
  oldestMessageAgeSeconds: number | null;
  oldestMessageAgeSource: string | null;
  warning: string | null;
}

describe('queues API', () => {
  let h: Harness;
  let workerApp: Celerity | null = null;
  let worker: Worker | null = null;
  let cleanup: (() => Promise<void>) | null = null;

  afterEach(async () => {
    await worker?.stop();
    await workerApp?.close();
    worker = null;
    workerApp = null;
    await h.close();
    await cleanup?.();
    cleanup = null;
  });

  const list = async (): Promise<QueueRow[]> => {
    const res = await h.api.inject({ method: 'GET', url: '/api/v1/queues?timeout=5' });
    expect(res.statusCode).toBe(200);
    return res.json().queues;
  };
  const row = async (name: string): Promise<QueueRow> => (await list()).find((q) => q.name === name)!;

  /** A worker (another app on the broker, as another process would be) consuming `queues`. */
  async function startWorker(broker: string, queues: string[]): Promise<string> {
    workerApp = new Celerity('api-queues', { broker, backend: h.app.conf.backend, loglevel: 'silent' }, {});
    const hostname = `q-${randomUUID().slice(0, 8)}@test`;
    worker = workerApp.worker({ concurrency: 1, hostname, queues });
    await worker.start();
    return hostname;
  }

  describe('on SQLite (the broker keeps publish times)', () => {
    beforeEach(async () => {
      h = await startApiHarness();
    });

    it('shows depth, no consumers and the warning for the default queue, and the age the store keeps', async () => {
      expect(await row('celery')).toEqual({
        name: 'celery',
        messages: 0,
        consumers: 0,
        consumerNames: [],
        oldestMessageAgeSeconds: null,
        oldestMessageAgeSource: null,
        warning: null,
      });
      const before = Date.now();
      await h.app.sendTask('ops.add', [1, 2]);
      await h.app.sendTask('ops.add', [3, 4]);
      const fresh = await row('celery');
      const elapsed = (Date.now() - before) / 1000;
      expect(fresh).toMatchObject({ messages: 2, consumers: 0, warning: 'no-consumer', oldestMessageAgeSource: 'broker' });
      expect(fresh.oldestMessageAgeSeconds).toBeGreaterThanOrEqual(0);
      expect(fresh.oldestMessageAgeSeconds).toBeLessThanOrEqual(elapsed);

      // The first message published an hour ago, as the store would hold it had it waited that long.
      const db = openDatabase(sqlitePathFromUrl(h.app.conf.broker, 'broker'));
      try {
        db.prepare("UPDATE messages SET created_at = created_at - 3600000 WHERE id = (SELECT min(id) FROM messages WHERE queue = 'celery')").run();
      } finally {
        db.close();
      }
      const old = await row('celery');
      expect(old.oldestMessageAgeSeconds).toBeGreaterThanOrEqual(3600);
      expect(old.oldestMessageAgeSeconds).toBeLessThan(3600 + elapsed + 60);
    });

    it('counts the workers consuming a queue, lists queues only a worker consumes, and clears the warning', async () => {
      const extra = `only-consumed-${randomUUID().slice(0, 8)}`;
      const hostname = await startWorker(h.app.conf.broker, [extra]);
      await h.app.sendTask('ops.add', [1, 2]);
      const queues = await list();
      expect(queues.map((q) => q.name)).toEqual(expect.arrayContaining(['celery', extra]));
      expect(queues.find((q) => q.name === extra)).toMatchObject({ messages: 0, consumers: 1, consumerNames: [hostname], warning: null });
      expect(queues.find((q) => q.name === 'celery')).toMatchObject({ messages: 1, consumers: 0, warning: 'no-consumer' });

      const one = await h.api.inject({ method: 'GET', url: `/api/v1/queues/${extra}?timeout=5` });
      expect(one.statusCode).toBe(200);
      expect(one.json()).toMatchObject({ name: extra, consumers: 1, consumerNames: [hostname] });
    });

    it('GET /queues/{name}: a known queue, a stray queue holding messages, a 404 for an unknown empty one, 400 for bad input', async () => {
      const known = await h.api.inject({ method: 'GET', url: '/api/v1/queues/celery' });
      expect(known.statusCode).toBe(200);
      expect(known.json()).toMatchObject({ name: 'celery', messages: 0 });

      const stray = `stray-${randomUUID().slice(0, 8)}`;
      await h.app.sendTask('ops.add', [1, 2], { queue: stray });
      const held = await h.api.inject({ method: 'GET', url: `/api/v1/queues/${stray}` });
      expect(held.statusCode).toBe(200);
      expect(held.json()).toMatchObject({ name: stray, messages: 1, consumers: 0, warning: 'no-consumer', oldestMessageAgeSource: 'broker' });

      const unknown = await h.api.inject({ method: 'GET', url: `/api/v1/queues/nope-${randomUUID().slice(0, 8)}` });
      expect(unknown.statusCode).toBe(404);
      expect(unknown.headers['content-type']).toContain('application/problem+json');
      expect(unknown.json()).toMatchObject({ status: 404, field: '/params/name' });

      const control = await h.api.inject({ method: 'GET', url: '/api/v1/queues/bad%01name' });
      expect(control.statusCode).toBe(400);
      expect(control.json().field).toBe('/params/name');
      for (const timeout of ['-1', 'soon', '999']) {
        const res = await h.api.inject({ method: 'GET', url: `/api/v1/queues?timeout=${timeout}` });
        expect(res.statusCode, timeout).toBe(400);
        expect(res.json().field, timeout).toBe('/query/timeout');
      }
    });

    it('finds the oldest PENDING task of a queue in the history past its first page', async () => {
      const base = Date.now() - 86_400_000;
      const updates = Array.from({ length: 2500 }, (_, i) => ({
        id: `pending-${i}`,
        timestamp: base + 1000 + i * 7,
        state: 'PENDING',
        fields: { name: 'ops.add', queue: i % 2 ? 'odd' : 'even' },
      }));
      // A task of the queue that has since started is not waiting any more.
      updates.push({ id: 'started-early', timestamp: base, state: 'STARTED', fields: { name: 'ops.add', queue: 'odd' } });
      await h.history.apply(updates);
      expect(await oldestPending(h.history, 'odd')).toBe(base + 1000 + 7);
      expect(await oldestPending(h.history, 'even')).toBe(base + 1000);
      expect(await oldestPending(h.history, 'none')).toBeNull();
    });
  });

  for (const store of WITHOUT_AGE) {
    describe.skipIf(store.skip !== null)(`on ${store.name} (the age comes from the history)${store.skip ? ` (${store.skip})` : ''}`, () => {
      let broker: string;

      beforeEach(async () => {
        const scope = await store.scope();
        cleanup = scope.cleanup;
        broker = scope.broker;
        h = await startApiHarness({ broker });
      });

      it('depth and consumers from the broker, the oldest task sent through the API still PENDING as the age, the no-consumer warning', async () => {
        const idle = `idle-${randomUUID().slice(0, 8)}`;
        const hostname = await startWorker(broker, [idle]);
        const before = Date.now();
        // Sent through the API, which records each task in the history as PENDING with its queue.
        for (const args of [[1, 2], [3, 4]]) {
          const sent = await h.api.inject({ method: 'POST', url: '/api/v1/tasks', payload: { name: 'ops.add', args } });
          expect(sent.statusCode).toBe(202);
        }
        await h.monitor.flush();
        const aged = await row('celery');
        expect(aged).toMatchObject({ messages: 2, consumers: 0, warning: 'no-consumer', oldestMessageAgeSource: 'history' });
        expect(aged.oldestMessageAgeSeconds).toBeGreaterThanOrEqual(0);
        expect(aged.oldestMessageAgeSeconds).toBeLessThanOrEqual((Date.now() - before) / 1000);
        expect(await row(idle)).toMatchObject({ messages: 0, consumers: 1, consumerNames: [hostname], oldestMessageAgeSeconds: null, oldestMessageAgeSource: null, warning: null });
      });
    });
  }
});
