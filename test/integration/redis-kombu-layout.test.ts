/**
 * The Redis broker against real kombu 5 (test/fixtures/kombu/kombu_tool.py, run with /usr/bin/python3): the two
 * share queues, priority lists, bindings and the unacked registry, and each restores what the other left.
 */
import { execFile, spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { RedisBroker } from '../../src/broker/redis/index.js';
import type { PriorityOrder } from '../../src/broker/redis/index.js';
import { SEP } from '../../src/broker/redis/keys.js';
import { redisOptionsFromUrl } from '../../src/redis/url.js';
import { message } from '../conformance/broker-suite.js';
import { requireService } from '../services.js';

const PY = '/usr/bin/python3';
const TOOL = fileURLToPath(new URL('../fixtures/kombu/kombu_tool.py', import.meta.url));
const URL_BASE = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379/0';
const run = promisify(execFile);

const service = await requireService('Redis with Python kombu', async () => {
  const probe = spawnSync(PY, ['-c', 'import kombu, celery, redis; assert kombu.VERSION[:1] >= (5,)'], {
    encoding: 'utf8',
  });
  if (probe.status !== 0) throw new Error(`${PY} cannot import kombu 5, celery and redis: ${probe.stderr.trim()}`);
  const broker = new RedisBroker({ url: URL_BASE, visibilityTimeout: 1 });
  await broker.connect();
  await broker.close();
});

async function kombu(command: string, prefix: string, ...args: string[]): Promise<string[]> {
  const { stdout } = await run(PY, [TOOL, command, URL_BASE, prefix, ...args], { timeout: 20_000 });
  return stdout.split('\n').filter(Boolean);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe.skipIf(!service.ok)(`Redis broker and kombu share one layout${service.ok ? '' : ` (${service.reason})`}`, () => {
  let prefix: string;
  let redis: Redis;
  const brokers: RedisBroker[] = [];
  const open = async (order: PriorityOrder = 'lowest-first') => {
    const b = new RedisBroker({ url: URL_BASE, visibilityTimeout: 1, globalKeyprefix: prefix, priorityOrder: order });
    brokers.push(b);
    await b.connect();
    return b;
  };

  afterEach(async () => {
    for (const b of brokers.splice(0)) await b.close();
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
      if (keys.length) await redis.del(...keys);
      cursor = next;
    } while (cursor !== '0');
    redis.disconnect();
  });

  const setup = () => {
    prefix = `celerity-kombu-${randomUUID()}:`;
    redis = new Redis(redisOptionsFromUrl(URL_BASE));
  };

  it("reserves what Celery published in kombu's priority order, and reversed on request", async () => {
    setup();
    const spec = [['p0a', 0], ['p9', 9], ['p5', 5], ['p3', 3], ['p0b', null], ['p7', 7], ['p42', 42]];
    await kombu('publish', prefix, 'py', JSON.stringify(spec));
    await kombu('publish', prefix, 'py-rev', JSON.stringify(spec));
    const broker = await open();
    const got = await broker.reserve(['py'], { max: 10, waitMs: 0 });
    expect(got.map((d) => d.message?.headers.id)).toEqual(['p0a', 'p0b', 'p5', 'p3', 'p7', 'p9', 'p42']);
    expect(got.map((d) => d.priority)).toEqual([0, 0, 5, 3, 7, 9, 9]);
    expect(got[0]!.message?.headers).toMatchObject({ task: 'tests.add', lang: 'py' });
    expect(JSON.parse(got[0]!.message!.body.toString())[0]).toEqual([1, 2]);
    await broker.ack(got.map((d) => d.tag));

    const reversed = await (await open('highest-first')).reserve(['py-rev'], { max: 10, waitMs: 0 });
    expect(reversed.map((d) => d.message?.headers.id)).toEqual(['p9', 'p42', 'p7', 'p5', 'p3', 'p0a', 'p0b']);
  });

  it('writes the same priority lists and bindings as kombu for the same priorities', async () => {
    setup();
    await kombu('publish', prefix, 'from-py', JSON.stringify([['a', 0], ['b', 4], ['c', 7], ['d', 9]]));
    const broker = await open();
    await broker.publish(
      [0, 4, 7, 9].map((priority, i) => ({ queue: 'from-ts', priority, message: message(`t${i}`) })),
    );
    const keys = await redis.keys(`${prefix}*`);
    const layout = (queue: string) =>
      keys
        .filter((k) => k.startsWith(`${prefix}${queue}`) || k.endsWith(`.binding.${queue}`))
        .map((k) => k.replace(queue, 'Q'))
        .sort();
    expect(layout('from-ts')).toEqual(layout('from-py'));
    expect(layout('from-py')).toEqual(
      [`${prefix}Q`, `${prefix}Q${SEP}3`, `${prefix}Q${SEP}6`, `${prefix}Q${SEP}9`, `${prefix}_kombu.binding.Q`].sort(),
    );
    expect(await redis.smembers(`${prefix}_kombu.binding.from-ts`)).toEqual([`from-ts${SEP}${SEP}from-ts`]);
    expect(await redis.smembers(`${prefix}_kombu.binding.from-py`)).toEqual([`from-py${SEP}${SEP}from-py`]);
  });

  it('publishes envelopes a kombu consumer reads byte for byte', async () => {
    setup();
    const broker = await open();
    await broker.publish([
      { queue: 'to-py', priority: 6, message: message('high') },
      { queue: 'to-py', priority: 0, message: message('low') },
    ]);
    const pushed = [
      ...(await redis.lrange(`${prefix}to-py`, 0, -1)),
      ...(await redis.lrange(`${prefix}to-py${SEP}6`, 0, -1)),
    ];
    const read = (await kombu('consume', prefix, 'to-py', '2')).map((line) => JSON.parse(line));
    expect(read.map((m) => m.id)).toEqual(['low', 'high']);
    expect(read.map((m) => m.raw)).toEqual(pushed);
    expect(read.map((m) => m.tag)).toEqual(pushed.map((p) => JSON.parse(p).properties.delivery_tag));
    expect(read[1]).toMatchObject({ priority: 6, delivery_info: { exchange: '', routing_key: 'to-py' } });
    expect(read[1].body).toBe(message('high').body.toString());
    expect(await redis.exists(`${prefix}unacked_index`)).toBe(0);
  });

  it('hands a delayed message to a queue only Python consumes at once, for the Python worker to hold', async () => {
    setup();
    const broker = await open();
    await broker.publish([{ queue: 'py-eta', priority: 0, message: message('countdown'), notBefore: Date.now() + 60_000 }]);
    const [read] = (await kombu('consume', prefix, 'py-eta', '1')).map((line) => JSON.parse(line));
    expect(read.id).toBe('countdown');
  });

  it("kombu's restore returns a message we reserved and never acked", async () => {
    setup();
    const broker = await open();
    await broker.publish([{ queue: 'jobs', priority: 6, message: message('lost-worker') }]);
    const [d] = await broker.reserve(['jobs'], { max: 1, waitMs: 0 });
    expect(await redis.hget(`${prefix}unacked`, d!.tag)).toBe(`[${d!.raw}, "", "jobs"]`);
    await sleep(1100);
    await kombu('restore', prefix, '1');
    expect(await redis.hlen(`${prefix}unacked`)).toBe(0);
    // kombu 5.2 restores to the bare list whatever the priority (the envelope keeps it).
    expect(await redis.llen(`${prefix}jobs`)).toBe(1);
    const [again] = await broker.reserve(['jobs'], { max: 1, waitMs: 0 });
    expect(again?.message?.headers.id).toBe('lost-worker');
    expect(again?.redelivered).toBe(true);
    expect(again?.priority).toBe(6);
    // kombu keeps the delivery tag when it restores (ours issues a fresh one).
    expect(again?.tag).toBe(d!.tag);
  });

  it('our restore returns a message a kombu consumer took and never acked', async () => {
    setup();
    await kombu('publish', prefix, 'jobs', JSON.stringify([['py-lost', 3]]));
    const [taken] = (await kombu('take', prefix, 'jobs')).map((line) => JSON.parse(line));
    expect(await redis.zscore(`${prefix}unacked_index`, taken.tag)).not.toBeNull();
    const broker = await open();
    expect(await broker.reserve(['jobs'], { max: 1, waitMs: 0 })).toEqual([]);
    await sleep(1100);
    expect(await broker.restore()).toBe(1);
    const [back] = await broker.reserve(['jobs'], { max: 1, waitMs: 0 });
    expect(back?.message?.headers.id).toBe('py-lost');
    expect(back?.redelivered).toBe(true);
    expect(back?.priority).toBe(3);
    expect(back?.tag).not.toBe(taken.tag);
    const envelope = JSON.parse(back!.raw);
    expect(envelope.headers.redelivered).toBe(true);
    expect(envelope.properties.delivery_info).toEqual({ exchange: '', routing_key: 'jobs', redelivered: true });
    await broker.ack([back!.tag]);
    expect(await redis.hlen(`${prefix}unacked`)).toBe(0);
  });
});
