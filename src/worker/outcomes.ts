/**
 * What an outcome means for the result store and the message: SUCCESS stored then acked, retries republished
 * with the same id, failures stored with their traceback, bad arguments dead-lettered, rejections requeued or
 * dropped. Events are emitted only once the facts they report hold.
 */
import type { WorkerApp } from './worker-app.js';
import type { Broker, Delivery } from '../broker/port.js';
import { EncodeError, MaxRetriesExceededError, TaskRevokedError, formatTraceback, serializeError, toError } from '../errors/index.js';
import { fieldEncodeError } from '../protocol/encodable.js';
import { READY_STATES, type TaskRequest, type TaskState } from '../protocol/types.js';
import type { Logger } from '../util/logger.js';
import type { Completer } from './completer.js';
import { preview, type WorkerEvents } from './events.js';
import type { Outcome } from './executor.js';
import type { Job } from './job.js';
import { autoRetryCountdown, shouldAutoRetry } from './retry.js';
import { CanvasSteps, hasCanvas } from './canvas-steps.js';
import { DecodeError } from '../errors/index.js';
import { traceHeaders } from '../tracing/index.js';

export interface OutcomeHost {
  readonly app: WorkerApp;
  readonly broker: Broker;
  readonly completer: Completer;
  readonly log: Logger;
  emit<K extends keyof WorkerEvents>(event: K, ...args: WorkerEvents[K]): boolean;
  /** Wakes the consume loop (a dead-lettered message may have freed room). */
  wake(): void;
}

export class OutcomeWriter {
  private readonly steps: CanvasSteps;

  constructor(private readonly host: OutcomeHost) {
    this.steps = new CanvasSteps(host.app, host.log);
  }

  /** Maps an outcome onto the result store and the message. */
  async finish(job: Job, outcome: Outcome, acksLate: boolean): Promise<void> {
    const { req, task, delivery } = job;
    const tag = acksLate ? delivery.tag : undefined;
    switch (outcome.kind) {
      case 'success': {
        const unstorable = this.unstorable(job, outcome.value);
        if (unstorable) {
          // Celery's trace: storing the result raised, so the task fails with that error (no autoretry, no canvas
          // success), its message is acknowledged and it is not run again.
          await this.finalFailure(tag, job, unstorable, outcome.runtime);
          return;
        }
        if (this.host.log.isLevelEnabled('info')) {
          this.host.log.info(
            { id: req.id, task: req.task, runtime: outcome.runtime },
            `Task ${req.task}[${req.id}] succeeded in ${outcome.runtime.toFixed(4)}s: ${preview(outcome.value)}`,
          );
        }
        let children: unknown[] | undefined;
        if (hasCanvas(req)) {
          try {
            children = await this.steps.succeeded(req, outcome.value);
            await this.steps.chordPart(req, 'SUCCESS', outcome.value);
          } catch (err) {
            // A malformed callback or chain fails the task, saying why. Anything else (a store or broker that is
            // down or refused a write) leaves the message unacknowledged: the task runs again and the steps are
            // sent then, rather than a success being recorded as a failure.
            if (!isMalformed(err)) throw err;
            const error = toError(err);
            this.host.log.error({ id: req.id, task: req.task, err: error.message }, `Task ${req.task}[${req.id}] succeeded but its canvas could not be applied: ${error.message}`);
            await this.finalFailure(tag, job, error, outcome.runtime);
            return;
          }
        }
        await this.completeWith(tag, job, 'SUCCESS', outcome.value, null, children);
        this.host.emit('task-succeeded', { id: req.id, name: req.task, result: outcome.value, runtime: outcome.runtime });
        return;
      }
      case 'ignore':
        if (tag) await this.host.completer.ack(tag);
        return;
      case 'reject': {
        const { reason, requeue } = outcome.signal;
        this.host.emit('task-rejected', { id: req.id, reason, requeue });
        if (!requeue) await this.store(req, 'REJECTED', serializeError(outcome.signal), job);
        if (tag) await this.host.broker.reject(tag, { requeue, reason });
        return;
      }
      case 'retry':
        return this.retry(job, outcome.signal.countdown, outcome.signal.exc, outcome.signal.eta, outcome.signal.maxRetries, tag);
      case 'timeout':
      case 'failure': {
        const error = outcome.error;
        // EncodeError: a result or arguments that cannot be stored or sent; running the task again cannot help.
        if (outcome.kind === 'failure' && !outcome.badInput && !(error instanceof EncodeError) && shouldAutoRetry(task.options, error)) {
          const countdown = autoRetryCountdown(task.options, req.retries, this.host.app.conf.defaultRetryDelay);
          return this.retry(job, countdown, error, undefined, undefined, tag);
        }
        if (outcome.kind === 'failure' && outcome.badInput) {
          const reason = `bad arguments: ${error.message}`;
          this.host.log.error({ id: req.id, task: req.task, reason }, `message moved to the dead-letter store: ${reason}`);
          await this.store(req, 'FAILURE', serializeError(error), job, formatTraceback(error));
          if (hasCanvas(req)) await this.canvasFailed(req, 'FAILURE', error);
          if (tag) await this.deadLetterTag(tag, reason);
          this.failed(req, error, outcome.runtime);
          this.host.emit('task-rejected', { id: req.id, reason, requeue: false });
          return;
        }
        await this.finalFailure(tag, job, error, outcome.runtime);
        return;
      }
    }
  }

  /**
   * The EncodeError of a return value that would be stored, or sent on to a canvas, but cannot be; with extended
   * results, also of arguments that cannot be stored beside it. Undefined when all is storable.
   */
  private unstorable(job: Job, value: unknown): EncodeError | undefined {
    const { req, task } = job;
    const stored = !(req.ignoreResult || (task.options.ignoreResult ?? false));
    if (!stored && !hasCanvas(req)) return undefined;
    const error = fieldEncodeError(value, 'result') ?? (stored && this.host.app.conf.resultExtended
      ? (fieldEncodeError(req.args, 'args') ?? fieldEncodeError(req.kwargs, 'kwargs'))
      : null);
    return error ?? undefined;
  }

  /** Stores FAILURE, fails the canvas that depended on the task, then acks. */
  private async finalFailure(tag: string | undefined, job: Job, error: Error, runtime: number): Promise<void> {
    if (hasCanvas(job.req)) {
      // Its own FAILURE first, as Celery stores it: whoever sees a later step failed finds the cause failed too.
      await this.store(job.req, 'FAILURE', serializeError(error), job, formatTraceback(error));
      await this.canvasFailed(job.req, 'FAILURE', error);
    }
    await this.completeWith(tag, job, 'FAILURE', serializeError(error), formatTraceback(error));
    this.failed(job.req, error, runtime);
  }

  /**
   * The chord part first (a chord must never wait on a member whose errbacks could not be sent), then the chain
   * steps and errbacks. A malformed signature is logged and skipped, so the message is still acknowledged instead
   * of failing again on every delivery; a store or broker error propagates and leaves it unacknowledged.
   */
  private async canvasFailed(req: TaskRequest, status: TaskState, error: Error): Promise<void> {
    const value = serializeError(error);
    await this.skipMalformed(req, () => this.steps.chordPart(req, status, value));
    await this.skipMalformed(req, () => this.steps.failed(req, status, value, formatTraceback(error)));
  }

  private async skipMalformed(req: TaskRequest, step: () => Promise<void>): Promise<void> {
    try {
      await step();
    } catch (err) {
      if (!isMalformed(err)) throw err;
      this.host.log.error({ id: req.id, task: req.task, err: toError(err).message }, `Task ${req.task}[${req.id}]: its canvas could not be applied: ${toError(err).message}`);
    }
  }

  /** Logs and announces a failure whose FAILURE result is already stored. */
  failed(req: TaskRequest, error: Error, runtime: number): void {
    this.host.log.error(
      { id: req.id, task: req.task, err: error.message },
      `Task ${req.task}[${req.id}] raised unexpected: ${error.name}(${JSON.stringify(error.message)})`,
    );
    this.host.emit('task-failed', { id: req.id, name: req.task, error, runtime });
  }

  private async retry(
    job: Job,
    countdown: number,
    exc: Error | undefined,
    eta: Date | undefined,
    maxOverride: number | null | undefined,
    tag: string | undefined,
  ): Promise<void> {
    const { req, task, delivery } = job;
    const max = maxOverride !== undefined ? maxOverride : (task.options.maxRetries ?? this.host.app.conf.maxRetries);
    if (max !== null && req.retries >= max) {
      const error = exc ?? new MaxRetriesExceededError(`Can't retry ${req.task}[${req.id}] args:${JSON.stringify(req.args)} kwargs:${JSON.stringify(req.kwargs)}`);
      await this.finalFailure(tag, job, error, 0);
      return;
    }
    const when = eta ?? new Date(Date.now() + countdown * 1000);
    const built = this.host.app.buildMessage(
      req.task,
      req.args,
      {
        kwargs: req.kwargs,
        taskId: req.id,
        retries: req.retries + 1,
        eta: when,
        expires: req.expires ?? undefined,
        queue: delivery.queue,
        priority: delivery.priority,
        rootId: req.rootId ?? undefined,
        parentId: req.parentId ?? undefined,
        timeLimit: req.timelimit[0] ?? undefined,
        softTimeLimit: req.timelimit[1] ?? undefined,
        ignoreResult: req.ignoreResult,
        replyTo: req.replyTo ?? undefined,
        // The retried run continues the trace the first one was part of.
        headers: traceHeaders(req.headers),
      },
      task,
      { embed: req.embed, group: req.group, groupIndex: req.groupIndex },
    );
    await this.host.app.publish({ queue: built.queue, message: built.message, priority: built.priority, notBefore: built.notBefore });
    const reason = exc ?? new Error(`Retry in ${countdown}s`);
    this.host.log.info({ id: req.id, task: req.task, countdown }, `Task ${req.task}[${req.id}] retry: Retry in ${countdown}s: ${reason.message}`);
    await this.completeWith(tag, job, 'RETRY', serializeError(reason), formatTraceback(reason));
    this.host.emit('task-retried', { id: req.id, name: req.task, countdown, error: exc });
  }

  /** Stores a final state (unless the task ignores results) and then acks, batched with other completions. */
  completeWith(
    tag: string | undefined,
    job: Job,
    status: TaskState,
    result: unknown,
    traceback: string | null = null,
    children?: unknown[],
  ): Promise<void> {
    const ignore = job.req.ignoreResult || (job.task.options.ignoreResult ?? false);
    const storeResult = !(ignore && status === 'SUCCESS');
    return this.host.completer.complete(tag, { req: job.req, queue: job.delivery.queue, status, result, traceback, children }, storeResult);
  }

  async store(req: TaskRequest, status: TaskState, result: unknown, job: Job, traceback: string | null = null): Promise<void> {
    if (job.abandoned || (job.settled && !READY_STATES.has(status) && status !== 'REJECTED')) return;
    await this.host.completer.store({ req, queue: job.delivery.queue, status, result, traceback });
  }

  /** Stores REVOKED for a job that expired, was revoked or was terminated; acks it (unless `acked` early); says so. */
  async revoke(job: Job, why: 'expired' | 'revoked' | 'terminated', acked = false): Promise<void> {
    const { req } = job;
    const text = { expired: 'expired before it ran: revoked', revoked: 'revoked: discarded', terminated: 'terminated' }[why];
    this.host.log[why === 'expired' ? 'warn' : 'info']({ id: req.id, task: req.task }, `Task ${req.task}[${req.id}] ${text}`);
    const err = serializeError(new TaskRevokedError(why));
    // A revoked chord member still counts: the chord fails with a ChordError instead of waiting forever. If the
    // part cannot be recorded now, the message stays unacknowledged and is revoked again when it comes back.
    try {
      await this.skipMalformed(req, () => this.steps.chordPart(req, 'REVOKED', err));
    } catch (e) {
      this.host.log.error({ id: req.id, err: toError(e).message }, 'could not record a revoked chord member; it will be revoked again on redelivery');
      return;
    }
    await this.completeWith(acked ? undefined : job.delivery.tag, job, 'REVOKED', err).catch((e) => this.logAckError(e));
    this.host.emit('task-revoked', { id: req.id, name: req.task, expired: why === 'expired' });
  }

  /**
   * An ETA far ahead goes back to the broker, due at `due` (its ETA, or its expiry when that comes first), instead
   * of being held unacked in memory.
   */
  async park(job: Job, due = job.req.eta!.getTime()): Promise<void> {
    const { delivery, req } = job;
    try {
      await this.host.app.publish({ queue: delivery.queue, message: delivery.message!, priority: delivery.priority, notBefore: due });
      await this.host.completer.ack(delivery.tag);
    } catch (err) {
      this.host.log.error({ id: req.id, err: toError(err).message }, 'could not park an ETA task; it will come back after the visibility timeout');
    }
  }

  async deadLetter(d: Delivery, id: string | null, name: string | null, reason: string, err?: unknown): Promise<void> {
    this.host.log.error({ id, task: name, queue: d.queue, reason }, `message moved to the dead-letter store: ${reason}`);
    const error = toError(err ?? new Error(reason));
    if (id) {
      const replyTo = d.message?.properties.reply_to;
      await this.host.completer
        .storeFailure(id, serializeError(error), formatTraceback(error), typeof replyTo === 'string' && replyTo ? replyTo : undefined)
        .catch((e) => this.host.log.error({ id, err: toError(e).message }, 'could not store FAILURE'));
    }
    await this.deadLetterTag(d.tag, reason);
    // Events report facts that already hold: the FAILURE is stored and the message is in the dead-letter store.
    if (id) this.host.emit('task-failed', { id, name, error, runtime: 0 });
    this.host.emit('task-rejected', { id, reason, requeue: false });
    this.host.wake();
  }

  async deadLetterTag(tag: string, reason: string): Promise<void> {
    // Flush pending acks first so batches never reorder around a reject.
    await this.host.completer.drain();
    await this.host.broker.reject(tag, { requeue: false, reason }).catch((e) => this.logAckError(e));
  }

  logAckError(e: unknown): void {
    this.host.log.error({ err: toError(e).message }, 'could not acknowledge; the message will be redelivered after the visibility timeout');
  }
}

/**
 * A signature that cannot be applied as written (from a buggy or foreign producer): retrying cannot help, so the
 * task is failed (or the step skipped) with the reason. Store and broker errors are not: they may pass.
 */
function isMalformed(err: unknown): boolean {
  return err instanceof TypeError || err instanceof RangeError || err instanceof DecodeError;
}
