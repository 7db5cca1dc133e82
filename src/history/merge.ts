/**
 * How one update changes a stored task, shared by the stores that merge in JavaScript (memory, SQLite) and
 * mirrored by the PostgreSQL function in ./sql/postgres/migrations/001-history.sql.
 */
import { stateReplaces, type TaskRecord, type TaskUpdate } from './port.js';

/** States after which a task does nothing more: they set `finishedAt`, and `unfinished` leaves them out. */
export const FINISHED_STATES: ReadonlySet<string> = new Set(['SUCCESS', 'FAILURE', 'REVOKED', 'REJECTED']);

/** The field of TaskRecord that takes an update's timestamp when the update carries this state. */
export function stateTimeField(state: string): 'sentAt' | 'receivedAt' | 'startedAt' | 'finishedAt' | null {
  if (state === 'PENDING') return 'sentAt';
  if (state === 'RECEIVED') return 'receivedAt';
  if (state === 'STARTED') return 'startedAt';
  return FINISHED_STATES.has(state) ? 'finishedAt' : null;
}

/** The mergeable fields of TaskRecord with their column names (every store names its columns this way). */
export const FIELD_COLUMNS = [
  ['name', 'name'],
  ['queue', 'queue'],
  ['worker', 'worker'],
  ['args', 'args'],
  ['kwargs', 'kwargs'],
  ['argsJson', 'args_json'],
  ['kwargsJson', 'kwargs_json'],
  ['result', 'result'],
  ['exception', 'exception'],
  ['traceback', 'traceback'],
  ['meta', 'meta'],
  ['retries', 'retries'],
  ['runtime', 'runtime'],
  ['parentId', 'parent_id'],
  ['rootId', 'root_id'],
  ['groupId', 'group_id'],
  ['eta', 'eta'],
  ['expires', 'expires'],
  ['sentAt', 'sent_at'],
  ['receivedAt', 'received_at'],
  ['startedAt', 'started_at'],
  ['finishedAt', 'finished_at'],
] as const satisfies readonly (readonly [keyof TaskRecord, string])[];

export type FieldKey = (typeof FIELD_COLUMNS)[number][0];

const NUMERIC_FIELDS: ReadonlySet<string> = new Set<FieldKey>(['retries', 'runtime', 'sentAt', 'receivedAt', 'startedAt', 'finishedAt']);

/** A task seen for the first time, before its first update is merged in. */
function blank(id: string, timestamp: number): TaskRecord {
  const record = { id, state: 'PENDING', createdAt: timestamp, updatedAt: timestamp } as TaskRecord;
  for (const [key] of FIELD_COLUMNS) (record as unknown as Record<string, unknown>)[key] = null;
  return record;
}

/**
 * `current` (null: never seen) with `update` applied: the state by Celery's precedence, every field the update
 * carries (null and undefined keep what is known), createdAt the earliest timestamp seen, updatedAt the latest,
 * and the update's state time. A task first seen without a state is PENDING. Returns a new object.
 */
export function mergeUpdate(current: TaskRecord | null, update: TaskUpdate): TaskRecord {
  checkUpdate(update);
  const next: TaskRecord = current ? { ...current } : blank(update.id, update.timestamp);
  const fields = update.fields as Record<string, unknown> | undefined;
  if (fields) {
    const target = next as unknown as Record<string, unknown>;
    for (const [key] of FIELD_COLUMNS) {
      const value = fields[key];
      if (value !== undefined && value !== null) target[key] = value;
    }
  }
  if (update.state !== undefined) {
    // A task first seen by this update has no stored state yet: the blank PENDING is a placeholder.
    if (!current || stateReplaces(next.state, update.state)) next.state = update.state;
    const timeField = stateTimeField(update.state);
    if (timeField && fields?.[timeField] == null) next[timeField] = update.timestamp;
  }
  next.createdAt = Math.min(next.createdAt, update.timestamp);
  next.updatedAt = Math.max(next.updatedAt, update.timestamp);
  return next;
}

/** Rejects an update no store can keep faithfully, naming the field. */
export function checkUpdate(update: TaskUpdate): void {
  if (typeof update.id !== 'string' || update.id === '') throw new TypeError('task update: id must be a non-empty string');
  if (!Number.isFinite(update.timestamp)) {
    throw new TypeError(`task update ${update.id}: timestamp must be a finite number of epoch ms, got ${String(update.timestamp)}`);
  }
  if (update.state !== undefined && (typeof update.state !== 'string' || update.state === '')) {
    throw new TypeError(`task update ${update.id}: state must be a non-empty string`);
  }
  const fields = update.fields as Record<string, unknown> | undefined;
  if (fields) {
    for (const [key] of FIELD_COLUMNS) {
      const value = fields[key];
      if (value === undefined || value === null) continue;
      const numeric = NUMERIC_FIELDS.has(key);
      if (numeric ? typeof value !== 'number' || !Number.isFinite(value) : typeof value !== 'string') {
        throw new TypeError(`task update ${update.id}: ${key} must be ${numeric ? 'a finite number' : 'a string'} or null`);
      }
    }
  }
  const t = update.timeline;
  if (t !== undefined) {
    if (typeof t.type !== 'string' || t.type === '' || !Number.isFinite(t.timestamp)) {
      throw new TypeError(`task update ${update.id}: a timeline entry needs a type and a finite timestamp`);
    }
    for (const key of ['hostname', 'fields'] as const) {
      if (t[key] != null && typeof t[key] !== 'string') throw new TypeError(`task update ${update.id}: timeline ${key} must be a string or null`);
    }
  }
}
