/**
 * The PostgreSQL result backend's statements, one per file in `./sql/`, and the mapping between Celery's result
 * meta and a `celery_results` row.
 */
import { readAsset } from '../../util/assets.js';
import { assertMetaEncodable } from '../../protocol/encodable.js';
import { jsonColumnText } from '../../protocol/json.js';
import type { ResultMeta } from '../../protocol/types.js';
import type { ChordPart } from '../port.js';

/** The text of `sql/<name>` (read once, cached). */
export function sql(name: string): string {
  return readAsset(import.meta.url, `sql/${name}`);
}

/** A row of get.sql / mget.sql; json columns arrive parsed (node-postgres's default for json). */
export interface ResultRow {
  task_id: string;
  status: string;
  result: unknown;
  traceback: string | null;
  children: unknown;
  date_done: string | null;
  group_id: string | null;
  parent_id: string | null;
  name: string | null;
  args: unknown;
  kwargs: unknown;
  worker: string | null;
  retries: number | null;
  queue: string | null;
}

export interface ChordPartRow {
  task_id: string;
  group_index: number | null;
  status: string;
  result: unknown;
}

/** The extended fields a later write without them leaves as they were (set.sql's coalesce). */
const KEPT = ['group_id', 'parent_id', 'name', 'args', 'kwargs', 'worker', 'retries', 'queue'] as const;

/**
 * One entry per task id, applying set.sql's rules among the entries of one batch as if they were written one after
 * another: PostgreSQL cannot update one row twice in a statement, and two copies of a task may finish in one batch.
 * A SUCCESS stays; a later entry replaces an earlier one but keeps the extended fields it leaves out.
 */
export function foldEntries(entries: readonly { taskId: string; meta: ResultMeta }[]): Map<string, ResultMeta> {
  const folded = new Map<string, ResultMeta>();
  for (const { taskId, meta } of entries) {
    const earlier = folded.get(taskId);
    if (earlier === undefined) {
      folded.set(taskId, meta);
    } else if (earlier.status !== 'SUCCESS') {
      const merged: ResultMeta = { ...meta };
      for (const k of KEPT) if (merged[k] == null) (merged as unknown as Record<string, unknown>)[k] = earlier[k];
      folded.set(taskId, merged);
    }
  }
  return folded;
}

/**
 * PostgreSQL text cannot hold NUL, and one such character (in an error message, say) would fail the whole batch of
 * results it is written with, and so the batch's acks, again on every delivery. It becomes U+FFFD. JSON columns
 * need nothing: JSON text escapes it.
 */
function text(value: string | null | undefined): string | null {
  if (value == null) return null;
  return value.includes('\u0000') ? value.replaceAll('\u0000', '\ufffd') : value;
}

/**
 * set.sql's parameters $1..$15: one array per column, index i of each belonging to the same task. Throws
 * EncodeError for a meta that cannot be stored faithfully (NaN, a Map, ...), as every store does.
 */
export function resultColumns(folded: Map<string, ResultMeta>): unknown[][] {
  const cols: unknown[][] = Array.from({ length: 15 }, () => []);
  for (const [taskId, meta] of folded) {
    assertMetaEncodable(meta);
    const dateDone = meta.date_done ?? null;
    const row = [
      taskId,
      meta.status,
      jsonColumnText(meta.result ?? null),
      text(meta.traceback),
      jsonColumnText(meta.children ?? []),
      instant(dateDone),
      dateDone,
      text(meta.group_id),
      text(meta.parent_id),
      text(meta.name),
      meta.args == null ? null : jsonColumnText(meta.args),
      meta.kwargs == null ? null : jsonColumnText(meta.kwargs),
      text(meta.worker),
      meta.retries ?? null,
      text(meta.queue),
    ];
    for (let i = 0; i < row.length; i++) cols[i]!.push(row[i]);
  }
  return cols;
}

/**
 * A row back to Celery's meta, keys in Celery's order. Extended fields appear only when stored, since a row written
 * without them (result_extended off) should read back the way it was written.
 */
export function rowToMeta(row: ResultRow): ResultMeta {
  const meta: ResultMeta = {
    status: row.status,
    result: row.result ?? null,
    traceback: row.traceback,
    children: (row.children ?? []) as unknown[],
    date_done: row.date_done,
  } as ResultMeta;
  if (row.group_id !== null) meta.group_id = row.group_id;
  if (row.parent_id !== null) meta.parent_id = row.parent_id;
  if (row.name !== null) meta.name = row.name;
  if (row.args !== null) meta.args = row.args as unknown[] | null;
  if (row.kwargs !== null) meta.kwargs = row.kwargs as Record<string, unknown> | null;
  if (row.worker !== null) meta.worker = row.worker;
  if (row.retries !== null) meta.retries = row.retries;
  if (row.queue !== null) meta.queue = row.queue;
  meta.task_id = row.task_id;
  return meta;
}

export function rowToPart(row: ChordPartRow): ChordPart {
  return { taskId: row.task_id, groupIndex: row.group_index, status: row.status, result: row.result ?? null };
}

const ISO_DATE = /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.\d{1,6})?)?(Z|[+-]\d{2}(?::?\d{2})?)?$/i;

/**
 * Celery's date_done text as an instant PostgreSQL reads the same whatever the session's TimeZone: a naive date is
 * UTC (Celery writes naive UTC), so it gets an explicit `+00:00`. Text that is not a valid ISO date gives null (the
 * text column still keeps it) rather than failing the whole batch on the cast.
 */
export function instant(text: string | null): string | null {
  if (text === null) return null;
  const m = ISO_DATE.exec(text);
  if (!m) return null;
  const [year, month, day, hour, minute, second] = [m[1], m[2], m[3], m[4], m[5], m[6] ?? '0'].map(Number) as number[];
  const validDay = new Date(Date.UTC(year!, month! - 1, day!)).getUTCDate() === day;
  if (year! < 1 || month! < 1 || month! > 12 || !validDay || hour! > 23 || minute! > 59 || second! > 59) return null;
  return m[7] ? text : `${text}+00:00`;
}
