/**
 * Chord joins and saved groups: the part of the result-backend contract canvas relies on, run by backendConformance
 * against every backend.
 */
import { randomUUID } from 'node:crypto';
import { expect, it } from 'vitest';
import type { ChordPart, ResultBackend } from '../../src/backend/port.js';

const part = (taskId: string, groupIndex: number | null, result: unknown = groupIndex, status = 'SUCCESS'): ChordPart => ({
  taskId,
  groupIndex,
  status,
  result,
});

/** Runs `fn` over `items` with at most `width` calls in flight, in order of start. */
async function inWaves<T, R>(items: readonly T[], width: number, fn: (x: T) => Promise<R>): Promise<R[]> {
  const out: R[] = [];
  for (let i = 0; i < items.length; i += width) out.push(...(await Promise.all(items.slice(i, i + width).map(fn))));
  return out;
}

export function chordConformance(get: () => ResultBackend, pass: (ms: number) => Promise<unknown> | void): void {
  const id = () => randomUUID();

  it('saves, reads and deletes a group; unknown groups are null', async () => {
    const backend = get();
    const g = id();
    const tuple = [[g, null], [[[id(), null], null], [[id(), null], null]]];
    await backend.saveGroup(g, { result: tuple });
    expect(await backend.getGroup(g)).toEqual({ result: tuple });
    expect(await backend.getGroup(id())).toBeNull();
    await backend.deleteGroup(g);
    expect(await backend.getGroup(g)).toBeNull();
  });

  it('a saved group expires after its ttl', async () => {
    const backend = get();
    const g = id();
    await backend.saveGroup(g, { result: [[g, null], []] }, { ttlMs: 50 });
    await pass(120);
    expect(await backend.getGroup(g)).toBeNull();
  });

  it('a chord completes once, on the last part, with the parts in header order', async () => {
    const backend = get();
    const g = id();
    const [a, b, c] = [id(), id(), id()];
    await backend.setChordSize(g, 3);
    expect(await backend.chordPartReturn(g, part(c, 2, 'two'))).toBeNull();
    expect(await backend.chordPartReturn(g, part(a, 0, { n: 0 }))).toBeNull();
    const failure = { exc_type: 'KeyError', exc_message: ['oops'], exc_module: 'builtins' };
    const joined = await backend.chordPartReturn(g, part(b, 1, failure, 'FAILURE'));
    expect(joined).toEqual([part(a, 0, { n: 0 }), part(b, 1, failure, 'FAILURE'), part(c, 2, 'two')]);
  });

  it('a part recorded twice counts once', async () => {
    const backend = get();
    const g = id();
    const [a, b] = [id(), id()];
    await backend.setChordSize(g, 2);
    expect(await backend.chordPartReturn(g, part(a, 0))).toBeNull();
    expect(await backend.chordPartReturn(g, part(a, 0))).toBeNull();
    expect((await backend.chordPartReturn(g, part(b, 1)))?.map((p) => p.taskId)).toEqual([a, b]);
  });

  it('a part repeated with a different result (a redelivered task) still counts once; the first is kept', async () => {
    const backend = get();
    const g = id();
    const [a, b, c] = [id(), id(), id()];
    await backend.setChordSize(g, 3);
    expect(await backend.chordPartReturn(g, part(a, 0, 'first run'))).toBeNull();
    expect(await backend.chordPartReturn(g, part(a, 0, 'second run'))).toBeNull();
    expect(await backend.chordPartReturn(g, part(b, 1))).toBeNull();
    expect((await backend.chordPartReturn(g, part(c, 2)))?.map((p) => p.result)).toEqual(['first run', 1, 2]);
  });

  it('the completing part, repeated before chordDone, gets the parts again; nobody does after', async () => {
    const backend = get();
    const g = id();
    const [a, b] = [id(), id()];
    await backend.setChordSize(g, 2);
    await backend.chordPartReturn(g, part(a, 0));
    expect(await backend.chordPartReturn(g, part(b, 1))).toHaveLength(2);
    expect(await backend.chordPartReturn(g, part(a, 0))).toBeNull();
    expect(await backend.chordPartReturn(g, part(b, 1))).toHaveLength(2);
    await backend.chordDone(g);
    expect(await backend.chordPartReturn(g, part(b, 1))).toBeNull();
    expect(await backend.chordPartReturn(g, part(a, 0))).toBeNull();
  });

  it('without a chord size nothing completes', async () => {
    const backend = get();
    const g = id();
    expect(await backend.chordPartReturn(g, part(id(), 0))).toBeNull();
  });

  it('parts without an index come after indexed ones', async () => {
    const backend = get();
    const g = id();
    const [a, b] = [id(), id()];
    await backend.setChordSize(g, 2);
    await backend.chordPartReturn(g, part(a, null, 'late'));
    expect((await backend.chordPartReturn(g, part(b, 0, 'first')))?.map((p) => p.result)).toEqual(['first', 'late']);
  });

  it('200 concurrent parts complete the chord exactly once', async () => {
    const backend = get();
    const g = id();
    const ids = Array.from({ length: 200 }, () => id());
    await backend.setChordSize(g, ids.length);
    const order = ids.map((_, i) => i).sort(() => Math.random() - 0.5);
    const joins = await Promise.all(order.map((i) => backend.chordPartReturn(g, part(ids[i]!, i))));
    const completed = joins.filter((j) => j !== null);
    expect(completed).toHaveLength(1);
    expect(completed[0]!.map((p) => p.taskId)).toEqual(ids);
  });

  it('a chord of 10,000 parts completes exactly once, in order', async () => {
    const backend = get();
    const g = id();
    const ids = Array.from({ length: 10_000 }, () => id());
    await backend.setChordSize(g, ids.length);
    const joins = await inWaves(ids.map((t, i) => [t, i] as const), 250, ([t, i]) => backend.chordPartReturn(g, part(t, i)));
    const completed = joins.filter((j) => j !== null);
    expect(completed).toHaveLength(1);
    expect(completed[0]!.map((p) => p.result)).toEqual(ids.map((_, i) => i));
    await backend.chordDone(g);
  }, 60_000);
}
