/**
 * Readiness: can this process reach its broker and its result backend right now? Each check is one cheap round
 * trip (the size of the default queue; the result of an id that does not exist), bounded by a timeout, so an
 * unreachable server answers "not ready" within it instead of leaving the probe hanging while the client
 * reconnects.
 */
import type { ResultBackend } from '../backend/port.js';
import type { Broker } from '../broker/port.js';

export interface CheckResult {
  ok: boolean;
  /** How long the check took (up to the timeout). */
  ms: number;
  error?: string;
}

export interface Readiness {
  ok: boolean;
  checks: { broker: CheckResult; backend: CheckResult };
}

/** A connection, or how to get one (`app.broker`): connecting counts against the timeout too. */
type Source<T> = T | (() => Promise<T>);

export interface ReadyOptions {
  broker: Source<Broker>;
  backend: Source<ResultBackend>;
  /** Per check (they run at once); default 2 s. */
  timeoutMs?: number;
  /** The queue whose size is asked (default `celery`). */
  queue?: string;
}

/** An id no task has: a get of it reads nothing and writes nothing. */
const PROBE_ID = 'celerity-readiness-probe-00000000-0000-0000-0000-000000000000';

export async function checkReady(options: ReadyOptions): Promise<Readiness> {
  const timeoutMs = options.timeoutMs ?? 2000;
  const queue = options.queue ?? 'celery';
  const [broker, backend] = await Promise.all([
    timed('broker', timeoutMs, async () => {
      await (await resolve(options.broker)).size(queue);
    }),
    timed('backend', timeoutMs, async () => {
      await (await resolve(options.backend)).get(PROBE_ID);
    }),
  ]);
  return { ok: broker.ok && backend.ok, checks: { broker, backend } };
}

/**
 * `work()` settled within `ms`, or a TimeoutError naming `what`. The work is not cancelled (clients give no way
 * to), but its late failure is swallowed here rather than left unhandled.
 */
export function withTimeout<T>(what: string, ms: number, work: () => Promise<T>): Promise<T> {
  return new Promise<T>((resolvePromise, reject) => {
    const timer = setTimeout(() => reject(new Error(`${what} did not answer within ${ms} ms`)), ms);
    Promise.resolve()
      .then(work)
      .then(
        (v) => {
          clearTimeout(timer);
          resolvePromise(v);
        },
        (err: unknown) => {
          clearTimeout(timer);
          reject(err instanceof Error ? err : new Error(String(err)));
        },
      );
  });
}

async function timed(what: string, ms: number, work: () => Promise<void>): Promise<CheckResult> {
  const start = performance.now();
  try {
    await withTimeout(what, ms, work);
    return { ok: true, ms: Math.round(performance.now() - start) };
  } catch (err) {
    return { ok: false, ms: Math.round(performance.now() - start), error: err instanceof Error ? err.message : String(err) };
  }
}

function resolve<T>(source: Source<T>): Promise<T> {
  return typeof source === 'function' ? (source as () => Promise<T>)() : Promise.resolve(source);
}
