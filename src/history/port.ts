/**
 * The task-history port: every task's lifecycle as monitors see it (events from Celerity and Python Celery workers,
 * and result metas read back from the result store), kept in a queryable store so that it survives a restart of the
 * monitor (Flower keeps it in memory only) and so that the monitor's own memory does not grow with the volume.
 *
 * Writers hand over batches of updates (`apply`), one transaction each. Readers page with an opaque cursor over a
 * stable order: newest first by `createdAt` (the first time the task was seen, which never changes), then by id.
 */

/**
 * Celery's state precedence (celery/states.py PRECEDENCE), latest first: an update whose state comes *later* in
 * this list than the stored one "happened before" it (a late `task-started` after `task-succeeded`) and merges its
 * fields without changing the state. A state not listed here (a custom one such as PROGRESS) ranks where Celery puts
 * unknown states, between FAILURE and REVOKED. RETRY always replaces and is always replaced (a retried task is
 * received again under the same id).
 */
export const STATE_PRECEDENCE = ['SUCCESS', 'FAILURE', null, 'REVOKED', 'STARTED', 'RECEIVED', 'REJECTED', 'RETRY', 'PENDING'] as const;

/** The index of `state` in STATE_PRECEDENCE (lower = later in a task's life). */
export function statePrecedence(state: string): number {
  const i = (STATE_PRECEDENCE as readonly (string | null)[]).indexOf(state);
  return i === -1 ? STATE_PRECEDENCE.indexOf(null) : i;
}

/** True when a stored state `current` gives way to `incoming` (Celery's events/state.py rule). */
export function stateReplaces(current: string | null, incoming: string): boolean {
  if (current === null || current === 'RETRY' || incoming === 'RETRY') return true;
  return statePrecedence(incoming) <= statePrecedence(current);
}

/** One task as the history keeps it. Times are epoch milliseconds. Text fields are as the events carry them. */
export interface TaskRecord {
  id: string;
  name: string | null;
  /** PENDING (sent), RECEIVED, STARTED, PROGRESS or another custom state, RETRY, SUCCESS, FAILURE, REVOKED, REJECTED. */
  state: string;
  queue: string | null;
  /** The node that received or ran it (`celery@host`). */
  worker: string | null;
  /** Python repr text of the arguments (the message's `argsrepr`, as events carry them). */
  args: string | null;
  kwargs: string | null;
  /**
   * The arguments themselves as JSON text, when known exactly (sent through the API, read from an extended result,
   * or a repr that is a plain literal): what "retry with the original arguments" sends again. null = unknown.
   */
  argsJson: string | null;
  kwargsJson: string | null;
  /** The return value: repr text from an event, or JSON text from the result store. */
  result: string | null;
  /** The exception repr (`ValueError('nope')`) of a FAILURE, RETRY or REVOKED. */
  exception: string | null;
  traceback: string | null;
  /** The custom-state meta (PROGRESS `{current, total}`) as JSON text. */
  meta: string | null;
  retries: number | null;
  /** Seconds the task ran. */
  runtime: number | null;
  parentId: string | null;
  rootId: string | null;
  groupId: string | null;
  /** ISO 8601 text, as the message carries it. */
  eta: string | null;
  expires: string | null;
  /**
   * First seen: the earliest timestamp of any update. Later events never move it; only an event stamped earlier
   * (from a host whose clock runs behind, arriving late) moves it back to that time.
   */
  createdAt: number;
  sentAt: number | null;
  receivedAt: number | null;
  startedAt: number | null;
  /** When it reached SUCCESS, FAILURE, REVOKED or REJECTED. */
  finishedAt: number | null;
  /** The latest change. */
  updatedAt: number;
}

/** One step of a task's timeline (an event, or a state read from the result store). */
export interface TimelineEntry {
  /** `task-received`, `task-started`, ..., or `result-PROGRESS` for a state read from the result store. */
  type: string;
  /** Epoch ms. */
  timestamp: number;
  /** The node that sent the event, when an event. */
  hostname: string | null;
  /** The event's own fields (minus the ones every event has), as JSON text. */
  fields: string | null;
}

/**
 * A change to one task. Fields left undefined keep their stored value; a `state` is applied by `stateReplaces`,
 * and fields that describe a state (result, exception, traceback, runtime, meta) are written whenever present,
 * as Celery's state merges them. `timestamp` (epoch ms) sets createdAt on first sight and updatedAt, and the
 * per-state times (sentAt for PENDING, receivedAt, startedAt, finishedAt for ready states).
 */
export interface TaskUpdate {
  id: string;
  timestamp: number;
  state?: string;
  fields?: Partial<Omit<TaskRecord, 'id' | 'state' | 'createdAt' | 'updatedAt'>>;
  /** Appended to the timeline. */
  timeline?: TimelineEntry;
}

export interface TaskQuery {
  /** Any of these states. */
  state?: readonly string[];
  /** Exact task name, or a prefix when it ends with `*`. */
  name?: string;
  worker?: string;
  queue?: string;
  /** createdAt >= since (epoch ms). */
  since?: number;
  /** createdAt < until (epoch ms). */
  until?: number;
  /**
   * Case-insensitive substring of the id, name, args, kwargs, result or exception; `%` and `_` are plain characters.
   * (SQLite folds the case of ASCII letters only.) Without other filters this reads tasks newest first until the
   * page is full, so a needle that matches little reads much of the history.
   */
  text?: string;
  parentId?: string;
  rootId?: string;
  groupId?: string;
  /** Default 50; more than 1,000 is taken as 1,000; anything but a positive integer rejects with a TypeError. */
  limit?: number;
  /** The `next` of the previous page. */
  cursor?: string;
}

export interface TaskPage {
  tasks: TaskRecord[];
  /** The cursor of the next page; null = this was the last. */
  next: string | null;
}

export interface RetentionOptions {
  /** Forget tasks first seen longer ago than this (ms); undefined = no age limit. */
  maxAgeMs?: number;
  /** Keep at most this many tasks (the newest by createdAt); undefined = no count limit. */
  maxTasks?: number;
  /** Injected clock for tests. */
  now?: number;
}

export interface HistoryStore {
  connect(): Promise<void>;
  /**
   * Applies the updates in order, in one transaction. An update no store can keep (an empty id, a timestamp that is
   * not a finite number, a field of the wrong type) rejects the whole batch with a TypeError naming it.
   */
  apply(updates: readonly TaskUpdate[]): Promise<void>;
  get(id: string): Promise<TaskRecord | null>;
  /** Oldest first. */
  timeline(id: string): Promise<TimelineEntry[]>;
  /** Newest first (createdAt desc, id desc). A malformed cursor rejects with a TypeError naming it. */
  list(query: TaskQuery): Promise<TaskPage>;
  /** How many tasks match (without limit or cursor). */
  count(query: Omit<TaskQuery, 'limit' | 'cursor'>): Promise<number>;
  /** Ids of tasks not in a ready state whose last update is older than `olderThan` (epoch ms), oldest first. */
  unfinished(options: { olderThan: number; limit: number }): Promise<string[]>;
  /**
   * Applies the retention limits; resolves to how many tasks were forgotten (their timelines with them). Large
   * prunes run as many short transactions, oldest tasks first, so writers are never locked out for long.
   */
  prune(options: RetentionOptions): Promise<number>;
  close(): Promise<void>;
}

export interface HistoryOptions {
  /** Seconds a write waits for another process's lock (SQLite). */
  busyTimeout?: number;
}
