/**
 * An in-process result backend for unit tests, with the SQLite backend's semantics: a stored SUCCESS is never
 * overwritten, results expire, counters are atomic, and `waitFor` is woken by `set` rather than by polling.
 * Values go through JSON on the way in, as they would through any real store, so tests cannot come to depend on
 * sharing objects with the backend.
 */
import type { ResultBackend, SetOptions, WaitOptions } from '../port.js';
import type { ResultMeta } from '../../protocol/types.js';
import { READY_STATES } from '../../protocol/types.js';
import { ConnectionError } from '../../errors/index.js';
import { awaitResult, type Settle } from '../wait.js';

export interface MemoryBackendOptions {
  /** Default result lifetime in seconds; 0 = forever. Default 86400 (Celery's). */
  resultExpires?: number;
  /** Epoch milliseconds; defaults to Date.now. */
  now?: () => number;
}

interface Stored<T> {
  value: T;
  /** Epoch ms, or null for never. */
  expiresAt: number | null;
}

export class MemoryBackend implements ResultBackend {
  private readonly defaultTtlMs: number;
  private readonly now: () => number;
  private readonly results = new Map<string, Stored<ResultMeta>>();
  private readonly counters = new Map<string, Stored<number>>();
  private readonly waiters = new Map<string, Set<Settle>>();
  private closed = false;

  constructor(options: MemoryBackendOptions = {}) {
    this.defaultTtlMs = (options.resultExpires ?? 86_400) * 1000;
    this.now = options.now ?? Date.now;
  }

  async connect(): Promise<void> {
    this.closed = false;
  }

  async get(taskId: string): Promise<ResultMeta | null> {
    this.check();
    const stored = this.live(this.results, taskId);
    return stored ? copy(stored.value) : null;
  }

  async mget(taskIds: readonly string[]): Promise<(ResultMeta | null)[]> {
    this.check();
    return taskIds.map((id) => {
      const stored = this.live(this.results, id);
      return stored ? copy(stored.value) : null;
    });
  }

  async set(taskId: string, meta: ResultMeta, options?: SetOptions): Promise<void> {
    this.check();
    this.store(taskId, meta, options);
  }

  async setMany(entries: readonly { taskId: string; meta: ResultMeta }[], options?: SetOptions): Promise<void> {
    this.check();
    for (const { taskId, meta } of entries) this.store(taskId, meta, options);
  }

  async delete(taskId: string): Promise<void> {
    this.check();
    this.results.delete(taskId);
  }

  async incr(key: string, by = 1, options?: SetOptions): Promise<number> {
    this.check();
    const value = (this.live(this.counters, key)?.value ?? 0) + by;
    this.counters.set(key, { value, expiresAt: this.expiresAt(options) });
    return value;
  }

  async waitFor(taskId: string, options: WaitOptions = {}): Promise<ResultMeta> {
    this.check();
    const { signal } = options;
    if (signal?.aborted) throw signal.reason;
    const current = this.live(this.results, taskId)?.value;
    if (current && READY_STATES.has(current.status)) return copy(current);
    return awaitResult(taskId, options, (settle) => {
      const set = this.waiters.get(taskId) ?? new Set<Settle>();
      this.waiters.set(taskId, set);
      set.add(settle);
      return () => {
        set.delete(settle);
        if (set.size === 0) this.waiters.delete(taskId);
      };
    });
  }

  async cleanup(): Promise<number> {
    const now = this.now();
    let n = 0;
    for (const map of [this.results, this.counters] as Map<string, Stored<unknown>>[]) {
      for (const [key, stored] of map) {
        if (stored.expiresAt !== null && stored.expiresAt <= now) {
          map.delete(key);
          n++;
        }
      }
    }
    return n;
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const set of [...this.waiters.values()]) {
      for (const w of [...set]) w.reject(new ConnectionError('result backend closed while waiting'));
    }
  }

  private check(): void {
    if (this.closed) throw new ConnectionError('memory result backend is closed');
  }

  private store(taskId: string, meta: ResultMeta, options: SetOptions | undefined): void {
    // Celery's rule: once a task succeeded, a late STARTED/RETRY/FAILURE from a redelivery must not hide it.
    if (this.live(this.results, taskId)?.value.status === 'SUCCESS') return;
    const value = copy({ ...meta, task_id: taskId });
    this.results.set(taskId, { value, expiresAt: this.expiresAt(options) });
    if (!READY_STATES.has(value.status)) return;
    for (const w of [...(this.waiters.get(taskId) ?? [])]) w.resolve(copy(value));
  }

  private live<T>(map: Map<string, Stored<T>>, key: string): Stored<T> | undefined {
    const stored = map.get(key);
    if (!stored) return undefined;
    // Expired entries stay until `cleanup`, as in the SQLite store; they are only invisible.
    return stored.expiresAt !== null && stored.expiresAt <= this.now() ? undefined : stored;
  }

  private expiresAt(options: SetOptions | undefined): number | null {
    const ttl = options?.ttlMs ?? this.defaultTtlMs;
    return ttl > 0 ? this.now() + ttl : null;
  }
}

function copy(meta: ResultMeta): ResultMeta {
  return JSON.parse(JSON.stringify(meta)) as ResultMeta;
}
