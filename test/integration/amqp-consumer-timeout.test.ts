/**
 * RabbitMQ's delivery acknowledgement timeout (consumer_timeout, 30 min by default) against long acks_late tasks
 * (Celery #6760), on a broker node of the test's own whose timeout is 2 s:
 * - every consumer asks for its own limit (x-consumer-timeout, honoured by RabbitMQ 3.12 and later);
 * - where the server still closes the channel (this node runs an older RabbitMQ, or the limit is passed), the
 *   message goes back to the queue and comes back to the worker that still runs it: the copy is acked when the run
 *   ends, the task runs once, its result is stored, and the consumer comes back for the next tasks.
 */
import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Celerity } from '../../src/index.js';
import { requirePrivateRabbit, startRabbitNode, type RabbitNode } from '../rabbit-node.js';

const REDIS = 'redis://127.0.0.1:6379/1';
const { ok: ready, reason } = await requirePrivateRabbit(REDIS);

describe.skipIf(!ready)(`RabbitMQ consumer_timeout${ready ? '' : ` (skipped: ${reason})`}`, () => {
  let node: RabbitNode;
  let r: Redis;
  beforeAll(async () => {
    node = startRabbitNode('celerity-ctimeout', 5676, ['consumer_timeout = 2000']);
    // The server checks the timeout once per channel tick (60 s by default).
    node.ctl('eval', 'application:set_env(rabbit, channel_tick_interval, 250).');
    r = new Redis(REDIS);
  }, 90_000);
  afterAll(async () => {
    r?.disconnect();
    await node?.stop();
  });

  // concurrency 1: the copy comes back after the run (its ack went nowhere) and is acked on arrival; concurrency 2:
  // a reserve is waiting meanwhile, so the copy comes back while the task still runs and is acked when it ends.
  it.each([1, 2])('a task running past the server timeout runs once and is acked; the worker goes on (concurrency %i)', async (concurrency) => {
    const key = `ctimeout-${Date.now()}-${concurrency}`;
    const app = new Celerity('ctimeout', { broker: `${node.url}?consumer_timeout=3600`, backend: REDIS, loglevel: 'silent' }, {});
    const long = app.task('ct.long', async () => {
      await r.incr(`${key}:long`);
      await sleep(4_000);
      return 'done';
    });
    const short = app.task('ct.short', (x: number) => x * 2);
    const worker = app.worker({ concurrency, prefetchMultiplier: 1, queues: ['ct'] });
    await worker.start();
    try {
      const started = once(worker, 'task-started');
      const first = await long.applyAsync([], { queue: 'ct' });
      await started;
      const consumers = node.ctl('list_consumers', 'queue_name', 'arguments');
      expect(consumers).toMatch(/ct\s+\[\{"x-consumer-timeout",3600000\}\]/);
      expect(await first.get({ timeout: 20_000 })).toBe('done');
      const next = await short.applyAsync([21], { queue: 'ct' });
      expect(await next.get({ timeout: 20_000 })).toBe(42);
      expect(await r.get(`${key}:long`)).toBe('1');
      // Nothing left behind: the copy the server sent back was acked, not left in the queue.
      const broker = await app.broker();
      expect(await broker.size('ct')).toBe(0);
    } finally {
      await worker.stop();
      await app.close();
      await r.del(`${key}:long`);
    }
  }, 60_000);
});
