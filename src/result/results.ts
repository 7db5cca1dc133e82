/**
 * Results: a handle on a task's result in the result backend (AsyncResult), and a group's (GroupResult). Reads go
 * to the backend every time (like Celery's AsyncResult.state), so `state`, `info`, `ready()` are promises. This
 * module sits below the canvas and the app: both hand out these handles, and it needs only the backend port.
 *
 * Results of a canvas are linked: a chain's result has the previous step's as `parent`, a chord's body has the
 * header's GroupResult; `children()` reads what a task sent while it ran (the next step of its chain, its
 * callbacks) from its stored meta, as Celery records it, so the graph can be walked from either side.
 */
import type { GroupMeta, ResultBackend } from '../backend/port.js';
import { deserializeError, TaskRevokedError, TimeoutError } from '../errors/index.js';
import type { ResultMeta, TaskState } from '../protocol/types.js';
import { READY_STATES } from '../protocol/types.js';
import { subscribeProgress, watchProgress, type ProgressEvent, type ProgressOptions, type SubscribeOptions } from './progress.js';

export interface GetOptions {
  /** Milliseconds; rejects with TimeoutError when the task is not ready by then. Default: wait forever. */
  timeout?: number;
  /** Reject with the task's error when it failed (default true); false resolves with the error instead. */
  propagate?: boolean;
  signal?: AbortSignal;
}

export interface ResultSource {
  backend(): Promise<ResultBackend>;
  /** Tells every worker to discard (or, with terminate, stop) these tasks. */
  revokeTasks(ids: readonly string[], options: RevokeTaskOptions): Promise<void>;
}

export interface RevokeTaskOptions {
  /** Also stop the task if it is running. */
  terminate?: boolean;
  /** The signal for `terminate` (default SIGTERM). */
  signal?: string;
  /** Resolve only once the workers have acknowledged (Celery's `wait=True`), or after `timeout` ms (default 1000). */
  wait?: boolean;
  timeout?: number;
}


export class AsyncResult<T = unknown> {
  /** The result this one follows in a chain (or the header of a chord body); set by canvas, not stored. */
  parent: AnyResult | undefined;

  constructor(
    readonly id: string,
    private readonly source: ResultSource,
    parent?: AnyResult,
  ) {
    this.parent = parent;
  }

  /** The stored metadata, or null while PENDING (Celery keeps no record for pending tasks). */
  async meta(): Promise<ResultMeta | null> {
    return (await this.source.backend()).get(this.id);
  }

  /** PENDING, STARTED, SUCCESS, FAILURE, RETRY, REVOKED, or a custom state such as PROGRESS. */
  get state(): Promise<TaskState> {
    return this.meta().then((m) => m?.status ?? 'PENDING');
  }

  /** Celery's `info`: the result when ready, the exception on failure, the progress metadata otherwise. */
  get info(): Promise<unknown> {
    return this.meta().then((m) => {
      if (!m) return null;
      if (m.status === 'FAILURE' || m.status === 'RETRY' || m.status === 'REVOKED') {
        return deserializeError(m.result, m.traceback);
      }
      return m.result;
    });
  }

  get traceback(): Promise<string | null> {
    return this.meta().then((m) => m?.traceback ?? null);
  }

  async ready(): Promise<boolean> {
    return READY_STATES.has(await this.state);
  }

  async successful(): Promise<boolean> {
    return (await this.state) === 'SUCCESS';
  }

  async failed(): Promise<boolean> {
    return (await this.state) === 'FAILURE';
  }

  /**
   * Waits for the result. Resolves with the return value; rejects with the task's error rebuilt (type, message,
   * remote traceback as stack), TaskRevokedError, or TimeoutError after `timeout` ms.
   *
   * Numbers come back as the task's side wrote them: an integer outside Number.MIN_SAFE_INTEGER..MAX_SAFE_INTEGER
   * (a Python task's `2**64 + 1`) as an exact `bigint`, smaller ones as `number`, and Python's NaN and infinities
   * as those numbers. Type `T` accordingly (`number | bigint`) where a result may be that large.
   */
  async get(options: GetOptions = {}): Promise<T> {
    const backend = await this.source.backend();
    let meta: ResultMeta;
    try {
      meta = await backend.waitFor(this.id, { timeoutMs: options.timeout, signal: options.signal });
    } catch (err) {
      if (err instanceof TimeoutError) {
        throw new TimeoutError(`task ${this.id} not ready after ${options.timeout} ms`, { cause: err });
      }
      throw err;
    }
    if (meta.status === 'SUCCESS') return meta.result as T;
    const error =
      meta.status === 'REVOKED' && !isSerializedError(meta.result)
        ? new TaskRevokedError(`task ${this.id} was revoked`)
        : deserializeError(meta.result, meta.traceback);
    if (options.propagate === false) return error as T;
    throw error;
  }

  /**
   * The task's state and meta each time they change (STARTED, PROGRESS `{current, total}`, ...), ending with the
   * ready state; see ./progress.ts for how changes are noticed.
   *
   * @example
   * for await (const { state, meta } of r.progress()) console.log(state, meta);
   */
  progress(options: ProgressOptions = {}): AsyncGenerator<ProgressEvent> {
    return watchProgress(() => this.source.backend(), this.id, options);
  }

  /** Calls `onEvent` for every change `progress()` yields; returns the function that stops it. */
  onProgress(onEvent: (event: ProgressEvent) => void, options: SubscribeOptions = {}): () => void {
    return subscribeProgress(() => this.source.backend(), this.id, onEvent, options);
  }

  /** Removes the stored result. */
  async forget(): Promise<void> {
    await (await this.source.backend()).delete(this.id);
  }

  /**
   * What this task sent while it ran, as Celery stores it in the meta's `children`: the next step of its chain,
   * its callbacks, groups it started. Empty until the task has finished.
   */
  async children(): Promise<AnyResult[]> {
    const meta = await this.meta();
    return (meta?.children ?? []).map((c) => resultFromTuple(c, this.source));
  }

  /**
   * Walks this result and everything it led to (children, and a group's members), breadth first, waiting for each
   * and yielding `[result, value]` (Celery's `collect`). A failure rejects, as `get()` does.
   *
   * @example
   * for await (const [r, value] of (await chain(crawl.s(url), validate.s()).applyAsync()).parent!.collect()) { ... }
   */
  async *collect(options: GetOptions = {}): AsyncGenerator<[AnyResult, unknown]> {
    const queue: AnyResult[] = [this];
    const seen = new Set<string>();
    while (queue.length) {
      const node = queue.shift()!;
      if (seen.has(node.id)) continue;
      seen.add(node.id);
      const value = await node.get(options);
      yield [node, value];
      queue.push(...(node instanceof AsyncResult ? await node.children() : node.results));
    }
  }

  /**
   * Revokes this task and, for a canvas result, everything before it (`parent`): revoking a chain's result
   * revokes every step, a chord's revokes the header members and the body.
   */
  async revoke(options: RevokeTaskOptions = {}): Promise<void> {
    await this.source.revokeTasks(lineageIds(this), options);
  }

  /** Celery's `as_tuple()`: `[[id, parent tuple or null], null]`, the form stored in a meta's children. */
  asTuple(): ResultTuple {
    return [[this.id, this.parent ? this.parent.asTuple() : null], null];
  }

  toJSON(): { id: string } {
    return { id: this.id };
  }
}

/** Ids of `r`, its members if it is a group, and of everything on its parent chain. */
export function lineageIds(r: AnyResult): string[] {
  const ids: string[] = [];
  const seen = new Set<AnyResult>();
  const visit = (n: AnyResult | undefined): void => {
    while (n && !seen.has(n)) {
      seen.add(n);
      if (n instanceof AsyncResult) ids.push(n.id);
      else for (const m of n.results) visit(m);
      n = n.parent;
    }
  };
  visit(r);
  return ids;
}

function isSerializedError(v: unknown): boolean {
  return !!v && typeof v === 'object' && 'exc_type' in v;
}

/**
 * A group's result: the members' results in order, and the group id (Celery's GroupResult). A chord's body result
 * has one as its parent.
 */
export type AnyResult = AsyncResult | GroupResult;

/**
 * Celery's `as_tuple()` form: `[[id, parent tuple | null], null]` for a task, `[[id, parent], [member tuples]]`
 * for a group. This is what a meta's `children` and a saved group hold.
 */
export type ResultTuple = [[string, ResultTuple | null], ResultTuple[] | null];

export class GroupResult<T extends unknown[] = unknown[]> {
  parent: AnyResult | undefined;

  constructor(
    readonly id: string,
    readonly results: readonly AnyResult[],
    private readonly source: ResultSource,
    parent?: AnyResult,
  ) {
    this.parent = parent;
  }

  /** The member results (Celery's `children` of a group). */
  get children(): readonly AnyResult[] {
    return this.results;
  }

  /**
   * Waits for every member and resolves with their values in order. Rejects with the first failed member's error
   * (in member order) unless `propagate` is false, and with TimeoutError once `timeout` ms have passed overall.
   */
  async get(options: GetOptions = {}): Promise<T> {
    const deadline = options.timeout === undefined ? undefined : Date.now() + options.timeout;
    const values: unknown[] = [];
    for (const r of this.results) {
      const timeout = deadline === undefined ? undefined : Math.max(0, deadline - Date.now());
      try {
        values.push(await r.get({ ...options, timeout }));
      } catch (err) {
        if (err instanceof TimeoutError) throw new TimeoutError(`group ${this.id} not ready after ${options.timeout} ms`, { cause: err });
        throw err;
      }
    }
    return values as T;
  }

  /** Celery's `join`: the same as get. */
  join(options: GetOptions = {}): Promise<T> {
    return this.get(options);
  }

  /** True when every member is ready. */
  async ready(): Promise<boolean> {
    return (await Promise.all(this.results.map((r) => r.ready()))).every(Boolean);
  }

  /** True when every member succeeded. */
  async successful(): Promise<boolean> {
    return (await Promise.all(this.results.map((r) => r.successful()))).every(Boolean);
  }

  /** True when any member failed. */
  async failed(): Promise<boolean> {
    return (await Promise.all(this.results.map((r) => r.failed()))).some(Boolean);
  }

  /** How many members succeeded. */
  async completedCount(): Promise<number> {
    return (await Promise.all(this.results.map((r) => r.successful()))).filter(Boolean).length;
  }

  /** Revokes every member (and, for a canvas, everything before the group). */
  async revoke(options: RevokeTaskOptions = {}): Promise<void> {
    await this.source.revokeTasks(lineageIds(this), options);
  }

  /** Stores the member list so `GroupResult.restore` (here or in Python) can rebuild it from the id. */
  async save(options: { ttlMs?: number } = {}): Promise<void> {
    await (await this.source.backend()).saveGroup(this.id, { result: this.asTuple() }, options);
  }

  /** Removes the saved member list. */
  async delete(): Promise<void> {
    await (await this.source.backend()).deleteGroup(this.id);
  }

  /** A group saved with `save()` (or by Celery's `GroupResult.save()`); null when none is stored. */
  static async restore(source: ResultSource, id: string): Promise<GroupResult | null> {
    const meta: GroupMeta | null = await (await source.backend()).getGroup(id);
    if (!meta) return null;
    const r = resultFromTuple(meta.result, source);
    return r instanceof GroupResult ? r : new GroupResult(id, [r], source);
  }

  asTuple(): ResultTuple {
    return [[this.id, this.parent ? this.parent.asTuple() : null], this.results.map((r) => r.asTuple())];
  }

  toJSON(): { id: string; results: { id: string }[] } {
    return { id: this.id, results: this.results.map((r) => ({ id: r.id })) };
  }
}

/** Rebuilds a result (and its parents) from Celery's tuple form; anything malformed is a TypeError. */
export function resultFromTuple(value: unknown, source: ResultSource): AnyResult {
  if (!Array.isArray(value) || value.length !== 2) throw new TypeError('a result tuple is [[id, parent], members]');
  const [head, members] = value as [unknown, unknown];
  // Celery also accepts a bare [id, parent] pair for a task.
  if (typeof head === 'string') return new AsyncResult(head, source, members ? resultFromTuple(members, source) : undefined);
  if (!Array.isArray(head) || typeof head[0] !== 'string') throw new TypeError('a result tuple must start with [id, parent]');
  const parent = head[1] ? resultFromTuple(head[1], source) : undefined;
  if (Array.isArray(members)) {
    return new GroupResult(head[0], members.map((m) => resultFromTuple(m, source)), source, parent);
  }
  return new AsyncResult(head[0], source, parent);
}
