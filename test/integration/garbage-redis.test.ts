/**
 * The garbage suite on Redis: items LPUSHed as raw bytes into kombu's queue list, as any client could; plus
 * kombu's own restore (a Python worker's) reading the unacked entries this broker wrote for them.
 */
import { isUtf8 } from 'node:buffer';
import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { RedisBroker } from '../../src/broker/redis/index.js';
import { bytesOfText } from '../../src/broker/raw.js';
import { Celerity } from '../../src/index.js';
import { decodeEnvelope, encodeEnvelope } from '../../src/protocol/envelope.js';
import { PYTHON, pingRedis, pythonCeleryOnRedis, requireService } from '../services.js';
import { garbageSuite, prng, randomBytes, sha, taskMessage } from './garbage-suite.js';
import type { FailureCase, GarbageStore } from './garbage-suite.js';

const URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379/0';
const service = await requireService('Redis at 127.0.0.1:6379', () => pingRedis(URL));

/** The prefix of the app opened last (one test at a time in this file). */
let prefix = '';

function admin(): Redis {
  const r = new Redis(URL);
  r.on('error', () => undefined);
  return r;
}

async function withAdmin<T>(use: (r: Redis) => Promise<T>): Promise<T> {
  const r = admin();
  try {
    return await use(r);
  } finally {
    r.disconnect();
  }
}

function broker(visibilityTimeout: number): RedisBroker {
  return new RedisBroker({ url: URL, visibilityTimeout, globalKeyprefix: prefix });
}

/** A kombu envelope of `task(id)`, exactly as this library (and Celery) publishes it. */
function taskEnvelope(id: string, queue: string, task = 'garbage.count', deliveryTag: string = randomUUID()): string {
  return encodeEnvelope(taskMessage(id, task), { exchange: '', routingKey: queue, priority: 0, deliveryTag });
}

/** `text` with `bytes` put in place of its first `marker`. */
function splice(text: string, marker: string, bytes: number[]): Buffer {
  const at = text.indexOf(marker);
  if (at < 0) throw new Error(`no ${marker} in ${text}`);
  return Buffer.concat([Buffer.from(text.slice(0, at)), Buffer.from(bytes), Buffer.from(text.slice(at + marker.length))]);
}

/** An envelope of arbitrary parts (JSON, Python's separators), for the shapes no real producer writes. */
function envelopeOf(parts: Record<string, unknown>): Buffer {
  return Buffer.from(JSON.stringify(parts).replaceAll('","', '", "'));
}

function parts(queue: string, over: Record<string, unknown> = {}, props: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    body: Buffer.from('[[], {}, {}]').toString('base64'),
    'content-encoding': 'utf-8',
    'content-type': 'application/json',
    headers: { lang: 'py', task: 'garbage.count', id: randomUUID() },
    properties: {
      delivery_info: { exchange: '', routing_key: queue },
      priority: 0,
      body_encoding: 'base64',
      delivery_tag: randomUUID(),
      ...props,
    },
    ...over,
  };
}

function corpus(queue: string): Buffer[] {
  const rand = prng(42);
  const out: Buffer[] = [];
  const times = (n: number, make: (i: number) => Buffer) => {
    for (let i = 0; i < n; i++) out.push(make(i));
  };
  // Identical items: each reservation needs a tag of its own or all but one are lost.
  times(1000, () => Buffer.from('null'));
  times(100, () => Buffer.from('{not json'));
  const fixedTag = randomUUID();
  times(100, () => Buffer.from(taskEnvelope('dup-unknown', queue, 'garbage.unknown', fixedTag)));
  // kombu's tail intact but the front broken (what the reserve script reads without parsing), same tag each time.
  const broken = taskEnvelope('broken-front', queue, 'garbage.count', randomUUID()).replace('{"body": "', '{"body": ');
  times(20, () => Buffer.from(broken));
  // Random bytes, mostly not UTF-8; truncated envelopes; invalid UTF-8 in a task name and in JSON text.
  times(400, () => randomBytes(rand, 1 + Math.floor(rand() * 300)));
  times(300, (i) => {
    const whole = taskEnvelope(`truncated-${i}`, queue);
    return Buffer.from(whole.slice(0, Math.floor(rand() * (whole.length - 1))));
  });
  times(200, (i) => splice(taskEnvelope(`bad-name-${i}`, queue), '"task": "garbage.count"', [...Buffer.from('"task": "garbage.'), 0xff, 0xfe, 0xc3, 0x22]));
  times(100, () => Buffer.from([0x7b, 0x22, 0xc0, 0xaf, 0xed, 0xa0, 0x80, 0xf4, 0x90, 0x80, 0x80, 0x22, 0x3a, 0x31, 0x7d]));
  // Bodies that are not base64; content types nobody accepts; envelopes that are not objects.
  times(100, () => envelopeOf(parts(queue, { body: '%%% not base64 %%%' })));
  times(50, () => envelopeOf(parts(queue, { 'content-type': 'application/x-python-serialize' })));
  times(50, () => envelopeOf(parts(queue, { 'content-type': 'text/plain' })));
  times(50, () => envelopeOf(parts(queue, { 'content-type': undefined })));
  for (const text of ['[]', '[1, 2, 3]', '"a string"', '42', '-1.5e300', 'true', '{}', '  {"body": 1}', '[{"headers": {}}]']) {
    times(30, () => Buffer.from(text));
  }
  // Odd property types.
  times(30, () => envelopeOf(parts(queue, {}, { delivery_info: 'jobs' })));
  times(30, () => envelopeOf(parts(queue, {}, { delivery_tag: { a: 1 } })));
  times(30, () => envelopeOf(parts(queue, { properties: [1, 2] })));
  times(30, () => envelopeOf(parts(queue, { headers: ['id'] })));
  // A few MB each.
  out.push(randomBytes(rand, 3 * 1024 * 1024));
  out.push(Buffer.from(JSON.stringify({ body: 'A'.repeat(3 * 1024 * 1024), 'content-type': 'application/json' })));
  return out;
}

function failures(queue: string): FailureCase<Buffer>[] {
  const id = (what: string) => `${what}-${randomUUID()}`;
  const cases: FailureCase<Buffer>[] = [];
  const add = (what: string, reason: RegExp, make: (id: string) => Buffer) => {
    const taskId = id(what);
    cases.push({ what, id: taskId, reason, item: make(taskId) });
  };
  const headers = (taskId: string) => ({ lang: 'py', task: 'garbage.count', id: taskId });
  add('bad base64', /not valid base64/, (t) => envelopeOf(parts(queue, { headers: headers(t), body: '!!not-base64' })));
  add('unknown body encoding', /body_encoding "rot13"/, (t) => envelopeOf(parts(queue, { headers: headers(t) }, { body_encoding: 'rot13' })));
  add('unknown content encoding', /unknown content encoding "ebcdic"/, (t) => envelopeOf(parts(queue, { headers: headers(t), 'content-encoding': 'ebcdic' })));
  add('missing content type', /content-type/, (t) => envelopeOf(parts(queue, { headers: headers(t), 'content-type': undefined })));
  add('delivery_info a string', /delivery_info/, (t) => envelopeOf(parts(queue, { headers: headers(t) }, { delivery_info: 'x' })));
  add('delivery_tag an object', /delivery_tag/, (t) => envelopeOf(parts(queue, { headers: headers(t) }, { delivery_tag: { a: 1 } })));
  add('disallowed content type', /pickle|x-python-serialize/, (t) => envelopeOf(parts(queue, { headers: headers(t), 'content-type': 'application/x-python-serialize' })));
  add('body not JSON', /invalid JSON body/, (t) => envelopeOf(parts(queue, { headers: headers(t), body: Buffer.from('{nope').toString('base64') })));
  add('headers an array, correlation_id', /headers/, (t) => envelopeOf(parts(queue, { headers: [1] }, { correlation_id: t })));
  add('protocol 1 body, bad args', /args must be a list/, (t) =>
    envelopeOf(parts(queue, { headers: {}, body: Buffer.from(JSON.stringify({ id: t, task: 'garbage.count', args: 'x' })).toString('base64') })),
  );
  add('protocol 1 plain body, no content type', /content-type/, (t) =>
    envelopeOf(parts(queue, { headers: {}, 'content-type': undefined, body: JSON.stringify({ id: t, task: 'garbage.count' }) }, { body_encoding: undefined })),
  );
  return cases;
}

/** An envelope kombu can read stands for its message (restore renews its tag and marks it redelivered). */
function restoreKey(item: Buffer): string {
  if (!isUtf8(item)) return `bytes:${sha(item)}`;
  try {
    const { headers, properties, body, contentType, contentEncoding } = decodeEnvelope(item.toString('utf8'));
    // The transport's own marks: the redelivered header, and the priority property it writes (0 when absent).
    const { redelivered: _mark, ...rest } = headers;
    const { priority: _priority, ...props } = properties;
    return `message:${sha(JSON.stringify([sorted(rest), sorted(props), body.toString('base64'), contentType, contentEncoding]))}`;
  } catch {
    return `bytes:${sha(item)}`;
  }
}

function sorted(o: Record<string, unknown>): [string, unknown][] {
  return Object.entries(o).sort(([a], [b]) => (a < b ? -1 : 1));
}

const store: GarbageStore<Buffer> = {
  async open() {
    prefix = `celerity-garbage-${randomUUID()}:`;
    const url = `${URL}?global_keyprefix=${encodeURIComponent(prefix)}`;
    const app = new Celerity('garbage', { broker: url, backend: url, loglevel: 'silent', logFormat: 'json' }, {});
    const cleanup = async () => {
      await app.close();
      await withAdmin(async (r) => {
        const keys = await r.keys(`${prefix}*`);
        if (keys.length) await r.del(...keys);
      });
    };
    return { app, cleanup };
  },
  async push(_app, queue, items) {
    // LPUSH of many at once keeps their order (the first pushed is served first); a few MB per call at most.
    await withAdmin(async (r) => {
      for (let i = 0; i < items.length; i += 500) await r.lpush(`${prefix}${queue}`, ...items.slice(i, i + 500));
    });
  },
  good: (id, queue) => Buffer.from(taskEnvelope(id, queue)),
  corpus,
  oddButGood(queue) {
    // Python's kombu reads these (invalid bytes as U+FFFD) and runs them; so does this broker.
    return Array.from({ length: 50 }, (_, i) => {
      const id = `odd-utf8-${i}-${randomUUID()}`;
      return { id, item: splice(taskEnvelope(id, queue), '"argsrepr": "', [...Buffer.from('"argsrepr": "'), 0xff, 0x80]) };
    });
  },
  failures,
  fingerprint: (item) => sha(item),
  restoreKey,
  letterItem: (letter) => bytesOfText(letter.raw),
  async queued(_app, queue) {
    return withAdmin(async (r) => {
      const all: Buffer[] = [];
      for (const key of broker(3600).keys.queueLists(queue)) all.push(...(await r.lrangeBuffer(key, 0, -1)));
      return all;
    });
  },
  async reserved() {
    return withAdmin(async (r) => {
      const [held, index] = [await r.hlen(`${prefix}unacked`), await r.zcard(`${prefix}unacked_index`)];
      expect(index).toBe(held);
      return held;
    });
  },
  async crash(_app, queue) {
    const b = broker(3600);
    await b.connect();
    let taken = 0;
    for (let got = -1; got !== 0; taken += got) got = (await b.reserve([queue], { max: 1000, waitMs: 0 })).length;
    await b.close();
    return taken;
  },
  async restore() {
    // Every reservation is past a visibility timeout of 0.
    const b = broker(0);
    await b.connect();
    try {
      return await b.restore();
    } finally {
      await b.close();
    }
  },
};

if (!service.ok) {
  describe('garbage in the queue: Redis', () => {
    it.skip(service.reason, () => undefined);
  });
} else {
  garbageSuite('Redis', store);

  const python = await requireService('Python Celery 5 with redis-py', () => pythonCeleryOnRedis(URL));
  describe('garbage in the queue: Redis, restored by kombu', () => {
    it.skipIf(!python.ok)(python.reason || "kombu's restore reads every unacked entry this broker wrote", { timeout: 60_000 }, async () => {
      const { app, cleanup } = await store.open();
      try {
        const queue = `garbage-${randomUUID()}`;
        const good = Array.from({ length: 20 }, (_, i) => store.good(`py-${i}`, queue));
        await store.push(app, queue, [...corpus(queue).filter((_, i) => i % 10 === 0), ...good]);
        const taken = await store.crash(app, queue);
        // kombu's QoS.restore_visible, as a Python worker runs it, with every reservation past its timeout.
        const script = [
          'import sys',
          'from kombu import Connection',
          "c = Connection(sys.argv[1], transport_options={'global_keyprefix': sys.argv[2], 'visibility_timeout': 0})",
          'c.default_channel.qos.restore_visible(num=100000)',
          'c.release()',
        ].join('\n');
        const run = spawnSync(PYTHON, ['-c', script, URL, prefix], { encoding: 'utf8' });
        expect(run.stderr.split('\n').filter((l) => l.startsWith('Traceback'))).toEqual([]);
        expect(run.status).toBe(0);
        expect(await store.reserved(app)).toBe(0);
        // The good messages are back where they were; what kombu cannot restore it logs and drops.
        const back = await store.queued(app, queue);
        expect(back.map(restoreKey)).toEqual(expect.arrayContaining(good.map(restoreKey)));
        expect(back.length).toBeGreaterThanOrEqual(good.length);
        expect(back.length).toBeLessThanOrEqual(taken);
      } finally {
        await cleanup();
      }
    });
  });
}
