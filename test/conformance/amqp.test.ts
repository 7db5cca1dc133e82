/**
 * The shared broker suite on RabbitMQ, then what only AMQP has: Celery's declarations, redelivery when a holder's
 * connection closes (instead of a visibility timeout), the prefetch window, reconnects. The file works in a vhost
 * of its own (test/services.ts), removed at the end.
 */
import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { connect, type ChannelModel } from 'amqplib';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { AmqpBroker } from '../../src/broker/amqp/index.js';
import type { Broker, OutboundMessage } from '../../src/broker/port.js';
import { ConfigurationError, ConnectionError } from '../../src/errors/index.js';
import { createBroker } from '../../src/transports/index.js';
import { freshVhost, pingRabbit, requireService } from '../services.js';
import { brokerConformance, message } from './broker-suite.js';

const service = await requireService('RabbitMQ', () => pingRabbit());
const space = service.ok ? await freshVhost('broker') : null;
const URL = space?.url ?? '';

afterAll(async () => {
  await space?.remove();
});

/** Brokers that remember every queue they touched, so cleanup deletes those queues (and their exchanges). */
function tracked(options: Partial<ConstructorParameters<typeof AmqpBroker>[0]> = {}) {
  const queues = new Set<string>();
  const opened: Broker[] = [];
  return {
    async broker(): Promise<AmqpBroker> {
      const b = new AmqpBroker({ url: URL, maxPriority: 10, ...options });
      const publish = b.publish.bind(b);
      b.publish = (batch) => (batch.forEach((m) => queues.add(m.queue)), publish(batch));
      const reserve = b.reserve.bind(b);
      b.reserve = (qs, o) => (qs.forEach((q) => queues.add(q)), reserve(qs, o));
      opened.push(b);
      await b.connect();
      return b;
    },
    async cleanup(): Promise<void> {
      const admin = await connect(URL);
      const ch = await admin.createChannel();
      for (const b of opened.splice(0)) await b.close();
      for (const q of queues) {
        await ch.deleteQueue(q);
        await ch.deleteExchange(q);
      }
      await ch.purgeQueue('celerity.dead_letters').catch(() => undefined);
      await admin.close();
    },
  };
}

if (service.ok) {
  brokerConformance('amqp (x-max-priority 10)', async () => {
    const t = tracked();
    return { broker: await t.broker(), cleanup: () => t.cleanup(), visibilityTimeout: false };
  });
  brokerConformance('amqp (x-max-priority 10, native delayed delivery)', async () => {
    const t = tracked({ delayedDelivery: 'native' });
    return { broker: await t.broker(), cleanup: () => t.cleanup(), visibilityTimeout: false, delayGranularityMs: 1000, countsDelayed: false };
  });
} else {
  describe.skip(`broker conformance: amqp (${service.reason})`, () => it('needs RabbitMQ', () => undefined));
}

const out = (queue: string, id: string, o: Partial<OutboundMessage> = {}): OutboundMessage => ({ queue, message: message(id), priority: 0, ...o });

describe.skipIf(!service.ok)('amqp broker: Celery topology and AMQP behaviour', () => {
  let t: ReturnType<typeof tracked>;
  let admin: ChannelModel;
  beforeAll(async () => {
    admin = await connect(URL);
  });
  afterAll(async () => {
    await admin?.close();
  });
  afterEach(async () => {
    await t?.cleanup();
  });

  it("declares Celery's queue, exchange and binding, and publishes the message as kombu does", async () => {
    t = tracked({ maxPriority: undefined });
    const broker = await t.broker();
    const q = `jobs-${randomUUID()}`;
    await broker.publish([out(q, 'a', { priority: 3 })]);
    const ch = await admin.createChannel();
    // Declaring it again with Celery's arguments succeeds: durable, no x-max-priority by default.
    expect(await ch.assertQueue(q, { durable: true, autoDelete: false, exclusive: false, arguments: {} })).toMatchObject({ messageCount: 1 });
    await ch.assertExchange(q, 'direct', { durable: true, autoDelete: false });
    const msg = await ch.get(q, { noAck: true });
    expect(msg).not.toBe(false);
    if (!msg) return;
    expect(msg.fields).toMatchObject({ exchange: '', routingKey: q });
    expect(msg.properties).toMatchObject({
      contentType: 'application/json',
      contentEncoding: 'utf-8',
      deliveryMode: 2,
      priority: 3,
      correlationId: 'a',
      replyTo: 'r',
    });
    expect(msg.properties.headers).toMatchObject({ lang: 'py', task: 'tests.add', id: 'a', root_id: 'a', retries: 0 });
    expect(msg.content).toEqual(message('a').body);
    // The exchange routes to the queue with the queue's name as routing key (Celery's binding).
    ch.publish(q, q, Buffer.from('via exchange'));
    await new Promise((r) => setTimeout(r, 100));
    expect((await ch.checkQueue(q)).messageCount).toBe(1);
    await ch.close();
  });

  it('uses a queue declared with other arguments as it is instead of failing', async () => {
    t = tracked({ maxPriority: 10 });
    const q = `other-args-${randomUUID()}`;
    const ch = await admin.createChannel();
    await ch.assertQueue(q, { durable: true, arguments: { 'x-max-priority': 5 } });
    await ch.close();
    const broker = await t.broker();
    await broker.publish([out(q, 'kept')]);
    const got = await broker.reserve([q], { max: 1, waitMs: 0 });
    expect(got.map((d) => d.message?.headers.id)).toEqual(['kept']);
    await broker.ack(got.map((d) => d.tag));
  });

  it('gives unacked messages back when their holder closes, marked redelivered; old tags are ignored', async () => {
    t = tracked();
    const q = `redeliver-${randomUUID()}`;
    const a = await t.broker();
    const b = await t.broker();
    await a.publish([out(q, 'm1'), out(q, 'm2')]);
    const held = await a.reserve([q], { max: 2, waitMs: 0 });
    expect(held).toHaveLength(2);
    expect(await b.reserve([q], { max: 2, waitMs: 0 })).toEqual([]);
    await a.close();
    const again = await b.reserve([q], { max: 2, waitMs: 3000 });
    expect(again.map((d) => [d.message?.headers.id, d.redelivered])).toEqual([
      ['m1', true],
      ['m2', true],
    ]);
    await a.ack(held.map((d) => d.tag));
    await b.ack(again.map((d) => d.tag));
    expect(await b.size(q)).toBe(0);
  });

  it('keeps the server window at what the worker asked for: prefetch 1 means one unacked message', async () => {
    t = tracked();
    const q = `window-${randomUUID()}`;
    const a = await t.broker();
    const b = await t.broker();
    await a.publish(['1', '2', '3'].map((id) => out(q, id)));
    const [first] = await a.reserve([q], { max: 1, waitMs: 2000 });
    expect(first?.message?.headers.id).toBe('1');
    // Another consumer gets the rest: the first holds one message and asks for nothing more.
    const other = await b.reserve([q], { max: 5, waitMs: 2000 });
    expect(other.map((d) => d.message?.headers.id).sort()).toEqual(['2', '3']);
    await a.ack([first!.tag]);
    await b.ack(other.map((d) => d.tag));
  });

  it('release stops the consumer and gives back what was sent and not handed out; others keep consuming', async () => {
    t = tracked();
    const q = `release-${randomUUID()}`;
    const other = `${q}-other`;
    const a = await t.broker();
    const b = await t.broker();
    await a.publish(['1', '2', '3'].map((id) => out(q, id)));
    // A window of 3 (a worker's prefetch): the server sends all three, one is handed out.
    const [first] = await a.reserve([q], { max: 1, waitMs: 2000, window: 3 });
    expect(first?.message?.headers.id).toBe('1');
    // Reserves naming only another queue (a second worker of the same app) leave the first queue's consumer alone;
    // the window is the channel's, so the second worker's prefetch is added to it.
    await a.publish([out(other, 'x')]);
    expect((await a.reserve([other], { max: 1, waitMs: 2000, window: 4 })).map((d) => d.message?.headers.id)).toEqual(['x']);
    await a.release([q]);
    // A reserve hands out what has arrived when it wakes: the two may come in two reserves.
    const rest = await b.reserve([q], { max: 5, waitMs: 2000 });
    if (rest.length < 2) rest.push(...(await b.reserve([q], { max: 5, waitMs: 2000 })));
    expect(rest.map((d) => d.message?.headers.id)).toEqual(['2', '3']);
    // What was handed out stays with its holder until acked.
    await a.ack([first!.tag]);
    await b.ack(rest.map((d) => d.tag));
    expect(await b.size(q)).toBe(0);
  });

  it('declares quorum queues when asked, and delays their messages in the broker (Celery 5.5 delayed delivery)', async () => {
    t = tracked({ queueType: 'quorum', maxPriority: undefined });
    const broker = await t.broker();
    expect(broker.capabilities.nativeDelay).toBe(true);
    const q = `quorum-${randomUUID()}`;
    const start = Date.now();
    await broker.publish([out(q, 'later', { notBefore: start + 1200 }), out(q, 'now')]);
    const ch = await admin.createChannel();
    // Declaring it again as a quorum queue succeeds; as a classic one the server refuses.
    await ch.assertQueue(q, { durable: true, arguments: { 'x-queue-type': 'quorum' } });
    await ch.close();
    const classic = await admin.createChannel();
    classic.on('error', () => undefined);
    await expect(classic.assertQueue(q, { durable: true, arguments: {} })).rejects.toThrow(/PRECONDITION_FAILED/);
    const now = await broker.reserve([q], { max: 5, waitMs: 0 });
    expect(now.map((d) => d.message?.headers.id)).toEqual(['now']);
    const later = await broker.reserve([q], { max: 5, waitMs: 5000 });
    expect(later.map((d) => d.message?.headers.id)).toEqual(['later']);
    // It came through the delay levels: the delay in whole seconds in binary, one bit per word, then the queue. The
    // delay is what is left of the 1.2 s when the broker publishes, rounded up: 2 s, or 1 s when the publish itself
    // (connecting, declaring the queue) took more than 200 ms.
    const key = JSON.parse(later[0]!.raw).properties.delivery_info.routing_key as string;
    expect(key).toMatch(new RegExp(`^([01]\\.){28}${q}$`));
    expect([1, 2]).toContain(parseInt(key.split('.').slice(0, 28).join(''), 2));
    // Whole seconds, rounded up: never early.
    expect(Date.now() - start).toBeGreaterThanOrEqual(1200);
    await broker.ack([...now, ...later].map((d) => d.tag));
  });

  it('reads the URL forms and options, and refuses bad ones naming them', async () => {
    expect(await createBroker('pyamqp://guest@127.0.0.1//', { visibilityTimeout: 1 })).toBeInstanceOf(AmqpBroker);
    expect(new AmqpBroker({ url: 'amqp://h//?max_priority=10&queue_type=quorum' }).settings).toEqual({ maxPriority: 10, queueType: 'quorum' });
    expect(new AmqpBroker({ url: 'amqp://h//?queue_type=quorum' }).delayedDelivery).toBe('native');
    expect(new AmqpBroker({ url: 'amqp://h//' }).delayedDelivery).toBe('off');
    expect(new AmqpBroker({ url: 'amqp://h//?delayed_delivery=native' }).capabilities.nativeDelay).toBe(true);
    for (const url of ['amqp://h//?max_priority=0', 'amqp://h//?queue_type=stream', 'amqp://h//?bogus=1', 'amqp://:pw@h//?heartbeat=x', 'amqp://h//?delayed_delivery=later', 'amqp://h//?consumer_timeout=0']) {
      expect(() => new AmqpBroker({ url }), url).toThrow(ConfigurationError);
    }
    expect(() => new AmqpBroker({ url: 'amqp://u:secret@h//?heartbeat=x' })).toThrow(/amqp:\/\/u:\*\*\*@h/);
  });

  it('negotiates the heartbeat the URL asks for and names its connection', async (ctx) => {
    if (space?.vhost === '/') return ctx.skip();
    const broker = new AmqpBroker({ url: `${URL}?heartbeat=17` });
    await broker.connect();
    try {
      const listed = spawnSync('rabbitmqctl', ['list_connections', '-p', space!.vhost, 'timeout', 'client_properties'], { encoding: 'utf8' }).stdout;
      expect(listed).toMatch(new RegExp(`^17\\s.*celerity-broker-${process.pid}`, 'm'));
    } finally {
      await broker.close();
    }
  });

  it('names every broker it tried, in one line, when none can be reached', async () => {
    const broker = new AmqpBroker({ url: 'amqp://127.0.0.1:1//;amqp://127.0.0.1:2//', connectTimeoutMs: 1000 });
    const err = await broker.connect().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConnectionError);
    expect((err as Error).message).toMatch(/^cannot reach RabbitMQ at 127\.0\.0\.1:1: ECONNREFUSED; 127\.0\.0\.1:2: ECONNREFUSED$/);
    await broker.close();
  });

  it('fails over to the next broker of the URL', async () => {
    t = tracked({});
    const port = new globalThis.URL(URL.replace(/^amqp/, 'http')).port || '5672';
    const vhostPath = new globalThis.URL(URL.replace(/^amqp/, 'http')).pathname;
    const broker = new AmqpBroker({ url: `amqp://guest:guest@127.0.0.1:1${vhostPath};amqp://guest:guest@127.0.0.1:${port}${vhostPath}` });
    await broker.connect();
    const q = `failover-${randomUUID()}`;
    await broker.publish([out(q, 'x')]);
    expect(await broker.size(q)).toBe(1);
    await broker.purge(q);
    const ch = await admin.createChannel();
    await ch.deleteQueue(q);
    await ch.deleteExchange(q);
    await ch.close();
    await broker.close();
  });
});
