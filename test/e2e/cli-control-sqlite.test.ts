/**
 * `celerity inspect`, `celerity control` and `celerity events` on the embedded SQLite store, with no server at all:
 * `celerity worker` processes and the CLI share one file, as a new user's first setup does.
 */
import { spawnSync, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { Celerity } from '../../src/index.js';
import type { ReceivedEvent } from '../../src/index.js';
import { tempDir } from '../helpers.js';
import { cli, exited, spawnWorker, watchCli } from './worker-process.js';

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

describe('celerity inspect / control / events on the embedded SQLite store', () => {
  it('inspect and control reach every worker on the file; shutdown ends one', async () => {
    const s = store();
    // b consumes another queue: the long task below runs on a, so b's warm shutdown has nothing to wait for.
    const [a, b] = await Promise.all([s.worker('a', ['-c', '2']), s.worker('b', ['-c', '1', '-Q', 'other'])]);
    const ping = s.cel(['inspect', 'ping']);
    expect(ping.code).toBe(0);
    expect(ping.stdout).toContain(`->  ${a.node}: OK\n        pong\n`);
    expect(ping.stdout).toContain(`->  ${b.node}: OK\n        pong\n`);
    expect(ping.stdout).toContain('2 nodes online.');
    expect(s.cel(['inspect', 'registered', '-d', a.node]).stdout).toBe(`->  ${a.node}: OK\n    * fixtures.add\n    * fixtures.fail\n    * fixtures.sleep\n\n1 node online.\n`);
    const stats = JSON.parse(s.cel(['inspect', 'stats', '--json']).stdout) as Record<string, { pool: { 'max-concurrency': number }; broker: unknown }>;
    expect(stats[a.node]!.pool['max-concurrency']).toBe(2);
    expect(stats[a.node]!.broker).toMatchObject({ transport: 'sqlite' });
    expect(stats[b.node]!.pool['max-concurrency']).toBe(1);
    expect(s.cel(['control', 'rate_limit', 'fixtures.add', '10/s', '-d', b.node]).stdout).toBe(`->  ${b.node}: OK\n        new rate limit set successfully\n`);
    expect(s.cel(['inspect', 'registered', '-d', b.node]).stdout).toContain('fixtures.add [rate_limit=10/s]');

    const sleeper = await s.client().sendTask('fixtures.sleep', [60_000, 'long']);
    await new Promise<void>((resolve) => {
      const check = () => (a.lines.some((l) => l.includes(sleeper.id) && l.includes('received')) ? resolve() : setTimeout(check, 20));
      check();
    });
    const active = JSON.parse(s.cel(['inspect', 'active', '--json']).stdout) as Record<string, { id: string }[]>;
    expect(active[a.node]!.map((t) => t.id)).toEqual([sleeper.id]);
    expect(active[b.node]).toEqual([]);

    expect(s.cel(['control', 'shutdown', '-d', b.node])).toMatchObject({ code: 0, stdout: `->  ${b.node}: OK\n        shutdown requested\n` });
    expect(await exited(b.proc)).toBe(0);
    const after = s.cel(['inspect', 'ping', '-t', '0.5']);
    expect(after.stdout).toContain(a.node);
    expect(after.stdout).not.toContain(b.node);
  });

  it('events: worker and task events from a worker on the file; no node: exit 69', async () => {
    const s = store();
    expect(s.cel(['inspect', 'ping', '-t', '0.3'])).toMatchObject({ code: 69, stderr: 'celerity: error: No nodes replied within time constraint\n' });
    const { node } = await s.worker('events', ['-E']);
    const view = watchCli(['events', '--json'], s.env, (p) => procs.push(p));
    // The view asks the workers for a heartbeat once it listens.
    await view.next((l) => l.includes('"worker-heartbeat"') && l.includes(node));
    const r = await s.client().sendTask('fixtures.add', [2, 3]);
    expect(await r.get({ timeout: 20_000 })).toBe(5);
    const succeeded = JSON.parse(await view.next((l) => l.includes('"task-succeeded"') && l.includes(r.id))) as ReceivedEvent;
    expect(succeeded).toMatchObject({ type: 'task-succeeded', hostname: node, uuid: r.id, result: '5' });
    view.proc.kill('SIGINT');
    expect(await exited(view.proc)).toBe(0);
  });
});
