/**
 * The reading half of the task-history conformance suite (history-suite.ts): every list filter alone and combined,
 * name prefixes, text search, counts and cursor pagination.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import type { HistoryStore, TaskQuery, TaskUpdate } from '../../src/history/port.js';

const T = 1_700_000_000_000;

interface Seed {
  id: string;
  at: number;
  state: string;
  name: string;
  worker?: string;
  queue?: string;
  parentId?: string;
  rootId?: string;
  groupId?: string;
  args?: string;
  kwargs?: string;
  result?: string;
  exception?: string;
}

/** Newest first: the order every list must give. */
const SEEDS: Seed[] = [
  { id: 'k', at: T + 100, state: 'STARTED', name: 'proj.mul', worker: 'celery@b', queue: 'math', rootId: 'j', parentId: 'j' },
  { id: 'j', at: T + 90, state: 'SUCCESS', name: 'proj.add', worker: 'celery@a', queue: 'math', rootId: 'j', result: '7', groupId: 'g1' },
  { id: 'i', at: T + 80, state: 'FAILURE', name: 'proj.div', worker: 'celery@b', queue: 'math', exception: "ZeroDivisionError('division by zero')", groupId: 'g1' },
  { id: 'h', at: T + 70, state: 'SUCCESS', name: 'proj.add_many', worker: 'celery@a', queue: 'celery', args: "('50%', 'a_b')" },
  { id: 'g', at: T + 70, state: 'PENDING', name: 'projXadd', queue: 'celery', args: "('50 percent', 'axb')" },
  { id: 'f', at: T + 60, state: 'RETRY', name: 'mail.send', worker: 'celery@c', queue: 'mail', kwargs: "{'to': 'Bob@Example.com'}", exception: "Retry('smtp')" },
  { id: 'e', at: T + 50, state: 'PROGRESS', name: 'proj.add', worker: 'celery@a', queue: 'celery', rootId: 'j', parentId: 'j' },
  { id: 'd', at: T + 40, state: 'REVOKED', name: 'mail.send', worker: 'celery@c', queue: 'mail' },
  { id: 'c', at: T + 30, state: 'SUCCESS', name: 'proj_x.add', worker: 'celery@b', queue: 'celery', result: "'ok'" },
  { id: 'b', at: T + 20, state: 'RECEIVED', name: 'proj.add', worker: 'celery@a', queue: 'celery' },
  { id: 'a', at: T + 10, state: 'SUCCESS', name: 'proj.add', worker: 'celery@b', queue: 'celery', result: 'None' },
];

function seedUpdates(): TaskUpdate[] {
  return SEEDS.flatMap(({ id, at, state, ...fields }) => [
    { id, timestamp: at, state: 'PENDING', fields },
    { id, timestamp: at + 5, state },
  ]);
}

export function historyFilterConformance(store: () => HistoryStore): void {
  describe('list, count and filters', () => {
    beforeEach(async () => {
      await store().apply(seedUpdates());
    });

    async function ids(query: TaskQuery): Promise<string[]> {
      const page = await store().list({ limit: 1000, ...query });
      expect(page.next).toBeNull();
      const { limit: _l, cursor: _c, ...countable } = query;
      expect(await store().count(countable)).toBe(page.tasks.length);
      return page.tasks.map((t) => t.id);
    }
    const expected = (match: (s: Seed) => boolean) => SEEDS.filter(match).map((s) => s.id);

    it('lists newest first (createdAt desc, id desc) and counts everything without a filter', async () => {
      expect(await ids({})).toEqual(expected(() => true));
      expect(await store().count({})).toBe(SEEDS.length);
      const page = await store().list({});
      expect(page.tasks[0]).toMatchObject({ id: 'k', name: 'proj.mul', state: 'STARTED', createdAt: T + 100, updatedAt: T + 105 });
    });

    it('filters by state, one or several', async () => {
      expect(await ids({ state: ['SUCCESS'] })).toEqual(['j', 'h', 'c', 'a']);
      expect(await ids({ state: ['FAILURE', 'RETRY', 'PROGRESS'] })).toEqual(['i', 'f', 'e']);
      expect(await ids({ state: ['NOPE'] })).toEqual([]);
      expect(await ids({ state: [] })).toEqual([]);
    });

    it('filters by exact name, and by prefix when the name ends with *', async () => {
      expect(await ids({ name: 'proj.add' })).toEqual(['j', 'e', 'b', 'a']);
      expect(await ids({ name: 'proj.add*' })).toEqual(['j', 'h', 'e', 'b', 'a']);
      expect(await ids({ name: 'proj.*' })).toEqual(['k', 'j', 'i', 'h', 'e', 'b', 'a']);
      // _ and % in a prefix are plain characters, not wildcards.
      expect(await ids({ name: 'proj_*' })).toEqual(['c']);
      expect(await ids({ name: 'mail*' })).toEqual(['f', 'd']);
      expect(await ids({ name: '*' })).toEqual(expected(() => true));
      expect(await ids({ name: 'PROJ.*' })).toEqual([]);
      expect(await ids({ name: 'proj' })).toEqual([]);
    });

    it('filters by worker, queue, parent, root and group', async () => {
      expect(await ids({ worker: 'celery@c' })).toEqual(['f', 'd']);
      expect(await ids({ queue: 'math' })).toEqual(['k', 'j', 'i']);
      expect(await ids({ parentId: 'j' })).toEqual(['k', 'e']);
      expect(await ids({ rootId: 'j' })).toEqual(['k', 'j', 'e']);
      expect(await ids({ groupId: 'g1' })).toEqual(['j', 'i']);
      expect(await ids({ worker: 'nobody' })).toEqual([]);
    });

    it('filters by time range: since inclusive, until exclusive, on createdAt', async () => {
      expect(await ids({ since: T + 70 })).toEqual(['k', 'j', 'i', 'h', 'g']);
      expect(await ids({ until: T + 30 })).toEqual(['b', 'a']);
      expect(await ids({ since: T + 30, until: T + 70 })).toEqual(['f', 'e', 'd', 'c']);
      expect(await ids({ since: T + 71, until: T + 75 })).toEqual([]);
    });

    it('searches text case-insensitively in id, name, args, kwargs, result and exception', async () => {
      expect(await ids({ text: 'zerodivision' })).toEqual(['i']);
      expect(await ids({ text: 'BOB@example' })).toEqual(['f']);
      expect(await ids({ text: "'OK'" })).toEqual(['c']);
      expect(await ids({ text: 'MUL' })).toEqual(['k']);
      expect(await ids({ text: 'none' })).toEqual(['a']);
      expect(await ids({ text: 'k' })).toEqual(expected((s) => [s.id, s.name, s.args, s.kwargs, s.result, s.exception].some((v) => v?.toLowerCase().includes('k'))));
    });

    it('takes % and _ in the search text literally', async () => {
      expect(await ids({ text: '50%' })).toEqual(['h']);
      expect(await ids({ text: 'a_b' })).toEqual(['h']);
      expect(await ids({ text: '%' })).toEqual(['h']);
      expect(await ids({ text: '_' })).toEqual(['h', 'c']);
      expect(await ids({ text: '\\' })).toEqual([]);
    });

    it('combines filters with AND', async () => {
      expect(await ids({ state: ['SUCCESS'], worker: 'celery@a' })).toEqual(['j', 'h']);
      expect(await ids({ name: 'proj.add', worker: 'celery@b', queue: 'celery' })).toEqual(['a']);
      expect(await ids({ name: 'proj.*', state: ['SUCCESS', 'FAILURE'], since: T + 30, queue: 'math' })).toEqual(['j', 'i']);
      expect(await ids({ rootId: 'j', text: 'mul' })).toEqual(['k']);
      expect(await ids({ groupId: 'g1', state: ['FAILURE'], until: T + 90 })).toEqual(['i']);
      expect(await ids({ parentId: 'j', state: ['SUCCESS'] })).toEqual([]);
    });

    it('limits a page to 50 by default and 1000 at most; a limit that is not a positive integer is a TypeError', async () => {
      const many: TaskUpdate[] = [];
      for (let i = 0; i < 1100; i++) many.push({ id: `x${i}`, timestamp: T - i, state: 'SUCCESS' });
      await store().apply(many);
      expect((await store().list({})).tasks).toHaveLength(50);
      expect((await store().list({ limit: 5000 })).tasks).toHaveLength(1000);
      expect((await store().list({ limit: 3 })).tasks.map((t) => t.id)).toEqual(['k', 'j', 'i']);
      for (const limit of [0, -1, 1.5, Number.NaN]) await expect(store().list({ limit })).rejects.toThrow(TypeError);
    });
  });

  describe('cursor pagination', () => {
    it('walks every matching task exactly once, in order, with ties in createdAt across page edges', async () => {
      const updates: TaskUpdate[] = [];
      // 5 tasks per millisecond, so ties fall across page boundaries for every page size below.
      for (let i = 0; i < 37; i++) {
        const id = `t-${String((i * 7919) % 1000).padStart(3, '0')}`;
        updates.push({ id, timestamp: T + Math.floor(i / 5), state: i % 3 === 0 ? 'FAILURE' : 'SUCCESS', fields: { name: 'walk' } });
      }
      await store().apply(updates);
      const all = (await store().list({ limit: 1000 })).tasks;
      expect(all).toHaveLength(37);
      for (const query of [{}, { state: ['SUCCESS'] }, { name: 'walk', since: T + 2 }] as TaskQuery[]) {
        const whole = (await store().list({ ...query, limit: 1000 })).tasks.map((t) => t.id);
        for (const limit of [1, 3, 5, 7, 36]) {
          const seen: string[] = [];
          let cursor: string | undefined;
          for (let pages = 0; pages < 100; pages++) {
            const page = await store().list({ ...query, limit, ...(cursor === undefined ? {} : { cursor }) });
            expect(page.tasks.length).toBeLessThanOrEqual(limit);
            seen.push(...page.tasks.map((t) => t.id));
            if (page.next === null) break;
            expect(page.next).toMatch(/^[A-Za-z0-9_-]+$/);
            cursor = page.next;
          }
          expect(seen).toEqual(whole);
        }
      }
    });

    it('gives no next cursor when the last page is exactly full', async () => {
      await store().apply([1, 2, 3, 4].map((i) => ({ id: `e${i}`, timestamp: T + i })));
      const first = await store().list({ limit: 2 });
      const second = await store().list({ limit: 2, cursor: first.next! });
      expect(second.tasks.map((t) => t.id)).toEqual(['e2', 'e1']);
      expect(second.next).toBeNull();
    });

    it('a task added while paging does not shift the pages after the cursor', async () => {
      await store().apply([1, 2, 3, 4, 5].map((i) => ({ id: `s${i}`, timestamp: T + i })));
      const first = await store().list({ limit: 2 });
      await store().apply([{ id: 's9', timestamp: T + 9 }]);
      const second = await store().list({ limit: 2, cursor: first.next! });
      expect(second.tasks.map((t) => t.id)).toEqual(['s3', 's2']);
    });

    it('rejects a malformed cursor with a TypeError naming it', async () => {
      const bad = ['not a cursor!', '', 'eyJhIjoxfQ', Buffer.from('[1]').toString('base64url'), Buffer.from('["x", "y"]').toString('base64url'), Buffer.from('[1, 2]').toString('base64url'), 'AAAA'];
      for (const cursor of bad) {
        const err = await store().list({ cursor }).catch((e: unknown) => e);
        expect(err, cursor).toBeInstanceOf(TypeError);
        expect((err as Error).message).toMatch(/cursor/);
      }
    });
  });
}
