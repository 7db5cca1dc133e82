/**
 * ControlServer, ControlClient, EventDispatcher and EventReceiver on a real Redis (database 3, which no other
 * test uses): kombu's channel names and keys, destination and pattern selection, reply collection, cleanup.
 */
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  ControlClient,
  ControlServer,
  EventDispatcher,
  EventReceiver,
  LamportClock,
  queueInfo,
} from '../../src/control/index.js';
import type { ControlHandler, ReceivedEvent, RevokeCommand } from '../../src/control/index.js';
import { decodeControlRequest } from '../../src/protocol/control.js';
import { decodeEventMessage } from '../../src/protocol/events.js';
import { pingRedis, requireService } from '../services.js';

const DB = 3;
const URL = `redis://127.0.0.1:6379/${DB}`;

const ready = await requireService('Redis', () => pingRedis(URL));

interface Stub extends ControlHandler {
  revokes: RevokeCommand[];
  delay: number;
}

function stubHandler(name: string): Stub {
  const stub: Stub = {
    revokes: [],
    delay: 0,
    active: async () => [],
    reserved: async () => [],
    scheduled: async () => [],
    revoked: async () => stub.revokes.flatMap((r) => r.taskIds),
    registered: async () => [{ name: `${name}.task` }],
    stats: async () => {
      await new Promise((r) => setTimeout(r, stub.delay));
      return { total: {}, pid: process.pid, clock: '0', uptime: 0, pool: {}, broker: {}, prefetch_count: 1, rusage: 'N/A' };
    },
    activeQueues: async () => [queueInfo('celery')],
    queryTask: async () => ({}),
    revoke: async (command) => {
      stub.revokes.push(command);
      return [];
    },
    rateLimit: async () => undefined,
    timeLimit: async () => undefined,
    addConsumer: async () => undefined,
    cancelConsumer: async () => undefined,
    poolGrow: async () => undefined,
    poolShrink: async () => undefined,
    shutdown: async () => undefined,
  };
  return stub;
}

/** Collects what is published on `pattern`, to check the exact channels and envelopes. */
async function spy(pattern: string): Promise<{ messages: { channel: string; message: string }[]; close(): void }> {
  const sub = new Redis(URL);
  const messages: { channel: string; message: string }[] = [];
  sub.on('pmessage', (_p: string, channel: string, message: string) => messages.push({ channel, message }));
  await sub.psubscribe(pattern);
  return { messages, close: () => sub.disconnect() };
}

async function until(check: () => boolean | Promise<boolean>, ms = 5_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe.skipIf(!ready.ok)(`remote control and events on Redis${ready.ok ? '' : ` (skipped: ${ready.reason})`}`, () => {
  const run = randomUUID().slice(0, 8);
  const nodeA = `a-${run}@test`;
  const nodeB = `b-${run}@test`;
  const handlerA = stubHandler('a');
  const handlerB = stubHandler('b');
  let serverA: ControlServer;
  let serverB: ControlServer;
  let client: ControlClient;
  let redis: Redis;
  const cleanups: (() => Promise<void> | void)[] = [];

  beforeAll(async () => {
    redis = new Redis(URL);
    serverA = new ControlServer({ url: URL, hostname: nodeA, handler: handlerA });
    serverB = new ControlServer({ url: URL, hostname: nodeB, handler: handlerB });
    client = new ControlClient({ url: URL });
    await Promise.all([serverA.start(), serverB.start(), client.connect()]);
  });

  afterEach(async () => {
    for (const c of cleanups.splice(0)) await c();
  });

  afterAll(async () => {
    await Promise.all([serverA?.close(), serverB?.close(), client?.close()]);
    redis?.disconnect();
  });

  /** Replies from this file's nodes only (other test files may run nodes on other databases, never on this one). */
  const ours = (replies: Record<string, unknown>): Record<string, unknown> =>
    Object.fromEntries(Object.entries(replies).filter(([node]) => node.includes(run)));

  it('declares each node queue on the pidbox exchange, as a Celery worker does', async () => {
    const members = await redis.smembers('_kombu.binding.celery.pidbox');
    expect(members).toContain(`\x06\x16\x06\x16${nodeA}.celery.pidbox`);
    expect(members).toContain(`\x06\x16\x06\x16${nodeB}.celery.pidbox`);
  });

  it('pings every node, and ends as soon as every listener answered', async () => {
    const t0 = Date.now();
    const replies = await client.ping({ timeout: 3_000 });
    expect(ours(replies)).toEqual({ [nodeA]: { ok: 'pong' }, [nodeB]: { ok: 'pong' } });
    expect(Date.now() - t0).toBeLessThan(1_500);
  });

  it('publishes the request on /<db>.celery.pidbox and leaves no reply queue behind', async () => {
    const s = await spy(`/${DB}.celery.pidbox`);
    cleanups.push(() => s.close());
    await client.inspect('registered', {}, { destination: [nodeA] });
    await until(() => s.messages.length > 0);
    const [{ channel, message }] = s.messages as [{ channel: string; message: string }];
    expect(channel).toBe(`/${DB}.celery.pidbox`);
    const req = decodeControlRequest(message);
    expect(req).toMatchObject({ method: 'registered', destination: [nodeA], pattern: null, matcher: null });
    expect(req.replyTo?.exchange).toBe('reply.celery.pidbox');
    expect(req.expires).toBeGreaterThan(Date.now() / 1000);
    const leftovers = await redis.keys(`${req.replyTo?.routing_key}*`);
    expect(leftovers).toEqual([]);
    const bindings = await redis.smembers('_kombu.binding.reply.celery.pidbox');
    expect(bindings.filter((m) => m.startsWith(req.replyTo!.routing_key))).toEqual([]);
  });

  it('asks only the destinations, and stops at their number of replies', async () => {
    const t0 = Date.now();
    const replies = await client.inspect('registered', {}, { destination: [nodeB], timeout: 3_000 });
    expect(replies).toEqual({ [nodeB]: ['b.task'] });
    expect(Date.now() - t0).toBeLessThan(1_500);
  });

  it('selects nodes by glob pattern (server side) and filters replies (client side)', async () => {
    const byGlob = await client.inspect('ping', {}, { pattern: `b-${run}@*`, matcher: 'glob', timeout: 300 });
    expect(byGlob).toEqual({ [nodeB]: { ok: 'pong' } });
    // Without a matcher every node answers and the client keeps the matching names, as Celery's Inspect does.
    const filtered = await client.inspect('ping', {}, { pattern: `a-${run}@*` });
    expect(filtered).toEqual({ [nodeA]: { ok: 'pong' } });
  });

  it('casts without waiting and the command still runs', async () => {
    const id = `task-${randomUUID()}`;
    expect(await client.revoke(id)).toEqual({});
    await until(() => handlerA.revokes.some((r) => r.taskIds.includes(id)) && handlerB.revokes.some((r) => r.taskIds.includes(id)));
    expect(handlerA.revokes.at(-1)).toEqual({ taskIds: [id], terminate: false, signal: 'SIGTERM' });
    const acks = await client.revoke([id, 'other'], { reply: true, destination: [nodeA] });
    expect(acks).toEqual({ [nodeA]: { ok: `tasks ${id}, other flagged as revoked` } });
    expect(ours(await client.inspect('revoked'))[nodeA]).toEqual([id, id, 'other']);
  });

  it('returns at once when nobody listens', async () => {
    const lonely = new ControlClient({ url: URL, namespace: `nobody-${run}` });
    cleanups.push(() => lonely.close());
    const t0 = Date.now();
    expect(await lonely.ping({ timeout: 5_000 })).toEqual({});
    expect(Date.now() - t0).toBeLessThan(1_000);
  });

  it('gives up on a node that answers after the timeout, and drops its late reply', async () => {
    handlerB.delay = 600;
    cleanups.push(() => {
      handlerB.delay = 0;
    });
    const replies = await client.inspect('stats', {}, { destination: [nodeB], timeout: 200 });
    expect(replies).toEqual({});
    await new Promise((r) => setTimeout(r, 700));
    expect(await redis.keys('*.reply.celery.pidbox*')).toEqual([]);
  });

  it('runs concurrent calls without mixing their replies', async () => {
    const [a, b, c] = await Promise.all([
      client.inspect('registered', {}, { destination: [nodeA] }),
      client.inspect('registered', {}, { destination: [nodeB] }),
      client.inspect('active_queues', {}, { destination: [nodeA] }),
    ]);
    expect(a).toEqual({ [nodeA]: ['a.task'] });
    expect(b).toEqual({ [nodeB]: ['b.task'] });
    expect((c[nodeA] as { name: string }[])[0]?.name).toBe('celery');
  });

  it('orders replies on a Lamport clock', async () => {
    const clock = new LamportClock();
    const c = new ControlClient({ url: URL, clock });
    cleanups.push(() => c.close());
    const before = serverA.clock.value;
    await c.ping({ destination: [nodeA] });
    // The node merged the request's clock and ticked for its reply; the client merged the reply's.
    expect(serverA.clock.value).toBe(Math.max(before, 1) + 2);
    expect(clock.value).toBe(serverA.clock.value + 1);
  });

  it('honours global_keyprefix for the channel, the bindings and the reply lists', async () => {
    const prefix = `pfx-${run}:`;
    const node = `p-${run}@test`;
    const server = new ControlServer({ url: URL, hostname: node, handler: stubHandler('p'), globalKeyprefix: prefix });
    const pc = new ControlClient({ url: `${URL}?global_keyprefix=${encodeURIComponent(prefix)}` });
    cleanups.push(async () => {
      await server.close();
      await pc.close();
    });
    await server.start();
    expect(await redis.smembers(`${prefix}_kombu.binding.celery.pidbox`)).toEqual([`\x06\x16\x06\x16${node}.celery.pidbox`]);
    const s = await spy(`${prefix}/${DB}.celery.pidbox`);
    cleanups.push(() => s.close());
    expect(await pc.ping({ timeout: 300 })).toEqual({ [node]: { ok: 'pong' } });
    expect(s.messages).toHaveLength(1);
    // Only the prefixed node answered the prefixed client, and it does not hear unprefixed requests.
    expect(ours(await client.ping({ timeout: 300 }))).not.toHaveProperty(node);
    await server.close();
    expect(await redis.exists(`${prefix}_kombu.binding.celery.pidbox`)).toBe(0);
  });

  it('publishes worker events on /<db>.celeryev/<type> and batches task events as task.multi', async () => {
    const s = await spy(`/${DB}.celeryev/*`);
    const host = `ev-${run}@test`;
    const events = new EventDispatcher({
      url: URL,
      hostname: host,
      heartbeat: { interval: 0.1, state: () => ({ active: 1, processed: 7 }) },
      bufferGroups: ['task'],
    });
    cleanups.push(() => s.close());
    await events.start();
    const sends = [events.send('task-received', {
      uuid: 'u1', name: 'n', args: '()', kwargs: '{}', root_id: 'u1', parent_id: null, retries: 0, eta: null, expires: null,
    }), events.send('task-started', { uuid: 'u1' })];
    await Promise.all(sends);
    await new Promise((r) => setTimeout(r, 250));
    await events.close();
    await until(() => s.messages.some((m) => m.channel.endsWith('worker.offline')));
    const mine = s.messages.filter((m) => decodeEventMessage(m.message)[0]?.hostname === host);
    const channels = mine.map((m) => m.channel);
    expect(channels[0]).toBe(`/${DB}.celeryev/worker.online`);
    expect(channels).toContain(`/${DB}.celeryev/worker.heartbeat`);
    expect(channels.at(-1)).toBe(`/${DB}.celeryev/worker.offline`);
    const multi = mine.filter((m) => m.channel === `/${DB}.celeryev/task.multi`);
    expect(multi).toHaveLength(1);
    expect(decodeEventMessage(multi[0]!.message).map((e) => e.type)).toEqual(['task-received', 'task-started']);
    const online = decodeEventMessage(mine[0]!.message)[0]!;
    expect(Object.keys(online)).toEqual([
      'hostname', 'utcoffset', 'pid', 'clock', 'freq', 'active', 'processed', 'loadavg', 'sw_ident', 'sw_ver', 'sw_sys', 'timestamp', 'type',
    ]);
    expect(online).toMatchObject({ hostname: host, pid: process.pid, freq: 0.1, active: 1, processed: 7, sw_ident: 'celerity' });
    const envelope = JSON.parse(mine[0]!.message) as { headers: unknown; properties: { delivery_mode: number } };
    expect(envelope.headers).toEqual({ hostname: host });
    expect(envelope.properties.delivery_mode).toBe(1);
  });

  it('receives events, filters by routing key, and wakes workers up when it starts', async () => {
    const host = `rx-${run}@test`;
    const wakeups: string[] = [];
    const woken = stubHandler('w');
    woken.heartbeat = async () => void wakeups.push('heartbeat');
    const server = new ControlServer({ url: URL, hostname: `w-${run}@test`, handler: woken });
    await server.start();
    const all = new EventReceiver({ url: URL });
    const workerOnly = new EventReceiver({ url: URL, routingKey: 'worker.#', wakeup: false });
    const dispatcher = new EventDispatcher({ url: URL, hostname: host });
    cleanups.push(async () => {
      await Promise.all([server.close(), all.close(), workerOnly.close(), dispatcher.close()]);
    });
    await Promise.all([all.start(), workerOnly.start(), dispatcher.start()]);
    await until(() => wakeups.length >= 1);

    const seen: ReceivedEvent[] = [];
    const ac = new AbortController();
    const iterating = (async () => {
      for await (const e of workerOnly.events({ signal: ac.signal })) if (e.hostname === host) seen.push(e);
    })();
    const everything: ReceivedEvent[] = [];
    all.on((e) => {
      if (e.hostname === host) everything.push(e);
    });
    await dispatcher.send('task-succeeded', { uuid: 'x', result: '42', runtime: 0.01 });
    await dispatcher.send('worker-heartbeat', { freq: 2, active: 0, processed: 0, loadavg: [0, 0, 0], sw_ident: 'x', sw_ver: '1', sw_sys: 'Linux' });
    await until(() => everything.length === 2 && seen.length === 1);
    ac.abort();
    await iterating;
    expect(everything.map((e) => e.type)).toEqual(['task-succeeded', 'worker-heartbeat']);
    expect(everything[0]).toMatchObject({ uuid: 'x', result: '42', runtime: 0.01 });
    expect(everything[0]!.local_received).toBeGreaterThan(0);
    expect(seen.map((e) => e.type)).toEqual(['worker-heartbeat']);
  });

  it('answers again after its subscription connection is dropped (ioredis resubscribes)', async () => {
    const list = (await redis.client('LIST')) as string;
    const subs = list
      .split('\n')
      .filter((line) => line.includes('name=celerity-control-sub') && line.includes(` db=${DB} `))
      .map((line) => /(?:^|\s)id=(\d+)/.exec(line)?.[1])
      .filter((id): id is string => id !== undefined);
    expect(subs.length).toBeGreaterThanOrEqual(2);
    for (const id of subs) await redis.client('KILL', 'ID', id);
    await until(async () => Object.keys(ours(await client.ping({ timeout: 300 }))).length === 2);
  });

  it('fails to start with one line naming the server when Redis is unreachable', async () => {
    const server = new ControlServer({ url: 'redis://127.0.0.1:1/0', hostname: 'x@y', handler: stubHandler('x') });
    await expect(server.start()).rejects.toThrow(/^cannot reach Redis at 127\.0\.0\.1:1: .*ECONNREFUSED/);
    const events = new EventDispatcher({ url: 'redis://127.0.0.1:1/0', hostname: 'x@y' });
    await expect(events.start()).rejects.toThrow(/cannot reach Redis/);
  });

  it('removes its declaration when a node closes', async () => {
    const node = `c-${run}@test`;
    const server = new ControlServer({ url: URL, hostname: node, handler: stubHandler('c') });
    await server.start();
    expect(ours(await client.ping())).toHaveProperty(node);
    await server.close();
    expect(await redis.smembers('_kombu.binding.celery.pidbox')).not.toContain(`\x06\x16\x06\x16${node}.celery.pidbox`);
    expect(ours(await client.ping({ timeout: 300 }))).not.toHaveProperty(node);
  });
});
