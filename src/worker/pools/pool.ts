/**
 * The port between the worker and a pool that runs tasks outside the main thread (threads, child processes).
 * A job is plain data: the child loads the user's app itself and finds the task by name, so nothing but
 * structured-clone values crosses the boundary. `run()` never rejects; every ending is an Outcome, the same union
 * the async executor returns, so the worker maps results, retries and failures in one place whatever the pool.
 */
import type { Delivery } from '../../broker/port.js';
import { WorkerLostError } from '../../errors/index.js';
import type { TaskRequest, TaskState } from '../../protocol/types.js';
import type { Logger } from '../../util/logger.js';
import type { Outcome } from '../executor.js';

export type { Outcome };

export { WorkerLostError };

/** What the child needs to run one task and build its `this`. Every field survives structured clone. */
export interface PoolJob {
  id: string;
  /** Registered task name, looked up in the child's own copy of the app. */
  task: string;
  /** As received: the child binds them with the task's `params` (a bad call is a `badInput` failure). */
  args: unknown[];
  kwargs: Record<string, unknown>;
  retries: number;
  rootId: string | null;
  parentId: string | null;
  group: string | null;
  eta: Date | null;
  expires: Date | null;
  hostname: string;
  delivery: { queue: string; priority: number; redelivered: boolean };
  /** Seconds, already combined from the message, the task and the app; null = none. */
  limits: { hard: number | null; soft: number | null };
  /** Countdown for `this.retry()` without one when the task sets no `defaultRetryDelay`; default: the app's. */
  defaultRetryDelay?: number;
  /**
   * Celery's `task_reject_on_worker_lost`: when the child dies mid-task, resolve a requeueing `reject` outcome
   * (the message goes back to the queue) instead of a WorkerLostError failure.
   */
  rejectOnWorkerLost?: boolean;
}

export interface PoolHooks {
  /**
   * `this.updateState()` inside the child arrives here; the child's call settles when this promise does (a
   * rejection reaches the task as an Error with the same message).
   */
  updateState(state: TaskState, meta: unknown): Promise<void>;
  /** The job was handed to a child; `pid` is what Celery stores in STARTED meta. */
  started?(child: { pid: number; id: number }): void;
}

/** One child as seen from the parent, for inspection (Celery's `stats.pool.processes`). */
export interface ChildInfo {
  /** The thread id for threads, the pid for processes. */
  id: number;
  pid: number;
  state: 'starting' | 'idle' | 'busy' | 'retiring';
  /** Tasks this child has finished. */
  tasks: number;
  /** KiB after its last task, the figure maxMemoryPerChild is compared with; null before its first task. */
  memory: number | null;
}

export interface ExecutionPool {
  /** Spawns the children and waits until each has loaded the app; rejects if the app cannot be loaded. */
  start(): Promise<void>;
  /** Runs one job on the next free child (jobs beyond `size` wait in order). Never rejects. */
  run(job: PoolJob, hooks: PoolHooks): Promise<Outcome>;
  /**
   * Kills the child running `taskId` (revoke with terminate); that run resolves as a TaskRevokedError failure and
   * a new child takes the slot. A job still waiting for a child is dropped the same way. False if unknown.
   */
  terminate(taskId: string): boolean;
  /** Adds `n` children; resolves when they are ready. */
  grow(n?: number): Promise<void>;
  /** Retires `n` children, idle ones first; a busy child finishes its task before it goes. Never below 1. */
  shrink(n?: number): Promise<void>;
  /**
   * Replaces every child with a new one, which imports the app module afresh (Celery's pool_restart): idle children
   * at once, busy ones when their task ends. Resolves once only new children are left and they are ready.
   */
  restart(): Promise<void>;
  /** Target number of children. */
  readonly size: number;
  /** Children running a task now. */
  readonly busy: number;
  children(): ChildInfo[];
  /**
   * Stops the pool. Jobs not yet started resolve as a requeueing reject. Graceful: running tasks finish first.
   * `force`: children are killed at once and their runs resolve as worker-lost.
   */
  close(options?: { force?: boolean }): Promise<void>;
}

export interface PoolOptions {
  /** The app module, as given to `-A` (a path; `.ts` loads through tsx). Each child imports it once. */
  app: string;
  /** Number of children (the worker's concurrency). */
  size: number;
  /** Replace a child after it has run this many tasks (Celery's worker_max_tasks_per_child). */
  maxTasksPerChild?: number | null;
  /**
   * Replace a child after a task leaves it above this many KiB (Celery's worker_max_memory_per_child): resident
   * set size for processes; for threads, which share one process, the thread's own V8 heap plus external memory.
   */
  maxMemoryPerChild?: number | null;
  /** Seconds a child being retired gets to exit on its own before it is killed. Default 10. */
  exitTimeout?: number;
  /** Extra Node flags for each child (e.g. `--max-old-space-size=512` for processes). */
  execArgv?: string[];
  logger?: Logger;
}

/** Builds the job for a decoded request the way the async executor builds `this`. */
export function jobFromRequest(
  req: TaskRequest,
  delivery: Delivery,
  options: Pick<PoolJob, 'hostname' | 'limits' | 'defaultRetryDelay' | 'rejectOnWorkerLost'>,
): PoolJob {
  return {
    id: req.id,
    task: req.task,
    args: req.args,
    kwargs: req.kwargs,
    retries: req.retries,
    rootId: req.rootId,
    parentId: req.parentId,
    group: req.group,
    eta: req.eta,
    expires: req.expires,
    delivery: { queue: delivery.queue, priority: delivery.priority, redelivered: delivery.redelivered },
    ...options,
  };
}
