/**
 * The mailbox conformance suite on the in-memory hub, a SQLite file (two connections), Redis and RabbitMQ (a vhost
 * of its own), plus what only RabbitMQ does: topic routing, kombu's declarations, coming back after a lost connection.
 */
import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, type ConsumeMessage } from 'amqplib';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AmqpMailbox } from '../../src/broker/amqp/mailbox.js';
import { MemoryMailbox, MemoryMailboxHub } from '../../src/broker/memory/mailbox.js';
import { RedisMailbox } from '../../src/broker/redis/mailbox.js';
import { SqliteMailbox } from '../../src/broker/sqlite/mailbox.js';
import { decodeEnvelope, encodeEnvelope } from '../../src/protocol/envelope.js';
import { freshVhost, pingRabbit, pingRedis, requireService } from '../services.js';
import { mailboxConformance } from './mailbox-suite.js';

const REDIS_URL = 'redis://127.0.0.1:6379/13';
const redis = await requireService('Redis on 127.0.0.1:6379', () => pingRedis(REDIS_URL));
const rabbit = await requireService('RabbitMQ on 127.0.0.1:5672', () => pingRabbit());

mailboxConformance('memory', async () => {
  const hub = new MemoryMailboxHub();
  const a = new MemoryMailbox(hub);
  const b = new MemoryMailbox(hub);
  return { a, b, cleanup: async () => void (await Promise.all([a.close(), b.close()])) };
});

mailboxConformance('sqlite', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'celerity-mailbox-'));
  const path = join(dir, 'celerity.db');
  const a = new SqliteMailbox({ path });
  const b = new SqliteMailbox({ path });
  return {
    a,
    b,
    cleanup: async () => {
      await Promise.all([a.close(), b.close()]);
      rmSync(dir, { recursive: true, force: true });
    },
  };
});

if (redis.ok) {
  mailboxConformance('redis', async () => {
    const a = new RedisMailbox({ url: REDIS_URL });
    const b = new RedisMailbox({ url: REDIS_URL });
    return { a, b, cleanup: async () => void (await Promise.all([a.close(), b.close()])) };
  });
} else {
  describe.skip(`mailbox conformance: redis (skipped: ${redis.reason})`, () => undefined);
}

/**
 * Shared-suite tests that assume Redis's broadcast semantics: a broadcast says how many subscribers it reached (AMQP
 * cannot count the queues a publish was routed to), and `#` does not match an empty routing key (kombu's Redis
 * glob; on an AMQP topic exchange `#` matches zero words too). The 'mailbox on RabbitMQ' tests below check the same
 * behaviour on AMQP's terms.
 */
const REDIS_ONLY = new Set([
  'broadcasts to every subscriber whose binding key matches, counting them',
  'keeps nothing for a subscriber that was not there, and stops at close',
]);

if (rabbit.ok) {
  const vhost = await freshVhost('mailbox');
  afterAll(() => vhost.remove());
  const pair = async () => {
    const a = new AmqpMailbox({ url: vhost.url, connectionName: `mailbox-a-${randomUUID()}` });
    const b = new AmqpMailbox({ url: vhost.url, connectionName: `mailbox-b-${randomUUID()}` });
    return { a, b, cleanup: async () => void (await Promise.all([a.close(), b.close()])) };
  };
  describe('amqp', () => {
    beforeEach((ctx) => {
      if (REDIS_ONLY.has(ctx.task.name)) ctx.skip();
    });
    mailboxConformance('amqp', pair);
  });
  amqpOnly(vhost);
} else {
  describe.skip(`mailbox conformance: amqp (skipped: ${rabbit.reason})`, () => undefined);
}

/** Collects envelopes; `next(n)` resolves once `n` arrived in all. */
function inbox() {
  const got: string[] = [];
  let waiter: { n: number; resolve: () => void } | null = null;
  return {
    got,
    push: (envelope: string) => {
      got.push(envelope);
      if (waiter && got.length >= waiter.n) waiter.resolve();
    },
    next: (n: number) => (got.length >= n ? Promise.resolve() : new Promise<void>((resolve) => (waiter = { n, resolve }))),
  };
}

/** `rabbitmqctl list_<what> -p <vhost> <columns> --formatter json`, parsed. */
function listed<T>(what: 'queues' | 'exchanges', vhost: string, columns: string[]): T[] {
  const r = spawnSync('rabbitmqctl', [`list_${what}`, '-q', '-p', vhost, ...columns, '--formatter', 'json'], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`rabbitmqctl list_${what} failed: ${r.stderr}`);
  return JSON.parse(r.stdout) as T[];
}

/** A kombu envelope as the control and event modules hand it over. */
function envelope(body: object, headers: Record<string, unknown>, properties: Record<string, unknown>): string {
  const message = { headers, properties, body: Buffer.from(JSON.stringify(body)), contentType: 'application/json', contentEncoding: 'utf-8' };
  const priority = typeof properties.priority === 'number' ? properties.priority : 0;
  return encodeEnvelope(message, { exchange: '', routingKey: '', priority, deliveryTag: randomUUID() });
}

function amqpOnly(vhost: { url: string; vhost: string }): void {
  describe('mailbox on RabbitMQ', () => {
    const opened: AmqpMailbox[] = [];
    const open = (options: Partial<ConstructorParameters<typeof AmqpMailbox>[0]> = {}) => {
      const m = new AmqpMailbox({ url: vhost.url, connectionName: `mailbox-${randomUUID()}`, ...options });
      opened.push(m);
      return m;
    };
    afterEach(async () => void (await Promise.all(opened.splice(0).map((m) => m.close()))));

    it('routes broadcasts by AMQP topic binding keys, and cannot count who heard them', async () => {
      const [a, b] = [open(), open()];
      const ex = `ex-${randomUUID()}`;
      const all = inbox();
      const tasks = inbox();
      const workers = inbox();
      const exact = inbox();
      await b.subscribe(ex, '#', all.push);
      await b.subscribe(ex, 'task.#', tasks.push);
      await a.subscribe(ex, 'worker.*', workers.push);
      await a.subscribe(ex, '', exact.push);
      // Confirmed publishes: each has reached every bound queue when it resolves, so the order holds across both.
      expect(await a.broadcast(ex, 'task.succeeded', 't1')).toBe(Infinity);
      await b.broadcast(ex, 'worker.heartbeat', 'w1');
      await a.broadcast(ex, '', 'plain');
      await a.broadcast(ex, 'worker.a.b', 'too deep for *');
      await a.broadcast(`${ex}-other`, 'task.succeeded', 'elsewhere');
      await a.broadcast(ex, 'task.worker.end', 'end');
      await Promise.all([all.next(5), tasks.next(2), workers.next(1), exact.next(1)]);
      // `#` matches zero words on AMQP: the empty routing key too.
      expect(all.got).toEqual(['t1', 'w1', 'plain', 'too deep for *', 'end']);
      expect(tasks.got).toEqual(['t1', 'end']);
      expect(workers.got).toEqual(['w1']);
      expect(exact.got).toEqual(['plain']);
    });

    it('keeps nothing for a subscriber that was not there, and stops at close', async () => {
      const [a, b] = [open(), open()];
      const ex = `ex-${randomUUID()}`;
      const early = inbox();
      await b.subscribe(ex, '#', early.push);
      await a.broadcast(ex, 'x.before', 'before');
      await early.next(1);
      const late = inbox();
      const sub = await b.subscribe(ex, '#', late.push);
      await a.broadcast(ex, 'x.after', 'after');
      await Promise.all([early.next(2), late.next(1)]);
      await sub.close();
      await a.broadcast(ex, 'x.closed', 'closed');
      await early.next(3);
      expect(early.got).toEqual(['before', 'after', 'closed']);
      expect(late.got).toEqual(['after']);
    });

    // These two read and close what the server holds with rabbitmqctl: only in a vhost of their own on this machine.
    const ownVhost = vhost.vhost !== '/';

    it.skipIf(!ownVhost)("declares kombu's exchanges and queues: pidbox fanout, reply direct, celeryev topic, Celery's ttl and expires", async () => {
      const m = open();
      const node = `n-${randomUUID()}@host.celery.pidbox`;
      const oid = randomUUID();
      const subs = [await m.subscribe('celery.pidbox', '', () => undefined, { queue: node }), await m.subscribe('celeryev', 'worker.#', () => undefined)];
      const reply = await m.openQueue('reply.celery.pidbox', oid, `${oid}.reply.celery.pidbox`);
      const exchanges = listed<{ name: string }>('exchanges', vhost.vhost, ['name', 'type', 'durable', 'auto_delete']);
      expect(exchanges.filter((e) => /celery/.test(e.name)).sort((x, y) => x.name.localeCompare(y.name))).toEqual([
        { name: 'celery.pidbox', type: 'fanout', durable: false, auto_delete: false },
        { name: 'celeryev', type: 'topic', durable: true, auto_delete: false },
        { name: 'reply.celery.pidbox', type: 'direct', durable: false, auto_delete: false },
      ]);
      type Q = { name: string; durable: boolean; auto_delete: boolean; exclusive: boolean; arguments: [string, string, number][] };
      const queues = new Map(listed<Q>('queues', vhost.vhost, ['name', 'durable', 'auto_delete', 'exclusive', 'arguments']).map((q) => [q.name, q]));
      const args = (q: Q | undefined) => Object.fromEntries((q?.arguments ?? []).map(([k, , v]) => [k, v]));
      const transient = { durable: false, auto_delete: true, exclusive: true };
      expect(queues.get(node)).toMatchObject(transient);
      expect(args(queues.get(node))).toEqual({ 'x-message-ttl': 300_000, 'x-expires': 10_000 });
      expect(queues.get(`${oid}.reply.celery.pidbox`)).toMatchObject(transient);
      expect(args(queues.get(`${oid}.reply.celery.pidbox`))).toEqual({ 'x-message-ttl': 300_000, 'x-expires': 10_000 });
      const events = [...queues.values()].filter((q) => /^celeryev\.[0-9a-f-]{36}$/.test(q.name));
      expect(events).toHaveLength(1);
      expect(events[0]).toMatchObject(transient);
      expect(args(events[0])).toEqual({ 'x-message-ttl': 5_000, 'x-expires': 60_000 });
      // What Python's kombu declares for the exchanges is accepted as equivalent (no PRECONDITION_FAILED).
      const model = await connect(vhost.url);
      try {
        const ch = await model.createChannel();
        await ch.assertExchange('celery.pidbox', 'fanout', { durable: false, autoDelete: false });
        await ch.assertExchange('reply.celery.pidbox', 'direct', { durable: false, autoDelete: false });
        await ch.assertExchange('celeryev', 'topic', { durable: true, autoDelete: false });
      } finally {
        await model.close();
      }
      // Exclusive: a second node under the same name is refused instead of sharing the first one's queue.
      await expect(open().subscribe('celery.pidbox', '', () => undefined, { queue: node })).rejects.toThrow(/RESOURCE_LOCKED/);
      await Promise.all([...subs.map((s) => s.close()), reply.close()]);
      const left = listed<{ name: string }>('queues', vhost.vhost, ['name']).map((q) => q.name);
      expect(left.filter((n) => n === node || n.startsWith('celeryev.') || n.startsWith(oid))).toEqual([]);
    });

    it('sends the body as raw AMQP bytes with the headers and properties as AMQP fields, and reads them back', async () => {
      const m = open();
      const ex = `ex-${randomUUID()}`;
      const got = inbox();
      await m.subscribe(ex, 'k.#', got.push);
      // A plain AMQP consumer beside it, as a Python kombu consumer would read the message.
      const model = await connect(vhost.url);
      try {
        const ch = await model.createChannel();
        const { queue } = await ch.assertQueue('', { exclusive: true });
        await ch.bindQueue(queue, ex, 'k.#');
        const raw = new Promise<ConsumeMessage>((resolve) => void ch.consume(queue, (msg) => msg && resolve(msg), { noAck: true }));
        const headers = { clock: 7, expires: 1_700_000_000.25, ticket: null, hostname: 'w@h' };
        const properties = { correlation_id: 'c-1', reply_to: 'r-1', delivery_mode: 1, priority: 3 };
        await m.broadcast(ex, 'k.one', envelope({ method: 'ping', arguments: {} }, headers, properties));
        const msg = await raw;
        expect(msg.content.toString()).toBe('{"method":"ping","arguments":{}}');
        expect(msg.properties).toMatchObject({
          contentType: 'application/json',
          contentEncoding: 'utf-8',
          correlationId: 'c-1',
          replyTo: 'r-1',
          deliveryMode: 1,
          priority: 3,
          headers,
        });
        await got.next(1);
        const back = decodeEnvelope(got.got[0]!);
        expect(JSON.parse(back.body.toString())).toEqual({ method: 'ping', arguments: {} });
        expect(back.headers).toEqual(headers);
        expect(back.properties).toMatchObject(properties);
        expect(back.deliveryInfo).toMatchObject({ exchange: ex, routing_key: 'k.one' });
      } finally {
        await model.close();
      }
    });

    it.skipIf(!ownVhost)('declares and consumes again by itself after the connection is lost', async () => {
      const lost: Promise<void>[] = [];
      const watch = () => {
        let resolve: () => void = () => undefined;
        lost.push(new Promise<void>((r) => (resolve = r)));
        return open({ onConnectionEvent: (e) => e.type === 'lost' && resolve() });
      };
      const [a, b] = [watch(), watch()];
      const ex = `ex-${randomUUID()}`;
      const heard = inbox();
      await a.subscribe(ex, '#', heard.push);
      const q = await a.openQueue(`reply.${ex}`, 'oid', `oid.reply.${ex}`);
      await b.broadcast(ex, 'x.before', 'before');
      await heard.next(1);
      const closed = spawnSync('rabbitmqctl', ['close_all_connections', '-q', '-p', vhost.vhost, 'mailbox reconnect test'], { encoding: 'utf8' });
      expect(closed.status, closed.stderr).toBe(0);
      await Promise.all(lost);
      await a.listening();
      await b.broadcast(ex, 'x.after', 'after');
      await heard.next(2);
      expect(heard.got).toEqual(['before', 'after']);
      await b.send(`reply.${ex}`, 'oid', 'reply after');
      expect(await q.take(5_000)).toBe('reply after');
      await q.close();
    });
  });
}
