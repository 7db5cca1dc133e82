/**
 * `expires` while a job waits inside the worker. A message can be fresh when it is received and stale by the time
 * it would start: held for its ETA, for a rate-limit slot, or queued behind busy concurrency slots. Like Celery's
 * worker, which checks expiry when a request is about to execute, the job is then revoked as expired instead of run,
 * and a hold ends at the expiry time rather than at its (later) start time, so the REVOKED state appears when the
 * deadline passes instead of whenever the job would have started.
 */
import type { TaskRequest } from '../protocol/types.js';
import type { Job } from './job.js';

/** setTimeout's longest delay; longer holds re-arm (a longer delay fires at once, with a warning). */
const MAX_TIMER_MS = 2 ** 31 - 1;

export function isExpired(req: TaskRequest, now = Date.now()): boolean {
  return req.expires !== null && req.expires !== undefined && req.expires.getTime() <= now;
}

/**
 * Holds `job` until `readyAt` (epoch ms), then calls `ready`; if the job expires first, calls `expire` at its expiry
 * instead. `job.timer` always holds the pending timer, so clearing it cancels the hold (shutdown, remote revoke).
 */
export function holdUntil(job: Job, readyAt: number, ready: () => void, expire: () => void): void {
  const expiresAt = job.req.expires?.getTime() ?? Infinity;
  const check = (): void => {
    const now = Date.now();
    if (expiresAt <= now) return expire();
    if (readyAt <= now) return ready();
    job.timer = setTimeout(check, Math.min(MAX_TIMER_MS, Math.min(readyAt, expiresAt) - now));
  };
  check();
}
