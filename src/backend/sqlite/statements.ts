/**
 * The SQLite result backend's operations, one prepared statement per file in `./sql/`, and the mapping between
 * Celery's result meta and a `celery_results` row, and between a chord part and a `celery_chord_parts` row.
 */
import { prepare, type SqliteDatabase } from '../../sqlite/open.js';
import { readSql, type Stmt } from '../../sqlite/sql-files.js';
import type { ResultMeta } from '../../protocol/types.js';
import { assertMetaEncodable } from '../../protocol/encodable.js';
import { jsonColumnText, parseJson, pyDumps } from '../../protocol/json.js';
import type { ChordPart } from '../port.js';

export interface ResultRow {
  task_id: string;
  status: string;
  result: string | null;
  traceback: string | null;
  children: string | null;
  date_done: string | null;
  group_id: string | null;
  parent_id: string | null;
  name: string | null;
  args: string | null;
  kwargs: string | null;
  worker: string | null;
  retries: number | null;
  queue: string | null;
}

type SetParams = ResultRow & { now: number; expires_at: number | null };

export interface ChordPartRow {
  task_id: string;
  group_index: number | null;
  status: string;
  result: string;
}

type Group = { group_id: string };
type Expiry = { now: number; expires_at: number | null };

export function prepareStatements(db: SqliteDatabase) {
  const sql = <P, R = unknown>(name: string) =>
    prepare(db, readSql(import.meta.url, name)) as unknown as Stmt<P, R>;
  return {
    set: sql<SetParams>('set.sql'),
    get: sql<{ task_id: string; now: number }, ResultRow>('get.sql'),
    mget: sql<{ task_ids: string; now: number }, ResultRow>('mget.sql'),
    delete: sql<{ task_id: string }>('delete.sql'),
    incr: sql<{ key: string; by: number; now: number; expires_at: number | null }, { value: number }>('incr.sql'),
    cleanupResults: sql<{ now: number }>('cleanup-results.sql'),
    cleanupCounters: sql<{ now: number }>('cleanup-counters.sql'),
    cleanupGroups: sql<{ now: number }>('cleanup-groups.sql'),
    cleanupChords: sql<{ now: number }>('cleanup-chords.sql'),
    groupSave: sql<Group & Expiry & { result: string }>('group-save.sql'),
    groupGet: sql<Group & { now: number }, { result: string }>('group-get.sql'),
    groupDelete: sql<Group>('group-delete.sql'),
    chordDropExpired: sql<Group & { now: number }>('chord-drop-expired.sql'),
    chordSize: sql<Group & { size: number; expires_at: number | null }>('chord-size.sql'),
    chordTouch: sql<Group & { expires_at: number | null }>('chord-touch.sql'),
    chordPartInsert: sql<Group & ChordPartRow>('chord-part-insert.sql'),
    chordCount: sql<Group & { task_id: string; added: number }, { completed_by: string | null }>('chord-count.sql'),
    chordParts: sql<Group, ChordPartRow>('chord-parts.sql'),
    chordDone: sql<Group>('chord-done.sql'),
  };
}

export type Statements = ReturnType<typeof prepareStatements>;

export function createSchema(db: SqliteDatabase): void {
  db.exec(readSql(import.meta.url, 'schema.sql'));
}

/** Throws EncodeError for a meta that cannot be stored faithfully (NaN, a Map, ...), as every store does. */
export function metaToParams(taskId: string, meta: ResultMeta, now: number, expiresAt: number | null): SetParams {
  assertMetaEncodable(meta);
  return {
    task_id: taskId,
    status: meta.status,
    result: jsonColumnText(meta.result ?? null),
    traceback: meta.traceback ?? null,
    children: jsonColumnText(meta.children ?? []),
    date_done: meta.date_done ?? null,
    group_id: meta.group_id ?? null,
    parent_id: meta.parent_id ?? null,
    name: meta.name ?? null,
    args: meta.args == null ? null : jsonColumnText(meta.args),
    kwargs: meta.kwargs == null ? null : jsonColumnText(meta.kwargs),
    worker: meta.worker ?? null,
    retries: meta.retries ?? null,
    queue: meta.queue ?? null,
    now,
    expires_at: expiresAt,
  };
}

/**
 * A row back to Celery's meta, keys in Celery's order. Extended fields appear only when stored, since a row written
 * without them (result_extended off) should read back the way it was written.
 */
export function rowToMeta(row: ResultRow): ResultMeta {
  const meta: ResultMeta = {
    status: row.status,
    result: parse(row.result, null),
    traceback: row.traceback,
    children: parse(row.children, []) as unknown[],
    date_done: row.date_done,
  } as ResultMeta;
  if (row.group_id !== null) meta.group_id = row.group_id;
  if (row.parent_id !== null) meta.parent_id = row.parent_id;
  if (row.name !== null) meta.name = row.name;
  if (row.args !== null) meta.args = parse(row.args, null) as unknown[] | null;
  if (row.kwargs !== null) meta.kwargs = parse(row.kwargs, null) as Record<string, unknown> | null;
  if (row.worker !== null) meta.worker = row.worker;
  if (row.retries !== null) meta.retries = row.retries;
  if (row.queue !== null) meta.queue = row.queue;
  meta.task_id = row.task_id;
  return meta;
}

function parse(text: string | null, fallback: unknown): unknown {
  if (text === null) return fallback;
  try {
    // Exact: a Python-written 2**64 + 1 or NaN reads back as written (see protocol/json.ts).
    return parseJson(text, 'stored value');
  } catch {
    // Rows may be written by hand or by other tools; a broken value should not make the whole result unreadable.
    return text;
  }
}

export function partToRow(part: ChordPart): ChordPartRow {
  return {
    task_id: part.taskId,
    group_index: part.groupIndex,
    status: part.status,
    result: pyDumps(part.result ?? null),
  };
}

export function rowToPart(row: ChordPartRow): ChordPart {
  return {
    taskId: row.task_id,
    groupIndex: row.group_index,
    status: row.status,
    result: parseJson(row.result, `result of chord part ${row.task_id}`),
  };
}
