/**
 * End-to-end tests on one fresh SQLite file per test: `celerity worker` processes, CLI calls and in-process clients
 * sharing it, as a new user's first setup does, and all of it stopped and removed after each test.
 */
import { spawnSync, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { afterEach } from 'vitest';
import { Celerity } from '../../src/index.js';
import { tempDir } from '../helpers.js';
import { cli, exited, spawnWorker } from './worker-process.js';

export interface SqliteCli {
  url: string;
  /** The test's temporary folder (the database lives there). */
  dir: string;
  env: NodeJS.ProcessEnv;
  /** Runs the CLI to its end. */
  cel(args: string[]): { code: number | null; stdout: string; stderr: string };
  /** An app on the file in this process, closed after the test. */
  client(): Celerity;
  /** A `celerity worker -A <fixture> -n <name>-<run>@e2e` process on the file, resolved once ready. */
  worker(name: string, args?: string[]): Promise<{ proc: ChildProcess; lines: string[]; node: string }>;
  /** Registers a process the test started, to be killed after it. */
  track(proc: ChildProcess): void;
}

/**
 * Call at the top of a test file; each call of the returned function makes a fresh file. `env(dir)` adds
 * variables (beside CELERITY_BROKER_URL and CELERITY_RESULT_BACKEND; other CELERITY_* of this process are dropped).
 */
export function useSqliteCli(fixture: string, extraEnv: (dir: string) => NodeJS.ProcessEnv = () => ({})): () => SqliteCli {
  const run = randomUUID().slice(0, 8);
  const procs: ChildProcess[] = [];
  const cleanups: (() => Promise<void> | void)[] = [];
  afterEach(async () => {
    for (const p of procs.splice(0)) {
      if (p.exitCode === null && p.signalCode === null) {
        p.kill('SIGKILL');
        await exited(p);
      }
    }
    for (const c of cleanups.splice(0).reverse()) await c();
  });
  return () => {
    const tmp = tempDir();
    cleanups.push(() => tmp.cleanup());
    const url = `sqlite://${path.join(tmp.dir, 'celerity.db')}`;
    const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('CELERITY_')));
    const env: NodeJS.ProcessEnv = { ...base, CELERITY_BROKER_URL: url, CELERITY_RESULT_BACKEND: url, ...extraEnv(tmp.dir) };
    const track = (p: ChildProcess) => void procs.push(p);
    return {
      url,
      dir: tmp.dir,
      env,
      track,
      cel: (args) => {
        const r = spawnSync(process.execPath, [cli, ...args], { env, encoding: 'utf8', timeout: 30_000 });
        return { code: r.status, stdout: r.stdout, stderr: r.stderr };
      },
      client: () => {
        const app = new Celerity('e2e-client', { broker: url, backend: url, loglevel: 'silent' }, {});
        cleanups.push(() => app.close());
        return app;
      },
      worker: async (name, args = []) => {
        const node = `${name}-${run}@e2e`;
        const started = await spawnWorker(['-A', fixture, '-n', node, '--log-format', 'json', ...args], env, track);
        return { ...started, node };
      },
    };
  };
}
