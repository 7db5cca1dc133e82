/**
 * The workers routes against a real Celerity worker, on the SQLite default and on Redis: the list (from heartbeats,
 * and live with refresh=true), the detail (registered tasks, pool, consumers), pool grow/shrink changing the
 * concurrency the worker reports, add/cancel consumer changing its active_queues, a refused command as a 409, an
 * unknown worker as a 404, bad input as a 400 naming the field, and shutdown stopping the worker.
 */
import { randomUUID } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Celerity, type Worker } from '../../src/index.js';
import { generateToken, hashToken, parseCredentials } from '../../src/api/auth.js';
import { startApiHarness } from '../api-harness.js';
import { nextEvent } from '../helpers.js';
import { pingRedis, requireService } from '../services.js';
import { deleteRedisKeys, seenBy } from './api-ops-fixtures.js';

const REDIS = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379/0';
const redis = await requireService('Redis', () => pingRedis(REDIS));

type Harness = Awaited<ReturnType<typeof startApiHarness>>;

const STORES = [
  { name: 'sqlite', skip: null as string | null, url: () => ({ broker: undefined as string | undefined, prefix: null as string | null }) },
  {
    name: 'redis',
    skip: redis.ok ? null : redis.reason,
    url: () => {
      const prefix = `celerity-test-${randomUUID()}:`;
      return { broker: `${REDIS}?global_keyprefix=${prefix}`, prefix };
    },
  },
];

for (const store of STORES) {
  describe.skipIf(store.skip !== null)(`workers API on ${store.name}${store.skip ? ` (${store.skip})` : ''}`, () => {
    let h: Harness;
    let workerApp: Celerity;
    let worker: Worker;
    let hostname: string;
    let prefix: string | null;
    let stopped = false;

    beforeEach(async () => {
      const scope = store.url();
      prefix = scope.prefix;
      h = await startApiHarness(scope.broker ? { broker: scope.broker } : {});
      // The worker is another app on the same broker, as a worker process would be.
      const url = scope.broker ?? h.app.conf.broker;
      workerApp = new Celerity('api-workers', { broker: url, backend: h.app.conf.backend, loglevel: 'silent' }, {});
      workerApp.task('ops.add', (x: number, y: number) => x + y);
      workerApp.task('ops.echo', (x: unknown) => x);
      hostname = `api-${randomUUID().slice(0, 8)}@test`;
      worker = workerApp.worker({ concurrency: 2, hostname, queues: ['celery'], node: { heartbeatInterval: 0.2 } });
      stopped = false;
      worker.on('stopped', () => (stopped = true));
      await worker.start();
    });

    afterEach(async () => {
      if (!stopped) await worker.stop();
      await workerApp.close();
      await h.close();
      if (prefix) await deleteRedisKeys(REDIS, prefix);
    });

    const get = (url: string) => h.api.inject({ method: 'GET', url });
    const post = (url: string, payload?: object) => h.api.inject({ method: 'POST', url, ...(payload ? { payload } : {}) });
    const detail = async () => (await get(`/api/v1/workers/${encodeURIComponent(hostname)}?timeout=5`)).json();

    it('lists the worker from its heartbeats, and with refresh=true its pool, concurrency and queues', async () => {
      await seenBy(h.monitor, hostname);
      const plain = await get('/api/v1/workers');
      expect(plain.statusCode).toBe(200);
      const listed = plain.json().workers.find((w: { name: string }) => w.name === hostname);
      expect(listed).toMatchObject({ name: hostname, online: true, swIdent: 'celerity', pid: process.pid, pool: null, concurrency: null, queues: null });
      expect(listed.lastHeartbeat).toBeGreaterThan(Date.now() - 60_000);
      expect(plain.json().refreshed).toBe(false);

      const live = await get('/api/v1/workers?refresh=true&timeout=5');
      expect(live.statusCode).toBe(200);
      expect(live.json().refreshed).toBe(true);
      const refreshed = live.json().workers.find((w: { name: string }) => w.name === hostname);
      expect(refreshed).toMatchObject({ online: true, concurrency: 2, queues: ['celery'], pool: { maxConcurrency: 2, implementation: 'celerity:async' } });
    });

    it('shows registered tasks, stats with the pool, consumers and settings in the detail', async () => {
      const res = await get(`/api/v1/workers/${encodeURIComponent(hostname)}?timeout=5`);
      expect(res.statusCode).toBe(200);
      const body = res.json();
      expect(body).toMatchObject({ name: hostname, answered: true, online: true, concurrency: 2, queues: ['celery'], activeTasks: [], reserved: [], scheduled: [] });
      expect(body.registered).toEqual(expect.arrayContaining(['ops.add', 'ops.echo']));
      expect(body.stats.pool['max-concurrency']).toBe(2);
      expect(body.consumers).toEqual([expect.objectContaining({ name: 'celery' })]);
      expect(body.conf).toEqual(expect.any(Object));
      // The broker URL is among the settings changed from the defaults; a password in it would be masked.
      expect(JSON.stringify(body.conf)).not.toMatch(/:[^:@/]+@/);
    });

    it('grows and shrinks the pool: the worker reports the new concurrency; a shrink below one slot is refused with 409', async () => {
      const name = encodeURIComponent(hostname);
      const grow = await post(`/api/v1/workers/${name}/pool/grow?timeout=5`, { n: 2 });
      expect(grow.statusCode).toBe(200);
      expect(grow.json()).toEqual({ worker: hostname, ok: 'pool will grow' });
      expect((await detail()).concurrency).toBe(4);

      const shrink = await post(`/api/v1/workers/${name}/pool/shrink?timeout=5`, { n: 3 });
      expect(shrink.json()).toEqual({ worker: hostname, ok: 'pool will shrink' });
      expect((await detail()).concurrency).toBe(1);

      const refused = await post(`/api/v1/workers/${name}/pool/shrink?timeout=5`, { n: 1 });
      expect(refused.statusCode).toBe(409);
      expect(refused.headers['content-type']).toContain('application/problem+json');
      expect(refused.json().detail).toContain('at least one slot must remain');
      expect((await detail()).concurrency).toBe(1);

      const noAutoscale = await post(`/api/v1/workers/${name}/autoscale?timeout=5`, { max: 4, min: 1 });
      expect(noAutoscale.statusCode).toBe(409);
      expect(noAutoscale.json().detail).toContain('Autoscale not enabled');
    });

    it('adds and cancels a consumer: active_queues follows', async () => {
      const name = encodeURIComponent(hostname);
      const extra = `extra-${randomUUID().slice(0, 8)}`;
      const add = await post(`/api/v1/workers/${name}/consumers?timeout=5`, { queue: extra });
      expect(add.statusCode).toBe(200);
      expect(add.json()).toEqual({ worker: hostname, ok: `add consumer ${extra}` });
      expect((await detail()).queues).toEqual(['celery', extra]);

      const cancel = await h.api.inject({ method: 'DELETE', url: `/api/v1/workers/${name}/consumers/${extra}?timeout=5` });
      expect(cancel.statusCode).toBe(200);
      expect(cancel.json()).toEqual({ worker: hostname, ok: `no longer consuming from ${extra}` });
      expect((await detail()).queues).toEqual(['celery']);
    });

    it('refuses bad input with a 400 naming the field, and an unknown worker with a 404', async () => {
      const name = encodeURIComponent(hostname);
      for (const [payload, field] of [
        [{ n: 0 }, '/body/n'],
        [{ n: 1.5 }, '/body/n'],
        [{ n: '2' }, '/body/n'],
        [{}, '/body/n'],
        [{ n: 1, extra: true }, '/body/extra'],
      ] as const) {
        const res = await post(`/api/v1/workers/${name}/pool/grow`, payload);
        expect(res.statusCode, JSON.stringify(payload)).toBe(400);
        expect(res.json().field, JSON.stringify(payload)).toBe(field);
      }
      const minAboveMax = await post(`/api/v1/workers/${name}/autoscale`, { max: 2, min: 3 });
      expect(minAboveMax.statusCode).toBe(400);
      expect(minAboveMax.json().field).toBe('/body/min');
      const noQueue = await post(`/api/v1/workers/${name}/consumers`, { queue: '' });
      expect(noQueue.statusCode).toBe(400);
      expect(noQueue.json().field).toBe('/body/queue');
      const badTimeout = await get(`/api/v1/workers/${name}?timeout=soon`);
      expect(badTimeout.statusCode).toBe(400);
      expect(badTimeout.json().field).toBe('/query/timeout');

      const nobody = `nobody-${randomUUID().slice(0, 8)}@test`;
      const missing = await get(`/api/v1/workers/${nobody}?timeout=0.3`);
      expect(missing.statusCode).toBe(404);
      expect(missing.json()).toMatchObject({ status: 404, field: '/params/name' });
      expect((await post(`/api/v1/workers/${nobody}/pool/grow?timeout=0.3`, { n: 1 })).statusCode).toBe(404);
      expect((await post(`/api/v1/workers/${nobody}/shutdown?timeout=0.3`)).statusCode).toBe(404);
    });

    it('shuts the worker down; a worker the monitor saw that no longer answers is a 504', async () => {
      await seenBy(h.monitor, hostname);
      const done = nextEvent(worker, 'stopped');
      const res = await post(`/api/v1/workers/${encodeURIComponent(hostname)}/shutdown?timeout=5`);
      expect(res.statusCode).toBe(202);
      expect(res.json()).toEqual({ worker: hostname, ok: 'shutdown requested' });
      await done;
      const silent = await post(`/api/v1/workers/${encodeURIComponent(hostname)}/pool/grow?timeout=0.3`, { n: 1 });
      expect(silent.statusCode).toBe(504);
      expect(silent.json().detail).toContain('did not answer within 0.3 s');
      // The detail still shows what the heartbeats said, marked as not answering.
      const after = await get(`/api/v1/workers/${encodeURIComponent(hostname)}?timeout=0.3`);
      expect(after.statusCode).toBe(200);
      expect(after.json()).toMatchObject({ name: hostname, answered: false, registered: null });
    });
  });
}

describe('workers, queues and dead-letters in the API description', () => {
  it('every route is in the OpenAPI document with its parameters', async () => {
    const h = await startApiHarness();
    try {
      const res = await h.api.inject({ method: 'GET', url: '/api/v1/openapi.json' });
      expect(res.statusCode).toBe(200);
      const paths = res.json().paths as Record<string, Record<string, unknown>>;
      expect(Object.keys(paths['/api/v1/workers']!)).toEqual(['get']);
      expect(Object.keys(paths['/api/v1/workers/{name}/pool/grow']!)).toEqual(['post']);
      expect(Object.keys(paths['/api/v1/workers/{name}/consumers/{queue}']!)).toEqual(['delete']);
      expect(Object.keys(paths['/api/v1/workers/{name}/shutdown']!)).toEqual(['post']);
      expect(Object.keys(paths['/api/v1/queues/{name}']!)).toEqual(['get']);
      expect(Object.keys(paths['/api/v1/dead-letters/requeue']!)).toEqual(['post']);
      expect(Object.keys(paths['/api/v1/dead-letters/{id}']!)).toEqual(['delete']);
    } finally {
      await h.close();
    }
  });
});

describe('workers actions and access', () => {
  it('a read-only caller sees the worker but cannot change it (403, nothing sent); a read-write caller can', async () => {
    const ro = generateToken();
    const rw = generateToken();
    const h = await startApiHarness({ credentials: parseCredentials({ apiUsers: [], apiTokens: [`${hashToken(ro)}:ro`, hashToken(rw)] }) });
    const workerApp = new Celerity('api-access', { broker: h.app.conf.broker, backend: h.app.conf.backend, loglevel: 'silent' }, {});
    const hostname = `access-${randomUUID().slice(0, 8)}@test`;
    const worker = workerApp.worker({ concurrency: 1, hostname });
    await worker.start();
    try {
      const as = (token: string) => ({ authorization: `Bearer ${token}` });
      const url = `/api/v1/workers/${encodeURIComponent(hostname)}`;
      const seen = await h.api.inject({ method: 'GET', url: `${url}?timeout=5`, headers: as(ro) });
      expect(seen.statusCode).toBe(200);
      expect(seen.json().concurrency).toBe(1);
      const refused = await h.api.inject({ method: 'POST', url: `${url}/pool/grow?timeout=5`, headers: as(ro), payload: { n: 1 } });
      expect(refused.statusCode).toBe(403);
      expect((await h.api.inject({ method: 'GET', url: `${url}?timeout=5`, headers: as(ro) })).json().concurrency).toBe(1);
      const grown = await h.api.inject({ method: 'POST', url: `${url}/pool/grow?timeout=5`, headers: as(rw), payload: { n: 1 } });
      expect(grown.statusCode).toBe(200);
      expect((await h.api.inject({ method: 'GET', url: `${url}?timeout=5`, headers: as(ro) })).json().concurrency).toBe(2);
      expect((await h.api.inject({ method: 'GET', url: '/api/v1/workers' })).statusCode).toBe(401);
    } finally {
      await worker.stop();
      await workerApp.close();
      await h.close();
    }
  });
});
