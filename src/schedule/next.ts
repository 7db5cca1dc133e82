/**
 * Slots: the nominal instants a schedule fires at, in ms since the Unix epoch.
 *
 * Daylight saving time. Crontab and cron schedules are computed in their IANA zone (the spec's own, else the app's
 * `timezone`), with Vixie cron's policy:
 *
 * - A fixed-time job (no wildcard and no step in its minute and hour, nor in the seconds of a 6-field cron; such
 *   as `30 2 * * *` or `0 9,17 * * *`) whose local time does not exist, because the clocks jump forward over it,
 *   runs once, at the first valid instant after the gap: 02:30 on the night Berlin jumps from 02:00 to 03:00 runs
 *   at 03:00 local.
 * - A fixed-time job whose local time occurs twice, because the clocks go back, runs once, at the first
 *   occurrence.
 * - A job with a wildcard or a step in its minute or hour (`*\/15 * * * *`, `0 * * * *`) follows real elapsed time:
 *   local times that are skipped do not exist, so they do not fire, and in the repeated hour it fires at both
 *   occurrences. An hourly job fires 23 times on the spring-forward day and 25 times on the fall-back day.
 * - `every` schedules are plain elapsed time (anchor + k * every) and know nothing of zones; a one-off fires at its
 *   instant.
 *
 * This is croner 11's own DST handling with `fixedTimeRule: 'no-wildcard'` (see buildCron below), which is
 * Vixie cron's classification: croner's default counts only single values as fixed, so a list such as `30 2,14`
 * would fire twice in a repeated hour and not at all in a gap. test/unit/schedule-dst.test.ts checks every rule
 * above at real transitions in Europe/Berlin, America/New_York and Australia/Lord_Howe (a 30-minute shift);
 * croner got them all right, so nothing here corrects its results.
 */
import { Cron } from 'croner';
import { cronPattern, type CronSpec, type CrontabSpec, type ScheduleSpec } from './spec.js';

export interface SlotOptions {
  /** The zone used when the spec has none (the app's `timezone` setting), IANA name. */
  timezone: string;
  /** No slot before this (ms), inclusive; null/undefined = no bound. */
  startAt?: number | null;
  /** No slot after this (ms), inclusive; null/undefined = no bound. */
  endAt?: number | null;
}

/** The first slot strictly after `after` (ms), or null when there is none (clocked already past, past endAt). */
export function nextSlot(spec: ScheduleSpec, after: number, options: SlotOptions): number | null {
  // startAt is inclusive, and every kind of slot is a whole millisecond, so "after startAt - 1" finds it.
  const from = options.startAt == null ? after : Math.max(after, options.startAt - 1);
  if (!Number.isFinite(from)) throw new RangeError(`nextSlot: expected a time in ms, got ${after}`);
  const slot = unbounded(spec, from, options.timezone);
  return slot === null || (options.endAt != null && slot > options.endAt) ? null : slot;
}

/** Slots in (after, upTo], ascending, at most `limit` of them. */
export function slotsBetween(spec: ScheduleSpec, after: number, upTo: number, options: SlotOptions, limit: number): number[] {
  const slots: number[] = [];
  let cursor = after;
  while (slots.length < limit) {
    const slot = nextSlot(spec, cursor, options);
    if (slot === null || slot > upTo) break;
    slots.push(slot);
    cursor = slot;
  }
  return slots;
}

/** The next `n` slots after `after` (for `celerity schedule next <name> -n 5`). */
export function nextSlots(spec: ScheduleSpec, after: number, options: SlotOptions, n: number): number[] {
  return slotsBetween(spec, after, Infinity, options, n);
}

function unbounded(spec: ScheduleSpec, after: number, zone: string): number | null {
  switch (spec.type) {
    case 'interval': {
      const period = Math.round(spec.every * 1000);
      const anchor = spec.anchor === undefined ? 0 : Date.parse(spec.anchor);
      return anchor + (Math.floor((after - anchor) / period) + 1) * period;
    }
    case 'clocked': {
      const at = Date.parse(spec.at);
      return at > after ? at : null;
    }
    default:
      return cronNext(cronFor(spec, zone), after);
  }
}

function cronNext(job: Cron, after: number): number | null {
  let at: Date | null = job.nextRun(new Date(after));
  // Croner truncates the reference to its second; a slot is a whole second, so this only guards the contract.
  while (at && at.getTime() <= after) at = job.nextRun(at);
  return at ? at.getTime() : null;
}

/**
 * Croner objects per (spec, zone): building one parses the pattern, and every beat tick asks every schedule for
 * its next slot. Least recently used first out.
 */
const CACHE_SIZE = 1000;
const cache = new Map<string, Cron>();

function cronFor(spec: CrontabSpec | CronSpec, fallbackZone: string): Cron {
  const zone = spec.timezone ?? fallbackZone;
  const key = `${zone} ${JSON.stringify(spec)}`;
  let job = cache.get(key);
  if (job) {
    cache.delete(key);
  } else {
    job = buildCron(spec, zone);
    if (cache.size >= CACHE_SIZE) cache.delete(cache.keys().next().value!);
  }
  cache.set(key, job);
  return job;
}

/**
 * `fixedTimeRule: 'no-wildcard'`: a job whose minute and hour have no wildcard and no step is a fixed-time job, so
 * `30 2,14 * * *` is one, as in Vixie cron; croner's default ('single-value') would treat that list as an interval.
 */
function buildCron(spec: CrontabSpec | CronSpec, zone: string): Cron {
  const { pattern, ...options } = cronPattern(spec);
  return new Cron(pattern, { ...options, timezone: zone, fixedTimeRule: 'no-wildcard', paused: true });
}
