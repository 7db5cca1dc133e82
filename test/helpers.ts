/**
 * Test helpers: a fresh SQLite file per test, apps wired to it, and a way to await worker events with a timeout
 * instead of sleeping.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Celerity, type CelerityOptions, type Worker, type WorkerEvents } from '../src/index.js';
import type { PoolJob } from '../src/worker/pools/index.js';

export function tempDir(prefix = 'celerity-test-'): { dir: string; cleanup(): void } {
  const dir = mkdtempSync(path.join(os.tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** An app on its own SQLite file, quiet logs; remember to `await app.close()`. */
export function sqliteApp(dir: string, options: CelerityOptions = {}, name = 'test'): Celerity {
  const url = `sqlite://${path.join(dir, 'celerity.db')}`;
  return new Celerity(name, { broker: url, backend: url, loglevel: 'silent', logFormat: 'json', ...options }, {});
}

/** Resolves with the first event's payload that satisfies `match`; rejects after `ms`. */
export function nextEvent<K extends keyof WorkerEvents>(
  worker: Worker,
  event: K,
  match: (...args: WorkerEvents[K]) => boolean = () => true,
  ms = 10_000,
): Promise<WorkerEvents[K]> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      worker.off(event, listener as never);
      reject(new Error(`no ${String(event)} event within ${ms} ms`));
    }, ms);
    const listener = (...args: WorkerEvents[K]) => {
      if (!match(...args)) return;
      clearTimeout(timer);
      worker.off(event, listener as never);
      resolve(args);
    };
    worker.on(event, listener as never);
  });
}

/**
 * Resolves once `check` holds, looking every 10 ms; rejects after `ms`. For states that change outside this
 * process (a server's connection list) and announce nothing to wait on.
 */
export async function until(check: () => Promise<boolean>, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** A TCP port on 127.0.0.1 that nothing listens on right now. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

/** A promise with its resolver outside, for tasks that wait on the test. */
export function deferred<T = void>(): { promise: Promise<T>; resolve(v: T): void } {
  let resolve!: (v: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

let poolJobSeq = 0;

/** A pool job for `task` with everything else at its plain default (no limits, first delivery). */
export function poolJob(task: string, args: unknown[] = [], extra: Partial<PoolJob> = {}): PoolJob {
  return {
    id: `job-${++poolJobSeq}`,
    task,
    args,
    kwargs: {},
    retries: 0,
    rootId: null,
    parentId: null,
    group: null,
    eta: null,
    expires: null,
    hostname: 'pool@test',
    delivery: { queue: 'celery', priority: 0, redelivered: false },
    limits: { hard: null, soft: null },
    ...extra,
  };
}
