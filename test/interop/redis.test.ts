/**
 * Celerity and real Python Celery 5.2 on one Redis: each side's producer calls the other side's tasks and reads
 * the other side's results, and a mixed fleet shares one queue. Direction tests use separate queues because a
 * worker that does not know a task name would take the message off the queue.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Celerity, TaskRevokedError } from '../../src/index.js';
import { pythonCeleryOnRedis, requireService } from '../services.js';
import { startUntilReady } from './processes.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const pyDir = path.join(root, 'test/interop/py');
const PY = '/usr/bin/python3';
const BROKER = 'redis://127.0.0.1:6379/5';
const BACKEND = 'redis://127.0.0.1:6379/6';

const ready = await requireService('Python Celery 5 on Redis', () => pythonCeleryOnRedis(BROKER));

const run = randomUUID().slice(0, 8);
const queues = { py: `interop-py-${run}`, ts: `interop-ts-${run}`, mixed: `interop-mixed-${run}` };
const ledger = `interop-ledger-${run}`;
const procs: ChildProcess[] = [];

function env(queue: string): NodeJS.ProcessEnv {
  const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('CELERITY_')));
  return { ...base, INTEROP_BROKER: BROKER, INTEROP_BACKEND: BACKEND, INTEROP_QUEUE: queue, INTEROP_LEDGER: ledger, PYTHONPATH: pyDir };
}

/** Starts a process and resolves once a line of its output matches `readyLine`. */
function start(cmd: string, args: string[], e: NodeJS.ProcessEnv, readyLine: RegExp, cwd = root): Promise<ChildProcess> {
  return startUntilReady(procs, cmd, args, { env: e, cwd, readyLine });
}

function pythonWorker(queue: string, name: string): Promise<ChildProcess> {
  const args = ['-m', 'celery', '-A', 'proj', 'worker', '-Q', queue, '-c', '2', '-n', `${name}@interop`, '-l', 'info', '--without-heartbeat', '--without-mingle', '--without-gossip'];
  return start(PY, args, env(queue), /ready\./, pyDir);
}

function celerityWorker(queue: string, name: string): Promise<ChildProcess> {
  const args = [path.join(root, 'dist/cli/main.js'), 'worker', '-A', path.join(root, 'test/interop/ts-app.ts'), '-Q', queue, '-c', '8', '-n', `${name}@interop`, '--log-format', 'json', '--loglevel', 'info'];
  return start(process.execPath, args, env(queue), /ready\./);
}

interface PyReport {
  id: string;
  state: string;
  result?: unknown;
  error?: { type: string; message: string };
  traceback?: string | null;
}

/** Runs the Python producer: sends `name` and waits for its result there, in Python. */
function pySend(name: string, args: unknown[], kwargs: Record<string, unknown> = {}, options: Record<string, unknown> = {}): Promise<PyReport> {
  return pyClient(['send', name, JSON.stringify(args), JSON.stringify(kwargs), JSON.stringify(options)]);
}

function pyClient(argv: string[], queue = queues.py): Promise<PyReport> {
  return new Promise((resolve, reject) => {
    const proc = spawn(PY, [path.join(pyDir, 'client.py'), ...argv], { env: env(queue), cwd: pyDir, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    proc.stdout!.on('data', (d) => (out += d));
    proc.stderr!.on('data', (d) => (err += d));
    proc.once('exit', (code) => (code === 0 ? resolve(JSON.parse(out.trim().split('\n').pop()!) as PyReport) : reject(new Error(`client.py failed (${code}): ${err}`))));
  });
}

describe.skipIf(!ready.ok)(`interop with Python Celery 5.2 on Redis${ready.ok ? '' : ` (skipped: ${ready.reason})`}`, () => {
  let app: Celerity;
  let redis: Redis;

  beforeAll(async () => {
    app = new Celerity('interop-producer', { broker: BROKER, backend: BACKEND, loglevel: 'silent' }, {});
    redis = new Redis(BROKER);
    await Promise.all([pythonWorker(queues.py, 'py'), celerityWorker(queues.ts, 'ts')]);
  }, 60_000);

  afterAll(async () => {
    for (const p of procs) if (p.exitCode === null) p.kill('SIGTERM');
    await Promise.all(procs.map((p) => (p.exitCode === null ? new Promise((r) => p.once('exit', r)) : undefined)));
    for (const q of Object.values(queues)) {
      await redis.del(q, `${q}\x06\x163`, `${q}\x06\x166`, `${q}\x06\x169`, `_kombu.binding.${q}`, `celerity.delayed.${q}`, `celerity.consumer.${q}`);
    }
    await redis.del(ledger);
    redis.disconnect();
    await app.close();
  });

  it('a Python caller runs a Celerity task and reads its result', async () => {
    expect(await pySend('ts.add', [2, 3], {}, { queue: queues.ts })).toMatchObject({ state: 'SUCCESS', result: 5 });
    expect(await pySend('ts.add', [2], { y: 40 }, { queue: queues.ts })).toMatchObject({ state: 'SUCCESS', result: 42 });
  });

  it('a Celerity caller runs a Python task and reads its result', async () => {
    const r = await app.sendTask<number>('py.mul', [3, 4], { queue: queues.py });
    expect(await r.get({ timeout: 30_000 })).toBe(12);
    const k = await app.sendTask<number>('py.mul', [3], { kwargs: { y: 5 }, queue: queues.py });
    expect(await k.get({ timeout: 30_000 })).toBe(15);
  });

  const payload = {
    args: ['café', '日本語', '😀', { nested: [1, { deep: null }], empty: {} }, null, 1.5, -7],
    kwargs: { ключ: 'значение', none: null, list: [true, false], text: 'a "quoted" \\ line\n' },
  };

  it('carries unicode, nested JSON and null both ways', async () => {
    const fromPy = await pySend('ts.echo', payload.args, payload.kwargs, { queue: queues.ts });
    expect(fromPy).toMatchObject({ state: 'SUCCESS', result: payload });
    const fromTs = await app.sendTask('py.echo', payload.args, { kwargs: payload.kwargs, queue: queues.py });
    expect(await fromTs.get({ timeout: 30_000 })).toEqual(payload);
  });

  it('honours countdown/eta and priority both ways', async () => {
    const t0 = Date.now();
    expect(await pySend('ts.add', [1, 1], {}, { queue: queues.ts, countdown: 1, priority: 9 })).toMatchObject({ result: 2 });
    expect(Date.now() - t0).toBeGreaterThanOrEqual(1000);
    expect(await pySend('ts.add', [1, 2], {}, { queue: queues.ts, eta_in: 1 })).toMatchObject({ result: 3 });
    const t1 = Date.now();
    const r = await app.sendTask<number>('py.mul', [2, 2], { queue: queues.py, countdown: 1, priority: 9 });
    expect(await r.get({ timeout: 30_000 })).toBe(4);
    expect(Date.now() - t1).toBeGreaterThanOrEqual(1000);
  });

  it('revokes expired tasks both ways', async () => {
    const past = new Date(Date.now() - 60_000).toISOString();
    const fromPy = await pyClient(['send', 'ts.add', '[1, 1]', '{}', JSON.stringify({ queue: queues.ts, expires: -60 })]);
    expect(fromPy.state).toBe('REVOKED');
    expect(fromPy.error?.type).toBe('TaskRevokedError');
    const r = await app.sendTask('py.mul', [1, 1], { queue: queues.py, expires: past });
    await expect(r.get({ timeout: 30_000 })).rejects.toBeInstanceOf(TaskRevokedError);
  });

  it('retries on the other side: a Python retry of its task called from Celerity, and the reverse', async () => {
    expect(await pySend('ts.retry_once', [7], {}, { queue: queues.ts })).toMatchObject({ state: 'SUCCESS', result: { x: 7, retries: 1 } });
    const r = await app.sendTask('py.retry_once', [8], { queue: queues.py });
    expect(await r.get({ timeout: 30_000 })).toEqual({ x: 8, retries: 1 });
  });

  it('reports failures with type, message and traceback both ways', async () => {
    const fromPy = await pySend('ts.fail', ['bad input'], {}, { queue: queues.ts });
    expect(fromPy.state).toBe('FAILURE');
    expect(fromPy.error).toEqual({ type: 'ValidationError', message: 'bad input' });
    expect(fromPy.traceback).toContain('ValidationError: bad input');
    const r = await app.sendTask('py.fail', ['missing-key'], { queue: queues.py });
    const err = (await r.get({ timeout: 30_000 }).catch((e: Error) => e)) as Error;
    expect(err.name).toBe('KeyError');
    expect(err.message).toBe('missing-key');
    expect(err.stack).toMatch(/Traceback \(most recent call last\)[\s\S]*proj\.py/);
    const custom = await app.sendTask('py.custom_fail', ['boom'], { queue: queues.py });
    const c = (await custom.get({ timeout: 30_000 }).catch((e: Error) => e)) as Error;
    expect(c.name).toBe('CustomError');
    expect(c.message).toBe('boom');
  });

  it('a mixed fleet on one queue processes 2,000 tasks, none lost, none run twice', { timeout: 180_000 }, async () => {
    await Promise.all([pythonWorker(queues.mixed, 'py-mixed'), celerityWorker(queues.mixed, 'ts-mixed')]);
    const fromPython = pyClient(['bulk', 'mixed.record', '1000'], queues.mixed).then((r) => r as unknown as string[]);
    const mixedEnv = { queue: queues.mixed };
    const fromTs = await Promise.all(Array.from({ length: 1000 }, (_, i) => app.sendTask('mixed.record', [1000 + i], mixedEnv)));
    const ids = [...(await fromPython), ...fromTs.map((r) => r.id)];
    const results = await Promise.all(ids.map((id) => app.asyncResult<{ n: number; by: string }>(id).get({ timeout: 120_000 })));
    expect(new Set(results.map((r) => r.n)).size).toBe(2000);
    const by = new Set(results.map((r) => r.by));
    expect(by).toEqual(new Set(['py', 'ts']));
    const executed = await redis.lrange(ledger, 0, -1);
    expect(executed).toHaveLength(2000);
    expect(new Set(executed).size).toBe(2000);
  });
});
