import { describe, expect, it } from 'vitest';
import { checkTimezone, clocked, cron, crontab, describeSpec, every, nextSlot, nextSlots, slotsBetween, toScheduleSpec } from '../../src/schedule/index.js';
import type { ScheduleSpec, SlotOptions } from '../../src/schedule/index.js';

const ms = (iso: string) => Date.parse(iso);
const UTC: SlotOptions = { timezone: 'UTC' };
/** The next `n` slots after `after` in UTC (or `options`), as ISO text. */
const next = (spec: ScheduleSpec, after: string, n: number, options: SlotOptions = UTC) => nextSlots(spec, ms(after), options, n).map((s) => new Date(s).toISOString());
/** The weekday names of the next `n` daily slots. */
const days = (spec: ScheduleSpec, n: number) =>
  nextSlots(spec, ms('2026-01-01T00:00:00Z'), UTC, n).map((s) => new Date(s).toLocaleDateString('en-US', { weekday: 'short', timeZone: 'UTC' }));

/** The message of the TypeError `fn` throws. */
function typeError(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(TypeError);
    return (err as Error).message;
  }
  throw new Error('expected a TypeError');
}

describe('crontab: Celery semantics', () => {
  it('defaults every field to * and is plain JSON', () => {
    const spec = crontab();
    expect(spec).toStrictEqual({ type: 'crontab', minute: '*', hour: '*', dayOfWeek: '*', dayOfMonth: '*', monthOfYear: '*' });
    expect(JSON.parse(JSON.stringify(spec))).toStrictEqual(spec);
    expect(next(spec, '2026-01-01T00:00:30Z', 2)).toEqual(['2026-01-01T00:01:00.000Z', '2026-01-01T00:02:00.000Z']);
  });

  it('takes numbers and lists of numbers, stored as cron text', () => {
    expect(crontab({ minute: [0, 30], hour: 2, dayOfWeek: [1, 3] })).toMatchObject({ minute: '0,30', hour: '2', dayOfWeek: '1,3' });
    expect(next(crontab({ minute: [0, 30], hour: 2 }), '2026-01-01T00:00:00Z', 3)).toEqual(['2026-01-01T02:00:00.000Z', '2026-01-01T02:30:00.000Z', '2026-01-02T02:00:00.000Z']);
  });

  it('day of week 0 is Sunday and 6 Saturday; names are case-insensitive, full or short', () => {
    // 2026-01-01 is a Thursday.
    expect(days(crontab({ minute: 0, hour: 0, dayOfWeek: 0 }), 2)).toEqual(['Sun', 'Sun']);
    expect(days(crontab({ minute: 0, hour: 0, dayOfWeek: 6 }), 1)).toEqual(['Sat']);
    expect(days(crontab({ minute: 0, hour: 0, dayOfWeek: 'SUN' }), 1)).toEqual(['Sun']);
    expect(days(crontab({ minute: 0, hour: 0, dayOfWeek: 'saturday,Sunday' }), 3)).toEqual(['Sat', 'Sun', 'Sat']);
  });

  it('mon-fri, ranges, lists and steps', () => {
    expect(days(crontab({ minute: 0, hour: 9, dayOfWeek: 'mon-fri' }), 6)).toEqual(['Thu', 'Fri', 'Mon', 'Tue', 'Wed', 'Thu']);
    expect(days(crontab({ minute: 0, hour: 9, dayOfWeek: '1-5' }), 3)).toEqual(['Thu', 'Fri', 'Mon']);
    expect(days(crontab({ minute: 0, hour: 9, dayOfWeek: 'mon,wed' }), 3)).toEqual(['Mon', 'Wed', 'Mon']);
    // Celery: '*/2' is every day whose number divides by two (Sun, Tue, Thu, Sat), not every other day.
    expect(days(crontab({ minute: 0, hour: 0, dayOfWeek: '*/2' }), 4)).toEqual(['Sat', 'Sun', 'Tue', 'Thu']);
    expect(next(crontab({ minute: '*/15' }), '2026-01-01T00:00:00Z', 4)).toEqual(['2026-01-01T00:15:00.000Z', '2026-01-01T00:30:00.000Z', '2026-01-01T00:45:00.000Z', '2026-01-01T01:00:00.000Z']);
    expect(next(crontab({ minute: '1-10/2', hour: 0 }), '2026-01-01T00:00:00Z', 6).map((s) => s.slice(14, 16))).toEqual(['01', '03', '05', '07', '09', '01']);
    expect(next(crontab({ minute: 0, hour: '8-17/3' }), '2026-01-01T00:00:00Z', 5).map((s) => s.slice(11, 13))).toEqual(['08', '11', '14', '17', '08']);
  });

  it('keeps only the first value for a step longer than the field, as Celery does', () => {
    expect(next(crontab({ minute: '*/100' }), '2026-01-01T00:00:00Z', 2)).toEqual(['2026-01-01T01:00:00.000Z', '2026-01-01T02:00:00.000Z']);
  });

  it('wraps a reversed range past the end of the field, as Celery does', () => {
    expect(days(crontab({ minute: 0, hour: 0, dayOfWeek: 'fri-mon' }), 5)).toEqual(['Fri', 'Sat', 'Sun', 'Mon', 'Fri']);
    // [22, 23, 0, 1, 2] stepped by 2: 22, 0, 2.
    expect(next(crontab({ minute: 0, hour: '22-2/2' }), '2026-01-01T03:00:00Z', 4).map((s) => s.slice(11, 13))).toEqual(['22', '00', '02', '22']);
  });

  it('matches a day only when day of month AND day of week AND month match', () => {
    const firstMonday = crontab({ minute: 0, hour: 9, dayOfMonth: '1-7', dayOfWeek: 'mon' });
    expect(next(firstMonday, '2026-01-01T00:00:00Z', 5)).toEqual([
      '2026-01-05T09:00:00.000Z',
      '2026-02-02T09:00:00.000Z',
      '2026-03-02T09:00:00.000Z',
      '2026-04-06T09:00:00.000Z',
      '2026-05-04T09:00:00.000Z',
    ]);
    const quarterly = crontab({ minute: 0, hour: 0, dayOfMonth: 1, monthOfYear: '*/3' });
    expect(next(quarterly, '2026-01-01T00:00:00Z', 4)).toEqual(['2026-04-01T00:00:00.000Z', '2026-07-01T00:00:00.000Z', '2026-10-01T00:00:00.000Z', '2027-01-01T00:00:00.000Z']);
    const fridayThe13th = crontab({ minute: 0, hour: 0, dayOfMonth: 13, dayOfWeek: 'fri', monthOfYear: '1-12' });
    expect(next(fridayThe13th, '2026-01-01T00:00:00Z', 3)).toEqual(['2026-02-13T00:00:00.000Z', '2026-03-13T00:00:00.000Z', '2026-11-13T00:00:00.000Z']);
  });

  it('the daily 2 AM cleanup, in UTC and in Europe/Berlin', () => {
    const cleanup = crontab({ hour: 2, minute: 0 });
    expect(next(cleanup, '2026-01-01T00:00:00Z', 2)).toEqual(['2026-01-01T02:00:00.000Z', '2026-01-02T02:00:00.000Z']);
    const berlin: SlotOptions = { timezone: 'Europe/Berlin' };
    expect(next(cleanup, '2026-01-01T00:00:00Z', 2, berlin)).toEqual(['2026-01-01T01:00:00.000Z', '2026-01-02T01:00:00.000Z']);
    expect(next(cleanup, '2026-07-01T00:00:00Z', 1, berlin)).toEqual(['2026-07-02T00:00:00.000Z']);
    // The spec's own zone wins over the app's.
    expect(next(crontab({ hour: 2, minute: 0, timezone: 'Europe/Berlin' }), '2026-01-01T00:00:00Z', 1)).toEqual(['2026-01-01T01:00:00.000Z']);
  });
});

describe('cron strings', () => {
  it('5 fields, or 6 with seconds first', () => {
    expect(cron('  0 2  * * * ')).toStrictEqual({ type: 'cron', expression: '0 2 * * *' });
    expect(next(cron('0 2 * * *'), '2026-01-01T00:00:00Z', 1)).toEqual(['2026-01-01T02:00:00.000Z']);
    expect(next(cron('*/20 * * * * *'), '2026-01-01T00:00:00Z', 3)).toEqual(['2026-01-01T00:00:20.000Z', '2026-01-01T00:00:40.000Z', '2026-01-01T00:01:00.000Z']);
    expect(next(cron('0 9 * * 1', { timezone: 'America/New_York' }), '2026-01-01T00:00:00Z', 1)).toEqual(['2026-01-05T14:00:00.000Z']);
  });

  it('ANDs the day fields like Celery (Vixie cron would take days 1-7 OR every Monday)', () => {
    expect(next(cron('0 9 1-7 * mon'), '2026-01-01T00:00:00Z', 2)).toEqual(['2026-01-05T09:00:00.000Z', '2026-02-02T09:00:00.000Z']);
  });
});

describe('every', () => {
  it('is aligned to the epoch by default: every 30 s fires at :00 and :30', () => {
    expect(every(30)).toStrictEqual({ type: 'interval', every: 30 });
    expect(next(every(30), '2026-01-01T12:00:10Z', 3)).toEqual(['2026-01-01T12:00:30.000Z', '2026-01-01T12:01:00.000Z', '2026-01-01T12:01:30.000Z']);
    expect(next(every(30), '2026-01-01T12:00:30Z', 1)).toEqual(['2026-01-01T12:01:00.000Z']);
    expect(next(every(3600), '2026-01-01T12:34:56Z', 1)).toEqual(['2026-01-01T13:00:00.000Z']);
    expect(next(every(0.25), '2026-01-01T12:00:00.100Z', 2)).toEqual(['2026-01-01T12:00:00.250Z', '2026-01-01T12:00:00.500Z']);
  });

  it('is aligned to its anchor, before and after it', () => {
    const spec = every(30, { anchor: '2026-01-01T00:00:10+00:00' });
    expect(spec).toStrictEqual({ type: 'interval', every: 30, anchor: '2026-01-01T00:00:10.000Z' });
    expect(next(spec, '2026-01-01T12:00:00Z', 2)).toEqual(['2026-01-01T12:00:10.000Z', '2026-01-01T12:00:40.000Z']);
    expect(next(spec, '2025-12-31T23:59:50Z', 1)).toEqual(['2026-01-01T00:00:10.000Z']);
    expect(every(7, { anchor: new Date('2026-01-01T00:00:00Z') })).toStrictEqual({ type: 'interval', every: 7, anchor: '2026-01-01T00:00:00.000Z' });
  });

  it('knows nothing of zones', () => {
    expect(next(every(3600), '2026-03-29T00:30:00Z', 2, { timezone: 'Europe/Berlin' })).toEqual(['2026-03-29T01:00:00.000Z', '2026-03-29T02:00:00.000Z']);
  });
});

describe('clocked', () => {
  it('has one slot, then none', () => {
    const spec = clocked('2026-12-24T18:00:00Z');
    expect(spec).toStrictEqual({ type: 'clocked', at: '2026-12-24T18:00:00.000Z' });
    expect(nextSlot(spec, ms('2026-01-01T00:00:00Z'), UTC)).toBe(ms('2026-12-24T18:00:00Z'));
    expect(nextSlot(spec, ms('2026-12-24T18:00:00Z'), UTC)).toBeNull();
    expect(next(spec, '2026-01-01T00:00:00Z', 5)).toEqual(['2026-12-24T18:00:00.000Z']);
    expect(clocked(new Date('2026-12-24T19:00:00+01:00'))).toStrictEqual(spec);
  });
});

describe('startAt and endAt', () => {
  it('are inclusive bounds', () => {
    const noon = ms('2026-01-01T12:00:00Z');
    expect(nextSlot(every(60), noon - 10_000, { ...UTC, startAt: noon })).toBe(noon);
    expect(nextSlot(every(60), noon - 10_000, { ...UTC, startAt: noon + 1 })).toBe(noon + 60_000);
    expect(nextSlot(every(60), noon + 120_000, { ...UTC, startAt: noon })).toBe(noon + 180_000);
    expect(nextSlot(every(60), noon - 1, { ...UTC, endAt: noon })).toBe(noon);
    expect(nextSlot(every(60), noon, { ...UTC, endAt: noon + 59_999 })).toBeNull();
    expect(nextSlots(crontab({ minute: 0 }), noon - 1, { ...UTC, startAt: noon, endAt: noon + 3 * 3_600_000 }, 10)).toHaveLength(4);
    expect(nextSlot(crontab({ minute: 0 }), noon - 3_600_000, { ...UTC, startAt: noon, endAt: null })).toBe(noon);
    expect(nextSlot(clocked(new Date(noon)), 0, { ...UTC, endAt: noon - 1 })).toBeNull();
    expect(nextSlot(clocked(new Date(noon)), 0, { ...UTC, startAt: noon + 1 })).toBeNull();
  });
});

describe('slotsBetween', () => {
  it('returns the slots in (after, upTo], ascending', () => {
    const from = ms('2026-01-01T00:00:00Z');
    expect(slotsBetween(every(60), from, from + 180_000, UTC, 100)).toEqual([from + 60_000, from + 120_000, from + 180_000]);
    expect(slotsBetween(every(60), from, from, UTC, 100)).toEqual([]);
  });

  it('stops at the limit, even over a long outage', () => {
    const from = ms('2020-01-01T00:00:00Z');
    const upTo = ms('2026-01-01T00:00:00Z');
    const started = Date.now();
    expect(slotsBetween(every(1), from, upTo, UTC, 5)).toEqual([1, 2, 3, 4, 5].map((k) => from + k * 1000));
    expect(slotsBetween(crontab(), from, upTo, UTC, 1000)).toHaveLength(1000);
    expect(slotsBetween(every(1), from, upTo, UTC, 0)).toEqual([]);
    expect(Date.now() - started).toBeLessThan(2000);
  });
});

describe('the croner cache', () => {
  it('keeps zones apart and stays correct past its size', () => {
    const spec = crontab({ hour: 2, minute: 0 });
    const after = ms('2026-01-01T00:00:00Z');
    expect(nextSlot(spec, after, UTC)).toBe(ms('2026-01-01T02:00:00Z'));
    expect(nextSlot(spec, after, { timezone: 'Europe/Berlin' })).toBe(ms('2026-01-01T01:00:00Z'));
    expect(nextSlot(spec, after, { timezone: 'America/New_York' })).toBe(ms('2026-01-01T07:00:00Z'));
    for (let i = 0; i < 1100; i++) expect(nextSlot(crontab({ minute: i % 60, hour: Math.floor(i / 60) % 24, dayOfMonth: 1 + (i % 28) }), after, UTC)).not.toBeNull();
    expect(nextSlot(spec, after, { timezone: 'Europe/Berlin' })).toBe(ms('2026-01-01T01:00:00Z'));
  });

  it('refuses a time that is not one', () => {
    expect(() => nextSlot(every(30), NaN, UTC)).toThrow(RangeError);
  });
});

describe('toScheduleSpec', () => {
  const where = 'beatSchedule.cleanup.schedule';

  it('reads every shape users write', () => {
    expect(toScheduleSpec(30, where)).toStrictEqual(every(30));
    expect(toScheduleSpec(2.5, where)).toStrictEqual({ type: 'interval', every: 2.5 });
    expect(toScheduleSpec('0 2 * * *', where)).toStrictEqual(cron('0 2 * * *'));
    expect(toScheduleSpec({ every: 30 }, where)).toStrictEqual(every(30));
    expect(toScheduleSpec({ every: 30, anchor: '2026-01-01T00:00:10Z' }, where)).toStrictEqual(every(30, { anchor: '2026-01-01T00:00:10Z' }));
    expect(toScheduleSpec({ crontab: { hour: 2, minute: 0 } }, where)).toStrictEqual(crontab({ hour: 2, minute: 0 }));
    expect(toScheduleSpec({ crontab: {} }, where)).toStrictEqual(crontab());
    expect(toScheduleSpec({ crontab: { hour: 2 }, timezone: 'Europe/Berlin' }, where)).toStrictEqual(crontab({ hour: 2, timezone: 'Europe/Berlin' }));
    expect(toScheduleSpec({ crontab: { day_of_week: 'mon', month_of_year: 1, day_of_month: '1-7' } }, where)).toStrictEqual(
      crontab({ dayOfWeek: 'mon', monthOfYear: 1, dayOfMonth: '1-7' }),
    );
    expect(toScheduleSpec({ cron: '0 2 * * *', timezone: 'Europe/Berlin' }, where)).toStrictEqual(cron('0 2 * * *', { timezone: 'Europe/Berlin' }));
    expect(toScheduleSpec({ at: '2026-12-24T18:00:00Z' }, where)).toStrictEqual(clocked('2026-12-24T18:00:00Z'));
    expect(toScheduleSpec({ at: new Date('2026-12-24T18:00:00Z') }, where)).toStrictEqual(clocked('2026-12-24T18:00:00Z'));
  });

  it('gives back a spec unchanged, also after a JSON round trip', () => {
    const specs = [
      crontab({ minute: [0, 30], hour: '*/2', dayOfWeek: 'mon-fri', timezone: 'Europe/Berlin' }),
      cron('*/10 * * * * *', { timezone: 'UTC' }),
      every(30),
      every(0.5, { anchor: '2026-01-01T00:00:00Z' }),
      clocked('2026-12-24T18:00:00Z'),
    ];
    for (const spec of specs) {
      const stored = JSON.parse(JSON.stringify(spec)) as unknown;
      expect(toScheduleSpec(stored, where)).toStrictEqual(spec);
      expect(JSON.stringify(toScheduleSpec(stored, where))).toBe(JSON.stringify(spec));
    }
  });

  it('rejects what is not a schedule, naming where and what was expected', () => {
    for (const bad of [null, undefined, true, [1, 2], {}, { schedule: 30 }, new Date(), () => 1]) {
      expect(typeError(() => toScheduleSpec(bad, where))).toMatch(/^beatSchedule\.cleanup\.schedule: expected a schedule: seconds \(30\), a cron string/);
    }
    expect(typeError(() => toScheduleSpec({ type: 'solar' }, where))).toMatch(/^beatSchedule\.cleanup\.schedule\.type: expected crontab, cron, interval or clocked, got "solar"/);
    expect(typeError(() => toScheduleSpec({ every: 30, offset: 5 }, where))).toMatch(/^beatSchedule\.cleanup\.schedule: unknown key "offset"/);
    expect(typeError(() => toScheduleSpec({ crontab: { hour: 2, minutes: 5 } }, where))).toMatch(/^beatSchedule\.cleanup\.schedule\.crontab: unknown crontab field "minutes"/);
    expect(typeError(() => toScheduleSpec({ crontab: '0 2 * * *' }, where))).toMatch(/\.crontab: expected an object of crontab fields/);
    expect(typeError(() => toScheduleSpec({ crontab: { timezone: 'UTC' }, timezone: 'UTC' }, where))).toMatch(/\.timezone: given beside crontab and inside it/);
  });

  it('rejects an invalid crontab field, naming the field and the value', () => {
    const cases: [unknown, RegExp][] = [
      [{ hour: 24 }, /\.crontab\.hour: invalid value 24: 24 is out of range 0-23/],
      [{ minute: '61' }, /\.crontab\.minute: invalid value "61": 61 is out of range 0-59/],
      [{ dayOfWeek: 7 }, /\.crontab\.dayOfWeek: invalid value 7: 7 is out of range 0-6 .*0 = Sunday/],
      [{ dayOfWeek: 'funday' }, /\.crontab\.dayOfWeek: invalid value "funday": "funday" is neither a number nor a day name/],
      [{ dayOfMonth: 0 }, /\.crontab\.dayOfMonth: invalid value 0: 0 is out of range 1-31/],
      [{ monthOfYear: '1-13' }, /\.crontab\.monthOfYear: invalid value "1-13": 13 is out of range 1-12/],
      [{ minute: '*/0' }, /\.crontab\.minute: invalid value "\*\/0": step "0" is not a whole number/],
      [{ minute: '5/15' }, /\.crontab\.minute: invalid value "5\/15": cannot read "5\/15"/],
      [{ minute: '0,,30' }, /\.crontab\.minute: invalid value "0,,30": empty part/],
      [{ hour: 'mon' }, /\.crontab\.hour: invalid value "mon": "mon" is not a number/],
      [{ hour: [] }, /\.crontab\.hour: invalid value \[\]: expected a pattern string, a number or a non-empty list of numbers/],
      [{ hour: 1.5 }, /\.crontab\.hour: invalid value 1\.5/],
      [{ dayOfMonth: 30, monthOfYear: 2 }, /\.crontab: crontab \* \* 30 2 \* matches no date/],
    ];
    for (const [fields, message] of cases) {
      expect(typeError(() => toScheduleSpec({ crontab: fields }, where))).toMatch(new RegExp(`^beatSchedule\\.cleanup\\.schedule${message.source}`));
    }
    expect(typeError(() => crontab({ hour: 24 }))).toMatch(/^crontab\.hour: invalid value 24/);
    expect(typeError(() => toScheduleSpec({ type: 'crontab', minute: '99', hour: '*', dayOfWeek: '*', dayOfMonth: '*', monthOfYear: '*' }, where))).toMatch(
      /^beatSchedule\.cleanup\.schedule\.minute: invalid value "99"/,
    );
  });

  it('rejects an invalid cron expression, naming the field and the value', () => {
    expect(typeError(() => toScheduleSpec('61 * * * *', where))).toBe(`${where}: invalid cron expression "61 * * * *": field minute "61": out of range 0-59`);
    expect(typeError(() => toScheduleSpec('0 2 * 13 *', where))).toMatch(/field month "13": out of range 1-12$/);
    expect(typeError(() => toScheduleSpec('0 0 2 * * 8', where))).toMatch(/field dayOfWeek "8": out of range 0-7$/);
    expect(typeError(() => toScheduleSpec('0 2 * *', where))).toMatch(/expected 5 fields \(minute hour day-of-month month day-of-week\) or 6 with seconds first, got 4$/);
    expect(typeError(() => toScheduleSpec({ cron: '0 2 x * *' }, where))).toMatch(/^beatSchedule\.cleanup\.schedule\.cron: invalid cron expression "0 2 x \* \*": field dayOfMonth "x"/);
    expect(typeError(() => toScheduleSpec({ type: 'cron', expression: 5 }, where))).toMatch(/\.expression: expected a cron expression/);
    expect(typeError(() => toScheduleSpec('0 0 30 2 *', where))).toMatch(/: it matches no date$/);
    expect(typeError(() => cron('nonsense'))).toMatch(/^cron: invalid cron expression "nonsense"/);
  });

  it('rejects an unknown zone, a non-positive interval and an invalid date', () => {
    expect(typeError(() => toScheduleSpec({ cron: '0 2 * * *', timezone: 'Mars/Olympus' }, where))).toBe(
      `${where}.timezone: unknown time zone "Mars/Olympus", expected an IANA zone name such as Europe/Berlin or UTC`,
    );
    expect(typeError(() => toScheduleSpec({ crontab: { hour: 2, timezone: 'CEST' } }, where))).toMatch(/\.crontab\.timezone: unknown time zone "CEST"/);
    expect(typeError(() => crontab({ timezone: '+02:00' }))).toMatch(/^crontab\.timezone: unknown time zone/);
    for (const bad of [0, -5, NaN, Infinity, 0.0001]) expect(typeError(() => toScheduleSpec({ every: bad }, where))).toMatch(/^beatSchedule\.cleanup\.schedule\.every: expected/);
    expect(typeError(() => toScheduleSpec(0, where))).toMatch(/^beatSchedule\.cleanup\.schedule: expected a number of seconds greater than 0, got 0/);
    expect(typeError(() => toScheduleSpec({ every: '30' }, where))).toMatch(/\.every: expected a number of seconds greater than 0, got "30"/);
    expect(typeError(() => every(-1))).toMatch(/^every: expected a number of seconds/);
    expect(typeError(() => toScheduleSpec({ every: 30, anchor: 'yesterday' }, where))).toMatch(/\.anchor: expected a Date or an ISO 8601 instant/);
    for (const at of ['2026-13-01T00:00:00Z', '2026-12-24T18:00:00', 'tomorrow', 1_800_000_000_000, new Date(NaN)]) {
      expect(typeError(() => toScheduleSpec({ at }, where))).toMatch(/^beatSchedule\.cleanup\.schedule\.at: expected a Date or an ISO 8601 instant/);
    }
    expect(typeError(() => clocked('soon'))).toMatch(/^clocked: expected a Date/);
  });
});

describe('checkTimezone', () => {
  it('accepts IANA zones and UTC, rejects the rest naming where', () => {
    for (const zone of ['UTC', 'Europe/Berlin', 'America/New_York', 'Australia/Lord_Howe', 'Etc/GMT+5']) expect(() => checkTimezone(zone, 'timezone')).not.toThrow();
    for (const zone of ['', 'Mars/Olympus', '+01:00', '5']) expect(typeError(() => checkTimezone(zone, 'app.timezone'))).toMatch(/^app\.timezone: unknown time zone/);
  });
});

describe('describeSpec', () => {
  it('says what a schedule does, in short', () => {
    expect(describeSpec(crontab({ hour: 2, minute: 0, timezone: 'Europe/Berlin' }))).toBe('crontab 0 2 * * * (Europe/Berlin)');
    expect(describeSpec(crontab({ minute: '*/15', dayOfWeek: 'mon-fri', dayOfMonth: '1-7', monthOfYear: [1, 7] }))).toBe('crontab */15 * 1-7 1,7 mon-fri');
    expect(describeSpec(cron('0 2 * * *'))).toBe('cron 0 2 * * *');
    expect(describeSpec(cron('0 2 * * *', { timezone: 'UTC' }))).toBe('cron 0 2 * * * (UTC)');
    expect(describeSpec(every(30))).toBe('every 30 s');
    expect(describeSpec(every(30, { anchor: '2026-01-01T00:00:10Z' }))).toBe('every 30 s from 2026-01-01T00:00:10.000Z');
    expect(describeSpec(clocked('2026-12-24T18:00:00Z'))).toBe('once at 2026-12-24T18:00:00.000Z');
  });
});
