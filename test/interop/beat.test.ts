/**
 * Beat across languages on one Redis: a Python Celery 5.2 worker runs the task Celerity's beat sends (and sees
 * Celery's `periodic_task_name` header on it), and Python's `celery beat` drives a Celerity worker.
 */
import type { ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { Celerity } from '../../src/index.js';
import { Beat } from '../../src/beat/beat.js';
import { pythonCeleryOnRedis, requireService } from '../services.js';
import { tempDir } from '../helpers.js';
import { startUntilReady } from './processes.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const pyDir = path.join(root, 'test/interop/py');
const PY = '/usr/bin/python3';
const BROKER = 'redis://127.0.0.1:6379/5';
const BACKEND = 'redis://127.0.0.1:6379/6';

const ready = await requireService('Python Celery 5 on Redis', () => pythonCeleryOnRedis(BROKER));

const run = randomUUID().slice(0, 8);
const queues = { py: `beat-py-${run}`, ts: `beat-ts-${run}` };
const procs: ChildProcess[] = [];
const tmp = tempDir();

function env(): NodeJS.ProcessEnv {
  const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('CELERITY_')));
  return { ...base, INTEROP_BROKER: BROKER, INTEROP_BACKEND: BACKEND, INTEROP_QUEUE: queues.py, INTEROP_TS_QUEUE: queues.ts, PYTHONPATH: pyDir };
}

afterAll(async () => {
  for (const p of procs) if (p.exitCode === null) p.kill('SIGTERM');
  await Promise.all(procs.map((p) => (p.exitCode === null ? new Promise((r) => p.once('exit', r)) : undefined)));
  const redis = new Redis(BROKER);
  for (const q of Object.values(queues)) await redis.del(q, `_kombu.binding.${q}`);
  // The beat's store keys and the results it kept under its own prefix.
  for (const db of [BROKER, BACKEND]) {
    const r = new Redis(db);
    const keys = await r.keys(`beat-interop-${run}:*`);
    if (keys.length) await r.del(...keys);
    r.disconnect();
  }
  redis.disconnect();
  tmp.cleanup();
});

describe.skipIf(!ready.ok)(`beat interop with Python Celery 5.2${ready.ok ? '' : ` (skipped: ${ready.reason})`}`, () => {
  it('a Python worker runs the task Celerity beat sends, with the periodic_task_name header', { timeout: 60_000 }, async () => {
    await startUntilReady(procs, PY, ['-m', 'celery', '-A', 'beat_proj', 'worker', '-Q', queues.py, '-c', '1', '-n', `beat-py-${run}@interop`, '-l', 'info', '--without-heartbeat', '--without-mingle', '--without-gossip'], {
      env: env(),
      cwd: pyDir,
      readyLine: /ready\./,
    });
    const app = new Celerity(
      'beat-interop',
      {
        broker: BROKER,
        backend: `${BACKEND}?global_keyprefix=beat-interop-${run}:`,
        loglevel: 'silent',
        beatSchedule: { 'to-python': { task: 'py.beat_record', schedule: { every: 1 }, args: ['from celerity beat'], options: { queue: queues.py } } },
      },
      {},
    );
    // Results are read where the Python worker writes them (no key prefix there).
    const reader = new Celerity('beat-interop-reader', { broker: BROKER, backend: BACKEND, loglevel: 'silent' }, {});
    const beat = new Beat(app);
    const fired = new Promise<string>((resolve) => beat.once('fired', (e) => resolve(e.taskId!)));
    await beat.start();
    try {
      const id = await fired;
      expect(await reader.asyncResult(id).get({ timeout: 30_000 })).toEqual({ label: 'from celerity beat', periodic_task_name: 'to-python' });
    } finally {
      await beat.stop();
      await app.close();
      await reader.close();
    }
  });

  it("Python's celery beat drives a Celerity worker", { timeout: 60_000 }, async () => {
    const app = new Celerity('beat-interop-worker', { broker: BROKER, backend: BACKEND, loglevel: 'silent' }, {});
    const ran = new Promise<{ label: string; id: string }>((resolve) => {
      app.task('ts.beat_record', function (label: string) {
        resolve({ label, id: this.id });
        return label;
      });
    });
    const worker = app.worker({ queues: [queues.ts], node: { heartbeat: false, mingle: false } });
    await worker.start();
    try {
      await startUntilReady(procs, PY, ['-m', 'celery', '-A', 'beat_proj', 'beat', '-s', path.join(tmp.dir, 'celerybeat-schedule'), '-l', 'info'], {
        env: env(),
        cwd: pyDir,
        readyLine: /beat: Starting/,
      });
      const { label, id } = await ran;
      expect(label).toBe('from python beat');
      expect(await app.asyncResult(id).get({ timeout: 10_000 })).toBe('from python beat');
    } finally {
      await worker.stop();
      await app.close();
    }
  });
});
