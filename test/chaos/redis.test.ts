/**
 * Recovery on Redis, where Celery is known to fail: an ETA longer than the visibility timeout runs once; a
 * SIGKILLed worker's task comes back after the visibility timeout and runs exactly once more; a Redis restart
 * while tasks flow loses nothing and leaves nothing stuck. Worker processes are real `celerity worker`s; a ledger
 * on a separate Redis counts every start and finish per task id.
 */
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Celerity } from '../../src/index.js';
import { encodeEnvelope } from '../../src/protocol/envelope.js';
import { tempDir } from '../helpers.js';
import { pingRedis, requireService } from '../services.js';
import { chaosEnv, exited, freePort, OwnRedis, startWorker, type WorkerProc } from './helpers.js';

const LEDGER_URL = 'redis://127.0.0.1:6379/7';
const BROKER = 'redis://127.0.0.1:6379/8';
const BACKEND = 'redis://127.0.0.1:6379/9';

const redisUp = await requireService('Redis on 127.0.0.1:6379', () => pingRedis(LEDGER_URL));

const workers: WorkerProc[] = [];
let ledger: Redis;

beforeAll(() => {
  if (redisUp.ok) ledger = new Redis(LEDGER_URL);
});

afterEach(async () => {
  for (const w of workers.splice(0)) {
    if (w.proc.exitCode === null && w.proc.signalCode === null) w.proc.kill('SIGKILL');
    await exited(w.proc);
  }
});

afterAll(() => ledger?.disconnect());

function scenario(broker = BROKER, backend = BACKEND) {
  const id = randomUUID().slice(0, 8);
  const queue = `chaos-${id}`;
  const key = `chaos-${id}`;
  const env = chaosEnv({ broker, backend, queue, ledgerUrl: LEDGER_URL, ledgerKey: key });
  const app = new Celerity('chaos-producer', { broker, backend, defaultQueue: queue, loglevel: 'silent', visibilityTimeout: 1 }, {});
  const runs = async (taskId: string) => ({
    started: (await ledger.lrange(`${key}:started`, 0, -1)).filter((x) => x === taskId).length,
    done: (await ledger.lrange(`${key}:done`, 0, -1)).filter((x) => x === taskId).length,
  });
  // Two slots and the default multiplier: at most 8 messages reserved at once.
  const spawnWorker = async (name: string) => {
    const w = await startWorker(env, name, ['-c', '2']);
    workers.push(w);
    return w;
  };
  return { queue, key, env, app, runs, spawnWorker };
}

describe.skipIf(!redisUp.ok)(`recovery on Redis${redisUp.ok ? '' : ` (skipped: ${redisUp.reason})`}`, () => {
  it('an ETA longer than the visibility timeout runs exactly once, parked or held', { timeout: 30_000 }, async () => {
    const s = scenario();
    await s.spawnWorker('a');
    await s.spawnWorker('b');
    // Parked: a Celerity producer while Celerity workers poll the queue.
    const sent = Date.now();
    const parked = await s.app.sendTask<number>('chaos.record', [1], { countdown: 3 });
    // Held: the message goes straight onto the list with its ETA, as a Python producer sends it; the worker that
    // takes it holds it for 3 s with a 1 s visibility timeout, extending the reservation as it waits.
    const built = s.app.buildMessage('chaos.record', [2], { countdown: 3 });
    const raw = new Redis(BROKER);
    await raw.lpush(s.queue, encodeEnvelope(built.message, { exchange: '', routingKey: s.queue, priority: 0, deliveryTag: randomUUID() }));
    raw.disconnect();
    const held = s.app.asyncResult<number>(built.id);
    expect(await parked.get({ timeout: 20_000 })).toBe(1);
    expect(await held.get({ timeout: 20_000 })).toBe(2);
    expect(Date.now() - sent).toBeGreaterThanOrEqual(3000);
    expect(await s.runs(parked.id)).toEqual({ started: 1, done: 1 });
    expect(await s.runs(built.id)).toEqual({ started: 1, done: 1 });
    await s.app.close();
  });

  it('a SIGKILLed worker\'s task comes back after the visibility timeout and runs exactly once more', { timeout: 30_000 }, async () => {
    const s = scenario();
    // Both workers are up before the task is sent (starting one takes longer than the task on a loaded machine);
    // whichever takes it is killed while it runs, and the other must run it once more.
    const pair = [await s.spawnWorker('a'), await s.spawnWorker('b')];
    const r = await s.app.sendTask<number>('chaos.record', [7, 1500]);
    const received = (w: WorkerProc) => w.logged((l) => l.includes(r.id) && l.includes('received'), 20_000).then(() => w);
    const holder = await Promise.any(pair.map(received));
    // Wait until the task is really running (its start is in the ledger), then kill its worker outright.
    while ((await s.runs(r.id)).started === 0) await new Promise((res) => setImmediate(res));
    holder.proc.kill('SIGKILL');
    await exited(holder.proc);
    expect(await r.get({ timeout: 20_000 })).toBe(7);
    expect(await s.runs(r.id)).toEqual({ started: 2, done: 1 });
    await s.app.close();
  });

  it('a Redis restart while tasks flow loses nothing and leaves nothing stuck', { timeout: 90_000 }, async () => {
    const tmp = tempDir('celerity-redis-');
    const server = new OwnRedis(await freePort(), tmp.dir);
    await server.start();
    const s = scenario(`redis://127.0.0.1:${server.port}/0`, `redis://127.0.0.1:${server.port}/1`);
    await s.spawnWorker('a');
    const accepted: string[] = [];
    let refused = 0;
    let sending = true;
    const producer = (async () => {
      for (let i = 0; sending; i++) {
        // A send either resolves (the task is accepted and must complete) or rejects while Redis is away.
        await s.app.sendTask('chaos.record', [i]).then(
          (r) => accepted.push(r.id),
          () => refused++,
        );
        await new Promise((res) => setTimeout(res, 5));
      }
    })();
    const countDone = async () => ledger.llen(`${s.key}:done`);
    while ((await countDone()) < 50) await new Promise((res) => setTimeout(res, 20));
    await server.stop();
    const acceptedBeforeOutage = accepted.length;
    await new Promise((res) => setTimeout(res, 500)); // Redis stays down for half a second
    await server.start();
    while (accepted.length < acceptedBeforeOutage + 50) await new Promise((res) => setTimeout(res, 20));
    sending = false;
    await producer;
    const results = await Promise.all(
      accepted.map((id) =>
        s.app
          .asyncResult<number>(id)
          .get({ timeout: 30_000 })
          .catch(async (err: unknown) => {
            // Where the task is, for the failure message: list, unacked, ledger.
            const r = new Redis(`redis://127.0.0.1:${server.port}/0`);
            const lists = await Promise.all(['', '\x06\x163', '\x06\x166', '\x06\x169'].map((sfx) => r.lrange(`${s.queue}${sfx}`, 0, -1)));
            const unacked = await r.hgetall('unacked');
            r.disconnect();
            const where = {
              inList: lists.flat().some((e) => e.includes(id)),
              unacked: Object.values(unacked).some((e) => e.includes(id)),
              runs: await s.runs(id),
              lines: workers.flatMap((w) => w.lines.filter((l) => l.includes(id))),
            };
            throw new Error(`${(err as Error).message}: ${JSON.stringify(where)}`);
          }),
      ),
    );
    expect(results).toHaveLength(accepted.length);
    const done = await ledger.lrange(`${s.key}:done`, 0, -1);
    const unique = new Set(done);
    for (const id of accepted) expect(unique.has(id)).toBe(true);
    // At-least-once: only tasks reserved when Redis went away (at most the prefetch, 8) may have run twice.
    expect(done.length - unique.size).toBeLessThanOrEqual(8);
    console.log(`redis restart: ${accepted.length} accepted, ${refused} refused while down, ${done.length - unique.size} re-run`);
    await s.app.close();
    await server.stop();
    tmp.cleanup();
  });
});
