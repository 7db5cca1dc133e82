/**
 * Watching a task's progress: the states it passes through (STARTED, PROGRESS with its `{current, total}` meta,
 * RETRY, ...) until it is ready. Where the store notifies (the backend's `watch`: Redis pub/sub, PostgreSQL
 * LISTEN/NOTIFY, the SQLite change watcher, the in-process store), every state is reported when it is written,
 * nothing is polled, and how much is seen is the store's guarantee: on Redis each write (every write is published),
 * on PostgreSQL and SQLite the latest state promptly (writes close together may be merged into the last one), never
 * out of order. The current state is read once after subscribing, so nothing written in between is lost; when a
 * notification answers before that read does, the read is dropped (it is as old or older). One narrow window
 * remains on Redis and PostgreSQL, where notifications come on a connection of their own: a state written in the
 * instant between subscribing and the read may be announced after the read answers, and so be reported again after
 * the newer state the read found. A store without `watch` (rpc://) is read every `intervalMs` (250 ms by default), and a state shorter than
 * that may be skipped. Either way consecutive events with the same state and meta yield once.
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
  /** How often a store that cannot notify (no `watch`) is read, in ms (default 250); others ignore it. */
  intervalMs?: number;
  /** Reject with TimeoutError when the task is not ready after this many ms. Default: wait forever. */
  timeout?: number;
  /** Ends the iteration (rejecting with the signal's reason). */
  signal?: AbortSignal;
}

export interface SubscribeOptions extends ProgressOptions {
  /**
   * Called when reading fails, the store ends the watch (it closed), the timeout passes or the callback throws; the
   * subscription has ended by then.
   * Default: ignored. Unsubscribing or aborting `signal` ends it without an error.
   */
  onError?: (err: unknown) => void;
}

export const DEFAULT_PROGRESS_INTERVAL_MS = 250;

/** Node's longest timer (~24.8 days). */
const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * Yields the task's state and meta every time either changes, starting with the current one, and ends after
 * yielding a ready state. Breaking out of the loop stops the subscription (or the reads).
 */
export async function* watchProgress(backend: () => Promise<ResultBackend>, taskId: string, options: ProgressOptions = {}): AsyncGenerator<ProgressEvent> {
  const intervalMs = options.intervalMs ?? DEFAULT_PROGRESS_INTERVAL_MS;
  if (!Number.isFinite(intervalMs) || intervalMs <= 0) throw new TypeError(`progress intervalMs must be a positive number of ms, got ${intervalMs}`);
  const store = await backend();
  if (store.watch) yield* followProgress(store, store.watch.bind(store), taskId, options);
  else yield* pollProgress(store, taskId, intervalMs, options);
}

type Watch = NonNullable<ResultBackend['watch']>;

/** Every state the store announces, after the one read once subscribed; the timeout aborts the whole of it. */
async function* followProgress(store: ResultBackend, watch: Watch, taskId: string, options: ProgressOptions): AsyncGenerator<ProgressEvent> {
  const { signal, stop, abort } = linked(options.signal);
  const { timeout } = options;
  // Node fires a longer timer at once; such a timeout means "forever", as it does for `waitFor`.
  const timer =
    timeout === undefined || !(timeout <= MAX_TIMER_MS)
      ? undefined
      : setTimeout(() => abort(new TimeoutError(`task ${taskId} not ready after ${timeout} ms`)), timeout);
  const announced: ResultMeta[] = [];
  let wake: (() => void) | null = null;
  let failure: { err: unknown } | null = null;
  let unwatch = (): void => undefined;
  const seen = changes();
  try {
    unwatch = await watch(
      taskId,
      (meta) => {
        announced.push(meta);
        wake?.();
      },
      {
        signal,
        onError: (err) => {
          failure = { err };
          wake?.();
        },
      },
    );
    const current = await abortable(store.get(taskId), signal);
    if (announced.length === 0) {
      const first = event(current);
      seen(first);
      yield first;
      if (first.ready) return;
    }
    while (true) {
      for (let meta = announced.shift(); meta; meta = announced.shift()) {
        const e = event(meta);
        if (seen(e)) yield e;
        if (e.ready) return;
      }
      if (failure) throw (failure as { err: unknown }).err;
      await abortable(new Promise<void>((resolve) => (wake = resolve)), signal);
      wake = null;
    }
  } finally {
    clearTimeout(timer);
    unwatch();
    stop();
  }
}

/** For a store that cannot notify: `get` every `intervalMs`, and `waitFor` for the ready state. */
async function* pollProgress(store: ResultBackend, taskId: string, intervalMs: number, options: ProgressOptions): AsyncGenerator<ProgressEvent> {
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
  const seen = changes();
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
      if (seen(current)) yield current;
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
 * A signal that aborts with `outer`, with `abort`'s reason, or when `stop` is called; `stop` also detaches it from
 * `outer`. (AbortSignal.any would do, but arrived in Node 20.3.)
 */
function linked(outer: AbortSignal | undefined): { signal: AbortSignal; stop: () => void; abort: (reason: unknown) => void } {
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
    abort: (reason) => controller.abort(reason),
  };
}

/** `pending`, or the signal's reason as soon as it aborts. */
async function abortable<T>(pending: Promise<T>, signal: AbortSignal): Promise<T> {
  signal.throwIfAborted();
  let onAbort = (): void => undefined;
  try {
    return await Promise.race([
      pending,
      new Promise<never>((_, reject) => {
        onAbort = () => reject(signal.reason);
        signal.addEventListener('abort', onAbort, { once: true });
      }),
    ]);
  } finally {
    signal.removeEventListener('abort', onAbort);
  }
}

/** True for an event whose state or meta differ from the last one it was given (a bigint meta compares by value). */
function changes(): (e: ProgressEvent) => boolean {
  let last: string | undefined;
  return (e) => {
    const key = JSON.stringify([e.state, e.meta], (_, v: unknown) => (typeof v === 'bigint' ? `${v}n` : v));
    if (key === last) return false;
    last = key;
    return true;
  };
}

function event(record: ResultMeta | null): ProgressEvent {
  const state = record?.status ?? 'PENDING';
  return { state, meta: record?.result ?? null, ready: READY_STATES.has(state), record };
}

function wrapTimeout(err: unknown, taskId: string, timeout: number | undefined): unknown {
  return err instanceof TimeoutError ? new TimeoutError(`task ${taskId} not ready after ${timeout} ms`, { cause: err }) : err;
}
