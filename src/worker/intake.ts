/**
 * What the worker makes of a fresh delivery, before it holds or runs it: a job, or the reason it goes to the
 * dead-letter store (unreadable bytes, a malformed message, a task this worker does not have); and, for a job,
 * when it may start (now, at its ETA held here, parked back in the broker until its ETA or expiry, or never:
 * expired).
 */
import { undecodable } from '../broker/raw.js';
import type { Delivery } from '../broker/port.js';
import { NotRegistered, toError } from '../errors/index.js';
import { decodeTaskMessage, peekMessageIdentity } from '../protocol/message.js';
import type { TaskRequest } from '../protocol/types.js';
import type { Logger } from '../util/logger.js';
import { isExpired } from './expiry.js';
import { newJob, type Job } from './job.js';
import type { WorkerApp } from './worker-app.js';

export interface Rejected {
  id: string | null;
  name: string | null;
  reason: string;
  error: unknown;
}

/** A job for the delivery, or why it is a dead letter (with the id and name to store a FAILURE under). */
export function readDelivery(d: Delivery, app: WorkerApp, log: Logger): { job: Job } | { rejected: Rejected } {
  if (!d.message) {
    const u = undecodable(d);
    return { rejected: { id: u.taskId, name: u.taskName, reason: u.reason, error: u.error } };
  }
  let req: TaskRequest;
  try {
    req = decodeTaskMessage(d.message, app.serializers, { redelivered: d.redelivered });
  } catch (err) {
    const { taskId, taskName } = peekMessageIdentity(d.message);
    return { rejected: { id: taskId, name: taskName, reason: `malformed message: ${toError(err).message}`, error: err } };
  }
  const task = app.lookupTask(req.task);
  if (!task) {
    const err = NotRegistered.forTask(req.task);
    log.error({ task: req.task, id: req.id, queue: d.queue }, `Received unregistered task of type '${req.task}'`);
    return { rejected: { id: req.id, name: req.task, reason: err.message, error: err } };
  }
  return { job: newJob(d, req, task) };
}

export type Start = { kind: 'expired' } | { kind: 'now' } | { kind: 'hold'; until: number } | { kind: 'park'; due: number };

/**
 * When a received job may start. An ETA further off than `parkAfterMs` on a broker that holds messages itself is
 * parked there until its ETA or its expiry, whichever comes first (an expiry first revokes it on return).
 */
export function startOf(req: TaskRequest, now: number, options: { nativeDelay: boolean; parkAfterMs: number }): Start {
  if (isExpired(req, now)) return { kind: 'expired' };
  const eta = req.eta?.getTime() ?? 0;
  if (eta <= now) return { kind: 'now' };
  const due = Math.min(eta, req.expires?.getTime() ?? Infinity);
  if (options.nativeDelay && due - now > options.parkAfterMs) return { kind: 'park', due };
  return { kind: 'hold', until: eta };
}
