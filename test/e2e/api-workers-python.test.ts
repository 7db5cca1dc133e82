/**
 * A real Python Celery 5.2 worker on Redis appears in the workers API beside a Celerity worker: both from their
 * heartbeats (told apart by sw_ident), both answering the live refresh and the detail route, and a control action
 * reaches the Python worker too. Both workers and the API share a key prefix of their own on Redis.
 */
import type { ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Celerity, type Worker } from '../../src/index.js';
import { startApiHarness } from '../api-harness.js';
import { pythonCeleryOnRedis, requireService } from '../services.js';
import { startControlProjWorker, stopProcesses } from '../interop/processes.js';
import { deleteRedisKeys, seenBy } from './api-ops-fixtures.js';

const REDIS = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379/0';
const ready = await requireService('Python Celery 5 on Redis', () => pythonCeleryOnRedis(REDIS));

describe.skipIf(!ready.ok)(`workers API with a Python Celery worker${ready.ok ? '' : ` (${ready.reason})`}`, () => {
  const run = randomUUID().slice(0, 8);
  const prefix = `celerity-test-${run}:`;
  const broker = `${REDIS}?global_keyprefix=${prefix}`;
  const queue = `api-py-${run}`;
  const pyNode = `py-${run}@test`;
  const tsNode = `ts-${run}@test`;
  const procs: ChildProcess[] = [];
  let h: Awaited<ReturnType<typeof startApiHarness>>;
  let tsApp: Celerity;
  let tsWorker: Worker;

  beforeAll(async () => {
    h = await startApiHarness({ broker });
    tsApp = new Celerity('api-py', { broker, backend: h.app.conf.backend, loglevel: 'silent' }, {});
    tsApp.task('ops.add', (x: number, y: number) => x + y);
    tsWorker = tsApp.worker({ concurrency: 1, hostname: tsNode, queues: [queue], node: { heartbeatInterval: 0.5 } });
    await tsWorker.start();
    await startControlProjWorker(procs, { redis: REDIS, prefix, queue, node: pyNode, concurrency: 2 });
  }, 60_000);

  afterAll(async () => {
    await stopProcesses(procs);
    await tsWorker?.stop();
    await tsApp?.close();
    await h?.close();
    await deleteRedisKeys(REDIS, prefix);
  });

  it('lists both workers from their heartbeats, told apart by sw_ident, and both answer the live refresh', async () => {
    await Promise.all([seenBy(h.monitor, pyNode), seenBy(h.monitor, tsNode)]);
    const res = await h.api.inject({ method: 'GET', url: '/api/v1/workers?refresh=true&timeout=5' });
    expect(res.statusCode).toBe(200);
    const byName = Object.fromEntries(res.json().workers.map((w: { name: string }) => [w.name, w]));
    expect(byName[pyNode]).toMatchObject({ online: true, swIdent: 'py-celery', concurrency: 2, queues: [queue] });
    expect(byName[pyNode].pool.processes).toHaveLength(2);
    expect(byName[tsNode]).toMatchObject({ online: true, swIdent: 'celerity', concurrency: 1, queues: [queue] });
  });

  it("shows the Python worker's registered tasks, pool, consumers and settings, and grows its pool", async () => {
    const name = encodeURIComponent(pyNode);
    const res = await h.api.inject({ method: 'GET', url: `/api/v1/workers/${name}?timeout=5` });
    expect(res.statusCode).toBe(200);
    const body = res.json();
    expect(body).toMatchObject({ answered: true, swIdent: 'py-celery', concurrency: 2, queues: [queue], activeTasks: [] });
    expect(body.registered).toEqual(expect.arrayContaining(['control.add', 'control.sleep']));
    expect(body.conf).toMatchObject({ task_default_queue: queue });
    // Celery masks the broker password itself; the route masks what a worker would not.
    expect(JSON.stringify(body.conf)).not.toMatch(/:[^:@/]+@/);

    const grow = await h.api.inject({ method: 'POST', url: `/api/v1/workers/${name}/pool/grow?timeout=5`, payload: { n: 1 } });
    expect(grow.statusCode).toBe(200);
    expect(grow.json()).toEqual({ worker: pyNode, ok: 'pool will grow' });
    const noAutoscale = await h.api.inject({ method: 'POST', url: `/api/v1/workers/${name}/autoscale?timeout=5`, payload: { max: 3, min: 1 } });
    expect(noAutoscale.statusCode).toBe(409);
    expect(noAutoscale.json().detail).toContain('Autoscale not enabled');
  });
});
