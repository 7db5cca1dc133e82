/**
 * ETA tasks on RabbitMQ classic queues without delayed delivery (Celery's default there): the worker holds them
 * until they are due, and they do not fill its prefetch window (Celery raises basic.qos for each), so tasks due now
 * still run at once; with native delayed delivery they wait in the broker instead.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { Celerity } from '../../src/index.js';
import { freshVhost, pingRabbit, pingRedis, requireService } from '../services.js';

const REDIS = 'redis://127.0.0.1:6379/1';
const ready = await requireService('RabbitMQ and Redis', async () => {
  await pingRabbit();
  await pingRedis(REDIS);
});
const space = ready.ok ? await freshVhost('eta') : null;

afterAll(async () => {
  await space?.remove();
});

describe.skipIf(!ready.ok)(`ETA tasks on RabbitMQ${ready.ok ? '' : ` (skipped: ${ready.reason})`}`, () => {
  it.each(['off', 'native'])('held ETA tasks leave the prefetch window to tasks due now (delayed_delivery=%s)', async (delayed) => {
    const queue = `eta-${randomUUID().slice(0, 8)}`;
    const app = new Celerity('eta', { broker: `${space!.url}?delayed_delivery=${delayed}`, backend: REDIS, loglevel: 'silent' }, {});
    const echo = app.task('eta.echo', (x: number) => x);
    // A window of one message: without setting ETA tasks aside, the first of them would stop the worker for 60 s.
    const worker = app.worker({ concurrency: 1, prefetchMultiplier: 1, queues: [queue] });
    await worker.start();
    try {
      const later = await Promise.all([1, 2, 3].map((x) => echo.applyAsync([x], { queue, countdown: 60 })));
      const t0 = Date.now();
      const now = await Promise.all([10, 20].map((x) => echo.applyAsync([x], { queue })));
      expect(await Promise.all(now.map((r) => r.get({ timeout: 10_000 })))).toEqual([10, 20]);
      expect(Date.now() - t0).toBeLessThan(10_000);
      expect(await Promise.all(later.map((r) => r.state))).toEqual(['PENDING', 'PENDING', 'PENDING']);
      await Promise.all(later.map((r) => r.revoke()));
    } finally {
      await worker.stop();
      await app.close();
    }
  });
});
