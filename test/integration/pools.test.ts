/**
 * The threads and process pools on real worker threads and real child processes, loading test/fixtures/pool-app.ts
 * in each child: results, errors, control signals, progress, time limits, terminate and crashes. One pool per
 * kind serves the whole file; the tests that kill children also prove the pool carries on afterwards.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NotRegistered, Reject, RemoteTaskError, Retry, TaskRevokedError, TimeLimitExceeded } from '../../src/index.js';
import { ProcessPool, ThreadPool, WorkerLostError, type ExecutionPool, type PoolHooks } from '../../src/worker/pools/index.js';
import { UnencodableValue } from '../../src/protocol/encodable.js';
import { deferred, poolJob } from '../helpers.js';

const APP = path.join(fileURLToPath(new URL('../fixtures', import.meta.url)), 'pool-app.ts');

const job = poolJob;

const quiet: PoolHooks = { updateState: async () => undefined };

/** Hooks that record which child took the job. */
function watched(): PoolHooks & { child: Promise<{ id: number }> } {
  const started = deferred<{ id: number }>();
  return { updateState: async () => undefined, started: (c) => started.resolve(c), child: started.promise };
}

describe.each([
  ['threads', ThreadPool],
  ['process', ProcessPool],
] as const)('%s pool', (_kind, Pool) => {
  let pool: ExecutionPool;

  beforeAll(async () => {
    pool = new Pool({ app: APP, size: 2 });
    await pool.start();
  });

  afterAll(() => pool?.close());

  it('runs a task and returns its result, binding kwargs through params', async () => {
    expect(await pool.run(job('pool.add', [2, 3]), quiet)).toMatchObject({ kind: 'success', value: 5 });
    const outcome = await pool.run(job('pool.add', [2], { kwargs: { y: 40 } }), quiet);
    expect(outcome).toMatchObject({ kind: 'success', value: 42 });
    expect(outcome.runtime).toBeGreaterThanOrEqual(0);
  });

  it('gives the task the same `this` as the async pool', async () => {
    const eta = new Date('2030-01-02T03:04:05Z');
    const j = job('pool.context', [1], { kwargs: { extra: true }, retries: 2, rootId: 'r', parentId: 'p', group: 'g', eta });
    const outcome = await pool.run(j, quiet);
    expect(outcome.kind).toBe('success');
    expect(outcome.kind === 'success' && outcome.value).toEqual({
      id: j.id,
      name: 'pool.context',
      retries: 2,
      args: [1],
      kwargs: { extra: true },
      rootId: 'r',
      parentId: 'p',
      group: 'g',
      eta,
      expires: null,
      hostname: 'pool@test',
      delivery: { queue: 'celery', priority: 0, redelivered: false },
    });
  });

  it('returns a failure with the error type, message, stack and cause', async () => {
    const outcome = await pool.run(job('pool.fail', ['input']), quiet);
    if (outcome.kind !== 'failure') throw new Error(`expected a failure, got ${outcome.kind}`);
    expect(outcome.badInput).toBe(false);
    expect(outcome.error).toBeInstanceOf(RemoteTaskError);
    expect(outcome.error.name).toBe('ValidationError');
    expect(outcome.error.message).toBe('bad input');
    expect(outcome.error.stack).toMatch(/^ValidationError: bad input\n\s+at .*pool-app\.ts/);
    expect(outcome.error.cause).toBeInstanceOf(TypeError);
    expect((outcome.error.cause as Error).message).toBe('underneath');
  });

  it('reports a wrong call or an unknown task as bad input', async () => {
    const missing = await pool.run(job('pool.add', [1]), quiet);
    expect(missing).toMatchObject({ kind: 'failure', badInput: true });
    expect(missing.kind === 'failure' && missing.error).toBeInstanceOf(TypeError);
    expect(missing.kind === 'failure' && missing.error.message).toBe("pool.add() missing 1 required positional argument: 'y'");
    const unknown = await pool.run(job('pool.nope'), quiet);
    expect(unknown).toMatchObject({ kind: 'failure', badInput: true });
    expect(unknown.kind === 'failure' && unknown.error).toBeInstanceOf(NotRegistered);
  });

  it('turns this.retry() into a retry outcome with the same fields', async () => {
    const outcome = await pool.run(job('pool.retry'), quiet);
    if (outcome.kind !== 'retry') throw new Error(`expected a retry, got ${outcome.kind}`);
    expect(outcome.signal).toBeInstanceOf(Retry);
    expect(outcome.signal.countdown).toBe(7);
    expect(outcome.signal.eta).toEqual(new Date('2030-01-02T03:04:05Z'));
    expect(outcome.signal.maxRetries).toBe(5);
    expect(outcome.signal.exc).toBeInstanceOf(RangeError);
    expect(outcome.signal.exc?.message).toBe('flaky');
    // Without a countdown: the task's defaultRetryDelay, as in the async pool.
    const fallback = await pool.run(job('pool.retryDefault'), quiet);
    expect(fallback.kind === 'retry' && fallback.signal.countdown).toBe(42);
  });

  it('passes Reject and Ignore through as their outcomes', async () => {
    const rejected = await pool.run(job('pool.reject'), quiet);
    if (rejected.kind !== 'reject') throw new Error(`expected a reject, got ${rejected.kind}`);
    expect(rejected.signal).toBeInstanceOf(Reject);
    expect(rejected.signal).toMatchObject({ reason: 'not for us', requeue: true });
    expect(await pool.run(job('pool.ignore'), quiet)).toMatchObject({ kind: 'ignore' });
  });

  it('proxies updateState to the parent and waits for each write', async () => {
    const seen: unknown[] = [];
    const hooks: PoolHooks = {
      updateState: async (state, meta) => {
        await new Promise((r) => setTimeout(r, 20));
        seen.push([state, meta]);
      },
    };
    expect(await pool.run(job('pool.progress', [3]), hooks)).toMatchObject({ kind: 'success', value: 'done' });
    expect(seen).toEqual([1, 2, 3].map((current) => ['PROGRESS', { current, total: 3 }]));
    // A write that fails reaches the task as an error from its await.
    const failing = await pool.run(job('pool.progress', [1]), { updateState: () => Promise.reject(new Error('store is down')) });
    expect(failing.kind === 'failure' && failing.error.message).toBe('store is down');
  });

  it('aborts this.signal with SoftTimeLimitExceeded, which the task can catch', async () => {
    const outcome = await pool.run(job('pool.soft', [10_000], { limits: { hard: null, soft: 0.2 } }), quiet);
    expect(outcome).toMatchObject({ kind: 'success', value: { caught: 'SoftTimeLimitExceeded', message: 'soft time limit (0.2s) exceeded' } });
  });

  it('kills a busy loop at the hard limit and runs the next task on a new child', async () => {
    const hooks = watched();
    const outcome = await pool.run(job('pool.spin', [60_000], { limits: { hard: 0.3, soft: null } }), hooks);
    expect(outcome.kind).toBe('timeout');
    expect(outcome.kind === 'timeout' && outcome.error).toBeInstanceOf(TimeLimitExceeded);
    // Loose on purpose: a noisy machine may be slow, but a loop that was never killed would run for a minute.
    expect(outcome.runtime).toBeLessThan(10);
    const killed = (await hooks.child).id;
    expect(pool.children().map((c) => c.id)).not.toContain(killed);
    expect(await pool.run(job('pool.add', [1, 1]), quiet)).toMatchObject({ kind: 'success', value: 2 });
    expect(pool.children()).toHaveLength(2);
  });

  it('terminate() kills the child running a task and fails it as revoked', async () => {
    const hooks = watched();
    const running = pool.run(job('pool.spin', [60_000], { id: 'to-terminate' }), hooks);
    const child = await hooks.child;
    expect(pool.terminate('to-terminate')).toBe(true);
    const outcome = await running;
    expect(outcome).toMatchObject({ kind: 'failure', badInput: false });
    expect(outcome.kind === 'failure' && outcome.error).toBeInstanceOf(TaskRevokedError);
    expect(outcome.kind === 'failure' && outcome.error.message).toBe('terminated');
    expect(pool.terminate('to-terminate')).toBe(false);
    expect(pool.children().map((c) => c.id)).not.toContain(child.id);
    expect(await pool.run(job('pool.add', [2, 2]), quiet)).toMatchObject({ kind: 'success', value: 4 });
  });

  it('fails a task whose child exits with WorkerLostError, and carries on', async () => {
    const outcome = await pool.run(job('pool.exit', [3]), quiet);
    expect(outcome.kind === 'failure' && outcome.error).toBeInstanceOf(WorkerLostError);
    expect(outcome.kind === 'failure' && outcome.error.message).toContain('exit code 3');
    const uncaught = await pool.run(job('pool.uncaught'), quiet);
    expect(uncaught.kind === 'failure' && uncaught.error).toBeInstanceOf(WorkerLostError);
    expect(await pool.run(job('pool.add', [3, 3]), quiet)).toMatchObject({ kind: 'success', value: 6 });
  });

  it('with rejectOnWorkerLost, a lost child requeues the message instead', async () => {
    const outcome = await pool.run(job('pool.exit', [1], { rejectOnWorkerLost: true }), quiet);
    if (outcome.kind !== 'reject') throw new Error(`expected a reject, got ${outcome.kind}`);
    expect(outcome.signal.requeue).toBe(true);
    expect(outcome.signal.cause).toBeInstanceOf(WorkerLostError);
  });

  it('reports a result that cannot be stored or sent back in place of the value, and carries on', async () => {
    // The worker fails the task with EncodeError from this, unless its result is not stored at all.
    const outcome = await pool.run(job('pool.unclonable'), quiet);
    expect(outcome).toMatchObject({ kind: 'success' });
    expect(outcome.kind === 'success' && outcome.value).toEqual(new UnencodableValue({ type: 'function', path: 'result.fn' }));
    expect(await pool.run(job('pool.add', [4, 4]), quiet)).toMatchObject({ kind: 'success', value: 8 });
  });
});
