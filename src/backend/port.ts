/**
 * The result-backend port: a key-value store of Celery result metadata, plus an atomic counter (chord joins) and a
 * way to wait for a result without polling where the store can notify (pub/sub, LISTEN/NOTIFY, a shared counter).
 */
import type { ResultMeta } from '../protocol/types.js';

export interface SetOptions {
  /** Time to live in ms; undefined = the backend's default expiry; 0 = keep forever. */
  ttlMs?: number;
}

export interface WaitOptions {
  /** Reject with TimeoutError after this long; undefined = wait forever. */
  timeoutMs?: number;
  signal?: AbortSignal;
}

export interface ResultBackend {
  connect(): Promise<void>;
  /** null = no record (Celery's PENDING). */
  get(taskId: string): Promise<ResultMeta | null>;
  mget(taskIds: readonly string[]): Promise<(ResultMeta | null)[]>;
  /** Stores the meta. A stored SUCCESS is never overwritten (Celery's rule). */
  set(taskId: string, meta: ResultMeta, options?: SetOptions): Promise<void>;
  /** Writes several in one round trip / transaction. Same SUCCESS rule as `set`. */
  setMany(entries: readonly { taskId: string; meta: ResultMeta }[], options?: SetOptions): Promise<void>;
  delete(taskId: string): Promise<void>;
  /** Atomically adds `by` to a counter and returns the new value (chord joins). */
  incr(key: string, by?: number, options?: SetOptions): Promise<number>;
  /** Resolves with the meta once the task reaches a ready state (SUCCESS, FAILURE, REVOKED). */
  waitFor(taskId: string, options?: WaitOptions): Promise<ResultMeta>;
  /** Removes expired results; resolves to how many. */
  cleanup(): Promise<number>;
  close(): Promise<void>;
}

export interface BackendOptions {
  /** Default result lifetime in seconds; 0 = forever. */
  resultExpires: number;
}
