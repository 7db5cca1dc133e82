/**
 * The behaviour every schedule store (`backend.schedules()`) must show, checked against the doc comments of
 * `src/backend/schedules.ts`, run against each adapter by a small runner file.
 *
 * `open` is called before every test and must give an empty store (no schedules, no lease ever taken). `second`,
 * when given, opens another store object on the same storage (another connection, as another process would have);
 * the concurrency tests need it. Every time is an injected number: nothing here reads the clock.
 *
 * The lease, fencing and fire-record half lives in schedule-store-fires.ts; this file is the entry point.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ScheduleStore } from '../../src/backend/schedules.js';
import { NOW, TTL, definition, fireConformance, fresh } from './schedule-store-fires.js';

export { NOW, TTL, definition, fresh };

export interface ScheduleStoreHarness {
  store: ScheduleStore;
  /** Another store object on the same underlying storage (for SQLite: another connection to the same file). */
  second?: () => Promise<ScheduleStore>;
  /** Closes the store and every `second` it opened, and removes the storage. */
  close: () => Promise<void>;
}

export function scheduleStoreConformance(name: string, open: () => Promise<ScheduleStoreHarness>): void {
  describe(`schedule store conformance: ${name}`, () => {
    let h: ScheduleStoreHarness;
    let store: ScheduleStore;

    beforeEach(async () => {
      h = await open();
      store = h.store;
    });
    afterEach(async () => {
      await h.close();
    });

    /** Gives `name` some run state: one claimed fire under a fresh lease. */
    async function runOnce(name: string, slot: number, now = NOW): Promise<void> {
      const lease = await store.acquireLease('state-maker', now, TTL);
      expect(await store.claimFire({ name, slot, taskId: `task-${slot}`, token: lease!.token, now, nextDueAt: slot + 60_000 })).toBe('claimed');
    }

    describe('schedules', () => {
      it('starts empty: no schedules, no lease', async () => {
        expect(await store.list()).toEqual([]);
        expect(await store.get('nope')).toBeNull();
        expect(await store.lease()).toBeNull();
        expect(await store.fires('nope', 10)).toEqual([]);
      });

      it('put stores a new schedule unpaused, without run state, updatedAt = now', async () => {
        await store.put({ name: 'a', definition: definition('t.a'), source: 'runtime', now: NOW });
        expect(await store.get('a')).toEqual(fresh('a', definition('t.a'), 'runtime', NOW));
        await store.put({ name: 'p', definition: definition('t.p'), source: 'config', paused: true, now: NOW + 1 });
        expect(await store.get('p')).toEqual(fresh('p', definition('t.p'), 'config', NOW + 1, true));
      });

      it('list gives every schedule, ordered by name', async () => {
        for (const n of ['beta', 'alpha', 'gamma', 'Zulu', 'alpha2']) {
          await store.put({ name: n, definition: definition(`t.${n}`), source: 'runtime', now: NOW });
        }
        const all = await store.list();
        expect(all.map((s) => s.name)).toEqual(['Zulu', 'alpha', 'alpha2', 'beta', 'gamma']);
        expect(all[1]).toEqual(fresh('alpha', definition('t.alpha'), 'runtime', NOW));
      });

      it('the definition comes back as the JSON data it was', async () => {
        const def = { task: 'x', nested: { list: [1, 2.5, -3, 'ü€😀', null, true, false, { deep: [[]] }] }, empty: {}, big: 2 ** 53 - 1 };
        await store.put({ name: 'j', definition: def, source: 'config', now: NOW });
        expect((await store.get('j'))!.definition).toEqual(def);
        expect((await store.list())[0]!.definition).toEqual(def);
      });

      it('hands out copies: changing what went in or came out changes nothing stored', async () => {
        const def = definition('t.c');
        await store.put({ name: 'c', definition: def, source: 'runtime', now: NOW });
        (def.args as unknown[]).push('mutated');
        def.task = 'changed';
        const got = (await store.get('c'))!;
        (got.definition.kwargs as Record<string, unknown>).x = 'mutated';
        got.totalRuns = 99;
        (await store.list())[0]!.paused = true;
        expect(await store.get('c')).toEqual(fresh('c', definition('t.c'), 'runtime', NOW));
      });

      it('put replaces the definition and source, keeps the run state, and sets paused only when given', async () => {
        await store.put({ name: 'a', definition: definition('t.a'), source: 'runtime', now: NOW });
        await runOnce('a', 5_000);
        await store.setPaused('a', true, NOW + 1);
        const before = (await store.get('a'))!;
        await store.put({ name: 'a', definition: definition('t.a2'), source: 'config', now: NOW + 2 });
        expect(await store.get('a')).toEqual({ ...before, definition: definition('t.a2'), source: 'config', updatedAt: NOW + 2 });
        await store.put({ name: 'a', definition: definition('t.a2'), source: 'config', paused: false, now: NOW + 3 });
        expect(await store.get('a')).toEqual({ ...before, definition: definition('t.a2'), source: 'config', paused: false, updatedAt: NOW + 3 });
        expect(before).toMatchObject({ lastSlot: 5_000, totalRuns: 1, lastTaskId: 'task-5000' });
      });

      it('setPaused sets the flag and updatedAt; false when no schedule has that name', async () => {
        await store.put({ name: 'a', definition: definition('t.a'), source: 'runtime', now: NOW });
        expect(await store.setPaused('a', true, NOW + 5)).toBe(true);
        expect(await store.get('a')).toMatchObject({ paused: true, updatedAt: NOW + 5 });
        expect(await store.setPaused('a', false, NOW + 6)).toBe(true);
        expect(await store.get('a')).toMatchObject({ paused: false, updatedAt: NOW + 6 });
        expect(await store.setPaused('missing', true, NOW)).toBe(false);
        expect(await store.get('missing')).toBeNull();
      });

      it('delete removes the schedule and its fire records; false when there was none', async () => {
        await store.put({ name: 'a', definition: definition('t.a'), source: 'runtime', now: NOW });
        await store.put({ name: 'b', definition: definition('t.b'), source: 'runtime', now: NOW });
        await runOnce('a', 5_000);
        expect(await store.delete('a')).toBe(true);
        expect(await store.get('a')).toBeNull();
        expect((await store.list()).map((s) => s.name)).toEqual(['b']);
        expect(await store.fires('a', 10)).toEqual([]);
        expect(await store.unsentFires(Number.MAX_SAFE_INTEGER)).toEqual([]);
        expect(await store.delete('a')).toBe(false);
        // A schedule created again under the name starts afresh: its old slots are no duplicates.
        await store.put({ name: 'a', definition: definition('t.a'), source: 'runtime', now: NOW + 1 });
        expect(await store.get('a')).toEqual(fresh('a', definition('t.a'), 'runtime', NOW + 1));
        await runOnce('a', 5_000);
      });

      it('version changes with every put, setPaused and delete, and stays put otherwise', async () => {
        const seen = [await store.version()];
        const changed = async () => {
          const v = await store.version();
          expect(seen).not.toContain(v);
          seen.push(v);
        };
        expect(await store.version()).toBe(seen[0]);
        await store.put({ name: 'a', definition: definition('t.a'), source: 'runtime', now: NOW });
        await changed();
        await store.put({ name: 'a', definition: definition('t.a2'), source: 'runtime', now: NOW });
        await changed();
        await store.setPaused('a', true, NOW);
        await changed();
        await store.setPaused('a', false, NOW);
        await changed();
        await store.list();
        await store.get('a');
        expect(await store.version()).toBe(seen.at(-1));
        await store.delete('a');
        await changed();
      });
    });

    describe('syncConfig', () => {
      const entries = (...names: string[]) => names.map((n) => ({ name: n, definition: definition(`t.${n}`) }));

      it('makes the config schedules exactly the entries, leaving runtime ones alone', async () => {
        await store.put({ name: 'a', definition: definition('old.a'), source: 'config', now: NOW });
        await store.put({ name: 'b', definition: definition('t.b'), source: 'config', now: NOW });
        await store.put({ name: 'r', definition: definition('t.r'), source: 'runtime', paused: true, now: NOW });
        const runtime = await store.get('r');
        await store.syncConfig(entries('a', 'c'), NOW + 10);
        expect(await store.list()).toEqual([
          fresh('a', definition('t.a'), 'config', NOW + 10),
          fresh('c', definition('t.c'), 'config', NOW + 10),
          runtime,
        ]);
        await store.syncConfig([], NOW + 20);
        expect(await store.list()).toEqual([runtime]);
      });

      it('keeps the run state and paused flag of the schedules it keeps', async () => {
        await store.syncConfig(entries('a', 'b'), NOW);
        await runOnce('a', 7_000);
        await store.setPaused('a', true, NOW + 1);
        const a = (await store.get('a'))!;
        const b = (await store.get('b'))!;
        await store.syncConfig([{ name: 'a', definition: definition('t.a', { args: [] }) }, ...entries('b')], NOW + 2);
        expect(await store.get('a')).toEqual({ ...a, definition: definition('t.a', { args: [] }), updatedAt: NOW + 2 });
        expect(a).toMatchObject({ paused: true, lastSlot: 7_000, totalRuns: 1 });
        // Unchanged entries are not touched at all.
        expect(await store.get('b')).toEqual(b);
      });

      it('takes a runtime schedule of the same name over as a config one, with its state and paused flag', async () => {
        await store.put({ name: 'x', definition: definition('t.x'), source: 'runtime', paused: true, now: NOW });
        await runOnce('x', 9_000);
        const before = (await store.get('x'))!;
        const v = await store.version();
        // Same definition: only the source changes, and that is a change.
        await store.syncConfig(entries('x'), NOW + 5);
        expect(await store.get('x')).toMatchObject({ ...before, source: 'config', updatedAt: expect.any(Number) });
        expect(await store.version()).not.toBe(v);
        await store.syncConfig([], NOW + 6);
        expect(await store.get('x')).toBeNull();
      });

      it('bumps version only when something changed', async () => {
        await store.put({ name: 'r', definition: definition('t.r'), source: 'runtime', now: NOW });
        let v = await store.version();
        await store.syncConfig([], NOW + 1);
        expect(await store.version()).toBe(v);

        await store.syncConfig(entries('a', 'b'), NOW + 2);
        expect(await store.version()).not.toBe(v);
        v = await store.version();
        const before = await store.list();
        await store.syncConfig(entries('a', 'b'), NOW + 3);
        await store.syncConfig(entries('b', 'a'), NOW + 4);
        expect(await store.version()).toBe(v);
        expect(await store.list()).toEqual(before);

        await store.syncConfig([{ name: 'a', definition: definition('t.a', { kwargs: { x: 1 } }) }, ...entries('b')], NOW + 5);
        expect(await store.version()).not.toBe(v);
        v = await store.version();
        await store.syncConfig([{ name: 'a', definition: definition('t.a', { kwargs: { x: 1 } }) }], NOW + 6);
        expect(await store.version()).not.toBe(v);
        v = await store.version();
        await store.syncConfig([{ name: 'a', definition: definition('t.a', { kwargs: { x: 1 } }) }], NOW + 7);
        expect(await store.version()).toBe(v);
      });

      it('deletes the fire records of the schedules it removes', async () => {
        await store.syncConfig(entries('a', 'b'), NOW);
        await runOnce('b', 3_000);
        await store.syncConfig(entries('a'), NOW + 1);
        expect(await store.fires('b', 10)).toEqual([]);
        expect(await store.unsentFires(Number.MAX_SAFE_INTEGER)).toEqual([]);
        await store.syncConfig(entries('a', 'b'), NOW + 2);
        await runOnce('b', 3_000);
      });
    });

    fireConformance(() => ({ store, second: h.second }));
  });
}
