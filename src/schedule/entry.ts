/**
 * One periodic task as it is defined and stored: Celery's `beat_schedule` entry (`task`, `schedule`, `args`,
 * `kwargs`, `options`) plus what Celery lacks: start and end dates, a run-count limit, a misfire policy and an
 * overlap policy. Entries are plain JSON data, so the store keeps them as they are and beats compare them as text.
 */
import { checkTimezone, toScheduleSpec, type ScheduleSpec } from './spec.js';

/**
 * What a beat does with slots that passed while no beat was running (or the schedule's beat was late):
 * `once` (Celery's behaviour, the default): one run for the newest missed slot, the older ones are dropped;
 * `skip`: a slot more than `misfireGrace` seconds late is dropped, the next one is waited for;
 * `all`: every missed slot within the last `misfireGrace` seconds runs, each once, oldest first.
 */
export type MisfirePolicy = 'once' | 'skip' | 'all';

/** `allow` (the default): a slot fires whatever the previous run is doing. `skip`: a slot whose previous run has not finished is dropped. */
export type OverlapPolicy = 'allow' | 'skip';

/** A stored schedule definition. */
export interface ScheduleEntry {
  task: string;
  schedule: ScheduleSpec;
  args: unknown[];
  kwargs: Record<string, unknown>;
  /** Calling options under Celery's names (`queue`, `priority`, `expires`, `headers`, ...), as Celery's entries hold them. */
  options: Record<string, unknown>;
  /** ISO instants; no slot before `startAt` or after `endAt`. */
  startAt: string | null;
  endAt: string | null;
  /** Stop after this many runs (fires and manual runs); null: no limit. */
  maxRuns: number | null;
  misfire: MisfirePolicy;
  /** Seconds; see MisfirePolicy. */
  misfireGrace: number;
  overlap: OverlapPolicy;
}

/** How users write an entry (the schedule in any form toScheduleSpec takes, dates as Date or ISO text). */
export interface ScheduleEntryInput {
  task: string;
  schedule: unknown;
  args?: readonly unknown[];
  kwargs?: Record<string, unknown>;
  options?: Record<string, unknown>;
  /** IANA zone for a crontab or cron schedule that names none (default: the app's `timezone`). */
  timezone?: string;
  startAt?: Date | string | null;
  endAt?: Date | string | null;
  maxRuns?: number | null;
  misfire?: MisfirePolicy;
  misfireGrace?: number;
  overlap?: OverlapPolicy;
}

/** Default grace for `skip` and window for `all`: an hour. */
export const DEFAULT_MISFIRE_GRACE = 3600;

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * Validates and normalizes one entry; `where` names it in errors (`beatSchedule.cleanup`). Celery's snake_case
 * keys are accepted beside ours (`start_time`, `total_run_count` are not: they are state, not definition).
 */
export function toScheduleEntry(input: unknown, where: string): ScheduleEntry {
  if (!isObject(input)) throw new TypeError(`${where}: expected an object with task and schedule, got ${JSON.stringify(input)}`);
  const known = new Set(['task', 'schedule', 'args', 'kwargs', 'options', 'timezone', 'startAt', 'endAt', 'maxRuns', 'misfire', 'misfireGrace', 'overlap', 'relative']);
  for (const key of Object.keys(input)) if (!known.has(key)) throw new TypeError(`${where}: unknown key ${JSON.stringify(key)} (known: ${[...known].join(', ')})`);
  const { task, args = [], kwargs = {}, options = {} } = input;
  if (typeof task !== 'string' || !task) throw new TypeError(`${where}.task: expected a task name, got ${JSON.stringify(task)}`);
  if (!Array.isArray(args)) throw new TypeError(`${where}.args: expected an array, got ${JSON.stringify(args)}`);
  if (!isObject(kwargs)) throw new TypeError(`${where}.kwargs: expected an object, got ${JSON.stringify(kwargs)}`);
  if (!isObject(options)) throw new TypeError(`${where}.options: expected an object, got ${JSON.stringify(options)}`);
  let schedule = toScheduleSpec(input.schedule, `${where}.schedule`);
  if (input.timezone !== undefined) {
    if (typeof input.timezone !== 'string') throw new TypeError(`${where}.timezone: expected an IANA zone name such as Europe/Berlin`);
    checkTimezone(input.timezone, `${where}.timezone`);
    if (schedule.type === 'crontab' || schedule.type === 'cron') schedule = { ...schedule, timezone: schedule.timezone ?? input.timezone };
  }
  const startAt = isoOrNull(input.startAt, `${where}.startAt`);
  const endAt = isoOrNull(input.endAt, `${where}.endAt`);
  if (startAt && endAt && Date.parse(endAt) < Date.parse(startAt)) throw new TypeError(`${where}.endAt: ${endAt} is before startAt ${startAt}`);
  const maxRuns = input.maxRuns ?? null;
  if (maxRuns !== null && (typeof maxRuns !== 'number' || !Number.isInteger(maxRuns) || maxRuns < 1)) {
    throw new TypeError(`${where}.maxRuns: expected a positive integer or null, got ${JSON.stringify(maxRuns)}`);
  }
  const misfire = input.misfire ?? 'once';
  if (misfire !== 'once' && misfire !== 'skip' && misfire !== 'all') throw new TypeError(`${where}.misfire: expected once, skip or all, got ${JSON.stringify(misfire)}`);
  const misfireGrace = input.misfireGrace ?? DEFAULT_MISFIRE_GRACE;
  if (typeof misfireGrace !== 'number' || !Number.isFinite(misfireGrace) || misfireGrace < 0) {
    throw new TypeError(`${where}.misfireGrace: expected a number of seconds, got ${JSON.stringify(misfireGrace)}`);
  }
  const overlap = input.overlap ?? 'allow';
  if (overlap !== 'allow' && overlap !== 'skip') throw new TypeError(`${where}.overlap: expected allow or skip, got ${JSON.stringify(overlap)}`);
  // JSON round trip: the entry is stored as JSON, so what beats compare must be exactly what comes back.
  return JSON.parse(JSON.stringify({ task, schedule, args, kwargs, options, startAt, endAt, maxRuns, misfire, misfireGrace, overlap })) as ScheduleEntry;
}

function isoOrNull(v: unknown, where: string): string | null {
  if (v === undefined || v === null) return null;
  const d = v instanceof Date ? v : typeof v === 'string' ? new Date(v) : null;
  if (!d || Number.isNaN(d.getTime())) throw new TypeError(`${where}: expected a date (Date or ISO 8601 text), got ${JSON.stringify(v)}`);
  return d.toISOString();
}

/** Reads a stored definition back; null when it is not one (written by something else): beats skip it and say so. */
export function storedEntry(definition: Record<string, unknown>, name: string): ScheduleEntry | { error: string } {
  try {
    return toScheduleEntry(definition, `schedule ${JSON.stringify(name)}`);
  } catch (err) {
    return { error: (err as Error).message };
  }
}
