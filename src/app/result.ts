/**
 * A handle on a task's result in the result backend. Reads go to the backend every time (like Celery's
 * AsyncResult.state), so `state`, `info`, `ready()` are promises.
 */
import type { ResultBackend } from '../backend/port.js';
import { deserializeError, TaskRevokedError, TimeoutError } from '../errors/index.js';
import type { ResultMeta, TaskState } from '../protocol/types.js';
import { READY_STATES } from '../protocol/types.js';

export interface GetOptions {
  /** Milliseconds; rejects with TimeoutError when the task is not ready by then. Default: wait forever. */
  timeout?: number;
  /** Reject with the task's error when it failed (default true); false resolves with the error instead. */
  propagate?: boolean;
  signal?: AbortSignal;
}

export interface ResultSource {
  backend(): Promise<ResultBackend>;
}

export class AsyncResult<T = unknown> {
  constructor(
    readonly id: string,
    private readonly source: ResultSource,
  ) {}

  /** The stored metadata, or null while PENDING (Celery keeps no record for pending tasks). */
  async meta(): Promise<ResultMeta | null> {
    return (await this.source.backend()).get(this.id);
  }

  /** PENDING, STARTED, SUCCESS, FAILURE, RETRY, REVOKED, or a custom state such as PROGRESS. */
  get state(): Promise<TaskState> {
    return this.meta().then((m) => m?.status ?? 'PENDING');
  }

  /** Celery's `info`: the result when ready, the exception on failure, the progress metadata otherwise. */
  get info(): Promise<unknown> {
    return this.meta().then((m) => {
      if (!m) return null;
      if (m.status === 'FAILURE' || m.status === 'RETRY' || m.status === 'REVOKED') {
        return deserializeError(m.result, m.traceback);
      }
      return m.result;
    });
  }

  get traceback(): Promise<string | null> {
    return this.meta().then((m) => m?.traceback ?? null);
  }

  async ready(): Promise<boolean> {
    return READY_STATES.has(await this.state);
  }

  async successful(): Promise<boolean> {
    return (await this.state) === 'SUCCESS';
  }

  async failed(): Promise<boolean> {
    return (await this.state) === 'FAILURE';
  }

  /**
   * Waits for the result. Resolves with the return value; rejects with the task's error rebuilt (type, message,
   * remote traceback as stack), TaskRevokedError, or TimeoutError after `timeout` ms.
   */
  async get(options: GetOptions = {}): Promise<T> {
    const backend = await this.source.backend();
    let meta: ResultMeta;
    try {
      meta = await backend.waitFor(this.id, { timeoutMs: options.timeout, signal: options.signal });
    } catch (err) {
      if (err instanceof TimeoutError) {
        throw new TimeoutError(`task ${this.id} not ready after ${options.timeout} ms`, { cause: err });
      }
      throw err;
    }
    if (meta.status === 'SUCCESS') return meta.result as T;
    const error =
      meta.status === 'REVOKED' && !isSerializedError(meta.result)
        ? new TaskRevokedError(`task ${this.id} was revoked`)
        : deserializeError(meta.result, meta.traceback);
    if (options.propagate === false) return error as T;
    throw error;
  }

  /** Removes the stored result. */
  async forget(): Promise<void> {
    await (await this.source.backend()).delete(this.id);
  }

  toJSON(): { id: string } {
    return { id: this.id };
  }
}

function isSerializedError(v: unknown): boolean {
  return !!v && typeof v === 'object' && 'exc_type' in v;
}
