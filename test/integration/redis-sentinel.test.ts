/**
 * Redis through Sentinel: kombu's `sentinel://` URLs, then a real deployment on loopback (master, replica, three
 * sentinels; test/fixtures/redis/sentinel.ts) where the master is SIGKILLed while a producer keeps sending and an
 * in-process worker keeps running tasks. Every task must finish with its result readable; with acks late, only a
 * task that was in flight at the kill may run twice.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBackend, createBroker } from '../../src/transports/index.js';
import { RedisBackend } from '../../src/backend/redis/index.js';
import { RedisBroker } from '../../src/broker/redis/index.js';
import { ConfigurationError, ConnectionError } from '../../src/errors/index.js';
import { Celerity, type AsyncResult } from '../../src/index.js';
import type { Redis } from 'ioredis';
import { maskPassword, parseRedisUrl, redisOptionsFromUrl } from '../../src/redis/url.js';
import { PASSWORD, startSentinelGroup, type SentinelGroup } from '../fixtures/redis/sentinel.js';
import { ask, checkRedisServer, freePort, until } from '../fixtures/redis/servers.js';
import { requireService } from '../services.js';
import { message } from '../conformance/broker-suite.js';

const service = await requireService('redis-server (for a Sentinel deployment)', checkRedisServer);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('sentinel:// URLs', () => {
  it("reads kombu's form: every sentinel's address, the master's credentials and database, master_name", () => {
    const url = 'sentinel://:s%40cret@h1:26380/2;sentinel://h2;sentinel://[::1]:26381?master_name=mymaster&sentinel_password=sp';
    expect(redisOptionsFromUrl(url)).toEqual({
      sentinels: [
        { host: 'h1', port: 26380 },
        { host: 'h2', port: 26379 },
        { host: '::1', port: 26381 },
      ],
      name: 'mymaster',
      password: 's@cret',
      sentinelPassword: 'sp',
      db: 2,
    });
    const parsed = parseRedisUrl(`${url}&global_keyprefix=app:`, { params: ['global_keyprefix'] });
    expect(parsed.target).toBe('mymaster (sentinels h1:26380, h2:26379, [::1]:26381)');
    expect(parsed.params.get('global_keyprefix')).toBe('app:');
  });

  it('takes credentials, database and options from whichever address carries them', () => {
    const a = redisOptionsFromUrl('sentinel://h1?master_name=m&db=3;sentinel://u:pw@h2:1?sentinel_username=su');
    expect(a).toMatchObject({ name: 'm', db: 3, username: 'u', password: 'pw', sentinelUsername: 'su' });
    const b = redisOptionsFromUrl('sentinel://u:pw@h2:1?sentinel_username=su;sentinel://h1/3?master_name=m');
    expect(b).toMatchObject({ name: 'm', db: 3, username: 'u', password: 'pw', sentinelUsername: 'su' });
    expect(redisOptionsFromUrl('sentinel://h?master_name=m&socket_connect_timeout=1.5').connectTimeout).toBe(1500);
  });

  it('refuses what it cannot use, in one line, without showing a password', () => {
    const cases: [string, RegExp][] = [
      ['sentinel://:pw@h1;sentinel://h2', /master_name/],
      ['sentinel://:pw@h1?master_name=', /master_name/],
      ['sentinel://:pw@h1;sentinel://:other@h2?master_name=m', /password="\*\*\*": expected the same value on every/],
      ['sentinel://h1?sentinel_password=pw;sentinel://h2?master_name=m&sentinel_password=other', /sentinel_password="\*\*\*"/],
      ['sentinel://:pw@h1?master_name=m&sentinel_password=pw&bogus=1', /bogus/],
      ['sentinel://h1/1;sentinel://h2/2?master_name=m', /database="2": expected the same value on every/],
      ['sentinel://:pw@h1;redis://h2?master_name=m', /sentinel:\/\/host:26379/],
      ['sentinel://:pw@/0?master_name=m', /sentinel:\/\/host:26379/],
      ['sentinel://:pw@h1?master_name=m&ssl_cert_reqs=none', /TLS through Sentinel is not supported/],
      ['sentinel://:pw@h1?master_name=m&service_name=x', /service_name.*one of/],
      ['sentinel://:pw@h1/zero?master_name=m', /database number/],
      ['redis://:pw@h1/0?master_name=m', /master_name.*one of/],
    ];
    for (const [url, message] of cases) {
      const err = (() => {
        try {
          new RedisBroker({ url, visibilityTimeout: 1 });
        } catch (e) {
          return e as Error;
        }
        return undefined;
      })();
      expect(err, url).toBeInstanceOf(ConfigurationError);
      expect(err!.message, url).toMatch(message);
      expect(err!.message, url).not.toMatch(/pw|other|\n/);
    }
    expect(maskPassword('sentinel://:a@h1;sentinel://u:b@h2?master_name=m&sentinel_password=c')).toBe(
      'sentinel://:***@h1;sentinel://u:***@h2?master_name=m&sentinel_password=***',
    );
  });

  it('is what createBroker and createBackend build for sentinel:// URLs', async () => {
    const url = 'sentinel://h1:26379;sentinel://h2:26379?master_name=m';
    expect(await createBroker(url, { visibilityTimeout: 5 })).toBeInstanceOf(RedisBroker);
    expect(await createBackend(url, { resultExpires: 60 })).toBeInstanceOf(RedisBackend);
  });

  it('names the master and the sentinels in one line when no sentinel answers', async () => {
    const [a, b] = [await freePort(), await freePort()];
    const url = `sentinel://127.0.0.1:${a};sentinel://127.0.0.1:${b}?master_name=m`;
    for (const adapter of [new RedisBroker({ url, visibilityTimeout: 1 }), new RedisBackend({ url, resultExpires: 1 })]) {
      const err = await adapter.connect().catch((e: unknown) => e as Error);
      await adapter.close();
      expect(err).toBeInstanceOf(ConnectionError);
      expect(err!.message).toContain(`m (sentinels 127.0.0.1:${a}, 127.0.0.1:${b})`);
      expect(err!.message).toContain("no sentinel gave the master's address");
      expect(err!.message).not.toContain('\n');
    }
  });
});

describe.skipIf(!service.ok)(`Redis through Sentinel${service.ok ? '' : ` (skipped: ${service.reason})`}`, () => {
  let group: SentinelGroup;
  beforeAll(async () => {
    group = await startSentinelGroup();
  }, 25_000);
  afterAll(async () => {
    await group?.stop();
  });

  it('says which part is wrong: unknown master name, sentinel password, master password', async () => {
    const cases: [string, RegExp][] = [
      [group.url(0, { master_name: 'nope' }), /no sentinel gave the master's address \(last error: ERR No such master/],
      [group.url(0, { sentinel_password: 'wrong' }), /no sentinel gave the master's address \(last error: WRONGPASS/],
      [group.url(0).replace(`:${PASSWORD}@`, ':wrong@'), /\): WRONGPASS/],
    ];
    for (const [url, message] of cases) {
      const broker = new RedisBroker({ url, visibilityTimeout: 1 });
      const err = await broker.connect().catch((e: unknown) => e as Error);
      await broker.close();
      expect(err, url).toBeInstanceOf(ConnectionError);
      expect(err!.message, url).toMatch(message);
      expect(err!.message).not.toMatch(/wrong|secret|\n/);
    }
  });

  it('loses no task when the master is SIGKILLed mid-flow: worker, producer and result waiters follow the failover', async () => {
    const url = group.url(0);
    // A short visibility timeout so that reservations whose ack died with the old master come back within the test.
    const conf = {
      broker: url,
      backend: url,
      loglevel: 'silent',
      logFormat: 'json',
      acksLate: true,
      visibilityTimeout: 2,
    } as const;
    const workerApp = new Celerity('sentinel-worker', { ...conf, concurrency: 4 }, {});
    const producer = new Celerity('sentinel-producer', conf, {});
    const runs = new Map<string, number>();
    workerApp.task('failover.double', async function (n: number) {
      runs.set(this.id, (runs.get(this.id) ?? 0) + 1);
      await sleep(10);
      return n * 2;
    });
    const worker = workerApp.worker();
    const succeeded = new Map<string, number>();
    worker.on('task-succeeded', ({ id }) => succeeded.set(id, Date.now()));
    const oldMaster = await group.masterPort();
    const onMaster = <T>(port: number, fn: (r: Redis) => Promise<T>) => ask({ port, password: PASSWORD }, fn);
    const blockedClients = (port: number) =>
      onMaster(port, async (r) => Number(/blocked_clients:(\d+)/.exec(await r.info('clients'))?.[1]));

    // A broker blocked waiting on a queue nobody feeds when the master dies (started before the worker, so its
    // four connections, one per priority list, are the only blocked clients).
    const idle = new RedisBroker({ url, visibilityTimeout: 5 });
    await idle.connect();
    const idleQueue = `idle-${randomUUID()}`;
    const blocked = idle.reserve([idleQueue], { max: 1, waitMs: 60_000 }).then(
      (got) => `resolved with ${got.length} messages`,
      (err: Error) => `${err.name}: ${err.message}`,
    );
    await until('the idle reserve blocked on its four lists', async () => (await blockedClients(oldMaster)) === 4);

    interface Sent {
      id: string;
      n: number;
      sentAt: number;
      outcome: Promise<{ value?: number; error?: Error; at: number }>;
    }
    const sent: Sent[] = [];
    const sending = new Set<string>();
    let producing = true;
    let sendRetries = 0;
    // A send the outage refuses is retried under the same task id, as a careful producer does. Each result is
    // awaited from the moment it is sent, so waiters span the failover.
    const send = async (n: number): Promise<void> => {
      const id = randomUUID();
      sending.add(id);
      let result: AsyncResult<number>;
      for (;;) {
        try {
          result = await producer.sendTask<number>('failover.double', [n], { taskId: id });
          break;
        } catch (err) {
          if (!(err instanceof ConnectionError)) throw err;
          sendRetries++;
          await sleep(100);
        }
      }
      sending.delete(id);
      const outcome = result.get({ timeout: 25_000 }).then(
        (value) => ({ value, at: Date.now() }),
        (error: Error) => ({ error, at: Date.now() }),
      );
      sent.push({ id, n, sentAt: Date.now(), outcome });
    };
    const produce = async (): Promise<void> => {
      for (let n = 0; producing; n++) {
        await send(n);
        await sleep(5);
      }
    };

    await worker.start();
    const producing$ = produce();
    try {
      await until('100 tasks done before the failover', async () => succeeded.size >= 100, 15_000);
      // Waiters for tasks that will be sent only after the promotion, subscribed on the old master: they are
      // answered only if the result subscriber re-subscribes on the new one.
      const later = Array.from({ length: 20 }, (_, i) => ({ id: randomUUID(), n: 100_000 + i }));
      const laterOutcomes = later.map(({ id }) =>
        producer.asyncResult<number>(id).get({ timeout: 30_000 }).then((value) => value, (error: Error) => error),
      );
      await until('the early waiters subscribed on the old master', () =>
        onMaster(oldMaster, async (r) => {
          const counts = (await r.call('PUBSUB', 'NUMSUB', ...later.map(({ id }) => `celery-task-meta-${id}`))) as unknown[];
          return counts.filter((_, i) => i % 2 === 1).every((count) => Number(count) === 1);
        }),
      );

      // A burst just before the kill, so that the worker holds a full prefetch and the queue is not empty.
      await Promise.all(Array.from({ length: 40 }, (_, i) => send(200_000 + i)));
      await group.server(oldMaster).kill('SIGKILL');
      const killedAt = Date.now();
      // In flight: sent or being sent, and not yet reported done by the worker when the master died.
      const inFlight = new Set([...sent.map((s) => s.id), ...sending].filter((id) => !succeeded.has(id)));

      const newMaster = await until(
        'a replica promoted by the sentinels',
        async () => {
          const port = await group.masterPort();
          return port !== oldMaster && port;
        },
        20_000,
      );
      const failoverMs = Date.now() - killedAt;
      for (const { id, n } of later) await producer.sendTask('failover.double', [n], { taskId: id });
      expect(await Promise.all(laterOutcomes)).toEqual(later.map(({ n }) => n * 2));
      // The worker consumes again: tasks sent after the promotion are done, reserved from the new master.
      await until(
        '50 tasks sent after the failover done',
        async () => sent.filter((s) => s.sentAt > killedAt + failoverMs && succeeded.has(s.id)).length >= 50,
        20_000,
      );
      const firstDone = Math.min(...sent.filter((s) => s.sentAt > killedAt).map((s) => succeeded.get(s.id) ?? Infinity));
      producing = false;
      await producing$;

      const outcomes = await Promise.all(sent.map((s) => s.outcome));
      const wrong = sent.filter((s, i) => outcomes[i]!.value !== s.n * 2);
      expect(wrong.map((s) => `${s.n}: ${outcomes[sent.indexOf(s)]!.error?.message}`)).toEqual([]);
      // Waiters subscribed on the old master and answered only after the promotion: the subscriber moved over.
      const waitersAcross = sent.filter((s, i) => s.sentAt < killedAt && outcomes[i]!.at > killedAt + failoverMs).length;

      // Reservations whose ack was lost come back after the visibility timeout and run again; wait until nothing
      // is queued or reserved on the new master before counting runs.
      await until(
        'queue and reservations empty on the new master',
        () =>
          onMaster(newMaster, async (r) => {
            const [queued, reserved] = await Promise.all([r.llen('celery'), r.hlen('unacked')]);
            return queued === 0 && reserved === 0;
          }),
        15_000,
        100,
      );
      const missing = sent.filter((s) => !runs.has(s.id));
      const duplicated = [...runs].filter(([, count]) => count > 1).map(([id]) => id);
      expect(missing).toEqual([]);
      expect(duplicated.filter((id) => !inFlight.has(id))).toEqual([]);

      // The reserve that was blocked waiting when the master died failed with one line naming the master (the
      // worker's loop retries such a failure with backoff); the same broker, with its pooled blocking connection,
      // now blocks on the new master and receives what is published there.
      await worker.stop({ timeout: 0 });
      const blockedOutcome = await blocked;
      expect(blockedOutcome).toMatch(/^ConnectionError: cannot reach Redis at mymaster \(sentinels [^\n]*$/);
      const again = idle.reserve([idleQueue], { max: 1, waitMs: 10_000 });
      await until('the idle broker blocked on the new master', async () => (await blockedClients(newMaster)) === 4);
      const id = randomUUID();
      await idle.publish([{ queue: idleQueue, message: message(id), priority: 0 }]);
      const got = await again;
      expect(got.map((d) => d.message?.headers.id)).toEqual([id]);
      await idle.ack(got.map((d) => d.tag));

      console.info(
        `sentinel failover: ${sent.length} tasks; master ${oldMaster} -> ${newMaster} promoted ${failoverMs} ms after ` +
          `the SIGKILL; first task done ${firstDone - killedAt} ms after it; ${inFlight.size} in flight at the kill, ` +
          `${duplicated.length} of them ran twice; ${sendRetries} sends retried; ${waitersAcross + later.length} result ` +
          `waiters answered across the failover`,
      );
    } finally {
      producing = false;
      await producing$.catch(() => undefined);
      await worker.stop({ timeout: 0 });
      await Promise.all([workerApp.close(), producer.close(), idle.close()]);
    }
  }, 60_000);
});
