/**
 * The part of `waitFor` every backend shares: a promise that settles when the backend calls `resolve`, or rejects
 * on timeout or abort, and unregisters the waiter exactly once either way.
 */
import { TimeoutError } from '../errors/index.js';
import type { ResultMeta } from '../protocol/types.js';
import type { WaitOptions } from './port.js';

export interface Settle {
  resolve(meta: ResultMeta): void;
  reject(err: unknown): void;
}

/** Node's longest timer (~24.8 days); a longer timeout means "forever" rather than firing at once. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** `register` stores the waiter where the backend's notifications will find it and returns how to remove it. */
export function awaitResult(taskId: string, options: WaitOptions, register: (settle: Settle) => () => void): Promise<ResultMeta> {
  const { signal, timeoutMs } = options;
  return new Promise<ResultMeta>((resolve, reject) => {
    let unregister = (): void => undefined;
    const finish = (): void => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      unregister();
    };
    const settle: Settle = {
      resolve: (meta) => {
        finish();
        resolve(meta);
      },
      reject: (err) => {
        finish();
        reject(err);
      },
    };
    const onAbort = (): void => settle.reject(signal?.reason);
    const timer =
      timeoutMs === undefined || timeoutMs > MAX_TIMER_MS
        ? undefined
        : setTimeout(() => settle.reject(new TimeoutError(`result of task ${taskId} not ready after ${timeoutMs} ms`)), timeoutMs);
    signal?.addEventListener('abort', onAbort, { once: true });
    unregister = register(settle);
  });
}

/** The waiters of an in-process backend, by task id: `wait` registers one, `resolve` settles a task's. */
export class Waiters {
  private readonly byId = new Map<string, Set<Settle>>();

  wait(taskId: string, options: WaitOptions): Promise<ResultMeta> {
    return awaitResult(taskId, options, (settle) => {
      const set = this.byId.get(taskId) ?? new Set<Settle>();
      this.byId.set(taskId, set);
      set.add(settle);
      return () => {
        set.delete(settle);
        if (set.size === 0) this.byId.delete(taskId);
      };
    });
  }

  /** Settles every waiter of `taskId` with `meta()` (called once per waiter, so each may get its own copy). */
  resolve(taskId: string, meta: () => ResultMeta): void {
    for (const w of [...(this.byId.get(taskId) ?? [])]) w.resolve(meta());
  }

  /** Rejects every waiter (the backend is closing). */
  rejectAll(err: Error): void {
    for (const set of [...this.byId.values()]) for (const w of [...set]) w.reject(err);
  }
}

/**
 * The stop function of a subscription being made, stopped again when `signal` aborts: at once if made by then,
 * else as soon as it is (a SUBSCRIBE or LISTEN waits for a lost connection to come back, the caller need not).
 */
export async function untilAborted(subscribing: Promise<() => void>, signal: AbortSignal | undefined): Promise<() => void> {
  if (!signal) return subscribing;
  let onAbort = (): void => undefined;
  const aborted = new Promise<never>((_, reject) => {
    onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
  });
  let stop: () => void;
  try {
    stop = await Promise.race([subscribing, aborted]);
  } catch (err) {
    if (signal.aborted) subscribing.then((made) => made(), () => undefined);
    throw err;
  } finally {
    signal.removeEventListener('abort', onAbort);
  }
  const end = (): void => {
    signal.removeEventListener('abort', end);
    stop();
  };
  if (signal.aborted) end();
  else signal.addEventListener('abort', end, { once: true });
  if (signal.aborted) throw signal.reason;
  return end;
}
