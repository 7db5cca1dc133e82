/**
 * What every store does the same way with a query before it runs it: the page size, the opaque cursor (the sort
 * key of the last task of the previous page: createdAt, then id) and the name filter's prefix form.
 */
import type { TaskRecord } from './port.js';

export const DEFAULT_LIMIT = 50;
export const MAX_LIMIT = 1000;

/** The sort key a page ends on; the next page starts strictly after it in (createdAt desc, id desc) order. */
export interface CursorKey {
  createdAt: number;
  id: string;
}

export function encodeCursor(last: Pick<TaskRecord, 'createdAt' | 'id'>): string {
  return Buffer.from(JSON.stringify([last.createdAt, last.id]), 'utf8').toString('base64url');
}

/** Throws TypeError naming `cursor` for anything encodeCursor did not make. */
export function decodeCursor(cursor: string): CursorKey {
  const fail = (): never => {
    throw new TypeError(`invalid cursor ${JSON.stringify(cursor.slice(0, 80))}: pass the \`next\` of a previous page unchanged`);
  };
  if (typeof cursor !== 'string' || !/^[A-Za-z0-9_-]+$/.test(cursor)) fail();
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    return fail();
  }
  if (!Array.isArray(value) || value.length !== 2) return fail();
  const [createdAt, id] = value as unknown[];
  if (typeof createdAt !== 'number' || !Number.isFinite(createdAt) || typeof id !== 'string') return fail();
  return { createdAt, id };
}

/** The page size: DEFAULT_LIMIT when absent, at most MAX_LIMIT; anything but a positive integer is a TypeError. */
export function pageLimit(limit: number | undefined): number {
  if (limit === undefined) return DEFAULT_LIMIT;
  if (!Number.isInteger(limit) || limit < 1) throw new TypeError(`invalid limit ${String(limit)}: expected a positive integer`);
  return Math.min(limit, MAX_LIMIT);
}

/** `name` as an exact name or, ending in `*`, a prefix. */
export function nameFilter(name: string): { exact: string } | { prefix: string } {
  return name.endsWith('*') ? { prefix: name.slice(0, -1) } : { exact: name };
}

/** `needle` as a LIKE pattern matching it anywhere, `\` escaping the wildcards `%` and `_` (ESCAPE '\'). */
export function likeContains(needle: string): string {
  return `%${likeEscape(needle)}%`;
}

export function likeEscape(text: string): string {
  return text.replace(/[\\%_]/g, (c) => `\\${c}`);
}

/** The fields the `text` filter searches. */
export const TEXT_FIELDS = ['id', 'name', 'args', 'kwargs', 'result', 'exception'] as const satisfies readonly (keyof TaskRecord)[];

/** A page from up to `limit + 1` rows fetched in order: the extra row only tells that there is a next page. */
export function pageOf(rows: TaskRecord[], limit: number): { tasks: TaskRecord[]; next: string | null } {
  if (rows.length <= limit) return { tasks: rows, next: null };
  const tasks = rows.slice(0, limit);
  return { tasks, next: encodeCursor(tasks[limit - 1]!) };
}
