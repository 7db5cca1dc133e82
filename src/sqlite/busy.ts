/**
 * Waiting for another process's write lock on a SQLite file without blocking the event loop. better-sqlite3 waits
 * for a lock synchronously (its `timeout`), which would freeze every timer, socket and task of the process for as
 * long as the other writer holds it. So the adapters' connections wait only briefly themselves (SYNC_WAIT_MS, what
 * an ordinary commit of another worker takes), and their methods are retried asynchronously, with backoff, up to
 * the busy timeout; then the call fails naming the file. A retried method is safe to run again: each write is one
 * statement or one transaction, rolled back whole when the lock could not be had.
 */
import { resolve } from 'node:path';
import { ConnectionError } from '../errors/index.js';

/** How long one attempt waits for the lock on the calling thread (better-sqlite3's `timeout`). */
export const SYNC_WAIT_MS = 50;

/** A lock held by another connection, here or in an error's causes (an adapter may wrap it). */
export function isBusy(err: unknown): boolean {
  for (let e = err, depth = 0; e && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED'))) return true;
  }
  return false;
}

/** Runs `attempt` until it does not fail for a lock, waiting between attempts, at most `timeoutMs` in all. */
export async function retryBusy<T>(attempt: () => Promise<T>, o: { file: string; timeoutMs: number }): Promise<T> {
  const deadline = Date.now() + o.timeoutMs;
  for (let delay = 2; ; delay = Math.min(delay * 2, 100)) {
    try {
      return await attempt();
    } catch (err) {
      if (!isBusy(err)) throw err;
      const left = deadline - Date.now();
      if (left <= 0) {
        const where = o.file === ':memory:' ? o.file : resolve(o.file);
        throw new ConnectionError(`SQLite database ${where} is locked by another process: no write possible within ${o.timeoutMs / 1000} s (sqliteBusyTimeout)`, { cause: err });
      }
      await new Promise((r) => setTimeout(r, Math.min(delay, left)));
    }
  }
}

/**
 * Replaces the named async methods of `instance` by ones that retry while the file is locked (see above), so every
 * caller, the worker's loop included, waits asynchronously.
 */
export function retryWhileBusy<T extends object>(instance: T, methods: readonly (keyof T & string)[], o: { file: string; timeoutMs: number }): void {
  for (const name of methods) {
    const method = instance[name] as unknown as (...args: unknown[]) => Promise<unknown>;
    (instance as Record<string, unknown>)[name] = (...args: unknown[]) => retryBusy(() => method.apply(instance, args), o);
  }
}
