/**
 * RabbitMQ restarted three times (`rabbitmqctl stop_app` / `start_app`) while tasks are being sent and run: the
 * producer's publishes wait for the connection to come back and are confirmed, the worker's consumers come back by
 * themselves, and every task ends SUCCESS. Lost, stuck and duplicated tasks are counted: acks_late gives at least
 * once, so a task whose ack died with a connection runs again, and no task may be lost or left waiting.
 * The broker is a node of the test's own (test/rabbit-node.ts), so other AMQP tests are not disturbed.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Celerity } from '../../src/index.js';
import type { AsyncResult } from '../../src/index.js';
import { requirePrivateRabbit, startRabbitNode, type RabbitNode } from '../rabbit-node.js';

const REDIS = 'redis://127.0.0.1:6379/11';
const { ok: ready, reason } = await requirePrivateRabbit(REDIS);

const TASKS = 1200;
const RESTARTS = 3;

describe.skipIf(!ready)(`AMQP broker restarts${ready ? '' : ` (skipped: ${reason})`}`, () => {
  let node: RabbitNode;
  let r: Redis;
  beforeAll(async () => {
    node = startRabbitNode('celerity-restart', 5674);
    r = new Redis(REDIS);
    await r.flushdb();
  }, 90_000);
  afterAll(async () => {
    // Database 11 is this file's alone: nothing of the run is left behind.
    await r?.flushdb();
    r?.disconnect();
    await node?.stop();
  });

  it(`loses and strands nothing across ${RESTARTS} restarts while tasks flow`, async () => {
    const app = new Celerity('restarts', { broker: node.url, backend: REDIS, loglevel: 'silent' }, {});
    const record = app.task('restart.record', async (i: number) => {
      await r.hincrby('runs', String(i), 1);
      await sleep(2);
      return i;
    });
    const worker = app.worker({ concurrency: 8, queues: ['restarts'] });
    await worker.start();
    const results: AsyncResult<number>[] = [];
    let restarting = true;
    const producing = (async () => {
      // Sent at an even pace (about 12 s for all) until every restart is over, the rest at once.
      for (let i = 0; i < TASKS; i += 20) {
        const batch = Array.from({ length: Math.min(20, TASKS - i) }, (_, k) => record.applyAsync([i + k], { queue: 'restarts' }));
        results.push(...(await Promise.all(batch)));
        if (restarting) await sleep(180);
      }
    })();
    const outages: number[] = [];
    for (let n = 0; n < RESTARTS; n++) {
      await sleep(1500);
      const t0 = Date.now();
      node.ctl('stop_app');
      await sleep(500);
      node.ctl('start_app');
      outages.push(Date.now() - t0);
    }
    restarting = false;
    await producing;
    const settled = await Promise.allSettled(results.map((res) => res.get({ timeout: 60_000 })));
    const runs = await r.hgetall('runs');
    const stuck = settled.filter((s) => s.status === 'rejected').length;
    const lost = Array.from({ length: TASKS }, (_, i) => i).filter((i) => !runs[String(i)]).length;
    const duplicated = Object.values(runs).filter((v) => Number(v) > 1).length;
    console.log(`amqp restarts: ${TASKS} tasks, outages ${outages.join('/')} ms: lost ${lost}, stuck ${stuck}, run twice ${duplicated}`);
    await worker.stop();
    await app.close();
    expect(results).toHaveLength(TASKS);
    expect({ lost, stuck }).toEqual({ lost: 0, stuck: 0 });
    expect(settled.every((s) => s.status === 'fulfilled')).toBe(true);
    // At least once, not many times: a redelivery happens only for tasks in flight at a restart.
    expect(duplicated).toBeLessThan(TASKS / 4);
  }, 240_000);
});
