/**
 * AsyncResult.progress() and onProgress() against a real worker on the embedded SQLite store and on Redis: the task
 * reports PROGRESS steps and waits until the watcher has seen each one, so every step is observed however the store
 * is read, and the last event is the ready state with the return value. A burst of steps reported back to back
 * reaches the watcher through the store's notification: every step on Redis (each write is published), increasing
 * steps ending with the result on SQLite (its change watcher may merge writes between two checks).
 */
import { randomUUID } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { Celerity, TimeoutError, type TaskContext, type Worker } from '../../src/index.js';
import type { ProgressEvent } from '../../src/result/progress.js';
import { deferred, sqliteApp, tempDir } from '../helpers.js';
import { pingRedis, requireService } from '../services.js';

const REDIS = 'redis://127.0.0.1:6379/0';
const redis = await requireService('Redis at 127.0.0.1:6379', () => pingRedis(REDIS));
const tmp = tempDir('celerity-progress-');
afterAll(() => tmp.cleanup());

/** An app whose `progress.steps` task reports `{current, total}` and then waits for the test to release that step. */
function withSteps(app: Celerity) {
  const gates = new Map<string, { promise: Promise<void>; resolve(): void }>();
  const gate = (id: string, step: number) => {
    const key = `${id}:${step}`;
    if (!gates.has(key)) gates.set(key, deferred<void>());
    return gates.get(key)!;
  };
  const steps = app.task('progress.steps', async function (this: TaskContext, total: number) {
    for (let current = 1; current <= total; current++) {
      await this.updateState('PROGRESS', { current, total });
      await gate(this.id, current).promise;
    }
    return `done ${total}`;
  });
  // Waits for step 0 (the test releases it once the watcher is subscribed), then reports every step at once.
  const burst = app.task('progress.burst', async function (this: TaskContext, total: number) {
    await gate(this.id, 0).promise;
    for (let current = 1; current <= total; current++) await this.updateState('PROGRESS', { current, total });
    return `burst ${total}`;
  });
  return { steps, burst, release: (id: string, step: number) => gate(id, step).resolve() };
}

function progressSteps(events: ProgressEvent[]): number[] {
  return events.filter((e) => e.state === 'PROGRESS').map((e) => (e.meta as { current: number }).current);
}

const stores: [string, boolean, string, () => Celerity][] = [
  ['SQLite', true, '', () => sqliteApp(tmp.dir)],
  [
    'Redis',
    redis.ok,
    redis.reason,
    () => new Celerity('progress', { broker: REDIS, backend: REDIS, defaultQueue: `progress-${randomUUID()}`, loglevel: 'silent', logFormat: 'json' }),
  ],
];

for (const [label, ok, reason, makeApp] of stores) {
  describe.skipIf(!ok)(`progress on ${label}${ok ? '' : ` (skipped: ${reason})`}`, () => {
    let app: Celerity;
    let worker: Worker;
    let flow: ReturnType<typeof withSteps>;

    const start = async () => {
      app = makeApp();
      flow = withSteps(app);
      worker = app.worker();
      await worker.start();
    };
    afterAll(async () => {
      await worker?.stop();
      await app?.close();
    });

    it('progress() yields each PROGRESS step in order, then SUCCESS with the return value, and ends', async () => {
      await start();
      const r = await flow.steps.delay(4);
      const events: ProgressEvent[] = [];
      for await (const e of r.progress()) {
        events.push(e);
        if (e.state === 'PROGRESS') flow.release(r.id, (e.meta as { current: number }).current);
      }
      expect(progressSteps(events)).toEqual([1, 2, 3, 4]);
      expect(events.at(-1)).toMatchObject({ state: 'SUCCESS', meta: 'done 4', ready: true });
      expect(events.at(-1)!.record?.task_id).toBe(r.id);
      // Only states before the first step come before it, and nothing is yielded twice in a row.
      const firstStep = events.findIndex((e) => e.state === 'PROGRESS');
      expect(events.slice(0, firstStep).every((e) => e.state === 'PENDING' || e.state === 'STARTED')).toBe(true);
      for (let i = 1; i < events.length; i++) expect(JSON.stringify(events[i])).not.toBe(JSON.stringify(events[i - 1]));
      expect(events.filter((e) => e.ready)).toHaveLength(1);
    }, 30_000);

    it('onProgress() calls back for each step and the ready state', async () => {
      const r = await flow.steps.delay(3);
      const events: ProgressEvent[] = [];
      const done = deferred<void>();
      const errors: unknown[] = [];
      const unsubscribe = r.onProgress(
        (e) => {
          events.push(e);
          if (e.state === 'PROGRESS') flow.release(r.id, (e.meta as { current: number }).current);
          if (e.ready) done.resolve();
        },
        { onError: (err) => errors.push(err) },
      );
      expect(typeof unsubscribe).toBe('function');
      await done.promise;
      unsubscribe();
      expect(progressSteps(events)).toEqual([1, 2, 3]);
      expect(events.at(-1)).toMatchObject({ state: 'SUCCESS', meta: 'done 3' });
      expect(errors).toEqual([]);
    }, 30_000);

    it('a burst of back-to-back PROGRESS states arrives through the store, in order, ending with the result', async () => {
      const r = await flow.burst.delay(15);
      const events: ProgressEvent[] = [];
      for await (const e of r.progress({ timeout: 20_000 })) {
        events.push(e);
        if (events.length === 1) flow.release(r.id, 0);
      }
      const seen = progressSteps(events);
      if (label === 'Redis') expect(seen).toEqual(Array.from({ length: 15 }, (_, i) => i + 1));
      else for (let i = 1; i < seen.length; i++) expect(seen[i]).toBeGreaterThan(seen[i - 1]!);
      expect(events.at(-1)).toMatchObject({ state: 'SUCCESS', meta: 'burst 15', ready: true });
    }, 30_000);

    it('a task that never becomes ready ends the iteration with TimeoutError after `timeout`', async () => {
      const r = app.asyncResult(randomUUID());
      const events: ProgressEvent[] = [];
      const iterate = async () => {
        for await (const e of r.progress({ timeout: 400 })) events.push(e);
      };
      await expect(iterate()).rejects.toBeInstanceOf(TimeoutError);
      expect(events.map((e) => e.state)).toEqual(['PENDING']);
    });

    it('breaking out of the loop stops watching (the loop ends, the task is unaffected)', async () => {
      const r = await flow.steps.delay(2);
      for await (const e of r.progress()) {
        if (e.state === 'PROGRESS') break;
      }
      flow.release(r.id, 1);
      flow.release(r.id, 2);
      expect(await r.get({ timeout: 10_000 })).toBe('done 2');
    }, 30_000);

    it('aborting the signal ends the iteration with its reason', async () => {
      const r = app.asyncResult(randomUUID());
      const abort = new AbortController();
      const states: string[] = [];
      const iterate = async () => {
        for await (const e of r.progress({ signal: abort.signal })) {
          states.push(e.state);
          abort.abort(new Error('enough'));
        }
      };
      await expect(iterate()).rejects.toThrow('enough');
      expect(states).toEqual(['PENDING']);
    });

    it('rejects an interval that is not a positive number', async () => {
      const r = app.asyncResult(randomUUID());
      await expect(r.progress({ intervalMs: 0 }).next()).rejects.toThrow(/intervalMs must be a positive number/);
    });
  });
}
