/**
 * Numbers beyond standard JSON between Celerity and real Python Celery 5.2 on Redis: Python ints past 2^53 arrive
 * exact (bigint) in a Celerity task's arguments and in results Celerity reads; a Celerity producer's and task's
 * bigints reach Python as the exact int; NaN and the infinities Python's json writes are read, state included, and
 * never written back: a result or extended args holding one is FAILURE with kombu's EncodeError, as Python sees it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Celerity, type Worker } from '../../src/index.js';
import { parseJson } from '../../src/protocol/json.js';
import { PYTHON, pythonCeleryOnRedis, requireService } from '../services.js';
import { startUntilReady } from './processes.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const pyDir = path.join(root, 'test/interop/py');
const BROKER = 'redis://127.0.0.1:6379/5';
const BACKEND = 'redis://127.0.0.1:6379/6';
const BIG = 2n ** 64n + 1n;

const ready = await requireService('Python Celery 5 on Redis', () => pythonCeleryOnRedis(BROKER));

const run = randomUUID().slice(0, 8);
const queues = { py: `numbers-py-${run}`, ts: `numbers-ts-${run}` };
const procs: ChildProcess[] = [];

function env(): NodeJS.ProcessEnv {
  const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('CELERITY_')));
  return { ...base, INTEROP_BROKER: BROKER, INTEROP_BACKEND: BACKEND, INTEROP_QUEUE: queues.py, PYTHONPATH: pyDir };
}

interface PyReport {
  id: string;
  state: string;
  /** Python's type name, its module and repr of the value its AsyncResult.get() returned (or the exception). */
  type: string;
  module: string;
  repr: string;
  result: unknown;
}

/** Python sends `name(*eval(argsExpr))` to `queue` and reports what its AsyncResult.get() returned. */
function pySend(name: string, queue: string, argsExpr: string): Promise<PyReport> {
  return new Promise((resolve, reject) => {
    const client = path.join(pyDir, 'numbers_client.py');
    const proc = spawn(PYTHON, [client, 'send', name, queue, argsExpr], { env: env(), cwd: pyDir, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    proc.stdout!.on('data', (d) => (out += d));
    proc.stderr!.on('data', (d) => (err += d));
    // Python's own json.dumps output: read with the reader under test, though exact values are checked via `repr`.
    proc.once('exit', (code) => {
      if (code !== 0) return reject(new Error(`numbers_client.py failed (${code}): ${err}`));
      try {
        resolve(parseJson(out.trim().split('\n').pop()!, 'numbers_client.py output') as PyReport);
      } catch (e) {
        reject(e as Error);
      }
    });
  });
}

/** What a Celerity task received: JavaScript type and text of each value, as Python can print them back. */
function described(value: unknown): [string, string] {
  return [typeof value, String(value)];
}

describe.skipIf(!ready.ok)(`numbers with Python Celery 5.2 on Redis${ready.ok ? '' : ` (skipped: ${ready.reason})`}`, () => {
  let app: Celerity;
  let worker: Worker;
  /** What ts.num.inspect received, by task id: seen here even when its result cannot be stored. */
  const received = new Map<string, [string, string][]>();

  beforeAll(async () => {
    app = new Celerity('numbers', { broker: BROKER, backend: BACKEND, defaultQueue: queues.ts, loglevel: 'silent' }, {});
    app.task('ts.num.inspect', function (...args: unknown[]) {
      received.set(this.id, args.map(described));
      return args.map(described);
    });
    app.task('ts.num.big', () => BIG);
    app.task('ts.num.nan', () => [NaN, Infinity, -Infinity]);
    app.task('ts.num.values', () => ({ big: -BIG, safe: 2 ** 53 - 1, small: 7n }));
    worker = app.worker({ queues: [queues.ts], concurrency: 2 });
    const pyArgs = ['-m', 'celery', '-A', 'numbers_proj', 'worker', '-Q', queues.py, '-c', '1', '-n', `numbers-${run}@interop`, '-l', 'info', '--without-heartbeat', '--without-mingle', '--without-gossip'];
    await Promise.all([worker.start(), startUntilReady(procs, PYTHON, pyArgs, { env: env(), cwd: pyDir, readyLine: /ready\./ })]);
  }, 60_000);

  afterAll(async () => {
    for (const p of procs) if (p.exitCode === null) p.kill('SIGTERM');
    await Promise.all(procs.map((p) => (p.exitCode === null ? new Promise((r) => p.once('exit', r)) : undefined)));
    await worker?.stop({ timeout: 0 });
    const redis = new Redis(BROKER);
    for (const q of Object.values(queues)) {
      await redis.del(q, `${q}\x06\x163`, `${q}\x06\x166`, `${q}\x06\x169`, `_kombu.binding.${q}`, `celerity.delayed.${q}`, `celerity.consumer.${q}`);
    }
    redis.disconnect();
    await app?.close();
  }, 60_000);

  it('a Celerity task receives Python ints past 2^53 as exact bigints, safe ints as numbers', async () => {
    const report = await pySend('ts.num.inspect', queues.ts, '[2**64 + 1, -(2**64 + 1), 2**53 + 1, 2**53 - 1, 0.1]');
    expect(report.state).toBe('SUCCESS');
    expect(report.result).toEqual([
      ['bigint', '18446744073709551617'],
      ['bigint', '-18446744073709551617'],
      ['bigint', '9007199254740993'],
      ['number', '9007199254740991'],
      ['number', '0.1'],
    ]);
    // The worker kept the arguments in the extended meta exactly as they arrived, as a Python worker does.
    const args = (await app.asyncResult(report.id).meta())?.args;
    expect(args).toEqual([BIG, -BIG, 2n ** 53n + 1n, 2 ** 53 - 1, 0.1]);
  });

  it("a Celerity task receives Python's NaN and infinities, which cannot be stored with its result: Python sees EncodeError", async () => {
    const report = await pySend('ts.num.inspect', queues.ts, "[float('nan'), float('inf'), float('-inf')]");
    expect(received.get(report.id)).toEqual([['number', 'NaN'], ['number', 'Infinity'], ['number', '-Infinity']]);
    expect(report).toMatchObject({ state: 'FAILURE', type: 'EncodeError', module: 'kombu.exceptions', result: 'cannot encode the arguments: NaN at args[0]' });
    expect((await app.asyncResult(report.id).meta())?.args ?? null).toBeNull();
  });

  it("a Celerity task's bigint result reaches Python's AsyncResult.get() exactly; a NaN result is EncodeError there", async () => {
    expect(await pySend('ts.num.big', queues.ts, '[]')).toMatchObject({ state: 'SUCCESS', type: 'int', repr: '18446744073709551617' });
    const mixed = await pySend('ts.num.values', queues.ts, '[]');
    expect(mixed).toMatchObject({ state: 'SUCCESS', type: 'dict' });
    expect(mixed.repr).toBe("{'big': -18446744073709551617, 'safe': 9007199254740991, 'small': 7}");
    expect(await pySend('ts.num.nan', queues.ts, '[]')).toMatchObject({
      state: 'FAILURE',
      type: 'EncodeError',
      module: 'kombu.exceptions',
      result: 'cannot encode the result: NaN at result[0]',
    });
  });

  it('a Celerity producer sends 2n ** 64n + 1n and the Python task sees 18446744073709551617 exactly', async () => {
    const r = await app.sendTask<{ args: [string, string][]; kwargs: Record<string, [string, string]> }>(
      'py.num.inspect',
      [BIG, -BIG, 9007199254740991],
      { queue: queues.py, kwargs: { k: 2n ** 70n } },
    );
    expect(await r.get({ timeout: 30_000 })).toEqual({
      args: [['int', '18446744073709551617'], ['int', '-18446744073709551617'], ['int', '9007199254740991']],
      kwargs: { k: ['int', '1180591620717411303424'] },
    });
  });

  it('a Python result holding big ints, NaN and infinities is read exactly by get(), and its state by state', async () => {
    const r = await app.sendTask<Record<string, unknown>>('py.num.values', [], { queue: queues.py });
    const value = await r.get({ timeout: 30_000 });
    expect(value).toMatchObject({ big: BIG, neg: -BIG, safe: 2 ** 53 - 1, inf: Infinity, ninf: -Infinity, f: 0.1 });
    expect(value.nan).toBeNaN();
    expect(await r.state).toBe('SUCCESS');
    expect(await r.ready()).toBe(true);

    const nan = await app.sendTask<number>('py.num.nan', [], { queue: queues.py });
    expect(await nan.get({ timeout: 30_000 })).toBeNaN();
    expect(await nan.state).toBe('SUCCESS');
    expect(await nan.info).toBeNaN();
  });
});
