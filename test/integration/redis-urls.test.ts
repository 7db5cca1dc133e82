/**
 * unix:// and redis+socket:// URLs, usernames and passwords, against a redis-server of its own that listens on a
 * Unix socket and a loopback port and admits only an ACL user (no default user): a task round trip through
 * broker and backend for each URL form, and one-line errors, without the password, when the credentials are wrong.
 */
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConnectionError } from '../../src/errors/index.js';
import { Celerity } from '../../src/index.js';
import { maskPassword, redisOptionsFromUrl } from '../../src/redis/url.js';
import { ask, checkRedisServer, freePort, startServer, tempDir, type ServerProcess } from '../fixtures/redis/servers.js';
import { requireService } from '../services.js';

const service = await requireService('redis-server', () => checkRedisServer());

const USER = 'alice';
const PASS = 's3cret@pw';

describe('socket URLs and credentials (URL parsing)', () => {
  it('reads credentials before a socket path, and redis-py\'s username/password options', () => {
    expect(redisOptionsFromUrl('unix://alice:s3cret%40pw@/run/redis.sock?db=3')).toEqual({
      username: 'alice',
      password: 's3cret@pw',
      path: '/run/redis.sock',
      db: 3,
    });
    expect(redisOptionsFromUrl('redis+socket://:pw@/run/redis.sock?virtual_host=2')).toEqual({ password: 'pw', path: '/run/redis.sock', db: 2 });
    expect(redisOptionsFromUrl('unix:///run/redis.sock?username=bob&password=pw')).toEqual({
      username: 'bob',
      password: 'pw',
      path: '/run/redis.sock',
      db: 0,
    });
    // Credentials before the path win over the query's, as in redis-py; the short `unix:/path` form still reads.
    expect(redisOptionsFromUrl('unix://alice:pw@/run/redis.sock?password=other')).toMatchObject({ password: 'pw' });
    expect(redisOptionsFromUrl('unix:/run/redis.sock')).toEqual({ path: '/run/redis.sock', db: 0 });
    expect(maskPassword('unix://alice:pw@/run/redis.sock')).toBe('unix://alice:***@/run/redis.sock');
    expect(maskPassword('unix:///run/redis.sock?password=pw&db=1')).toBe('unix:///run/redis.sock?password=***&db=1');
    // An unencoded `/` or `@` in the password is masked too.
    expect(maskPassword('unix://:pa/ss@/run/redis.sock')).toBe('unix://:***@/run/redis.sock');
    expect(maskPassword('redis://u:p@ss@cache/0')).toBe('redis://u:***@cache/0');
  });
});

describe.skipIf(!service.ok)(`socket URLs and credentials, live${service.ok ? '' : ` (${service.reason})`}`, () => {
  let tmp: { dir: string; cleanup(): void };
  let server: ServerProcess;
  let socket: string;

  beforeAll(async () => {
    tmp = tempDir('celerity-socket-');
    socket = path.join(tmp.dir, 'redis.sock');
    const port = await freePort();
    server = await startServer(
      tmp.dir,
      'acl',
      port,
      [`unixsocket ${socket}`, 'unixsocketperm 700', 'user default off', `user ${USER} on >${PASS} ~* &* +@all`],
      { ready: (s) => ask({ port: s.port, username: USER, password: PASS }, (r) => r.ping()) },
    );
  });

  afterAll(async () => {
    await server?.kill();
    tmp?.cleanup();
  });

  const pw = encodeURIComponent(PASS);
  const roundTrip = async (broker: string, backend: string) => {
    const app = new Celerity('urls', { broker, backend, loglevel: 'warn' }, {});
    const add = app.task('urls.add', (a: number, b: number) => a + b, { queue: 'urls' });
    const worker = app.worker({ queues: ['urls'] });
    await worker.start();
    try {
      const r = await add.delay(2, 3);
      return await r.get({ timeout: 10_000 });
    } finally {
      await worker.stop();
      await app.close();
    }
  };

  it('runs a task through broker and backend over unix:// with a username and password', async () => {
    expect(await roundTrip(`unix://${USER}:${pw}@${socket}?db=3`, `unix://${USER}:${pw}@${socket}?db=4`)).toBe(5);
    expect(await ask({ path: socket, username: USER, password: PASS, db: 3 }, (r) => r.exists('_kombu.binding.urls'))).toBe(1);
  });

  it("and over kombu's redis+socket:// form, redis-py's password option, and redis:// with a username", async () => {
    expect(await roundTrip(`redis+socket://${USER}:${pw}@${socket}?virtual_host=5`, `unix://${socket}?username=${USER}&password=${pw}&db=6`)).toBe(5);
    expect(await roundTrip(`redis://${USER}:${pw}@127.0.0.1:${server.port}/7`, `redis://${USER}:${pw}@127.0.0.1:${server.port}/8`)).toBe(5);
  });

  it('refuses wrong credentials with one ConnectionError line that does not show the password', async () => {
    const app = new Celerity('urls-bad', { broker: `unix://${USER}:wrong-pass@${socket}`, backend: 'memory://', loglevel: 'warn' }, {});
    try {
      const err = await app.broker().then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(ConnectionError);
      const message = (err as Error).message;
      expect(message).not.toContain('wrong-pass');
      expect(message.split('\n')).toHaveLength(1);
      expect(message).toMatch(/WRONGPASS|invalid username-password|NOAUTH/i);
    } finally {
      await app.close();
    }
  });
});
