/**
 * The monitor watching a real Python Celery 5.2 worker (`celery worker -E`) on Redis (database 9; the run has its
 * own queue and node name): tasks sent from TypeScript reach the history with the Python worker's node name,
 * result, runtime and timeline, and the worker registry knows it as py-celery from its heartbeats.
 */
import type { ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { SqliteHistoryStore } from '../../src/history/sqlite.js';
import { Monitor } from '../../src/monitor/monitor.js';
import { Celerity } from '../../src/index.js';
import { tempDir, until } from '../helpers.js';
import { PYTHON, pythonCeleryOnRedis, requireService } from '../services.js';
import { startUntilReady } from './processes.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const pyDir = path.join(root, 'test/interop/py');
const BROKER = 'redis://127.0.0.1:6379/9';

const ready = await requireService('Python Celery 5 on Redis', () => pythonCeleryOnRedis(BROKER));

const run = randomUUID().slice(0, 8);
const queue = `monitor-${run}`;
const pyNode = `celery@py-${run}`;
const procs: ChildProcess[] = [];
const cleanups: (() => Promise<void> | void)[] = [];

afterAll(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
  for (const p of procs) if (p.exitCode === null) p.kill('SIGKILL');
});

describe.skipIf(!ready.ok)(`monitor and a Python Celery worker${ready.ok ? '' : ` (skipped: ${ready.reason})`}`, () => {
  it('writes the tasks a Python worker runs to the history and keeps the worker from its heartbeats', async () => {
    const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('CELERITY_')));
    const env = { ...base, CONTROL_BROKER: BROKER, CONTROL_QUEUE: queue, PYTHONPATH: pyDir };
    const worker = await startUntilReady(
      procs,
      PYTHON,
      ['-m', 'celery', '-A', 'control_proj', 'worker', '-Q', queue, '-c', '1', '-n', pyNode, '-l', 'info', '-E', '--without-gossip', '--without-mingle'],
      { env, cwd: pyDir, readyLine: /ready\./ },
    );
    cleanups.push(async () => {
      if (worker.exitCode !== null) return;
      const exited = new Promise((r) => worker.once('exit', r));
      worker.kill('SIGTERM');
      await exited;
    });

    const tmp = tempDir('celerity-monitor-interop-');
    cleanups.push(() => tmp.cleanup());
    // The Python app stores no results, so the history comes from events alone (no reconciling).
    const app = new Celerity('monitor-interop', { broker: BROKER, backend: BROKER, loglevel: 'silent', defaultQueue: queue }, {});
    cleanups.push(() => app.close());
    const history = new SqliteHistoryStore({ path: path.join(tmp.dir, 'history.db') });
    cleanups.push(() => history.close());
    const monitor = await Monitor.start(app, { history, reconcile: false });
    cleanups.push(() => monitor.close());

    // The receiver's wakeup asks for a heartbeat at once.
    await until(async () => monitor.worker(pyNode)?.online === true, 20_000);
    expect(monitor.worker(pyNode)).toMatchObject({ swIdent: 'py-celery', swSys: 'Linux', swVer: expect.stringMatching(/^5\./) });

    const add = await app.sendTask('control.add', [2, 3]);
    const nap = await app.sendTask('control.sleep', [0.1], { kwargs: {} });
    for (const id of [add.id, nap.id]) {
      await until(async () => {
        await monitor.flush();
        return (await history.get(id))?.state === 'SUCCESS';
      }, 20_000);
    }
    const a = (await history.get(add.id))!;
    expect(a).toMatchObject({ name: 'control.add', worker: pyNode, result: '5', args: '(2, 3)', argsJson: '[2,3]', kwargs: '{}', kwargsJson: '{}' });
    expect(a.runtime).toEqual(expect.any(Number));
    expect((await history.timeline(add.id)).map((e) => [e.type, e.hostname])).toEqual([
      ['task-received', pyNode],
      ['task-started', pyNode],
      ['task-succeeded', pyNode],
    ]);
    expect(await history.get(nap.id)).toMatchObject({ name: 'control.sleep', worker: pyNode, result: '0.1', args: '(0.1,)' });
    expect(await history.list({ worker: pyNode })).toMatchObject({ tasks: [expect.anything(), expect.anything()] });
  }, 60_000);
});
