/**
 * Two OS processes reserve from one SQLite file while this process publishes: every message must be delivered
 * exactly once (reserve is one IMMEDIATE transaction, so two processes can never take the same row).
 */
import { fork } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, expect, it } from 'vitest';
import { SqliteBroker } from '../../src/broker/sqlite/index.js';
import { message } from '../conformance/broker-suite.js';

const CONSUMER = fileURLToPath(new URL('../fixtures/sqlite-consumer.ts', import.meta.url));
const TOTAL = 10_000;
const BATCH = 100;

const children: ChildProcess[] = [];
const dirs: string[] = [];
afterEach(() => {
  for (const child of children.splice(0)) if (child.exitCode === null) child.kill('SIGKILL');
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

it('delivers each of 10,000 messages exactly once to two competing processes', { timeout: 30_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'celerity-mp-'));
  dirs.push(dir);
  const path = join(dir, 'celerity.db');
  const queue = 'mp';
  const producer = new SqliteBroker({ path, visibilityTimeout: 60 });
  await producer.connect();

  const seen = new Map<string, number>();
  const perChild = [0, 0];
  let received = 0;
  let allReceived!: () => void;
  let consumerDied!: (err: Error) => void;
  const done = new Promise<void>((resolve, reject) => {
    allReceived = resolve;
    consumerDied = reject;
  });

  const ready = [0, 1].map((n) => {
    const child = fork(CONSUMER, [path, queue], { execArgv: ['--import', 'tsx'], stdio: 'inherit' });
    children.push(child);
    return new Promise<void>((resolve, reject) => {
      child.on('error', reject);
      child.on('exit', (code) => {
        const err = new Error(`consumer ${n} exited early with code ${code}`);
        reject(err);
        consumerDied(err);
      });
      child.on('message', (m: { type: string; ids?: string[] }) => {
        if (m.type === 'ready') resolve();
        for (const id of m.ids ?? []) {
          seen.set(id, (seen.get(id) ?? 0) + 1);
          perChild[n]! += 1;
          if (++received >= TOTAL) allReceived();
        }
      });
    });
  });
  await Promise.all(ready);

  const start = Date.now();
  for (let i = 0; i < TOTAL; i += BATCH) {
    const batch = Array.from({ length: BATCH }, (_, j) => ({
      queue,
      priority: (i + j) % 10,
      message: message(`m${i + j}`),
    }));
    await producer.publish(batch);
    // Yield so publishing interleaves with the consumers instead of filling the queue first.
    await new Promise((r) => setImmediate(r));
  }
  await done;
  const elapsed = Date.now() - start;

  const exits = children.map((c) => new Promise((r) => c.removeAllListeners('exit').once('exit', r)));
  for (const child of children) child.send('stop');
  await Promise.all(exits);

  expect(received).toBe(TOTAL);
  expect(seen.size).toBe(TOTAL);
  expect([...seen.values()].every((n) => n === 1)).toBe(true);
  expect(perChild.every((n) => n > 0)).toBe(true);
  expect(await producer.size(queue)).toBe(0);
  expect(await producer.reserve([queue], { max: 1, waitMs: 0 })).toEqual([]);
  await producer.close();
  // About 0.4 s on a 2-core VM; the bound only catches a consumer that stalls between wake-ups.
  expect(elapsed).toBeLessThan(15_000);
});
