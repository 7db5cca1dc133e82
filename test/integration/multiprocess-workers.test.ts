/**
 * One producer process and two worker processes on one SQLite file: 10,000 tasks, none lost, none run twice.
 * Each execution appends its task id to a file of its worker's own; the producer waits for every result.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { tempDir } from '../helpers.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const N = 10_000;
const procs: ChildProcess[] = [];

afterEach(() => {
  for (const p of procs.splice(0)) if (p.exitCode === null) p.kill('SIGKILL');
});

function exit(p: ChildProcess): Promise<number | null> {
  return p.exitCode !== null ? Promise.resolve(p.exitCode) : new Promise((r) => p.once('exit', r));
}

describe('several processes on one SQLite file', () => {
  it(`runs ${N} tasks from a producer process on two worker processes exactly once`, { timeout: 120_000 }, async () => {
    const tmp = tempDir();
    const url = `sqlite://${path.join(tmp.dir, 'shared.db')}`;
    const inherited = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('CELERITY_')));
    const env: NodeJS.ProcessEnv = { ...inherited, CELERITY_BROKER_URL: url, CELERITY_RESULT_BACKEND: url, RECORD_DIR: tmp.dir };
    const app = path.join(root, 'test/fixtures/record-app.ts');
    for (let i = 0; i < 2; i++) {
      procs.push(
        spawn(process.execPath, [path.join(root, 'dist/cli/main.js'), 'worker', '-A', app, '-c', '20', '-n', `w${i}@test`, '--loglevel', 'warn'], {
          env,
          stdio: ['ignore', 'ignore', 'inherit'],
        }),
      );
    }
    const producer = spawn(process.execPath, ['--import', 'tsx', path.join(root, 'test/fixtures/produce.ts'), String(N)], {
      env,
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    producer.stdout!.on('data', (d) => (out += d));
    // A worker that dies (say, at start-up) fails the test at once instead of leaving the producer waiting.
    const died = Promise.race(procs.map((w) => exit(w).then((code) => `a worker exited early with ${code}`)));
    expect(await Promise.race([exit(producer), died])).toBe(0);
    expect(out.trim()).toBe(String((N * (N - 1)) / 2));
    for (const w of procs) w.kill('SIGTERM');
    expect(await Promise.all(procs.map(exit))).toEqual([0, 0]);

    const files = readdirSync(tmp.dir).filter((f) => f.endsWith('.log'));
    const perWorker = files.map((f) => readFileSync(path.join(tmp.dir, f), 'utf8').split('\n').filter(Boolean));
    const all = perWorker.flat();
    expect(all).toHaveLength(N);
    expect(new Set(all).size).toBe(N);
    // Both workers took part (the work was shared, not run by one while the other idled).
    expect(perWorker.filter((ids) => ids.length > 0)).toHaveLength(2);
    tmp.cleanup();
  });
});
