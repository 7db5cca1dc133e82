/**
 * One root class for everything Celerity throws, with control signals (Retry, Reject, Ignore) kept apart from
 * failures. Errors cross the wire in Celery's shape ({exc_type, exc_message, exc_module} plus a text traceback),
 * so a Python caller sees the type and message, and a TypeScript caller gets an Error rebuilt with name, message
 * and stack.
 */
import { maskPassword } from '../util/mask.js';

export class CelerityError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** The app module given as `-A` cannot be found or loaded, or exports no app. */
export class AppLoadError extends CelerityError {}

/**
 * Bad configuration: names the key, the value and what was expected. Passwords in the value are masked (in the
 * message and in `value`, which loggers print with the error), whoever throws it: a broker URL typed under the
 * wrong name, or handed to a command that cannot use it, is still a URL with a password.
 */
export class ConfigurationError extends CelerityError {
  readonly value: unknown;

  constructor(
    readonly key: string,
    value: unknown,
    readonly expected: string,
  ) {
    const masked = maskValue(value, new Set());
    super(`invalid setting ${key}=${safeString(masked)}: expected ${expected}`);
    this.value = masked;
  }
}

/** `value` with maskPassword applied to every string in it (arrays and plain objects are copied, not changed). */
function maskValue(value: unknown, seen: Set<object>): unknown {
  if (typeof value === 'string') return maskPassword(value);
  if (!value || typeof value !== 'object' || seen.has(value)) return value;
  seen.add(value);
  if (Array.isArray(value)) return value.map((v) => maskValue(v, seen));
  if (Object.getPrototypeOf(value) !== Object.prototype && Object.getPrototypeOf(value) !== null) return value;
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, maskValue(v, seen)]));
}

/** A broker or backend could not be reached or the URL is unusable. */
export class ConnectionError extends CelerityError {}

/** A message could not be decoded (bad JSON, unknown content type, missing fields). */
export class DecodeError extends CelerityError {}

/** A content type that is not on the accept-list (Celery's ContentDisallowed). */
export class ContentDisallowed extends DecodeError {}

/**
 * A value cannot be stored as a result (a Map, NaN, a cycle, ...). Stored as Celery stores it, kombu's
 * `EncodeError`, so a Python caller's AsyncResult raises the same class its own workers would.
 */
export class EncodeError extends CelerityError {}

/** A worker received a task name it does not know (Celery's NotRegistered). */
export class NotRegistered extends CelerityError {
  static forTask(taskName: string): NotRegistered {
    return new NotRegistered(`task ${JSON.stringify(taskName)} is not registered in this worker`);
  }
}

/** `get({timeout})` ran out of time (Celery's celery.exceptions.TimeoutError). */
export class TimeoutError extends CelerityError {}

/** The task was revoked, or expired before it ran (Celery's TaskRevokedError). */
export class TaskRevokedError extends CelerityError {}

/** Raised inside a task when its soft time limit passes; the task may catch it and clean up. */
export class SoftTimeLimitExceeded extends CelerityError {}

/** Stored when a task ran past its hard time limit. */
export class TimeLimitExceeded extends CelerityError {}

/** Retries exhausted. */
export class MaxRetriesExceededError extends CelerityError {}

/** A chord's body could not run: a header member failed or was revoked (Celery's ChordError). */
export class ChordError extends CelerityError {}

/**
 * The thread or child process running a task died before it finished (process.exit, an uncaught exception, out
 * of memory, killed from outside). On the wire as billiard's WorkerLostError, which Celery raises in that case.
 */
export class WorkerLostError extends CelerityError {}

/**
 * A failure that happened in a task, possibly in another language: carries the remote type, module and traceback.
 * `get()` rejects with this when the remote type is not one Celerity knows.
 */
export class RemoteTaskError extends CelerityError {
  constructor(
    readonly excType: string,
    readonly excModule: string | null,
    message: string,
    readonly traceback: string | null,
  ) {
    super(message);
    this.name = excType;
    if (traceback) this.stack = `${excType}: ${message}\n${traceback}`;
  }
}

// ---- control signals: not failures ---------------------------------------------------------------------------

/** Base of the signals a task throws to steer the worker; never stored as a failure by themselves. */
export class ControlSignal extends CelerityError {}

/** Thrown by `this.retry()`: the worker schedules another attempt. */
export class Retry extends ControlSignal {
  constructor(
    readonly countdown: number,
    readonly exc: Error | undefined,
    readonly eta: Date | undefined,
    /** Overrides the task's maxRetries for this decision (undefined = the task's). */
    readonly maxRetries?: number | null,
  ) {
    super(exc ? `Retry in ${countdown}s: ${exc.message}` : `Retry in ${countdown}s`, { cause: exc });
  }
}

/** Thrown to reject the message (dead-letter it, or requeue it when `requeue` is set). */
export class Reject extends ControlSignal {
  constructor(
    readonly reason: string,
    readonly requeue = false,
  ) {
    super(reason);
  }
}

/** Thrown to stop processing without storing a result (Celery's Ignore). */
export class Ignore extends ControlSignal {}

// ---- the wire shape --------------------------------------------------------------------------------------------

export interface SerializedException {
  exc_type: string;
  exc_message: unknown[];
  exc_module: string;
}

/** Our classes live on the wire under the module names Celery uses, so Python rebuilds the same exception. */
const CELERY_EXCEPTIONS = new Set([
  'TimeoutError',
  'TaskRevokedError',
  'SoftTimeLimitExceeded',
  'TimeLimitExceeded',
  'MaxRetriesExceededError',
  'NotRegistered',
  'ChordError',
]);

const KNOWN: Record<string, new (message: string) => Error> = {
  TimeoutError,
  TaskRevokedError,
  SoftTimeLimitExceeded,
  TimeLimitExceeded,
  MaxRetriesExceededError,
  NotRegistered,
  ChordError,
  Error,
  RangeError,
  SyntaxError,
  ReferenceError,
  EvalError,
  URIError,
};

/** JS built-in errors map to the closest Python built-in so a Python caller can `except` them. */
const JS_TO_PY: Record<string, string> = {
  TypeError: 'TypeError',
  RangeError: 'ValueError',
  Error: 'Exception',
};

export function serializeError(err: unknown): SerializedException {
  const e = toError(err);
  const name = e.name || 'Error';
  if (name === 'WorkerLostError') return { exc_type: name, exc_message: [e.message], exc_module: 'billiard.exceptions' };
  if (name === 'EncodeError') return { exc_type: name, exc_message: [e.message], exc_module: 'kombu.exceptions' };
  if (CELERY_EXCEPTIONS.has(name)) {
    return { exc_type: name, exc_message: [e.message], exc_module: 'celery.exceptions' };
  }
  if (e instanceof RemoteTaskError) {
    return { exc_type: e.excType, exc_message: [e.message], exc_module: e.excModule ?? 'builtins' };
  }
  const py = JS_TO_PY[name];
  if (py) return { exc_type: py, exc_message: [e.message], exc_module: 'builtins' };
  return { exc_type: name, exc_message: [e.message], exc_module: 'builtins' };
}

/** Rebuild an error from Celery's result meta: our own classes when known, otherwise a RemoteTaskError. */
export function deserializeError(value: unknown, traceback: string | null): Error {
  if (!value || typeof value !== 'object') {
    return new RemoteTaskError('Exception', 'builtins', safeString(value), traceback);
  }
  const v = value as Partial<SerializedException>;
  const type = typeof v.exc_type === 'string' ? v.exc_type : 'Exception';
  const message = formatExcMessage(v.exc_message);
  const module = typeof v.exc_module === 'string' ? v.exc_module : null;
  if ((module === 'billiard.exceptions' && type === 'WorkerLostError') || (module === 'kombu.exceptions' && type === 'EncodeError')) {
    const e = type === 'EncodeError' ? new EncodeError(message) : new WorkerLostError(message);
    if (traceback) e.stack = `${type}: ${message}\n${traceback}`;
    return e;
  }
  if (module === 'celery.exceptions' || module === 'builtins') {
    const Known = KNOWN[type === 'Exception' ? 'Error' : type];
    if (Known && (module === 'celery.exceptions') === CELERY_EXCEPTIONS.has(type)) {
      const e = new Known(message);
      if (traceback) e.stack = `${type}: ${message}\n${traceback}`;
      return e;
    }
  }
  return new RemoteTaskError(type, module, message, traceback);
}

function formatExcMessage(m: unknown): string {
  if (Array.isArray(m)) {
    if (m.length === 1) return typeof m[0] === 'string' ? m[0] : safeString(m[0]);
    return m.map((x) => (typeof x === 'string' ? x : safeString(x))).join(', ');
  }
  return typeof m === 'string' ? m : safeString(m);
}

export function toError(err: unknown): Error {
  if (err instanceof Error) return err;
  return new Error(typeof err === 'string' ? err : safeString(err));
}

/** A text traceback in the shape Python prints, so Flower and Python callers show something familiar. */
export function formatTraceback(err: unknown): string {
  const e = toError(err);
  const frames = (e.stack ?? '').split('\n').slice(1).join('\n');
  return `Traceback (most recent call last):\n${frames}\n${serializeError(e).exc_type}: ${e.message}`;
}

function safeString(value: unknown): string {
  try {
    return typeof value === 'string' ? JSON.stringify(value) : (JSON.stringify(value) ?? String(value));
  } catch {
    return String(value);
  }
}
