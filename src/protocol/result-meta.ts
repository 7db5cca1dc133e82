/**
 * Task result metadata as Celery 5.2's key-value backends store it (`celery-task-meta-<id>` on Redis), with the
 * same key order and date format, so Python's AsyncResult, Flower and our own clients read either side's writes.
 */
import { DecodeError } from '../errors/index.js';
import { assertMetaEncodable } from './encodable.js';
import { parseJson, pyDumps, pyJsonInner, pyJsonInnerRepeated, pyJsonString } from './json.js';
import { formatPyIsoDate } from './message.js';
import { decodeText } from './serializers.js';
import { READY_STATES, type ResultMeta, type TaskState } from './types.js';

/** Written only with `result_extended`; Celery then writes all six, null when unknown. */
const EXTENDED_KEYS = ['name', 'args', 'kwargs', 'worker', 'retries', 'queue'] as const;

/**
 * The meta as JSON text in Celery's order: `status, result, traceback, children, date_done`, then `group_id` and
 * `parent_id` when set, the extended fields when present, and `task_id` (or `taskId` when given) last. Written
 * straight into the text, without an intermediate object: one is encoded for every task a worker runs.
 *
 * Throws EncodeError, naming the value and its path, for a meta that cannot be stored faithfully (see
 * `encodable.ts`): NaN and the infinities included, which Celery would write as bare tokens but PostgreSQL and
 * strict JSON readers refuse, so that every store follows one rule.
 */
export function encodeResultMeta(meta: ResultMeta, taskId: string = meta.task_id): string {
  assertMetaEncodable(meta);
  // Joined, not concatenated: one flat string, which the framed write to Redis copies without flattening it first.
  const parts = [
    '{"status": "',
    pyJsonInnerRepeated(meta.status),
    '", "result": ',
    meta.result == null ? 'null' : pyDumps(meta.result),
    ', "traceback": ',
    meta.traceback == null ? 'null' : pyJsonString(meta.traceback),
    ', "children": ',
    meta.children?.length ? pyDumps(meta.children) : '[]',
    ', "date_done": ',
    meta.date_done == null ? 'null' : pyJsonString(meta.date_done),
  ];
  // Celery tests these for truthiness, so an empty or null id is left out rather than written as null.
  if (meta.group_id) parts.push(', "group_id": ', pyJsonString(meta.group_id));
  if (meta.parent_id) parts.push(', "parent_id": ', pyJsonString(meta.parent_id));
  if (hasExtended(meta)) {
    for (const k of EXTENDED_KEYS) parts.push(', "', k, '": ', pyDumps(meta[k] ?? null));
  }
  parts.push(', "task_id": "', pyJsonInner(taskId), '"}');
  return parts.join('');
}

/** A loop rather than `some` with a closure: this runs for every result a worker stores. */
function hasExtended(meta: ResultMeta): boolean {
  for (const k of EXTENDED_KEYS) if (meta[k] !== undefined) return true;
  return false;
}

/** Parses stored meta, checking the types a client relies on. Throws DecodeError naming the field. */
export function decodeResultMeta(raw: string | Buffer): ResultMeta {
  const text = typeof raw === 'string' ? raw : decodeText(raw, 'utf-8', 'result meta');
  const parsed = parseJson(text, 'result meta');
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new DecodeError('result meta must be a JSON object');
  }
  const m = parsed as Record<string, unknown>;
  const status = m.status;
  if (typeof status !== 'string' || status === '') throw new DecodeError("result meta 'status' must be a string");
  if (typeof m.task_id !== 'string') throw new DecodeError("result meta 'task_id' must be a string");
  const children = m.children ?? [];
  if (!Array.isArray(children)) throw new DecodeError("result meta 'children' must be a list");

  const meta: ResultMeta = {
    status,
    result: m.result ?? null,
    traceback: nullableString(m, 'traceback'),
    children,
    date_done: nullableString(m, 'date_done'),
    task_id: m.task_id,
  };
  // Keys are added in Celery's order so that re-encoding a decoded meta gives back the same text.
  if ('group_id' in m) meta.group_id = nullableString(m, 'group_id');
  if ('parent_id' in m) meta.parent_id = nullableString(m, 'parent_id');
  if (EXTENDED_KEYS.some((k) => k in m)) {
    meta.name = nullableString(m, 'name');
    meta.args = nullableOf(m, 'args', Array.isArray, 'a list') as unknown[] | null;
    meta.kwargs = nullableOf(m, 'kwargs', isPlainObject, 'an object') as Record<string, unknown> | null;
    meta.worker = nullableString(m, 'worker');
    meta.retries = nullableOf(m, 'retries', (v) => typeof v === 'number', 'a number') as number | null;
    meta.queue = nullableString(m, 'queue');
  }
  // task_id goes last again, after the optional keys.
  const { task_id, ...rest } = meta;
  return { ...rest, task_id };
}

export interface BuildResultMetaInput {
  taskId: string;
  status: TaskState;
  result: unknown;
  traceback?: string | null;
  children?: unknown[];
  groupId?: string | null;
  parentId?: string | null;
  /** Present when the app runs with `result_extended`. */
  extended?: {
    name: string | null;
    args: unknown[] | null;
    kwargs: Record<string, unknown> | null;
    /** the worker's nodename, `celery@host` */
    worker: string | null;
    retries: number | null;
    /** the routing key the task arrived with */
    queue: string | null;
  };
  /** Clock for `date_done`; defaults to the current time. */
  now?: Date;
}

/**
 * A meta as Celery's backend builds it: `date_done` is set, as naive UTC text, only for ready states (SUCCESS,
 * FAILURE, REVOKED), and group/parent ids only when present.
 *
 * @example
 * encodeResultMeta(buildResultMeta({ taskId: id, status: 'SUCCESS', result: 5 }));
 */
export function buildResultMeta(input: BuildResultMetaInput): ResultMeta {
  const ready = READY_STATES.has(input.status);
  // Keys are assigned in Celery's order, task_id last, so the object encodes in the right order as it stands.
  const meta = {
    status: input.status,
    result: input.result ?? null,
    traceback: input.traceback ?? null,
    children: input.children ?? [],
    date_done: ready ? dateDone(input.now) : null,
  } as ResultMeta;
  if (input.groupId) meta.group_id = input.groupId;
  if (input.parentId) meta.parent_id = input.parentId;
  if (input.extended) {
    const x = input.extended;
    meta.name = x.name;
    meta.args = x.args;
    meta.kwargs = x.kwargs;
    meta.worker = x.worker;
    meta.retries = x.retries;
    meta.queue = x.queue;
  }
  meta.task_id = input.taskId;
  return meta;
}

/** `date_done` text, formatted once per millisecond: a busy worker finishes many tasks in the same one. */
let lastDoneMs = NaN;
let lastDoneText = '';
function dateDone(now: Date | undefined): string {
  const ms = now ? now.getTime() : Date.now();
  if (ms !== lastDoneMs) {
    lastDoneText = formatPyIsoDate(now ?? new Date(ms), { utcSuffix: false });
    lastDoneMs = ms;
  }
  return lastDoneText;
}

function isPlainObject(value: unknown): boolean {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function nullableString(m: Record<string, unknown>, key: string): string | null {
  const v = m[key];
  if (v === undefined || v === null) return null;
  if (typeof v !== 'string') throw new DecodeError(`result meta '${key}' must be a string or null`);
  return v;
}

function nullableOf(
  m: Record<string, unknown>,
  key: string,
  test: (v: unknown) => boolean,
  expected: string,
): unknown {
  const v = m[key];
  if (v === undefined || v === null) return null;
  if (!test(v)) throw new DecodeError(`result meta '${key}' must be ${expected} or null`);
  return v;
}
