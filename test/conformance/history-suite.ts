/**
 * The behaviour every task-history store must show (src/history/port.ts), run against each store by a small runner
 * file. `open` is called before every test and must give an empty, connected store; `reopen`, when given, opens a
 * new store object on the same storage (what a restarted monitor would see). Every time is an injected number.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { HistoryStore, TaskRecord, TaskUpdate } from '../../src/history/port.js';
import { historyFilterConformance } from './history-filters.js';
import { encodeCursor as encodeCursorOf } from '../../src/history/query.js';

export interface HistoryHarness {
  store: HistoryStore;
  /** Another store object on the same storage, connected; closed by `close`. */
  reopen?: () => Promise<HistoryStore>;
  /** Closes the store and every reopened one, and removes the storage. */
  close: () => Promise<void>;
}

export const T = 1_700_000_000_000;

/** An event-like update: `state` at `at`, with fields and a timeline entry named after the state. */
export function ev(id: string, state: string | undefined, at: number, fields: TaskUpdate['fields'] = {}, hostname: string | null = 'celery@a'): TaskUpdate {
  return {
    id,
    timestamp: at,
    ...(state === undefined ? {} : { state }),
    fields,
    timeline: { type: `task-${(state ?? 'update').toLowerCase()}`, timestamp: at, hostname, fields: JSON.stringify({ state: state ?? null }) },
  };
}

export function historyConformance(name: string, open: () => Promise<HistoryHarness>): void {
  describe(`task history conformance: ${name}`, () => {
    let h: HistoryHarness;
    let store: HistoryStore;
    beforeEach(async () => {
      h = await open();
      store = h.store;
    });
    afterEach(async () => {
      await h.close();
    });

    const stateOf = async (id: string) => (await store.get(id))?.state;

    describe('apply and get', () => {
      it('starts empty', async () => {
        expect(await store.get('nope')).toBeNull();
        expect(await store.timeline('nope')).toEqual([]);
        expect(await store.list({})).toEqual({ tasks: [], next: null });
        expect(await store.count({})).toBe(0);
        await store.apply([]);
        expect(await store.count({})).toBe(0);
      });

      it('creates a task with every field null but the ones given, and merges later fields in', async () => {
        await store.apply([ev('t1', 'PENDING', T, { name: 'proj.add', args: '(1, 2)', kwargs: '{}', queue: 'celery', rootId: 't1' })]);
        const first = await store.get('t1');
        expect(first).toEqual({
          id: 't1', name: 'proj.add', state: 'PENDING', queue: 'celery', worker: null, args: '(1, 2)', kwargs: '{}', argsJson: null,
          kwargsJson: null, result: null, exception: null, traceback: null, meta: null, retries: null, runtime: null, parentId: null,
          rootId: 't1', groupId: null, eta: null, expires: null, createdAt: T, sentAt: T, receivedAt: null, startedAt: null,
          finishedAt: null, updatedAt: T,
        } satisfies TaskRecord);
        await store.apply([ev('t1', 'RECEIVED', T + 10, { worker: 'celery@a', retries: 0, argsJson: '[1,2]', name: null })]);
        await store.apply([ev('t1', 'STARTED', T + 20, { name: undefined, args: undefined })]);
        await store.apply([ev('t1', 'SUCCESS', T + 30, { result: '3', runtime: 0.25 })]);
        expect(await store.get('t1')).toMatchObject({
          name: 'proj.add', state: 'SUCCESS', worker: 'celery@a', args: '(1, 2)', argsJson: '[1,2]', retries: 0, result: '3',
          runtime: 0.25, createdAt: T, sentAt: T, receivedAt: T + 10, startedAt: T + 20, finishedAt: T + 30, updatedAt: T + 30,
        });
      });

      it('a task first seen without a state is PENDING until a state arrives', async () => {
        await store.apply([{ id: 'n', timestamp: T, fields: { name: 'x' } }]);
        expect(await store.get('n')).toMatchObject({ state: 'PENDING', name: 'x', sentAt: null });
        await store.apply([{ id: 'n', timestamp: T + 1, state: 'FAILURE', fields: { exception: "ValueError('x')", traceback: 'tb' } }]);
        expect(await store.get('n')).toMatchObject({ state: 'FAILURE', exception: "ValueError('x')", traceback: 'tb', finishedAt: T + 1 });
      });

      it('every finished state sets finishedAt; a custom state sets no state time', async () => {
        for (const s of ['SUCCESS', 'FAILURE', 'REVOKED', 'REJECTED']) await store.apply([{ id: s, timestamp: T + 5, state: s }]);
        for (const s of ['SUCCESS', 'FAILURE', 'REVOKED', 'REJECTED']) expect((await store.get(s))?.finishedAt).toBe(T + 5);
        await store.apply([{ id: 'p', timestamp: T, state: 'PROGRESS', fields: { meta: '{"current": 1}' } }]);
        expect(await store.get('p')).toMatchObject({ state: 'PROGRESS', sentAt: null, receivedAt: null, startedAt: null, finishedAt: null, meta: '{"current": 1}' });
      });

      it('createdAt is the earliest timestamp seen and updatedAt the latest, whatever the arrival order', async () => {
        await store.apply([ev('c', 'STARTED', T + 100)]);
        await store.apply([ev('c', 'SUCCESS', T + 200)]);
        expect(await store.get('c')).toMatchObject({ createdAt: T + 100, updatedAt: T + 200 });
        // A late event from a host whose clock runs behind.
        await store.apply([ev('c', 'RECEIVED', T + 50)]);
        expect(await store.get('c')).toMatchObject({ state: 'SUCCESS', createdAt: T + 50, updatedAt: T + 200, receivedAt: T + 50 });
        // Later events never move it again.
        await store.apply([ev('c', undefined, T + 300, { result: '1' })]);
        expect(await store.get('c')).toMatchObject({ createdAt: T + 50, updatedAt: T + 300 });
      });

      it('a batch applies in order, as separate batches would', async () => {
        const steps = [ev('b', 'PENDING', T), ev('b', 'RECEIVED', T + 1, { worker: 'w1' }), ev('b', 'STARTED', T + 2), ev('b', 'SUCCESS', T + 3, { result: 'ok' }), ev('b', 'STARTED', T + 4, { worker: 'w2' })];
        await store.apply(steps);
        for (const s of steps) await store.apply([{ ...s, id: 'b2' }]);
        const one = await store.get('b');
        expect(one).toMatchObject({ state: 'SUCCESS', worker: 'w2', result: 'ok', startedAt: T + 4 });
        expect({ ...(await store.get('b2')), id: 'b' }).toEqual(one);
        expect(await store.timeline('b')).toHaveLength(5);
      });

      it('a batch with a bad update changes nothing and names the problem', async () => {
        await store.apply([ev('ok', 'PENDING', T)]);
        const bad = [ev('ok', 'SUCCESS', T + 1), ev('new', 'PENDING', T), { id: 'bad', timestamp: Number.NaN }];
        await expect(store.apply(bad)).rejects.toThrow(/timestamp/);
        await expect(store.apply([{ id: 'x', timestamp: T, fields: { retries: 'many' as unknown as number } }])).rejects.toThrow(/retries/);
        await expect(store.apply([{ id: '', timestamp: T }])).rejects.toThrow(/id/);
        expect(await stateOf('ok')).toBe('PENDING');
        expect(await store.get('new')).toBeNull();
        expect(await store.timeline('ok')).toHaveLength(1);
      });

      it('keeps text exactly, quotes, unicode and NUL-free newlines included', async () => {
        const traceback = 'Traceback (most recent call last):\n  File "x.py", line 1\nValueError: \'é\' — ✓ 𝄞';
        await store.apply([{ id: 'u', timestamp: T, state: 'FAILURE', fields: { traceback, args: "('it''s', \"q\")", runtime: 1e-6 } }]);
        expect(await store.get('u')).toMatchObject({ traceback, args: "('it''s', \"q\")", runtime: 1e-6 });
      });

      it('keeps fractions of a millisecond in times and numbers as given', async () => {
        await store.apply([{ id: 'f', timestamp: T + 0.25, state: 'STARTED', fields: { retries: 3, runtime: 0.125 }, timeline: { type: 'x', timestamp: T + 0.25, hostname: null, fields: null } }]);
        expect(await store.get('f')).toMatchObject({ createdAt: T + 0.25, startedAt: T + 0.25, retries: 3, runtime: 0.125 });
        expect((await store.timeline('f'))[0]?.timestamp).toBe(T + 0.25);
        const page = await store.list({ limit: 1 });
        await store.apply([{ id: 'g', timestamp: T + 0.5 }, { id: 'e', timestamp: T + 0.125 }]);
        expect((await store.list({ limit: 5, cursor: encodeCursorOf(page.tasks[0]!) })).tasks.map((t) => t.id)).toEqual(['e']);
      });
    });

    describe('state precedence', () => {
      it('a late STARTED after SUCCESS keeps SUCCESS but merges its fields', async () => {
        await store.apply([ev('s', 'RECEIVED', T), ev('s', 'SUCCESS', T + 20, { result: '42' })]);
        await store.apply([ev('s', 'STARTED', T + 10, { worker: 'celery@late', runtime: 9 })]);
        expect(await store.get('s')).toMatchObject({ state: 'SUCCESS', worker: 'celery@late', runtime: 9, result: '42', startedAt: T + 10, finishedAt: T + 20, updatedAt: T + 20 });
        await store.apply([ev('s', 'RECEIVED', T + 30)]);
        expect(await stateOf('s')).toBe('SUCCESS');
      });

      it('FAILURE does not replace SUCCESS but SUCCESS replaces FAILURE; REVOKED gives way to both', async () => {
        await store.apply([ev('a', 'SUCCESS', T), ev('a', 'FAILURE', T + 1, { exception: 'E()' })]);
        expect(await store.get('a')).toMatchObject({ state: 'SUCCESS', exception: 'E()' });
        await store.apply([ev('b', 'FAILURE', T), ev('b', 'SUCCESS', T + 1)]);
        expect(await stateOf('b')).toBe('SUCCESS');
        await store.apply([ev('r', 'REVOKED', T), ev('r', 'FAILURE', T + 1)]);
        expect(await stateOf('r')).toBe('FAILURE');
        await store.apply([ev('r2', 'FAILURE', T), ev('r2', 'REVOKED', T + 1)]);
        expect(await stateOf('r2')).toBe('FAILURE');
      });

      it('RETRY replaces anything, and the task received again moves on from it', async () => {
        await store.apply([ev('r', 'RECEIVED', T), ev('r', 'STARTED', T + 1)]);
        await store.apply([ev('r', 'RETRY', T + 2, { exception: "Retry('later')", retries: 0 })]);
        expect(await store.get('r')).toMatchObject({ state: 'RETRY', exception: "Retry('later')" });
        await store.apply([ev('r', 'RECEIVED', T + 3, { retries: 1 })]);
        expect(await store.get('r')).toMatchObject({ state: 'RECEIVED', retries: 1, receivedAt: T + 3, startedAt: T + 1 });
        await store.apply([ev('r', 'STARTED', T + 4), ev('r', 'SUCCESS', T + 5)]);
        expect(await store.get('r')).toMatchObject({ state: 'SUCCESS', startedAt: T + 4, finishedAt: T + 5 });
        await store.apply([ev('r', 'RETRY', T + 6)]);
        expect(await stateOf('r')).toBe('RETRY');
      });

      it('a custom PROGRESS state sits between STARTED and SUCCESS', async () => {
        await store.apply([ev('p', 'STARTED', T)]);
        await store.apply([ev('p', 'PROGRESS', T + 1, { meta: '{"current": 1, "total": 3}' })]);
        expect(await store.get('p')).toMatchObject({ state: 'PROGRESS', meta: '{"current": 1, "total": 3}' });
        await store.apply([ev('p', 'STARTED', T + 2)]);
        expect(await stateOf('p')).toBe('PROGRESS');
        await store.apply([ev('p', 'PROGRESS', T + 3, { meta: '{"current": 2, "total": 3}' })]);
        await store.apply([ev('p', 'SUCCESS', T + 4, { result: 'done' })]);
        await store.apply([ev('p', 'PROGRESS', T + 5, { meta: '{"current": 3, "total": 3}' })]);
        expect(await store.get('p')).toMatchObject({ state: 'SUCCESS', result: 'done', meta: '{"current": 3, "total": 3}' });
      });
    });

    describe('timeline', () => {
      it('is oldest first, equal timestamps in arrival order, across batches, with hostname and fields', async () => {
        await store.apply([ev('t', 'STARTED', T + 20, {}, 'celery@w'), ev('t', 'RECEIVED', T + 10, {}, 'celery@w')]);
        await store.apply([ev('t', 'PENDING', T, {}, null), ev('other', 'PENDING', T + 15)]);
        await store.apply([{ id: 't', timestamp: T + 20, timeline: { type: 'result-PROGRESS', timestamp: T + 20, hostname: null, fields: null } }]);
        await store.apply([{ id: 't', timestamp: T + 30, state: 'SUCCESS' }]);
        expect(await store.timeline('t')).toEqual([
          { type: 'task-pending', timestamp: T, hostname: null, fields: '{"state":"PENDING"}' },
          { type: 'task-received', timestamp: T + 10, hostname: 'celery@w', fields: '{"state":"RECEIVED"}' },
          { type: 'task-started', timestamp: T + 20, hostname: 'celery@w', fields: '{"state":"STARTED"}' },
          { type: 'result-PROGRESS', timestamp: T + 20, hostname: null, fields: null },
        ]);
        expect(await store.timeline('other')).toHaveLength(1);
      });
    });

    historyFilterConformance(() => store);

    describe('unfinished', () => {
      it('lists tasks not in a ready state last updated before the time, oldest update first, up to the limit', async () => {
        await store.apply([
          ev('done', 'SUCCESS', T), ev('failed', 'FAILURE', T), ev('revoked', 'REVOKED', T), ev('rejected', 'REJECTED', T),
          ev('started', 'STARTED', T + 30), ev('received', 'RECEIVED', T + 10), ev('retry', 'RETRY', T + 20), ev('progress', 'PROGRESS', T + 40),
          ev('fresh', 'STARTED', T + 1000),
        ]);
        expect(await store.unfinished({ olderThan: T + 500, limit: 10 })).toEqual(['received', 'retry', 'started', 'progress']);
        expect(await store.unfinished({ olderThan: T + 500, limit: 2 })).toEqual(['received', 'retry']);
        expect(await store.unfinished({ olderThan: T + 30, limit: 10 })).toEqual(['received', 'retry']);
        await store.apply([ev('received', 'SUCCESS', T + 50)]);
        expect(await store.unfinished({ olderThan: T + 500, limit: 10 })).toEqual(['retry', 'started', 'progress']);
      });
    });

    describe('prune', () => {
      async function seed(n: number): Promise<void> {
        const updates: TaskUpdate[] = [];
        for (let i = 0; i < n; i++) updates.push(ev(`p${String(i).padStart(3, '0')}`, 'PENDING', T + i * 1000), ev(`p${String(i).padStart(3, '0')}`, 'SUCCESS', T + i * 1000 + 1));
        await store.apply(updates);
      }
      const ids = async () => (await store.list({ limit: 1000 })).tasks.map((t) => t.id);

      it('by age forgets tasks first seen before now - maxAge, with their timelines', async () => {
        await seed(10);
        expect(await store.prune({ maxAgeMs: 5000, now: T + 9000 })).toBe(4);
        expect(await store.count({})).toBe(6);
        expect(await store.get('p003')).toBeNull();
        expect(await store.timeline('p003')).toEqual([]);
        expect(await store.timeline('p004')).toHaveLength(2);
        expect(await store.prune({ maxAgeMs: 5000, now: T + 9000 })).toBe(0);
      });

      it('by count keeps the newest maxTasks (ties by id), their timelines intact', async () => {
        await seed(10);
        await store.apply([ev('p004b', 'PENDING', T + 4000)]);
        expect(await store.prune({ maxTasks: 6 })).toBe(5);
        expect(await ids()).toEqual(['p009', 'p008', 'p007', 'p006', 'p005', 'p004b']);
        expect(await store.timeline('p004')).toEqual([]);
        expect(await store.timeline('p004b')).toHaveLength(1);
        expect(await store.prune({ maxTasks: 6 })).toBe(0);
        expect(await store.prune({ maxTasks: 0 })).toBe(6);
        expect(await store.count({})).toBe(0);
      });

      it('with both limits applies the stricter, and with none forgets nothing', async () => {
        await seed(10);
        expect(await store.prune({ now: T + 1e9 })).toBe(0);
        expect(await store.prune({ maxAgeMs: 2500, maxTasks: 8, now: T + 9000 })).toBe(7);
        expect(await ids()).toEqual(['p009', 'p008', 'p007']);
        expect(await store.prune({ maxAgeMs: 1e9, maxTasks: 1, now: T + 9000 })).toBe(2);
        expect(await ids()).toEqual(['p009']);
      });

      it('forgets many tasks (more than one chunk) and nothing else', async () => {
        const updates: TaskUpdate[] = [];
        for (let i = 0; i < 2500; i++) updates.push(ev(`m${String(i).padStart(5, '0')}`, 'SUCCESS', T + i));
        await store.apply(updates);
        expect(await store.prune({ maxTasks: 100 })).toBe(2400);
        expect(await store.count({})).toBe(100);
        expect((await store.list({ limit: 1 })).tasks[0]?.id).toBe('m02499');
        expect(await store.timeline('m00000')).toEqual([]);
        expect(await store.timeline('m02400')).toHaveLength(1);
      });
    });

    it('survives a restart: a new store on the same storage sees tasks and timelines', async (ctx) => {
      if (!h.reopen) return ctx.skip();
      await store.apply([ev('keep', 'PENDING', T, { name: 'proj.keep' }), ev('keep', 'SUCCESS', T + 1, { result: '1' })]);
      await store.close();
      const again = await h.reopen();
      expect(await again.get('keep')).toMatchObject({ state: 'SUCCESS', name: 'proj.keep', result: '1', createdAt: T });
      expect(await again.timeline('keep')).toHaveLength(2);
      await again.apply([ev('keep', 'STARTED', T + 2)]);
      expect(await again.get('keep')).toMatchObject({ state: 'SUCCESS', startedAt: T + 2 });
    });
  });
}
