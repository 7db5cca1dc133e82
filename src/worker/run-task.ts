/**
 * One task's run on a concurrency slot, whichever pool runs it: the early ack (unless acks_late), STARTED when
 * tracked, time limits (the task's, or those `time_limit` set), ordered state writes from `updateState`, and the
 * call into the threads/process pool or the async executor. Resolves to the outcome and whether the message waits
 * for it to be acked, or to undefined for a job shut down meanwhile (its message goes back to the broker).
 */
import type { CelerityConfig } from '../app/config.js';
import type { TaskState } from '../protocol/types.js';
import { loadTracing, startRunSpan, tracingSettled, type RunEnd, type RunSpan } from '../tracing/index.js';
import { execute, type Outcome } from './executor.js';
import type { Job } from './job.js';
import type { WorkerNode } from './node.js';
import type { OutcomeWriter } from './outcomes.js';
import { jobFromRequest, type ExecutionPool } from './pools/pool.js';

export interface RunContext {
  conf: CelerityConfig;
  hostname: string;
  /** The threads or process pool; null when tasks run on this event loop. */
  pool: ExecutionPool | null;
  node: WorkerNode | undefined;
  outcomes: OutcomeWriter;
  /** Acknowledges a delivery now (acks_late off). */
  ack(tag: string): void;
  /** The task starts (the worker's task-started event). */
  started(): void;
}

export async function runTask(job: Job, ctx: RunContext): Promise<{ outcome: Outcome; acksLate: boolean } | undefined> {
  const { req, task, delivery } = job;
  const { conf, node, pool, outcomes } = ctx;
  const acksLate = task.options.acksLate ?? conf.acksLate;
  // Settled before the task is reported started: nothing may come between that report and the pool call, which
  // tells it which child runs the task (task-started carries that child's pid).
  if (!tracingSettled()) await loadTracing();
  if (!acksLate) ctx.ack(delivery.tag);
  node?.started(job, pool ? null : process.pid);
  ctx.started();
  // State writes made while the task runs (STARTED, PROGRESS); none for most tasks, which then skip the wait.
  let progress: Promise<void> | undefined;
  if (task.options.trackStarted ?? conf.trackStarted) {
    progress = outcomes.store(req, 'STARTED', { pid: process.pid, hostname: ctx.hostname }, job);
  }
  const set = node?.timeLimits.get(req.task);
  const limits = {
    hard: req.timelimit[0] ?? (set ? set.hard : task.options.timeLimit) ?? conf.timeLimit,
    soft: req.timelimit[1] ?? (set ? set.soft : task.options.softTimeLimit) ?? conf.softTimeLimit,
  };
  const updateState = (state: TaskState, meta: unknown): Promise<void> => {
    // Writes stay in order; one failed write is reported to its caller without failing the later ones.
    const write = (progress ?? Promise.resolve()).catch(() => undefined).then(() => outcomes.store(req, state, meta, job));
    progress = write;
    return write;
  };
  const span = startRunSpan(req, { hostname: ctx.hostname, queue: delivery.queue, brokerUrl: conf.broker });
  const outcome = span ? await traced(span, () => dispatch(job, ctx, limits, updateState)) : await dispatch(job, ctx, limits, updateState);
  job.settled = true;
  if (progress) await progress.catch(() => undefined);
  if (job.abandoned) return undefined;
  return { outcome, acksLate };
}

/** The call into the threads/process pool, or the async executor on this event loop. */
function dispatch(
  job: Job,
  ctx: RunContext,
  limits: { hard: number | null; soft: number | null },
  updateState: (state: TaskState, meta: unknown) => Promise<void>,
): Promise<Outcome> {
  const { req, task, delivery } = job;
  const { conf, node, pool } = ctx;
  if (pool) {
    const acksLate = task.options.acksLate ?? conf.acksLate;
    return pool.run(
      jobFromRequest(req, delivery, {
        hostname: ctx.hostname,
        limits,
        defaultRetryDelay: conf.defaultRetryDelay,
        rejectOnWorkerLost: acksLate && (task.options.rejectOnWorkerLost ?? conf.rejectOnWorkerLost),
      }),
      { updateState, started: (child) => node?.started(job, child.pid) },
    );
  }
  return execute({
    req,
    delivery,
    task,
    hostname: ctx.hostname,
    controller: job.controller,
    limits,
    defaultRetryDelay: conf.defaultRetryDelay,
    updateState,
  });
}

/** The run with its span active, ended with how the run ended. */
async function traced(span: RunSpan, run: () => Promise<Outcome>): Promise<Outcome> {
  let outcome: Outcome;
  try {
    outcome = await span.run(run);
  } catch (err) {
    // The pools report every task failure as an outcome; a rejection is the pool itself failing.
    span.end({ state: 'FAILURE', error: err instanceof Error ? err : new Error(String(err)) });
    throw err;
  }
  span.end(runEnd(outcome));
  return outcome;
}

/** The span's end as the instrumentation sees a Celery run end: the state of task_postrun, failures as errors. */
function runEnd(outcome: Outcome): RunEnd {
  switch (outcome.kind) {
    case 'success':
      return { state: 'SUCCESS' };
    case 'failure':
    case 'timeout':
      return { state: 'FAILURE', error: outcome.error };
    case 'retry':
      return { state: 'RETRY', retryReason: outcome.signal.message };
    case 'reject':
      return { state: 'REJECTED' };
    case 'ignore':
      return { state: 'IGNORED' };
  }
}
