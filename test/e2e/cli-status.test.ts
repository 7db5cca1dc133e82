/**
 * `celerity status`, `celerity queues` and `celerity forget` on the embedded SQLite store, with no server at all:
 * `celerity worker` processes and the CLI share one file.
 */
import { spawnSync, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { Celerity } from '../../src/index.js';
import { tempDir } from '../helpers.js';
import { cli, exited, spawnWorker } from './worker-process.js';

const fixture = path.join(fileURLToPath(new URL('../..', import.meta.url)), 'test/fixtures/app.ts');
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

function store() {
  const tmp = tempDir();
  cleanups.push(() => tmp.cleanup());
  const url = `sqlite://${path.join(tmp.dir, 'celerity.db')}`;
  const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('CELERITY_')));
  const env: NodeJS.ProcessEnv = { ...base, CELERITY_BROKER_URL: url, CELERITY_RESULT_BACKEND: url };
  const cel = (args: string[]) => {
    const r = spawnSync(process.execPath, [cli, ...args], { env, encoding: 'utf8', timeout: 30_000 });
    return { code: r.status, stdout: r.stdout, stderr: r.stderr };
  };
  const client = () => {
    const app = new Celerity('e2e-client', { broker: url, backend: url, loglevel: 'silent' }, {});
    cleanups.push(() => app.close());
    return app;
  };
  const worker = async (name: string, args: string[] = []) => {
    const node = `${name}-${run}@e2e`;
    const started = await spawnWorker(['-A', fixture, '-n', node, '--log-format', 'json', ...args], env, (p) => procs.push(p));
    return { ...started, node };
  };
  return { env, cel, client, worker };
}

describe('celerity status / queues / forget on the embedded SQLite store', () => {
  it('status lists every worker online; with none it exits 69', async () => {
    const s = store();
    expect(s.cel(['status', '-t', '0.3'])).toMatchObject({ code: 69, stderr: 'celerity: error: No nodes replied within time constraint\n' });
    const [a, b] = await Promise.all([s.worker('a'), s.worker('b', ['-Q', 'other'])]);
    const status = s.cel(['status']);
    expect(status.code).toBe(0);
    expect(status.stdout).toContain(`->  ${a.node}: OK\n`);
    expect(status.stdout).toContain(`->  ${b.node}: OK\n`);
    expect(status.stdout).not.toContain('pong');
    expect(status.stdout.endsWith('\n2 nodes online.\n')).toBe(true);
  });

  it('queues shows the waiting messages of a queue and the workers consuming it', async () => {
    const s = store();
    const app = s.client();
    for (let i = 0; i < 3; i++) await app.sendTask('fixtures.add', [i, i], { queue: 'waiting' });
    await s.worker('q', ['-Q', 'busy']);
    const table = s.cel(['queues', '-Q', 'waiting,busy']);
    expect(table.code).toBe(0);
    const rows = table.stdout.trim().split('\n').map((l) => l.trim().split(/\s+/));
    expect(rows).toEqual([
      ['queue', 'messages', 'consumers'],
      ['waiting', '3', '0'],
      ['busy', '0', '1'],
    ]);
    const json = JSON.parse(s.cel(['queues', '-Q', 'waiting,busy', '--json']).stdout) as unknown;
    expect(json).toEqual([
      { queue: 'waiting', messages: 3, consumers: 0 },
      { queue: 'busy', messages: 0, consumers: 1 },
    ]);
    // By default: the default queue (and any configured or routed one).
    expect(s.cel(['queues', '--json', '-t', '0.3']).stdout).toContain('"queue":"celery"');
  });

  it('forget deletes a stored result: the task reads PENDING again', async () => {
    const s = store();
    await s.worker('f');
    const r = await s.client().sendTask('fixtures.add', [2, 3]);
    expect(await r.get({ timeout: 20_000 })).toBe(5);
    expect(s.cel(['result', r.id])).toMatchObject({ code: 0, stdout: '5\n' });
    expect(s.cel(['forget', r.id])).toMatchObject({ code: 0, stdout: `${r.id}: forgotten\n` });
    expect(s.cel(['result', r.id])).toMatchObject({ code: 3, stdout: 'PENDING\n' });
  });
});
