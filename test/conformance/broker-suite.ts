/**
 * The behaviour every broker adapter must show, run against each one by a small runner file.
 *
 * The factory returns a connected broker whose visibility timeout is 1 second, and `advanceTime` when the adapter
 * runs on a fake clock; without it the suite waits in real time, preferring a blocking reserve that wakes on the
 * event over a fixed sleep. Tests of a capability an adapter does not claim (`nativeDelay`, a visibility timeout)
 * are skipped for it: its runner file tests what it does instead.
 */
import { randomUUID } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Broker, Delivery, OutboundMessage } from '../../src/broker/port.js';
import type { BrokerMessage } from '../../src/protocol/types.js';

export interface BrokerHarness {
  broker: Broker;
  cleanup(): Promise<void>;
  advanceTime?: (ms: number) => void;
  /**
   * False for a broker whose unacked messages come back when their holder's connection closes, not after a
   * visibility timeout (AMQP): the timeout tests are skipped, and its runner tests that redelivery instead.
   */
  visibilityTimeout?: boolean;
  /** How much later than `notBefore` a delayed message may arrive (AMQP's delay levels count whole seconds). */
  delayGranularityMs?: number;
  /** False when delayed messages wait outside their queue (AMQP's delay levels) and `size` cannot count them. */
  countsDelayed?: boolean;
}

/** The visibility timeout factories must configure, in ms. */
const VISIBILITY_MS = 1000;

export function message(id: string, extra: Partial<BrokerMessage> = {}): BrokerMessage {
  return {
    headers: { lang: 'py', task: 'tests.add', id, root_id: id, retries: 0 },
    properties: { correlation_id: id, reply_to: 'r', delivery_mode: 2, priority: 0 },
    body: Buffer.from(JSON.stringify([[1, 2], {}, { callbacks: null, errbacks: null, chain: null, chord: null }])),
    contentType: 'application/json',
    contentEncoding: 'utf-8',
    ...extra,
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const ids = (ds: Delivery[]) => ds.map((d) => d.message?.headers.id);

export function brokerConformance(name: string, factory: () => Promise<BrokerHarness>): void {
  describe(`broker conformance: ${name}`, () => {
    let h: BrokerHarness;
    let broker: Broker;
    let q: string;

    /** Lets `ms` of broker time pass: instantly on a fake clock, for real otherwise. */
    const pass = async (ms: number) => (h.advanceTime ? h.advanceTime(ms) : sleep(ms));
    const out = (id: string, o: Partial<OutboundMessage> = {}): OutboundMessage => ({
      queue: q,
      message: message(id),
      priority: 0,
      ...o,
    });
    const reserveNow = (queues: string[] = [q], max = 100) => broker.reserve(queues, { max, waitMs: 0 });

    beforeEach(async () => {
      h = await factory();
      broker = h.broker;
      q = `q-${randomUUID()}`;
    });
    afterEach(async () => {
      await h.cleanup();
    });

    it('delivers in publish order and keeps every message part', async () => {
      await broker.publish([out('a'), out('b'), out('c')]);
      const got = await reserveNow();
      expect(ids(got)).toEqual(['a', 'b', 'c']);
      const first = got[0]!;
      expect(first.queue).toBe(q);
      expect(first.redelivered).toBe(false);
      expect(first.message).toEqual(message('a'));
      expect(new Set(got.map((d) => d.tag)).size).toBe(3);
    });

    it('returns at most max and nothing from an empty queue', async () => {
      await broker.publish(['1', '2', '3', '4', '5'].map((id) => out(id)));
      expect(ids(await reserveNow([q], 2))).toEqual(['1', '2']);
      expect(ids(await reserveNow([q], 2))).toEqual(['3', '4']);
      expect(ids(await reserveNow([q], 2))).toEqual(['5']);
      expect(await reserveNow()).toEqual([]);
    });

    it('delivers higher priorities first, FIFO within a priority', async () => {
      await broker.publish([
        out('low1', { priority: 0 }),
        out('high1', { priority: 9 }),
        out('mid', { priority: 5 }),
        out('high2', { priority: 9 }),
        out('low2', { priority: 0 }),
      ]);
      const got = await reserveNow();
      expect(ids(got)).toEqual(['high1', 'high2', 'mid', 'low1', 'low2']);
      expect(got.map((d) => d.priority)).toEqual([9, 9, 5, 0, 0]);
    });

    it('takes from earlier queues first at equal priority, but priority wins across queues', async () => {
      const q2 = `${q}-2`;
      await broker.publish([
        out('q1-a'),
        { ...out('q2-a'), queue: q2 },
        { ...out('q2-high'), queue: q2, priority: 7 },
        out('q1-b'),
      ]);
      const got = await reserveNow([q2, q]);
      expect(ids(got)).toEqual(['q2-high', 'q2-a', 'q1-a', 'q1-b']);
      expect(got.map((d) => d.queue)).toEqual([q2, q2, q, q]);
    });

    it('holds a delayed message until notBefore and a blocking reserve picks it up on time', async (ctx) => {
      if (!broker.capabilities.nativeDelay) return ctx.skip();
      const delay = 300;
      const start = Date.now();
      await broker.publish([out('later', { notBefore: start + delay }), out('now')]);
      expect(ids(await reserveNow())).toEqual(['now']);
      expect(await broker.size(q)).toBe(h.countsDelayed === false ? 0 : 1);
      const got = await broker.reserve([q], { max: 10, waitMs: 3000 });
      const elapsed = Date.now() - start;
      expect(ids(got)).toEqual(['later']);
      expect(elapsed).toBeGreaterThanOrEqual(delay - 20);
      expect(elapsed).toBeLessThan(delay + 700 + (h.delayGranularityMs ?? 0));
    });

    it('returns an unacked message after the visibility timeout, marked redelivered', async (ctx) => {
      if (h.visibilityTimeout === false) return ctx.skip();
      await broker.publish([out('m')]);
      const [first] = await reserveNow();
      expect(first?.redelivered).toBe(false);
      expect(await reserveNow()).toEqual([]);
      if (h.advanceTime) h.advanceTime(VISIBILITY_MS + 1);
      const start = Date.now();
      const again = await broker.reserve([q], { max: 1, waitMs: 3000 });
      expect(Date.now() - start).toBeLessThan(VISIBILITY_MS + 700);
      expect(ids(again)).toEqual(['m']);
      expect(again[0]!.redelivered).toBe(true);
      expect(again[0]!.tag).not.toBe(first!.tag);
    });

    it('restore() moves expired reservations back and counts them', async (ctx) => {
      if (h.visibilityTimeout === false) return ctx.skip();
      await broker.publish([out('x'), out('y')]);
      await reserveNow();
      expect(await broker.restore()).toBe(0);
      await pass(VISIBILITY_MS + 50);
      expect(await broker.restore()).toBe(2);
      expect(await broker.size(q)).toBe(2);
    });

    it('ignores a stale tag after restore: the new holder keeps the message', async (ctx) => {
      if (h.visibilityTimeout === false) return ctx.skip();
      await broker.publish([out('m')]);
      const [old] = await reserveNow();
      if (h.advanceTime) h.advanceTime(VISIBILITY_MS + 1);
      const [current] = await broker.reserve([q], { max: 1, waitMs: 3000 });
      expect(current?.redelivered).toBe(true);
      await broker.ack([old!.tag]);
      await broker.reject(old!.tag, { requeue: false, reason: 'stale' });
      await broker.extend([old!.tag]);
      expect(await broker.listDeadLetters({ queue: q })).toEqual([]);
      // Still reserved by the new holder: requeueing with the current tag brings it back exactly once.
      await broker.reject(current!.tag, { requeue: true });
      expect(ids(await reserveNow())).toEqual(['m']);
    });

    it('ack removes the message for good', async () => {
      await broker.publish([out('a'), out('b')]);
      const got = await reserveNow();
      await broker.ack(got.map((d) => d.tag));
      await broker.ack(got.map((d) => d.tag));
      await pass(VISIBILITY_MS + 50);
      expect(await broker.restore()).toBe(0);
      expect(await reserveNow()).toEqual([]);
      expect(await broker.size(q)).toBe(0);
    });

    it('reject with requeue puts the message back at the head of its queue', async () => {
      await broker.publish([out('first'), out('second')]);
      const [d] = await reserveNow([q], 1);
      await broker.reject(d!.tag, { requeue: true });
      const got = await reserveNow();
      expect(ids(got)).toEqual(['first', 'second']);
      expect(got.map((x) => x.redelivered)).toEqual([true, false]);
    });

    it('reject without requeue keeps a dead letter that can be listed and requeued', async () => {
      const q2 = `${q}-other`;
      await broker.publish([out('bad'), { ...out('elsewhere'), queue: q2 }]);
      const [d] = await reserveNow();
      const [e] = await reserveNow([q2]);
      await broker.reject(d!.tag, { requeue: false, reason: 'poison' });
      await broker.reject(e!.tag, { requeue: false });
      expect(await broker.size(q)).toBe(0);

      const letters = await broker.listDeadLetters({ queue: q });
      expect(letters).toHaveLength(1);
      const letter = letters[0]!;
      expect(letter).toMatchObject({ queue: q, reason: 'poison', taskId: 'bad', taskName: 'tests.add' });
      expect(letter.failedAt).toBeInstanceOf(Date);
      expect(letter.raw).toBe(d!.raw);
      const raw = JSON.parse(letter.raw);
      expect(Buffer.from(raw.body, 'base64')).toEqual(message('bad').body);
      expect(raw.headers.id).toBe('bad');
      expect((await broker.listDeadLetters()).length).toBeGreaterThanOrEqual(2);
      expect(await broker.listDeadLetters({ limit: 1 })).toHaveLength(1);

      expect(await broker.requeueDeadLetters([letter.id, 'no-such-id'])).toBe(1);
      expect(await broker.listDeadLetters({ queue: q })).toEqual([]);
      const [back] = await reserveNow();
      expect(back?.message).toEqual(message('bad'));
      expect(back?.redelivered).toBe(true);
    });

    /** Publishes `names` to `queue` and rejects them without requeue one after the other, in that order. */
    const deadLetter = async (queue: string, ...names: string[]) => {
      await broker.publish(names.map((id) => ({ ...out(id), queue })));
      for (const d of await broker.reserve([queue], { max: names.length, waitMs: 0 })) {
        await broker.reject(d.tag, { requeue: false, reason: `bad ${d.message?.headers.id}` });
      }
    };

    it('lists dead letters newest first; a limit keeps the newest', async () => {
      await deadLetter(q, 'first', 'second', 'third');
      await deadLetter(`${q}-other`, 'elsewhere');
      expect((await broker.listDeadLetters({ queue: q })).map((l) => l.taskId)).toEqual(['third', 'second', 'first']);
      expect((await broker.listDeadLetters({ queue: q, limit: 2 })).map((l) => l.taskId)).toEqual(['third', 'second']);
      expect((await broker.listDeadLetters({ limit: 2 })).map((l) => l.taskId)).toEqual(['elsewhere', 'third']);
      expect(await broker.listDeadLetters({ queue: q, limit: 0 })).toEqual([]);
    });

    it('deletes dead letters by id: exactly those named, each counted once', async () => {
      await deadLetter(q, 'a', 'b', 'c');
      const [c, b, a] = await broker.listDeadLetters({ queue: q });
      expect(await broker.deleteDeadLetters([a!.id, a!.id, c!.id, 'no-such-id'])).toBe(2);
      expect(await broker.listDeadLetters({ queue: q })).toEqual([b]);
      expect(await broker.deleteDeadLetters([a!.id])).toBe(0);
      expect(await broker.deleteDeadLetters([])).toBe(0);
      // Deleted, not requeued.
      expect(await broker.size(q)).toBe(0);
    });

    it('purges the dead letters of one queue, or all of them', async () => {
      const q2 = `${q}-other`;
      await deadLetter(q, 'a', 'b');
      await deadLetter(q2, 'c');
      expect(await broker.purgeDeadLetters({ queue: q })).toBe(2);
      expect(await broker.listDeadLetters({ queue: q })).toEqual([]);
      expect((await broker.listDeadLetters({ queue: q2 })).map((l) => l.taskId)).toEqual(['c']);
      expect(await broker.purgeDeadLetters({ queue: q })).toBe(0);
      expect(await broker.purgeDeadLetters()).toBe(1);
      expect(await broker.listDeadLetters()).toEqual([]);
      expect(await broker.size(q)).toBe(0);
    });

    it('extend keeps a message invisible past its original deadline', async () => {
      await broker.publish([out('long')]);
      const [d] = await reserveNow();
      await pass(VISIBILITY_MS * 0.7);
      await broker.extend([d!.tag]);
      await pass(VISIBILITY_MS * 0.7);
      expect(await reserveNow()).toEqual([]);
      await broker.ack([d!.tag]);
      await pass(VISIBILITY_MS * 0.5);
      expect(await reserveNow()).toEqual([]);
    });

    it('size counts ready and delayed messages, not reserved ones; purge removes the waiting ones', async () => {
      await broker.publish([out('a'), out('b'), out('c', { notBefore: Date.now() + 60_000 })]);
      const delayed = h.countsDelayed === false ? 0 : 1;
      expect(await broker.size(q)).toBe(2 + delayed);
      const [d] = await reserveNow([q], 1);
      expect(await broker.size(q)).toBe(1 + delayed);
      expect(await broker.purge(q)).toBe(1 + delayed);
      expect(await broker.size(q)).toBe(0);
      expect(await broker.purge(q)).toBe(0);
      await broker.ack([d!.tag]);
      expect(await broker.size(`${q}-never-used`)).toBe(0);
    });

    it('a blocking reserve wakes on a publish without waiting out its timeout', async () => {
      const start = Date.now();
      const pending = broker.reserve([q], { max: 10, waitMs: 10_000 });
      await sleep(30);
      await broker.publish([out('wake')]);
      expect(ids(await pending)).toEqual(['wake']);
      expect(Date.now() - start).toBeLessThan(1000);
    });

    it('a blocking reserve on an empty queue resolves with nothing after waitMs', async () => {
      const start = Date.now();
      expect(await broker.reserve([q], { max: 1, waitMs: 150 })).toEqual([]);
      expect(Date.now() - start).toBeGreaterThanOrEqual(140);
    });

    it('an aborted signal rejects a pending reserve and leaves messages alone', async () => {
      const ac = new AbortController();
      const pending = broker.reserve([q], { max: 1, waitMs: 10_000, signal: ac.signal });
      await sleep(20);
      ac.abort();
      await expect(pending).rejects.toThrow();
      await expect(broker.reserve([q], { max: 1, waitMs: 0, signal: ac.signal })).rejects.toThrow();
      await broker.publish([out('kept')]);
      expect(ids(await reserveNow())).toEqual(['kept']);
    });

    it('clamps priorities to 0..9', async () => {
      await broker.publish([out('neg', { priority: -5 }), out('big', { priority: 42 })]);
      expect((await reserveNow()).map((d) => [d.message?.headers.id, d.priority])).toEqual([
        ['big', 9],
        ['neg', 0],
      ]);
    });

    it('close releases a pending reserve', async () => {
      const pending = broker.reserve([q], { max: 1, waitMs: 10_000 });
      await sleep(20);
      await broker.close();
      expect(await pending).toEqual([]);
    });
  });
}
