/**
 * An in-process result backend for unit tests, with the SQLite backend's semantics: a stored SUCCESS is never
 * overwritten, results, saved groups and chord joins expire, counters are atomic, and `waitFor` is woken by `set`
 * rather than by polling.
 * Values go through JSON on the way in, as they would through any real store, so tests cannot come to depend on
 * sharing objects with the backend, and come back as the other stores give them: a bigint exact, a Date as its ISO
 * string. A meta that cannot be stored faithfully is refused with EncodeError, as every store refuses it.
 */
import type { ChordPart, GroupMeta, ResultBackend, SetOptions, WaitOptions, WatchOptions } from '../port.js';
import type { ResultMeta } from '../../protocol/types.js';
import { READY_STATES } from '../../protocol/types.js';
import { ConnectionError } from '../../errors/index.js';
import { assertMetaEncodable } from '../../protocol/encodable.js';
import { jsonColumnText, parseJson } from '../../protocol/json.js';
import { Waiters } from '../wait.js';
import type { ScheduleStore } from '../schedules.js';
import { MemoryScheduleStore } from './schedules.js';

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

/** The join of one chord header, as the SQLite store keeps it in `celery_chords` and `celery_chord_parts`. */
interface Chord {
  /** null until `setChordSize`: parts may arrive before it, and nothing completes without it. */
  size: number | null;
  /** The task whose part completed the chord; only its repeats get the parts again. */
  completedBy: string | null;
  /** By task id, so a redelivered part counts once; Map order is arrival order (the tiebreak for null indexes). */
  parts: Map<string, ChordPart>;
}

export class MemoryBackend implements ResultBackend {
  private readonly defaultTtlMs: number;
  private readonly now: () => number;
  private readonly results = new Map<string, Stored<ResultMeta>>();
  private readonly counters = new Map<string, Stored<number>>();
  private readonly groups = new Map<string, Stored<GroupMeta>>();
  private readonly chords = new Map<string, Stored<Chord>>();
  private readonly waiters = new Waiters();
  private readonly watchers = new Map<string, Set<{ onMeta(meta: ResultMeta): void; onError?(err: unknown): void }>>();
  private closed = false;
  private scheduleStore: MemoryScheduleStore | null = null;

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
    // All or nothing, as a transaction: every meta is checked before any is stored.
    for (const { meta } of entries) assertMetaEncodable(meta);
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

  async setChordSize(groupId: string, size: number, options?: SetOptions): Promise<void> {
    this.check();
    this.chord(groupId, options).size = size;
  }

  async chordPartReturn(groupId: string, part: ChordPart, options?: SetOptions): Promise<ChordPart[] | null> {
    this.check();
    const chord = this.chord(groupId, options);
    if (chord.completedBy === null) {
      // A completed chord takes no new parts, so a repeat of the completing one hands back the same set.
      if (!chord.parts.has(part.taskId)) chord.parts.set(part.taskId, copy(part));
      if (chord.size === null || chord.parts.size !== chord.size) return null;
      chord.completedBy = part.taskId;
    } else if (chord.completedBy !== part.taskId) {
      return null;
    }
    return inHeaderOrder([...chord.parts.values()]).map(copy);
  }

  async chordDone(groupId: string): Promise<void> {
    this.check();
    this.chords.delete(groupId);
  }

  async saveGroup(groupId: string, meta: GroupMeta, options?: SetOptions): Promise<void> {
    this.check();
    this.groups.set(groupId, { value: copy({ result: meta.result }), expiresAt: this.expiresAt(options) });
  }

  async getGroup(groupId: string): Promise<GroupMeta | null> {
    this.check();
    const stored = this.live(this.groups, groupId);
    return stored ? copy(stored.value) : null;
  }

  async deleteGroup(groupId: string): Promise<void> {
    this.check();
    this.groups.delete(groupId);
  }

  async waitFor(taskId: string, options: WaitOptions = {}): Promise<ResultMeta> {
    this.check();
    const { signal } = options;
    if (signal?.aborted) throw signal.reason;
    const current = this.live(this.results, taskId)?.value;
    if (current && READY_STATES.has(current.status)) return copy(current);
    return this.waiters.wait(taskId, options);
  }

  /** Called back on every `set` of the task, in order, on a later microtask (never inside the `set` call). */
  async watch(taskId: string, onMeta: (meta: ResultMeta) => void, options: WatchOptions = {}): Promise<() => void> {
    this.check();
    const { signal } = options;
    if (signal?.aborted) throw signal.reason;
    const set = this.watchers.get(taskId) ?? new Set();
    this.watchers.set(taskId, set);
    const own = { onMeta, onError: options.onError };
    set.add(own);
    const stop = (): void => {
      signal?.removeEventListener('abort', stop);
      set.delete(own);
      if (set.size === 0 && this.watchers.get(taskId) === set) this.watchers.delete(taskId);
    };
    signal?.addEventListener('abort', stop, { once: true });
    return stop;
  }

  async cleanup(): Promise<number> {
    const now = this.now();
    let n = 0;
    for (const map of [this.results, this.counters, this.groups, this.chords] as Map<string, Stored<unknown>>[]) {
      for (const [key, stored] of map) {
        if (stored.expiresAt !== null && stored.expiresAt <= now) {
          map.delete(key);
          n++;
        }
      }
    }
    return n;
  }

  /** The schedule store, kept beside the results for the life of this backend; fails as the backend does once closed. */
  schedules(): ScheduleStore {
    return (this.scheduleStore ??= new MemoryScheduleStore(() => this.check()));
  }

  async close(): Promise<void> {
    this.closed = true;
    const watchers = [...this.watchers.values()].flatMap((set) => [...set]);
    this.watchers.clear();
    for (const w of watchers) w.onError?.(new ConnectionError('result backend closed while watching'));
    this.waiters.rejectAll(new ConnectionError('result backend closed while waiting'));
  }

  private check(): void {
    if (this.closed) throw new ConnectionError('memory result backend is closed');
  }

  private store(taskId: string, meta: ResultMeta, options: SetOptions | undefined): void {
    assertMetaEncodable(meta);
    // Celery's rule: once a task succeeded, a late STARTED/RETRY/FAILURE from a redelivery must not hide it.
    if (this.live(this.results, taskId)?.value.status === 'SUCCESS') return;
    const value = copy({ ...meta, task_id: taskId });
    this.results.set(taskId, { value, expiresAt: this.expiresAt(options) });
    for (const { onMeta } of [...(this.watchers.get(taskId) ?? [])]) {
      const meta = copy(value);
      // A throwing watcher must not fail the write that reported to it.
      queueMicrotask(() => {
        try {
          onMeta(meta);
        } catch {
          // The watcher's own failure is its to handle.
        }
      });
    }
    if (!READY_STATES.has(value.status)) return;
    this.waiters.resolve(taskId, () => copy(value));
  }

  /**
   * The live join of `groupId` (a fresh one in place of an expired one), its expiry renewed: every write to a
   * join extends it, as Celery's EXPIREs on each Redis part do.
   */
  private chord(groupId: string, options: SetOptions | undefined): Chord {
    let stored = this.live(this.chords, groupId);
    if (!stored) {
      stored = { value: { size: null, completedBy: null, parts: new Map() }, expiresAt: null };
      this.chords.set(groupId, stored);
    }
    stored.expiresAt = this.expiresAt(options);
    return stored.value;
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

/** Through the text a table store writes and the reader every store uses, so bigints survive (JSON.stringify throws). */
function copy<T>(value: T): T {
  return parseJson(jsonColumnText(value), 'memory backend copy') as T;
}

/** By group index, parts without one last; `sort` is stable, so ties keep arrival order. */
function inHeaderOrder(parts: ChordPart[]): ChordPart[] {
  const rank = (p: ChordPart) => p.groupIndex ?? Number.MAX_VALUE;
  return parts.sort((a, b) => rank(a) - rank(b));
}
