/**
 * The second half of the schedule-store conformance suite (see schedule-store-suite.ts, which calls it inside its
 * describe block): the leader lease and its fencing token, fire claims, skips, sent marks, manual runs, the fire
 * history, and what two store objects on the same storage must agree on when they race.
 */
import { describe, expect, it } from 'vitest';
import type { FireClaim, FireRecord, ScheduleStore, StoredSchedule } from '../../src/backend/schedules.js';

/** The injected clock's "now" and the lease lifetime the tests use. */
export const NOW = 1_000_000;
export const TTL = 10_000;

export function definition(task: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { task, schedule: { type: 'interval', every: 60 }, args: [1, 'two'], kwargs: { x: null }, options: {}, ...extra };
}

/** A schedule as `put` leaves a new one: no run state yet. */
export function fresh(name: string, def: Record<string, unknown>, source: 'config' | 'runtime', now: number, paused = false): StoredSchedule {
  return { name, definition: def, source, paused, lastSlot: null, lastRunAt: null, totalRuns: 0, nextDueAt: null, lastTaskId: null, updatedAt: now };
}

const bySlot = (a: FireRecord, b: FireRecord) => a.name.localeCompare(b.name) || a.slot - b.slot;

export function fireConformance(current: () => { store: ScheduleStore; second: (() => Promise<ScheduleStore>) | undefined }): void {
  let store: ScheduleStore;
  const setup = async (...names: string[]) => {
    store = current().store;
    for (const n of names) await store.put({ name: n, definition: definition(`t.${n}`), source: 'runtime', now: NOW });
  };
  const lead = async (holder = 'A', now = NOW) => {
    const lease = await store.acquireLease(holder, now, TTL);
    expect(lease).not.toBeNull();
    return lease!.token;
  };
  const claim = (name: string, slot: number, token: number, now = NOW, taskId = `${name}-${slot}`): FireClaim => ({
    name, slot, taskId, token, now, nextDueAt: slot + 1_000,
  });

  describe('lease', () => {
    it('the first acquire gets a token; lease() returns it', async () => {
      await setup();
      const lease = await store.acquireLease('A', NOW, TTL);
      expect(lease).toEqual({ holder: 'A', token: expect.any(Number), expiresAt: NOW + TTL });
      expect(Number.isInteger(lease!.token)).toBe(true);
      expect(await store.lease()).toEqual(lease);
    });

    it('another holder gets null until the lease expired at now, then a new, larger token', async () => {
      await setup();
      const first = (await store.acquireLease('A', NOW, TTL))!;
      expect(await store.acquireLease('B', NOW + 1, TTL)).toBeNull();
      expect(await store.acquireLease('B', NOW + TTL - 1, TTL)).toBeNull();
      expect(await store.lease()).toEqual(first);
      const taken = await store.acquireLease('B', NOW + TTL, TTL);
      expect(taken).toEqual({ holder: 'B', token: expect.any(Number), expiresAt: NOW + 2 * TTL });
      expect(taken!.token).toBeGreaterThan(first.token);
      expect(await store.lease()).toEqual(taken);
      // The old holder is now the other one.
      expect(await store.acquireLease('A', NOW + TTL + 1, TTL)).toBeNull();
    });

    it('the holder renews with the same token, expired or not, as long as nobody took it since', async () => {
      await setup();
      const token = await lead('A');
      expect(await store.acquireLease('A', NOW + 100, TTL)).toEqual({ holder: 'A', token, expiresAt: NOW + 100 + TTL });
      expect(await store.acquireLease('A', NOW + 5 * TTL, TTL)).toEqual({ holder: 'A', token, expiresAt: NOW + 6 * TTL });
      expect(await store.acquireLease('A', NOW + 5 * TTL, 3 * TTL)).toEqual({ holder: 'A', token, expiresAt: NOW + 8 * TTL });
    });

    it('releasing gives the lease up at once; taking it again, even by the same holder, gives a new token', async () => {
      await setup();
      const t1 = await lead('A');
      await store.releaseLease('A', t1);
      const released = await store.lease();
      expect(released?.token).toBe(t1);
      expect(released!.expiresAt).toBeLessThanOrEqual(NOW + 1);
      const t2 = await lead('B', NOW + 1);
      expect(t2).toBeGreaterThan(t1);
      await store.releaseLease('B', t2);
      const t3 = await lead('B', NOW + 2);
      expect(t3).toBeGreaterThan(t2);
      expect(await store.acquireLease('A', NOW + 3, TTL)).toBeNull();
    });

    it('a release by someone else, or with an old token, changes nothing', async () => {
      await setup();
      const old = await lead('A');
      await store.releaseLease('A', old);
      const token = await lead('B', NOW + 1);
      const lease = await store.lease();
      await store.releaseLease('A', old);
      await store.releaseLease('A', token);
      await store.releaseLease('B', old);
      expect(await store.lease()).toEqual(lease);
      expect(await store.acquireLease('A', NOW + 2, TTL)).toBeNull();
      expect((await store.acquireLease('B', NOW + 2, TTL))!.token).toBe(token);
    });

    it('tokens are never reused, however the lease changes hands', async () => {
      await setup();
      const tokens: number[] = [];
      let now = NOW;
      for (let i = 0; i < 12; i++) {
        const holder = i % 3 === 0 ? 'A' : i % 3 === 1 ? 'B' : 'C';
        tokens.push(await lead(holder, now));
        if (i % 2) await store.releaseLease(holder, tokens.at(-1)!);
        else now += TTL;
        now += 1;
      }
      for (let i = 1; i < tokens.length; i++) expect(tokens[i]).toBeGreaterThan(tokens[i - 1]!);
    });
  });

  describe('fires', () => {
    it('claims a (name, slot) once; a second claim is a duplicate, even from a new leader', async () => {
      await setup('a');
      const t1 = await lead('A');
      expect(await store.claimFire(claim('a', 60_000, t1))).toBe('claimed');
      expect(await store.claimFire(claim('a', 60_000, t1, NOW + 1, 'other-id'))).toBe('duplicate');
      const t2 = await lead('B', NOW + TTL);
      expect(await store.claimFire(claim('a', 60_000, t2, NOW + TTL, 'other-id'))).toBe('duplicate');
      expect(await store.get('a')).toMatchObject({ totalRuns: 1, lastTaskId: 'a-60000', lastRunAt: NOW });
      expect(await store.fires('a', 10)).toEqual([{ name: 'a', slot: 60_000, taskId: 'a-60000', token: t1, claimedAt: NOW, sent: false }]);
    });

    it('a claim updates the run state: lastSlot is the max, totalRuns, lastRunAt, lastTaskId, nextDueAt', async () => {
      await setup('a', 'b');
      const token = await lead();
      const b = await store.get('b');
      expect(await store.claimFire({ name: 'a', slot: 120_000, taskId: 'id-1', token, now: NOW + 1, nextDueAt: 180_000 })).toBe('claimed');
      expect(await store.get('a')).toMatchObject({ lastSlot: 120_000, totalRuns: 1, lastRunAt: NOW + 1, lastTaskId: 'id-1', nextDueAt: 180_000, updatedAt: NOW });
      expect(await store.claimFire({ name: 'a', slot: 180_000, taskId: 'id-2', token, now: NOW + 2, nextDueAt: null })).toBe('claimed');
      expect(await store.get('a')).toMatchObject({ lastSlot: 180_000, totalRuns: 2, lastRunAt: NOW + 2, lastTaskId: 'id-2', nextDueAt: null });
      // An older slot never claimed may still be claimed; the newest slot stays the newest.
      expect(await store.claimFire({ name: 'a', slot: 60_000, taskId: 'id-3', token, now: NOW + 3, nextDueAt: 120_000 })).toBe('claimed');
      expect(await store.get('a')).toMatchObject({ lastSlot: 180_000, totalRuns: 3, lastRunAt: NOW + 3, lastTaskId: 'id-3' });
      expect(await store.get('b')).toEqual(b);
    });

    it('fenced with an old or unknown token, or once the lease expired at now; nothing is recorded', async () => {
      await setup('a');
      const before = await store.get('a');
      expect(await store.claimFire(claim('a', 1_000, 1))).toBe('fenced');
      const t1 = await lead('A');
      expect(await store.claimFire(claim('a', 1_000, t1 + 1000))).toBe('fenced');
      expect(await store.claimFire(claim('a', 1_000, t1, NOW + TTL))).toBe('fenced');
      expect(await store.claimFire(claim('a', 1_000, t1, NOW + TTL - 1))).toBe('claimed');
      const after = await store.get('a');
      const t2 = await lead('B', NOW + TTL);
      expect(await store.claimFire(claim('a', 2_000, t1, NOW + TTL))).toBe('fenced');
      await store.releaseLease('B', t2);
      expect(await store.claimFire(claim('a', 2_000, t2, NOW + TTL + 1))).toBe('fenced');
      expect(await store.get('a')).toEqual(after);
      expect(before!.totalRuns).toBe(0);
      expect((await store.fires('a', 10)).map((f) => f.slot)).toEqual([1_000]);
    });

    it('missing when no schedule has that name', async () => {
      await setup('a');
      const token = await lead();
      expect(await store.claimFire(claim('ghost', 1_000, token))).toBe('missing');
      expect(await store.get('ghost')).toBeNull();
      expect(await store.fires('ghost', 10)).toEqual([]);
    });

    it('advance records passed-over slots (lastSlot the max, nextDueAt) without counting a run or a fire', async () => {
      await setup('a');
      const token = await lead();
      expect(await store.advance({ name: 'a', slot: 300_000, token, now: NOW, nextDueAt: 360_000 })).toBe(true);
      expect(await store.get('a')).toMatchObject({ lastSlot: 300_000, nextDueAt: 360_000, totalRuns: 0, lastRunAt: null, lastTaskId: null });
      expect(await store.advance({ name: 'a', slot: 240_000, token, now: NOW, nextDueAt: 360_000 })).toBe(true);
      expect(await store.get('a')).toMatchObject({ lastSlot: 300_000, nextDueAt: 360_000 });
      expect(await store.advance({ name: 'a', slot: 360_000, token, now: NOW + 1, nextDueAt: null })).toBe(true);
      expect(await store.get('a')).toMatchObject({ lastSlot: 360_000, nextDueAt: null, totalRuns: 0 });
      expect(await store.fires('a', 10)).toEqual([]);
    });

    it('advance is fenced as claimFire is, and false when the schedule is missing', async () => {
      await setup('a');
      const before = await store.get('a');
      expect(await store.advance({ name: 'a', slot: 1_000, token: 1, now: NOW, nextDueAt: 2_000 })).toBe(false);
      const t1 = await lead('A');
      expect(await store.advance({ name: 'a', slot: 1_000, token: t1 + 1000, now: NOW, nextDueAt: 2_000 })).toBe(false);
      expect(await store.advance({ name: 'a', slot: 1_000, token: t1, now: NOW + TTL, nextDueAt: 2_000 })).toBe(false);
      await lead('B', NOW + TTL);
      expect(await store.advance({ name: 'a', slot: 1_000, token: t1, now: NOW + TTL, nextDueAt: 2_000 })).toBe(false);
      expect(await store.get('a')).toEqual(before);
      const t2 = (await store.lease())!.token;
      expect(await store.advance({ name: 'ghost', slot: 1_000, token: t2, now: NOW + TTL, nextDueAt: 2_000 })).toBe(false);
      expect(await store.get('ghost')).toBeNull();
    });

    it('unsentFires lists the claims not marked sent whose token is below the given one', async () => {
      await setup('a', 'b');
      const t1 = await lead('A');
      for (const [n, slot] of [['a', 1_000], ['a', 2_000], ['b', 1_000]] as const) expect(await store.claimFire(claim(n, slot, t1))).toBe('claimed');
      await store.markSent('a', 1_000);
      const t2 = await lead('B', NOW + TTL);
      expect(await store.claimFire(claim('a', 3_000, t2, NOW + TTL))).toBe('claimed');
      const unsent = (name: string, slot: number, token: number, now: number) => ({ name, slot, taskId: `${name}-${slot}`, token, claimedAt: now, sent: false });
      expect((await store.unsentFires(t2)).sort(bySlot)).toEqual([unsent('a', 2_000, t1, NOW), unsent('b', 1_000, t1, NOW)]);
      expect((await store.unsentFires(t2 + 1)).sort(bySlot)).toEqual([unsent('a', 2_000, t1, NOW), unsent('a', 3_000, t2, NOW + TTL), unsent('b', 1_000, t1, NOW)]);
      expect(await store.unsentFires(t1)).toEqual([]);
      await store.markSent('a', 2_000);
      await store.markSent('b', 1_000);
      await store.markSent('a', 3_000);
      expect(await store.unsentFires(t2 + 1)).toEqual([]);
      expect((await store.fires('a', 10)).map((f) => [f.slot, f.sent])).toEqual([[3_000, true], [2_000, true], [1_000, true]]);
    });

    it('markSent of an unknown fire does nothing', async () => {
      await setup('a');
      const token = await lead();
      await store.claimFire(claim('a', 1_000, token));
      await store.markSent('a', 2_000);
      await store.markSent('ghost', 1_000);
      expect(await store.fires('a', 10)).toEqual([{ name: 'a', slot: 1_000, taskId: 'a-1000', token, claimedAt: NOW, sent: false }]);
      expect(await store.fires('ghost', 10)).toEqual([]);
    });

    it('recordManualRun counts a run (lastRunAt, lastTaskId) without a slot, lease or fire record; false when missing', async () => {
      await setup('a');
      const token = await lead();
      await store.claimFire({ name: 'a', slot: 5_000, taskId: 'beat-id', token, now: NOW, nextDueAt: 6_000 });
      expect(await store.recordManualRun('a', 'manual-id', NOW + 50)).toBe(true);
      expect(await store.get('a')).toMatchObject({ lastSlot: 5_000, nextDueAt: 6_000, totalRuns: 2, lastRunAt: NOW + 50, lastTaskId: 'manual-id' });
      await store.releaseLease('A', token);
      expect(await store.recordManualRun('a', 'manual-2', NOW + 60)).toBe(true);
      expect(await store.get('a')).toMatchObject({ totalRuns: 3, lastRunAt: NOW + 60, lastTaskId: 'manual-2' });
      expect((await store.fires('a', 10)).map((f) => f.taskId)).toEqual(['beat-id']);
      expect(await store.recordManualRun('ghost', 'x', NOW)).toBe(false);
      expect(await store.get('ghost')).toBeNull();
    });

    it('fires lists one schedule\'s records, newest slot first, at most limit', async () => {
      await setup('a', 'b');
      const token = await lead();
      for (const slot of [3_000, 1_000, 5_000, 2_000, 4_000]) await store.claimFire(claim('a', slot, token, NOW + slot));
      await store.claimFire(claim('b', 9_000, token));
      expect((await store.fires('a', 10)).map((f) => f.slot)).toEqual([5_000, 4_000, 3_000, 2_000, 1_000]);
      expect(await store.fires('a', 2)).toEqual([
        { name: 'a', slot: 5_000, taskId: 'a-5000', token, claimedAt: NOW + 5_000, sent: false },
        { name: 'a', slot: 4_000, taskId: 'a-4000', token, claimedAt: NOW + 4_000, sent: false },
      ]);
      expect((await store.fires('b', 10)).map((f) => f.slot)).toEqual([9_000]);
    });

    it('pruneFires deletes the sent records claimed before the cutoff and says how many', async () => {
      await setup('a');
      const token = await lead();
      for (const slot of [1, 2, 3, 4]) await store.claimFire(claim('a', slot, token, NOW + slot));
      for (const slot of [1, 2, 4]) await store.markSent('a', slot);
      // Claimed at NOW+1 (sent), NOW+2 (sent), NOW+3 (unsent), NOW+4 (sent, at the cutoff: kept).
      expect(await store.pruneFires(NOW + 4)).toBe(2);
      expect((await store.fires('a', 10)).map((f) => f.slot)).toEqual([4, 3]);
      expect(await store.pruneFires(NOW + 4)).toBe(0);
      expect(await store.pruneFires(NOW + 1_000)).toBe(1);
      expect((await store.fires('a', 10)).map((f) => [f.slot, f.sent])).toEqual([[3, false]]);
      // A pruned slot is not a fire record any more; the schedule's lastSlot still passes it over for the beat.
      expect(await store.get('a')).toMatchObject({ lastSlot: 4, totalRuns: 4 });
    });
  });

  describe('two store objects on the same storage', () => {
    const second = async (): Promise<ScheduleStore | null> => {
      store = current().store;
      const open = current().second;
      return open ? open() : null;
    };

    it('each sees what the other wrote', async (ctx) => {
      const other = await second();
      if (!other) return ctx.skip();
      await store.put({ name: 'a', definition: definition('t.a'), source: 'runtime', now: NOW });
      expect(await other.get('a')).toEqual(await store.get('a'));
      expect(await other.version()).toBe(await store.version());
      const lease = await other.acquireLease('B', NOW, TTL);
      expect(await store.lease()).toEqual(lease);
      expect(await store.acquireLease('A', NOW, TTL)).toBeNull();
      expect(await store.claimFire(claim('a', 1_000, lease!.token))).toBe('claimed');
      expect(await other.claimFire(claim('a', 1_000, lease!.token))).toBe('duplicate');
    });

    it('concurrent claims of one (name, slot) from both: exactly one is claimed, 200 times over', async (ctx) => {
      const other = await second();
      if (!other) return ctx.skip();
      await setup('a');
      const token = await lead();
      for (let i = 1; i <= 200; i++) {
        const slot = i * 1_000;
        const outcomes = await Promise.all([store.claimFire(claim('a', slot, token, NOW, `x-${i}`)), other.claimFire(claim('a', slot, token, NOW, `y-${i}`))]);
        expect(outcomes.sort()).toEqual(['claimed', 'duplicate']);
      }
      expect(await store.get('a')).toMatchObject({ totalRuns: 200, lastSlot: 200_000 });
      expect(await other.fires('a', 500)).toHaveLength(200);
    });

    it('concurrent acquires of an expired lease by two holders: exactly one wins, with a new token', async (ctx) => {
      const other = await second();
      if (!other) return ctx.skip();
      let token = await lead('first');
      for (let i = 1; i <= 50; i++) {
        const now = NOW + i * TTL;
        const got = await Promise.all([store.acquireLease(`a${i}`, now, TTL), other.acquireLease(`b${i}`, now, TTL)]);
        const winners = got.filter((l) => l !== null);
        expect(winners).toHaveLength(1);
        expect(winners[0]!.token).toBeGreaterThan(token);
        expect(await store.lease()).toEqual(winners[0]);
        token = winners[0]!.token;
      }
    });
  });
}
