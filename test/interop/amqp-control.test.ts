/**
 * Remote control and events between Celerity and real Python Celery 5.2 on RabbitMQ (a vhost of its own): `celery
 * inspect` and `celery control` talk to a Celerity worker, a Celerity ControlClient pings and inspects a Celery
 * worker, Celery's event receiver follows the Celerity worker's task events and a Celerity EventReceiver the Celery
 * worker's heartbeats and task events. The Celerity worker starts first, so the Celery worker, `celery inspect` and
 * Celery's receiver declare the pidbox, reply and celeryev exchanges after Celerity did: a flag that differed would
 * be a PRECONDITION_FAILED on their side.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli } from '../e2e/worker-process.js';
import { Celerity, ControlClient, EventReceiver, type Worker } from '../../src/index.js';
import type { ReceivedEvent } from '../../src/control/index.js';
import { PYTHON, freshVhost, pingRabbit, requireService } from '../services.js';
import { Seen, captureEvents, runToEnd } from './processes.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const pyDir = path.join(root, 'test/interop/py');

const ready = await requireService('Python Celery 5 with py-amqp, and RabbitMQ', async () => {
  const probe = spawnSync(PYTHON, ['-c', 'import celery, amqp; assert celery.VERSION[0] == 5'], { encoding: 'utf8' });
  if (probe.status !== 0) throw new Error(`${PYTHON} cannot import celery and amqp (apt-get install python3-celery python3-amqp)`);
  await pingRabbit();
});

const run = randomUUID().slice(0, 8);
const tsQueue = `amqp-ts-${run}`;
const pyQueue = `amqp-py-${run}`;
const tsNode = `ts-${run}@amqp-interop`;
const pyNode = `py-${run}@amqp-interop`;
const procs: ChildProcess[] = [];

describe.skipIf(!ready.ok)(`remote control and events with Python Celery 5.2 on RabbitMQ${ready.ok ? '' : ` (skipped: ${ready.reason})`}`, () => {
  let vhost: Awaited<ReturnType<typeof freshVhost>>;
  let app: Celerity;
  let worker: Worker;
  let client: ControlClient;
  let receiver: EventReceiver;
  const seen = new Seen<ReceivedEvent>();
  const pyEvents = seen.all;
  /** The Celery worker's output. */
  const workerLog: string[] = [];

  const pyEnv = (): NodeJS.ProcessEnv => ({
    ...Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('CELERITY_'))),
    CONTROL_BROKER: vhost.url,
    CONTROL_QUEUE: pyQueue,
    PYTHONPATH: pyDir,
  });

  /** `python -m celery -A control_proj -b <url> ...` to completion. */
  const celery = (...args: string[]) => runToEnd(procs, PYTHON, ['-m', 'celery', '-A', 'control_proj', '-b', vhost.url, ...args], { env: pyEnv(), cwd: pyDir });

  const pyEvent = (match: (e: ReceivedEvent) => boolean): Promise<ReceivedEvent> => seen.first(match);

  beforeAll(async () => {
    vhost = await freshVhost('amqp-control');
    app = new Celerity('amqp-interop', { broker: vhost.url, backend: 'memory://', loglevel: 'silent', defaultQueue: tsQueue }, {});
    app.task('amqp.add', (x: number, y: number) => x + y, { params: ['x', 'y'] });
    app.task('amqp.sleep', async (ms: number) => {
      await new Promise((resolve) => setTimeout(resolve, ms));
      return ms;
    });
    worker = app.worker({ queues: [tsQueue], hostname: tsNode, concurrency: 2, node: { taskEvents: true } });
    await worker.start();
    client = new ControlClient({ url: vhost.url });
    receiver = new EventReceiver({ url: vhost.url, wakeup: false });
    receiver.on((e) => {
      if (e.hostname !== pyNode) return;
      seen.add(e);
    });
    await Promise.all([client.connect(), receiver.start()]);
    const pyArgs = ['-m', 'celery', '-A', 'control_proj', 'worker', '-Q', pyQueue, '-c', '1', '-n', pyNode, '-l', 'info', '-E', '--without-gossip'];
    const py = spawn(PYTHON, pyArgs, { env: pyEnv(), cwd: pyDir, stdio: ['ignore', 'pipe', 'pipe'] });
    procs.push(py);
    await new Promise<void>((resolve, reject) => {
      for (const stream of [py.stdout!, py.stderr!]) {
        createInterface({ input: stream }).on('line', (line) => {
          workerLog.push(line);
          if (/ready\./.test(line)) resolve();
        });
      }
      py.once('exit', (code) => reject(new Error(`celery worker exited with ${code} before it was ready:\n${workerLog.slice(-20).join('\n')}`)));
    });
  }, 60_000);

  afterAll(async () => {
    for (const p of procs) if (p.exitCode === null && p.signalCode === null) p.kill('SIGTERM');
    await Promise.all(procs.map((p) => (p.exitCode === null && p.signalCode === null ? new Promise((r) => p.once('exit', r)) : undefined)));
    await Promise.all([client?.close(), receiver?.close()]);
    await worker?.stop();
    await app?.close();
    await vhost?.remove();
  }, 30_000);

  it('celery inspect ping, registered and active_queues, and celery control rate_limit reach the Celerity worker', async () => {
    const ping = await celery('inspect', 'ping', '--timeout', '3', '-d', tsNode);
    expect(ping.code, ping.stderr).toBe(0);
    expect(ping.stdout).toContain(`${tsNode}: OK`);
    expect(ping.stdout).toContain('pong');
    expect(ping.stdout).toContain('1 node online.');

    const limit = await celery('control', 'rate_limit', 'amqp.add', '10/s', '--timeout', '3', '-d', tsNode);
    expect(limit.code, limit.stderr).toBe(0);
    expect(limit.stdout).toContain('new rate limit set successfully');

    const registered = await celery('inspect', 'registered', '--timeout', '3', '-d', tsNode);
    expect(registered.code, registered.stderr).toBe(0);
    expect(registered.stdout).toContain('amqp.add [rate_limit=10/s]');
    expect(registered.stdout).toContain('amqp.sleep');

    const queues = await celery('inspect', 'active_queues', '--timeout', '3', '-d', tsNode, '--json');
    expect(queues.code, queues.stderr).toBe(0);
    const active = (JSON.parse(queues.stdout) as Record<string, { name: string }[]>)[tsNode];
    expect(active?.map((q) => q.name)).toEqual([tsQueue]);
  }, 40_000);

  it('celerity inspect ping and registered (the built CLI) reach both the Celery worker and the Celerity worker', async () => {
    const celerity = (...args: string[]) =>
      runToEnd(procs, process.execPath, [cli, ...args], { env: { ...pyEnv(), CELERITY_BROKER_URL: vhost.url, CELERITY_RESULT_BACKEND: 'memory://' } });
    const ping = await celerity('inspect', 'ping', '--timeout', '2', '--json');
    expect(ping.code, ping.stderr).toBe(0);
    const replies = JSON.parse(ping.stdout) as Record<string, unknown>;
    expect(replies[pyNode]).toEqual({ ok: 'pong' });
    expect(replies[tsNode]).toEqual({ ok: 'pong' });
    const registered = await celerity('inspect', 'registered', '-d', pyNode, '--timeout', '2', '--json');
    expect(registered.code, registered.stderr).toBe(0);
    expect((JSON.parse(registered.stdout) as Record<string, string[]>)[pyNode]).toContain('control.add');
  });

  it('the Celery worker declared what the Celerity worker had declared, and synced with it at start (mingle)', () => {
    expect(workerLog.filter((l) => /PRECONDITION_FAILED|RESOURCE_LOCKED|Traceback|ERROR/.test(l))).toEqual([]);
    expect(workerLog.some((l) => l.includes('mingle: sync with 1 nodes'))).toBe(true);
  });

  it('ControlClient pings and inspects the Celery worker', async () => {
    // AMQP cannot count listeners: a ping without destinations waits out its timeout, as Celery's does.
    const started = Date.now();
    expect(await client.ping({ timeout: 1_500 })).toEqual({ [pyNode]: { ok: 'pong' }, [tsNode]: { ok: 'pong' } });
    expect(Date.now() - started).toBeGreaterThanOrEqual(1_400);
    const registered = await client.inspect<string[]>('registered', {}, { destination: [pyNode], timeout: 5_000 });
    expect(registered[pyNode]).toEqual(['control.add', 'control.sleep']);
    const stats = await client.inspect<Record<string, unknown>>('stats', {}, { destination: [pyNode], timeout: 5_000 });
    expect(stats[pyNode]).toMatchObject({ pool: { 'max-concurrency': 1 }, broker: { transport: 'amqp' } });
    const queues = await client.inspect<{ name: string }[]>('active_queues', {}, { destination: [pyNode], timeout: 5_000 });
    expect(queues[pyNode]?.map((q) => q.name)).toEqual([pyQueue]);
  });

  it("a Celerity EventReceiver sees the Celery worker's heartbeats and task events", async () => {
    const beat = await pyEvent((e) => e.type === 'worker-heartbeat');
    expect(beat).toMatchObject({ hostname: pyNode, freq: 2, sw_ident: 'py-celery' });
    const r = await app.sendTask('control.add', [2, 3], { queue: pyQueue });
    await pyEvent((e) => e.type === 'task-succeeded' && e.uuid === r.id);
    expect(pyEvents.filter((e) => e.uuid === r.id).map((e) => e.type)).toEqual(['task-received', 'task-started', 'task-succeeded']);
    expect(pyEvents.find((e) => e.type === 'task-succeeded' && e.uuid === r.id)).toMatchObject({ result: '5' });
  }, 20_000);

  it("Celery's event receiver and state keeper follow the Celerity worker's task events", async () => {
    const taskId = randomUUID();
    // Until the task's last event arrives (30 s at most): a fixed window can close before it on a loaded machine.
    const capture = captureEvents(PYTHON, [path.join(pyDir, 'events_capture.py'), '30', taskId], pyEnv(), pyDir);
    procs.push(capture.proc);
    // On AMQP Celery's receiver declares its queue before it wakes the workers: their heartbeats prove it listens.
    await capture.listening;
    const r = await app.sendTask('amqp.add', [20, 22], { queue: tsQueue, taskId });
    expect(await r.get({ timeout: 15_000 })).toBe(42);
    const out = await capture.done;
    expect(out.code, out.stderr).toBe(0);
    const seen = JSON.parse(out.stdout.trim().split('\n').pop()!) as {
      events: { type: string; hostname: string; uuid: string | null }[];
      alive: string[];
      tasks: Record<string, string>;
    };
    expect(seen.alive).toContain(tsNode);
    expect(seen.tasks[taskId]).toBe('SUCCESS');
    expect(seen.events.filter((e) => e.uuid === taskId).map((e) => `${e.type} ${e.hostname}`)).toEqual([
      `task-received ${tsNode}`,
      `task-started ${tsNode}`,
      `task-succeeded ${tsNode}`,
    ]);
  }, 40_000);
});
