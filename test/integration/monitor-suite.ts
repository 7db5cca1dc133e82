/**
 * A Monitor on a real broker and result backend with a real Celerity worker in this process, writing to a SQLite
 * history file: the history ends with each task's state, worker, runtime, result, traceback and timeline, shows a
 * running task's PROGRESS meta, and finishes tasks of a worker that sends no events from the result store.
 * Shared by the Redis and SQLite broker files.
 */
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { SqliteHistoryStore } from '../../src/history/sqlite.js';
import type { TaskRecord } from '../../src/history/port.js';
import { Monitor } from '../../src/monitor/monitor.js';
import { Celerity, type CelerityOptions, type Worker } from '../../src/index.js';
import { deferred, tempDir, until } from '../helpers.js';
import type { ServiceCheck } from '../services.js';

export interface MonitorSuiteOptions {
  label: string;
  ready: ServiceCheck;
  /** Broker and backend URLs for a test, given its temp dir. */
  urls(dir: string): { broker: string; backend: string };
}

export function monitorSuite(options: MonitorSuiteOptions): void {
  const { ready } = options;
  describe.skipIf(!ready.ok)(`monitor on ${options.label}${ready.ok ? '' : ` (skipped: ${ready.reason})`}`, () => {
    const cleanups: (() => Promise<void> | void)[] = [];
    afterEach(async () => {
      for (const c of cleanups.splice(0).reverse()) await c();
    });

    async function setup(conf: CelerityOptions = {}) {
      const tmp = tempDir('celerity-monitor-');
      cleanups.push(() => tmp.cleanup());
      const run = randomUUID().slice(0, 8);
      const queue = `monitor-${run}`;
      const hostname = `mon-${run}@test`;
      const app = new Celerity('monitor-test', { ...options.urls(tmp.dir), loglevel: 'silent', defaultQueue: queue, resultExpires: 300, ...conf }, {});
      cleanups.push(() => app.close());
      const history = new SqliteHistoryStore({ path: path.join(tmp.dir, 'history.db') });
      cleanups.push(() => history.close());
      const startWorker = async (): Promise<Worker> => {
        const worker = app.worker({ concurrency: 2, queues: [queue], hostname, node: { heartbeatInterval: 0.5 } });
        await worker.start();
        cleanups.push(() => worker.stop({ timeout: 0 }));
        return worker;
      };
      const finished = (id: string, monitor: Monitor) => async () => {
        await monitor.flush();
        const t = await history.get(id);
        return t !== null && t.finishedAt !== null;
      };
      return { app, history, hostname, startWorker, finished };
    }

    const taskTypes = async (history: SqliteHistoryStore, id: string) =>
      (await history.timeline(id)).map((e) => e.type).filter((t) => t.startsWith('task-'));

    it('writes each task\'s lifecycle from the worker\'s events, with progress read from the result store', async () => {
      const { app, history, hostname, startWorker, finished } = await setup();
      const gate = deferred();
      app.task('m.add', (x: number, y: number) => x + y);
      app.task('m.fail', (m: string) => {
        throw new RangeError(m);
      });
      app.task('m.retry', function () {
        if (this.retries < 1) this.retry({ countdown: 0.01, exc: new TypeError('again') });
        return 'ok';
      });
      app.task('m.progress', async function () {
        await this.updateState('PROGRESS', { current: 1, total: 2 });
        await gate.promise;
        return 'done';
      });
      // Started without task events: the monitor's enable_events turns them on.
      const worker = await startWorker();
      const listenersBefore = worker.listenerCount('task-succeeded');
      const monitor = await Monitor.start(app, { history, enableEventsIntervalMs: 200 });
      cleanups.push(() => monitor.close());
      await until(async () => worker.listenerCount('task-succeeded') > listenersBefore, 15_000);
      await until(async () => monitor.worker(hostname)?.online === true, 15_000);
      expect(monitor.worker(hostname)).toMatchObject({ swIdent: 'celerity', pid: process.pid, freq: 0.5 });

      const add = await app.sendTask('m.add', [2, 3]);
      const fail = await app.sendTask('m.fail', ['bad']);
      const retry = await app.sendTask('m.retry', []);
      const progress = await app.sendTask('m.progress', []);
      expect(await add.get({ timeout: 15_000 })).toBe(5);
      expect(await retry.get({ timeout: 15_000 })).toBe('ok');
      await expect(fail.get({ timeout: 15_000 })).rejects.toThrow('bad');

      // The running task's PROGRESS reaches the history while it waits on the gate.
      await until(async () => {
        await monitor.flush();
        return (await history.get(progress.id))?.state === 'PROGRESS';
      }, 15_000);
      expect((await history.get(progress.id))!.meta).toBe('{"current":1,"total":2}');
      gate.resolve();
      expect(await progress.get({ timeout: 15_000 })).toBe('done');

      for (const r of [add, fail, retry, progress]) await until(finished(r.id, monitor), 15_000);

      const a = (await history.get(add.id))!;
      expect(a).toMatchObject<Partial<TaskRecord>>({
        state: 'SUCCESS', name: 'm.add', worker: hostname, result: '5', args: '(2, 3)', argsJson: '[2,3]', kwargs: '{}', kwargsJson: '{}',
      });
      expect(a.runtime).toEqual(expect.any(Number));
      expect(a.receivedAt! <= a.startedAt! && a.startedAt! <= a.finishedAt!).toBe(true);
      expect(await taskTypes(history, add.id)).toEqual(['task-received', 'task-started', 'task-succeeded']);

      const f = (await history.get(fail.id))!;
      expect(f).toMatchObject({ state: 'FAILURE', worker: hostname, exception: "ValueError('bad')" });
      expect(f.traceback).toMatch(/^Traceback \(most recent call last\):/);
      expect(await taskTypes(history, fail.id)).toEqual(['task-received', 'task-started', 'task-failed']);

      const r = (await history.get(retry.id))!;
      expect(r).toMatchObject({ state: 'SUCCESS', result: "'ok'", worker: hostname });
      // The retry message is sent before task-retried (as in Celery), so the second delivery may be received first.
      const rt = await taskTypes(history, retry.id);
      expect(rt.slice(0, 2)).toEqual(['task-received', 'task-started']);
      expect(rt.at(-1)).toBe('task-succeeded');
      expect([...rt].sort()).toEqual(['task-received', 'task-received', 'task-retried', 'task-started', 'task-started', 'task-succeeded']);
      expect(rt.indexOf('task-retried')).toBeGreaterThan(1);

      const p = (await history.get(progress.id))!;
      expect(p).toMatchObject({ state: 'SUCCESS', result: "'done'", meta: '{"current":1,"total":2}' });
      const pt = await history.timeline(progress.id);
      const types = pt.map((e) => e.type);
      expect(types).toContain('result-PROGRESS');
      expect(types.indexOf('result-PROGRESS')).toBeGreaterThan(types.indexOf('task-started'));
      expect(types.indexOf('result-PROGRESS')).toBeLessThan(types.indexOf('task-succeeded'));
      expect(JSON.parse(pt.find((e) => e.type === 'result-PROGRESS')!.fields!)).toEqual({ meta: { current: 1, total: 2 } });
      expect(monitor.dropped).toBe(0);
    }, 60_000);

    it('finishes the tasks of a worker that sends no events from the result store', async () => {
      const { app, history, hostname, startWorker, finished } = await setup();
      const gate = deferred();
      app.task('m.quiet', async (x: number) => {
        await gate.promise;
        return { doubled: x * 2 };
      });
      await startWorker();
      const monitor = await Monitor.start(app, { history, enableEvents: false });
      cleanups.push(() => monitor.close());
      const sent = await app.sendTask('m.quiet', [21]);
      // What the REST API records when it sends a task.
      monitor.record({ id: sent.id, timestamp: Date.now(), state: 'PENDING', fields: { name: 'm.quiet', argsJson: '[21]' } });
      await monitor.flush();
      expect(await history.get(sent.id)).toMatchObject({ state: 'PENDING', name: 'm.quiet' });
      gate.resolve();
      expect(await sent.get({ timeout: 15_000 })).toEqual({ doubled: 42 });
      await until(finished(sent.id, monitor), 15_000);
      expect(await history.get(sent.id)).toMatchObject({
        state: 'SUCCESS', result: '{"doubled":42}', worker: hostname, queue: expect.any(String), argsJson: '[21]', args: '(21,)',
      });
      expect((await history.timeline(sent.id)).map((e) => e.type)).toEqual(['result-SUCCESS']);
    }, 60_000);
  });
}
