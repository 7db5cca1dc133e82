import { describe, expect, it } from 'vitest';
import type { TaskRow } from '../types.js';
import { EMPTY_FILTER, applyChanges, bulkFilter, filterFromSearch, filterToSearch, matches } from './task-filter.js';

const NOW = Date.UTC(2026, 11, 5, 12);
const row = (id: string, over: Partial<TaskRow> = {}): TaskRow => ({
  id,
  name: 'media.thumbnail',
  state: 'STARTED',
  worker: 'w@1',
  queue: 'celery',
  runtime: null,
  createdAt: NOW - 60_000,
  updatedAt: NOW - 60_000,
  ...over,
});

describe('task filter', () => {
  it('goes to the address and back, and becomes the bulk filter with states as a list', () => {
    const filter = { ...EMPTY_FILTER, state: 'FAILURE,RETRY', name: 'media.*', since: '1h' };
    const search = filterToSearch(filter);
    expect(search).toBe('?state=FAILURE%2CRETRY&name=media.*&since=1h');
    expect(filterFromSearch(search)).toEqual(filter);
    expect(bulkFilter(filter)).toEqual({ state: ['FAILURE', 'RETRY'], name: 'media.*', since: '1h' });
  });

  it('places a task by state, name prefix, worker, queue and age; a text search takes no new rows', () => {
    const t = row('a', { state: 'FAILURE' });
    expect(matches({ ...EMPTY_FILTER, state: 'FAILURE,RETRY', name: 'media.*', worker: 'w@1', queue: 'celery', since: '5m' }, t, NOW)).toBe(true);
    expect(matches({ ...EMPTY_FILTER, name: 'media' }, t, NOW)).toBe(false);
    expect(matches({ ...EMPTY_FILTER, since: '30s' }, t, NOW)).toBe(false);
    expect(matches({ ...EMPTY_FILTER, state: 'SUCCESS' }, t, NOW)).toBe(false);
    expect(matches({ ...EMPTY_FILTER, q: 'thumb' }, t, NOW)).toBe(false);
  });
});

describe('applyChanges', () => {
  it('keeps a newer row against an older change, and keeps fields a change lacks', () => {
    const rows = [row('a', { state: 'SUCCESS', updatedAt: NOW, runtime: 2 })];
    expect(applyChanges(rows, [row('a', { state: 'STARTED', updatedAt: NOW - 1 })], EMPTY_FILTER, NOW)).toBe(rows);
    const next = applyChanges(rows, [row('a', { state: 'FAILURE', updatedAt: NOW + 1, queue: null, runtime: null })], EMPTY_FILTER, NOW);
    expect(next[0]).toMatchObject({ state: 'FAILURE', queue: 'celery', runtime: 2 });
  });

  it('puts new matching tasks on top, newest first, the newest change per id winning', () => {
    const rows = [row('old')];
    const next = applyChanges(
      rows,
      [row('b', { createdAt: NOW - 10 }), row('c', { createdAt: NOW - 5 }), row('b', { createdAt: NOW - 10, state: 'SUCCESS', updatedAt: NOW })],
      EMPTY_FILTER,
      NOW,
    );
    expect(next.map((r) => `${r.id}:${r.state}`)).toEqual(['c:STARTED', 'b:SUCCESS', 'old:STARTED']);
  });

  it('leaves out tasks the filter would not list and tasks older than the loaded pages', () => {
    const rows = [row('x', { createdAt: NOW - 1000 })];
    const filter = { ...EMPTY_FILTER, state: 'FAILURE' };
    expect(applyChanges(rows, [row('n', { state: 'SUCCESS', createdAt: NOW })], filter, NOW)).toBe(rows);
    expect(applyChanges(rows, [row('o', { state: 'FAILURE', createdAt: NOW - 5000 })], filter, NOW, NOW - 1000)).toBe(rows);
  });
});
