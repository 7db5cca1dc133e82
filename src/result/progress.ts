/**
 * Watching a task's progress: the states it passes through (STARTED, PROGRESS with its `{current, total}` meta,
 * RETRY, ...) until it is ready. The ready state comes from the backend's `waitFor`, so it arrives as soon as the
 * store announces it (Redis pub/sub, PostgreSQL LISTEN/NOTIFY, the SQLite change watcher). The backend port has no
 * notification for states before that, so those are read every `intervalMs` (250 ms by default): a state that
 * lasts less than one interval may be skipped, and consecutive reads that find the same state and meta yield once.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { ResultBackend } from '../backend/port.js';
import { TimeoutError } from '../errors/index.js';
import type { ResultMeta, TaskState } from '../protocol/types.js';
import { READY_STATES } from '../protocol/types.js';

/** One observed change of a task's state. */
export interface ProgressEvent {
  state: TaskState;
  /**
   * The stored `result` field: the custom-state meta while running (PROGRESS `{current, total}`), the return value
   * on SUCCESS, the serialized error on FAILURE/RETRY/REVOKED; null while PENDING.
   */
  meta: unknown;
  /** True for SUCCESS, FAILURE and REVOKED: the last event. */
  ready: boolean;
  /** The whole stored record (traceback, date_done, ...); null while PENDING. */
  record: ResultMeta | null;
}

export interface ProgressOptions {
  /** How often states before the ready one are read, in ms (default 250). */
  intervalMs?: number;
  /** Reject with TimeoutError when the task is not ready after this many ms. Default: wait forever. */
  timeout?: number;
  /** Ends the iteration (rejecting with the signal's reason). */
  signal?: AbortSignal;
}

export interface SubscribeOptions extends ProgressOptions {
  /**
   * Called when reading fails, the timeout passes or the callback throws; the subscription has ended by then.
   * Default: ignored. Unsubscribing or aborting `signal` ends it without an error.
   */
  onError?: (err: unknown) => void;
}

export const DEFAULT_PROGRESS_INTERVAL_MS = 250;

/**
 * Yields the task's state and meta every time either changes, starting with the current one, and ends after
 * yielding a ready state. Breaking out of the loop stops the reads and the wait.
 */
export async function* watchProgress(backend: () => Promise<ResultBackend>, taskId: string, options: ProgressOptions = {}): AsyncGenerator<ProgressEvent> {
  const intervalMs = options.intervalMs ?? DEFAULT_PROGRESS_INTERVAL_MS;
  if (!Number.isFinite(intervalMs) || intervalMs <= 0) throw new TypeError(`progress intervalMs must be a positive number of ms, got ${intervalMs}`);
  const store = await backend();
  const { signal, stop } = linked(options.signal);
  const deadline = options.timeout === undefined ? undefined : Date.now() + options.timeout;
  let finalMeta: ResultMeta | undefined;
  let waitError: unknown;
  const ready = store.waitFor(taskId, { signal, timeoutMs: options.timeout }).then(
    (meta) => {
      finalMeta = meta;
    },
    (err: unknown) => {
      waitError = err;
    },
  );
  let last: string | undefined;
  try {
    while (true) {
      if (finalMeta) {
        yield event(finalMeta);
        return;
      }
      if (waitError !== undefined) throw wrapTimeout(waitError, taskId, options.timeout);
      const record = await store.get(taskId);
      if (record && READY_STATES.has(record.status)) {
        yield event(record);
        return;
      }
      const current = event(record);
      const key = JSON.stringify([current.state, current.meta]);
      if (key !== last) {
        last = key;
        yield current;
      }
      const wait = deadline === undefined ? intervalMs : Math.min(intervalMs, Math.max(0, deadline - Date.now()));
      await Promise.race([ready, sleep(wait, undefined, { signal }).catch(() => undefined)]);
      signal.throwIfAborted();
    }
  } finally {
    stop();
    await ready;
  }
}

/**
 * Calls `onEvent` for every change `watchProgress` yields, in the background; returns a function that stops it.
 * Errors (a failed read, a timeout, a throwing callback) go to `options.onError` and end the subscription.
 */
export function subscribeProgress(
  backend: () => Promise<ResultBackend>,
  taskId: string,
  onEvent: (event: ProgressEvent) => void,
  options: SubscribeOptions = {},
): () => void {
  const { signal, stop } = linked(options.signal);
  let stopped = false;
  void (async () => {
    try {
      for await (const e of watchProgress(backend, taskId, { ...options, signal })) onEvent(e);
    } catch (err) {
      if (!stopped && !options.signal?.aborted) options.onError?.(err);
    } finally {
      stop();
    }
  })();
  return () => {
    stopped = true;
    stop();
  };
}

/**
 * A signal that aborts with `outer` or when `stop` is called; `stop` also detaches it from `outer`. (AbortSignal.any
 * would do, but arrived in Node 20.3.)
 */
function linked(outer: AbortSignal | undefined): { signal: AbortSignal; stop: () => void } {
  const controller = new AbortController();
  const onAbort = (): void => controller.abort(outer?.reason);
  if (outer?.aborted) onAbort();
  else outer?.addEventListener('abort', onAbort, { once: true });
  return {
    signal: controller.signal,
    stop: () => {
      outer?.removeEventListener('abort', onAbort);
      controller.abort();
    },
  };
}

function event(record: ResultMeta | null): ProgressEvent {
  const state = record?.status ?? 'PENDING';
  return { state, meta: record?.result ?? null, ready: READY_STATES.has(state), record };
}

function wrapTimeout(err: unknown, taskId: string, timeout: number | undefined): unknown {
  return err instanceof TimeoutError ? new TimeoutError(`task ${taskId} not ready after ${timeout} ms`, { cause: err }) : err;
}
