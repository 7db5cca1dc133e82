/**
 * Rate limits, counted the way a user would check them: the start time of every task, and how many starts fall
 * in any one-second window. Per worker (`rateLimit`, Celery's) on SQLite, and shared by two workers through the
 * broker (`globalRateLimit`) on SQLite and on Redis.
 */
import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { Celerity, ConfigurationError, type Worker } from '../../src/index.js';
import { parseRate, StartSchedule } from '../../src/worker/rate-limit.js';
import { sqliteApp, tempDir } from '../helpers.js';
import { pingRedis, requireService } from '../services.js';

const REDIS_BROKER = 'redis://127.0.0.1:6379/10';
const REDIS_BACKEND = 'redis://127.0.0.1:6379/10';

const redis = await requireService('Redis on 127.0.0.1:6379', () => pingRedis(REDIS_BROKER));

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** The most starts inside any window of `ms` beginning at a start. */
function maxPerWindow(starts: number[], ms: number): number {
  const sorted = [...starts].sort((a, b) => a - b);
  let most = 0;
  for (let i = 0, j = 0; i < sorted.length; i++) {
    while (sorted[j]! < sorted[i]! - ms + 1) j++;
    most = Math.max(most, i - j + 1);
  }
  return most;
}

async function startWorker(app: Celerity, concurrency = 4): Promise<Worker> {
  const worker = app.worker({ concurrency });
  await worker.start();
  cleanups.push(() => worker.stop({ timeout: 0 }));
  return worker;
}

describe('rate strings', () => {
  it("reads Celery's forms and refuses anything else at task definition", () => {
    expect(parseRate('10/s')).toBe(10);
    expect(parseRate('120/m')).toBe(2);
    expect(parseRate('3600/h')).toBe(1);
    expect(parseRate('5')).toBe(5);
    expect(parseRate(2.5)).toBe(2.5);
    expect(parseRate(null)).toBeNull();
    expect(parseRate('0/s')).toBeNull();
    const app = new Celerity('rates', { broker: 'memory://', backend: 'memory://', loglevel: 'silent' }, {});
    expect(() => app.task('bad', () => null, { rateLimit: '10 per second' })).toThrow(ConfigurationError);
    expect(() => app.task('bad', () => null, { globalRateLimit: '-1/s' })).toThrow(/globalRateLimit of task bad/);
  });

  it('books evenly spaced slots, each caller the next one', () => {
    const schedule = new StartSchedule(100);
    expect([0, 0, 0, 50].map((t) => schedule.claim(1000 + t))).toEqual([0, 100, 200, 250]);
    expect(schedule.claim(5000)).toBe(0);
  });
});

describe('rateLimit per worker (SQLite)', () => {
  it('spaces starts to the rate, and leaves slots free for other tasks meanwhile', async () => {
    const tmp = tempDir();
    cleanups.push(() => tmp.cleanup());
    const app = sqliteApp(tmp.dir);
    cleanups.push(() => app.close());
    const starts: number[] = [];
    let otherStartedAt = 0;
    const limited = app.task('rl.limited', () => void starts.push(Date.now()), { rateLimit: '10/s' });
    const other = app.task('rl.other', () => void (otherStartedAt = Date.now()));
    const results = [];
    for (let i = 0; i < 25; i++) results.push(await limited.delay());
    const free = await other.delay();
    await startWorker(app);
    await free.get({ timeout: 10_000 });
    await Promise.all(results.map((r) => r.get({ timeout: 20_000 })));

    expect(starts).toHaveLength(25);
    // 10/s is one start every 100 ms: at most 10 in a second (11 allows one timer firing late next to one on time).
    expect(maxPerWindow(starts, 1000)).toBeLessThanOrEqual(11);
    expect(Math.max(...starts) - Math.min(...starts)).toBeGreaterThanOrEqual(2300);
    // The unlimited task did not queue behind 2.4 s of rate-limited ones.
    expect(otherStartedAt - Math.min(...starts)).toBeLessThan(1500);
  });
});

const brokers: [string, boolean, string, () => { broker: string; backend: string; reset?: () => Promise<void> }][] = [
  [
    'SQLite',
    true,
    '',
    () => {
      const tmp = tempDir();
      cleanups.push(() => tmp.cleanup());
      const url = `sqlite://${tmp.dir}/shared.db`;
      return { broker: url, backend: url };
    },
  ],
  [
    'Redis',
    redis.ok,
    redis.reason,
    () => ({
      broker: REDIS_BROKER,
      backend: REDIS_BACKEND,
      reset: async () => {
        const r = new Redis(REDIS_BROKER);
        await r.flushdb();
        r.disconnect();
      },
    }),
  ],
];

describe.each(brokers)('globalRateLimit shared by two workers (%s)', (_name, ok, reason, setup) => {
  it.skipIf(!ok)(`holds the combined rate of both workers${ok ? '' : ` (skipped: ${reason})`}`, async () => {
    const { broker, backend, reset } = setup();
    await reset?.();
    const starts: number[] = [];
    const byWorker = new Map<string, number>();
    const apps = ['a', 'b'].map((name) => {
      const app = new Celerity('rl', { broker, backend, loglevel: 'silent', hostname: `${name}@test` }, {});
      cleanups.push(() => app.close());
      app.task(
        'rl.shared',
        function () {
          starts.push(Date.now());
          byWorker.set(this.hostname, (byWorker.get(this.hostname) ?? 0) + 1);
        },
        { globalRateLimit: '10/s' },
      );
      return app;
    });
    const results = [];
    for (let i = 0; i < 30; i++) results.push(await apps[0]!.sendTask('rl.shared'));
    await Promise.all(apps.map((app) => startWorker(app)));
    await Promise.all(results.map((r) => r.get({ timeout: 30_000 })));

    expect(starts).toHaveLength(30);
    expect(byWorker.size).toBe(2);
    expect(maxPerWindow(starts, 1000)).toBeLessThanOrEqual(11);
    expect(Math.max(...starts) - Math.min(...starts)).toBeGreaterThanOrEqual(2800);
    await reset?.();
  });
});
