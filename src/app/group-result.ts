/**
 * A group's result: the members' results in order, and the group id (Celery's GroupResult). A chord's body result
 * has one as its parent.
 */
import type { GroupMeta } from '../backend/port.js';
import { TimeoutError } from '../errors/index.js';
import { AsyncResult, lineageIds, type GetOptions, type ResultSource, type RevokeTaskOptions } from './result.js';

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
