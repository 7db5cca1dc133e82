/** The worker's record of one reserved message, shared by the worker and the outcome writer. */
import type { AnyTask } from '../app/task.js';
import type { Delivery } from '../broker/port.js';
import type { TaskRequest } from '../protocol/types.js';

/** One reserved message on its way through the worker. */
export interface Job {
  delivery: Delivery;
  req: TaskRequest;
  task: AnyTask;
  controller: AbortController;
  timer?: NodeJS.Timeout;
  /** Returned to the broker on shutdown; whatever the task does later must not ack or store anything. */
  abandoned?: boolean;
  /** Its outcome is decided (possibly by a hard time limit while the function still runs): no more writes. */
  settled?: boolean;
  /** Its rate-limit slot has come: it starts on the next free concurrency slot without claiming another. */
  rateCleared?: boolean;
  /** When it started, epoch seconds (for inspect and task events). */
  timeStart?: number;
  /** The process that runs it (a pool child's, or the worker's own). */
  workerPid?: number;
}

/**
 * A job with every field present from the start, so all jobs share one object shape: fields added along the way
 * (timer, start time, flags) made V8 re-shape each job object, at thousands of jobs a second.
 */
export function newJob(delivery: Delivery, req: TaskRequest, task: AnyTask): Job {
  return {
    delivery,
    req,
    task,
    controller: new AbortController(),
    timer: undefined,
    abandoned: false,
    settled: false,
    rateCleared: false,
    timeStart: undefined,
    workerPid: undefined,
  };
}
