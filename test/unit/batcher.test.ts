import { describe, expect, it } from 'vitest';
import { Batcher } from '../../src/util/batcher.js';

/** A flush whose calls are recorded and resolved (or failed) by the test. */
function recorder() {
  const calls: { items: number[]; resolve: () => void; reject: (e: Error) => void }[] = [];
  const flush = (items: number[]) =>
    new Promise<void>((resolve, reject) => {
      calls.push({ items: [...items], resolve, reject });
    });
  return { calls, flush };
}

describe('Batcher', () => {
  it('coalesces items submitted in one tick into one flush, and splits at maxBatch', async () => {
    const { calls, flush } = recorder();
    const b = new Batcher<number>(flush, { maxBatch: 3 });
    const done = [1, 2, 3, 4, 5].map((n) => b.submit(n));
    await new Promise((r) => setImmediate(r));
    expect(calls.map((c) => c.items)).toEqual([[1, 2, 3]]);
    calls[0]!.resolve();
    await done[0];
    await new Promise((r) => setImmediate(r));
    expect(calls.map((c) => c.items)).toEqual([[1, 2, 3], [4, 5]]);
    calls[1]!.resolve();
    await Promise.all(done);
  });

  it('serial: the next batch is flushed only once the previous one has finished', async () => {
    const { calls, flush } = recorder();
    const b = new Batcher<number>(flush, { maxBatch: 2 });
    const done = [1, 2, 3, 4].map((n) => b.submit(n));
    await new Promise((r) => setImmediate(r));
    expect(calls).toHaveLength(1);
    calls[0]!.resolve();
    await done[0];
    await new Promise((r) => setImmediate(r));
    expect(calls).toHaveLength(2);
    calls[1]!.resolve();
    await Promise.all(done);
  });

  it('overlap: a full batch is flushed in the submitting call, in submission order, without waiting for the last', async () => {
    const { calls, flush } = recorder();
    const b = new Batcher<number>(flush, { maxBatch: 2, mode: 'overlap' });
    const done = [1, 2, 3, 4, 5].map((n) => b.submit(n));
    // Two full batches went out synchronously; the partial one waits for the end of the tick.
    expect(calls.map((c) => c.items)).toEqual([[1, 2], [3, 4]]);
    await new Promise((r) => setImmediate(r));
    expect(calls.map((c) => c.items)).toEqual([[1, 2], [3, 4], [5]]);
    // Batches settle independently: a failed one rejects only its own items.
    calls[1]!.reject(new Error('lost'));
    calls[0]!.resolve();
    calls[2]!.resolve();
    const settled = await Promise.allSettled(done);
    expect(settled.map((s) => s.status)).toEqual(['fulfilled', 'fulfilled', 'rejected', 'rejected', 'fulfilled']);
    await b.drain();
  });

  it('overlap with maxInFlight: later full batches wait for a slot and start in submission order', async () => {
    const { calls, flush } = recorder();
    const b = new Batcher<number>(flush, { maxBatch: 1, mode: 'overlap', maxInFlight: 2 });
    const done = [1, 2, 3, 4, 5].map((n) => b.submit(n));
    expect(calls.map((c) => c.items)).toEqual([[1], [2]]);
    calls[1]!.resolve();
    await done[1];
    await Promise.resolve();
    expect(calls.map((c) => c.items)).toEqual([[1], [2], [3]]);
    calls[0]!.resolve();
    calls[2]!.resolve();
    await Promise.all([done[0], done[2]]);
    await new Promise((r) => setImmediate(r));
    expect(calls.map((c) => c.items)).toEqual([[1], [2], [3], [4], [5]]);
    calls[3]!.resolve();
    calls[4]!.resolve();
    await b.drain();
    await Promise.all(done);
  });
});
