import { describe, expect, it } from 'vitest';
import { parseInstant, taskIdSchema, taskListQuery } from '../../src/api/schemas.js';

const NOW = Date.UTC(2026, 0, 10, 12, 0, 0);

describe('parseInstant', () => {
  it('reads ISO 8601 text with and without a zone, and a bare date', () => {
    expect(parseInstant('2026-01-10T11:00:00Z', false, NOW)).toBe(Date.UTC(2026, 0, 10, 11));
    expect(parseInstant('2026-01-10T13:00:00+02:00', false, NOW)).toBe(Date.UTC(2026, 0, 10, 11));
    expect(parseInstant('2026-01-10', false, NOW)).toBe(Date.UTC(2026, 0, 10));
  });

  it('reads epoch seconds, fractions included', () => {
    expect(parseInstant('1767960000', false, NOW)).toBe(1767960000_000);
    expect(parseInstant('1767960000.25', false, NOW)).toBe(1767960000_250);
  });

  it('reads an age as that long before now, only where an age is allowed', () => {
    expect(parseInstant('30m', true, NOW)).toBe(NOW - 30 * 60_000);
    expect(parseInstant('1h', true, NOW)).toBe(NOW - 3600_000);
    expect(parseInstant('2d', true, NOW)).toBe(NOW - 2 * 86400_000);
    expect(parseInstant('45s', true, NOW)).toBe(NOW - 45_000);
    expect(parseInstant('1h', false, NOW)).toBeNull();
  });

  it('refuses free text, empty text and impossible dates', () => {
    for (const text of ['', 'yesterday', 'tomorrow 5pm', '2026-13-45', '2026-02-30', '1h30m', '-5', 'NaN']) expect(parseInstant(text, true, NOW), text).toBeNull();
  });
});

describe('list query', () => {
  it('splits the state list, defaults the limit and maps times to epoch ms', () => {
    const q = taskListQuery.parse({ state: 'SUCCESS, FAILURE,', since: '1767960000', until: '2026-01-10T00:00:00Z' });
    expect(q).toEqual({ state: ['SUCCESS', 'FAILURE'], since: 1767960000_000, until: Date.UTC(2026, 0, 10), limit: 50 });
  });

  it('refuses unknown parameters and limits outside 1..1000', () => {
    expect(taskListQuery.safeParse({ sort: 'asc' }).success).toBe(false);
    expect(taskListQuery.safeParse({ limit: '1001' }).success).toBe(false);
    expect(taskListQuery.safeParse({ limit: '1000' }).success).toBe(true);
  });
});

describe('task ids', () => {
  it('takes any text up to 255 characters without control characters', () => {
    expect(taskIdSchema.safeParse('0b4a7d4e-5c1f-4c8e-9a57-2f1b3f2d9c10').success).toBe(true);
    expect(taskIdSchema.safeParse('celery-task-meta with spaces/and:colons').success).toBe(true);
    expect(taskIdSchema.safeParse('x'.repeat(255)).success).toBe(true);
    for (const bad of ['', 'x'.repeat(256), 'a\nb', 'a\u0000b', 'tab\there', 'del\u007f']) expect(taskIdSchema.safeParse(bad).success, JSON.stringify(bad)).toBe(false);
  });
});
