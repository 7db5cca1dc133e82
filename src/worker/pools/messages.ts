/**
 * What the parent and a child say to each other, and how errors and control signals cross: as data, never as
 * class instances, since the child's classes are not the parent's (another realm, maybe another copy of the
 * package). Errors travel in Celery's shape plus their JS name and stack, so the parent rebuilds the same
 * built-in class (a RangeError stays a RangeError for `autoretryFor`), our own classes by name, and anything else
 * as a RemoteTaskError carrying the original name, message and stack.
 */
import {
  Reject,
  Retry,
  deserializeError,
  serializeError,
  toError,
  type SerializedException,
} from '../../errors/index.js';
import { UnencodableValue, type EncodeProblem } from '../../protocol/encodable.js';
import type { TaskState } from '../../protocol/types.js';
import type { Outcome } from '../executor.js';
import type { PoolJob } from './pool.js';

export interface WireError {
  exc: SerializedException;
  name: string;
  message: string;
  stack: string | undefined;
  cause?: WireError;
}

/** How the task ended, as the child saw it; the parent adds nothing but the class instances. */
export type WireResult =
  /** `unencodable`: the value could not be stored or sent, and is not; the problem found goes instead. */
  | { kind: 'success'; value: unknown; unencodable?: EncodeProblem }
  | { kind: 'failure'; error: WireError; badInput: boolean }
  | { kind: 'retry'; countdown: number; eta: Date | undefined; maxRetries: number | null | undefined; exc: WireError | undefined }
  | { kind: 'reject'; reason: string; requeue: boolean }
  | { kind: 'ignore' };

/** Memory after a task, in bytes: rss for processes, the isolate's heap plus external memory for threads. */
export interface Usage {
  rss: number;
  heap: number;
}

export type ToChild =
  | { type: 'run'; job: PoolJob }
  | { type: 'state-ack'; seq: number; error: string | null }
  | { type: 'exit' };

export type FromChild =
  | { type: 'ready'; pid: number }
  | { type: 'load-error'; error: WireError }
  | { type: 'update-state'; seq: number; state: TaskState; meta: unknown }
  | { type: 'done'; id: string; result: WireResult; runtime: number; usage: Usage };

const BUILTIN: Record<string, new (message: string) => Error> = {
  Error,
  TypeError,
  RangeError,
  SyntaxError,
  ReferenceError,
  EvalError,
  URIError,
};

export function encodeError(err: unknown, depth = 0): WireError {
  const e = toError(err);
  const wire: WireError = { exc: serializeError(e), name: e.name, message: String(e.message), stack: e.stack };
  // A cause chain can be cyclic; three levels say what went wrong without risking that.
  if (e.cause !== undefined && depth < 3) wire.cause = encodeError(e.cause, depth + 1);
  return wire;
}

export function decodeError(wire: WireError): Error {
  const Builtin = Object.hasOwn(BUILTIN, wire.name) ? BUILTIN[wire.name] : undefined;
  const e = Builtin ? new Builtin(wire.message) : deserializeError(wire.exc, null);
  if (wire.stack !== undefined) e.stack = wire.stack;
  if (wire.cause) e.cause = decodeError(wire.cause);
  return e;
}

export function decodeResult(result: WireResult, runtime: number): Outcome {
  switch (result.kind) {
    case 'success':
      return { kind: 'success', value: result.unencodable ? new UnencodableValue(result.unencodable) : result.value, runtime };
    case 'failure':
      return { kind: 'failure', error: decodeError(result.error), badInput: result.badInput, runtime };
    case 'retry': {
      const exc = result.exc ? decodeError(result.exc) : undefined;
      return { kind: 'retry', signal: new Retry(result.countdown, exc, result.eta, result.maxRetries), runtime };
    }
    case 'reject':
      return { kind: 'reject', signal: new Reject(result.reason, result.requeue), runtime };
    case 'ignore':
      return { kind: 'ignore', runtime };
  }
}
