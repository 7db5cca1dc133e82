/**
 * The children's life cycle in the threads and process pools: recycling after N tasks or past a memory bound,
 * growing and shrinking, closing gracefully or by force, and an app module that cannot load.
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { AppLoadError } from '../../src/errors/index.js';
import { ProcessPool, ThreadPool, WorkerLostError, type ExecutionPool, type PoolHooks } from '../../src/worker/pools/index.js';
import { deferred, poolJob, tempDir } from '../helpers.js';

const FIXTURES = fileURLToPath(new URL('../fixtures', import.meta.url));
const APP = path.join(FIXTURES, 'pool-app.ts');
const pools: ExecutionPool[] = [];

afterEach(async () => {
  await Promise.all(pools.splice(0).map((p) => p.close({ force: true })));
});

const job = poolJob;

const quiet: PoolHooks = { updateState: async () => undefined };

function watched(): PoolHooks & { child: Promise<{ id: number }> } {
  const started = deferred<{ id: number }>();
  return { updateState: async () => undefined, started: (c) => started.resolve(c), child: started.promise };
}

/** The id of the child (thread id or pid) that runs a trivial task. */
async function whoRuns(pool: ExecutionPool): Promise<number> {
  const hooks = watched();
  expect((await pool.run(job('pool.whoami'), hooks)).kind).toBe('success');
  return (await hooks.child).id;
}

const kinds = [
  // Memory bounds sit between a fresh child (about 20 MB of heap for a thread, 110 MB of RSS for a process here)
  // and one that has just kept 96 MB alive.
  { kind: 'threads', Pool: ThreadPool, boundKiB: 64 * 1024 },
  { kind: 'process', Pool: ProcessPool, boundKiB: 180 * 1024 },
] as const;

describe.each(kinds)('$kind pool life cycle', ({ Pool, boundKiB }) => {
  async function started(options: Partial<ConstructorParameters<typeof Pool>[0]> = {}): Promise<ExecutionPool> {
    const pool = new Pool({ app: APP, size: 1, ...options });
    pools.push(pool);
    await pool.start();
    return pool;
  }

  it('replaces a child after maxTasksPerChild tasks', async () => {
    const pool = await started({ maxTasksPerChild: 2 });
    const first = await whoRuns(pool);
    expect(await whoRuns(pool)).toBe(first);
    const third = await whoRuns(pool);
    expect(third).not.toBe(first);
    expect(await whoRuns(pool)).toBe(third);
  });

  it('replaces a child after the task that took it past maxMemoryPerChild', async () => {
    const pool = await started({ maxMemoryPerChild: boundKiB });
    const first = await whoRuns(pool);
    expect(pool.children()[0]!.memory).toBeLessThan(boundKiB);
    expect(await whoRuns(pool)).toBe(first);
    const hooks = watched();
    expect(await pool.run(job('pool.allocate', [96]), hooks)).toMatchObject({ kind: 'success', value: 96 });
    expect((await hooks.child).id).toBe(first);
    expect(await whoRuns(pool)).not.toBe(first);
  });

  it('grows, and shrinks without killing a running task', async () => {
    const pool = await started();
    await pool.grow(1);
    expect(pool.size).toBe(2);
    expect(pool.children().map((c) => c.state)).toEqual(['idle', 'idle']);
    const a = watched();
    const b = watched();
    const runs = [pool.run(job('pool.sleep', [400, 'a']), a), pool.run(job('pool.sleep', [400, 'b']), b)];
    expect((await a.child).id).not.toBe((await b.child).id);
    expect(pool.busy).toBe(2);
    const shrunk = pool.shrink(1);
    expect(pool.size).toBe(1);
    expect(await Promise.all(runs)).toMatchObject([
      { kind: 'success', value: 'a' },
      { kind: 'success', value: 'b' },
    ]);
    await shrunk;
    expect(pool.children()).toHaveLength(1);
    expect(() => pool.shrink(1)).toThrow(RangeError);
    expect(await pool.run(job('pool.add', [1, 2]), quiet)).toMatchObject({ kind: 'success', value: 3 });
  });

  it('closes gracefully: the running task finishes, later runs go back to the queue', async () => {
    const pool = await started();
    const hooks = watched();
    const running = pool.run(job('pool.sleep', [300, 'finished']), hooks);
    await hooks.child;
    const closed = pool.close();
    const late = await pool.run(job('pool.add', [1, 1]), quiet);
    expect(late.kind === 'reject' && late.signal.requeue).toBe(true);
    expect(await running).toMatchObject({ kind: 'success', value: 'finished' });
    await closed;
    expect(pool.children()).toHaveLength(0);
  });

  it('closes by force: a running task is killed and reported lost', async () => {
    const pool = await started();
    const hooks = watched();
    const running = pool.run(job('pool.spin', [60_000]), hooks);
    await hooks.child;
    await pool.close({ force: true });
    const outcome = await running;
    expect(outcome.kind === 'failure' && outcome.error).toBeInstanceOf(WorkerLostError);
  });

  it('restart() replaces every child with one that loads the app module again; a busy child after its task', async () => {
    const tmp = tempDir();
    const dist = pathToFileURL(path.join(FIXTURES, '../../dist/index.js')).href;
    const file = path.join(tmp.dir, 'versioned-app.mjs');
    const write = (version: string) =>
      writeFileSync(file, `import { Celerity } from '${dist}';\nexport const app = new Celerity('versioned');\napp.task('v.version', () => '${version}');\napp.task('v.wait', (ms) => new Promise((r) => setTimeout(() => r('${version}'), ms)));\n`);
    write('one');
    try {
      const pool = await started({ app: file, size: 2 });
      const version = async () => {
        const out = await pool.run(job('v.version'), quiet);
        return out.kind === 'success' ? out.value : out.kind;
      };
      expect(await version()).toBe('one');
      // One child is busy with a task while the restart is asked for: it finishes that task on the old code.
      const busy = pool.run(job('v.wait', [300]), quiet);
      write('two');
      const restarted = pool.restart();
      expect(await busy).toMatchObject({ kind: 'success', value: 'one' });
      await restarted;
      expect(pool.size).toBe(2);
      expect(await Promise.all([version(), version(), version()])).toEqual(['two', 'two', 'two']);
    } finally {
      tmp.cleanup();
    }
  });

  it('start() rejects with the loading error of an app that cannot load', async () => {
    const pool = new Pool({ app: path.join(FIXTURES, 'pool-broken.ts'), size: 2 });
    pools.push(pool);
    const err = await pool.start().catch((e: Error) => e);
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).message).toContain('broken on purpose');
    expect(pool.children()).toHaveLength(0);
    expect(() => new Pool({ app: path.join(FIXTURES, 'no-such-app.ts'), size: 1 })).toThrow(AppLoadError);
  });
});

describe('threads pool with resourceLimits', () => {
  it('loses only the thread that runs out of heap, and carries on', async () => {
    const pool = new ThreadPool({ app: APP, size: 1, resourceLimits: { maxOldGenerationSizeMb: 64 } });
    pools.push(pool);
    await pool.start();
    const outcome = await pool.run(job('pool.allocate', [500]), quiet);
    expect(outcome.kind === 'failure' && outcome.error).toBeInstanceOf(WorkerLostError);
    expect(outcome.kind === 'failure' && outcome.error.message).toMatch(/memory limit/);
    expect(await pool.run(job('pool.add', [2, 3]), quiet)).toMatchObject({ kind: 'success', value: 5 });
  });
});
