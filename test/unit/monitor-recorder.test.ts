import { describe, expect, it } from 'vitest';
import { MemoryHistoryStore } from '../../src/history/memory.js';
import type { TaskUpdate } from '../../src/history/port.js';
import { Recorder, type MonitorLogger } from '../../src/monitor/recorder.js';
import { deferred } from '../helpers.js';

function step(id: string, n: number): TaskUpdate {
  return { id, timestamp: 1_000 + n, timeline: { type: `step-${n}`, timestamp: 1_000 + n, hostname: null, fields: null } };
}

/** A memory store that records each apply's size and how many ran at once, and can be told to fail. */
async function observedStore() {
  const store = new MemoryHistoryStore();
  await store.connect();
  const sizes: number[] = [];
  let inFlight = 0;
  let maxInFlight = 0;
  let failNext = 0;
  let applied = deferred<void>();
  const history = {
    async apply(updates: readonly TaskUpdate[]) {
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      try {
        await new Promise((r) => setImmediate(r));
        if (failNext > 0) {
          failNext--;
          throw new Error('disk full');
        }
        await store.apply(updates);
        sizes.push(updates.length);
        applied.resolve();
        applied = deferred<void>();
      } finally {
        inFlight--;
      }
    },
  };
  return {
    store,
    history,
    sizes,
    maxInFlight: () => maxInFlight,
    failTimes: (n: number) => (failNext = n),
    nextApply: () => applied.promise,
  };
}

function logs() {
  const lines: { level: string; obj: object; msg: string }[] = [];
  const logger: MonitorLogger = {
    info: (obj, msg) => lines.push({ level: 'info', obj, msg }),
    warn: (obj, msg) => lines.push({ level: 'warn', obj, msg }),
    error: (obj, msg) => lines.push({ level: 'error', obj, msg }),
  };
  return { lines, logger };
}

describe('Recorder', () => {
  it('writes in batches of batchSize, one apply at a time, in order', async () => {
    const o = await observedStore();
    const rec = new Recorder({ history: o.history, batchSize: 500 });
    for (let i = 0; i < 1200; i++) rec.push(step('a', i));
    const [f1, f2] = [rec.flush(), rec.flush()];
    await Promise.all([f1, f2]);
    expect(o.sizes).toEqual([500, 500, 200]);
    expect(o.maxInFlight()).toBe(1);
    const timeline = await o.store.timeline('a');
    expect(timeline.map((t) => t.type)).toEqual(Array.from({ length: 1200 }, (_, i) => `step-${i}`));
    expect(rec.written).toBe(1200);
    expect(rec.pending).toBe(0);
  });

  it('writes on its timer, and at once when a batch is full', async () => {
    const o = await observedStore();
    const rec = new Recorder({ history: o.history, intervalMs: 5, batchSize: 500 });
    rec.start();
    const first = o.nextApply();
    rec.push(step('a', 0));
    await first;
    expect(await o.store.get('a')).not.toBeNull();
    await rec.close();

    const o2 = await observedStore();
    const rec2 = new Recorder({ history: o2.history, intervalMs: 3_600_000, batchSize: 10 });
    rec2.start();
    const full = o2.nextApply();
    for (let i = 0; i < 10; i++) rec2.push(step('b', i));
    await full;
    expect(o2.sizes).toEqual([10]);
    await rec2.close();
  });

  it('holds at most maxBuffer updates: the rest are dropped, counted and logged', async () => {
    const o = await observedStore();
    const { lines, logger } = logs();
    const rec = new Recorder({ history: o.history, maxBuffer: 10, logger });
    const accepted = Array.from({ length: 15 }, (_, i) => rec.push(step('a', i)));
    expect(accepted.filter(Boolean)).toHaveLength(10);
    expect(rec.dropped).toBe(5);
    expect(rec.pending).toBe(10);
    expect(lines.filter((l) => l.level === 'warn')).toHaveLength(1);
    await rec.flush();
    expect((await o.store.timeline('a')).map((t) => t.type)).toEqual(Array.from({ length: 10 }, (_, i) => `step-${i}`));
    // Once drained, the later drops are reported as one count.
    expect(lines.at(-1)).toMatchObject({ level: 'warn', obj: { dropped: 4, total: 5 } });
    expect(rec.push(step('a', 99))).toBe(true);
  });

  it('refuses an update no store can keep, alone, so the rest of its batch is written', async () => {
    const o = await observedStore();
    const { lines, logger } = logs();
    const rec = new Recorder({ history: o.history, logger });
    expect(rec.push(step('a', 1))).toBe(true);
    expect(rec.push({ id: 'a', timestamp: Number.NaN })).toBe(false);
    expect(rec.push({ id: 'b', timestamp: 5, fields: { runtime: 'fast' as never } })).toBe(false);
    expect(rec.push(step('a', 2))).toBe(true);
    await rec.flush();
    expect((await o.store.timeline('a')).map((t) => t.type)).toEqual(['step-1', 'step-2']);
    expect(await o.store.get('b')).toBeNull();
    expect(rec.dropped).toBe(2);
    expect(lines.filter((l) => l.msg.includes('refused')).map((l) => (l.obj as { err: string }).err)).toEqual([
      expect.stringContaining('timestamp'),
      expect.stringContaining('runtime'),
    ]);
  });

  it('keeps a batch whose apply failed and writes it first on the next flush, logging the cause', async () => {
    const o = await observedStore();
    const { lines, logger } = logs();
    const rec = new Recorder({ history: o.history, batchSize: 3, logger });
    for (let i = 0; i < 3; i++) rec.push(step('a', i));
    o.failTimes(1);
    await expect(rec.flush()).rejects.toThrow('disk full');
    expect(rec.pending).toBe(3);
    expect(lines).toContainEqual({ level: 'warn', obj: { err: 'disk full', updates: 3, attempt: 1 }, msg: 'task history write failed; will retry the batch' });
    rec.push(step('a', 3));
    await rec.flush();
    expect(o.sizes).toEqual([3, 1]);
    expect((await o.store.timeline('a')).map((t) => t.type)).toEqual(['step-0', 'step-1', 'step-2', 'step-3']);
    expect(rec.dropped).toBe(0);
  });

  it('gives a batch up after maxAttempts, counting it as dropped', async () => {
    const o = await observedStore();
    const { lines, logger } = logs();
    const rec = new Recorder({ history: o.history, maxAttempts: 2, logger });
    rec.push(step('a', 0));
    rec.push(step('a', 1));
    o.failTimes(2);
    await expect(rec.flush()).rejects.toThrow('disk full');
    await expect(rec.flush()).rejects.toThrow('disk full');
    expect(rec.dropped).toBe(2);
    expect(rec.pending).toBe(0);
    expect(lines.at(-1)).toMatchObject({ level: 'error', obj: { err: 'disk full', updates: 2, attempts: 2 } });
    rec.push(step('a', 2));
    await rec.flush();
    expect((await o.store.timeline('a')).map((t) => t.type)).toEqual(['step-2']);
  });

  it('close writes what is left and drops later pushes', async () => {
    const o = await observedStore();
    const rec = new Recorder({ history: o.history, intervalMs: 3_600_000 });
    rec.start();
    rec.push(step('a', 0));
    await rec.close();
    expect(await o.store.get('a')).not.toBeNull();
    expect(rec.push(step('a', 1))).toBe(false);
    expect(rec.dropped).toBe(1);
  });
});
