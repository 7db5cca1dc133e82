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
  /** Held for its ETA by this worker (not for a rate-limit slot). */
  etaHold?: boolean;
}

/**
 * The jobs a worker holds until a time (an ETA, a rate-limit slot), by delivery tag, counting those held for their
 * ETA: on a broker that cannot hold them itself those do not fill the prefetch window (see Worker.inflight).
 */
export class HeldJobs extends Map<string, Job> {
  /** How many of the jobs held are waiting for their ETA. */
  eta = 0;

  override set(tag: string, job: Job): this {
    const before = super.get(tag);
    if (before?.etaHold) this.eta--;
    if (job.etaHold) this.eta++;
    return super.set(tag, job);
  }

  override delete(tag: string): boolean {
    if (super.get(tag)?.etaHold) this.eta--;
    return super.delete(tag);
  }

  override clear(): void {
    this.eta = 0;
    super.clear();
  }
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
    etaHold: false,
  };
}
