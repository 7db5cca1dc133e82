/**
 * Runs one task request in the async pool: binds arguments, builds the context (`this`), arms the time limits and
 * turns whatever happens into an Outcome. It never throws; the worker decides what each outcome means for the
 * message (ack, retry, dead letter) and the result store.
 */
import type { AnyTask, RetryOptions, TaskContext } from '../app/task.js';
import {
  Ignore,
  Reject,
  Retry,
  SoftTimeLimitExceeded,
  TimeLimitExceeded,
  toError,
} from '../errors/index.js';
import type { Delivery } from '../broker/port.js';
import type { TaskRequest, TaskState } from '../protocol/types.js';
import { bindArguments } from './arguments.js';

export type Outcome =
  | { kind: 'success'; value: unknown; runtime: number }
  /** `badInput`: the call itself was wrong (arguments), so the message also goes to the dead-letter store. */
  | { kind: 'failure'; error: Error; runtime: number; badInput: boolean }
  | { kind: 'retry'; signal: Retry; runtime: number }
  | { kind: 'reject'; signal: Reject; runtime: number }
  | { kind: 'ignore'; runtime: number }
  | { kind: 'timeout'; error: TimeLimitExceeded; runtime: number };

export interface ExecuteInput {
  req: TaskRequest;
  delivery: Delivery;
  task: AnyTask;
  hostname: string;
  /** Aborted by revoke/terminate or shutdown; the executor adds the soft limit. */
  controller: AbortController;
  /** [hard, soft] seconds after the message's and the task's settings are combined. */
  limits: { hard: number | null; soft: number | null };
  defaultRetryDelay: number;
  updateState(state: TaskState, meta: unknown): Promise<void>;
}

export async function execute(input: ExecuteInput): Promise<Outcome> {
  const { req, task, controller, limits } = input;
  const started = performance.now();
  const runtime = () => (performance.now() - started) / 1000;
  let args: unknown[];
  try {
    args = bindArguments(task, req.args, req.kwargs);
  } catch (err) {
    return { kind: 'failure', error: toError(err), runtime: 0, badInput: true };
  }

  const ctx = createContext(input, controller);
  const runTask = async (): Promise<Outcome> => {
    try {
      const value = await task.fn.apply(ctx, args);
      return { kind: 'success', value, runtime: runtime() };
    } catch (err) {
      if (err instanceof Retry) return { kind: 'retry', signal: err, runtime: runtime() };
      if (err instanceof Reject) return { kind: 'reject', signal: err, runtime: runtime() };
      if (err instanceof Ignore) return { kind: 'ignore', runtime: runtime() };
      return { kind: 'failure', error: toError(err), runtime: runtime(), badInput: false };
    }
  };
  // Most tasks run without limits: no timers and no race to set up for them.
  if (!limits.soft && !limits.hard) return runTask();
  let soft: NodeJS.Timeout | undefined;
  let hardTimer: NodeJS.Timeout | undefined;
  if (limits.soft) {
    soft = setTimeout(() => {
      controller.abort(new SoftTimeLimitExceeded(`soft time limit (${limits.soft}s) exceeded`));
    }, limits.soft * 1000);
  }
  const hard = new Promise<Outcome>((resolve) => {
    if (!limits.hard) return;
    hardTimer = setTimeout(() => {
      const error = new TimeLimitExceeded(`hard time limit (${limits.hard}s) exceeded`);
      // The async pool cannot kill a promise: the task is failed and its slot freed; the abort signal tells
      // cooperative code to stop. The threads and process pools kill for real.
      if (!controller.signal.aborted) controller.abort(error);
      resolve({ kind: 'timeout', error, runtime: runtime() });
    }, limits.hard * 1000);
  });
  try {
    // Timers are armed before the function starts, so its synchronous part counts against the limits too.
    return await Promise.race([runTask(), hard]);
  } finally {
    clearTimeout(soft);
    clearTimeout(hardTimer);
  }
}

function createContext(input: ExecuteInput, controller: AbortController): TaskContext {
  return new Context(input, controller);
}

/**
 * `this` of a running task. A class, so the `signal` getter lives on the prototype instead of being defined on
 * every context; `updateState` and `retry` stay per-instance arrows so they keep working when destructured.
 */
class Context implements TaskContext {
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
  readonly updateState: TaskContext['updateState'];
  readonly retry: TaskContext['retry'];
  readonly #controller: AbortController;

  constructor(input: ExecuteInput, controller: AbortController) {
    const { req, delivery, task } = input;
    this.id = req.id;
    this.name = req.task;
    this.retries = req.retries;
    this.args = req.args;
    this.kwargs = req.kwargs;
    this.rootId = req.rootId;
    this.parentId = req.parentId;
    this.group = req.group;
    this.eta = req.eta;
    this.expires = req.expires;
    this.hostname = input.hostname;
    this.delivery = { queue: delivery.queue, priority: delivery.priority, redelivered: delivery.redelivered };
    this.#controller = controller;
    this.updateState = (state, meta) => input.updateState(state, meta ?? null);
    this.retry = (options: RetryOptions = {}): never => {
      const countdown = options.countdown ?? task.options.defaultRetryDelay ?? input.defaultRetryDelay;
      throw new Retry(countdown, options.exc, options.eta, options.maxRetries);
    };
  }

  /** The AbortSignal is created on first read; most tasks never read it (3.4 us per task when made eagerly). */
  get signal(): AbortSignal {
    return this.#controller.signal;
  }
}
