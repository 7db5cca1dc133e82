import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterEach, beforeAll, afterAll, describe, expect, it } from 'vitest';
import { RedisBackend } from '../../src/backend/redis/index.js';
import { createBackend } from '../../src/transports/index.js';
import { backendUrlOptions, redisOptionsFromUrl } from '../../src/backend/redis/url.js';
import { keyNames } from '../../src/backend/redis/keys.js';
import { encodeResultMeta } from '../../src/protocol/result-meta.js';
import { ConfigurationError, ConnectionError } from '../../src/errors/index.js';
import { requireService } from '../services.js';
import { freePort, until } from '../helpers.js';
import { backendConformance, meta } from './backend-suite.js';

const URL_BASE = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379/0';

const redis = await requireService('Redis', async () => {
  const probe = new RedisBackend({ url: URL_BASE, resultExpires: 60, connectTimeoutMs: 2000 });
  try {
    await probe.connect();
  } finally {
    await probe.close();
  }
});
const skipped = redis.ok ? '' : ` (skipped: ${redis.reason})`;

/** Every test writes under its own prefix and deletes exactly those keys afterwards; shared data is never touched. */
function scope() {
  const prefix = `celerity-test-${randomUUID()}:`;
  const name = `celerity-test-${randomUUID()}`;
  const url = `${URL_BASE}?global_keyprefix=${encodeURIComponent(prefix)}`;
  return { prefix, name, url, key: (id: string) => `${prefix}celery-task-meta-${id}` };
}

async function deleteKeys(raw: Redis, prefix: string): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await raw.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
    if (keys.length) await raw.del(...keys);
    cursor = next;
  } while (cursor !== '0');
}

function rawClient(): Redis {
  const r = new Redis(URL_BASE);
  r.on('error', () => undefined);
  return r;
}

/** CLIENT LIST entries whose name is exactly `name`, as field maps. */
async function clients(raw: Redis, name: string): Promise<Record<string, string>[]> {
  const list = (await raw.client('LIST')) as string;
  return list
    .split('\n')
    .filter(Boolean)
    .map((line) => Object.fromEntries(line.split(' ').map((f) => f.split('=', 2) as [string, string])))
    .filter((c) => c.name === name);
}

describe.skipIf(!redis.ok)(`redis result backend${skipped}`, () => {
  let raw: Redis;
  beforeAll(() => {
    raw = rawClient();
  });
  afterAll(async () => {
    await raw.quit();
  });

  backendConformance('redis', async () => {
    const s = scope();
    const backend = new RedisBackend({ url: s.url, resultExpires: 86_400, connectionName: s.name });
    await backend.connect();
    return {
      backend,
      expiresItself: true,
      cleanup: async () => {
        await backend.close();
        await deleteKeys(raw, s.prefix);
      },
    };
  });

  describe('redis specifics', () => {
    const cleanups: (() => Promise<unknown>)[] = [];
    afterEach(async () => {
      for (const c of cleanups.splice(0).reverse()) await c();
    });
    async function open(resultExpires = 86_400) {
      const s = scope();
      const backend = new RedisBackend({ url: s.url, resultExpires, connectionName: s.name });
      await backend.connect();
      cleanups.push(() => deleteKeys(raw, s.prefix), () => backend.close());
      return { ...s, backend };
    }

    it("writes Celery's layout: SETEX on celery-task-meta-<id> (under the prefix), PUBLISH of the same bytes on the key", async () => {
      const { backend, key } = await open();
      const t = randomUUID();
      const sub = rawClient();
      cleanups.push(() => sub.quit());
      const published = new Promise<Buffer>((resolve) => sub.on('messageBuffer', (_ch: Buffer, msg: Buffer) => resolve(msg)));
      await sub.subscribe(key(t));
      const m = meta(t, 'SUCCESS', { faces: 2, label: 'café' }, { name: 'media.detect', args: [1], kwargs: {}, worker: 'w', retries: 0, queue: 'q' });
      await backend.set(t, m);
      const stored = await raw.getBuffer(key(t));
      expect(stored).not.toBeNull();
      expect((await published).equals(stored!)).toBe(true);
      expect(stored!.toString()).toBe(encodeResultMeta(m));
      expect(await raw.ttl(key(t))).toBeGreaterThan(86_390);
    });

    it('stores again after the server forgot its scripts (SCRIPT FLUSH), and under a non-ASCII task id', async () => {
      const { backend } = await open();
      const [a, b] = [randomUUID(), `caf\u00e9-${randomUUID()}`];
      await backend.set(a, meta(a, 'STARTED'));
      await raw.script('FLUSH');
      await backend.setMany([
        { taskId: a, meta: meta(a, 'SUCCESS', 'ok') },
        { taskId: b, meta: meta(b, 'SUCCESS', '\u00fc') },
      ]);
      expect((await backend.mget([a, b])).map((m) => m?.result)).toEqual(['ok', '\u00fc']);
    });

    it('publishes every state (as Celery does) but keeps a SUCCESS without publishing again', async () => {
      const { backend, key } = await open();
      const t = randomUUID();
      const sub = rawClient();
      cleanups.push(() => sub.quit());
      const seen: string[] = [];
      sub.on('message', (_ch: string, msg: string) => seen.push(JSON.parse(msg).status));
      await sub.subscribe(key(t));
      await backend.set(t, meta(t, 'STARTED'));
      await backend.set(t, meta(t, 'PROGRESS', { current: 1 }));
      await backend.set(t, meta(t, 'SUCCESS', 1));
      await backend.set(t, meta(t, 'FAILURE', { exc_type: 'Late' }));
      await until(async () => seen.length >= 3);
      await new Promise((r) => setTimeout(r, 30));
      expect(seen).toEqual(['STARTED', 'PROGRESS', 'SUCCESS']);
    });

    it('resultExpires 0 stores without expiry; a ttl in ms is kept to the ms; incr sets and clears expiry', async () => {
      const { backend, key, prefix } = await open(0);
      const [a, b] = [randomUUID(), randomUUID()];
      await backend.set(a, meta(a, 'SUCCESS', 1));
      expect(await raw.ttl(key(a))).toBe(-1);
      await backend.set(b, meta(b, 'STARTED'), { ttlMs: 1500 });
      expect(await raw.pttl(key(b))).toBeGreaterThan(1000);
      expect(await raw.pttl(key(b))).toBeLessThanOrEqual(1500);
      const counter = `celery-taskset-meta-${randomUUID()}.t`;
      expect(await backend.incr(counter, 3, { ttlMs: 60_000 })).toBe(3);
      expect(await raw.pttl(`${prefix}${counter}`)).toBeGreaterThan(59_000);
      expect(await backend.incr(counter, -1)).toBe(2);
      expect(await raw.ttl(`${prefix}${counter}`)).toBe(-1);
    });

    it('serves any number of waiters over exactly one subscriber connection, and unsubscribes as they leave', async () => {
      const { backend, name } = await open();
      const ids = Array.from({ length: 40 }, () => randomUUID());
      // Three waiters on each of the first five tasks, one on the others: 35 + 15 = 50 waiters, 40 channels.
      const waits = [...ids, ...ids.slice(0, 5), ...ids.slice(0, 5)].map((t) => backend.waitFor(t, { timeoutMs: 10_000 }));
      const timedOut = backend.waitFor(randomUUID(), { timeoutMs: 300 }).catch((e: unknown) => e);
      await until(async () => (await clients(raw, `${name}:sub`))[0]?.sub === '41');
      expect(await clients(raw, `${name}:sub`)).toHaveLength(1);
      expect(await clients(raw, name)).toHaveLength(1);
      expect((await timedOut) as Error).toHaveProperty('name', 'TimeoutError');
      await until(async () => (await clients(raw, `${name}:sub`))[0]?.sub === '40');
      await backend.setMany(ids.map((t, i) => ({ taskId: t, meta: meta(t, 'SUCCESS', i) })));
      const results = await Promise.all(waits);
      expect(results.map((m) => m.result)).toEqual([...ids.keys(), 0, 1, 2, 3, 4, 0, 1, 2, 3, 4]);
      await until(async () => (await clients(raw, `${name}:sub`))[0]?.sub === '0');
      expect(await clients(raw, `${name}:sub`)).toHaveLength(1);
    });

    it('resolves waiters whose result was written while the subscriber connection was down', async () => {
      const { backend, name, key } = await open();
      const [missed, later] = [randomUUID(), randomUUID()];
      const waits = [backend.waitFor(missed, { timeoutMs: 10_000 }), backend.waitFor(later, { timeoutMs: 10_000 })];
      await until(async () => (await clients(raw, `${name}:sub`))[0]?.sub === '2');
      const [sub] = await clients(raw, `${name}:sub`);
      await raw.client('KILL', 'ID', sub!.id!);
      // Written by another client with nobody subscribed: PUBLISH reports 0 receivers, so only a re-read finds it.
      const json = encodeResultMeta(meta(missed, 'SUCCESS', 'while down'));
      const replies = await raw.multi().set(key(missed), json).publish(key(missed), json).exec();
      expect(replies?.[1]).toEqual([null, 0]);
      expect(await waits[0]).toMatchObject({ status: 'SUCCESS', result: 'while down' });
      // The subscription was restored too: a result published after the reconnect still arrives.
      await until(async () => (await clients(raw, `${name}:sub`))[0]?.sub === '1');
      await backend.set(later, meta(later, 'SUCCESS', 'after'));
      expect(await waits[1]).toMatchObject({ result: 'after' });
      expect(await clients(raw, `${name}:sub`)).toHaveLength(1);
    });

    it('close() rejects pending waiters with ConnectionError and closes both connections', async () => {
      const { backend, name } = await open();
      const pending = backend.waitFor(randomUUID()).catch((e: unknown) => e);
      await until(async () => (await clients(raw, `${name}:sub`)).length === 1);
      await backend.close();
      expect(await pending).toBeInstanceOf(ConnectionError);
      await until(async () => (await clients(raw, name)).length + (await clients(raw, `${name}:sub`)).length === 0);
      await expect(backend.get('x')).rejects.toBeInstanceOf(ConnectionError);
    });

    it('connect() to a port nobody listens on fails fast with a one-line ConnectionError naming host:port', async () => {
      const port = await freePort();
      const backend = new RedisBackend({ url: `redis://127.0.0.1:${port}/0`, resultExpires: 60, connectTimeoutMs: 2000 });
      const start = Date.now();
      const err = await backend.connect().catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ConnectionError);
      expect((err as Error).message).toContain(`127.0.0.1:${port}`);
      expect((err as Error).message).not.toContain('\n');
      expect(Date.now() - start).toBeLessThan(1500);
      await backend.close();
    });

    it('is what createBackend returns for redis://, rediss:// and unix:// URLs', async () => {
      for (const url of ['redis://127.0.0.1:6379/0', 'rediss://h:6380/1?ssl_cert_reqs=CERT_NONE', 'unix:///tmp/redis.sock?db=2']) {
        expect(await createBackend(url, { resultExpires: 60 })).toBeInstanceOf(RedisBackend);
      }
    });
  });
});

describe('redis result backend URLs', () => {
  it('reads host, port, db, credentials, TLS and socket paths', () => {
    expect(redisOptionsFromUrl('redis://u:p%40ss@cache.local:6380/3')).toEqual({
      username: 'u',
      password: 'p@ss',
      host: 'cache.local',
      port: 6380,
      db: 3,
    });
    expect(redisOptionsFromUrl('redis://:secret@localhost')).toMatchObject({ password: 'secret', port: 6379, db: 0 });
    expect(redisOptionsFromUrl('rediss://h/0?ssl_cert_reqs=CERT_NONE').tls).toEqual({ rejectUnauthorized: false });
    expect(redisOptionsFromUrl('rediss://h/0').tls).toEqual({});
    expect(redisOptionsFromUrl('unix:///run/redis.sock?db=4')).toEqual({ path: '/run/redis.sock', db: 4 });
    expect(redisOptionsFromUrl('redis+socket:///run/redis.sock')).toEqual({ path: '/run/redis.sock', db: 0 });
  });

  it('rejects unknown options, TLS options on redis:// and bad database numbers, without showing the password', () => {
    expect(() => redisOptionsFromUrl('redis://h/0?max_connections=9')).toThrow(ConfigurationError);
    expect(() => redisOptionsFromUrl('redis://h/0?max_connections=9')).toThrow(/max_connections/);
    expect(() => redisOptionsFromUrl('redis://:hunter2@h/0?ssl_cert_reqs=none')).toThrow(/rediss:\/\//);
    expect(() => redisOptionsFromUrl('redis://:hunter2@h/0?ssl_cert_reqs=none')).not.toThrow(/hunter2/);
    expect(() => redisOptionsFromUrl('redis://h/zero')).toThrow(/database number/);
  });
});

describe('redis result keys', () => {
  it("puts the global prefix before Celery's key, adding '_' unless it ends in one of :_-. (Celery 5.3+)", () => {
    expect(keyNames('').task('t1')).toBe('celery-task-meta-t1');
    expect(keyNames('app').task('t1')).toBe('app_celery-task-meta-t1');
    expect(keyNames('app:').task('t1')).toBe('app:celery-task-meta-t1');
    expect(keyNames('app').other('celery-taskset-meta-g.t')).toBe('app_celery-taskset-meta-g.t');
    expect(backendUrlOptions('redis://h/0?global_keyprefix=tenant%3A1%3A').globalKeyprefix).toBe('tenant:1:');
  });
});
