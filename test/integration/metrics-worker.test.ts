/**
 * A real worker on Redis with `metricsPort: 0`: its /metrics, /healthz and /readyz over HTTP while it runs tasks,
 * the server gone once the worker stops, and a start that fails, naming metricsPort, when the port is taken.
 */
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { Celerity, type Worker } from '../../src/index.js';
import { deferred, nextEvent } from '../helpers.js';
import { pingRedis, requireService } from '../services.js';
import { parseExposition } from '../unit/metrics-parse.js';

const URL = 'redis://127.0.0.1:6379/11';
const redis = await requireService('Redis', () => pingRedis(URL));

const cleanups: (() => Promise<void>)[] = [];

afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function newApp(conf: Record<string, unknown> = {}): { app: Celerity; queue: string } {
  const queue = `metrics-${randomUUID().slice(0, 8)}`;
  const app = new Celerity('metrics-test', { broker: URL, backend: URL, loglevel: 'silent', defaultQueue: queue, resultExpires: 300, ...conf }, {});
  cleanups.push(() => app.close());
  return { app, queue };
}

async function startWorker(app: Celerity, queue: string): Promise<Worker> {
  const worker = app.worker({ concurrency: 2, queues: [queue], hostname: `metrics-${queue}@test` });
  await worker.start();
  cleanups.unshift(() => worker.stop({ timeout: 0 }));
  return worker;
}

async function scrape(worker: Worker) {
  const res = await fetch(`${worker.metricsUrl}/metrics`);
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toContain('text/plain');
  return parseExposition(await res.text());
}

describe.skipIf(!redis.ok)(`worker metrics server on Redis${redis.ok ? '' : ` (${redis.reason})`}`, () => {
  it('counts the tasks it runs by name and state, and shows its slots, prefetch, running tasks and process', async () => {
    const { app, queue } = newApp({ metricsPort: 0 });
    const gate = deferred();
    app.task('m.add', (x: number, y: number) => x + y);
    app.task('m.boom', () => {
      throw new TypeError('no good');
    });
    app.task('m.block', () => gate.promise.then(() => 'done'));
    const worker = await startWorker(app, queue);
    expect(worker.metricsUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);

    // Results are visible to the client a moment before the worker's events: the counts are read after those.
    let added = 0;
    const allAdded = new Promise<void>((resolve) => worker.on('task-succeeded', ({ name }) => name === 'm.add' && ++added === 3 && resolve()));
    const results = await Promise.all([1, 2, 3].map((n) => app.sendTask('m.add', [n, n])));
    expect(await Promise.all(results.map((r) => r.get({ timeout: 10_000 })))).toEqual([2, 4, 6]);
    await allAdded;
    const failed = nextEvent(worker, 'task-failed');
    const boom = await app.sendTask('m.boom', []);
    await expect(boom.get({ timeout: 10_000 })).rejects.toThrow('no good');
    await failed;

    const started = nextEvent(worker, 'task-started', (req) => req.task === 'm.block');
    const block = await app.sendTask('m.block', []);
    await started;
    let m = await scrape(worker);
    const hostname = worker.hostname;
    expect(m.value('celerity_worker_tasks_total', { name: 'm.add', state: 'received' })).toBe(3);
    expect(m.value('celerity_worker_tasks_total', { name: 'm.add', state: 'started' })).toBe(3);
    expect(m.value('celerity_worker_tasks_total', { name: 'm.add', state: 'succeeded', worker: hostname })).toBe(3);
    expect(m.value('celerity_worker_tasks_total', { name: 'm.boom', state: 'failed' })).toBe(1);
    expect(m.value('celerity_worker_task_runtime_seconds_count', { name: 'm.add', state: 'succeeded' })).toBe(3);
    expect(m.types.get('celerity_worker_task_runtime_seconds')).toBe('histogram');
    expect(m.value('celerity_worker_tasks_active')).toBe(1);
    expect(m.value('celerity_worker_tasks_reserved')).toBe(0);
    expect(m.value('celerity_worker_concurrency')).toBe(2);
    expect(m.value('celerity_worker_prefetch_count')).toBe(worker.prefetch);
    expect(m.find('process_cpu_user_seconds_total')).toHaveLength(1);
    expect(m.find('nodejs_eventloop_lag_seconds')).toHaveLength(1);

    const blockDone = nextEvent(worker, 'task-succeeded', ({ name }) => name === 'm.block');
    gate.resolve();
    expect(await block.get({ timeout: 10_000 })).toBe('done');
    await blockDone;
    m = await scrape(worker);
    expect(m.value('celerity_worker_tasks_total', { name: 'm.block', state: 'succeeded' })).toBe(1);
  });

  it('serves /healthz and /readyz (its broker and backend), refuses other methods and paths, and stops with the worker', async () => {
    const { app, queue } = newApp({ metricsPort: 0 });
    const worker = await startWorker(app, queue);
    const base = worker.metricsUrl!;

    const health = await fetch(`${base}/healthz`);
    expect(health.status).toBe(200);
    expect(await health.json()).toEqual({ status: 'ok' });
    const ready = await fetch(`${base}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({ status: 'ok', checks: { broker: { ok: true }, backend: { ok: true } } });
    expect((await fetch(`${base}/metrics`, { method: 'POST' })).status).toBe(405);
    const missing = await fetch(`${base}/nothing`);
    expect(missing.status).toBe(404);
    expect(await missing.json()).toEqual({ error: 'no route /nothing: try /metrics, /healthz or /readyz' });

    await worker.stop({ timeout: 0 });
    await expect(fetch(`${base}/healthz`)).rejects.toThrow();
  });

  it('has no metrics server without metricsPort', async () => {
    const { app, queue } = newApp();
    const worker = await startWorker(app, queue);
    expect(worker.metricsUrl).toBeNull();
  });

  it('fails to start, naming metricsPort, when the port is taken', async () => {
    const taken = createServer();
    await new Promise<void>((r) => taken.listen(0, '127.0.0.1', r));
    cleanups.push(() => new Promise<void>((r) => taken.close(() => r())));
    const port = (taken.address() as { port: number }).port;
    const { app, queue } = newApp({ metricsPort: port });
    const worker = app.worker({ queues: [queue] });
    await expect(worker.start()).rejects.toThrow(`metricsPort ${port} on metricsHost 127.0.0.1 cannot be bound: EADDRINUSE`);
    expect(worker.metricsUrl).toBeNull();
  });
});
