/**
 * The result-backend port: a key-value store of Celery result metadata, plus an atomic counter (chord joins) and a
 * way to wait for a result without polling where the store can notify (pub/sub, LISTEN/NOTIFY, a shared counter).
 */
import type { ResultMeta, TaskState } from '../protocol/types.js';
import type { ScheduleStore } from './schedules.js';

export interface SetOptions {
  /** Time to live in ms; undefined = the backend's default expiry; 0 = keep forever. */
  ttlMs?: number;
  /**
   * The task message's `reply_to` (its producer's queue): where a backend that sends results to their producer
   * (rpc://) delivers them; stores keep results under the task id and ignore it.
   */
  replyTo?: string;
}

/** One result of a `setMany`; `replyTo` as in SetOptions. */
export interface ResultEntry {
  taskId: string;
  meta: ResultMeta;
  replyTo?: string;
}

export interface WatchOptions {
  /** Stops the watch, as its returned function does. */
  signal?: AbortSignal;
  /**
   * Called at most once when the watch ends without being stopped: the backend closed, or a stored value could not
   * be decoded. Nothing is reported after it.
   */
  onError?: (err: unknown) => void;
}

export interface WaitOptions {
  /** Reject with TimeoutError after this long; undefined = wait forever. */
  timeoutMs?: number;
  signal?: AbortSignal;
}

/**
 * One finished member of a chord header, as the join records it. Celery's Redis join stores exactly this tuple
 * (`[1, task_id, state, result]` in `<gid>.j`, scored by `group_index`).
 */
export interface ChordPart {
  taskId: string;
  /** Position in the header; members are handed back in this order (null sorts last, in arrival order). */
  groupIndex: number | null;
  status: TaskState;
  /** The return value, or the serialized error of a FAILURE/REVOKED member. */
  result: unknown;
}

/**
 * A saved group (Celery's `GroupResult.save`): `result` is `GroupResult.as_tuple()`,
 * `[[group_id, parent], [[[task_id, parent], null], ...]]`, stored at `celery-taskset-meta-<gid>` on Redis.
 */
export interface GroupMeta {
  result: unknown;
}

export interface ResultBackend {
  connect(): Promise<void>;
  /** null = no record (Celery's PENDING). */
  get(taskId: string): Promise<ResultMeta | null>;
  mget(taskIds: readonly string[]): Promise<(ResultMeta | null)[]>;
  /**
   * Stores the meta. A stored SUCCESS is never overwritten (Celery's rule). Rejects with EncodeError, storing
   * nothing, a meta whose result, children, args or kwargs cannot be stored faithfully (`protocol/encodable.ts`:
   * NaN, a Map, a cycle, ...), the same in every store.
   */
  set(taskId: string, meta: ResultMeta, options?: SetOptions): Promise<void>;
  /** Writes several in one round trip / transaction. Same SUCCESS and EncodeError rules as `set`. */
  setMany(entries: readonly ResultEntry[], options?: SetOptions): Promise<void>;
  delete(taskId: string): Promise<void>;
  /** Atomically adds `by` to a counter and returns the new value (chord joins). */
  incr(key: string, by?: number, options?: SetOptions): Promise<number>;
  /**
   * Records how many header members the chord `groupId` waits for; the producer calls it before it sends the last
   * member (Redis: `celery-taskset-meta-<gid>.s`, as Celery does).
   */
  setChordSize(groupId: string, size: number, options?: SetOptions): Promise<void>;
  /**
   * Records one finished header member of chord `groupId`, atomically. Exactly one call per chord resolves with
   * every member's part in header order: the one whose part completed the set; every other call resolves null. A
   * member recorded twice (a redelivered message) counts once; if it was the member that completed the chord, the
   * repeat resolves with the parts again until `chordDone` (so a crash before the body was sent does not lose it).
   */
  chordPartReturn(groupId: string, part: ChordPart, options?: SetOptions): Promise<ChordPart[] | null>;
  /** Forgets the join state of a chord whose body has been sent. */
  chordDone(groupId: string): Promise<void>;
  /** Saves a group's member list (Celery's `GroupResult.save`). */
  saveGroup(groupId: string, meta: GroupMeta, options?: SetOptions): Promise<void>;
  /** null = no saved group. */
  getGroup(groupId: string): Promise<GroupMeta | null>;
  deleteGroup(groupId: string): Promise<void>;
  /** Resolves with the meta once the task reaches a ready state (SUCCESS, FAILURE, REVOKED). */
  waitFor(taskId: string, options?: WaitOptions): Promise<ResultMeta>;
  /**
   * Follows every state stored for `taskId` from now on (STARTED, PROGRESS, RETRY, ..., the ready one), through the
   * store's own notification rather than by polling, on the connection `waitFor` shares. Resolves once subscribed:
   * a state written after that is reported, so a caller reads the current meta once after it to miss nothing. The
   * returned function stops following; aborting `signal` does too. Calls come in the order the states were written;
   * a store that notifies of a change rather than its content (PostgreSQL, SQLite) may merge writes made close
   * together into the latest. Absent where the store cannot notify (rpc://): callers poll `get` instead.
   */
  watch?(taskId: string, onMeta: (meta: ResultMeta) => void, options?: WatchOptions): Promise<() => void>;
  /** Removes expired results; resolves to how many. */
  cleanup(): Promise<number>;
  /**
   * The store's periodic-task schedules, lease and fire records (beat), on this backend's connection; absent
   * where the backend keeps no state of its own (rpc://). Opened on first call, closed with the backend.
   */
  schedules?(): ScheduleStore;
  close(): Promise<void>;
}

export interface BackendOptions {
  /** Default result lifetime in seconds; 0 = forever. */
  resultExpires: number;
  /** Seconds connecting to a result server may take (its first answer). */
  connectTimeout?: number;
  /** Seconds a command to a result server may wait for its answer. */
  commandTimeout?: number;
  /** Seconds a write to a file store waits for another process's lock, without blocking the event loop. */
  busyTimeout?: number;
  /** The app's broker URL: a backend that sends results over the broker (rpc://) connects there. */
  brokerUrl?: string;
  /** The app's reply queue (the `reply_to` of the tasks it sends), where rpc:// results come back. */
  replyQueue?: string;
}
