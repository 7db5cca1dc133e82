/**
 * The worker on a real SQLite file: results, failures, retries, progress, expiry, ETA, priorities, routing.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Celerity} from '../../src/index.js';
import { TaskRevokedError, type Worker } from '../../src/index.js';
import path from 'node:path';
import Database from 'better-sqlite3';
import { deferred, nextEvent, sqliteApp, tempDir, until } from '../helpers.js';

let tmp: ReturnType<typeof tempDir>;
let app: Celerity;
let worker: Worker | undefined;

beforeEach(() => {
  tmp = tempDir();
  app = sqliteApp(tmp.dir, { concurrency: 4 });
});

afterEach(async () => {
  await worker?.stop({ timeout: 0 });
  worker = undefined;
  await app.close();
  tmp.cleanup();
});

async function startWorker(options: Parameters<Celerity['worker']>[0] = {}): Promise<Worker> {
  worker = app.worker(options);
  await worker.start();
  return worker;
}

class ValidationError extends Error {
  override name = 'ValidationError';
}

describe('worker on the embedded SQLite store', () => {
  it('runs a task and stores its result with extended metadata', async () => {
    const add = app.task('t.add', (x: number, y: number) => x + y);
    await startWorker();
    const r = await add.delay(2, 3);
    expect(await r.get({ timeout: 5000 })).toBe(5);
    expect(await r.state).toBe('SUCCESS');
    expect(await r.successful()).toBe(true);
    const meta = await r.meta();
    expect(meta).toMatchObject({ status: 'SUCCESS', result: 5, name: 't.add', args: [2, 3], queue: 'celery', retries: 0 });
    expect(meta?.worker).toBe(app.conf.hostname);
    expect(meta?.date_done).toMatch(/^\d{4}-\d\d-\d\dT/);
  });

  it('rejects get() with the task error rebuilt: type, message and traceback', async () => {
    const boom = app.task('t.boom', (what: string) => {
      throw new ValidationError(`bad ${what}`);
    });
    await startWorker();
    const r = await boom.delay('input');
    const err = await r.get({ timeout: 5000 }).catch((e: Error) => e);
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).name).toBe('ValidationError');
    expect((err as Error).message).toBe('bad input');
    expect((err as Error).stack).toMatch(/Traceback \(most recent call last\)/);
    expect(await r.failed()).toBe(true);
    expect(await r.traceback).toContain('ValidationError: bad input');
  });

  it('retries with a countdown and counts the attempts', async () => {
    const seen: number[] = [];
    const flaky = app.task('t.flaky', function (n: number) {
      seen.push(this.retries);
      if (this.retries < 2) this.retry({ countdown: 0.05 });
      return n * 10;
    });
    await startWorker();
    const r = await flaky.delay(4);
    expect(await r.get({ timeout: 5000 })).toBe(40);
    expect(seen).toEqual([0, 1, 2]);
    expect((await r.meta())?.retries).toBe(2);
  });

  it('retries automatically with backoff and fails with the original error once retries run out', async () => {
    let attempts = 0;
    const always = app.task(
      't.always',
      () => {
        attempts++;
        throw new ValidationError('still broken');
      },
      { autoretryFor: [ValidationError], maxRetries: 2, retryBackoff: 0.01, retryJitter: false },
    );
    await startWorker();
    const retried = nextEvent(worker!, 'task-retried');
    const r = await always.delay();
    expect((await retried)[0].countdown).toBe(0.01);
    const err = await r.get({ timeout: 5000 }).catch((e: Error) => e);
    expect((err as Error).name).toBe('ValidationError');
    expect(attempts).toBe(3);
  });

  it('reports custom PROGRESS states while running', async () => {
    const gate = deferred();
    const video = app.task('t.video', async function (frames: number) {
      await this.updateState('PROGRESS', { current: 1, total: frames });
      await gate.promise;
      return 'encoded';
    });
    await startWorker();
    const r = await video.delay(10);
    const backend = await app.backend();
    // The task is parked on the gate, so PROGRESS is observable; wait for it through the backend, not a sleep.
    let meta = await backend.get(r.id);
    while (meta?.status !== 'PROGRESS') meta = await new Promise((res) => setImmediate(() => res(backend.get(r.id))));
    expect(await r.state).toBe('PROGRESS');
    expect(await r.info).toEqual({ current: 1, total: 10 });
    expect(await r.ready()).toBe(false);
    gate.resolve();
    expect(await r.get({ timeout: 5000 })).toBe('encoded');
  });

  it('revokes a task that expired before it ran', async () => {
    const add = app.task('t.add', (x: number, y: number) => x + y);
    const r = await add.applyAsync([1, 1], { expires: new Date(Date.now() - 1000) });
    await startWorker();
    const err = await r.get({ timeout: 5000 }).catch((e: Error) => e);
    expect(err).toBeInstanceOf(TaskRevokedError);
    expect(await r.state).toBe('REVOKED');
  });

  it('does not run a task before its countdown', async () => {
    const stamp = app.task('t.stamp', () => Date.now());
    await startWorker();
    const sent = Date.now();
    const r = await stamp.applyAsync([], { countdown: 0.4 });
    const ranAt = await r.get({ timeout: 5000 });
    expect(ranAt - sent).toBeGreaterThanOrEqual(400);
  });

  it('serves higher priorities first and routes by glob; -Q selects queues', async () => {
    const order: string[] = [];
    const job = app.task('jobs.run', (label: string) => {
      order.push(label);
    });
    const other = app.task('math.mul', (x: number, y: number) => x * y, { queue: 'math' });
    const sent = [
      await job.applyAsync(['low'], { priority: 1 }),
      await job.applyAsync(['mid'], { priority: 5 }),
      await job.applyAsync(['high'], { priority: 9 }),
    ];
    const mul = await other.delay(3, 4);
    await startWorker({ concurrency: 1, prefetchMultiplier: 1 });
    await Promise.all(sent.map((r) => r.get({ timeout: 5000 })));
    expect(order).toEqual(['high', 'mid', 'low']);
    expect(await mul.state).toBe('PENDING');
    await worker!.stop();
    worker = app.worker({ queues: ['math'] });
    await worker.start();
    expect(await mul.get({ timeout: 5000 })).toBe(12);
  });

  it('maps Celery kwargs onto declared params', async () => {
    const mul = app.task('t.mul', (x: number, y: number) => x * y, { params: ['x', 'y'] });
    await startWorker();
    expect(await (await app.sendTask<number>('t.mul', [3], { kwargs: { y: 4 } })).get({ timeout: 5000 })).toBe(12);
    expect(await (await mul.applyAsync([] as never, { kwargs: { x: 2, y: 5 } })).get({ timeout: 5000 })).toBe(10);
  });

  it('fires the abort signal at the soft time limit and fails at the hard one', async () => {
    const soft = app.task(
      't.soft',
      async function () {
        await new Promise((_, reject) => this.signal.addEventListener('abort', () => reject(this.signal.reason)));
      },
      { softTimeLimit: 0.1 },
    );
    const cleanup = app.task(
      't.cleanup',
      async function () {
        try {
          await new Promise((_, reject) => this.signal.addEventListener('abort', () => reject(this.signal.reason)));
        } catch (e) {
          return `cleaned up after ${(e as Error).name}`;
        }
      },
      { softTimeLimit: 0.1 },
    );
    const late = deferred();
    const hard = app.task(
      't.hard',
      async function () {
        // Ignores its signal and outlives the hard limit; what it writes afterwards must not replace the FAILURE.
        await new Promise((r) => setTimeout(r, 400));
        await this.updateState('PROGRESS', { current: 1, total: 1 });
        late.resolve();
      },
      { timeLimit: 0.2 },
    );
    await startWorker();
    const [a, b, c] = await Promise.all([soft.delay(), cleanup.delay(), hard.delay()]);
    expect(((await a.get({ timeout: 5000 }).catch((e) => e)) as Error).name).toBe('SoftTimeLimitExceeded');
    expect(await b.get({ timeout: 5000 })).toBe('cleaned up after SoftTimeLimitExceeded');
    expect(((await c.get({ timeout: 5000 }).catch((e) => e)) as Error).name).toBe('TimeLimitExceeded');
    await late.promise;
    expect(await c.state).toBe('FAILURE');
  });

  it('stores no result for ignoreResult tasks', async () => {
    const fire = app.task('t.fire', () => 'x', { ignoreResult: true });
    await startWorker();
    const done = nextEvent(worker!, 'task-succeeded');
    const r = await fire.delay();
    await done;
    await worker!.stop();
    expect(await r.state).toBe('PENDING');
  });

  it('on stop, returns unstarted messages at once and running ones after the deadline, losing nothing', async () => {
    const started: string[] = [];
    const block = app.task('t.block', async function (label: string) {
      started.push(label);
      await new Promise<void>((resolve) => this.signal.addEventListener('abort', () => resolve()));
      return `aborted ${label}`;
    });
    const quick = app.task('t.quick', (label: string) => `ran ${label}`);
    await startWorker({ concurrency: 1, prefetchMultiplier: 2 });
    const running = nextEvent(worker!, 'task-started', (r) => r.task === 't.block');
    const b = await block.delay('first');
    const q = await quick.delay('second');
    await running;
    await worker!.stop({ timeout: 0.1 });
    expect(started).toEqual(['first']);
    // Both messages are back in the queue: the reserved one untouched, the running one after the deadline.
    const broker = await app.broker();
    expect(await broker.size('celery')).toBe(2);
    expect(await b.state).toBe('PENDING');
    worker = app.worker({ concurrency: 2 });
    await worker.start();
    expect(await q.get({ timeout: 5000 })).toBe('ran second');
    await worker.stop({ timeout: 0 });
    expect(started).toEqual(['first', 'first']);
  });

  it('reserves at most concurrency x prefetchMultiplier messages', async () => {
    const gate = deferred();
    const wait = app.task('t.wait', async () => {
      await gate.promise;
    });
    const sent = [];
    for (let i = 0; i < 5; i++) sent.push(await wait.delay());
    worker = app.worker({ concurrency: 1, prefetchMultiplier: 2 });
    const started = nextEvent(worker, 'task-started');
    await worker.start();
    await started;
    const broker = await app.broker();
    expect(await broker.size('celery')).toBe(3);
    expect(worker!.reservedCount).toBe(1);
    gate.resolve();
    await Promise.all(sent.map((r) => r.get({ timeout: 5000 })));
  });

  it('forgets a stored result', async () => {
    const add = app.task('t.add', (x: number, y: number) => x + y);
    await startWorker();
    const r = await add.delay(1, 2);
    expect(await r.get({ timeout: 5000 })).toBe(3);
    await r.forget();
    expect(await r.state).toBe('PENDING');
    expect(await r.meta()).toBeNull();
  });

  it('acksLate: false acknowledges on receipt, so an interrupted task is not returned (Celery early ack)', async () => {
    const early = app.task(
      't.early',
      async function () {
        await new Promise<void>((resolve) => this.signal.addEventListener('abort', () => resolve()));
      },
      { acksLate: false },
    );
    const late = app.task('t.late', async function () {
      await new Promise<void>((resolve) => this.signal.addEventListener('abort', () => resolve()));
    });
    worker = app.worker({ concurrency: 2 });
    const bothStarted = new Promise<void>((resolve) => {
      let n = 0;
      worker!.on('task-started', () => ++n === 2 && resolve());
    });
    await worker.start();
    await early.delay();
    await late.delay();
    await bothStarted;
    await worker.stop({ timeout: 0 });
    const broker = await app.broker();
    // Only the acks-late message went back to the queue.
    expect(await broker.size('celery')).toBe(1);
  });

  it('stop() while start() is still connecting waits for it, then shuts down; stop() before start() does nothing', async () => {
    const add = app.task('t.add2', (x: number, y: number) => x + y);
    const w = app.worker();
    const starting = w.start();
    await w.stop({ timeout: 0 });
    await starting;
    await app.worker().stop();
    // The app is still usable: a new worker runs tasks.
    await startWorker();
    expect(await (await add.delay(1, 2)).get({ timeout: 5000 })).toBe(3);
  });

  it('deletes expired results every resultCleanupInterval seconds', async () => {
    await app.close();
    app = sqliteApp(tmp.dir, { concurrency: 4, resultExpires: 1, resultCleanupInterval: 0.2 });
    const add = app.task('t.add3', (x: number, y: number) => x + y);
    await startWorker();
    const r = await add.delay(1, 1);
    expect(await r.get({ timeout: 5000 })).toBe(2);
    const db = new Database(path.join(tmp.dir, 'celerity.db'), { readonly: true });
    try {
      const rows = () => (db.prepare('select count(*) as n from celery_results where task_id = ?').get(r.id) as { n: number }).n;
      expect(rows()).toBe(1);
      // Nothing announces a deletion; look until the row is gone.
      await until(async () => rows() === 0);
    } finally {
      db.close();
    }
  });

  it('a task revoked on the embedded store never runs, even while the revocations cannot be read', async () => {
    let ran = 0;
    const add = app.task('t.add4', (x: number, y: number) => {
      ran++;
      return x + y;
    });
    const broker = await app.broker();
    const read = broker.revocationsSince!.bind(broker);
    let broken = true;
    let sent = false;
    let failuresAfterSend = 0;
    const failedAfterSend = deferred();
    broker.revocationsSince = async (cursor) => {
      if (!broken) return read(cursor);
      // Three failed reads after the send: the worker's reserve (which wakes within milliseconds) and its 200 ms
      // timer have both met the broken table by then.
      if (sent && ++failuresAfterSend === 3) failedAfterSend.resolve();
      throw new Error('disk I/O error');
    };
    await startWorker();
    const sig = add.s(1, 2);
    const id = sig.freeze().id;
    await app.revokeTasks([id]);
    await sig.applyAsync();
    sent = true;
    // The worker reserved it, could not read the revocations, and put it back instead of running it.
    await failedAfterSend.promise;
    expect(ran).toBe(0);
    broken = false;
    await expect(app.asyncResult(id).get({ timeout: 10_000 })).rejects.toBeInstanceOf(TaskRevokedError);
    expect(ran).toBe(0);
  });
});
