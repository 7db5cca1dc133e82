/**
 * Celery's rpc:// result backend over RabbitMQ (a vhost of its own): results travel back to the producer's reply
 * queue, between Celerity apps and with real Python Celery 5.2 both ways.
 */
import { execFile, spawnSync, type ChildProcess } from 'node:child_process';
import { promisify } from 'node:util';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { Celerity, chord, group } from '../../src/index.js';
import { startUntilReady } from '../interop/processes.js';
import { PYTHON, freshVhost, pingRabbit, requireService } from '../services.js';

const rabbit = await requireService('RabbitMQ', () => pingRabbit());
const python = await requireService('Python Celery 5 with py-amqp', () => {
  const probe = spawnSync(PYTHON, ['-c', 'import celery, amqp; assert celery.VERSION[0] == 5'], { encoding: 'utf8' });
  if (probe.status !== 0) throw new Error(probe.stderr.trim().split('\n').at(-1) ?? 'import failed');
});
const space = rabbit.ok ? await freshVhost('rpc') : null;
const PY_DIR = fileURLToPath(new URL('../interop/py/', import.meta.url));

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});
afterAll(async () => {
  await space?.remove();
});

function apps(queue: string) {
  const broker = space!.url;
  const producer = new Celerity('rpc-producer', { broker, backend: 'rpc://', loglevel: 'silent' }, {});
  const workerApp = new Celerity('rpc-worker', { broker, backend: 'rpc://', loglevel: 'silent', trackStarted: true }, {});
  let attempts = 0;
  workerApp.task('ts.rpc.add', (x: number, y: number) => x + y);
  workerApp.task('ts.rpc.flaky', (x: number) => {
    if (attempts++ === 0) throw new Error('first attempt fails');
    return x;
  }, { autoretryFor: [Error], retryBackoff: false, defaultRetryDelay: 0.2 });
  const worker = workerApp.worker({ concurrency: 2, queues: [queue] });
  cleanups.push(async () => {
    await worker.stop();
    await workerApp.close();
    await producer.close();
  });
  return { producer, worker };
}

describe.skipIf(!rabbit.ok)(`rpc:// results${rabbit.ok ? '' : ` (skipped: ${rabbit.reason})`}`, () => {
  it("carries results, failures and retried tasks' results back to the producer that sent them", async () => {
    const queue = `rpc-${randomUUID().slice(0, 8)}`;
    const { producer, worker } = apps(queue);
    await worker.start();
    const sums = await Promise.all(Array.from({ length: 50 }, (_, i) => producer.sendTask<number>('ts.rpc.add', [i, 1], { queue })));
    expect(await Promise.all(sums.map((r) => r.get({ timeout: 10_000 })))).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
    const missing = await producer.sendTask('ts.rpc.nope', [], { queue });
    await expect(missing.get({ timeout: 10_000 })).rejects.toThrow(/NotRegistered|not registered/i);
    // The retry is a new message from the worker: it keeps the producer's reply_to, so the result still comes back.
    const flaky = await producer.sendTask<number>('ts.rpc.flaky', [7], { queue });
    expect(await flaky.get({ timeout: 10_000 })).toBe(7);
    expect(await flaky.state).toBe('SUCCESS');
    // Waiting on a group works (each member's result comes back); a chord needs a store and says so.
    const g = await group(producer.signature('ts.rpc.add', [1, 2], { queue }), producer.signature('ts.rpc.add', [3, 4], { queue })).applyAsync();
    expect(await g.get({ timeout: 10_000 })).toEqual([3, 7]);
    const header = [producer.signature('ts.rpc.add', [1, 1], { queue })];
    await expect(chord(header, producer.signature('ts.rpc.add', [0], { queue })).applyAsync()).rejects.toThrow(/rpc:\/\/ result backend does not support chords/);
  });

  it('another producer cannot read the result (it went to the sender), as with Celery', async () => {
    const queue = `rpc-${randomUUID().slice(0, 8)}`;
    const { producer, worker } = apps(queue);
    await worker.start();
    const r = await producer.sendTask<number>('ts.rpc.add', [2, 2], { queue });
    expect(await r.get({ timeout: 10_000 })).toBe(4);
    const stranger = new Celerity('rpc-stranger', { broker: space!.url, backend: 'rpc://', loglevel: 'silent' }, {});
    cleanups.push(() => stranger.close());
    expect(await stranger.asyncResult(r.id).state).toBe('PENDING');
  });

  it('refuses rpc:// without an AMQP broker, naming why', () => {
    expect(() => new Celerity('x', { broker: 'sqlite://./nowhere.db', backend: 'rpc://' }, {}).backend()).not.toThrow();
    return expect(new Celerity('x', { broker: 'memory://', backend: 'rpc://' }, {}).backend()).rejects.toThrow(/rpc:\/\/ with an AMQP broker/);
  });

  describe.skipIf(!python.ok)(`with Python Celery 5.2${python.ok ? '' : ` (skipped: ${python.reason})`}`, () => {
    const env = (queue: string) => ({ ...process.env, INTEROP_BROKER: space!.url, INTEROP_QUEUE: queue, PYTHONPATH: PY_DIR });

    it('a Python client with rpc:// gets results and errors from a Celerity worker', async () => {
      const queue = `rpc-${randomUUID().slice(0, 8)}`;
      const { worker } = apps(queue);
      await worker.start();
      // Not spawnSync: the worker runs in this process and must go on while Python waits for its result.
      const call = async (task: string, args: unknown[]) => {
        const out = await promisify(execFile)(PYTHON, [`${PY_DIR}rpc_proj.py`, 'call', task, JSON.stringify(args)], { env: env(queue), timeout: 40_000 });
        return JSON.parse(out.stdout.trim().split('\n').at(-1)!) as Record<string, unknown>;
      };
      expect(await call('ts.rpc.add', [20, 22])).toEqual({ ok: 42, state: 'SUCCESS' });
      expect(await call('ts.rpc.nope', [])).toMatchObject({ error: 'NotRegistered', state: 'FAILURE' });
    });

    it('a Celerity client with rpc:// gets results and errors from a Python worker', async () => {
      const queue = `rpc-${randomUUID().slice(0, 8)}`;
      const owned: ChildProcess[] = [];
      cleanups.push(() => owned.forEach((p) => p.kill('SIGKILL')));
      await startUntilReady(owned, PYTHON, ['-m', 'celery', '-A', 'rpc_proj', 'worker', '-P', 'solo', '-Q', queue, '--without-gossip', '--without-mingle', '-l', 'info'], {
        env: env(queue),
        cwd: PY_DIR,
        readyLine: /ready\./,
      });
      const producer = new Celerity('rpc-ts-client', { broker: space!.url, backend: 'rpc://', loglevel: 'silent' }, {});
      cleanups.push(() => producer.close());
      const r = await producer.sendTask<number>('py.rpc.add', [5, 6], { queue });
      expect(await r.get({ timeout: 20_000 })).toBe(11);
      const f = await producer.sendTask('py.rpc.fail', ['boom'], { queue });
      const err = (await f.get({ timeout: 20_000 }).catch((e: Error) => e)) as Error;
      expect([err.name, err.message]).toEqual(['KeyError', 'boom']);
    });
  });
});
