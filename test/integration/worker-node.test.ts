/**
 * A running worker as a Celery node on a real Redis (database 15, which no other test file uses): inspect through
 * ControlClient, revoke (before it runs, with terminate on every pool), rate and time limits, consumers, pool size,
 * remote shutdown, revoked ids kept in a statedb across restarts, and the events it sends.
 */
import { randomUUID } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { queueInfo } from '../../src/control/index.js';
import type { TaskInfo } from '../../src/control/index.js';
import { Celerity, ControlClient, EventReceiver, TaskRevokedError } from '../../src/index.js';
import type { CelerityOptions, ReceivedEvent, Worker, WorkerOptions } from '../../src/index.js';
import { deferred, nextEvent, tempDir } from '../helpers.js';
import { pingRedis, requireService } from '../services.js';

const DB = 15;
const BROKER_URL = `redis://127.0.0.1:6379/${DB}`;
const POOL_APP = path.join(fileURLToPath(new URL('../fixtures', import.meta.url)), 'pool-app.ts');

const ready = await requireService('Redis', () => pingRedis(BROKER_URL));

const run = randomUUID().slice(0, 8);
let seq = 0;
const cleanups: (() => Promise<void> | void)[] = [];

interface Node {
  app: Celerity;
  worker: Worker;
  hostname: string;
  queue: string;
  /** Replies of this node only: `{ [hostname]: value }` reduced to the value. */
  ask<T = unknown>(method: string, args?: Record<string, unknown>): Promise<T>;
}

let client: ControlClient;
let redis: Redis;

/** An app and a started worker on their own queue and node name; `setup` registers the tasks. */
async function startNode(
  setup: (app: Celerity) => void,
  options: WorkerOptions & { conf?: CelerityOptions; name?: string } = {},
): Promise<Node> {
  const { conf, name, ...workerOptions } = options;
  const n = ++seq;
  const queue = options.queues?.[0] ?? `node-${run}-${n}`;
  const hostname = options.hostname ?? `${name ?? 'node'}-${run}-${n}@test`;
  const app = new Celerity('node-test', { broker: BROKER_URL, backend: BROKER_URL, loglevel: 'silent', resultExpires: 300, defaultQueue: queue, ...conf }, {});
  setup(app);
  const worker = app.worker({ concurrency: 1, ...workerOptions, queues: options.queues ?? [queue], hostname });
  await worker.start();
  cleanups.push(async () => {
    await worker.stop({ timeout: 0 });
    await app.close();
  });
  const ask = async <T,>(method: string, args: Record<string, unknown> = {}): Promise<T> => {
    const replies = await client.inspect<T>(method, args, { destination: [hostname], timeout: 5_000 });
    expect(Object.keys(replies)).toEqual([hostname]);
    return replies[hostname]!;
  };
  return { app, worker, hostname, queue, ask };
}

async function until(check: () => boolean | Promise<boolean>, ms = 15_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 25));
  }
}

/**
 * Sends with an ETA the way a Python producer does: straight to the queue, so the worker holds it (the Redis
 * broker would otherwise park it broker-side until it is due).
 */
async function sendHeld(app: Celerity, name: string, args: unknown[], countdown: number): Promise<{ id: string }> {
  const { id, message, queue, priority } = app.buildMessage(name, args, { countdown });
  await app.publish({ queue, message, priority });
  return { id };
}

/** The error a task's result rejects with. */
async function failure(app: Celerity, id: string): Promise<Error> {
  return app.asyncResult(id).get({ timeout: 15_000 }).then(
    () => {
      throw new Error(`task ${id} succeeded`);
    },
    (e: Error) => e,
  );
}

describe.skipIf(!ready.ok)(`a worker as a Celery node on Redis${ready.ok ? '' : ` (skipped: ${ready.reason})`}`, () => {
  beforeAll(async () => {
    client = new ControlClient({ url: BROKER_URL });
    redis = new Redis(BROKER_URL);
    await client.connect();
  });

  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  afterAll(async () => {
    await client?.close();
    if (redis) {
      const keys = await redis.keys(`*${run}*`);
      if (keys.length) await redis.del(...keys);
      redis.disconnect();
    }
  });

  it('answers inspect: ping, active, reserved, scheduled, registered, stats, active_queues, query_task', async () => {
    const gate = deferred();
    const node = await startNode((app) => {
      app.task('t.block', async (_n: number) => gate.promise);
      app.task('t.add', (x: number, y: number) => x + y, { rateLimit: '5/s' });
    });
    const { app, worker, hostname, queue, ask } = node;
    cleanups.push(() => gate.resolve());
    expect(await ask('ping')).toEqual({ ok: 'pong' });

    const started = nextEvent(worker, 'task-started', (r) => r.task === 't.block');
    const blocker = await app.sendTask('t.block', [1]);
    await started;
    const receivedAdd = nextEvent(worker, 'task-received', (r) => r.task === 't.add');
    const waiting = await app.sendTask('t.add', [1, 2], { kwargs: {} });
    await receivedAdd;
    const receivedLater = nextEvent(worker, 'task-received', (r) => r.task === 't.add' && r.eta !== null);
    const later = await sendHeld(app, 't.add', [3, 4], 30);
    await receivedLater;

    const active = await ask<TaskInfo[]>('active');
    expect(active).toEqual([
      {
        id: blocker.id,
        name: 't.block',
        args: [1],
        kwargs: {},
        type: 't.block',
        hostname,
        time_start: expect.any(Number),
        acknowledged: false,
        delivery_info: { exchange: '', routing_key: queue, priority: 0, redelivered: false },
        worker_pid: process.pid,
      },
    ]);
    expect(Math.abs(active[0]!.time_start! - Date.now() / 1000)).toBeLessThan(60);
    expect(await ask<TaskInfo[]>('active', { safe: true })).toMatchObject([{ id: blocker.id, args: '(1,)', kwargs: '{}' }]);
    expect(await ask<TaskInfo[]>('reserved')).toMatchObject([{ id: waiting.id, name: 't.add', args: [1, 2], time_start: null, worker_pid: null }]);
    const scheduled = await ask<{ eta: string; priority: number; request: TaskInfo }[]>('scheduled');
    expect(scheduled).toMatchObject([{ priority: 0, request: { id: later.id, name: 't.add', args: [3, 4] } }]);
    expect(new Date(scheduled[0]!.eta).getTime()).toBeGreaterThan(Date.now() + 20_000);
    expect(await ask('registered')).toEqual(['t.add [rate_limit=5/s]', 't.block']);
    expect(await ask('registered', { taskinfoitems: ['acks_late'] })).toEqual(['t.add [acks_late=True]', 't.block [acks_late=True]']);
    expect(await ask('active_queues')).toEqual([queueInfo(queue)]);

    const stats = await ask<Record<string, any>>('stats');
    expect(stats).toMatchObject({
      total: {},
      pid: process.pid,
      clock: expect.stringMatching(/^\d+$/),
      uptime: expect.any(Number),
      pool: { 'max-concurrency': 1, processes: [process.pid], implementation: 'celerity:async' },
      broker: { hostname: '127.0.0.1', port: 6379, virtual_host: String(DB), transport: 'redis' },
      prefetch_count: 4,
      rusage: { utime: expect.any(Number), maxrss: expect.any(Number) },
    });
    expect(stats.broker).not.toHaveProperty('password');

    const query = await ask<Record<string, [string, TaskInfo]>>('query_task', { ids: [blocker.id, waiting.id, later.id, 'no-such-id'] });
    expect(Object.keys(query).sort()).toEqual([blocker.id, waiting.id, later.id].sort());
    expect(query[blocker.id]![0]).toBe('active');
    expect(query[waiting.id]![0]).toBe('reserved');
    expect(query[later.id]![0]).toBe('reserved');

    gate.resolve();
    expect(await waiting.get({ timeout: 10_000 })).toBe(3);
    await until(async () => ((await ask<Record<string, Record<string, number>>>('stats')).total!['t.add'] ?? 0) === 1);
    expect((await ask<Record<string, Record<string, number>>>('stats')).total).toEqual({ 't.block': 1, 't.add': 1 });
  });

  it('revoke: a waiting, a held and a not yet sent task are stored REVOKED and never run', async () => {
    const gate = deferred();
    const ran: string[] = [];
    const { app, worker, hostname, ask } = await startNode((a) => {
      a.task('t.block', async () => gate.promise);
      a.task('t.record', function () {
        ran.push(this.id);
        return 'ran';
      });
    });
    cleanups.push(() => gate.resolve());
    const started = nextEvent(worker, 'task-started');
    await app.sendTask('t.block', []);
    await started;
    const bothIn = Promise.all([
      nextEvent(worker, 'task-received', (r) => r.eta === null && r.task === 't.record'),
      nextEvent(worker, 'task-received', (r) => r.eta !== null),
    ]);
    const waiting = await app.sendTask('t.record', []);
    const held = await sendHeld(app, 't.record', [], 30);
    await bothIn;
    const revokedEvents: string[] = [];
    worker.on('task-revoked', ({ id }) => revokedEvents.push(id));

    const ack = await client.revoke([waiting.id, held.id], { reply: true, destination: [hostname] });
    expect(ack).toEqual({ [hostname]: { ok: `tasks ${waiting.id}, ${held.id} flagged as revoked` } });
    for (const id of [waiting.id, held.id]) {
      const err = await failure(app, id);
      expect(err).toBeInstanceOf(TaskRevokedError);
      expect(err.message).toBe('revoked');
    }
    expect(await ask('reserved')).toEqual([]);
    expect(await ask('scheduled')).toEqual([]);

    const future = randomUUID();
    await client.revoke(future, { reply: true, destination: [hostname] });
    await app.sendTask('t.record', [], { taskId: future });
    expect((await failure(app, future)).message).toBe('revoked');
    expect(await ask<string[]>('revoked')).toEqual(expect.arrayContaining([waiting.id, held.id, future]));
    expect(revokedEvents.sort()).toEqual([waiting.id, held.id, future].sort());

    gate.resolve();
    const after = await app.sendTask('t.record', []);
    expect(await after.get({ timeout: 10_000 })).toBe('ran');
    expect(ran).toEqual([after.id]);
    expect(worker.reservedCount).toBe(0);
  });

  describe.each(['async', 'threads', 'process'] as const)('revoke with terminate on the %s pool', (pool) => {
    it('stores REVOKED, frees the slot and carries on', async () => {
      const aborted: unknown[] = [];
      const options: WorkerOptions = pool === 'async' ? {} : { pool, appModule: POOL_APP };
      const { app, worker, hostname, ask } = await startNode((a) => {
        if (pool === 'async') {
          // Ignores its signal (records it): terminate must not wait for it.
          a.task('pool.sleep', function () {
            this.signal.addEventListener('abort', () => aborted.push(this.signal.reason));
            return new Promise(() => undefined);
          });
          a.task('pool.add', (x: number, y: number) => x + y);
        } else {
          // The children run the fixture's tasks; the parent only needs the names.
          a.task('pool.sleep', () => undefined);
          a.task('pool.add', () => undefined);
        }
      }, options);
      const started = nextEvent(worker, 'task-started');
      const long = await app.sendTask('pool.sleep', [60_000, 'never']);
      await started;
      await until(async () => (await ask<TaskInfo[]>('active'))[0]?.worker_pid != null);
      const [running] = await ask<TaskInfo[]>('active');
      if (pool === 'process') expect(running!.worker_pid).not.toBe(process.pid);
      else expect(running!.worker_pid).toBe(process.pid);

      const revoked = nextEvent(worker, 'task-revoked');
      const reply = await client.revoke(long.id, { reply: true, terminate: true, destination: [hostname] });
      expect(reply).toEqual({ [hostname]: { ok: `terminate: ${long.id}` } });
      await revoked;
      const err = await failure(app, long.id);
      expect(err).toBeInstanceOf(TaskRevokedError);
      expect(err.message).toBe('terminated');
      expect((await app.asyncResult(long.id).meta())?.status).toBe('REVOKED');
      if (pool === 'async') {
        expect(aborted).toHaveLength(1);
        expect(aborted[0]).toBeInstanceOf(TaskRevokedError);
      }

      const next = await app.sendTask('pool.add', [2, 3]);
      expect(await next.get({ timeout: 20_000 })).toBe(5);
      expect(await ask('active')).toEqual([]);
      // Terminating an id that is not running changes nothing but the revoked list.
      expect(await client.revoke('not-running', { reply: true, terminate: true, destination: [hostname] })).toEqual({
        [hostname]: { ok: 'terminate: tasks unknown' },
      });
    }, 60_000);
  });

  it('rate_limit and time_limit change later runs', async () => {
    const starts: number[] = [];
    const { app, hostname, ask } = await startNode(
      (a) => {
        a.task('t.tick', () => void starts.push(Date.now()));
        a.task('t.slow', async function () {
          await new Promise((resolve, reject) => {
            const t = setTimeout(resolve, 30_000);
            this.signal.addEventListener('abort', () => {
              clearTimeout(t);
              reject(this.signal.reason as Error);
            });
          });
        });
      },
      { concurrency: 4 },
    );
    expect(await ask('rate_limit', { task_name: 't.tick', rate_limit: '4/s' })).toEqual({ ok: 'new rate limit set successfully' });
    expect(await ask('rate_limit', { task_name: 't.nope', rate_limit: '4/s' })).toEqual({ error: 'unknown task' });
    expect(await ask('registered')).toContain('t.tick [rate_limit=4/s]');
    const ticks = await Promise.all([0, 1, 2, 3].map(() => app.sendTask('t.tick', [])));
    await Promise.all(ticks.map((t) => t.get({ timeout: 15_000 })));
    starts.sort((a, b) => a - b);
    for (let i = 1; i < starts.length; i++) expect(starts[i]! - starts[i - 1]!).toBeGreaterThanOrEqual(200);
    expect(await ask('rate_limit', { task_name: 't.tick', rate_limit: 0 })).toEqual({ ok: 'rate limit disabled successfully' });
    expect(await ask('registered')).toContain('t.tick');

    expect(await ask('time_limit', { task_name: 't.slow', soft: 0.2, hard: 5 })).toEqual({ ok: 'time limits set successfully' });
    expect(await ask('time_limit', { task_name: 't.nope', soft: 1 })).toEqual({ error: 'unknown task' });
    const slow = await app.sendTask('t.slow', []);
    const err = await failure(app, slow.id);
    expect(err.name).toBe('SoftTimeLimitExceeded');
    expect(hostname).toContain(run);
  });

  it('add_consumer and cancel_consumer change the queues it consumes', async () => {
    const { app, hostname, queue, ask } = await startNode((a) => {
      a.task('t.echo', (x: string) => x);
    });
    const extra = `extra-${run}`;
    cleanups.push(async () => void (await (await app.broker()).purge(extra)));
    expect(await ask('add_consumer', { queue: extra })).toEqual({ ok: `add consumer ${extra}` });
    expect((await ask<{ name: string }[]>('active_queues')).map((q) => q.name)).toEqual([queue, extra]);
    expect(await (await app.sendTask('t.echo', ['from extra'], { queue: extra })).get({ timeout: 10_000 })).toBe('from extra');

    expect(await ask('cancel_consumer', { queue: extra })).toEqual({ ok: `no longer consuming from ${extra}` });
    expect((await ask<{ name: string }[]>('active_queues')).map((q) => q.name)).toEqual([queue]);
    // One message through the remaining queue: a reserve begun before the cancel has come back by then.
    expect(await (await app.sendTask('t.echo', ['a'])).get({ timeout: 10_000 })).toBe('a');
    const stranded = await app.sendTask('t.echo', ['stays'], { queue: extra });
    expect(await (await app.sendTask('t.echo', ['b'])).get({ timeout: 10_000 })).toBe('b');
    expect(await (await app.broker()).size(extra)).toBe(1);
    expect(await app.asyncResult(stranded.id).state).toBe('PENDING');
    expect(hostname).toContain(run);
  });

  it('pool_grow and pool_shrink change how many tasks run at once (async pool)', async () => {
    const gate = deferred();
    const { app, worker, ask } = await startNode((a) => {
      a.task('t.block', async () => gate.promise);
    });
    cleanups.push(() => gate.resolve());
    expect(await ask('pool_grow', { n: 2 })).toEqual({ ok: 'pool will grow' });
    expect(await ask('stats')).toMatchObject({ pool: { 'max-concurrency': 3 }, prefetch_count: 12 });
    let started = 0;
    const threeRunning = new Promise<void>((resolve) => worker.on('task-started', () => ++started === 3 && resolve()));
    const blocked = await Promise.all([0, 1, 2].map(() => app.sendTask('t.block', [])));
    await threeRunning;
    expect(await ask<TaskInfo[]>('active')).toHaveLength(3);
    expect(await ask('pool_shrink', { n: 2 })).toEqual({ ok: 'pool will shrink' });
    expect(await ask('pool_shrink', { n: 1 })).toEqual({ error: 'cannot shrink a pool of 1 by 1: at least one slot must remain' });
    expect(worker.concurrency).toBe(1);
    gate.resolve();
    await Promise.all(blocked.map((r) => r.get({ timeout: 10_000 })));
  });

  it('pool_grow and pool_shrink resize the threads pool', async () => {
    const { ask } = await startNode((a) => void a.task('pool.add', () => undefined), { pool: 'threads', appModule: POOL_APP });
    const children = async () => (await ask<{ pool: { processes: number[]; children: { state: string }[] } }>('stats')).pool;
    expect((await children()).processes).toHaveLength(1);
    expect(await ask('pool_grow', { n: 1 })).toEqual({ ok: 'pool will grow' });
    await until(async () => (await children()).children.filter((c) => c.state === 'idle').length === 2);
    expect(await ask('stats')).toMatchObject({ pool: { 'max-concurrency': 2 } });
    expect(await ask('pool_shrink', { n: 1 })).toEqual({ ok: 'pool will shrink' });
    await until(async () => (await children()).processes.length === 1);
  }, 60_000);

  it('shutdown stops the worker (warm), after which it no longer answers', async () => {
    const { worker, hostname } = await startNode((a) => void a.task('t.noop', () => undefined));
    const stopped = nextEvent(worker, 'stopped');
    await client.broadcast('shutdown', { destination: [hostname] });
    await stopped;
    expect(await client.ping({ destination: [hostname], timeout: 300 })).toEqual({});
  });

  it('remembers revoked ids across a restart with a statedb', async () => {
    const tmp = tempDir();
    cleanups.push(() => tmp.cleanup());
    const statedb = path.join(tmp.dir, 'state', 'worker.db');
    const ran: string[] = [];
    const setup = (a: Celerity) => void a.task('t.record', function () {
      ran.push(this.id);
    });
    const first = await startNode(setup, { node: { statedb } });
    const id = randomUUID();
    await client.revoke(id, { reply: true, destination: [first.hostname] });
    await first.worker.stop();
    expect(existsSync(statedb)).toBe(true);
    expect(JSON.parse(readFileSync(statedb, 'utf8'))).toMatchObject({ version: 1, revoked: [[id, expect.any(Number)]] });

    const second = await startNode(setup, { conf: { statedb }, queues: [first.queue], hostname: first.hostname });
    expect(await second.ask('revoked')).toEqual([id]);
    await second.app.sendTask('t.record', [], { taskId: id });
    expect((await failure(second.app, id)).message).toBe('revoked');
    expect(ran).toEqual([]);
  });

  it('merges the revoked ids of the nodes already running when it starts (mingle)', async () => {
    const first = await startNode((a) => void a.task('t.noop', () => undefined));
    const id = `mingled-${randomUUID()}`;
    await client.revoke(id, { reply: true, destination: [first.hostname] });
    const second = await startNode((a) => void a.task('t.noop', () => undefined));
    expect(await second.ask('revoked')).toContain(id);
    const third = await startNode((a) => void a.task('t.noop', () => undefined), { node: { mingle: false } });
    expect(await third.ask('revoked')).toEqual([]);
  });

  describe('events', () => {
    let receiver: EventReceiver;
    const seen: ReceivedEvent[] = [];

    beforeAll(async () => {
      receiver = new EventReceiver({ url: BROKER_URL, wakeup: false });
      receiver.on((e) => {
        if (e.hostname.includes(run)) seen.push(e);
      });
      await receiver.start();
    });

    afterAll(() => receiver?.close());

    const of = (hostname: string, type?: string, uuid?: string) =>
      seen.filter((e) => e.hostname === hostname && (!type || e.type === type) && (!uuid || e.uuid === uuid));

    it('sends worker-online, heartbeats with counts, task events with Celery fields, and worker-offline', async () => {
      const node = await startNode(
        (a) => {
          a.task('t.add', (x: number, y: number) => x + y);
          a.task('t.fail', (m: string) => {
            throw new RangeError(m);
          });
          a.task('t.retry', function () {
            if (this.retries < 1) this.retry({ countdown: 0.01, exc: new TypeError('again') });
            return 'ok';
          });
        },
        { conf: { sendTaskEvents: true }, node: { heartbeatInterval: 0.3 } },
      );
      const { app, worker, hostname } = node;
      await until(() => of(hostname, 'worker-online').length === 1);
      expect(of(hostname, 'worker-online')[0]).toMatchObject({ freq: 0.3, active: 0, processed: 0, sw_ident: 'celerity', pid: process.pid });

      const add = await app.sendTask('t.add', [2, 3]);
      expect(await add.get({ timeout: 10_000 })).toBe(5);
      await until(() => of(hostname, 'task-succeeded', add.id).length === 1);
      expect(of(hostname, undefined, add.id).map((e) => e.type)).toEqual(['task-received', 'task-started', 'task-succeeded']);
      expect(of(hostname, 'task-received', add.id)[0]).toMatchObject({
        uuid: add.id,
        name: 't.add',
        args: '(2, 3)',
        kwargs: '{}',
        root_id: add.id,
        parent_id: null,
        retries: 0,
        eta: null,
        expires: null,
        clock: expect.any(Number),
        timestamp: expect.any(Number),
        utcoffset: expect.any(Number),
      });
      expect(of(hostname, 'task-started', add.id)[0]).toMatchObject({ pid: process.pid });
      expect(of(hostname, 'task-succeeded', add.id)[0]).toMatchObject({ result: '5', runtime: expect.any(Number) });

      const fail = await app.sendTask('t.fail', ['bad']);
      await failure(app, fail.id);
      await until(() => of(hostname, 'task-failed', fail.id).length === 1);
      const failed = of(hostname, 'task-failed', fail.id)[0]!;
      expect(failed.exception).toBe("ValueError('bad')");
      expect(failed.traceback).toMatch(/^Traceback \(most recent call last\):/);

      const retry = await app.sendTask('t.retry', []);
      expect(await retry.get({ timeout: 10_000 })).toBe('ok');
      await until(() => of(hostname, 'task-succeeded', retry.id).length === 1);
      expect(of(hostname, 'task-retried', retry.id)[0]).toMatchObject({ exception: "TypeError('again')" });

      const revokedId = randomUUID();
      await client.revoke(revokedId, { reply: true, destination: [hostname] });
      await app.sendTask('t.add', [1, 1], { taskId: revokedId });
      await until(() => of(hostname, 'task-revoked', revokedId).length === 1);
      expect(of(hostname, 'task-revoked', revokedId)[0]).toMatchObject({ terminated: false, signum: null, expired: false });
      expect(of(hostname, 'task-received', revokedId)).toEqual([]);

      // add, fail, and the retried task twice; a revoked message never ran.
      await until(() => of(hostname, 'worker-heartbeat').some((e) => e.processed === 4 && e.active === 0));
      await worker.stop();
      await until(() => of(hostname, 'worker-offline').length === 1);
    });

    it('sends task events only once enable_events asks for them, and stops on disable_events', async () => {
      const { app, hostname, ask } = await startNode((a) => void a.task('t.add', (x: number, y: number) => x + y));
      const quiet = await app.sendTask('t.add', [1, 1]);
      await quiet.get({ timeout: 10_000 });
      expect(await ask('enable_events')).toEqual({ ok: 'task events enabled' });
      expect(await ask('enable_events')).toEqual({ ok: 'task events already enabled' });
      const loud = await app.sendTask('t.add', [2, 2]);
      await loud.get({ timeout: 10_000 });
      await until(() => of(hostname, 'task-succeeded', loud.id).length === 1);
      // Events of one node arrive in order, so anything about the first task would be here already.
      expect(of(hostname, undefined, quiet.id)).toEqual([]);
      expect(await ask('disable_events')).toEqual({ ok: 'task events disabled' });
      expect(await ask('disable_events')).toEqual({ ok: 'task events already disabled' });
      const again = await app.sendTask('t.add', [3, 3]);
      await again.get({ timeout: 10_000 });
      // A heartbeat asked for now is published after anything the task could have sent.
      const beats = of(hostname, 'worker-heartbeat').length;
      await client.broadcast('heartbeat', { destination: [hostname] });
      await until(() => of(hostname, 'worker-heartbeat').length > beats);
      expect(of(hostname, undefined, again.id)).toEqual([]);
    });
  });

});
