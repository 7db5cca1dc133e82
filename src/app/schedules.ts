/**
 * `app.schedules`: periodic tasks changed at run time, from code or the CLI, without restarting anything. Every
 * change goes to the schedule store, where running beats see it within a second (they read the store every tick).
 */
import { randomUUID } from 'node:crypto';
import type { ScheduleStore, StoredSchedule } from '../backend/schedules.js';
import { applyOptionsFromCelery } from '../canvas/options.js';
import { CelerityError } from '../errors/index.js';
import { storedEntry, type ScheduleEntry, type ScheduleEntryInput } from '../schedule/entry.js';
import { nextSlots } from '../schedule/next.js';
import type { AsyncResult } from '../result/results.js';
import type { ApplyOptions } from '../canvas/options.js';
import { normalizeEntry } from './schedule-entries.js';

/** What the schedules need from the app. */
export interface ScheduleHost {
  readonly conf: { readonly timezone: string; readonly beatSchedule: Readonly<Record<string, unknown>> };
  scheduleStore(): Promise<ScheduleStore>;
  sendTask(name: string, args: readonly unknown[], options: ApplyOptions): Promise<AsyncResult>;
}

/** One schedule with its state, as `list()` and `get()` return it. */
export interface ScheduleInfo {
  name: string;
  /** `config`: from the `beatSchedule` setting (a beat's start replaces these); `runtime`: added at run time. */
  source: 'config' | 'runtime';
  paused: boolean;
  /** The definition, or null when the stored one cannot be read (`invalid` says why). */
  entry: ScheduleEntry | null;
  invalid?: string;
  lastRunAt: Date | null;
  totalRuns: number;
  /** As recorded by the beat that last fired it. */
  nextDueAt: Date | null;
  lastTaskId: string | null;
}

/** The header Celery's beat (5.3 and later) puts on the tasks it sends, so a worker can tell which entry sent one. */
export const PERIODIC_TASK_HEADER = 'periodic_task_name';

export class Schedules {
  constructor(private readonly host: ScheduleHost) {}

  async list(): Promise<ScheduleInfo[]> {
    return (await (await this.host.scheduleStore()).list()).map(info);
  }

  async get(name: string): Promise<ScheduleInfo | null> {
    const s = await (await this.host.scheduleStore()).get(name);
    return s ? info(s) : null;
  }

  /**
   * Adds a schedule; fails if one of that name exists (use `update` to change it).
   * @example
   * await app.schedules.add('cleanup', { task: 'maintenance.cleanup', schedule: crontab({ hour: 2, minute: 0 }) });
   */
  async add(name: string, entry: ScheduleEntryInput): Promise<void> {
    checkName(name);
    const store = await this.host.scheduleStore();
    if (await store.get(name)) throw new CelerityError(`a schedule named ${JSON.stringify(name)} exists already (update it, or delete it first)`);
    const definition = normalizeEntry(entry, `schedule ${JSON.stringify(name)}`);
    await store.put({ name, definition: { ...definition }, source: 'runtime', now: Date.now() });
  }

  /** Changes some fields of a schedule; the others, its run state and its paused flag stay. */
  async update(name: string, patch: Partial<ScheduleEntryInput>): Promise<void> {
    const store = await this.host.scheduleStore();
    const current = await store.get(name);
    if (!current) throw new CelerityError(`no schedule named ${JSON.stringify(name)}`);
    const definition = normalizeEntry({ ...current.definition, ...patch }, `schedule ${JSON.stringify(name)}`);
    await store.put({ name, definition: { ...definition }, source: current.source, now: Date.now() });
  }

  /** Stops firing until `resume`; the slots that pass meanwhile are skipped, not caught up. */
  async pause(name: string): Promise<void> {
    if (!(await (await this.host.scheduleStore()).setPaused(name, true, Date.now()))) throw new CelerityError(`no schedule named ${JSON.stringify(name)}`);
  }

  async resume(name: string): Promise<void> {
    if (!(await (await this.host.scheduleStore()).setPaused(name, false, Date.now()))) throw new CelerityError(`no schedule named ${JSON.stringify(name)}`);
  }

  /** Deletes a schedule; false when there was none. A `beatSchedule` entry comes back when a beat starts again. */
  async delete(name: string): Promise<boolean> {
    return (await this.host.scheduleStore()).delete(name);
  }

  /** Sends the schedule's task now, outside its slots (counted in its runs). */
  async runNow(name: string): Promise<AsyncResult> {
    const store = await this.host.scheduleStore();
    const s = await store.get(name);
    if (!s) throw new CelerityError(`no schedule named ${JSON.stringify(name)}`);
    const entry = readable(s);
    const taskId = randomUUID();
    const result = await sendEntry(this.host, name, entry, taskId);
    await store.recordManualRun(name, taskId, Date.now());
    return result;
  }

  /** The next `n` fire times after `from` (default now), as the schedule defines them (paused or not). */
  async next(name: string, n = 5, from: Date = new Date()): Promise<Date[]> {
    const s = await (await this.host.scheduleStore()).get(name);
    if (!s) throw new CelerityError(`no schedule named ${JSON.stringify(name)}`);
    return nextFireTimes(readable(s), this.host.conf.timezone, from.getTime(), n).map((t) => new Date(t));
  }

  /** Makes the store's `config` schedules the `beatSchedule` setting (beats do this when they start). */
  async syncConfig(): Promise<void> {
    const entries = Object.entries(this.host.conf.beatSchedule).map(([name, definition]) => ({ name, definition: { ...(definition as object) } }));
    await (await this.host.scheduleStore()).syncConfig(entries, Date.now());
  }
}

/** Slot times of an entry after `from`, within its start and end dates. */
export function nextFireTimes(entry: ScheduleEntry, timezone: string, from: number, n: number): number[] {
  return nextSlots(entry.schedule, from, slotOptions(entry, timezone), n);
}

export function slotOptions(entry: ScheduleEntry, timezone: string): { timezone: string; startAt: number | null; endAt: number | null } {
  return { timezone, startAt: entry.startAt ? Date.parse(entry.startAt) : null, endAt: entry.endAt ? Date.parse(entry.endAt) : null };
}

/**
 * Sends one run of an entry with the given task id: Celery-named options read as a signature's are, and the
 * `periodic_task_name` header, so the message is the one Celery's beat would send.
 */
export function sendEntry(host: Pick<ScheduleHost, 'sendTask'>, name: string, entry: ScheduleEntry, taskId: string): Promise<AsyncResult> {
  const { apply } = applyOptionsFromCelery(entry.task, entry.options);
  return host.sendTask(entry.task, entry.args, {
    ...apply,
    kwargs: entry.kwargs,
    taskId,
    headers: { ...apply.headers, [PERIODIC_TASK_HEADER]: name },
  });
}

function readable(s: StoredSchedule): ScheduleEntry {
  const entry = storedEntry(s.definition, s.name);
  if ('error' in entry) throw new CelerityError(entry.error);
  return entry;
}

function info(s: StoredSchedule): ScheduleInfo {
  const entry = storedEntry(s.definition, s.name);
  const date = (t: number | null) => (t === null ? null : new Date(t));
  return {
    name: s.name,
    source: s.source,
    paused: s.paused,
    entry: 'error' in entry ? null : entry,
    ...('error' in entry ? { invalid: entry.error } : {}),
    lastRunAt: date(s.lastRunAt),
    totalRuns: s.totalRuns,
    nextDueAt: date(s.nextDueAt),
    lastTaskId: s.lastTaskId,
  };
}

function checkName(name: string): void {
  if (typeof name !== 'string' || !name.trim()) throw new TypeError(`a schedule needs a non-empty name, got ${JSON.stringify(name)}`);
}
