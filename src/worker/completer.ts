/**
 * Makes a task's outcome durable: the result is written, then the message acknowledged. Completions finishing in
 * the same tick share one `setMany` and one `ack`, and within a batch results always go before acks, so a crash in
 * between re-runs a task rather than losing its result. Batches overlap: the next one is encoded and sent while
 * Redis is still writing the previous one (one batch at a time left each side idle while the other worked: the
 * worker was 30% idle at c=100 with Redis 39% busy).
 *
 * A result that cannot be stored never holds a message back: each completion is checked before it joins a batch
 * (a value no store can hold becomes FAILURE with EncodeError, see `protocol/encodable.ts`), and a batch the store
 * still refuses is written again one result at a time, so only the result that is refused is replaced by a FAILURE
 * saying why, and its neighbours are stored and acknowledged as they are.
 */
import type { Logger } from '../util/logger.js';
import type { ResultBackend, ResultEntry } from '../backend/port.js';
import type { Broker } from '../broker/port.js';
import { EncodeError, formatTraceback, serializeError, toError } from '../errors/index.js';
import { isTriviallyEncodable, markEncodable, metaEncodeError } from '../protocol/encodable.js';
import { buildResultMeta } from '../protocol/result-meta.js';
import type { ResultMeta, TaskRequest, TaskState } from '../protocol/types.js';
import { Batcher } from '../util/batcher.js';

interface Completion {
  /** The delivery to acknowledge once the result (if any) is written; none when it was acked early. */
  tag?: string;
  result?: ResultEntry;
}

export interface Outcome {
  req: TaskRequest;
  /** The queue it was delivered from, recorded in extended results. */
  queue: string | null;
  status: TaskState;
  result: unknown;
  traceback?: string | null;
  /** What the task sent as it finished (chain step, callbacks), in Celery's tuple form. */
  children?: unknown[];
}

export class Completer {
  private readonly batch: Batcher<Completion>;

  constructor(
    private readonly broker: Broker,
    private readonly backend: ResultBackend,
    private readonly options: { hostname: string; extended: boolean; log?: Logger },
  ) {
    this.batch = new Batcher((items) => this.flush(items), { maxBatch: 500, mode: 'overlap' });
  }

  /** Stores the outcome (unless `storeResult` is false) and then acks `tag` (when given), batched. */
  complete(tag: string | undefined, outcome: Outcome, storeResult = true): Promise<void> {
    const meta = storeResult ? this.storable(outcome, true) : undefined;
    if (!tag && !meta) return Promise.resolve();
    return this.batch.submit({ tag, result: meta ? { taskId: outcome.req.id, meta, replyTo: outcome.req.replyTo ?? undefined } : undefined });
  }

  /** Acks without a result (early ack, ignored results, parked messages). */
  ack(tag: string): Promise<void> {
    return this.batch.submit({ tag });
  }

  /**
   * Writes a state now, outside the batch: progress, STARTED, and failures of messages that are not acked. A
   * progress meta that cannot be stored rejects with EncodeError (the task's `updateState` call fails, as Celery's
   * does); the task goes on.
   */
  async store(outcome: Outcome): Promise<void> {
    await this.backend.set(outcome.req.id, this.storable(outcome, false), { replyTo: outcome.req.replyTo ?? undefined });
  }

  /** A FAILURE for a message too broken to decode into a request, kept under the id it carried. */
  storeFailure(taskId: string, result: unknown, traceback: string, replyTo?: string): Promise<void> {
    return this.backend.set(taskId, buildResultMeta({ taskId, status: 'FAILURE', result, traceback }), { replyTo });
  }

  /** Resolves once everything submitted so far is written and acked. */
  drain(): Promise<void> {
    return this.batch.drain();
  }

  private async flush(items: Completion[]): Promise<void> {
    const results: ResultEntry[] = [];
    // Acks of completions with a result wait for the result; early acks (no result of theirs in the batch) go at
    // once, in parallel with the result writes, so an early-acked task costs one round trip, not two in a row.
    const afterResults: string[] = [];
    const now: string[] = [];
    for (const item of items) {
      if (item.result) results.push(item.result);
      if (item.tag !== undefined) (item.result ? afterResults : now).push(item.tag);
    }
    const acked = now.length ? this.broker.ack(now) : undefined;
    try {
      if (results.length) await this.setMany(results);
      if (afterResults.length) await this.broker.ack(afterResults);
    } finally {
      await acked;
    }
  }

  /**
   * One `setMany`; if the store refuses the batch, each result on its own, so that one it refuses for what it holds
   * (a value it rejects, a row it cannot take) cannot fail its neighbours, or the acks of all of them, on every
   * delivery. A result refused twice is replaced by a FAILURE naming the refusal; when even that cannot be written,
   * the store itself is failing and the error propagates (nothing is acked, the tasks come back).
   */
  private async setMany(results: ResultEntry[]): Promise<void> {
    try {
      await this.backend.setMany(results);
      return;
    } catch {
      // Which result (if any) it was is found below; a store that is down fails there again and says so.
    }
    for (const { taskId, meta, replyTo } of results) {
      try {
        await this.backend.set(taskId, meta, { replyTo });
      } catch (err) {
        // What in it was refused is not known, so the FAILURE carries none of its extended fields (a retries
        // count past PostgreSQL's integer, say, would be refused again).
        const error = err instanceof EncodeError ? err : new EncodeError(`the result store refused the result: ${toError(err).message}`, { cause: err });
        this.options.log?.error({ id: taskId, err: error.message }, 'the result store refused a result; FAILURE stored instead');
        await this.backend.set(taskId, refusedMeta(taskId, meta, error, false), { replyTo });
      }
    }
  }

  /**
   * The meta of an outcome, made storable. A result (or children) no store can hold: in a completion, FAILURE with
   * the EncodeError naming it; in an interim write, the EncodeError is thrown. Extended args or kwargs that cannot
   * be stored are left out, saying so in the traceback; a SUCCESS whose args cannot be stored becomes FAILURE with
   * EncodeError, as Celery's store_result raising would make it.
   */
  private storable(outcome: Outcome, completion: boolean): ResultMeta {
    const meta = this.meta(outcome);
    const bad = isTriviallyEncodable(meta) ? null : metaEncodeError(meta);
    if (!bad) return markEncodable(meta);
    if (bad.field === 'result' || bad.field === 'children') {
      if (!completion) throw bad.error;
      return refusedMeta(outcome.req.id, meta, bad.error);
    }
    if (meta.status === 'SUCCESS') return refusedMeta(outcome.req.id, meta, bad.error);
    const note = `(arguments not stored with this result: ${bad.error.message})`;
    const said = meta.traceback == null || meta.traceback.includes(bad.error.message);
    return { ...meta, args: null, kwargs: null, traceback: said ? meta.traceback : `${meta.traceback}\n${note}` };
  }

  private meta({ req, queue, status, result, traceback, children }: Outcome): ResultMeta {
    return buildResultMeta({
      taskId: req.id,
      status,
      result,
      traceback: traceback ?? null,
      children,
      groupId: req.group,
      parentId: req.parentId,
      extended: this.options.extended
        ? { name: req.task, args: req.args, kwargs: req.kwargs, worker: this.options.hostname, retries: req.retries, queue }
        : undefined,
    });
  }
}

/**
 * FAILURE with `error` in place of `meta`, keeping its ids and (when `extended`) its extended fields, without the
 * args or kwargs (or children) that cannot be stored.
 */
function refusedMeta(taskId: string, meta: ResultMeta, error: Error, extended = true): ResultMeta {
  const failure = buildResultMeta({
    taskId,
    status: 'FAILURE',
    result: serializeError(error),
    traceback: formatTraceback(error),
    groupId: meta.group_id,
    parentId: meta.parent_id,
  });
  if (extended && meta.name !== undefined) {
    const storable = (field: 'args' | 'kwargs') => (metaEncodeError(meta, [field]) ? null : (meta[field] ?? null));
    Object.assign(failure, { name: meta.name, args: storable('args'), kwargs: storable('kwargs'), worker: meta.worker ?? null, retries: meta.retries ?? null, queue: meta.queue ?? null });
    // task_id last again, as Celery orders the keys.
    const { task_id, ...rest } = failure;
    return { ...rest, task_id };
  }
  return failure;
}
