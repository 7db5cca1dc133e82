/** The revoked-id set (Celery's LimitedSet: bounded, expiring) and its statedb file. */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { RevokedIds, StateDb } from '../../src/worker/revoked-ids.js';
import { tempDir } from '../helpers.js';

describe('RevokedIds', () => {
  it('forgets the oldest ids beyond its size and any id after it expires', () => {
    const ids = new RevokedIds(3, 1_000);
    ids.add(['a', 'b', 'c'], 0);
    ids.add(['d'], 10);
    expect(ids.ids(20)).toEqual(['b', 'c', 'd']);
    expect(ids.has('a', 20)).toBe(false);
    // Added again: counts from then, and is the newest.
    ids.add(['b'], 500);
    expect(ids.ids(600)).toEqual(['c', 'd', 'b']);
    expect(ids.has('c', 1_005)).toBe(false);
    expect(ids.ids(1_100)).toEqual(['b']);
    expect(ids.has('b', 1_499)).toBe(true);
    expect(ids.ids(1_500)).toEqual([]);
  });

  it("defaults to Celery's bounds: 50,000 ids, 3 hours", () => {
    const ids = new RevokedIds();
    expect([ids.maxSize, ids.expiresMs]).toEqual([50_000, 3 * 3600 * 1000]);
    ids.add(Array.from({ length: 50_010 }, (_, i) => `id-${i}`));
    expect(ids.size).toBe(50_000);
    expect(ids.has('id-9')).toBe(false);
    expect(ids.has('id-10')).toBe(true);
  });
});

describe('StateDb', () => {
  let tmp: ReturnType<typeof tempDir>;
  afterEach(() => tmp?.cleanup());

  it('writes revoked ids and the clock, and reads them back with their times', async () => {
    tmp = tempDir();
    const file = path.join(tmp.dir, 'nested', 'state.json');
    const revoked = new RevokedIds();
    const now = Date.now();
    revoked.add(['x'], now - 1_000);
    revoked.add(['y'], now);
    await new StateDb(file, () => ({ revoked, clock: 42 })).save();
    const loaded = new RevokedIds();
    expect(await new StateDb(file, () => ({ revoked: loaded, clock: 0 })).load(loaded)).toBe(42);
    expect(loaded.entries()).toEqual([
      ['x', now - 1_000],
      ['y', now],
    ]);
  });

  it('starts empty without a file, and reports a file it cannot read', async () => {
    tmp = tempDir();
    const errors: Error[] = [];
    const ids = new RevokedIds();
    const missing = new StateDb(path.join(tmp.dir, 'none.json'), () => ({ revoked: ids, clock: 0 }), { onError: (e) => errors.push(e) });
    expect(await missing.load(ids)).toBe(0);
    const bad = path.join(tmp.dir, 'bad.json');
    writeFileSync(bad, '{not json');
    expect(await new StateDb(bad, () => ({ revoked: ids, clock: 0 }), { onError: (e) => errors.push(e) }).load(ids)).toBe(0);
    expect(ids.size).toBe(0);
    expect(errors.map((e) => e.message)).toEqual([`statedb ${bad} is not valid JSON; starting without its revoked ids`]);
  });
});
