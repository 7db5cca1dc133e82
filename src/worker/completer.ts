/**
 * Makes a task's outcome durable: the result is written, then the message acknowledged. Completions finishing in
 * the same tick share one `setMany` and one `ack`, and within a batch results always go before acks, so a crash in
 * between re-runs a task rather than losing its result. Batches overlap: the next one is encoded and sent while
 * Redis is still writing the previous one (one batch at a time left each side idle while the other worked: the
 * worker was 30% idle at c=100 with Redis 39% busy).
 */
import type { ResultBackend } from '../backend/port.js';
import type { Broker } from '../broker/port.js';
import { buildResultMeta } from '../protocol/result-meta.js';
import type { ResultMeta, TaskRequest, TaskState } from '../protocol/types.js';
import { Batcher } from '../util/batcher.js';

interface Completion {
  /** The delivery to acknowledge once the result (if any) is written; none when it was acked early. */
  tag?: string;
  result?: { taskId: string; meta: ResultMeta };
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
    private readonly options: { hostname: string; extended: boolean },
  ) {
    this.batch = new Batcher((items) => this.flush(items), { maxBatch: 500, mode: 'overlap' });
  }

  /** Stores the outcome (unless `storeResult` is false) and then acks `tag` (when given), batched. */
  complete(tag: string | undefined, outcome: Outcome, storeResult = true): Promise<void> {
    const meta = storeResult ? this.meta(outcome) : undefined;
    if (!tag && !meta) return Promise.resolve();
    return this.batch.submit({ tag, result: meta ? { taskId: outcome.req.id, meta } : undefined });
  }

  /** Acks without a result (early ack, ignored results, parked messages). */
  ack(tag: string): Promise<void> {
    return this.batch.submit({ tag });
  }

  /** Writes a state now, outside the batch: progress, STARTED, and failures of messages that are not acked. */
  store(outcome: Outcome): Promise<void> {
    return this.backend.set(outcome.req.id, this.meta(outcome));
  }

  /** A FAILURE for a message too broken to decode into a request, kept under the id it carried. */
  storeFailure(taskId: string, result: unknown, traceback: string): Promise<void> {
    return this.backend.set(taskId, buildResultMeta({ taskId, status: 'FAILURE', result, traceback }));
  }

  /** Resolves once everything submitted so far is written and acked. */
  drain(): Promise<void> {
    return this.batch.drain();
  }

  private async flush(items: Completion[]): Promise<void> {
    const results: { taskId: string; meta: ResultMeta }[] = [];
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
      if (results.length) await this.backend.setMany(results);
      if (afterResults.length) await this.broker.ack(afterResults);
    } finally {
      await acked;
    }
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
