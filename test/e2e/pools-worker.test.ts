/**
 * `celerity worker -P threads|process` as a user runs it, on one SQLite file: tasks run in children that loaded
 * the app module; a busy-looping task under a hard limit is killed and the worker carries on; CPU-bound tasks
 * longer than the visibility timeout are not redelivered (the worker's own loop stays free to extend them); a
 * child that dies mid-task fails that task with WorkerLostError and is replaced.
 */
import type { ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { Celerity } from '../../src/index.js';
import { tempDir } from '../helpers.js';
import { spawnWorker } from './worker-process.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const fixture = path.join(root, 'test/fixtures/pool-app.ts');

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function startWorker(kind: string, url: string): Promise<{ proc: ChildProcess; lines: string[] }> {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('CELERITY_')));
  return spawnWorker(
    ['-A', fixture, '-P', kind, '-c', '2', '--log-format', 'json'],
    { ...env, CELERITY_BROKER_URL: url, CELERITY_RESULT_BACKEND: url, CELERITY_VISIBILITY_TIMEOUT: '1' },
    (proc) =>
      cleanups.push(async () => {
        if (proc.exitCode === null && proc.signalCode === null) {
          proc.kill('SIGKILL');
          await new Promise((r) => proc.once('exit', r));
        }
      }),
  );
}

describe.each(['threads', 'process'])('celerity worker -P %s', (kind) => {
  it('runs tasks in children, kills a busy loop at its hard limit, survives a dying child, never redelivers a long CPU task', { timeout: 60_000 }, async () => {
    const tmp = tempDir();
    cleanups.push(() => tmp.cleanup());
    const url = `sqlite://${path.join(tmp.dir, 'pools.db')}`;
    const { lines } = await startWorker(kind, url);
    const client = new Celerity('client', { broker: url, backend: url, loglevel: 'silent' }, {});
    cleanups.push(() => client.close());

    const sum = await client.sendTask<number>('pool.add', [2, 3]);
    expect(await sum.get({ timeout: 20_000 })).toBe(5);

    // Two synchronous loops, each longer than the 1 s visibility timeout, occupy both children.
    const long = await Promise.all([0, 1].map(() => client.sendTask<boolean>('pool.spin', [2500])));
    expect(await Promise.all(long.map((r) => r.get({ timeout: 20_000 })))).toEqual([true, true]);
    for (const r of long) expect(lines.filter((l) => l.includes(r.id) && l.includes('received'))).toHaveLength(1);

    const runaway = await client.sendTask('pool.spin', [600_000], { timeLimit: 1 });
    const err = await runaway.get({ timeout: 20_000 }).catch((e: Error) => e);
    expect((err as Error).name).toBe('TimeLimitExceeded');

    const lost = await client.sendTask('pool.exit', [3]);
    const lostErr = await lost.get({ timeout: 20_000 }).catch((e: Error) => e);
    expect((lostErr as Error).name).toBe('WorkerLostError');

    const after = await client.sendTask<number>('pool.add', [20, 22]);
    expect(await after.get({ timeout: 20_000 })).toBe(42);
  });
});
