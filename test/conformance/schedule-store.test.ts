/**
 * Runs the schedule-store conformance suite on the in-process store and on the embedded store (a fresh file per
 * test, the second store being another backend connection to the same file, as another process would open it).
 * better-sqlite3 runs each call to completion on its thread, so two connections in one process never truly
 * overlap; the last test races two OS processes on one file for the same claims and the same lease.
 */
import { fork } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { MemoryBackend } from '../../src/backend/memory/index.js';
import { SqliteBackend } from '../../src/backend/sqlite/index.js';
import { ConnectionError } from '../../src/errors/index.js';
import { NOW, TTL, scheduleStoreConformance } from './schedule-store-suite.js';

scheduleStoreConformance('memory', async () => {
  const backend = new MemoryBackend();
  await backend.connect();
  return { store: backend.schedules(), close: () => backend.close() };
});

scheduleStoreConformance('sqlite', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'celerity-schedules-'));
  const path = join(dir, 'celerity.db');
  const backends: SqliteBackend[] = [];
  const connect = async () => {
    const backend = new SqliteBackend({ path, resultExpires: 0 });
    backends.push(backend);
    await backend.connect();
    return backend.schedules();
  };
  return {
    store: await connect(),
    second: connect,
    close: async () => {
      for (const b of backends) await b.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
});

describe('schedule stores as backend capabilities', () => {
  it('each backend hands out one store, which fails once the backend is closed', async () => {
    const memory = new MemoryBackend();
    await memory.connect();
    expect(memory.schedules()).toBe(memory.schedules());
    await memory.close();
    await expect(memory.schedules().list()).rejects.toBeInstanceOf(ConnectionError);

    const dir = mkdtempSync(join(tmpdir(), 'celerity-schedules-'));
    try {
      const sqlite = new SqliteBackend({ path: join(dir, 'celerity.db'), resultExpires: 0 });
      // Taken before connect(), usable after it, across a close and reconnect.
      const store = sqlite.schedules();
      await expect(store.list()).rejects.toBeInstanceOf(ConnectionError);
      await sqlite.connect();
      expect(sqlite.schedules()).toBe(store);
      await store.put({ name: 'a', definition: { task: 't' }, source: 'runtime', now: 1 });
      await sqlite.close();
      await expect(store.get('a')).rejects.toBeInstanceOf(ConnectionError);
      await sqlite.connect();
      expect((await store.get('a'))?.definition).toEqual({ task: 't' });
      await sqlite.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

/**
 * A racer process: connects, then in two phases its parent starts in both racers at once (so the one that finishes
 * claiming first does not take the lease from under the other's claims): claims every slot, then tries for the
 * lease once per round as a new holder each time, reporting after each phase.
 */
const RACER = `
import { SqliteBackend } from ${JSON.stringify(new URL('../../src/backend/sqlite/index.ts', import.meta.url).href)};
const [path, who, token, slots, rounds, now, ttl, leaseFrom] = process.argv.slice(2).map((a, i) => (i < 2 ? a : Number(a)));
const backend = new SqliteBackend({ path, resultExpires: 0 });
await backend.connect();
const store = backend.schedules();
await store.list();
const phase = (report) => new Promise((go) => { process.once('message', go); process.send(report); });
await phase('ready');
let claimed = 0;
for (let slot = 1; slot <= slots; slot++) {
  const outcome = await store.claimFire({ name: 'a', slot, taskId: who + slot, token, now, nextDueAt: null });
  if (outcome === 'claimed') claimed++;
  else if (outcome !== 'duplicate') throw new Error('unexpected outcome ' + outcome);
}
await phase({ claimed });
const tokens = [];
for (let round = 1; round <= rounds; round++) {
  const lease = await store.acquireLease(who + round, leaseFrom + 2 * round * ttl, ttl);
  if (lease) tokens.push(lease.token);
}
process.send({ tokens });
await backend.close();
process.disconnect();
`;

describe('sqlite: two processes on one file', () => {
  it('claim each slot exactly once and never win the lease with the same token', { timeout: 60_000 }, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'celerity-schedules-'));
    const path = join(dir, 'celerity.db');
    const backend = new SqliteBackend({ path, resultExpires: 0 });
    const children: ChildProcess[] = [];
    try {
      await backend.connect();
      const store = backend.schedules();
      await store.put({ name: 'a', definition: { task: 't' }, source: 'runtime', now: NOW });
      const lease = (await store.acquireLease('parent', NOW, 1_000 * TTL))!;
      // .mts: the temporary directory has no package.json saying the file is a module.
      const racer = join(dir, 'racer.mts');
      writeFileSync(racer, RACER);
      const slots = 5_000;
      const args = [path, '', lease.token, slots, 200, NOW, TTL, lease.expiresAt].map(String);
      for (const who of ['x', 'y']) {
        args[1] = who;
        children.push(fork(racer, args, { execArgv: ['--import', 'tsx'], stdio: 'inherit' }));
      }
      /** The next report of every racer, after sending each `go` (nothing the first time). */
      const everyone = <T>(go?: string) =>
        Promise.all(
          children.map((child) => {
            const report = new Promise<T>((resolve, reject) => {
              child.once('message', (m) => resolve(m as T));
              child.once('exit', (code) => reject(new Error(`racer exited with code ${code} before reporting`)));
            });
            if (go) child.send(go);
            return report;
          }),
        );
      await everyone('');
      const claims = await everyone<{ claimed: number }>('claim');
      const leases = await everyone<{ tokens: number[] }>('lease');
      expect(claims[0]!.claimed + claims[1]!.claimed).toBe(slots);
      expect((await store.get('a'))?.totalRuns).toBe(slots);
      expect(await store.fires('a', 2 * slots)).toHaveLength(slots);
      // A token won twice would mean two processes both took the lease from the same state.
      const tokens = leases.flatMap((l) => l.tokens);
      expect(new Set(tokens).size).toBe(tokens.length);
      expect(tokens.length).toBeGreaterThan(0);
    } finally {
      for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
      await backend.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
