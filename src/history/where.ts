/**
 * The WHERE clause of a list or count, shared by the SQL stores. A list's filters combine freely, and one fixed
 * statement with `(:x IS NULL OR col = :x)` for each would keep both SQLite's and PostgreSQL's planners from using
 * the index of the filter actually given; so only the given filters are written, each as a fixed fragment with its
 * value bound as a parameter (never spliced into the text). The shapes are few, and each store caches its
 * prepared statements by text.
 */
import type { TaskQuery } from './port.js';
import type { CursorKey } from './query.js';
import { likeContains, likeEscape, nameFilter, TEXT_FIELDS } from './query.js';

export interface Dialect {
  /** The placeholder for a new parameter holding `value`. */
  param(value: unknown): string;
  /** The condition "column is one of these states" (more than one). */
  anyState(states: readonly string[]): string;
  /** The condition "name starts with prefix". */
  namePrefix(prefix: string): string;
  /** Case-insensitive LIKE. */
  ilike: string;
}

const COLUMNS = { worker: 'worker', queue: 'queue', parentId: 'parent_id', rootId: 'root_id', groupId: 'group_id' } as const;

/** The conditions of `query` (and of the page after `after`), joined with AND; `1 = 1` when there are none. */
export function whereClause(query: Omit<TaskQuery, 'limit' | 'cursor'>, after: CursorKey | null, d: Dialect): string {
  const where: string[] = [];
  if (query.state !== undefined) {
    if (query.state.length === 0) where.push('1 = 0');
    else if (query.state.length === 1) where.push(`state = ${d.param(query.state[0])}`);
    else where.push(d.anyState(query.state));
  }
  if (query.name !== undefined) {
    const name = nameFilter(query.name);
    where.push('exact' in name ? `name = ${d.param(name.exact)}` : d.namePrefix(name.prefix));
  }
  for (const [key, column] of Object.entries(COLUMNS) as [keyof typeof COLUMNS, string][]) {
    const value = query[key];
    if (value !== undefined) where.push(`${column} = ${d.param(value)}`);
  }
  if (query.since !== undefined) where.push(`created_at >= ${d.param(query.since)}`);
  if (query.until !== undefined) where.push(`created_at < ${d.param(query.until)}`);
  if (query.text !== undefined && query.text !== '') {
    const pattern = d.param(likeContains(query.text));
    where.push(`(${TEXT_FIELDS.map((f) => `${f} ${d.ilike} ${pattern} ESCAPE '\\'`).join(' OR ')})`);
  }
  if (after !== null) where.push(`(created_at, id) < (${d.param(after.createdAt)}, ${d.param(after.id)})`);
  return where.length ? where.join(' AND ') : '1 = 1';
}

/** A LIKE pattern matching names that start with `prefix` (for dialects that use LIKE for prefixes). */
export function likePrefix(prefix: string): string {
  return `${likeEscape(prefix)}%`;
}

/** A GLOB pattern matching names that start with `prefix`: SQLite's case-sensitive, index-friendly prefix test. */
export function globPrefix(prefix: string): string {
  return `${prefix.replace(/[*?[]/g, (c) => `[${c}]`)}*`;
}
