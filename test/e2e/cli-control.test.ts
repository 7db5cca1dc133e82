/**
 * `celerity inspect`, `celerity control` and `celerity events` as a user runs them, against `celerity worker`
 * processes on a real Redis (database 15, every key and channel under a prefix of this run, so other tests on that
 * database never hear these nodes). Also: with `-P process` and every child busy with CPU work, the worker still
 * answers at once and its heartbeats keep their pace.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { Celerity, ControlClient, EventReceiver } from '../../src/index.js';
import type { ReceivedEvent } from '../../src/index.js';
import { pingRedis, requireService } from '../services.js';
import { exited, spawnWorker, watchCli, type WatchedCli } from './worker-process.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const cli = path.join(root, 'dist/cli/main.js');
const fixture = path.join(root, 'test/fixtures/app.ts');
const poolFixture = path.join(root, 'test/fixtures/pool-app.ts');
const run = randomUUID().slice(0, 8);
const PREFIX = `e2e-${run}:`;
const BROKER = `redis://127.0.0.1:6379/15?global_keyprefix=${PREFIX}`;
const BACKEND = 'redis://127.0.0.1:6379/15';

const ready = await requireService('Redis', () => pingRedis(BACKEND));

const procs: ChildProcess[] = [];
const cleanups: (() => Promise<void> | void)[] = [];

afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
  for (const p of procs.splice(0)) {
    if (p.exitCode === null && p.signalCode === null) {
      p.kill('SIGKILL');
      await new Promise((r) => p.once('exit', r));
    }
  }
});

afterAll(async () => {
  if (!ready.ok) return;
  const r = new Redis(BACKEND);
  const keys = await r.keys(`${PREFIX}*`);
  if (keys.length) await r.del(...keys);
  r.disconnect();
});

function env(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('CELERITY_')));
  return { ...base, CELERITY_BROKER_URL: BROKER, CELERITY_RESULT_BACKEND: BACKEND, CELERITY_RESULT_EXPIRES: '300', ...extra };
}

function cel(args: string[], extraEnv: NodeJS.ProcessEnv = {}) {
  const r = spawnSync(process.execPath, [cli, ...args], { env: env(extraEnv), encoding: 'utf8', timeout: 30_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** A `celerity worker` process, resolved once it logs that it is ready. */
async function startWorker(name: string, args: string[] = [], extraEnv: NodeJS.ProcessEnv = {}): Promise<{ proc: ChildProcess; node: string; lines: string[] }> {
  const node = `${name}-${run}@e2e`;
  const started = await spawnWorker(['-A', fixture, '-n', node, '--log-format', 'json', ...args], env(extraEnv), (proc) => procs.push(proc));
  return { ...started, node };
}

function watch(args: string[]): WatchedCli {
  return watchCli(args, env(), (proc) => procs.push(proc));
}

function client(): Celerity {
  const app = new Celerity('e2e-client', { broker: BROKER, backend: BACKEND, loglevel: 'silent' }, {});
  cleanups.push(() => app.close());
  return app;
}

describe('celerity inspect / control / events: help', () => {
  it('prints help for every verb and command', () => {
    const verbs = [
      'inspect', 'control', 'events',
      ...['ping', 'active', 'reserved', 'scheduled', 'revoked', 'registered', 'stats', 'active_queues', 'query_task'].map((m) => `inspect ${m}`),
      ...['revoke', 'rate_limit', 'time_limit', 'add_consumer', 'cancel_consumer', 'pool_grow', 'pool_shrink', 'shutdown', 'enable_events', 'disable_events'].map((m) => `control ${m}`),
    ];
    for (const verb of verbs) {
      const r = cel([...verb.split(' '), '--help']);
      expect(r.code, verb).toBe(0);
      expect(r.stdout, verb).toMatch(/Usage: celerity/);
    }
    expect(cel(['inspect', 'ping', '--help']).stdout).toMatch(/--destination/);
    expect(cel(['control', 'revoke', '--help']).stdout).toMatch(/--terminate/);
    expect(cel(['inspect', 'nosuch']).code).toBe(2);
  });
});

describe.skipIf(!ready.ok)(`celerity inspect / control / events on Redis${ready.ok ? '' : ` (skipped: ${ready.reason})`}`, () => {
  it('inspect: answers like celery inspect; exit 69 when no node replies', async () => {
    const { node } = await startWorker('inspect', ['-c', '2']);
    const ping = cel(['inspect', 'ping']);
    expect(ping.code).toBe(0);
    expect(ping.stdout).toBe(`->  ${node}: OK\n        pong\n\n1 node online.\n`);
    const json = cel(['inspect', 'ping', '--json', '-d', node]);
    expect(JSON.parse(json.stdout)).toEqual({ [node]: { ok: 'pong' } });
    const registered = cel(['inspect', 'registered', '-d', node]);
    expect(registered.stdout).toBe(`->  ${node}: OK\n    * fixtures.add\n    * fixtures.fail\n    * fixtures.sleep\n\n1 node online.\n`);
    expect(cel(['inspect', 'active', '-d', node]).stdout).toContain(`->  ${node}: OK\n    - empty -\n`);
    const stats = cel(['inspect', 'stats', '-d', node, '--json']);
    expect(JSON.parse(stats.stdout)[node]).toMatchObject({ pool: { 'max-concurrency': 2 }, prefetch_count: 8 });
    expect(cel(['inspect', 'active-queues', '-d', node, '--json']).stdout).toContain('"name":"celery"');
    const nobody = cel(['inspect', 'ping', '-d', `nobody-${run}@e2e`, '-t', '0.3']);
    expect(nobody.code).toBe(69);
    expect(nobody.stdout).toBe('');
    expect(nobody.stderr).toBe('celerity: error: No nodes replied within time constraint\n');
  });

  it('control: revoke --terminate, rate_limit, then shutdown ends the worker', async () => {
    const { proc, node, lines } = await startWorker('control');
    const app = client();
    const sleeper = await app.sendTask('fixtures.sleep', [60_000, 'never']);
    await new Promise<void>((resolve) => {
      const check = () => (lines.some((l) => l.includes(sleeper.id) && l.includes('received')) ? resolve() : setTimeout(check, 20));
      check();
    });
    expect(cel(['inspect', 'query_task', sleeper.id, '-d', node, '--json']).stdout).toContain('"active"');
    const revoke = cel(['control', 'revoke', sleeper.id, '--terminate', '-d', node]);
    expect(revoke).toMatchObject({ code: 0, stdout: `->  ${node}: OK\n        terminate: ${sleeper.id}\n` });
    expect(cel(['result', sleeper.id, '--wait', '--timeout', '20'])).toMatchObject({ code: 1, stdout: 'REVOKED: TaskRevokedError: terminated\n' });
    expect(cel(['inspect', 'revoked', '-d', node, '--json']).stdout).toContain(sleeper.id);

    expect(cel(['control', 'rate_limit', 'fixtures.add', '10/s', '-d', node]).stdout).toBe(`->  ${node}: OK\n        new rate limit set successfully\n`);
    expect(cel(['control', 'rate_limit', 'no.such.task', '10/s', '-d', node]).stdout).toBe(`->  ${node}: ERROR\n        unknown task\n`);
    expect(cel(['inspect', 'registered', '-d', node]).stdout).toContain('fixtures.add [rate_limit=10/s]');
    expect(cel(['control', 'time_limit', 'fixtures.add', '5', '10', '-d', node]).stdout).toContain('time limits set successfully');

    const shutdown = cel(['control', 'shutdown', '-d', node]);
    expect(shutdown).toMatchObject({ code: 0, stdout: `->  ${node}: OK\n        shutdown requested\n` });
    expect(await exited(proc)).toBe(0);
    expect(cel(['control', 'shutdown', '-d', node, '-t', '0.3']).code).toBe(69);
  });

  it('events: a live view of worker and task events; Ctrl-C exits 0', async () => {
    const { node } = await startWorker('events', ['-E']);
    const raw = watch(['events', '--json']);
    const human = watch(['events']);
    // Each view asks the workers for a heartbeat once it listens.
    await Promise.all([raw.next((l) => l.includes('"worker-heartbeat"') && l.includes(node)), human.next((l) => l.includes(`${node} worker-heartbeat`))]);
    const app = client();
    const r = await app.sendTask('fixtures.add', [2, 3]);
    expect(await r.get({ timeout: 20_000 })).toBe(5);
    const succeeded = JSON.parse(await raw.next((l) => l.includes('"task-succeeded"') && l.includes(r.id))) as ReceivedEvent;
    expect(succeeded).toMatchObject({ type: 'task-succeeded', hostname: node, uuid: r.id, result: '5' });
    const line = await human.next((l) => l.includes('task-succeeded') && l.includes(r.id));
    expect(line).toMatch(new RegExp(`^\\d{4}-\\d\\d-\\d\\dT[\\d:.]+Z ${node} task-succeeded fixtures\\.add\\[${r.id}\\] result=5 runtime=`));
    expect(human.lines.some((l) => l.includes(`${node} task-received fixtures.add[${r.id}] args=(2, 3)`))).toBe(true);
    for (const view of [raw, human]) view.proc.kill('SIGINT');
    expect(await exited(raw.proc)).toBe(0);
    expect(await exited(human.proc)).toBe(0);
  });

  it('-P process: with every child spinning, ping answers at once and heartbeats keep a 2 s pace', { timeout: 90_000 }, async () => {
    const node = `busy-${run}@e2e`;
    const proc = spawn(process.execPath, [cli, 'worker', '-A', poolFixture, '-P', 'process', '-c', '2', '-n', node, '-E', '--log-format', 'json'], {
      env: env({ CELERITY_VISIBILITY_TIMEOUT: '1' }),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    procs.push(proc);
    await new Promise<void>((resolve, reject) => {
      createInterface({ input: proc.stdout! }).on('line', (line) => line.includes('ready.') && resolve());
      proc.once('exit', (code) => reject(new Error(`worker exited with ${code}`)));
    });
    const control = new ControlClient({ url: BROKER });
    const receiver = new EventReceiver({ url: BROKER, wakeup: false });
    cleanups.push(() => control.close(), () => receiver.close());
    const events: ReceivedEvent[] = [];
    receiver.on((e) => e.hostname === node && events.push(e));
    await receiver.start();
    const app = client();

    const SPIN_MS = 5_000;
    const spins = await Promise.all([0, 1].map(() => app.sendTask('pool.spin', [SPIN_MS])));
    const ids = spins.map((s) => s.id);
    // Both children have taken their task once the worker lists two active tasks with child pids.
    let active: { id: string; worker_pid: number | null }[] = [];
    const deadline = Date.now() + 30_000;
    while (active.filter((t) => t.worker_pid !== null).length < 2) {
      if (Date.now() > deadline) throw new Error('the two spins never became active');
      active = (await control.inspect<typeof active>('active', {}, { destination: [node], timeout: 5_000 }))[node] ?? [];
    }
    const busySince = Date.now();
    const pings: number[] = [];
    while (Date.now() - busySince < SPIN_MS - 1_500) {
      const t0 = performance.now();
      expect(await control.ping({ destination: [node], timeout: 5_000 })).toEqual({ [node]: { ok: 'pong' } });
      pings.push(performance.now() - t0);
      await new Promise((r) => setTimeout(r, 250));
    }
    await Promise.all(spins.map((s) => s.get({ timeout: 30_000 })));
    const busyUntil = Date.now();
    // The result is stored before the event is sent.
    const succeeded = () => events.filter((e) => e.type === 'task-succeeded').map((e) => e.uuid as string);
    while (succeeded().length < 2) {
      if (Date.now() > busyUntil + 10_000) throw new Error(`task-succeeded events missing: ${succeeded().join(', ')}`);
      await new Promise((r) => setTimeout(r, 25));
    }

    // The bounds only tell a free loop from a blocked one: a loop blocked by the spins would answer after they end
    // (5 s), so anything well under that passes, however loaded the machine.
    expect(Math.max(...pings)).toBeLessThan(4_000);
    const beats = events.filter((e) => e.type === 'worker-heartbeat').map((e) => e.local_received * 1000);
    const during = beats.filter((t) => t >= busySince - 2_500 && t <= busyUntil + 2_500);
    expect(during.length).toBeGreaterThanOrEqual(2);
    for (let i = 1; i < during.length; i++) expect(during[i]! - during[i - 1]!).toBeLessThan(5_000);
    // Visibility kept being extended (1 s timeout): no spin was restored and received a second time.
    for (const id of ids) expect(events.filter((e) => e.type === 'task-received' && e.uuid === id)).toHaveLength(1);
    expect(succeeded().sort()).toEqual([...ids].sort());
    // task-started names the child that ran the task, as inspect active does.
    for (const id of ids) {
      const pid = events.find((e) => e.type === 'task-started' && e.uuid === id)?.pid;
      expect(pid).not.toBe(proc.pid);
      expect(pid).toBe(active.find((t) => t.id === id)?.worker_pid);
    }
  });
});
