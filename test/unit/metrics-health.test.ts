/**
 * checkReady against a real Redis (ready), a closed port on 127.0.0.1 (refused) and a server that accepts and
 * never answers (the case a timeout exists for): not ready, with the failing check named, within the timeout.
 */
import { createServer, type Server, type Socket } from 'node:net';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { Celerity } from '../../src/index.js';
import { checkReady, withTimeout } from '../../src/metrics/health.js';
import { freePort, sqliteApp, tempDir } from '../helpers.js';
import { pingRedis, requireService } from '../services.js';

const REDIS = 'redis://127.0.0.1:6379/0';
const redis = await requireService('Redis', () => pingRedis(REDIS));

const apps: Celerity[] = [];
const cleanups: (() => void | Promise<void>)[] = [];

function redisApp(broker: string, backend: string): Celerity {
  const app = new Celerity('health-test', { broker, backend, loglevel: 'silent', brokerConnectionTimeout: 1, redisSocketConnectTimeout: 1 }, {});
  apps.push(app);
  return app;
}

/** A TCP server that accepts connections and never writes a byte. */
async function silentServer(): Promise<{ url: string }> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((s) => {
    sockets.add(s);
    s.on('error', () => undefined);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  cleanups.push(
    () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  );
  const { port } = server.address() as { port: number };
  return { url: `redis://127.0.0.1:${port}/0` };
}

afterEach(async () => {
  for (const app of apps.splice(0)) await app.close().catch(() => undefined);
});

afterAll(async () => {
  for (const c of cleanups.splice(0)) await c();
});

describe.skipIf(!redis.ok)(`checkReady on Redis${redis.ok ? '' : ` (${redis.reason})`}`, () => {
  it('is ready when the broker and the backend answer', async () => {
    const app = redisApp(REDIS, REDIS);
    const ready = await checkReady({ broker: () => app.broker(), backend: () => app.backend(), timeoutMs: 5000 });
    expect(ready.ok).toBe(true);
    expect(ready.checks.broker).toMatchObject({ ok: true });
    expect(ready.checks.backend).toMatchObject({ ok: true });
    expect(ready.checks.broker.error).toBeUndefined();
  });

  it('is not ready when the broker port is closed, and says which check failed', async () => {
    const closed = `redis://127.0.0.1:${await freePort()}/0`;
    const app = redisApp(closed, REDIS);
    const ready = await checkReady({ broker: () => app.broker(), backend: () => app.backend(), timeoutMs: 1500 });
    expect(ready.ok).toBe(false);
    expect(ready.checks.broker.ok).toBe(false);
    expect(ready.checks.broker.error).toBeTruthy();
    expect(ready.checks.backend.ok).toBe(true);
  });

  it('answers not ready within the timeout when the server accepts and never replies', async () => {
    const silent = await silentServer();
    const app = redisApp(REDIS, silent.url);
    const ready = await checkReady({ broker: () => app.broker(), backend: () => app.backend(), timeoutMs: 300 });
    expect(ready.ok).toBe(false);
    expect(ready.checks.broker.ok).toBe(true);
    expect(ready.checks.backend).toMatchObject({ ok: false, error: 'backend did not answer within 300 ms' });
  }, 10_000);
});

describe('checkReady on SQLite', () => {
  it('is ready on the embedded store, with connections given directly', async () => {
    const { dir, cleanup } = tempDir();
    cleanups.push(cleanup);
    const app = sqliteApp(dir);
    apps.push(app);
    const ready = await checkReady({ broker: await app.broker(), backend: await app.backend() });
    expect(ready).toMatchObject({ ok: true, checks: { broker: { ok: true }, backend: { ok: true } } });
  });
});

describe('withTimeout', () => {
  it('passes a result through, and turns a late one into an error naming what did not answer', async () => {
    await expect(withTimeout('x', 1000, async () => 7)).resolves.toBe(7);
    await expect(withTimeout('the broker', 10, () => new Promise(() => undefined))).rejects.toThrow('the broker did not answer within 10 ms');
    await expect(withTimeout('x', 1000, async () => Promise.reject(new Error('refused')))).rejects.toThrow('refused');
  });
});
