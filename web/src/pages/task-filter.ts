// The tasks page's filter: kept in the address (so a filtered view can be linked and reloaded), sent as the
// GET /api/v1/tasks query and as the `filter` of bulk retry/revoke, and used to place live updates.
import type { TaskRow } from '../types.js';

export interface TaskFilter {
  q: string;
  state: string;
  name: string;
  worker: string;
  queue: string;
  since: string;
  until: string;
}

export const EMPTY_FILTER: TaskFilter = { q: '', state: '', name: '', worker: '', queue: '', since: '', until: '' };
const KEYS = Object.keys(EMPTY_FILTER) as (keyof TaskFilter)[];

export function filterFromSearch(search: string): TaskFilter {
  const params = new URLSearchParams(search);
  const filter = { ...EMPTY_FILTER };
  for (const k of KEYS) filter[k] = params.get(k)?.trim() ?? '';
  return filter;
}

export function filterToSearch(filter: TaskFilter): string {
  const params = new URLSearchParams();
  for (const k of KEYS) if (filter[k].trim()) params.set(k, filter[k].trim());
  const text = params.toString();
  return text ? `?${text}` : '';
}

export function isEmpty(filter: TaskFilter): boolean {
  return KEYS.every((k) => !filter[k].trim());
}

/** The filter as the API's query parameters (and bulk `filter` body, where state is a list). */
export function filterQuery(filter: TaskFilter): Record<string, string> {
  const out: Record<string, string> = {};
  for (const k of KEYS) if (filter[k].trim()) out[k] = filter[k].trim();
  return out;
}

export function bulkFilter(filter: TaskFilter): Record<string, unknown> {
  const { state, ...rest } = filterQuery(filter);
  return state ? { ...rest, state: state.split(',').map((s) => s.trim()).filter(Boolean) } : rest;
}

/** Epoch ms of a `since` value: an age (30m, 1h, 2d) before `now`, ISO 8601, or epoch seconds; null if unreadable. */
export function instant(text: string, now: number): number | null {
  const t = text.trim();
  const age = /^(\d+(?:\.\d+)?)(s|m|h|d|w)$/.exec(t);
  if (age) return now - Number(age[1]) * { s: 1e3, m: 60e3, h: 3600e3, d: 86400e3, w: 604800e3 }[age[2] as 's' | 'm' | 'h' | 'd' | 'w'];
  if (/^\d+(?:\.\d+)?$/.test(t)) return Number(t) * 1000;
  const ms = Date.parse(t);
  return Number.isNaN(ms) ? null : ms;
}

/**
 * Whether a task the list has not loaded belongs in it: a live update of a new task is shown at the top only when
 * the filter would have listed it. Text search runs on the server over more fields than an update carries, so a
 * searched list takes no new rows live (it still updates the rows it shows).
 */
export function matches(filter: TaskFilter, task: TaskRow, now: number): boolean {
  if (filter.q.trim()) return false;
  const states = filter.state.split(',').map((s) => s.trim()).filter(Boolean);
  if (states.length && !states.includes(task.state)) return false;
  const name = filter.name.trim();
  if (name) {
    const n = task.name ?? '';
    if (name.endsWith('*') ? !n.startsWith(name.slice(0, -1)) : n !== name) return false;
  }
  if (filter.worker.trim() && task.worker !== filter.worker.trim()) return false;
  if (filter.queue.trim() && task.queue !== filter.queue.trim()) return false;
  if (filter.since.trim()) {
    const since = instant(filter.since, now);
    if (since !== null && task.createdAt < since) return false;
  }
  if (filter.until.trim()) {
    const until = instant(filter.until, now);
    if (until !== null && task.createdAt >= until) return false;
  }
  return true;
}

/**
 * Applies one batch of stream changes to the loaded rows in one pass: known rows take the newest fields (an older
 * change never overwrites a newer row), new rows that match the filter go on top, newest first. A task first seen
 * before `floor` (the oldest loaded row, while older pages remain) belongs on a page not loaded yet, so it is not
 * added. Returns the same array when nothing changed.
 */
export function applyChanges(rows: TaskRow[], changes: Iterable<TaskRow>, filter: TaskFilter, now: number, floor = -Infinity): TaskRow[] {
  const latest = new Map<string, TaskRow>();
  for (const c of changes) {
    const prev = latest.get(c.id);
    if (!prev || prev.updatedAt <= c.updatedAt) latest.set(c.id, c);
  }
  let changed = false;
  const next = rows.map((r) => {
    const c = latest.get(r.id);
    if (!c) return r;
    latest.delete(r.id);
    if (c.updatedAt < r.updatedAt) return r;
    changed = true;
    // A change carries what its event knew: a field it lacks keeps the value the row already had.
    const merged: TaskRow = { ...r };
    for (const [k, v] of Object.entries(c)) if (v !== null && v !== undefined) (merged as unknown as Record<string, unknown>)[k] = v;
    merged.progress = c.progress ?? (c.state === r.state ? r.progress : null);
    return merged;
  });
  const fresh = [...latest.values()].filter((c) => c.createdAt >= floor && matches(filter, c, now)).sort((a, b) => b.createdAt - a.createdAt);
  if (!fresh.length) return changed ? next : rows;
  return [...fresh, ...next];
}
