/**
 * One received task event as a change to the task history, with Celery's mapping (celery/events/state.py
 * `Task.event`): the event type names the state, and the event's fields fill the task's. Events of other
 * `task-*` types (custom ones such as `task-progress`) add a timeline entry and nothing else; worker events and
 * anything else give null.
 *
 * Celery's task events carry no group id; that comes from the result store (reconcile.ts).
 */
import type { ReceivedEvent } from '../control/event-receiver.js';
import type { TaskRecord, TaskUpdate } from '../history/port.js';
import { argsFromRepr, kwargsFromRepr } from '../protocol/py-literal.js';

type Fields = NonNullable<TaskUpdate['fields']>;

/** The state each known task event means. */
const STATE_OF: Readonly<Record<string, string>> = {
  'task-sent': 'PENDING',
  'task-received': 'RECEIVED',
  'task-started': 'STARTED',
  'task-succeeded': 'SUCCESS',
  'task-failed': 'FAILURE',
  'task-retried': 'RETRY',
  'task-revoked': 'REVOKED',
  'task-rejected': 'REJECTED',
};

/** Fields every event has, left out of a timeline entry's own fields. */
const COMMON = new Set(['hostname', 'utcoffset', 'pid', 'clock', 'timestamp', 'type', 'uuid', 'local_received']);

/** The history change `event` makes, or null for an event that is not about one task. */
export function taskUpdateFromEvent(event: ReceivedEvent): TaskUpdate | null {
  if (typeof event.type !== 'string' || !event.type.startsWith('task-')) return null;
  const id = event.uuid;
  if (typeof id !== 'string' || id === '') return null;
  const timestamp = eventTimeMs(event);
  const hostname = typeof event.hostname === 'string' ? event.hostname : null;
  const update: TaskUpdate = {
    id,
    timestamp,
    timeline: { type: event.type, timestamp, hostname, fields: ownFields(event) },
  };
  const state = STATE_OF[event.type];
  if (state === undefined) return update;
  update.state = state;
  const fields = stateFields(event, hostname);
  if (Object.keys(fields).length > 0) update.fields = fields;
  return update;
}

/** The event's `timestamp` (epoch seconds) in ms; the time it was received when the sender's is unusable. */
function eventTimeMs(event: ReceivedEvent): number {
  const t = typeof event.timestamp === 'number' && Number.isFinite(event.timestamp) ? event.timestamp : event.local_received;
  return Math.round(t * 1000);
}

function stateFields(event: ReceivedEvent, hostname: string | null): Fields {
  const f: Fields = {};
  switch (event.type) {
    case 'task-sent': {
      copyCall(event, f);
      const queue = str(event.queue) ?? str(event.routing_key);
      if (queue !== undefined) f.queue = queue;
      break;
    }
    case 'task-received':
      copyCall(event, f);
      if (hostname !== null) f.worker = hostname;
      break;
    case 'task-started':
      if (hostname !== null) f.worker = hostname;
      break;
    case 'task-succeeded': {
      const result = text(event.result);
      if (result !== undefined) f.result = result;
      const runtime = num(event.runtime);
      if (runtime !== undefined) f.runtime = runtime;
      if (hostname !== null) f.worker = hostname;
      break;
    }
    case 'task-failed':
    case 'task-retried': {
      const exception = text(event.exception);
      if (exception !== undefined) f.exception = exception;
      const traceback = str(event.traceback);
      if (traceback !== undefined) f.traceback = traceback;
      if (hostname !== null) f.worker = hostname;
      break;
    }
    // task-revoked keeps terminated/expired/signum in its timeline entry; task-rejected its requeue.
  }
  return f;
}

/** name, args, kwargs and the rest of the call, as task-sent and task-received carry them. */
function copyCall(event: ReceivedEvent, f: Fields): void {
  const name = str(event.name);
  if (name !== undefined) f.name = name;
  const args = str(event.args);
  if (args !== undefined) {
    f.args = args;
    const exact = argsFromRepr(args);
    if (exact.ok) f.argsJson = JSON.stringify(exact.value);
  }
  const kwargs = str(event.kwargs);
  if (kwargs !== undefined) {
    f.kwargs = kwargs;
    const exact = kwargsFromRepr(kwargs);
    if (exact.ok) f.kwargsJson = JSON.stringify(exact.value);
  }
  const retries = num(event.retries);
  if (retries !== undefined) f.retries = retries;
  for (const [from, to] of [
    ['eta', 'eta'],
    ['expires', 'expires'],
    ['parent_id', 'parentId'],
    ['root_id', 'rootId'],
  ] as const satisfies readonly (readonly [string, keyof TaskRecord])[]) {
    const v = str(event[from]);
    if (v !== undefined) f[to] = v;
  }
}

/** The event's own fields as JSON text; null when it has none beyond the common ones. */
function ownFields(event: ReceivedEvent): string | null {
  const own: Record<string, unknown> = {};
  let any = false;
  for (const key of Object.keys(event)) {
    if (COMMON.has(key)) continue;
    own[key] = event[key];
    any = true;
  }
  if (!any) return null;
  try {
    return JSON.stringify(own);
  } catch {
    // A value JSON cannot write (a bigint from a lenient decoder) must not lose the event.
    return JSON.stringify(Object.fromEntries(Object.entries(own).map(([k, v]) => [k, safeJson(v)])));
  }
}

function safeJson(v: unknown): unknown {
  try {
    JSON.stringify(v);
    return v;
  } catch {
    return String(v);
  }
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' && v !== '' ? v : undefined;
}

/** A repr or message text; a non-string (a sender that put the value itself) is kept as JSON text. */
function text(v: unknown): string | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'string') return v;
  return JSON.stringify(safeJson(v));
}

function num(v: unknown): number | undefined {
  return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
}
