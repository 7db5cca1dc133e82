/**
 * Celerity and real Python Celery 5.2 on one RabbitMQ (a vhost of this file's own), results in Redis (database 3,
 * which no other interop test uses and nothing flushes): each side's producer calls the other side's tasks with
 * args, kwargs, countdown, expiry and priority and reads the results; retries with a countdown on both workers;
 * chains, groups and chords whose steps cross between the fleets; a revoke of a task held for its ETA; and mixed
 * fleets where a Python worker and a Celerity worker consume one queue, without and with Celery's
 * `task_queue_max_priority`, whichever declared the queue first. The Python side is test/interop/py/amqp_proj.py
 * (worker) and amqp_client.py (producer); the Celerity workers run in this process.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Celerity, EventReceiver, GroupResult, TaskRevokedError, chain, chord, group, type AsyncResult, type Worker } from '../../src/index.js';
import type { ReceivedEvent } from '../../src/control/index.js';
import { PYTHON, freshVhost, pingRabbit, pingRedis, requireService } from '../services.js';
import { Seen, startUntilReady } from './processes.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const pyDir = path.join(root, 'test/interop/py');
const REDIS_URL = 'redis://127.0.0.1:6379/3';

const ready = await requireService('Python Celery 5 with py-amqp and redis-py, RabbitMQ and Redis', async () => {
  const probe = spawnSync(PYTHON, ['-c', 'import celery, amqp, redis; assert celery.VERSION[0] == 5'], { encoding: 'utf8' });
  if (probe.status !== 0) throw new Error(`${PYTHON} cannot import celery, amqp and redis (apt-get install python3-celery python3-amqp python3-redis)`);
  await pingRabbit();
  await pingRedis(REDIS_URL);
});

const run = randomUUID().slice(0, 8);
const queues = { py: `amqp-py-${run}`, ts: `amqp-ts-${run}`, mixed: `amqp-mixed-${run}`, prio: `amqp-prio-${run}` };
const prefix = `amqp-interop-${run}`;
const node = (name: string) => `${name}-${run}@amqp-interop`;
const T = { timeout: 30_000 };
const procs: ChildProcess[] = [];

type Vhost = Awaited<ReturnType<typeof freshVhost>>;
let vhost: Vhost;
let redis: Redis;

/** A Python result as amqp_client.py prints it (Celery's own AsyncResult.get()). */
interface PyResult {
  id: string;
  state: string;
  result?: unknown;
  error?: { type: string; message: string };
  elapsed?: number;
  parent?: PyResult | PyGroup | null;
}
interface PyGroup {
  group: string;
  members: PyResult[];
}

function pyEnv(maxPriority?: number): NodeJS.ProcessEnv {
  const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('CELERITY_') && k !== 'AMQP_MAX_PRIORITY'));
  return {
    ...base,
    AMQP_BROKER: vhost.url,
    AMQP_BACKEND: REDIS_URL,
    AMQP_PY_QUEUE: queues.py,
    AMQP_TS_QUEUE: queues.ts,
    AMQP_PREFIX: prefix,
    ...(maxPriority === undefined ? {} : { AMQP_MAX_PRIORITY: String(maxPriority) }),
    PYTHONPATH: pyDir,
    PYTHONDONTWRITEBYTECODE: '1',
  };
}

/** Runs the Python producer (amqp_client.py VERB ...) and resolves with the JSON it prints last. */
function pyClient<R = PyResult>(argv: string[], maxPriority?: number): Promise<R> {
  return new Promise((resolve, reject) => {
    const proc = spawn(PYTHON, [path.join(pyDir, 'amqp_client.py'), ...argv], { env: pyEnv(maxPriority), cwd: pyDir, stdio: ['ignore', 'pipe', 'pipe'] });
    procs.push(proc);
    let out = '';
    let err = '';
    proc.stdout!.on('data', (d) => (out += d));
    proc.stderr!.on('data', (d) => (err += d));
    proc.once('close', (code) =>
      code === 0 ? resolve(JSON.parse(out.trim().split('\n').pop()!) as R) : reject(new Error(`amqp_client.py ${argv[0]} failed (${code}): ${err}`)),
    );
  });
}

const pySend = (name: string, args: unknown[], kwargs: Record<string, unknown>, options: Record<string, unknown>) =>
  pyClient(['send', name, JSON.stringify(args), JSON.stringify(kwargs), JSON.stringify(options)]);

interface PyWorker {
  proc: ChildProcess;
  /** Everything it printed (Celery logs to stderr). */
  log: string[];
}

/** A Celery worker (`celery -A amqp_proj worker`), resolved once it says it is ready, its output kept. */
async function pythonWorker(name: string, queue: string, o: { pool: 'solo' | 'prefork'; maxPriority?: number; events?: boolean }): Promise<PyWorker> {
  const args = ['-m', 'celery', '-A', 'amqp_proj', 'worker', '-Q', queue, '-P', o.pool, '-n', node(name), '-l', 'info'];
  args.push(...(o.pool === 'prefork' ? ['-c', '2'] : []), '--without-heartbeat', '--without-mingle', '--without-gossip', ...(o.events ? ['-E'] : []));
  const started = startUntilReady(procs, PYTHON, args, { env: pyEnv(o.maxPriority), cwd: pyDir, readyLine: /ready\./ });
  // startUntilReady pushed the process synchronously; no output has been read yet, so every line is caught.
  const proc = procs[procs.length - 1]!;
  const log: string[] = [];
  for (const stream of [proc.stdout!, proc.stderr!]) createInterface({ input: stream }).on('line', (l) => log.push(l));
  await started;
  return { proc, log };
}

async function stopProcess(p: ChildProcess): Promise<void> {
  if (p.exitCode !== null || p.signalCode !== null) return;
  const exited = new Promise((r) => p.once('exit', r));
  p.kill('SIGTERM');
  await exited;
}

/** Lines a worker logged that say a declaration was refused or something broke. */
const trouble = (log: string[]) => log.filter((l) => /PRECONDITION_FAILED|NOT_FOUND|RESOURCE_LOCKED|Traceback|CRITICAL|ERROR|"level":(50|60)/.test(l));

/** The Celerity app of this file on `broker`: the ts.* tasks and mixed.record, py.* routed to the Python worker. */
function createApp(broker: string, name: string): Celerity {
  const app = new Celerity(
    name,
    { broker, backend: REDIS_URL, defaultQueue: queues.ts, taskRoutes: { 'ts.*': queues.ts, 'py.*': queues.py }, resultExpires: 3600, loglevel: 'silent' },
    // Settings in code only: CELERITY_* variables of the environment running the tests must not change anything.
    {},
  );
  app.task('ts.add', (x: number, y: number) => x + y, { params: ['x', 'y'] });
  app.task('ts.mul', (x: number, y: number) => x * y, { params: ['x', 'y'] });
  app.task('ts.tsum', (xs: number[]) => xs.reduce((s, x) => s + x, 0));
  app.task(
    'ts.info',
    function (...args: unknown[]) {
      const d = this.delivery;
      return { args, kwargs: this.kwargs, priority: d.priority, eta: this.eta?.toISOString() ?? null, expires: this.expires?.toISOString() ?? null, retries: this.retries, queue: d.queue };
    },
    { varKwargs: true },
  );
  app.task('ts.mark', async function (tag: string) {
    await redis.incr(`${prefix}:ran:${this.id}`);
    return tag;
  });
  app.task('ts.retry_countdown', function (x: number, countdown: number) {
    if (this.retries < 1) this.retry({ countdown });
    return { x, retries: this.retries, eta: this.eta?.toISOString() ?? null };
  });
  app.task('ts.count', async (xs: number[], tag: string) => {
    await redis.incr(`${prefix}:body:${tag}`);
    return xs.reduce((s, x) => s + x, 0);
  });
  app.task('mixed.record', async function (n: number) {
    await redis.multi().hincrby(`${prefix}:runs`, this.id, 1).rpush(`${prefix}:order:${this.delivery.queue}`, String(this.delivery.priority)).exec();
    return { n, by: 'ts', worker: this.hostname, priority: this.delivery.priority };
  });
  return app;
}

interface CelerityWorker {
  app: Celerity;
  worker: Worker;
  /** Its log records (JSON lines). */
  log: string[];
  /** Stops the worker and closes its app, as a worker process that exits does. */
  leave(): Promise<void>;
}

/**
 * A Celerity worker with an app (and so a broker connection) of its own, as a worker process has, on `broker`; its
 * log kept, to show it met no refused declaration.
 */
async function celerityWorker(broker: string, name: string, q: string[], concurrency: number, prefetchMultiplier = 4): Promise<CelerityWorker> {
  const app = createApp(broker, name);
  const log: string[] = [];
  const sink = new Writable({ write: (chunk: Buffer, _enc, done) => (log.push(...chunk.toString().split('\n').filter(Boolean)), done()) });
  const worker = app.worker({ queues: q, concurrency, prefetchMultiplier, hostname: node(name), logger: pino({ level: 'info' }, sink) });
  let left: Promise<void> | undefined;
  const leave = () => (left ??= worker.stop({ timeout: 0 }).then(() => app.close()));
  fleet.push(leave);
  await worker.start();
  return { app, worker, log, leave };
}

/** How every Celerity worker started leaves, for the cleanup. */
const fleet: (() => Promise<void>)[] = [];

/** `rabbitmqctl list_queues` of the vhost: each queue's arguments and ready messages. */
function queueInfo(name: string): { arguments: Record<string, unknown>; messages: number } | undefined {
  const out = spawnSync('rabbitmqctl', ['list_queues', '-p', vhost.vhost, '--formatter', 'json', 'name', 'arguments', 'messages_ready'], { encoding: 'utf8' });
  // Arguments come as [name, AMQP type, value] triples.
  const rows = JSON.parse(out.stdout) as { name: string; arguments: [string, string, unknown][]; messages_ready: number }[];
  const row = rows.find((r) => r.name === name);
  return row && { arguments: Object.fromEntries(row.arguments.map(([k, , v]) => [k, v])), messages: row.messages_ready };
}

describe.skipIf(!ready.ok)(`interop with Python Celery 5.2 on RabbitMQ${ready.ok ? '' : ` (skipped: ${ready.reason})`}`, () => {
  let app: Celerity;
  let tsMain: CelerityWorker;
  let pyMain: PyWorker;
  let receiver: EventReceiver;
  const seen = new Seen<ReceivedEvent>();
  const pyEvents = seen.all;

  const pyEvent = (match: (e: ReceivedEvent) => boolean): Promise<ReceivedEvent> => seen.first(match);

  beforeAll(async () => {
    vhost = await freshVhost('amqp-interop');
    redis = new Redis(REDIS_URL);
    app = createApp(vhost.url, 'amqp-interop');
    receiver = new EventReceiver({ url: vhost.url, wakeup: false });
    receiver.on((e) => {
      if (e.hostname !== node('py-main')) return;
      seen.add(e);
    });
    await receiver.start();
    [tsMain, pyMain] = await Promise.all([
      celerityWorker(vhost.url, 'ts-main', [queues.ts], 8),
      pythonWorker('py-main', queues.py, { pool: 'prefork', events: true }),
    ]);
  }, 60_000);

  afterAll(async () => {
    await Promise.all(procs.map(stopProcess));
    await Promise.all([...fleet.map((leave) => leave()), receiver?.close(), app?.close()]);
    await vhost?.remove();
    if (redis) {
      const keys = await redis.keys(`${prefix}:*`);
      if (keys.length) await redis.del(...keys);
      redis.disconnect();
    }
  }, 60_000);

  describe('Python producer, Celerity worker', () => {
    it('send_task and apply_async with args and kwargs; Python reads the results', async () => {
      const sent = await pySend('ts.info', ['café', 2, [null, true]], { k: { nested: 'ü' } }, { queue: queues.ts });
      expect(sent).toMatchObject({
        state: 'SUCCESS',
        result: { args: ['café', 2, [null, true]], kwargs: { k: { nested: 'ü' } }, priority: 0, eta: null, expires: null, retries: 0, queue: queues.ts },
      });
      // apply_async routes by task_routes: ts.* to the Celerity worker's queue.
      const applied = await pyClient(['apply', 'ts.add', '[2]', '{"y": 40}', '{}']);
      expect(applied).toMatchObject({ state: 'SUCCESS', result: 42 });
    });

    it('countdown and eta: the task runs when due', async () => {
      const counted = await pySend('ts.info', [], {}, { queue: queues.ts, countdown: 1.5 });
      expect(counted.state).toBe('SUCCESS');
      expect(counted.elapsed).toBeGreaterThanOrEqual(1.5);
      expect((counted.result as { eta: string | null }).eta).toMatch(/^\d{4}-\d\d-\d\dT/);
      const timed = await pySend('ts.add', [1, 2], {}, { queue: queues.ts, eta_in: 1 });
      expect(timed).toMatchObject({ state: 'SUCCESS', result: 3 });
      expect(timed.elapsed).toBeGreaterThanOrEqual(1);
    });

    it('priority reaches the Celerity worker as the AMQP priority property', async () => {
      expect(await pySend('ts.info', [], {}, { queue: queues.ts, priority: 7 })).toMatchObject({ state: 'SUCCESS', result: { priority: 7 } });
    });

    it('an expired task ends REVOKED and does not run: expired on arrival, and expired while held for its countdown', async () => {
      // Celery turns a past expiry into AMQP expiration "0": RabbitMQ hands it only to a consumer ready for it.
      const past = await pySend('ts.mark', ['past'], {}, { queue: queues.ts, expires: -60 });
      expect(past).toMatchObject({ state: 'REVOKED', error: { type: 'TaskRevokedError' } });
      const held = await pySend('ts.mark', ['held'], {}, { queue: queues.ts, countdown: 2, expires: 1 });
      expect(held).toMatchObject({ state: 'REVOKED', error: { type: 'TaskRevokedError' } });
      expect(await redis.mget(`${prefix}:ran:${past.id}`, `${prefix}:ran:${held.id}`)).toEqual([null, null]);
      // The same task unexpired runs and is counted, so the ledger would have shown a run.
      const fresh = await pySend('ts.mark', ['fresh'], {}, { queue: queues.ts, expires: 60 });
      expect(fresh).toMatchObject({ state: 'SUCCESS', result: 'fresh' });
      expect(await redis.get(`${prefix}:ran:${fresh.id}`)).toBe('1');
    });
  });

  describe('Celerity producer, Python worker', () => {
    it('sendTask and applyAsync with args and kwargs; results read here', async () => {
      expect(await (await app.sendTask<number>('py.mul', [3, 4])).get(T)).toBe(12);
      const info = await app.sendTask('py.info', ['日本', 1.5, { a: [null] }], { kwargs: { ключ: 'значение' } });
      expect(await info.get(T)).toMatchObject({ args: ['日本', 1.5, { a: [null] }], kwargs: { ключ: 'значение' }, priority: 0, eta: null, retries: 0, queue: queues.py });
      const sig = app.signature<number>('py.add', [1]);
      expect(await (await sig.applyAsync([], { kwargs: { y: 41 } })).get(T)).toBe(42);
    });

    it('countdown, priority and expiry', async () => {
      const t0 = Date.now();
      const counted = await app.sendTask<{ eta: string | null; priority: number }>('py.info', [], { countdown: 1.5, priority: 8 });
      const got = await counted.get(T);
      expect(Date.now() - t0).toBeGreaterThanOrEqual(1500);
      expect(got.priority).toBe(8);
      expect(got.eta).toMatch(/^\d{4}-\d\d-\d\dT/);
      const expired = await app.sendTask('py.mark', ['held'], { countdown: 2, expires: 1 });
      await expect(expired.get(T)).rejects.toBeInstanceOf(TaskRevokedError);
      expect(await redis.get(`${prefix}:ran:${expired.id}`)).toBeNull();
    });

    it('revoke reaches the Python worker over AMQP remote control: a task held for its ETA never runs', async () => {
      const taskId = randomUUID();
      const received = pyEvent((e) => e.type === 'task-received' && e.uuid === taskId);
      const r = await app.sendTask('py.mark', ['eta'], { taskId, countdown: 4 });
      await received;
      await r.revoke();
      await expect(r.get(T)).rejects.toBeInstanceOf(TaskRevokedError);
      expect(await redis.get(`${prefix}:ran:${taskId}`)).toBeNull();
      // Celery sends its task events in batches, so this one may come after the result it stored.
      await pyEvent((e) => e.type === 'task-revoked' && e.uuid === taskId);
      expect(pyEvents.filter((e) => e.uuid === taskId).map((e) => e.type)).toEqual(['task-received', 'task-revoked']);
    });

    it('and Celery revokes a task the Celerity worker holds for its ETA', async () => {
      const taskId = randomUUID();
      const received = new Promise<void>((resolve) => tsMain.worker.on('task-received', (req) => req.id === taskId && resolve()));
      const r = await app.sendTask('ts.mark', ['eta'], { taskId, countdown: 4 });
      await received;
      await pyClient(['revoke', taskId]);
      const out = await pyClient(['result', taskId]);
      expect(out).toMatchObject({ state: 'REVOKED', error: { type: 'TaskRevokedError' } });
      await expect(r.get(T)).rejects.toBeInstanceOf(TaskRevokedError);
      expect(await redis.get(`${prefix}:ran:${taskId}`)).toBeNull();
    });
  });

  describe('retries with a countdown', () => {
    it('a Python task retried by the Python worker; the result read here', async () => {
      const t0 = Date.now();
      const r = await app.sendTask<{ x: number; retries: number; eta: string }>('py.retry_countdown', [8, 1]);
      const got = await r.get(T);
      expect(Date.now() - t0).toBeGreaterThanOrEqual(1000);
      expect(got).toMatchObject({ x: 8, retries: 1 });
      expect(got.eta).toMatch(/^\d{4}-\d\d-\d\dT/);
      expect(await r.meta()).toMatchObject({ status: 'SUCCESS', retries: 1 });
    });

    it('a Celerity task retried by the Celerity worker; the result read by Python', async () => {
      const out = await pySend('ts.retry_countdown', [7, 1], {}, {});
      expect(out).toMatchObject({ state: 'SUCCESS', result: { x: 7, retries: 1 } });
      expect(out.elapsed).toBeGreaterThanOrEqual(1);
      expect((out.result as { eta: string }).eta).toMatch(/^\d{4}-\d\d-\d\dT/);
    });
  });

  describe('canvas across the fleets', () => {
    const sig = (name: string, ...args: unknown[]) => app.signature(name, args);

    it('a chain Python -> TypeScript -> Python, built in Python and built here', async () => {
      const out = await pyClient(['chain_mixed']);
      expect(out).toMatchObject({ state: 'SUCCESS', result: 22, parent: { result: 12, parent: { result: 3, parent: null } } });
      const r = await chain(sig('py.add', 1, 2), sig('ts.mul', 4), sig('py.add', 10)).applyAsync();
      expect(await r.get(T)).toBe(22);
      const middle = r.parent as AsyncResult;
      expect(await middle.get(T)).toBe(12);
      expect(await (middle.parent as AsyncResult).get(T)).toBe(3);
      expect((await r.meta())?.parent_id).toBe(middle.id);
    });

    it('a group with members on both workers, built in Python (restored here) and built here (restored in Python)', async () => {
      const out = await pyClient<PyGroup>(['group_mixed']);
      expect(out.members.map((m) => [m.state, m.result])).toEqual([['SUCCESS', 2], ['SUCCESS', 4], ['SUCCESS', 6], ['SUCCESS', 8]]);
      const back = await GroupResult.restore(app, out.group);
      expect(back?.results.map((m) => m.id)).toEqual(out.members.map((m) => m.id));
      const g = await group(sig('ts.add', 1, 1), sig('py.add', 2, 2), sig('ts.add', 3, 3)).applyAsync();
      expect(await g.get(T)).toEqual([2, 4, 6]);
      await g.save();
      const restored = await pyClient<PyGroup>(['restore', g.id]);
      expect(restored.members.map((m) => [m.id, m.state, m.result])).toEqual(g.results.map((m, i) => [m.id, 'SUCCESS', 2 * (i + 1)]));
    });

    it.each([
      { builder: 'Python', body: 'ts.count' },
      { builder: 'Celerity', body: 'py.count' },
    ])('a chord built by $builder: header on both workers, body $body runs once', async ({ builder, body }) => {
      const tag = `chord-${builder}`;
      if (builder === 'Python') {
        const out = await pyClient(['chord_mixed', tag]);
        expect(out).toMatchObject({ state: 'SUCCESS', result: 20 });
        expect((out.parent as PyGroup).members.map((m) => m.result)).toEqual([2, 4, 6, 8]);
      } else {
        const r = await chord([sig('py.add', 1, 1), sig('ts.add', 2, 2), sig('py.add', 3, 3), sig('ts.add', 4, 4)], sig(body, tag)).applyAsync();
        expect(await r.get(T)).toBe(20);
        expect(await (r.parent as GroupResult).get(T)).toEqual([2, 4, 6, 8]);
      }
      expect(await redis.get(`${prefix}:body:${tag}`)).toBe('1');
    });
  });

  describe('mixed fleets on one queue', () => {
    type Recorded = { n: number; by: 'py' | 'ts'; worker: string; priority: number };

    async function runsOf(ids: string[]): Promise<Map<string, number>> {
      const runs = await redis.hgetall(`${prefix}:runs`);
      return new Map(ids.map((id) => [id, Number(runs[id] ?? 0)]));
    }

    it('200 tasks, half sent from Python and half from here, complete exactly once on a Celery and a Celerity worker', { timeout: 120_000 }, async () => {
      // The Celery worker declares the queue first, the Celerity worker then finds it as it expects.
      const py = await pythonWorker('py-mixed', queues.mixed, { pool: 'solo' });
      const ts = await celerityWorker(vhost.url, 'ts-mixed', [queues.mixed], 4);
      const fromPython = pyClient<string[]>(['bulk', 'mixed.record', queues.mixed, JSON.stringify(Array(100).fill(0))]);
      const fromTs = await Promise.all(Array.from({ length: 100 }, (_, i) => app.sendTask<Recorded>('mixed.record', [100 + i], { queue: queues.mixed })));
      const ids = [...(await fromPython), ...fromTs.map((r) => r.id)];
      const results = await Promise.all(ids.map((id) => app.asyncResult<Recorded>(id).get({ timeout: 90_000 })));
      expect(results.map((r) => r.n)).toEqual(Array.from({ length: 200 }, (_, i) => i));
      expect(new Set(results.map((r) => r.worker))).toEqual(new Set([node('py-mixed'), node('ts-mixed')]));
      expect([...(await runsOf(ids)).values()]).toEqual(Array(200).fill(1));
      expect(queueInfo(queues.mixed)).toEqual({ arguments: {}, messages: 0 });
      expect(trouble(py.log)).toEqual([]);
      expect(trouble(ts.log)).toEqual([]);
      await Promise.all([stopProcess(py.proc), ts.leave()]);
    });

    it('with x-max-priority 10 on both sides: 200 tasks complete exactly once, higher priorities first', { timeout: 120_000 }, async () => {
      const prioUrl = `${vhost.url}?max_priority=10`;
      const prioApp = createApp(prioUrl, 'amqp-interop-prio');
      fleet.push(() => prioApp.close());
      // Declared first by Celerity (as it publishes), then by Celery's producer and worker with the same argument.
      const priorities = Array.from({ length: 100 }, (_, i) => (i % 2 ? 9 : 0));
      const fromTs = await Promise.all(priorities.map((p, i) => prioApp.sendTask<Recorded>('mixed.record', [100 + i], { queue: queues.prio, priority: p })));
      const fromPython = await pyClient<string[]>(['bulk', 'mixed.record', queues.prio, JSON.stringify(priorities)], 10);
      expect(queueInfo(queues.prio)).toEqual({ arguments: { 'x-max-priority': 10 }, messages: 200 });
      // One message at a time on each worker, so the order they start in is the order RabbitMQ hands them out.
      const [py, ts] = await Promise.all([
        pythonWorker('py-prio', queues.prio, { pool: 'solo', maxPriority: 10 }),
        celerityWorker(prioUrl, 'ts-prio', [queues.prio], 1, 1),
      ]);
      // Both leave whatever the assertions say, so the next test has the queues to itself.
      try {
        const ids = [...fromPython, ...fromTs.map((r) => r.id)];
        const results = await Promise.all(ids.map((id) => prioApp.asyncResult<Recorded>(id).get({ timeout: 90_000 })));
        expect(results.map((r) => r.priority)).toEqual([...priorities, ...priorities]);
        // Which worker runs how many depends on which was ready first (on a loaded machine one may take them all).
        for (const r of results) expect(['py', 'ts']).toContain(r.by);
        expect([...(await runsOf(ids)).values()]).toEqual(Array(200).fill(1));
        const order = (await redis.lrange(`${prefix}:order:${queues.prio}`, 0, -1)).map(Number);
        expect(order).toHaveLength(200);
        // RabbitMQ hands out every 9 before any 0. Each worker holds one message at a time (prefetch 1, acknowledged
        // after the task), so a 9 starts after a 0 only when the other worker got it just before that 0: one per worker.
        const firstLow = order.indexOf(0);
        const highsAfter = order.slice(firstLow).filter((p) => p === 9).length;
        expect(highsAfter).toBeLessThanOrEqual(2);
        expect(trouble(py.log)).toEqual([]);
        expect(trouble(ts.log)).toEqual([]);
      } finally {
        await Promise.all([stopProcess(py.proc), ts.leave()]);
      }
    });

    it('a Celerity worker and producer with another max_priority use both existing queues as they are', { timeout: 60_000 }, async () => {
      // Neither queue has x-max-priority 5: mixed has none, prio has 10. Celery's worker would stop on
      // PRECONDITION_FAILED here; this one consumes, and the queues keep their arguments. The other workers of both
      // queues have left, so every task below runs here. Its app also sends (and so declares) as a producer.
      const ts = await celerityWorker(`${vhost.url}?max_priority=5`, 'ts-other', [queues.mixed, queues.prio], 4);
      const otherApp = ts.app;
      const fromTs = await Promise.all(
        [queues.mixed, queues.prio].flatMap((queue) => Array.from({ length: 5 }, (_, i) => otherApp.sendTask<Recorded>('mixed.record', [i], { queue, priority: 3 }))),
      );
      const fromPython = [
        ...(await pyClient<string[]>(['bulk', 'mixed.record', queues.mixed, '[1, 2, 3, 4, 5]'])),
        ...(await pyClient<string[]>(['bulk', 'mixed.record', queues.prio, '[1, 2, 3, 4, 5]'], 10)),
      ];
      const ids = [...fromTs.map((r) => r.id), ...fromPython];
      const results = await Promise.all(ids.map((id) => otherApp.asyncResult<Recorded>(id).get(T)));
      expect(new Set(results.map((r) => r.worker))).toEqual(new Set([node('ts-other')]));
      expect([...(await runsOf(ids)).values()]).toEqual(Array(20).fill(1));
      expect(queueInfo(queues.mixed)).toEqual({ arguments: {}, messages: 0 });
      expect(queueInfo(queues.prio)).toEqual({ arguments: { 'x-max-priority': 10 }, messages: 0 });
      expect(trouble(ts.log)).toEqual([]);
    });
  });

  it('the main workers of both sides logged no refused declaration and no error', () => {
    expect(trouble(pyMain.log)).toEqual([]);
    expect(trouble(tsMain.log)).toEqual([]);
  });
});
