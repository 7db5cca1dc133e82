/**
 * The task history in plain Maps: for unit tests of the code that writes and reads it. Nothing survives the
 * process, and every list is a scan, so it is no store for a real monitor.
 */
import { ConnectionError } from '../errors/index.js';
import { FINISHED_STATES, mergeUpdate } from './merge.js';
import type { HistoryStore, RetentionOptions, TaskPage, TaskQuery, TaskRecord, TaskUpdate, TimelineEntry } from './port.js';
import { decodeCursor, nameFilter, pageLimit, pageOf, TEXT_FIELDS } from './query.js';

export class MemoryHistoryStore implements HistoryStore {
  private readonly tasks = new Map<string, TaskRecord>();
  private readonly timelines = new Map<string, TimelineEntry[]>();
  private open = false;

  async connect(): Promise<void> {
    this.open = true;
  }

  async apply(updates: readonly TaskUpdate[]): Promise<void> {
    this.check();
    // Merged aside first, so a bad update leaves the store as it was (all or nothing, as a transaction would).
    const merged = new Map<string, TaskRecord>();
    const added: [string, TimelineEntry][] = [];
    for (const u of updates) {
      merged.set(u.id, mergeUpdate(merged.get(u.id) ?? this.tasks.get(u.id) ?? null, u));
      if (u.timeline) added.push([u.id, { ...u.timeline, hostname: u.timeline.hostname ?? null, fields: u.timeline.fields ?? null }]);
    }
    for (const [id, record] of merged) this.tasks.set(id, record);
    for (const [id, entry] of added) {
      const list = this.timelines.get(id) ?? [];
      list.push(entry);
      this.timelines.set(id, list);
    }
  }

  async get(id: string): Promise<TaskRecord | null> {
    this.check();
    const record = this.tasks.get(id);
    return record ? { ...record } : null;
  }

  async timeline(id: string): Promise<TimelineEntry[]> {
    this.check();
    // Stable: entries with equal timestamps stay in arrival order.
    return [...(this.timelines.get(id) ?? [])].sort((a, b) => a.timestamp - b.timestamp).map((e) => ({ ...e }));
  }

  async list(query: TaskQuery): Promise<TaskPage> {
    this.check();
    const limit = pageLimit(query.limit);
    const after = query.cursor === undefined ? null : decodeCursor(query.cursor);
    const rows = this.matching(query)
      .filter((t) => !after || t.createdAt < after.createdAt || (t.createdAt === after.createdAt && t.id < after.id))
      .slice(0, limit + 1)
      .map((t) => ({ ...t }));
    return pageOf(rows, limit);
  }

  async count(query: Omit<TaskQuery, 'limit' | 'cursor'>): Promise<number> {
    this.check();
    return this.matching(query).length;
  }

  async unfinished(options: { olderThan: number; limit: number }): Promise<string[]> {
    this.check();
    return [...this.tasks.values()]
      .filter((t) => !FINISHED_STATES.has(t.state) && t.updatedAt < options.olderThan)
      .sort((a, b) => a.updatedAt - b.updatedAt || compare(a.id, b.id))
      .slice(0, options.limit)
      .map((t) => t.id);
  }

  async prune(options: RetentionOptions): Promise<number> {
    this.check();
    const now = options.now ?? Date.now();
    const newest = this.sorted();
    const doomed = new Set<string>();
    if (options.maxAgeMs !== undefined) {
      for (const t of newest) if (t.createdAt < now - options.maxAgeMs) doomed.add(t.id);
    }
    if (options.maxTasks !== undefined) for (const t of newest.slice(options.maxTasks)) doomed.add(t.id);
    for (const id of doomed) {
      this.tasks.delete(id);
      this.timelines.delete(id);
    }
    return doomed.size;
  }

  async close(): Promise<void> {
    this.open = false;
  }

  private matching(query: Omit<TaskQuery, 'limit' | 'cursor'>): TaskRecord[] {
    const name = query.name === undefined ? null : nameFilter(query.name);
    const needle = query.text?.toLowerCase();
    return this.sorted().filter(
      (t) =>
        (query.state === undefined || query.state.includes(t.state)) &&
        (name === null || ('exact' in name ? t.name === name.exact : (t.name ?? '').startsWith(name.prefix) && t.name !== null)) &&
        (query.worker === undefined || t.worker === query.worker) &&
        (query.queue === undefined || t.queue === query.queue) &&
        (query.since === undefined || t.createdAt >= query.since) &&
        (query.until === undefined || t.createdAt < query.until) &&
        (query.parentId === undefined || t.parentId === query.parentId) &&
        (query.rootId === undefined || t.rootId === query.rootId) &&
        (query.groupId === undefined || t.groupId === query.groupId) &&
        (needle === undefined || TEXT_FIELDS.some((f) => t[f]?.toLowerCase().includes(needle))),
    );
  }

  /** Newest first: createdAt desc, then id desc. */
  private sorted(): TaskRecord[] {
    return [...this.tasks.values()].sort((a, b) => b.createdAt - a.createdAt || compare(b.id, a.id));
  }

  private check(): void {
    if (!this.open) throw new ConnectionError('memory task history is not connected (call connect() first)');
  }
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
