/**
 * The stores a scenario runs on, each fresh: an SQLite file in a temporary directory (embedded broker and result
 * store), or a redis-server of our own on a free port (broker db 0, results db 1, or results in PostgreSQL). Each
 * gives the worker environment, a producer app, a way to write raw items into the queue, and what is left in it.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import Database from 'better-sqlite3';
import { Redis } from 'ioredis';
import type { DeadLetter } from '../../src/broker/port.js';
import { Celerity } from '../../src/index.js';
import { envelope, goodMessage, redisGarbage, row, sqliteGarbage, type Row } from './garbage.js';
import { LEDGER_URL, type Ledger } from './ledger.js';
import { chaosEnv, freePort, OwnRedis, root } from './procs.js';

export type StoreKind = 'sqlite' | 'redis' | 'redis+postgres';
export const POSTGRES_URL = process.env.CHAOS_POSTGRES_URL ?? 'postgresql://postgres@127.0.0.1:5432/test';
export const APP_MODULE = path.join(root, 'chaos/app.ts');

export interface Store {
  kind: StoreKind;
  queue: string;
  /** The environment of `celerity worker` processes on this store. */
  env: NodeJS.ProcessEnv;
  /** A producer on the same store. */
  app: Celerity;
  /** Our own redis-server, when the broker is Redis: to kill, restart, freeze. */
  redis?: OwnRedis;
  /** Writes good messages (running chaos.record for these ids) and `bad` generated garbage, shuffled together. */
  inject(goodIds: readonly string[], bad: number, seed: number): Promise<void>;
  /** Messages still in the queue or reserved and not acknowledged. */
  stuck(): Promise<number>;
  deadLetters(): Promise<DeadLetter[]>;
  close(): Promise<void>;
}

function shuffle<T>(items: T[], seed: number): T[] {
  let s = seed >>> 0;
  for (let i = items.length - 1; i > 0; i--) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    const j = s % (i + 1);
    [items[i], items[j]] = [items[j]!, items[i]!];
  }
  return items;
}

export async function openStore(kind: StoreKind, ledger: Ledger): Promise<Store> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'celerity-chaos-'));
  const queue = `chaos-${randomUUID().slice(0, 8)}`;
  let broker: string;
  let backend: string;
  let redis: OwnRedis | undefined;
  if (kind === 'sqlite') {
    broker = backend = `sqlite://${path.join(dir, 'celerity.db')}`;
  } else {
    redis = new OwnRedis(await freePort(), dir);
    await redis.start();
    broker = `${redis.url}/0`;
    backend = kind === 'redis' ? `${redis.url}/1` : POSTGRES_URL;
  }
  const env = chaosEnv({ broker, backend, queue, ledgerUrl: LEDGER_URL, ledgerKey: ledger.key });
  const app = new Celerity('chaos-producer', { broker, backend, defaultQueue: queue, loglevel: 'silent', visibilityTimeout: 1 }, {});
  const admin = () => {
    const r = new Redis(broker, { maxRetriesPerRequest: 1 });
    r.on('error', () => undefined);
    return r;
  };
  const withDb = <T>(use: (db: Database.Database) => T): T => {
    const db = new Database(path.join(dir, 'celerity.db'));
    db.pragma('busy_timeout = 5000');
    try {
      return use(db);
    } finally {
      db.close();
    }
  };
  return {
    kind,
    queue,
    env,
    app,
    ...(redis ? { redis } : {}),
    async inject(goodIds, bad, seed) {
      if (kind === 'sqlite') {
        await app.broker(); // creates the schema
        const items: Row[] = shuffle([...goodIds.map((id) => row(goodMessage(app, id))), ...sqliteGarbage(app, bad, seed)], seed);
        withDb((db) => {
          const insert = db.prepare(
            `INSERT INTO messages (queue, priority, headers, properties, body, content_type, content_encoding, created_at) VALUES (?, 0, ?, ?, ?, ?, ?, ?)`,
          );
          db.transaction(() => {
            for (const r of items) insert.run(queue, r.headers, r.properties, r.body, r.contentType, r.contentEncoding, Date.now());
          })();
        });
        return;
      }
      const items = shuffle([...goodIds.map((id) => envelope(goodMessage(app, id), queue)), ...redisGarbage(app, queue, bad, seed)], seed);
      const r = admin();
      try {
        for (let i = 0; i < items.length; i += 200) await r.lpush(queue, ...items.slice(i, i + 200));
      } finally {
        r.disconnect();
      }
    },
    async stuck() {
      if (kind === 'sqlite') return withDb((db) => (db.prepare('SELECT count(*) AS n FROM messages WHERE queue = ?').get(queue) as { n: number }).n);
      const r = admin();
      try {
        return (await r.hlen('unacked')) + (await (await app.broker()).size(queue));
      } finally {
        r.disconnect();
      }
    },
    async deadLetters() {
      return (await app.broker()).listDeadLetters({ queue, limit: Number.MAX_SAFE_INTEGER });
    },
    async close() {
      await app.close().catch(() => undefined);
      await redis?.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
