/**
 * Runs the schedule-store conformance suite on the server stores: Redis (every test under a key prefix of its own
 * in database 0, whose keys alone are deleted afterwards; no other test flushes that database) and PostgreSQL (a
 * schema of its own per test, dropped afterwards). The second store of each is another backend object on the same
 * server, as another beat process would open it.
 */
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PostgresBackend } from '../../src/backend/postgres/index.js';
import { RedisBackend } from '../../src/backend/redis/index.js';
import type { ScheduleStore } from '../../src/backend/schedules.js';
import { ConnectionError } from '../../src/errors/index.js';
import { pingPostgres, pingRedis, requireService } from '../services.js';
import { NOW, TTL, definition, scheduleStoreConformance } from './schedule-store-suite.js';

const REDIS_BASE = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379/0';
const POSTGRES_BASE = process.env.TEST_POSTGRES_URL ?? 'postgresql://postgres@127.0.0.1:5432/test';

const redis = await requireService('Redis', () => pingRedis(REDIS_BASE));
const postgres = await requireService('PostgreSQL', () => pingPostgres(POSTGRES_BASE));

const withParam = (base: string, param: string) => `${base}${base.includes('?') ? '&' : '?'}${param}`;

/** A key prefix of its own, and a way to delete exactly the keys under it. */
function redisScope() {
  const prefix = `celerity-test-${randomUUID()}:`;
  return { prefix, url: withParam(REDIS_BASE, `global_keyprefix=${encodeURIComponent(prefix)}`) };
}

async function redisKeys(prefix: string): Promise<string[]> {
  const raw = new Redis(REDIS_BASE, { lazyConnect: true });
  raw.on('error', () => undefined);
  try {
    await raw.connect();
    const found: string[] = [];
    let cursor = '0';
    do {
      const [next, keys] = await raw.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
      found.push(...keys);
      cursor = next;
    } while (cursor !== '0');
    return found.sort();
  } finally {
    raw.disconnect();
  }
}

async function deleteRedisKeys(prefix: string): Promise<void> {
  const keys = await redisKeys(prefix);
  if (keys.length === 0) return;
  const raw = new Redis(REDIS_BASE);
  raw.on('error', () => undefined);
  try {
    await raw.del(...keys);
  } finally {
    raw.disconnect();
  }
}

/** A schema of its own (created by the backend's migrations) and a way to drop it. */
function postgresScope() {
  const schema = `celerity_test_${randomUUID().replace(/-/g, '').slice(0, 16)}`;
  return { schema, url: withParam(POSTGRES_BASE, `schema=${schema}`) };
}

async function dropSchema(schema: string): Promise<void> {
  const raw = new pg.Client({ connectionString: POSTGRES_BASE });
  await raw.connect();
  try {
    await raw.query(`DROP SCHEMA IF EXISTS ${pg.escapeIdentifier(schema)} CASCADE`);
  } finally {
    await raw.end();
  }
}

/** A server backend with its schedule store. */
interface ServerBackend {
  connect(): Promise<void>;
  close(): Promise<void>;
  schedules(): ScheduleStore;
}

/** The suite's storage for one test: every backend made by `make` shares it; `cleanup` removes it after the last closes. */
async function serverStorage(make: () => ServerBackend, cleanup: () => Promise<void>) {
  const backends: ServerBackend[] = [];
  const connect = async () => {
    const backend = make();
    backends.push(backend);
    await backend.connect();
    return backend.schedules();
  };
  return {
    store: await connect(),
    second: connect,
    close: async () => {
      for (const b of backends) await b.close();
      await cleanup();
    },
  };
}

/** One store per backend, usable after connect and across a reconnect, failing with ConnectionError while closed. */
async function checkStoreFollowsBackend(backend: ServerBackend, cleanup: () => Promise<void>): Promise<void> {
  try {
    const store = backend.schedules();
    await expect(store.list()).rejects.toBeInstanceOf(ConnectionError);
    await backend.connect();
    expect(backend.schedules()).toBe(store);
    await store.put({ name: 'a', definition: definition('t.a'), source: 'runtime', now: NOW });
    await backend.close();
    await expect(store.get('a')).rejects.toBeInstanceOf(ConnectionError);
    await backend.connect();
    expect((await store.get('a'))?.definition).toEqual(definition('t.a'));
  } finally {
    await backend.close();
    await cleanup();
  }
}

describe.skipIf(!redis.ok)(`redis schedule store${redis.ok ? '' : ` (skipped: ${redis.reason})`}`, () => {
  scheduleStoreConformance('redis', async () => {
    const s = redisScope();
    return serverStorage(() => new RedisBackend({ url: s.url, resultExpires: 0 }), () => deleteRedisKeys(s.prefix));
  });

  describe('redis specifics', () => {
    it('one store per backend, usable after connect and across a reconnect, failing while closed', async () => {
      const s = redisScope();
      await checkStoreFollowsBackend(new RedisBackend({ url: s.url, resultExpires: 0 }), () => deleteRedisKeys(s.prefix));
    });

    it('keeps every key under celerity:beat: after the global key prefix, and delete leaves none of a schedule', async () => {
      const s = redisScope();
      const backend = new RedisBackend({ url: s.url, resultExpires: 0 });
      try {
        await backend.connect();
        const store = backend.schedules();
        await store.put({ name: 'a b', definition: definition('t.a'), source: 'runtime', now: NOW });
        const lease = (await store.acquireLease('A', NOW, TTL))!;
        expect(await store.claimFire({ name: 'a b', slot: 1_000, taskId: 'x', token: lease.token, now: NOW, nextDueAt: 2_000 })).toBe('claimed');
        expect(await store.claimFire({ name: 'a b', slot: 2_000, taskId: 'y', token: lease.token, now: NOW, nextDueAt: 3_000 })).toBe('claimed');
        await store.markSent('a b', 1_000);
        const beat = (k: string) => `${s.prefix}celerity:beat:${k}`;
        expect(await redisKeys(s.prefix)).toEqual(
          ['fires:a b', 'lease', 'lease-token', 'names', 'schedule:a b', 'sent', 'unsent', 'version'].map(beat).sort(),
        );
        expect(await store.delete('a b')).toBe(true);
        expect(await redisKeys(s.prefix)).toEqual(['lease', 'lease-token', 'version'].map(beat).sort());
      } finally {
        await backend.close();
        await deleteRedisKeys(s.prefix);
      }
    });
  });
});

describe.skipIf(!postgres.ok)(`postgres schedule store${postgres.ok ? '' : ` (skipped: ${postgres.reason})`}`, () => {
  scheduleStoreConformance('postgres', async () => {
    const s = postgresScope();
    return serverStorage(() => new PostgresBackend({ url: s.url, resultExpires: 0 }), () => dropSchema(s.schema));
  });

  describe('postgres specifics', () => {
    let raw: pg.Client;
    beforeAll(async () => {
      raw = new pg.Client({ connectionString: POSTGRES_BASE });
      await raw.connect();
    });
    afterAll(async () => {
      await raw.end();
    });

    it('one store per backend, usable after connect and across a reconnect, failing while closed', async () => {
      const s = postgresScope();
      await checkStoreFollowsBackend(new PostgresBackend({ url: s.url, resultExpires: 0 }), () => dropSchema(s.schema));
    });

    it('keeps its tables in the URL\'s schema, readable with psql', async () => {
      const s = postgresScope();
      const backend = new PostgresBackend({ url: s.url, resultExpires: 0 });
      try {
        await backend.connect();
        const store = backend.schedules();
        await store.put({ name: 'a', definition: definition('t.a'), source: 'config', now: NOW });
        const lease = (await store.acquireLease('A', NOW, TTL))!;
        await store.claimFire({ name: 'a', slot: 1_000, taskId: 'x', token: lease.token, now: NOW, nextDueAt: 2_000 });
        const q = (table: string) => `${pg.escapeIdentifier(s.schema)}.${table}`;
        const schedules = await raw.query(`SELECT name, definition->>'task' AS task, total_runs, last_task_id FROM ${q('celerity_schedules')}`);
        expect(schedules.rows).toEqual([{ name: 'a', task: 't.a', total_runs: '1', last_task_id: 'x' }]);
        const fires = await raw.query(`SELECT name, slot, task_id, sent FROM ${q('celerity_schedule_fires')}`);
        expect(fires.rows).toEqual([{ name: 'a', slot: '1000', task_id: 'x', sent: false }]);
        const leaseRows = await raw.query(`SELECT holder, token FROM ${q('celerity_beat_lease')}`);
        expect(leaseRows.rows).toEqual([{ holder: 'A', token: String(lease.token) }]);
      } finally {
        await backend.close();
        await dropSchema(s.schema);
      }
    });
  });
});
