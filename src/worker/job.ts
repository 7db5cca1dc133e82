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
}
