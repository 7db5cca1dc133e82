/**
 * A Celerity worker (`celerity worker`, the real CLI) as a node next to real Python Celery 5.2 on Redis (database
 * 1, which no other test uses): `celery inspect` and `celery control` see and revoke on it, Celery's event state
 * keeper follows it, `celerity inspect` sees a Python worker, and at start it takes over the revoked ids the Python
 * worker remembers (mingle).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Celerity, ControlClient, TaskRevokedError } from '../../src/index.js';
import { pythonCeleryOnRedis, requireService } from '../services.js';
import { captureEvents, startUntilReady } from './processes.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const pyDir = path.join(root, 'test/interop/py');
const cli = path.join(root, 'dist/cli/main.js');
const PY = '/usr/bin/python3';
const DB = 1;
const BROKER = `redis://127.0.0.1:6379/${DB}`;

const ready = await requireService('Python Celery 5 on Redis', () => pythonCeleryOnRedis(BROKER));

const run = randomUUID().slice(0, 8);
const tsQueue = `node-ts-${run}`;
const pyQueue = `node-py-${run}`;
const tsNode = `ts-${run}@interop`;
const pyNode = `py-${run}@interop`;
/** Revoked on the Python worker before the Celerity worker starts: mingle must bring it over. */
const revokedOnPython = `py-revoked-${run}`;
const procs: ChildProcess[] = [];

function baseEnv(): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('CELERITY_')));
}

function pyEnv(): NodeJS.ProcessEnv {
  return { ...baseEnv(), CONTROL_BROKER: BROKER, CONTROL_QUEUE: pyQueue, PYTHONPATH: pyDir };
}

function tsEnv(): NodeJS.ProcessEnv {
  return { ...baseEnv(), CELERITY_BROKER_URL: BROKER, CELERITY_RESULT_BACKEND: BROKER, CELERITY_RESULT_EXPIRES: '300', NODE_QUEUE: tsQueue };
}

/** Starts a process and resolves once a line of its output matches `readyLine`. */
function start(cmd: string, args: string[], env: NodeJS.ProcessEnv, readyLine: RegExp, cwd: string): Promise<ChildProcess> {
  return startUntilReady(procs, cmd, args, { env, cwd, readyLine });
}

/** Runs a command to completion; resolves to its exit code and output. */
function runTo(cmd: string, args: string[], env: NodeJS.ProcessEnv, cwd: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const proc = spawn(cmd, args, { env, cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    procs.push(proc);
    let stdout = '';
    let stderr = '';
    proc.stdout!.on('data', (d) => (stdout += d));
    proc.stderr!.on('data', (d) => (stderr += d));
    proc.once('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

const celery = (...args: string[]) => runTo(PY, ['-m', 'celery', '-A', 'control_proj', '-b', BROKER, ...args], pyEnv(), pyDir);
const celerity = (...args: string[]) => runTo(process.execPath, [cli, ...args], tsEnv(), root);

async function until(check: () => boolean | Promise<boolean>, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe.skipIf(!ready.ok)(`a Celerity worker among Python Celery 5.2 nodes${ready.ok ? '' : ` (skipped: ${ready.reason})`}`, () => {
  let app: Celerity;
  let client: ControlClient;
  let redis: Redis;

  beforeAll(async () => {
    redis = new Redis(BROKER);
    client = new ControlClient({ url: BROKER });
    app = new Celerity('node-interop-producer', { broker: BROKER, backend: BROKER, loglevel: 'silent', resultExpires: 300 }, {});
    const pyArgs = ['-m', 'celery', '-A', 'control_proj', 'worker', '-Q', pyQueue, '-c', '1', '-n', pyNode, '-l', 'info', '--without-gossip'];
    await start(PY, pyArgs, pyEnv(), /ready\./, pyDir);
    expect(await client.revoke(revokedOnPython, { reply: true, destination: [pyNode], timeout: 5_000 })).toEqual({
      [pyNode]: { ok: `tasks ${revokedOnPython} flagged as revoked` },
    });
    const tsArgs = [cli, 'worker', '-A', path.join(root, 'test/interop/node-app.ts'), '-Q', tsQueue, '--autoscale', '3,2', '-n', tsNode, '-E', '--log-format', 'json'];
    await start(process.execPath, tsArgs, tsEnv(), /ready\./, root);
  }, 90_000);

  afterAll(async () => {
    for (const p of procs) if (p.exitCode === null && p.signalCode === null) p.kill('SIGTERM');
    await Promise.all(procs.map((p) => (p.exitCode === null && p.signalCode === null ? new Promise((r) => p.once('exit', r)) : undefined)));
    await Promise.all([client?.close(), app?.close()]);
    if (redis) {
      const keys = [...(await redis.keys(`*${run}*`))];
      if (keys.length) await redis.del(...keys);
      redis.disconnect();
    }
  }, 30_000);

  it('celery inspect ping and registered see the Celerity worker', async () => {
    const ping = await celery('inspect', 'ping', '--timeout', '3', '-d', tsNode);
    expect(ping.code).toBe(0);
    expect(ping.stdout).toContain(`${tsNode}: OK`);
    expect(ping.stdout).toContain('pong');
    expect(ping.stdout).toContain('1 node online.');
    const registered = await celery('inspect', 'registered', '--timeout', '3', '-d', tsNode);
    expect(registered.code).toBe(0);
    expect(registered.stdout).toContain('node.add');
    expect(registered.stdout).toContain('node.sleep');
  });

  it('celery inspect active lists the task the Celerity worker runs', async () => {
    const r = await app.sendTask('node.sleep', [4_000], { queue: tsQueue });
    await until(async () => ((await client.inspect<{ id: string }[]>('active', {}, { destination: [tsNode] }))[tsNode] ?? []).some((t) => t.id === r.id));
    const active = await celery('inspect', 'active', '--timeout', '3', '-d', tsNode);
    expect(active.code).toBe(0);
    expect(active.stdout).toContain(r.id);
    expect(active.stdout).toContain('node.sleep');
    const stats = await celery('inspect', 'stats', '--timeout', '3', '-d', tsNode);
    expect(stats.stdout).toContain('max-concurrency');
    expect(await r.get({ timeout: 20_000 })).toBe(4_000);
  }, 40_000);

  it('celery control revoke revokes a task held by the Celerity worker', async () => {
    // Sent with an ETA the way a Python producer sends it: to the queue, so the worker holds it until then.
    const { id, message, priority } = app.buildMessage('node.add', [1, 2], { countdown: 60, queue: tsQueue });
    await app.publish({ queue: tsQueue, message, priority });
    await until(async () => ((await client.inspect<{ request: { id: string } }[]>('scheduled', {}, { destination: [tsNode] }))[tsNode] ?? []).some((t) => t.request.id === id));
    const revoke = await celery('control', 'revoke', id, '--timeout', '3', '-d', tsNode);
    expect(revoke.code).toBe(0);
    expect(revoke.stdout).toContain(`tasks ${id} flagged as revoked`);
    const err = await app.asyncResult(id).get({ timeout: 15_000 }).catch((e: Error) => e);
    expect(err).toBeInstanceOf(TaskRevokedError);
    expect((err as Error).message).toBe('revoked');
    const revoked = await celery('inspect', 'revoked', '--timeout', '3', '-d', tsNode);
    expect(revoked.stdout).toContain(id);
  }, 40_000);

  it('celery inspect conf, report and memsample read the Celerity worker; objgraph says it is not supported', async () => {
    const conf = await celery('inspect', 'conf', '--timeout', '3', '-d', tsNode, '--json');
    expect(conf.code).toBe(0);
    const settings = (JSON.parse(conf.stdout) as Record<string, Record<string, unknown>>)[tsNode]!;
    expect(settings).toMatchObject({ broker_url: BROKER, result_backend: BROKER, result_expires: 300 });
    const withDefaults = JSON.parse((await celery('inspect', 'conf', 'true', '--timeout', '3', '-d', tsNode, '--json')).stdout) as Record<string, Record<string, unknown>>;
    expect(withDefaults[tsNode]).toMatchObject({ task_default_queue: tsQueue, task_serializer: 'json', broker_transport_options: { visibility_timeout: 3600 } });
    const report = await celery('inspect', 'report', '--timeout', '3', '-d', tsNode);
    expect(report.stdout).toContain('software -> celerity:');
    expect(report.stdout).toContain('settings -> transport:redis results:redis');
    const mem = await celery('inspect', 'memsample', '--timeout', '3', '-d', tsNode);
    expect(mem.stdout).toMatch(/\d+(\.\d+)?MB/);
    const graph = await celery('inspect', 'objgraph', '--timeout', '3', '-d', tsNode);
    expect(graph.stdout).toContain('objgraph is not supported by Celerity workers');
  });

  it('celery control autoscale changes the bounds of the Celerity worker and resizes its pool', async () => {
    const r = await celery('control', 'autoscale', '5', '3', '--timeout', '3', '-d', tsNode);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('autoscale now max=5 min=3');
    const stats = await client.inspect<{ pool: { 'max-concurrency': number } }>('stats', {}, { destination: [tsNode] });
    expect(stats[tsNode]!.pool['max-concurrency']).toBe(3);
    expect((await celery('control', 'autoscale', '3', '2', '--timeout', '3', '-d', tsNode)).stdout).toContain('autoscale now max=3 min=2');
  });

  it('celerity inspect sees the Python worker', async () => {
    const ping = await celerity('inspect', 'ping', '-d', pyNode, '-t', '3');
    expect(ping).toMatchObject({ code: 0, stdout: `->  ${pyNode}: OK\n        pong\n\n1 node online.\n` });
    const registered = await celerity('inspect', 'registered', '-d', pyNode, '-t', '3');
    expect(registered.code).toBe(0);
    expect(registered.stdout).toContain('* control.add');
    expect(registered.stdout).toContain('* control.sleep');
    const stats = await celerity('inspect', 'stats', '-d', pyNode, '-t', '3', '--json');
    expect(JSON.parse(stats.stdout)[pyNode]).toMatchObject({ pool: { 'max-concurrency': 1 } });
    const both = await celerity('inspect', 'ping', '-d', `${pyNode},${tsNode}`, '-t', '3', '--json');
    expect(JSON.parse(both.stdout)).toEqual({ [pyNode]: { ok: 'pong' }, [tsNode]: { ok: 'pong' } });
  }, 30_000);

  it('took over the revoked ids of the Python worker when it started (mingle)', async () => {
    const revoked = await celerity('inspect', 'revoked', '-d', tsNode, '--json');
    expect(JSON.parse(revoked.stdout)[tsNode]).toContain(revokedOnPython);
  });

  it("Celery's event state keeper follows the Celerity worker's task events", async () => {
    // Celery's receiver asks every worker for a heartbeat once it listens: that is when the task can be sent.
    const sub = new Redis(BROKER);
    const listening = new Promise<void>((resolve) => {
      sub.on('pmessage', (_p: string, _c: string, message: string) => {
        const body = JSON.parse(Buffer.from((JSON.parse(message) as { body: string }).body, 'base64').toString()) as { method?: string };
        if (body.method === 'heartbeat') resolve();
      });
    });
    await sub.psubscribe(`/${DB}.celery.pidbox`);
    try {
      // Until the task's last event arrives (30 s at most): a fixed window can close before it on a loaded machine.
      const taskId = randomUUID();
      const capture = captureEvents(PY, [path.join(pyDir, 'events_capture.py'), '30', taskId], pyEnv(), pyDir);
      procs.push(capture.proc);
      await listening;
      // The wake-up broadcast above comes before Celery's receiver subscribes to events; its first event is after.
      await capture.listening;
      const r = await app.sendTask('node.add', [20, 22], { queue: tsQueue, taskId });
      expect(await r.get({ timeout: 15_000 })).toBe(42);
      const out = await capture.done;
      expect(out.code).toBe(0);
      const seen = JSON.parse(out.stdout.trim().split('\n').pop()!) as {
        events: { type: string; hostname: string; uuid: string | null }[];
        alive: string[];
        tasks: Record<string, string>;
      };
      expect(seen.alive).toContain(tsNode);
      expect(seen.tasks[r.id]).toBe('SUCCESS');
      expect(seen.events.filter((e) => e.uuid === r.id).map((e) => e.type)).toEqual(['task-received', 'task-started', 'task-succeeded']);
    } finally {
      sub.disconnect();
    }
  }, 40_000);
});
