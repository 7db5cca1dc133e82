/**
 * Schedules as plain JSON data: Celery's crontab, a cron string, a fixed interval and a one-off time. They are
 * stored in a database and compared as JSON text, so every constructor returns the same keys in the same order,
 * and a spec read back through toScheduleSpec comes out unchanged.
 */
import { Cron } from 'croner';

export type ScheduleSpec =
  | { type: 'crontab'; minute: string; hour: string; dayOfWeek: string; dayOfMonth: string; monthOfYear: string; timezone?: string }
  | { type: 'cron'; expression: string; timezone?: string }
  | { type: 'interval'; every: number; anchor?: string }
  | { type: 'clocked'; at: string };

export type CrontabSpec = Extract<ScheduleSpec, { type: 'crontab' }>;
export type CronSpec = Extract<ScheduleSpec, { type: 'cron' }>;

/** One crontab field: a pattern ('*\/15', '1-5', 'mon-fri', '0,30'), a number or a list of numbers. */
export type CronField = string | number | readonly number[];

type FieldName = 'minute' | 'hour' | 'dayOfWeek' | 'dayOfMonth' | 'monthOfYear';
export type CrontabFields = { [K in FieldName]?: CronField } & { timezone?: string };

// Celery's bounds (crontab._expand_cronspec): a day of week 7 is an error there, so it is one here too.
const BOUNDS: Record<FieldName, readonly [number, number]> = { minute: [0, 59], hour: [0, 23], dayOfWeek: [0, 6], dayOfMonth: [1, 31], monthOfYear: [1, 12] };
const WEEKDAYS = ['sunday', 'monday', 'tuesday', 'wednesday', 'thursday', 'friday', 'saturday'];
const SNAKE: Record<string, FieldName> = { day_of_week: 'dayOfWeek', day_of_month: 'dayOfMonth', month_of_year: 'monthOfYear' };
/** Fields of a 5-field cron expression, with the values croner takes (a day of week 7 is Sunday there). */
const CRON_FIELDS: [string, number, number][] = [['minute', 0, 59], ['hour', 0, 23], ['dayOfMonth', 1, 31], ['month', 1, 12], ['dayOfWeek', 0, 7]];
/** The shorthand object forms: the key that names each, and the spec type it makes. */
const SHORT: Record<string, ScheduleSpec['type']> = { crontab: 'crontab', cron: 'cron', every: 'interval', at: 'clocked' };
const EXPECTED =
  "a schedule: seconds (30), a cron string ('0 2 * * *'), crontab({...}), every(30), clocked(date), " +
  "{ every: 30 }, { crontab: { minute, hour, ... } }, { cron: '0 2 * * *', timezone } or { at: '2026-12-24T18:00:00Z' }";

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Date);
function shown(v: unknown): string {
  if (v instanceof Date) return Number.isNaN(v.getTime()) ? 'an invalid Date' : v.toISOString();
  if (typeof v === 'function') return 'a function';
  try {
    return JSON.stringify(v) ?? String(v);
  } catch {
    return String(v); // a BigInt or a cycle
  }
}

/** Celery's crontab(): every field defaults to '*'. */
export function crontab(fields: CrontabFields = {}): ScheduleSpec {
  return makeCrontab(fields as Record<string, unknown>, 'crontab');
}

/**
 * A cron expression, 5 fields (or 6 with seconds first), with standard cron semantics except one: a day must match
 * the day of month AND the day of week, as in Celery's crontab, where Vixie cron takes either when both are set.
 */
export function cron(expression: string, options: { timezone?: string } = {}): ScheduleSpec {
  return makeCron(expression, options.timezone, 'cron', 'cron.timezone');
}

/** Every `seconds` (> 0, whole milliseconds), at anchor + k * seconds; the anchor defaults to the Unix epoch. */
export function every(seconds: number, options: { anchor?: Date | string } = {}): ScheduleSpec {
  return makeEvery(seconds, options.anchor, 'every', 'every.anchor');
}

/** Once, at an instant. */
export function clocked(at: Date | string): ScheduleSpec {
  return { type: 'clocked', at: toInstant(at, 'clocked') };
}

/**
 * What users write, normalized: a ScheduleSpec; a number (seconds, like Celery's float `schedule`); a cron string;
 * { every, anchor? }; { crontab: fields?, timezone? }; { cron, timezone? }; { at }. Throws a TypeError naming
 * `where` and what was expected.
 */
export function toScheduleSpec(input: unknown, where: string): ScheduleSpec {
  if (typeof input === 'number') return makeEvery(input, undefined, where, where);
  if (typeof input === 'string') return makeCron(input, undefined, where, where);
  if (!isObject(input)) throw new TypeError(`${where}: expected ${EXPECTED}, got ${shown(input)}`);
  const typed = 'type' in input;
  const shortKey = Object.keys(SHORT).find((key) => key in input);
  const kind = typed ? input.type : shortKey && SHORT[shortKey];
  if (typed && !(Object.values(SHORT) as unknown[]).includes(kind)) {
    throw new TypeError(`${where}.type: expected crontab, cron, interval or clocked, got ${shown(input.type)}`);
  }
  switch (kind) {
    case 'crontab': {
      if (typed) return makeCrontab(Object.fromEntries(Object.entries(input).filter(([key]) => key !== 'type')), where);
      onlyKeys(input, ['crontab', 'timezone'], where);
      const fields = input.crontab ?? {};
      if (!isObject(fields)) throw new TypeError(`${where}.crontab: expected an object of crontab fields, got ${shown(fields)}`);
      if (input.timezone === undefined) return makeCrontab(fields, `${where}.crontab`);
      if ('timezone' in fields) throw new TypeError(`${where}.timezone: given beside crontab and inside it; give it once`);
      zoneOf(input.timezone, `${where}.timezone`);
      return makeCrontab({ ...fields, timezone: input.timezone }, `${where}.crontab`);
    }
    case 'cron': {
      const key = typed ? 'expression' : 'cron';
      onlyKeys(input, [key, 'timezone'], where);
      return makeCron(input[key], input.timezone, `${where}.${key}`, `${where}.timezone`);
    }
    case 'interval':
      onlyKeys(input, ['every', 'anchor'], where);
      return makeEvery(input.every, input.anchor, `${where}.every`, `${where}.anchor`);
    case 'clocked':
      onlyKeys(input, ['at'], where);
      return { type: 'clocked', at: toInstant(input.at, `${where}.at`) };
  }
  throw new TypeError(`${where}: expected ${EXPECTED}, got ${shown(input)}`);
}

/** Short human text: 'crontab 0 2 * * * (Europe/Berlin)', 'every 30 s', 'once at 2026-12-24T18:00:00.000Z'. */
export function describeSpec(spec: ScheduleSpec): string {
  const zone = 'timezone' in spec && spec.timezone ? ` (${spec.timezone})` : '';
  // Celery's crontab repr order (m h dM MY d) is cron's.
  if (spec.type === 'crontab') return `crontab ${spec.minute} ${spec.hour} ${spec.dayOfMonth} ${spec.monthOfYear} ${spec.dayOfWeek}${zone}`;
  if (spec.type === 'cron') return `cron ${spec.expression}${zone}`;
  if (spec.type === 'interval') return `every ${spec.every} s${spec.anchor ? ` from ${spec.anchor}` : ''}`;
  return `once at ${spec.at}`;
}

/** Throws a TypeError naming `where` when `zone` is not an IANA zone Intl knows. 'UTC' is valid. */
export function checkTimezone(zone: string, where: string): void {
  const bad = () => new TypeError(`${where}: unknown time zone ${shown(zone)}, expected an IANA zone name such as Europe/Berlin or UTC`);
  // Newer V8 takes bare UTC offsets as zones; an offset knows no daylight saving time, so it is not a zone here.
  if (typeof zone !== 'string' || !zone || /^[+-]|^\d/.test(zone)) throw bad();
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: zone });
  } catch {
    throw bad();
  }
}

/**
 * The croner pattern of a crontab or cron spec. Croner options that change what matches belong here, so that
 * validation and slots agree: `domAndDow` is Celery's AND of the day fields, crontab has minute resolution.
 */
export function cronPattern(spec: CrontabSpec | CronSpec): { pattern: string; mode: '5-part' | '5-or-6-parts'; domAndDow: true } {
  if (spec.type === 'cron') return { pattern: spec.expression, mode: '5-or-6-parts', domAndDow: true };
  const f = (name: FieldName) => cronerField(spec[name], name);
  return { pattern: [f('minute'), f('hour'), f('dayOfMonth'), f('monthOfYear'), f('dayOfWeek')].join(' '), mode: '5-part', domAndDow: true };
}

/** Builds the croner object (which parses the pattern) and rejects a pattern that matches no date. */
function validate(spec: CrontabSpec | CronSpec): void {
  const { pattern, ...options } = cronPattern(spec);
  const job = new Cron(pattern, { ...options, paused: true });
  // A spec that never fires (February 30) would leave a schedule silently dead; Celery raises too.
  if (!job.nextRun(new Date(0))) throw new RangeError(`${describeSpec(spec)} matches no date`);
}

function makeCrontab(fields: Record<string, unknown>, where: string): ScheduleSpec {
  const given: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(fields)) {
    const name = SNAKE[key] ?? key;
    if (!(name in BOUNDS) && name !== 'timezone') {
      throw new TypeError(`${where}: unknown crontab field ${shown(key)} (known: minute, hour, dayOfWeek, dayOfMonth, monthOfYear, timezone)`);
    }
    if (name in given) throw new TypeError(`${where}.${name}: given twice (as ${name} and ${key})`);
    given[name] = value;
  }
  const spec: CrontabSpec = {
    type: 'crontab',
    minute: fieldText(given.minute, 'minute', where),
    hour: fieldText(given.hour, 'hour', where),
    dayOfWeek: fieldText(given.dayOfWeek, 'dayOfWeek', where),
    dayOfMonth: fieldText(given.dayOfMonth, 'dayOfMonth', where),
    monthOfYear: fieldText(given.monthOfYear, 'monthOfYear', where),
  };
  if (given.timezone !== undefined) spec.timezone = zoneOf(given.timezone, `${where}.timezone`);
  try {
    validate(spec);
  } catch (err) {
    throw new TypeError(`${where}: ${(err as Error).message}`, { cause: err });
  }
  return spec;
}

function makeCron(expression: unknown, timezone: unknown, where: string, zoneWhere: string): ScheduleSpec {
  if (typeof expression !== 'string') throw new TypeError(`${where}: expected a cron expression such as '0 2 * * *', got ${shown(expression)}`);
  const spec: CronSpec = { type: 'cron', expression: expression.trim().split(/\s+/).join(' ') };
  if (timezone !== undefined) spec.timezone = zoneOf(timezone, zoneWhere);
  try {
    validate(spec);
  } catch (err) {
    const why = err instanceof RangeError && /matches no date/.test(err.message) ? 'it matches no date' : cronFault(spec.expression, err);
    throw new TypeError(`${where}: invalid cron expression ${shown(expression)}: ${why}`, { cause: err });
  }
  return spec;
}

function makeEvery(seconds: unknown, anchor: unknown, where: string, anchorWhere: string): ScheduleSpec {
  if (typeof seconds !== 'number' || !Number.isFinite(seconds) || seconds <= 0) {
    throw new TypeError(`${where}: expected a number of seconds greater than 0, got ${shown(seconds)}`);
  }
  // Slots are whole milliseconds; a shorter period would round to nothing.
  if (Math.round(seconds * 1000) < 1) throw new TypeError(`${where}: expected at least 0.001 seconds, got ${seconds}`);
  return anchor === undefined ? { type: 'interval', every: seconds } : { type: 'interval', every: seconds, anchor: toInstant(anchor, anchorWhere) };
}

function onlyKeys(input: Record<string, unknown>, known: string[], where: string): void {
  for (const key of Object.keys(input)) {
    if (key !== 'type' && !known.includes(key)) throw new TypeError(`${where}: unknown key ${shown(key)} (known here: ${known.join(', ')})`);
  }
}

function zoneOf(zone: unknown, where: string): string {
  checkTimezone(zone as string, where);
  return zone as string;
}

// An explicit offset is required: a string without one would be read in the process's own zone.
const ISO_INSTANT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})$/i;

function toInstant(value: unknown, where: string): string {
  const ms = value instanceof Date ? value.getTime() : typeof value === 'string' && ISO_INSTANT.test(value.trim()) ? Date.parse(value.trim()) : NaN;
  if (Number.isNaN(ms)) throw new TypeError(`${where}: expected a Date or an ISO 8601 instant with Z or an offset ('2026-12-24T18:00:00Z'), got ${shown(value)}`);
  return new Date(ms).toISOString();
}

/** Names the field of a cron expression croner refused, by trying each field alone. */
function cronFault(expression: string, err: unknown): string {
  const reason = (e: unknown) => (e instanceof Error ? e.message : String(e)).replace(/^CronPattern: /, '');
  const parts = expression.split(' ');
  if (parts.length !== 5 && parts.length !== 6) {
    return `expected 5 fields (minute hour day-of-month month day-of-week) or 6 with seconds first, got ${parts.length}`;
  }
  const fields = parts.length === 6 ? [['second', 0, 59] as const, ...CRON_FIELDS] : CRON_FIELDS;
  for (let i = 0; i < parts.length; i++) {
    const alone = parts.map((p, j) => (j === i ? p : '*')).join(' ');
    try {
      new Cron(alone, { mode: '5-or-6-parts', paused: true });
    } catch (e) {
      const [name, lo, hi] = fields[i]!;
      // Croner reports month and day of month shifted by one ("Invalid value for month: 12" for 13).
      const why = /^Invalid value/.test(reason(e)) ? `out of range ${lo}-${hi}` : reason(e);
      return `field ${name} ${shown(parts[i])}: ${why}`;
    }
  }
  return reason(err);
}

/** The stored text of one crontab field: numbers and lists as cron text, patterns checked and kept as written. */
function fieldText(value: unknown, field: FieldName, where: string): string {
  const [lo, hi] = BOUNDS[field];
  const fail = (why: string) => {
    const accepted = field === 'dayOfWeek' ? `${lo}-${hi} with 0 = Sunday, or sun-sat` : `${lo}-${hi}`;
    return new TypeError(`${where}.${field}: invalid value ${shown(value)}: ${why} (a crontab ${field} takes ${accepted}, '*', ranges, steps and lists)`);
  };
  let text: string;
  if (value === undefined) text = '*';
  else if (typeof value === 'number') text = String(value);
  else if (Array.isArray(value) && value.length && value.every((v) => typeof v === 'number')) text = value.join(',');
  else if (typeof value === 'string') text = value.replace(/\s+/g, '');
  else throw fail('expected a pattern string, a number or a non-empty list of numbers');
  try {
    cronerField(text, field);
  } catch (err) {
    throw fail((err as Error).message);
  }
  return text;
}

/**
 * One crontab field in Celery's grammar (celery.schedules.crontab_parser), rewritten as croner text. Celery reads a
 * reversed range as wrapping past the field's end ('fri-mon', hour '22-2'); cron has no such range, so it becomes
 * two, the second starting where the step lands after the wrap. Steps stay steps, because a step makes a job an
 * interval job for daylight saving time.
 */
function cronerField(text: string, field: FieldName): string {
  const [lo, hi] = BOUNDS[field];
  const span = hi - lo + 1;
  const value = (token: string): number => {
    let n = /^\d+$/.test(token) ? Number(token) : NaN;
    if (Number.isNaN(n) && field === 'dayOfWeek') {
      const t = token.toLowerCase();
      n = WEEKDAYS.findIndex((day) => day === t || day.slice(0, 3) === t);
      if (n < 0) throw new Error(`${shown(token)} is neither a number nor a day name`);
    }
    if (Number.isNaN(n)) throw new Error(`${shown(token)} is not a number`);
    if (n < lo || n > hi) throw new Error(`${n} is out of range ${lo}-${hi}`);
    return n;
  };
  // Celery slices the expanded values by the step, so a step longer than the field just keeps the first value.
  const stepOf = (token: string): number => {
    const n = Number(token);
    if (!/^\d+$/.test(token) || n < 1) throw new Error(`step ${shown(token)} is not a whole number of at least 1`);
    return Math.min(n, span);
  };
  const range = (a: number, b: number, step: number) => (a === b ? `${a}` : step === 1 ? `${a}-${b}` : `${a}-${b}/${step}`);
  return text
    .split(',')
    .map((part) => {
      if (part === '') throw new Error('empty part');
      if (part === '*') return '*';
      let m = /^\*\/(\w*)$/.exec(part);
      if (m) return `*/${stepOf(m[1]!)}`;
      m = /^(\w+)-(\w+)(?:\/(\w*))?$/.exec(part);
      if (m) {
        const a = value(m[1]!);
        const b = value(m[2]!);
        const step = m[3] === undefined ? 1 : stepOf(m[3]);
        if (a <= b) return range(a, b, step);
        const start = lo + ((step - ((hi - a + 1) % step)) % step);
        return start > b ? range(a, hi, step) : `${range(a, hi, step)},${range(start, b, step)}`;
      }
      if (/^\w+$/.test(part)) return String(value(part));
      throw new Error(`cannot read ${shown(part)}`);
    })
    .join(',');
}
