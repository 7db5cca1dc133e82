/**
 * Retry delays. Exponential backoff follows Celery's `retry_backoff` semantics so a task retried by either side
 * waits the same: delay = min(max, factor * 2^retries), then "full jitter" picks uniformly in [0, delay].
 */
import type { TaskOptions } from '../app/task.js';

export function backoffDelay(
  retries: number,
  options: { factor: number; max: number; jitter: boolean },
  random: () => number = Math.random,
): number {
  const delay = Math.min(options.max, options.factor * 2 ** retries);
  return options.jitter ? Math.floor(random() * (delay + 1)) : delay;
}

/** Seconds to wait before an automatic retry (autoretryFor) of attempt number `retries`. */
export function autoRetryCountdown(task: Readonly<TaskOptions>, retries: number, defaultDelay: number): number {
  if (!task.retryBackoff) return task.defaultRetryDelay ?? defaultDelay;
  const factor = task.retryBackoff === true ? 1 : task.retryBackoff;
  return backoffDelay(retries, { factor, max: task.retryBackoffMax ?? 600, jitter: task.retryJitter ?? true });
}

/** Does `err` match one of the task's autoretryFor entries (classes or names)? */
export function shouldAutoRetry(task: Readonly<TaskOptions>, err: unknown): boolean {
  const list = task.autoretryFor;
  if (!list?.length || !(err instanceof Error)) return false;
  return list.some((entry) =>
    typeof entry === 'string' ? err.name === entry || err.constructor.name === entry : err instanceof (entry as new () => Error),
  );
}
