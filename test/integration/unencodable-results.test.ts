/**
 * A task whose result (or extended args) no store can hold ends as FAILURE with kombu's EncodeError naming the
 * value's type and path, its message acknowledged and run once, on every pool (async, threads, process) and every
 * result backend (SQLite file, Redis, PostgreSQL), with real workers on the SQLite or Redis broker. Healthy tasks
 * finishing in the same batch are stored as they are; Dates and bigints come back the same from every backend.
 * One worker per pool and backend serves the whole file.
 */
import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { Redis } from 'ioredis';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Celerity, EncodeError, chain, type Worker } from '../../src/index.js';
import { BIG, UNENCODABLE, defineTasks } from '../fixtures/unencodable-app.js';
import { deferred, tempDir } from '../helpers.js';
import { PYTHON, pingPostgres, pingRedis, pythonCeleryOnRedis, requireService } from '../services.js';

const FIXTURE = path.join(fileURLToPath(new URL('../fixtures', import.meta.url)), 'unencodable-app.ts');
const REDIS_BROKER = 'redis://127.0.0.1:6379/13';
const REDIS_BACKEND = 'redis://127.0.0.1:6379/14';
const PG = 'postgresql://postgres@127.0.0.1:5432/test';

const redis = await requireService('Redis', () => pingRedis(REDIS_BROKER));
const postgres = await requireService('PostgreSQL', () => pingPostgres(PG));
const python = redis.ok ? await requireService('Python Celery 5 on Redis', () => pythonCeleryOnRedis(REDIS_BACKEND)) : redis;

type BackendKind = 'sqlite' | 'redis' | 'postgres';
type PoolKind = 'async' | 'threads' | 'process';

const BACKENDS: [BackendKind, { ok: boolean; reason: string }][] = [
  ['sqlite', { ok: true, reason: '' }],
  ['redis', redis],
  ['postgres', redis.ok ? postgres : redis],
];
const POOLS: PoolKind[] = ['async', 'threads', 'process'];

/** A 10,000-deep list as JSON text: our producer cannot encode one (its encoder recurses), a foreign one can. */
const DEEP_TEXT = `${'['.repeat(10_000)}1${']'.repeat(10_000)}`;

interface Setup {
  app: Celerity;
  worker: Worker;
  queue: string;
  /** Task id -> how many times it started. */
  starts: Map<string, number>;
  /** Resolves once the task's outcome is stored and its message acknowledged (the worker's final event). */
  finished(id: string): Promise<void>;
  /** Messages of the queue still in the broker (ready, reserved or unacked) and dead letters of it. */
  leftInBroker(): Promise<{ messages: number; deadLetters: number }>;
  cleanup(): Promise<void>;
}

async function setUp(backend: BackendKind, pool: PoolKind): Promise<Setup> {
  const run = randomUUID().slice(0, 8);
  const queue = `unenc-${pool}-${backend}-${run}`;
  const dir = tempDir();
  const file = path.join(dir.dir, 'celerity.db');
  const schema = `unenc_${run}`;
  const urls = {
    sqlite: { broker: `sqlite://${file}`, backend: `sqlite://${file}` },
    redis: { broker: REDIS_BROKER, backend: REDIS_BACKEND },
    postgres: { broker: REDIS_BROKER, backend: `${PG}?schema=${schema}` },
  }[backend];
  const app = new Celerity(`unenc-${pool}-${backend}`, { ...urls, defaultQueue: queue, loglevel: 'silent', resultExtended: true }, {});
  defineTasks(app);
  const worker = app.worker({ queues: [queue], concurrency: 2, ...(pool === 'async' ? {} : { pool, appModule: FIXTURE }) });

  const starts = new Map<string, number>();
  const waiting = new Map<string, ReturnType<typeof deferred<void>>>();
  const done = (id: string | null) => id && waiting.get(id)?.resolve(undefined);
  worker.on('task-started', (req) => void starts.set(req.id, (starts.get(req.id) ?? 0) + 1));
  worker.on('task-succeeded', ({ id }) => done(id));
  worker.on('task-failed', ({ id }) => done(id));
  await worker.start();

  return {
    app,
    worker,
    queue,
    starts,
    finished(id) {
      const d = waiting.get(id) ?? deferred<void>();
      waiting.set(id, d);
      return d.promise;
    },
    async leftInBroker() {
      const deadLetters = (await (await app.broker()).listDeadLetters({ queue })).length;
      if (backend === 'sqlite') {
        const db = new Database(file, { readonly: true });
        try {
          const { n } = db.prepare('SELECT count(*) AS n FROM messages WHERE queue = ?').get(queue) as { n: number };
          return { messages: n, deadLetters };
        } finally {
          db.close();
        }
      }
      const r = new Redis(REDIS_BROKER);
      try {
        const ready = await r.llen(queue);
        // kombu's unacked hash holds [envelope, exchange, routing key] per reserved message, of every queue.
        const unacked = (await r.hvals('unacked')).filter((v) => v.includes(JSON.stringify(queue))).length;
        return { messages: ready + unacked, deadLetters };
      } finally {
        r.disconnect();
      }
    },
    async cleanup() {
      await worker.stop({ timeout: 0 });
      await app.close();
      dir.cleanup();
      if (backend === 'postgres') {
        const client = new pg.Client({ connectionString: PG });
        await client.connect();
        await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
        await client.end();
      }
      if (backend !== 'sqlite') {
        const r = new Redis(REDIS_BROKER);
        await r.del(queue, `_kombu.binding.${queue}`, `celerity.delayed.${queue}`, `celerity.consumer.${queue}`);
        r.disconnect();
      }
    },
  };
}

/** Sends `name(...args)` with an id known before it is sent, so its final event cannot be missed. */
function send(s: Setup, name: string, args: unknown[] = []) {
  const taskId = randomUUID();
  const finished = s.finished(taskId);
  return { id: taskId, finished, result: s.app.sendTask(name, args, { taskId }) };
}

for (const [backend, service] of BACKENDS) {
  describe.skipIf(!service.ok).each(POOLS)(`%s pool, ${backend} backend${service.ok ? '' : ` (skipped: ${service.reason})`}`, (pool) => {
    let s: Setup;

    beforeAll(async () => {
      s = await setUp(backend, pool);
    }, 60_000);

    afterAll(() => s?.cleanup(), 60_000);

    it('every unencodable result ends FAILURE with EncodeError naming type and path, acked and run once; healthy neighbours succeed', async () => {
      // Sent in one tick, so bad and healthy tasks share reserves and completion batches.
      const sent = Object.keys(UNENCODABLE).flatMap((name, i) => [send(s, name), send(s, 'unenc.double', [i])]);
      await Promise.all(sent.map((t) => t.finished));

      for (const [i, name] of Object.keys(UNENCODABLE).entries()) {
        const bad = await sent[2 * i]!.result;
        const error = await bad.get({ timeout: 10_000 }).then(
          () => undefined,
          (e: unknown) => e,
        );
        expect(error, name).toBeInstanceOf(EncodeError);
        expect((error as Error).message, name).toBe(`cannot encode the result: ${UNENCODABLE[name]![1]}`);
        const meta = await bad.meta();
        expect(meta?.status).toBe('FAILURE');
        expect(meta?.result).toMatchObject({ exc_type: 'EncodeError', exc_module: 'kombu.exceptions' });
        expect(meta?.name).toBe(name);
        expect(await (await sent[2 * i + 1]!.result).get({ timeout: 10_000 })).toBe(2 * i);
      }
      for (const t of sent) expect(s.starts.get(t.id), t.id).toBe(1);
      expect(await s.leftInBroker()).toEqual({ messages: 0, deadLetters: 0 });
    });

    it('in a chain, the step whose result cannot be stored fails, and the steps after it fail with the same error', async () => {
      const first = randomUUID();
      const finished = s.finished(first);
      const last = await chain(s.app.signature('unenc.set').set({ taskId: first, queue: s.queue }), s.app.signature('unenc.double').set({ queue: s.queue })).applyAsync();
      await finished;
      const error = await last.get({ timeout: 10_000 }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(EncodeError);
      expect((error as Error).message).toBe(`cannot encode the result: ${UNENCODABLE['unenc.set']![1]}`);
      expect((await s.app.asyncResult(first).meta())?.status).toBe('FAILURE');
      expect(s.starts.get(last.id)).toBeUndefined();
      expect(await s.leftInBroker()).toEqual({ messages: 0, deadLetters: 0 });
    });

    it('updateState with meta that cannot be stored rejects in the task, which goes on', async () => {
      const t = send(s, 'unenc.progress');
      await t.finished;
      expect(await (await t.result).get({ timeout: 10_000 })).toBe('cannot encode the result: NaN at result.ratio');
    });

    it('a task whose result is ignored is not held to it: it succeeds, acked and run once', async () => {
      const t = send(s, 'unenc.ignored');
      await t.finished;
      expect(await (await t.result).meta()).toBeNull();
      expect(s.starts.get(t.id)).toBe(1);
      expect(await s.leftInBroker()).toEqual({ messages: 0, deadLetters: 0 });
    });

    it('Dates come back as ISO text and bigints as exact integers, the same from every backend', async () => {
      const t = send(s, 'unenc.values');
      await t.finished;
      expect(await (await t.result).get({ timeout: 10_000 })).toEqual({ when: '2024-05-01T12:00:00.123Z', big: BIG, neg: -BIG, small: 7 });
    });

    it('a 10,000-deep argument ends FAILURE with EncodeError, stored without the arguments, acked and run once', async () => {
      // Built with a placeholder and the body's text swapped, as a foreign producer would send it.
      const taskId = randomUUID();
      const finished = s.finished(taskId);
      const built = s.app.buildMessage('unenc.ran', ['PLACEHOLDER'], { taskId, queue: s.queue });
      const body = Buffer.from(built.message.body.toString('utf8').replace('"PLACEHOLDER"', DEEP_TEXT));
      await s.app.publish({ queue: built.queue, message: { ...built.message, body }, priority: built.priority });
      await finished;

      const r = s.app.asyncResult(taskId);
      const error = await r.get({ timeout: 10_000 }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(EncodeError);
      expect((error as Error).message).toBe('cannot encode the arguments: nesting deeper than 1000 levels at args[0][0][0][0][0][0][0]…(1000 levels)');
      const meta = await r.meta();
      expect(meta).toMatchObject({ status: 'FAILURE', name: 'unenc.ran' });
      // Absent from a table row, null in Redis's meta: not stored either way.
      expect(meta?.args ?? null).toBeNull();
      expect(meta?.kwargs ?? null).toBeNull();
      expect(s.starts.get(taskId)).toBe(1);
      expect(await s.leftInBroker()).toEqual({ messages: 0, deadLetters: 0 });
    });

    // Python reads Celery's Redis layout; once is enough, the FAILURE written is the same from every pool.
    if (backend !== 'redis' || pool !== 'async') return;
    it.skipIf(!python.ok)(`Python Celery reads the stored FAILURE as kombu's EncodeError${python.ok ? '' : ` (skipped: ${python.reason})`}`, async () => {
      const t = send(s, 'unenc.map');
      await t.finished;
      const script = [
        'import sys',
        'from celery import Celery',
        'r = Celery(backend=sys.argv[1]).AsyncResult(sys.argv[2])',
        'print(r.state, type(r.result).__module__, type(r.result).__name__, r.result)',
      ].join('\n');
      const out = spawnSync(PYTHON, ['-c', script, REDIS_BACKEND, t.id], { encoding: 'utf8' });
      expect(out.stderr).toBe('');
      expect(out.stdout.trim()).toBe(`FAILURE kombu.exceptions EncodeError cannot encode the result: ${UNENCODABLE['unenc.map']![1]}`);
    });
  });
}
