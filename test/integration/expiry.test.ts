/**
 * `expires` passing while a task waits inside the worker: for its ETA, for a rate-limit slot, for a free
 * concurrency slot. Each ends REVOKED with TaskRevokedError('expired') and never runs, on the embedded SQLite store
 * and on Redis; a task Python Celery sends with `countdown` longer than `expires` too.
 */
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { Celerity, TaskRevokedError, type AsyncResult, type Worker } from '../../src/index.js';
import { deferred, nextEvent, sqliteApp, tempDir } from '../helpers.js';
import { PYTHON, pingRedis, pythonCeleryOnRedis, requireService } from '../services.js';

const REDIS_URL = 'redis://127.0.0.1:6379/12';
const redisUp = await requireService('Redis on 127.0.0.1:6379', () => pingRedis(REDIS_URL));
const pythonUp = redisUp.ok ? await requireService('Python Celery 5 on Redis', () => pythonCeleryOnRedis(REDIS_URL)) : redisUp;

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

interface Store {
  name: string;
  skip: string | false;
  app(queue: string): Celerity;
}

const stores: Store[] = [
  {
    name: 'SQLite',
    skip: false,
    app: () => {
      const tmp = tempDir();
      const app = sqliteApp(tmp.dir);
      cleanups.push(() => tmp.cleanup());
      return app;
    },
  },
  {
    name: 'Redis',
    skip: redisUp.ok ? false : redisUp.reason,
    app: (queue) => new Celerity('expiry', { broker: REDIS_URL, backend: REDIS_URL, defaultQueue: queue, loglevel: 'silent' }, {}),
  },
];

async function startWorker(app: Celerity, concurrency: number): Promise<Worker> {
  const worker = app.worker({ concurrency });
  await worker.start();
  cleanups.push(async () => {
    await worker.stop({ timeout: 0 });
    await app.close();
  });
  return worker;
}

async function expectExpired(r: AsyncResult<unknown>): Promise<void> {
  const err = await r.get({ timeout: 10_000 }).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(TaskRevokedError);
  expect((err as Error).message).toBe('expired');
  expect(await r.state).toBe('REVOKED');
}

/** Waits until the wall clock has passed `at`: the expiry is a moment in time, not an event anything announces. */
function clockPast(at: Date): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, Math.max(0, at.getTime() - Date.now() + 5)));
}

for (const store of stores) {
  describe.skipIf(store.skip)(`expiry while waiting in the worker, ${store.name}${store.skip ? ` (skipped: ${store.skip})` : ''}`, () => {
    it('revokes a task whose expiry passes before its ETA, at the expiry, without running it', async () => {
      const app = store.app(`expiry-${randomUUID()}`);
      const ran: string[] = [];
      const task = app.task('t.eta', (label: string) => ran.push(label));
      const worker = await startWorker(app, 2);
      // The ETA is an hour away: the revoke comes at the expiry, not when the ETA would have started the task.
      const late = await task.applyAsync(['late'], { countdown: 3600, expires: 0.3 });
      const onTime = await task.applyAsync(['on time'], { countdown: 0.1, expires: 60 });
      await expectExpired(late);
      expect(await onTime.get({ timeout: 10_000 })).toBe(1);
      expect(ran).toEqual(['on time']);
      expect(worker.reservedCount).toBe(0);
    });

    it('revokes a task whose expiry passes while it waits for its rate-limit slot', async () => {
      const app = store.app(`expiry-${randomUUID()}`);
      const ran: string[] = [];
      // One start a minute: the second task's slot is a minute away, its expiry half a second.
      const task = app.task('t.limited', (label: string) => ran.push(label), { rateLimit: '1/m' });
      const worker = await startWorker(app, 2);
      const first = await task.delay('first');
      expect(await first.get({ timeout: 10_000 })).toBe(1);
      const second = await task.applyAsync(['second'], { expires: 0.5 });
      await expectExpired(second);
      expect(ran).toEqual(['first']);
      expect(worker.reservedCount).toBe(0);
    });

    it('revokes a task whose expiry passes while every concurrency slot is busy', async () => {
      const app = store.app(`expiry-${randomUUID()}`);
      const gate = deferred();
      const ran: string[] = [];
      const blocker = app.task('t.blocker', () => gate.promise.then(() => 'done'));
      const task = app.task('t.queued', (label: string) => ran.push(label));
      const worker = await startWorker(app, 1);
      const started = nextEvent(worker, 'task-started');
      const busy = await blocker.delay();
      await started;
      const expires = new Date(Date.now() + 300);
      const received = nextEvent(worker, 'task-received', (req) => req.task === 't.queued');
      const queued = await task.applyAsync(['queued'], { expires });
      await received;
      await clockPast(expires);
      gate.resolve();
      expect(await busy.get({ timeout: 10_000 })).toBe('done');
      await expectExpired(queued);
      expect(ran).toEqual([]);
    });
  });
}

/** Python Celery sends `t.py_expiry` with `countdown` and `expires` (seconds) and prints its task id. */
function pythonSend(queue: string, countdown: number, expires: number): Promise<string> {
  const script = [
    'import sys',
    'from celery import Celery',
    `app = Celery(broker=${JSON.stringify(REDIS_URL)}, backend=${JSON.stringify(REDIS_URL)})`,
    `r = app.send_task("t.py_expiry", args=["from python"], queue=${JSON.stringify(queue)}, countdown=${countdown}, expires=${expires})`,
    'print(r.id)',
  ].join('\n');
  return new Promise((resolve, reject) => {
    const proc = spawn(PYTHON, ['-c', script], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    proc.stdout.on('data', (d) => (out += d));
    proc.stderr.on('data', (d) => (err += d));
    proc.once('exit', (code) => (code === 0 ? resolve(out.trim()) : reject(new Error(`python failed (${code}): ${err}`))));
  });
}

describe.skipIf(!pythonUp.ok)(`expiry of a task sent by Python Celery${pythonUp.ok ? '' : ` (skipped: ${pythonUp.reason})`}`, () => {
  it('apply_async(countdown=1.5, expires=0.5) from Python is revoked as expired, not run', async () => {
    const queue = `expiry-py-${randomUUID()}`;
    const app = new Celerity('expiry', { broker: REDIS_URL, backend: REDIS_URL, defaultQueue: queue, loglevel: 'silent' }, {});
    const ran: string[] = [];
    app.task('t.py_expiry', (label: string) => ran.push(label));
    const worker = await startWorker(app, 1);
    const received = nextEvent(worker, 'task-received');
    const id = await pythonSend(queue, 1.5, 0.5);
    await received;
    await expectExpired(app.asyncResult(id));
    expect(ran).toEqual([]);
    const redis = new Redis(REDIS_URL);
    cleanups.push(() => redis.disconnect());
    expect(await redis.llen(queue)).toBe(0);
  });
});
