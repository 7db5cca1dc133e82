/**
 * Task events in Celery's format from the worker's own events: each `worker.on(...)` event becomes the Celery event
 * a 5.2 worker sends at the same moment (celery/worker/strategy.py for task-received, celery/worker/request.py for
 * the rest), with Celery's field names and Python reprs, so Flower and `celery events` read a Celerity worker as
 * they read a Celery one.
 *
 * Listeners are attached only while task events are on (`-E`, `sendTaskEvents`, or the `enable_events` command),
 * so a worker that does not send them pays nothing per task.
 */
import os from 'node:os';
import { formatTraceback, serializeError } from '../errors/index.js';
import { pyRepr, safeRepr, argsRepr, kwargsRepr, REPR_MAXSIZE } from '../protocol/repr.js';
import type { TaskRequest } from '../protocol/types.js';
import type { WorkerEvents } from './events.js';

/** The part of EventDispatcher this needs. */
export interface TaskEventSink {
  send(type: string, fields: Record<string, unknown>): Promise<void>;
}

/** What the node knows about a task that the worker's events do not carry. */
export interface TaskEventFacts {
  /** The pid running the task (a pool child's, or this process's); undefined while not known. */
  pidOf(req: TaskRequest): number | undefined;
  /** The signal of a revoke with terminate for this id, taken once; undefined when it was not terminated. */
  takeTermination(id: string): string | number | undefined;
}

type Listeners = { [K in keyof WorkerEvents]?: (...args: WorkerEvents[K]) => void };

interface Emitter {
  on<K extends keyof WorkerEvents>(event: K, listener: (...args: WorkerEvents[K]) => void): unknown;
  off<K extends keyof WorkerEvents>(event: K, listener: (...args: WorkerEvents[K]) => void): unknown;
}

export class TaskEventBridge {
  private readonly listeners: Listeners;
  private attached = false;

  constructor(
    private readonly worker: Emitter,
    sink: TaskEventSink,
    facts: TaskEventFacts,
  ) {
    const send = (type: string, fields: Record<string, unknown>): void => void sink.send(type, fields);
    this.listeners = {
      'task-received': (req) => send('task-received', receivedFields(req)),
      // After the worker's synchronous start of the task, by which a threads/process pool has picked the child.
      'task-started': (req) => queueMicrotask(() => send('task-started', { uuid: req.id, pid: facts.pidOf(req) ?? process.pid })),
      'task-succeeded': ({ id, result, runtime }) =>
        send('task-succeeded', { uuid: id, result: safeRepr(result, { maxlen: REPR_MAXSIZE }), runtime }),
      'task-failed': ({ id, error }) => {
        if (id) send('task-failed', { uuid: id, ...exceptionFields(error) });
      },
      'task-retried': ({ id, countdown, error }) =>
        send('task-retried', { uuid: id, ...exceptionFields(error ?? new Error(`Retry in ${countdown}s`)) }),
      'task-revoked': ({ id, expired }) => {
        const signal = facts.takeTermination(id);
        send('task-revoked', { uuid: id, terminated: signal !== undefined, signum: signum(signal), expired });
      },
      'task-rejected': ({ id, requeue }) => {
        if (id) send('task-rejected', { uuid: id, requeue });
      },
    };
  }

  get enabled(): boolean {
    return this.attached;
  }

  /** Starts sending task events; false when it already did. */
  enable(): boolean {
    if (this.attached) return false;
    this.attached = true;
    for (const [event, listener] of Object.entries(this.listeners)) this.worker.on(event as keyof WorkerEvents, listener as never);
    return true;
  }

  /** Stops sending task events; false when it already had. */
  disable(): boolean {
    if (!this.attached) return false;
    this.attached = false;
    for (const [event, listener] of Object.entries(this.listeners)) this.worker.off(event as keyof WorkerEvents, listener as never);
    return true;
  }
}

/** task-received as celery/worker/strategy.py sends it: the reprs of the message, eta and expires as sent. */
function receivedFields(req: TaskRequest): Record<string, unknown> {
  return {
    uuid: req.id,
    name: req.task,
    args: req.argsrepr ?? argsRepr(req.args),
    kwargs: req.kwargsrepr ?? kwargsRepr(req.kwargs),
    root_id: req.rootId,
    parent_id: req.parentId,
    retries: req.retries,
    eta: isoOf(req.headers.eta, req.eta),
    expires: isoOf(req.headers.expires, req.expires),
  };
}

/** The text of the message header when there is one (Celery sends its own), else the ISO form of the date. */
function isoOf(header: unknown, date: Date | null): string | null {
  if (typeof header === 'string' && header) return header;
  return date ? date.toISOString() : null;
}

/** `exception` as Python's repr of the exception (`ValueError('bad')`, its Python type name) and the traceback. */
function exceptionFields(error: Error): { exception: string; traceback: string } {
  return { exception: `${serializeError(error).exc_type}(${pyRepr(error.message)})`, traceback: formatTraceback(error) };
}

/** Celery sends the signal's number. */
function signum(signal: string | number | undefined): number | null {
  if (signal === undefined) return null;
  if (typeof signal === 'number') return signal;
  return (os.constants.signals as Record<string, number>)[signal] ?? null;
}
