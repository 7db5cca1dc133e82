import { describe, expect, it } from 'vitest';
import { cron, crontab, nextSlots, slotsBetween, type ScheduleSpec } from '../../src/schedule/index.js';

const ms = (iso: string) => Date.parse(iso);
const iso = (slots: number[]) => slots.map((s) => new Date(s).toISOString());
const UTC = { timezone: 'UTC' };

/** The next `n` slots after `after`, as ISO text, with the spec computed in `zone`. */
const next = (spec: ScheduleSpec, zone: string, after: string, n: number) => iso(nextSlots(spec, ms(after), { timezone: zone }, n));
/** Slots in (after, upTo], as ISO text. */
const between = (spec: ScheduleSpec, zone: string, after: string, upTo: string) => iso(slotsBetween(spec, ms(after), ms(upTo), { timezone: zone }, 10_000));
/** How many slots fall in [from, to). */
const count = (spec: ScheduleSpec, zone: string, from: string, to: string) => slotsBetween(spec, ms(from) - 1, ms(to) - 1, { timezone: zone }, 20_000).length;

const offset = (zone: string, at: string) =>
  new Intl.DateTimeFormat('en-US', { timeZone: zone, timeZoneName: 'longOffset' }).formatToParts(new Date(at)).find((p) => p.type === 'timeZoneName')!.value;

describe('the transitions these tests rely on (from the system zone data)', () => {
  it.each([
    ['Europe/Berlin', '2026-03-29T01:00:00Z', 'GMT+01:00', 'GMT+02:00'],
    ['Europe/Berlin', '2026-10-25T01:00:00Z', 'GMT+02:00', 'GMT+01:00'],
    ['America/New_York', '2026-03-08T07:00:00Z', 'GMT-05:00', 'GMT-04:00'],
    ['America/New_York', '2026-11-01T06:00:00Z', 'GMT-04:00', 'GMT-05:00'],
    ['Australia/Lord_Howe', '2026-04-04T15:00:00Z', 'GMT+11:00', 'GMT+10:30'],
    ['Australia/Lord_Howe', '2026-10-03T15:30:00Z', 'GMT+10:30', 'GMT+11:00'],
  ])('%s changes at %s from %s to %s', (zone, at, before, after) => {
    expect(offset(zone, new Date(ms(at) - 1).toISOString())).toBe(before);
    expect(offset(zone, at)).toBe(after);
  });
});

describe('Europe/Berlin, spring forward 2026-03-29 (02:00 -> 03:00)', () => {
  const zone = 'Europe/Berlin';

  it('a daily 02:30 runs once, at 03:00 local, the first valid instant after the gap', () => {
    expect(next(crontab({ hour: 2, minute: 30 }), zone, '2026-03-28T00:00:00Z', 3)).toEqual(['2026-03-28T01:30:00.000Z', '2026-03-29T01:00:00.000Z', '2026-03-30T00:30:00.000Z']);
    expect(next(cron('30 2 * * *'), zone, '2026-03-29T01:00:00Z', 1)).toEqual(['2026-03-30T00:30:00.000Z']);
  });

  it('a daily 02:00 runs at 03:00 local', () => {
    expect(next(crontab({ hour: 2, minute: 0 }), zone, '2026-03-28T00:00:00Z', 3)).toEqual(['2026-03-28T01:00:00.000Z', '2026-03-29T01:00:00.000Z', '2026-03-30T00:00:00.000Z']);
  });

  it('an hourly job follows real hours: 02:00 local does not exist, the day has 23 runs', () => {
    expect(between(cron('0 * * * *'), zone, '2026-03-28T22:30:00Z', '2026-03-29T03:30:00Z')).toEqual([
      '2026-03-28T23:00:00.000Z', // 00:00 CET
      '2026-03-29T00:00:00.000Z', // 01:00 CET
      '2026-03-29T01:00:00.000Z', // 03:00 CEST
      '2026-03-29T02:00:00.000Z',
      '2026-03-29T03:00:00.000Z',
    ]);
    expect(count(crontab({ minute: 0 }), zone, '2026-03-28T23:00:00Z', '2026-03-29T22:00:00Z')).toBe(23);
  });

  it('every 30 minutes keeps its 30-minute rhythm across the gap', () => {
    expect(between(cron('*/30 * * * *'), zone, '2026-03-29T00:00:00Z', '2026-03-29T02:00:00Z')).toEqual([
      '2026-03-29T00:30:00.000Z', // 01:30 CET
      '2026-03-29T01:00:00.000Z', // 03:00 CEST
      '2026-03-29T01:30:00.000Z',
      '2026-03-29T02:00:00.000Z',
    ]);
  });

  it('a list of fixed hours is fixed-time (Vixie cron), a step in the hour is not', () => {
    expect(between(cron('30 2,14 * * *'), zone, '2026-03-28T12:00:00Z', '2026-03-29T23:00:00Z')).toEqual(['2026-03-28T13:30:00.000Z', '2026-03-29T01:00:00.000Z', '2026-03-29T12:30:00.000Z']);
    expect(between(crontab({ minute: 30, hour: '*/2' }), zone, '2026-03-28T23:00:00Z', '2026-03-29T03:00:00Z')).toEqual(['2026-03-28T23:30:00.000Z', '2026-03-29T02:30:00.000Z']);
  });
});

describe('Europe/Berlin, fall back 2026-10-25 (03:00 -> 02:00)', () => {
  const zone = 'Europe/Berlin';

  it('a daily 02:30 runs once, at the first 02:30 (CEST)', () => {
    expect(next(crontab({ hour: 2, minute: 30 }), zone, '2026-10-24T00:00:00Z', 3)).toEqual(['2026-10-24T00:30:00.000Z', '2026-10-25T00:30:00.000Z', '2026-10-26T01:30:00.000Z']);
    // Asked again from inside the repeated hour, it does not run at the second 02:30.
    expect(next(crontab({ hour: 2, minute: 30 }), zone, '2026-10-25T01:10:00Z', 1)).toEqual(['2026-10-26T01:30:00.000Z']);
  });

  it('a daily 02:00 runs once', () => {
    expect(between(crontab({ hour: 2, minute: 0 }), zone, '2026-10-24T12:00:00Z', '2026-10-26T12:00:00Z')).toEqual(['2026-10-25T00:00:00.000Z', '2026-10-26T01:00:00.000Z']);
  });

  it('an hourly job runs at both 02:00s, the day has 25 runs', () => {
    expect(between(cron('0 * * * *'), zone, '2026-10-24T23:30:00Z', '2026-10-25T02:30:00Z')).toEqual([
      '2026-10-25T00:00:00.000Z', // 02:00 CEST
      '2026-10-25T01:00:00.000Z', // 02:00 CET
      '2026-10-25T02:00:00.000Z', // 03:00 CET
    ]);
    expect(count(crontab({ minute: 0 }), zone, '2026-10-24T22:00:00Z', '2026-10-25T23:00:00Z')).toBe(25);
  });

  it('every 30 minutes runs at each 02:00 and 02:30 twice', () => {
    expect(between(cron('*/30 * * * *'), zone, '2026-10-24T23:45:00Z', '2026-10-25T02:00:00Z')).toEqual([
      '2026-10-25T00:00:00.000Z',
      '2026-10-25T00:30:00.000Z',
      '2026-10-25T01:00:00.000Z',
      '2026-10-25T01:30:00.000Z',
      '2026-10-25T02:00:00.000Z',
    ]);
  });

  it('a list of fixed hours runs once in the repeated hour, a step in the minute twice', () => {
    expect(between(cron('30 2,14 * * *'), zone, '2026-10-24T20:00:00Z', '2026-10-25T20:00:00Z')).toEqual(['2026-10-25T00:30:00.000Z', '2026-10-25T13:30:00.000Z']);
    expect(between(crontab({ minute: '*/30', hour: 2 }), zone, '2026-10-24T20:00:00Z', '2026-10-25T20:00:00Z')).toEqual([
      '2026-10-25T00:00:00.000Z',
      '2026-10-25T00:30:00.000Z',
      '2026-10-25T01:00:00.000Z',
      '2026-10-25T01:30:00.000Z',
    ]);
  });
});

describe('America/New_York 2026-03-08 (02:00 -> 03:00) and 2026-11-01 (02:00 -> 01:00)', () => {
  const zone = 'America/New_York';

  it('a daily 02:30 runs at 03:00 EDT on the spring day', () => {
    expect(next(crontab({ hour: 2, minute: 30 }), zone, '2026-03-07T00:00:00Z', 3)).toEqual(['2026-03-07T07:30:00.000Z', '2026-03-08T07:00:00.000Z', '2026-03-09T06:30:00.000Z']);
  });

  it('a daily 01:30 runs once on the fall day, at 01:30 EDT', () => {
    expect(next(crontab({ hour: 1, minute: 30 }), zone, '2026-10-31T00:00:00Z', 3)).toEqual(['2026-10-31T05:30:00.000Z', '2026-11-01T05:30:00.000Z', '2026-11-02T06:30:00.000Z']);
  });

  it('a daily 02:30 is untouched in the fall (02:30 happens once)', () => {
    expect(between(cron('30 2 * * *'), zone, '2026-10-31T12:00:00Z', '2026-11-01T12:00:00Z')).toEqual(['2026-11-01T07:30:00.000Z']);
  });

  it('hourly and every 15 minutes follow real time', () => {
    expect(count(cron('0 * * * *'), zone, '2026-03-08T05:00:00Z', '2026-03-09T04:00:00Z')).toBe(23);
    expect(count(cron('0 * * * *'), zone, '2026-11-01T04:00:00Z', '2026-11-02T05:00:00Z')).toBe(25);
    expect(between(cron('0 * * * *'), zone, '2026-11-01T04:30:00Z', '2026-11-01T07:00:00Z')).toEqual([
      '2026-11-01T05:00:00.000Z', // 01:00 EDT
      '2026-11-01T06:00:00.000Z', // 01:00 EST
      '2026-11-01T07:00:00.000Z', // 02:00 EST
    ]);
    expect(between(cron('*/15 * * * *'), zone, '2026-03-08T06:30:00Z', '2026-03-08T07:30:00Z')).toEqual([
      '2026-03-08T06:45:00.000Z', // 01:45 EST
      '2026-03-08T07:00:00.000Z', // 03:00 EDT
      '2026-03-08T07:15:00.000Z',
      '2026-03-08T07:30:00.000Z',
    ]);
  });
});

describe('Australia/Lord_Howe, 30-minute shifts (UTC+10:30 / UTC+11)', () => {
  const zone = 'Australia/Lord_Howe';

  it('a daily 02:15 in the 30-minute gap of 2026-10-04 runs once, at 02:30 local', () => {
    expect(next(crontab({ hour: 2, minute: 15 }), zone, '2026-10-02T12:00:00Z', 3)).toEqual(['2026-10-02T15:45:00.000Z', '2026-10-03T15:30:00.000Z', '2026-10-04T15:15:00.000Z']);
  });

  it('a daily 01:45 in the repeated half hour of 2026-04-05 runs once, at the first', () => {
    expect(next(crontab({ hour: 1, minute: 45 }), zone, '2026-04-03T12:00:00Z', 3)).toEqual(['2026-04-03T14:45:00.000Z', '2026-04-04T14:45:00.000Z', '2026-04-05T15:15:00.000Z']);
  });

  it('every 15 minutes runs at both 01:30 and 01:45 when they repeat, and skips 02:00 and 02:15 in the gap', () => {
    expect(between(cron('*/15 * * * *'), zone, '2026-04-04T14:00:00Z', '2026-04-04T15:30:00Z')).toEqual([
      '2026-04-04T14:15:00.000Z', // 01:15 +11
      '2026-04-04T14:30:00.000Z', // 01:30 +11
      '2026-04-04T14:45:00.000Z', // 01:45 +11
      '2026-04-04T15:00:00.000Z', // 01:30 +10:30
      '2026-04-04T15:15:00.000Z', // 01:45 +10:30
      '2026-04-04T15:30:00.000Z', // 02:00 +10:30
    ]);
    expect(between(cron('*/15 * * * *'), zone, '2026-10-03T15:00:00Z', '2026-10-03T16:00:00Z')).toEqual([
      '2026-10-03T15:15:00.000Z', // 01:45 +10:30
      '2026-10-03T15:30:00.000Z', // 02:30 +11
      '2026-10-03T15:45:00.000Z',
      '2026-10-03T16:00:00.000Z',
    ]);
    // The days last 24.5 and 23.5 hours: 98 and 94 quarter hours.
    expect(count(cron('*/15 * * * *'), zone, '2026-04-04T13:00:00Z', '2026-04-05T13:30:00Z')).toBe(98);
    expect(count(cron('*/15 * * * *'), zone, '2026-10-03T13:30:00Z', '2026-10-04T13:00:00Z')).toBe(94);
  });

  it('an hourly job skips 02:00 on the spring day (it does not exist) and runs 01:00 once in the fall', () => {
    expect(between(cron('0 * * * *'), zone, '2026-10-03T14:00:00Z', '2026-10-03T16:00:00Z')).toEqual(['2026-10-03T14:30:00.000Z', '2026-10-03T16:00:00.000Z']);
    expect(between(cron('0 * * * *'), zone, '2026-04-04T13:30:00Z', '2026-04-04T16:00:00Z')).toEqual(['2026-04-04T14:00:00.000Z', '2026-04-04T15:30:00.000Z']);
  });
});

describe('a whole year in Europe/Berlin', () => {
  const zone = 'Europe/Berlin';
  const from = '2025-12-31T23:00:00Z'; // 2026-01-01 00:00 CET
  const to = '2026-12-31T23:00:00Z'; // 2027-01-01 00:00 CET

  it('a daily 02:30 runs exactly 365 times in 2026', () => {
    expect(count(crontab({ hour: 2, minute: 30 }), zone, from, to)).toBe(365);
  });

  it('an hourly job runs 8760 times, one per real hour', () => {
    const slots = slotsBetween(crontab({ minute: 0 }), ms(from) - 1, ms(to) - 1, { timezone: zone }, 20_000);
    expect(slots).toHaveLength(8760);
    expect(slots.every((s, i) => i === 0 || s - slots[i - 1]! === 3_600_000)).toBe(true);
  });

  it('in UTC nothing shifts', () => {
    expect(count(crontab({ hour: 2, minute: 30 }), 'UTC', '2026-01-01T00:00:00Z', '2027-01-01T00:00:00Z')).toBe(365);
    expect(next(crontab({ hour: 2, minute: 30 }), UTC.timezone, '2026-03-29T00:00:00Z', 1)).toEqual(['2026-03-29T02:30:00.000Z']);
  });
});
