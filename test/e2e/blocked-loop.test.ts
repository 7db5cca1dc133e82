/**
 * A task that holds the async pool's event loop for several visibility timeouts, in a real `celerity worker`: it
 * runs once (the worker never restores its own message because its loop could not extend it), the worker names the
 * task and the fix (`-P threads`) in its log, and a SIGTERM sent mid-loop ends the worker cleanly once the task is
 * done, with nothing left reserved. On the embedded store and on Redis, with acks early and late.
 */
import type { ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, watch } from 'node:fs';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { Celerity } from '../../src/index.js';
import { tempDir } from '../helpers.js';
import { pingRedis, requireService } from '../services.js';
import { exited, spawnWorker } from './worker-process.js';

const fixture = path.join(fileURLToPath(new URL('../..', import.meta.url)), 'test/fixtures/busy-app.ts');
// A key prefix of its own: other tests share this database.
const PREFIX = `blocked-${randomUUID().slice(0, 8)}:`;
const REDIS_URL = `redis://127.0.0.1:6379/14?global_keyprefix=${PREFIX}`;
const redisUp = await requireService('Redis on 127.0.0.1:6379', () => pingRedis(REDIS_URL));

const procs: ChildProcess[] = [];
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const p of procs.splice(0)) {
    if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
    await exited(p);
  }
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** Resolves once the file holds a line `predicate` accepts (the task writes its ledger from another process). */
function fileLine(file: string, predicate: (line: string) => boolean): Promise<void> {
  return new Promise((resolve) => {
    const check = (): boolean => existsSync(file) && readFileSync(file, 'utf8').split('\n').some(predicate);
    if (check()) return resolve();
    const watcher = watch(path.dirname(file), () => {
      if (!check()) return;
      watcher.close();
      resolve();
    });
  });
}

interface Store {
  name: string;
  skip: string | false;
  urls(dir: string): string;
  /** Messages still reserved (unacked) or queued at the end. */
  reserved(url: string): Promise<number>;
}

const stores: Store[] = [
  {
    name: 'SQLite',
    skip: false,
    urls: (dir) => `sqlite://${path.join(dir, 'celerity.db')}`,
    reserved: async (url) => {
      const db = new Database(url.slice('sqlite://'.length), { readonly: true });
      try {
        return (db.prepare('SELECT count(*) AS n FROM messages').get() as { n: number }).n;
      } finally {
        db.close();
      }
    },
  },
  {
    name: 'Redis',
    skip: redisUp.ok ? false : redisUp.reason,
    urls: () => REDIS_URL,
    reserved: async (url) => {
      const r = new Redis(url);
      try {
        return (await r.hlen(`${PREFIX}unacked`)) + (await r.keys(`${PREFIX}busy-*`)).length;
      } finally {
        r.disconnect();
      }
    },
  },
];

for (const store of stores) {
  describe.skipIf(store.skip)(`a CPU-bound task on the async pool, ${store.name}${store.skip ? ` (skipped: ${store.skip})` : ''}`, () => {
    it.each(['true', 'false'])('acks late %s: runs once past several visibility timeouts, is named in the log with the fix, and SIGTERM waits for it', async (acksLate) => {
      const tmp = tempDir();
      cleanups.push(() => tmp.cleanup());
      const url = store.urls(tmp.dir);
      if (url.startsWith('redis')) {
        cleanups.push(async () => {
          const r = new Redis(url);
          const keys = await r.keys(`${PREFIX}*`);
          if (keys.length) await r.del(...keys);
          r.disconnect();
        });
      }
      const queue = `busy-${randomUUID().slice(0, 8)}`;
      const ledger = path.join(tmp.dir, 'ledger');
      const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('CELERITY_')));
      const env = { ...base, CELERITY_BROKER_URL: url, CELERITY_RESULT_BACKEND: url, CELERITY_VISIBILITY_TIMEOUT: '1', CELERITY_DEFAULT_QUEUE: queue, CELERITY_ACKS_LATE: acksLate, LEDGER_FILE: ledger };
      const { proc, lines } = await spawnWorker(['-A', fixture, '-c', '2', '--log-format', 'json'], env, (p) => procs.push(p));
      const app = new Celerity('busy-client', { broker: url, backend: url, defaultQueue: queue, loglevel: 'silent' }, {});
      cleanups.push(() => app.close());
      const r = await app.sendTask('busy.spin', [3500]);
      await fileLine(ledger, (l) => l.startsWith('start'));
      // Sent while the task holds the loop: acted on when it ends.
      proc.kill('SIGTERM');
      expect(await exited(proc)).toBe(0);
      const ledgerLines = readFileSync(ledger, 'utf8').trim().split('\n');
      expect(ledgerLines.map((l) => l.split(' ')[0])).toEqual(['start', 'end']);
      expect(await r.get({ timeout: 10_000 })).toBe(3500);
      const warning = lines.find((l) => l.includes('event loop was blocked'));
      expect(warning).toContain('busy.spin');
      expect(warning).toContain('-P threads');
      expect(await store.reserved(url)).toBe(0);
    });
  });
}
