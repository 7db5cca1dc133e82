/**
 * Remote control and events between Celerity and real Python Celery 5.2 on Redis (database 4, which no other test
 * uses): `celery inspect` and Celery's control client query a Celerity ControlServer; a Celerity ControlClient and
 * EventReceiver query and watch a real Celery worker; Celery's event receiver and state keeper watch a Celerity
 * EventDispatcher; a starting Celery worker syncs revoked ids with a Celerity node (mingle).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ControlClient,
  ControlServer,
  EventDispatcher,
  EventReceiver,
  queueInfo,
} from '../../src/control/index.js';
import type { ControlHandler, ReceivedEvent, TaskInfo } from '../../src/control/index.js';
import { pythonCeleryOnRedis, requireService } from '../services.js';
import { captureEvents } from './processes.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const pyDir = path.join(root, 'test/interop/py');
const PY = '/usr/bin/python3';
const DB = 4;
const BROKER = `redis://127.0.0.1:6379/${DB}`;

const ready = await requireService('Python Celery 5 on Redis', () => pythonCeleryOnRedis(BROKER));

const run = randomUUID().slice(0, 8);
const queue = `control-${run}`;
const tsNode = `ts-${run}@interop`;
const pyNode = `py-${run}@interop`;
/** Revoked on the Celerity node before the Python worker starts: mingle must carry it over. */
const revokedBeforeStart = `revoked-before-start-${run}`;
const procs: ChildProcess[] = [];

function env(): NodeJS.ProcessEnv {
  const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('CELERITY_')));
  return { ...base, CONTROL_BROKER: BROKER, CONTROL_QUEUE: queue, PYTHONPATH: pyDir };
}

/** Starts the Python worker (task events on, heartbeats on, mingle on) and resolves once it is ready. */
function pythonWorker(log: string[]): Promise<ChildProcess> {
  const args = ['-m', 'celery', '-A', 'control_proj', 'worker', '-Q', queue, '-c', '2', '-n', pyNode, '-l', 'info', '-E', '--without-gossip'];
  const proc = spawn(PY, args, { env: env(), cwd: pyDir, stdio: ['ignore', 'pipe', 'pipe'] });
  procs.push(proc);
  return new Promise((resolve, reject) => {
    for (const stream of [proc.stdout!, proc.stderr!]) {
      createInterface({ input: stream }).on('line', (line) => {
        log.push(line);
        if (/ready\./.test(line)) resolve(proc);
      });
    }
    proc.once('exit', (code) => reject(new Error(`celery worker exited with ${code} before it was ready:\n${log.slice(-20).join('\n')}`)));
  });
}

/** Runs a Python script (or `-m celery ...`) to completion; resolves to its stdout. */
function python(args: string[], extraEnv: NodeJS.ProcessEnv = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const proc = spawn(PY, args, { env: { ...env(), ...extraEnv }, cwd: pyDir, stdio: ['ignore', 'pipe', 'pipe'] });
    procs.push(proc);
    let out = '';
    let err = '';
    proc.stdout!.on('data', (d) => (out += d));
    proc.stderr!.on('data', (d) => (err += d));
    proc.once('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`${args.join(' ')} failed (${code}):\n${out}\n${err}`))));
  });
}

async function pyControl(timeout: number, ...calls: string[]): Promise<Record<string, unknown>> {
  const out = await python([path.join(pyDir, 'control_client.py'), String(timeout), ...calls]);
  return JSON.parse(out.trim().split('\n').pop()!) as Record<string, unknown>;
}

async function until(check: () => boolean | Promise<boolean>, ms = 15_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 50));
  }
}

const runningTask: TaskInfo = {
  id: `running-${run}`,
  name: 'ts.resize',
  args: ['cat.png', 400],
  kwargs: { quality: 0.8 },
  type: 'ts.resize',
  hostname: tsNode,
  time_start: 1_795_000_000.25,
  acknowledged: true,
  delivery_info: { exchange: '', routing_key: 'images', priority: 0, redelivered: false },
  worker_pid: process.pid,
};

/** A Celerity node's answers: one running task, two registered tasks, the ids it was told to revoke. */
function tsHandler(revoked: string[], onHeartbeat: () => void): ControlHandler {
  return {
    active: async () => [runningTask],
    reserved: async () => [],
    scheduled: async () => [],
    revoked: async () => [...revoked],
    registered: async () => [{ name: 'ts.thumbnail' }, { name: 'ts.resize', attributes: { rate_limit: '10/s' } }],
    stats: async () => ({
      total: { 'ts.resize': 3 },
      pid: process.pid,
      clock: '1',
      uptime: 5,
      pool: { 'max-concurrency': 8 },
      broker: { transport: 'redis' },
      prefetch_count: 32,
      rusage: 'N/A',
    }),
    activeQueues: async () => [queueInfo('images')],
    queryTask: async (ids) => (ids.includes(runningTask.id) ? { [runningTask.id]: ['active', runningTask] } : {}),
    revoke: async (command) => {
      revoked.push(...command.taskIds);
      return [];
    },
    rateLimit: async () => undefined,
    timeLimit: async () => undefined,
    addConsumer: async () => undefined,
    cancelConsumer: async () => undefined,
    poolGrow: async () => undefined,
    poolShrink: async () => undefined,
    shutdown: async () => undefined,
    heartbeat: async () => onHeartbeat(),
    mergeRevoked: async (ids) => void revoked.push(...ids),
  };
}

describe.skipIf(!ready.ok)(`remote control and events with Python Celery 5.2${ready.ok ? '' : ` (skipped: ${ready.reason})`}`, () => {
  const revoked = [revokedBeforeStart];
  const wakeups: number[] = [];
  let onWakeup: () => void = () => undefined;
  let server: ControlServer;
  let client: ControlClient;
  let receiver: EventReceiver;
  let redis: Redis;
  const pyEvents: ReceivedEvent[] = [];
  const workerLog: string[] = [];

  beforeAll(async () => {
    redis = new Redis(BROKER);
    server = new ControlServer({
      url: BROKER,
      hostname: tsNode,
      handler: tsHandler(revoked, () => {
        wakeups.push(Date.now());
        onWakeup();
      }),
    });
    client = new ControlClient({ url: BROKER });
    receiver = new EventReceiver({ url: BROKER, wakeup: false });
    receiver.on((e) => {
      if (e.hostname === pyNode) pyEvents.push(e);
    });
    await Promise.all([server.start(), client.connect(), receiver.start()]);
    await pythonWorker(workerLog);
  }, 60_000);

  afterAll(async () => {
    for (const p of procs) if (p.exitCode === null && p.signalCode === null) p.kill('SIGTERM');
    await Promise.all(procs.map((p) => (p.exitCode === null && p.signalCode === null ? new Promise((r) => p.once('exit', r)) : undefined)));
    await Promise.all([server?.close(), client?.close(), receiver?.close()]);
    if (redis) {
      await redis.del(queue, `${queue}\x06\x163`, `${queue}\x06\x166`, `${queue}\x06\x169`, `_kombu.binding.${queue}`, 'ae.undeliver');
      redis.disconnect();
    }
  }, 30_000);

  it('celery inspect ping (the CLI) sees the Celerity node', async () => {
    const out = await python(['-m', 'celery', '-A', 'control_proj', '-b', BROKER, 'inspect', 'ping', '--timeout', '2', '-d', tsNode]);
    expect(out).toContain(`${tsNode}: OK`);
    expect(out).toContain('pong');
    expect(out).toContain('1 node online.');
  });

  it("Celery's control client reads the Celerity node's answers", async () => {
    const d = JSON.stringify({ destination: [tsNode] });
    const dest = (extra: object) => JSON.stringify({ destination: [tsNode], ...extra });
    const replies = await pyControl(
      1,
      `ping:${d}`,
      `registered:${dest({ taskinfoitems: [] })}`,
      `active:${dest({ safe: null })}`,
      `stats:${d}`,
      `active_queues:${d}`,
      `query_task:${dest({ ids: [runningTask.id] })}`,
      `revoke:${dest({ task_id: `from-python-${run}`, terminate: false, signal: 'SIGTERM' })}`,
      `nosuch:${d}`,
    );
    expect(replies[`ping:${d}`]).toEqual({ [tsNode]: { ok: 'pong' } });
    expect(replies[`registered:${dest({ taskinfoitems: [] })}`]).toEqual({ [tsNode]: ['ts.resize [rate_limit=10/s]', 'ts.thumbnail'] });
    expect(replies[`active:${dest({ safe: null })}`]).toEqual({ [tsNode]: [runningTask] });
    expect(replies[`stats:${d}`]).toMatchObject({ [tsNode]: { total: { 'ts.resize': 3 }, pid: process.pid, prefetch_count: 32 } });
    expect(replies[`active_queues:${d}`]).toEqual({ [tsNode]: [queueInfo('images')] });
    expect(replies[`query_task:${dest({ ids: [runningTask.id] })}`]).toEqual({ [tsNode]: { [runningTask.id]: ['active', runningTask] } });
    expect(replies[`revoke:${dest({ task_id: `from-python-${run}`, terminate: false, signal: 'SIGTERM' })}`]).toEqual({
      [tsNode]: { ok: `tasks from-python-${run} flagged as revoked` },
    });
    expect(revoked).toContain(`from-python-${run}`);
    expect(replies[`nosuch:${d}`]).toEqual({ [tsNode]: { error: "KeyError('nosuch')" } });
  });

  it("Celery's client with global_keyprefix reaches a Celerity node with the same prefix, and only that one", async () => {
    const prefix = `ctl-${run}:`;
    const node = `prefixed-${run}@interop`;
    const prefixed = new ControlServer({ url: BROKER, hostname: node, handler: tsHandler([], () => undefined), globalKeyprefix: prefix });
    await prefixed.start();
    try {
      const script = path.join(pyDir, 'control_client.py');
      const [plain, withPrefix] = await Promise.all([
        python([script, '1', 'ping']),
        python([script, '1', 'ping'], { CONTROL_KEYPREFIX: prefix }),
      ]);
      const unprefixedReplies = (JSON.parse(plain) as Record<string, Record<string, unknown>>).ping ?? {};
      expect(unprefixedReplies).toHaveProperty(tsNode);
      expect(unprefixedReplies).not.toHaveProperty(node);
      expect(JSON.parse(withPrefix)).toEqual({ ping: { [node]: { ok: 'pong' } } });
    } finally {
      await prefixed.close();
    }
    expect(await redis.keys(`${prefix}*`)).toEqual([]);
  });

  it('a Celery worker starting next to a Celerity node syncs its revoked ids (mingle)', async () => {
    expect(workerLog.some((l) => /mingle: sync with \d+ nodes/.test(l))).toBe(true);
    expect(workerLog.some((l) => /sync with .* failed/.test(l))).toBe(false);
    const replies = await client.inspect<string[]>('revoked', {}, { destination: [pyNode] });
    expect(replies[pyNode]).toContain(revokedBeforeStart);
  });

  it('ControlClient pings and inspects the Celery worker', async () => {
    const pings = await client.ping({ timeout: 2_000 });
    expect(pings).toMatchObject({ [pyNode]: { ok: 'pong' }, [tsNode]: { ok: 'pong' } });
    const registered = await client.inspect<string[]>('registered', {}, { destination: [pyNode] });
    expect(registered[pyNode]).toEqual(['control.add', 'control.sleep']);
    const stats = await client.inspect<Record<string, unknown>>('stats', {}, { destination: [pyNode] });
    expect(stats[pyNode]).toMatchObject({ prefetch_count: 8, pool: { 'max-concurrency': 2 } });
    expect(await client.inspect('nosuch', {}, { destination: [pyNode] })).toEqual({ [pyNode]: { error: "KeyError('nosuch')" } });
  });

  it("lists the Celery worker's running task and receives its task events and heartbeats", async () => {
    const sent = await pyControl(1, `send_task:${JSON.stringify({ name: 'control.sleep', args: [3], queue })}`);
    const id = Object.values(sent)[0] as string;
    let active: unknown[] = [];
    await until(async () => {
      active = (await client.inspect<unknown[]>('active', {}, { destination: [pyNode] }))[pyNode] ?? [];
      return active.length > 0;
    });
    expect(active[0]).toMatchObject({
      id,
      name: 'control.sleep',
      args: [3],
      kwargs: {},
      type: 'control.sleep',
      hostname: pyNode,
      acknowledged: true,
      delivery_info: { exchange: '', routing_key: queue, priority: 0 },
    });
    const query = await client.inspect<Record<string, [string, { id: string }]>>('query_task', { ids: [id] }, { destination: [pyNode] });
    expect(query[pyNode]?.[id]?.[0]).toBe('active');
    await until(() => pyEvents.some((e) => e.type === 'task-succeeded' && e.uuid === id), 20_000);
    const forTask = pyEvents.filter((e) => e.uuid === id).map((e) => e.type);
    expect(forTask).toEqual(['task-received', 'task-started', 'task-succeeded']);
    expect(pyEvents.find((e) => e.type === 'task-succeeded')).toMatchObject({ result: '3', hostname: pyNode });
    const beat = pyEvents.find((e) => e.type === 'worker-heartbeat');
    expect(beat).toMatchObject({ hostname: pyNode, freq: 2, sw_ident: 'py-celery', sw_sys: expect.any(String) });
    expect(beat?.loadavg).toHaveLength(3);
  }, 40_000);

  it('a revoke broadcast from Celerity reaches the Celery worker', async () => {
    const cast = `cast-${run}`;
    expect(await client.revoke(cast)).toEqual({});
    await until(async () => {
      const replies = await client.inspect<string[]>('revoked', {}, { destination: [pyNode] });
      return replies[pyNode]?.includes(cast) ?? false;
    });
    const acked = await client.revoke([`acked-${run}`], { reply: true, destination: [pyNode] });
    expect(acked).toEqual({ [pyNode]: { ok: `tasks acked-${run} flagged as revoked` } });
    // The Celerity node heard the broadcast too.
    expect(revoked).toContain(cast);
  });

  it("Celery's event receiver and state keeper follow a Celerity worker", async () => {
    const dispatcher = new EventDispatcher({
      url: BROKER,
      hostname: tsNode,
      heartbeat: { interval: 0.5, state: () => ({ active: 1, processed: 4 }) },
      bufferGroups: ['task'],
    });
    const uuid = `ts-task-${run}`;
    await dispatcher.start();
    const subscribed = new Promise<void>((resolve) => {
      onWakeup = () => {
        void dispatcher.sendHeartbeat();
        resolve();
      };
    });
    try {
      // Until the last task event arrives (30 s at most): a fixed window can close before it on a loaded machine.
      const capture = captureEvents(PY, [path.join(pyDir, 'events_capture.py'), '30', uuid], env(), pyDir);
      procs.push(capture.proc);
      // Celery's receiver broadcasts `heartbeat` when it starts (answered with a heartbeat event), but subscribes
      // to events only afterwards: task events go once it has received one.
      await subscribed;
      await capture.listening;
      // A heartbeat now, once the receiver is known to be subscribed: the one answering its wake-up may have gone
      // out before it subscribed, and the next timed one can come after the task events have ended the capture.
      await dispatcher.sendHeartbeat();
      await dispatcher.send('task-received', {
        uuid, name: 'ts.resize', args: "('cat.png',)", kwargs: '{}', root_id: uuid, parent_id: null, retries: 0, eta: null, expires: null,
      });
      await dispatcher.send('task-started', { uuid });
      await dispatcher.send('task-succeeded', { uuid, result: "'ok'", runtime: 0.25 });
      const out = await capture.done;
      expect(out.code).toBe(0);
      const seen = JSON.parse(out.stdout.trim().split('\n').pop()!) as {
        events: { type: string; hostname: string; uuid: string | null }[];
        alive: string[];
        tasks: Record<string, string>;
      };
      const mine = seen.events.filter((e) => e.hostname === tsNode).map((e) => e.type);
      expect(mine).toContain('worker-heartbeat');
      expect(mine.filter((t) => t.startsWith('task-'))).toEqual(['task-received', 'task-started', 'task-succeeded']);
      expect(seen.alive).toContain(tsNode);
      expect(seen.tasks[uuid]).toBe('SUCCESS');
    } finally {
      onWakeup = () => undefined;
      await dispatcher.close();
    }
  }, 30_000);
});
