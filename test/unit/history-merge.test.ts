import { describe, expect, it } from 'vitest';
import { FINISHED_STATES, mergeUpdate, stateTimeField } from '../../src/history/merge.js';
import { STATE_PRECEDENCE, statePrecedence, stateReplaces, type TaskRecord } from '../../src/history/port.js';
import { decodeCursor, encodeCursor, pageLimit } from '../../src/history/query.js';
import { globPrefix, likePrefix } from '../../src/history/where.js';

describe('state precedence', () => {
  it("ranks Celery's states in its order, an unknown state between FAILURE and REVOKED", () => {
    expect(STATE_PRECEDENCE.map((s) => (s === null ? null : statePrecedence(s)))).toEqual([0, 1, null, 3, 4, 5, 6, 7, 8]);
    expect(statePrecedence('PROGRESS')).toBe(2);
    expect(stateReplaces('STARTED', 'PROGRESS')).toBe(true);
    expect(stateReplaces('SUCCESS', 'PROGRESS')).toBe(false);
    expect(stateReplaces('SUCCESS', 'RETRY')).toBe(true);
    expect(stateReplaces('RETRY', 'PENDING')).toBe(true);
    expect(stateReplaces(null, 'PENDING')).toBe(true);
  });

  it('maps a state to the time it sets', () => {
    expect(['PENDING', 'RECEIVED', 'STARTED', 'SUCCESS', 'FAILURE', 'REVOKED', 'REJECTED', 'RETRY', 'PROGRESS'].map(stateTimeField)).toEqual([
      'sentAt', 'receivedAt', 'startedAt', 'finishedAt', 'finishedAt', 'finishedAt', 'finishedAt', null, null,
    ]);
    expect([...FINISHED_STATES].sort()).toEqual(['FAILURE', 'REJECTED', 'REVOKED', 'SUCCESS']);
  });
});

describe('mergeUpdate', () => {
  it('returns a new record and leaves the stored one as it was', () => {
    const first = mergeUpdate(null, { id: 'a', timestamp: 10, state: 'RECEIVED', fields: { name: 'n' } });
    const copy = { ...first };
    const second = mergeUpdate(first, { id: 'a', timestamp: 20, state: 'STARTED' });
    expect(first).toEqual(copy);
    expect(second).toMatchObject({ state: 'STARTED', name: 'n', receivedAt: 10, startedAt: 20, createdAt: 10, updatedAt: 20 });
  });

  it('an explicit state time in the fields wins over the update timestamp', () => {
    const r = mergeUpdate(null, { id: 'a', timestamp: 10, state: 'SUCCESS', fields: { finishedAt: 7, startedAt: 5 } });
    expect(r).toMatchObject({ finishedAt: 7, startedAt: 5, createdAt: 10 });
  });

  it('ignores keys that are not TaskRecord fields', () => {
    const r = mergeUpdate(null, { id: 'a', timestamp: 1, fields: { bogus: 'x', id: 'b', state: 'SUCCESS' } as unknown as TaskRecord });
    expect(r).toMatchObject({ id: 'a', state: 'PENDING' });
    expect(r).not.toHaveProperty('bogus');
  });

  it('rejects what no store can keep, naming the field', () => {
    const bad: [unknown, RegExp][] = [
      [{ id: 5, timestamp: 1 }, /id/],
      [{ id: 'a', timestamp: Infinity }, /timestamp/],
      [{ id: 'a', timestamp: 1, state: '' }, /state/],
      [{ id: 'a', timestamp: 1, fields: { name: 3 } }, /name must be a string/],
      [{ id: 'a', timestamp: 1, fields: { runtime: 'slow' } }, /runtime must be a finite number/],
      [{ id: 'a', timestamp: 1, fields: { retries: '2' } }, /retries must be a finite number/],
      [{ id: 'a', timestamp: 1, timeline: { type: '', timestamp: 1, hostname: null, fields: null } }, /timeline/],
      [{ id: 'a', timestamp: 1, timeline: { type: 't', timestamp: 1, hostname: null, fields: { x: 1 } } }, /timeline fields/],
    ];
    for (const [update, message] of bad) expect(() => mergeUpdate(null, update as never), String(message)).toThrow(message);
  });
});

describe('query helpers', () => {
  it('round-trips a cursor through opaque base64url text', () => {
    const c = encodeCursor({ createdAt: 1.5, id: 'é/+=' });
    expect(c).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(decodeCursor(c)).toEqual({ createdAt: 1.5, id: 'é/+=' });
  });

  it('clamps a limit to 1000 and defaults to 50', () => {
    expect(pageLimit(undefined)).toBe(50);
    expect(pageLimit(1001)).toBe(1000);
    expect(() => pageLimit(0)).toThrow(/limit/);
  });

  it('escapes wildcards in name prefixes for LIKE and GLOB', () => {
    expect(likePrefix('a_b%c\\')).toBe('a\\_b\\%c\\\\%');
    expect(globPrefix('a*b?c[d')).toBe('a[*]b[?]c[[]d*');
  });
});
