/**
 * Task definitions. Argument and result types flow from the function: `app.task('add', (x: number, y: number) =>
 * x + y)` gives `delay(x: number, y: number)` resolving to `AsyncResult<number>`.
 *
 * The running task's context is `this` (Celery's `bind=True` self): write the task as a `function` to use it.
 * Arrow functions simply don't see it. Keeping it off the argument list keeps `fn.length` and the argument types
 * equal to what callers pass.
 */
import type { ApplyOptions } from '../canvas/options.js';
import type { AsyncResult, GroupResult } from '../result/results.js';
import type { TaskState } from '../protocol/types.js';
import type { CanvasHost } from '../canvas/host.js';
import { Signature, type SignatureOptions } from '../canvas/signature.js';
import { taskDict } from '../canvas/dicts.js';
import { chunksSignature, mapSignature } from '../canvas/map.js';

/** Options of a task definition. Times are in seconds, as in Celery. */
export interface TaskOptions {
  /** Names of the positional parameters, so Celery kwargs (`add.delay(x=2, y=3)` from Python) reach them. */
  params?: readonly string[];
  /** Accept keyword arguments that match no `params` entry (Python's `**kwargs`); the task reads `this.kwargs`. */
  varKwargs?: boolean;
  queue?: string;
  priority?: number;
  /** Retries allowed for `retry()` and `autoretryFor`; null = unlimited. Default: the app's `maxRetries` (3). */
  maxRetries?: number | null;
  /** Seconds before a retry when `retry()` gets no countdown. Default: the app's `defaultRetryDelay` (180). */
  defaultRetryDelay?: number;
  /** Error classes (or names) that trigger an automatic retry. */
  autoretryFor?: readonly (string | (abstract new (...args: never[]) => Error))[];
  /** Exponential backoff for automatic retries: true = 1 s factor, or the factor in seconds. */
  retryBackoff?: boolean | number;
  /** Upper bound of the backoff delay in seconds (Celery's default 600). */
  retryBackoffMax?: number;
  /** Randomise the delay in [0, delay) (Celery's "full jitter"); default true. */
  retryJitter?: boolean;
  /** Ack after the task finishes (at-least-once). Default: the app's `acksLate` (true). */
  acksLate?: boolean;
  ignoreResult?: boolean;
  /** Seconds; fires the abort signal with SoftTimeLimitExceeded. */
  softTimeLimit?: number;
  /** Seconds; the task is failed with TimeLimitExceeded. */
  timeLimit?: number;
  trackStarted?: boolean;
  /**
   * Most starts per worker, Celery's `rate_limit`: `'10/s'`, `'100/m'`, `'1000/h'` or a number per second. Starts
   * are spaced evenly; a task over its rate waits in the worker, still reserved.
   */
  rateLimit?: string | number | null;
  /** The same, but one budget shared by all workers on the broker (Redis, SQLite, memory). */
  globalRateLimit?: string | number | null;
  /**
   * With the threads or process pool: when the child running this task dies, put the message back on the queue
   * instead of failing the task with WorkerLostError (Celery's `reject_on_worker_lost`). Needs `acksLate`.
   */
  rejectOnWorkerLost?: boolean;
}

/** What a running task sees as `this`. */
export interface TaskContext {
  readonly id: string;
  readonly name: string;
  readonly retries: number;
  readonly args: readonly unknown[];
  readonly kwargs: Readonly<Record<string, unknown>>;
  readonly rootId: string | null;
  readonly parentId: string | null;
  readonly group: string | null;
  readonly eta: Date | null;
  readonly expires: Date | null;
  readonly hostname: string;
  readonly delivery: { readonly queue: string; readonly priority: number; readonly redelivered: boolean };
  /** Aborts on soft time limit, revoke with terminate, and worker shutdown past its deadline. */
  readonly signal: AbortSignal;
  /** Store a state (custom ones too) with metadata, e.g. `updateState('PROGRESS', {current, total})`. */
  updateState(state: TaskState, meta?: unknown): Promise<void>;
  /** Schedule another attempt and stop this one (throws). Countdown in seconds. */
  retry(options?: RetryOptions): never;
}

export interface RetryOptions {
  countdown?: number;
  eta?: Date;
  exc?: Error;
  maxRetries?: number | null;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- the constraint must accept every parameter list
export type TaskFn = (this: TaskContext, ...args: any[]) => unknown;

/** The part of the app a Task needs; keeps task.ts free of a cycle with celerity.ts. */
export interface TaskSender {
  sendTask<R>(name: string, args: readonly unknown[], options: ApplyOptions, task?: AnyTask): Promise<AsyncResult<R>>;
  readonly canvas: CanvasHost;
}

/** The ways a parameter list can end (itself, then each shorter tail, optional elements kept): what `s()` binds. */
export type Suffix<T extends unknown[]> = number extends T['length']
  ? T // a rest parameter: any arguments
  : T extends []
    ? []
    : T extends [unknown?, ...infer Rest]
      ? T | Suffix<Rest>
      : T;

/**
 * The parameters left in front once `B` is bound: the shortest run of leading parameters that, followed by `B`,
 * is a valid call. Bound arguments go after what a chain passes in, so for `f(a: string, b?: number)`,
 * `f.s('x')` is the whole call `f('x')` and takes nothing more, while `f.s()` takes `a`.
 */
export type Unbound<P extends unknown[], B extends unknown[], Pre extends unknown[] = []> = number extends P['length']
  ? P
  : [...Pre, ...B] extends P
    ? Pre
    : Pre['length'] extends Required<P>['length']
      ? never
      : Unbound<P, B, [...Pre, Required<P>[Pre['length']]]>;

export class Task<F extends TaskFn> {
  constructor(
    readonly name: string,
    readonly fn: F,
    readonly options: Readonly<TaskOptions>,
    private readonly sender: TaskSender,
  ) {}

  /** Send with positional arguments and default options. */
  delay(...args: Parameters<F>): Promise<AsyncResult<Awaited<ReturnType<F>>>> {
    return this.sender.sendTask(this.name, args, {}, this);
  }

  /** Send with options (countdown, eta, expires, queue, priority, taskId, kwargs, ...). */
  applyAsync(args: Parameters<F>, options: ApplyOptions = {}): Promise<AsyncResult<Awaited<ReturnType<F>>>> {
    return this.sender.sendTask(this.name, args, options, this);
  }

  /**
   * A signature with the trailing arguments bound (Celery's `task.s()`): in a chain the previous result is passed
   * in front of them. `validate.s(true)` for `validate(page, strict)` takes the page from the step before.
   * @example
   * await chain(crawl.s(url), validate.s(true)).applyAsync();
   */
  s<B extends Suffix<Parameters<F>>>(...args: B): Signature<Unbound<Parameters<F>, B>, Awaited<ReturnType<F>>> {
    return new Signature(taskDict(this.name, args, {}, false), this.sender.canvas);
  }

  /** An immutable signature (Celery's `task.si()`): all arguments bound, a parent's result is ignored. */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- it accepts (and ignores) whatever comes in
  si(...args: Parameters<F>): Signature<any[], Awaited<ReturnType<F>>> {
    return new Signature(taskDict(this.name, args, {}, true), this.sender.canvas);
  }

  /** A signature with keyword arguments and options (Celery's `task.signature(args, kwargs, **options)`). */
  signature<B extends Suffix<Parameters<F>>>(
    args: B,
    options: SignatureOptions & { kwargs?: Record<string, unknown>; immutable?: boolean } = {},
  ): Signature<Unbound<Parameters<F>, B>, Awaited<ReturnType<F>>> {
    const { kwargs, immutable, ...rest } = options;
    return new Signature<Unbound<Parameters<F>, B>, Awaited<ReturnType<F>>>(
      taskDict(this.name, args, kwargs ?? {}, immutable ?? false),
      this.sender.canvas,
    ).set(rest);
  }

  /** One message that calls this task once per item, in order, in one worker (Celery's `task.map`). */
  map(items: readonly Parameters<F>[0][]): Signature<[], Awaited<ReturnType<F>>[]> {
    return mapSignature('celery.map', this.name, items, this.sender.canvas);
  }

  /** Like map, with each item an argument list (Celery's `task.starmap`). */
  starmap(items: readonly Parameters<F>[]): Signature<[], Awaited<ReturnType<F>>[]> {
    return mapSignature('celery.starmap', this.name, items, this.sender.canvas);
  }

  /** The items split into groups of `n`, each run as a starmap: a group of `ceil(items / n)` messages. */
  chunks(items: readonly Parameters<F>[], n: number): Signature<[], Awaited<ReturnType<F>>[][], GroupResult<Awaited<ReturnType<F>>[][]>> {
    return chunksSignature(this.name, items, n, this.sender.canvas);
  }
}

/**
 * A task of any signature, as a registry or a worker holds it: what they use of it, so the typed calling methods
 * (whose parameter types differ per task) do not have to agree.
 */
export interface AnyTask {
  readonly name: string;
  readonly fn: TaskFn;
  readonly options: Readonly<TaskOptions>;
}
