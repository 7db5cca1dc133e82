/**
 * What revoking means for the jobs a worker holds, whichever way the revoke arrived (remote control on Redis, the
 * embedded store's revocations table): jobs not started leave at once as REVOKED; with `terminate`, running ones
 * are stopped. The ids themselves are remembered by the caller, so messages that arrive later are discarded too.
 */
import { TaskRevokedError } from '../errors/index.js';
import type { Job } from './job.js';
import type { NodeHost } from './node-state.js';

/**
 * Drops the waiting and held jobs among `ids`; with `terminate`, stops the running ones too and calls
 * `onTerminate` for each before it is stopped. Returns the ids terminated.
 */
export function revokeJobs(
  host: NodeHost,
  ids: ReadonlySet<string>,
  terminate: boolean,
  onTerminate: (job: Job) => void = () => undefined,
): string[] {
  const { jobs } = host;
  for (const job of [...jobs.waiting, ...jobs.held.values()]) if (ids.has(job.req.id)) dropJob(host, job);
  if (!terminate) return [];
  const terminated: string[] = [];
  for (const job of [...jobs.running.values()]) {
    if (!ids.has(job.req.id)) continue;
    onTerminate(job);
    terminateJob(host, job);
    terminated.push(job.req.id);
  }
  return terminated;
}

/** A job that has not started (waiting, or held for its ETA or its rate) leaves the worker as REVOKED. */
function dropJob(host: NodeHost, job: Job): void {
  const { waiting, held } = host.jobs;
  clearTimeout(job.timer);
  const at = waiting.indexOf(job);
  if (at >= 0) waiting.splice(at, 1);
  // A held job whose rate-limit wait is still being asked of the broker sees it is gone and stays gone.
  else if (!held.delete(job.delivery.tag)) return;
  host.revoke(job, 'revoked');
  host.wake();
}

/**
 * Revoke with terminate: the threads/process pool kills the child (the run resolves, and is ignored); the async
 * pool aborts the task's signal with TaskRevokedError. Either way REVOKED is stored and the slot freed at once.
 */
function terminateJob(host: NodeHost, job: Job): void {
  const { pool, app } = host;
  // Nothing the run does from here on stores or acks anything (the outcome writer checks this).
  job.abandoned = true;
  if (!pool?.terminate(job.req.id) && !job.controller.signal.aborted) job.controller.abort(new TaskRevokedError('terminated'));
  host.release(job);
  // A message acked early (acksLate off) was acked when the task started.
  host.revoke(job, 'terminated', !(job.task.options.acksLate ?? app.conf.acksLate));
}
