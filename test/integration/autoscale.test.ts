/**
 * --autoscale on a real worker (embedded SQLite): the pool grows to the work held, up to max, and shrinks back to
 * min once idle past keepalive; with the threads pool, children are added and retired with it.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import type { Celerity, Worker } from '../../src/index.js';
import { deferred, nextEvent, sqliteApp, tempDir } from '../helpers.js';

const fixture = fileURLToPath(new URL('../fixtures/pool-app.ts', import.meta.url));
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function setup(): Celerity {
  const tmp = tempDir();
  cleanups.push(() => tmp.cleanup());
  const app = sqliteApp(tmp.dir);
  cleanups.push(() => app.close());
  return app;
}

async function start(worker: Worker): Promise<Worker> {
  await worker.start();
  cleanups.push(() => worker.stop({ timeout: 0 }));
  return worker;
}

describe('autoscale', () => {
  it('grows the async pool to the work held, up to max, then shrinks back to min', async () => {
    const app = setup();
    const gate = deferred<void>();
    const hold = app.task('as.hold', async () => gate.promise);
    const worker = app.worker({ autoscale: { max: 4, min: 1, keepalive: 0.2, interval: 0.05 } });
    expect(worker.concurrency).toBe(1);
    expect(worker.prefetch).toBe(4 * app.conf.prefetchMultiplier);
    await start(worker);
    const grown = nextEvent(worker, 'resized', (n) => n === 4);
    const results = [];
    for (let i = 0; i < 6; i++) results.push(await hold.delay());
    await grown;
    expect(worker.concurrency).toBe(4);
    const shrunk = nextEvent(worker, 'resized', (n) => n === 1);
    gate.resolve();
    await Promise.all(results.map((r) => r.get({ timeout: 10_000 })));
    await shrunk;
    expect(worker.concurrency).toBe(1);
  });

  it('adds and retires threads with the load', { timeout: 60_000 }, async () => {
    const app = setup();
    // The worker's own registry needs the names; the children run the fixture module's functions.
    app.task('pool.sleep', async (ms: number, label: string) => (await new Promise((r) => setTimeout(r, ms)), label));
    const worker = app.worker({ pool: 'threads', appModule: path.resolve(fixture), autoscale: { max: 3, min: 1, keepalive: 0.2, interval: 0.05 } });
    await start(worker);
    const grown = nextEvent(worker, 'resized', (n) => n === 3, 30_000);
    const results = await Promise.all([1, 2, 3, 4].map((i) => app.sendTask('pool.sleep', [1500, `t${i}`])));
    await grown;
    const shrunk = nextEvent(worker, 'resized', (n) => n === 1, 30_000);
    expect(await Promise.all(results.map((r) => r.get({ timeout: 30_000 })))).toEqual(['t1', 't2', 't3', 't4']);
    await shrunk;
    expect(worker.concurrency).toBe(1);
  });
});
