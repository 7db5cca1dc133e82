/**
 * No call waits forever on a Redis that does not answer: a server that takes connections and never replies (a
 * plain TCP listener), a real Redis frozen with SIGSTOP after the app connected, and a port where nothing listens.
 * delay(), get(), a worker's start and the CLI fail with an error naming the server and the setting that bounds
 * the wait; once the server answers again the same app works.
 */
import { spawnSync } from 'node:child_process';
import { createServer, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { OwnRedis } from '../../chaos/lib/procs.js';
import { Celerity, ConnectionError } from '../../src/index.js';
import { cli } from '../e2e/worker-process.js';
import { freePort, tempDir } from '../helpers.js';
import { requireService } from '../services.js';

const redisServer = await requireService('redis-server on PATH', () => {
  if (spawnSync('redis-server', ['--version']).status !== 0) throw new Error('redis-server is not installed');
});

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** Accepts connections and never answers, like a frozen server or another service on the port. */
async function silentServer(): Promise<{ url: string }> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((s) => {
    sockets.add(s);
    s.on('data', () => undefined);
  });
  const port = await freePort();
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
  cleanups.push(() => {
    for (const s of sockets) s.destroy();
    return new Promise<void>((r) => server.close(() => r()));
  });
  return { url: `redis://127.0.0.1:${port}/0` };
}

function app(url: string, extra: Record<string, unknown> = {}): Celerity {
  const a = new Celerity('timeouts', { broker: url, backend: url, loglevel: 'silent', brokerConnectionTimeout: 0.5, redisSocketConnectTimeout: 0.5, redisSocketTimeout: 0.5, ...extra }, {});
  cleanups.push(() => a.close());
  return a;
}

describe('a Redis that never answers', () => {
  it('delay(), get() and a worker start fail with the server and the setting named', async () => {
    const { url } = await silentServer();
    const a = app(url);
    a.task('t.add', (x: number, y: number) => x + y);
    const sent = await a.sendTask('t.add', [1, 2]).catch((e: unknown) => e);
    expect(sent).toBeInstanceOf(ConnectionError);
    expect((sent as Error).message).toMatch(/^cannot reach Redis at 127\.0\.0\.1:\d+: no answer within 500 ms \(brokerConnectionTimeout\)$/);
    const read = await a.asyncResult('some-id').get({ timeout: 60_000 }).catch((e: unknown) => e);
    expect((read as Error).message).toMatch(/Redis result backend at 127\.0\.0\.1:\d+ is unreachable: no answer within 500 ms \(redisSocketConnectTimeout\)/);
    const started = await a.worker({ concurrency: 1 }).start().catch((e: unknown) => e);
    expect((started as Error).message).toMatch(/127\.0\.0\.1:\d+.*: no answer within 500 ms/);
  });

  it('the CLI exits 69 with the same message for call, inspect and worker', async () => {
    const { url } = await silentServer();
    const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('CELERITY_')));
    const env = { ...base, CELERITY_BROKER_URL: url, CELERITY_RESULT_BACKEND: url, CELERITY_BROKER_CONNECTION_TIMEOUT: '0.5', CELERITY_REDIS_SOCKET_CONNECT_TIMEOUT: '0.5' };
    for (const args of [['call', 't.add', '--args', '[1, 2]'], ['inspect', 'ping'], ['worker', '-A', 'test/fixtures/app.ts'], ['result', 'x', '--wait']]) {
      const r = spawnSync(process.execPath, [cli, ...args], { env, encoding: 'utf8', timeout: 30_000 });
      expect(r.status, args.join(' ')).toBe(69);
      expect(r.stderr, args.join(' ')).toMatch(/127\.0\.0\.1:\d+.*: no answer within 500 ms \((brokerConnectionTimeout|redisSocketConnectTimeout)\)/);
    }
  });

  it('a port where nothing listens fails at once, naming the refusal', async () => {
    const a = app(`redis://127.0.0.1:${await freePort()}/0`);
    const sent = await a.sendTask('t.add', [1, 2]).catch((e: unknown) => e);
    expect((sent as Error).message).toMatch(/^cannot reach Redis at 127\.0\.0\.1:\d+: .*ECONNREFUSED/);
  });
});

describe.skipIf(!redisServer.ok)(`a Redis that stops answering after the app connected${redisServer.ok ? '' : ` (skipped: ${redisServer.reason})`}`, () => {
  it('publish and result reads fail after redisSocketTimeout, and work again once it answers', async () => {
    const tmp = tempDir();
    const redis = new OwnRedis(await freePort(), tmp.dir);
    await redis.start();
    cleanups.push(async () => {
      redis.thaw();
      await redis.stop();
      tmp.cleanup();
    });
    const a = app(`${redis.url}/0`);
    a.task('t.add', (x: number, y: number) => x + y);
    const first = await a.sendTask('t.add', [1, 2]);
    expect(await first.state).toBe('PENDING');
    redis.freeze();
    const sent = await a.sendTask('t.add', [3, 4]).catch((e: unknown) => e);
    expect(sent).toBeInstanceOf(ConnectionError);
    expect((sent as Error).message).toMatch(/no answer within the command timeout \(redisSocketTimeout\)/);
    const state = await first.state.catch((e: unknown) => e);
    expect((state as Error).message).toMatch(/Redis result backend at 127\.0\.0\.1:\d+: no answer within the command timeout \(redisSocketTimeout\)/);
    // get() with no timeout of its own: the read it starts with is bounded the same way.
    const waited = await first.get().catch((e: unknown) => e);
    expect((waited as Error).message).toMatch(/no answer within the command timeout \(redisSocketTimeout\)/);
    redis.thaw();
    const again = await a.sendTask('t.add', [5, 6]);
    expect(await again.state).toBe('PENDING');
  });
});
