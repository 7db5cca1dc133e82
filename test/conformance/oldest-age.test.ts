/**
 * The optional `oldestMessageAge` capability on the brokers that keep enqueue times (memory, SQLite): the age of
 * the oldest message deliverable now, null for an empty queue, not counting messages held until a future ETA or
 * reserved by a consumer; a delayed message counts from its ETA once that has passed. Redis (kombu's lists) and
 * RabbitMQ keep no enqueue time and leave it out.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { MemoryBroker } from '../../src/broker/memory/index.js';
import { SqliteBroker } from '../../src/broker/sqlite/index.js';
import { RedisBroker } from '../../src/broker/redis/index.js';
import { AmqpBroker } from '../../src/broker/amqp/index.js';
import { message } from './broker-suite.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

describe('oldestMessageAge on the memory broker (a clock the test moves)', () => {
  it('ages from publish; ignores future ETAs and reserved messages; counts a passed ETA from the ETA', async () => {
    let now = 1_000_000;
    const broker = new MemoryBroker({ now: () => now });
    await broker.connect();
    cleanups.push(() => broker.close());
    expect(await broker.oldestMessageAge('q')).toBeNull();

    await broker.publish([{ queue: 'q', message: message('later'), priority: 0, notBefore: now + 60_000 }]);
    expect(await broker.oldestMessageAge('q')).toBeNull();

    await broker.publish([{ queue: 'q', message: message('first'), priority: 0 }]);
    now += 5_000;
    await broker.publish([{ queue: 'q', message: message('second'), priority: 9 }]);
    now += 2_000;
    // The oldest by publish time, whatever the priority order of delivery.
    expect(await broker.oldestMessageAge('q')).toBe(7);

    const [first, second] = await broker.reserve(['q'], { max: 2, waitMs: 0 });
    expect(await broker.oldestMessageAge('q')).toBeNull();
    await broker.ack([first!.tag, second!.tag]);

    // The delayed message became deliverable 60 s after it was published, 53 s from here.
    now += 60_000;
    expect(await broker.oldestMessageAge('q')).toBe(7);
    expect(await broker.oldestMessageAge('other')).toBeNull();
  });
});

describe('oldestMessageAge on the SQLite broker', () => {
  it('reads the publish times the store keeps: null when empty, within the time since publish, not for ETAs or reservations', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'celerity-oldest-'));
    const broker = new SqliteBroker({ path: join(dir, 'b.db'), visibilityTimeout: 60 });
    await broker.connect();
    cleanups.push(async () => {
      await broker.close();
      rmSync(dir, { recursive: true, force: true });
    });
    expect(await broker.oldestMessageAge('q')).toBeNull();
    await broker.publish([{ queue: 'q', message: message('later'), priority: 0, notBefore: Date.now() + 3_600_000 }]);
    expect(await broker.oldestMessageAge('q')).toBeNull();

    const before = Date.now();
    await broker.publish([{ queue: 'q', message: message('now'), priority: 0 }]);
    const age = await broker.oldestMessageAge('q');
    expect(age).toBeGreaterThanOrEqual(0);
    expect(age).toBeLessThanOrEqual((Date.now() - before) / 1000);

    await broker.reserve(['q'], { max: 1, waitMs: 0 });
    expect(await broker.oldestMessageAge('q')).toBeNull();
    expect(await broker.size('q')).toBe(1);
  });
});

describe('brokers without enqueue times', () => {
  it('Redis and RabbitMQ leave the capability out, so callers fall back to other sources', () => {
    expect('oldestMessageAge' in RedisBroker.prototype).toBe(false);
    expect('oldestMessageAge' in AmqpBroker.prototype).toBe(false);
  });
});
