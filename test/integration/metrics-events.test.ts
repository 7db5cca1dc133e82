/**
 * CeleryExporter fed by a real EventReceiver on Redis, from a Celerity worker with task events on and from a real
 * Python Celery 5.2 worker started with -E: the counters, the exception label, runtimes and worker_up come out as
 * celery-exporter would show them for the same cluster.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { EventReceiver, type ReceivedEvent } from '../../src/control/index.js';
import { Celerity } from '../../src/index.js';
import { CeleryExporter } from '../../src/metrics/exporter.js';
import { PYTHON, pingRedis, pythonCeleryOnRedis, requireService } from '../services.js';
import { parseExposition } from '../unit/metrics-parse.js';

const REDIS_URL = 'redis://127.0.0.1:6379/11';
const pyDir = fileURLToPath(new URL('../interop/py', import.meta.url));
const redis = await requireService('Redis', () => pingRedis(REDIS_URL));
const python = await requireService('Python Celery 5 on Redis', () => pythonCeleryOnRedis(REDIS_URL));

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** An exporter fed by a receiver on REDIS_URL, and a way to wait for events the receiver has passed on. */
async function watch(defaultQueue: string): Promise<{ exporter: CeleryExporter; seen(match: (e: ReceivedEvent) => boolean, count?: number): Promise<void> }> {
  const exporter = new CeleryExporter({ defaultQueue });
  const receiver = new EventReceiver({ url: REDIS_URL });
  const waiters = new Set<{ match: (e: ReceivedEvent) => boolean; left: number; done: () => void }>();
  receiver.on((event) => {
    exporter.observe(event);
    for (const w of waiters) {
      if (!w.match(event) || --w.left > 0) continue;
      waiters.delete(w);
      w.done();
    }
  });
  await receiver.start();
  cleanups.push(() => receiver.close());
  const seen = (match: (e: ReceivedEvent) => boolean, count = 1) =>
    new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`fewer than ${count} matching events within 30 s`)), 30_000);
      waiters.add({
        match,
        left: count,
        done: () => {
          clearTimeout(timer);
          resolve();
        },
      });
    });
  return { exporter, seen };
}

describe.skipIf(!redis.ok)(`exporter on a Celerity worker's events${redis.ok ? '' : ` (${redis.reason})`}`, () => {
  it('counts tasks by name, host and queue, failures by exception class, and the worker as up', async () => {
    const run = randomUUID().slice(0, 8);
    const queue = `metrics-ev-${run}`;
    const host = `host-${run}`;
    const app = new Celerity('metrics-events', { broker: REDIS_URL, backend: REDIS_URL, loglevel: 'silent', defaultQueue: queue, sendTaskEvents: true, resultExpires: 300 }, {});
    cleanups.push(() => app.close());
    app.task('ev.add', (x: number, y: number) => x + y);
    app.task('ev.fail', () => {
      throw new RangeError('out of range');
    });
    const { exporter, seen } = await watch(queue);
    const heartbeat = seen((e) => e.type === 'worker-heartbeat' && e.hostname === `w@${host}`);
    const worker = app.worker({ queues: [queue], hostname: `w@${host}` });
    await worker.start();
    cleanups.push(() => worker.stop({ timeout: 0 }));
    await heartbeat;

    const outcomes = seen((e) => (e.type === 'task-succeeded' || e.type === 'task-failed') && e.hostname === `w@${host}`, 3);
    const adds = await Promise.all([app.sendTask('ev.add', [1, 2]), app.sendTask('ev.add', [3, 4])]);
    const fail = await app.sendTask('ev.fail', []);
    expect(await Promise.all(adds.map((r) => r.get({ timeout: 15_000 })))).toEqual([3, 7]);
    await expect(fail.get({ timeout: 15_000 })).rejects.toThrow('out of range');
    await outcomes;

    const m = parseExposition(await exporter.metrics());
    const add = { name: 'ev.add', hostname: host, queue_name: queue };
    expect(m.value('celery_task_received_total', add)).toBe(2);
    expect(m.value('celery_task_started_total', add)).toBe(2);
    expect(m.value('celery_task_succeeded_total', add)).toBe(2);
    expect(m.value('celery_task_runtime_count', add)).toBe(2);
    expect(m.value('celery_task_queue_wait_time_count', add)).toBe(2);
    // A JavaScript RangeError travels as Python's ValueError, the type Celery clients see.
    expect(m.value('celery_task_failed_total', { name: 'ev.fail', hostname: host, exception: 'ValueError' })).toBe(1);
    expect(m.value('celery_worker_up', { hostname: host })).toBe(1);
  }, 60_000);
});

describe.skipIf(!python.ok)(`exporter on a Python Celery worker's events${python.ok ? '' : ` (${python.reason})`}`, () => {
  it('reads Celery 5.2 events as celery-exporter does', async () => {
    const run = randomUUID().slice(0, 8);
    const queue = `metrics-py-${run}`;
    const host = `pyhost-${run}`;
    const { exporter, seen } = await watch(queue);
    const online = seen((e) => e.type === 'worker-online' && e.hostname === `py@${host}`);
    await pythonWorker(queue, `py@${host}`);
    await online;

    const app = new Celerity('metrics-events-client', { broker: REDIS_URL, backend: REDIS_URL, loglevel: 'silent', defaultQueue: queue }, {});
    cleanups.push(() => app.close());
    const outcomes = seen((e) => (e.type === 'task-succeeded' || e.type === 'task-failed') && e.hostname === `py@${host}`, 2);
    await app.sendTask('control.add', [2, 3]);
    await app.sendTask('control.add', ['a', 1]);
    await outcomes;

    const m = parseExposition(await exporter.metrics());
    const add = { name: 'control.add', hostname: host, queue_name: queue };
    expect(m.value('celery_task_received_total', add)).toBe(2);
    expect(m.value('celery_task_succeeded_total', add)).toBe(1);
    expect(m.value('celery_task_runtime_count', add)).toBe(1);
    expect(m.value('celery_task_failed_total', { ...add, exception: 'TypeError' })).toBe(1);
    expect(m.value('celery_worker_up', { hostname: host })).toBe(1);
  }, 90_000);
});

/** A Celery 5.2 worker with task events on (-E); resolves once it is ready. */
function pythonWorker(queue: string, nodename: string): Promise<ChildProcess> {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('CELERITY_')));
  const args = ['-m', 'celery', '-A', 'control_proj', 'worker', '-Q', queue, '-c', '1', '-n', nodename, '-l', 'info', '-E', '--without-gossip', '--without-mingle'];
  const proc = spawn(PYTHON, args, { env: { ...env, CONTROL_BROKER: REDIS_URL, CONTROL_QUEUE: queue, PYTHONPATH: pyDir }, cwd: pyDir, stdio: ['ignore', 'pipe', 'pipe'] });
  cleanups.push(
    () =>
      new Promise<void>((resolve) => {
        if (proc.exitCode !== null) return resolve();
        proc.once('exit', () => resolve());
        proc.kill('SIGTERM');
      }),
  );
  const log: string[] = [];
  return new Promise((resolve, reject) => {
    for (const stream of [proc.stdout!, proc.stderr!]) {
      createInterface({ input: stream }).on('line', (line) => {
        log.push(line);
        if (/ready\./.test(line)) resolve(proc);
      });
    }
    proc.once('exit', (code) => reject(new Error(`celery worker exited with ${code} before it was ready:\n${log.slice(-20).join('\n')}`)));
  });
}

