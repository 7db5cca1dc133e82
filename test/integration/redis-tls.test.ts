/**
 * Redis over TLS (`rediss://`) with Celery's ssl_* URL options, against redis-servers listening on TLS only with
 * throwaway certificates (test/fixtures/redis/tls.ts): a task round trip through broker and backend, a client
 * certificate for a server that requires one, and one-line ConnectionErrors when the certificate is not trusted.
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisBackend } from '../../src/backend/redis/index.js';
import { RedisBroker } from '../../src/broker/redis/index.js';
import { ConfigurationError, ConnectionError } from '../../src/errors/index.js';
import { Celerity } from '../../src/index.js';
import { redisOptionsFromUrl } from '../../src/redis/url.js';
import { checkRedisServer, tempDir, type ServerProcess } from '../fixtures/redis/servers.js';
import { checkTlsSupport, makeCertificates, startTlsServer, type Certificates } from '../fixtures/redis/tls.js';
import { requireService } from '../services.js';

const service = await requireService('redis-server with TLS, and openssl', () => {
  checkRedisServer();
  checkTlsSupport();
});

describe('rediss:// URL options', () => {
  it("maps kombu's ssl_cert_reqs values and reads the certificate files", () => {
    for (const [value, rejectUnauthorized] of [
      ['required', true],
      ['CERT_REQUIRED', true],
      ['optional', true],
      ['CERT_OPTIONAL', true],
      ['none', false],
      ['CERT_NONE', false],
    ] as const) {
      expect(redisOptionsFromUrl(`rediss://h/0?ssl_cert_reqs=${value}`).tls, value).toEqual({ rejectUnauthorized });
    }
    const tmp = tempDir('celerity-tls-files-');
    try {
      const file = (name: string) => {
        writeFileSync(path.join(tmp.dir, name), `contents of ${name}`);
        return path.join(tmp.dir, name);
      };
      const tls = redisOptionsFromUrl(
        `rediss://h/0?ssl_ca_certs=${file('ca.pem')}&ssl_certfile=${file('c.pem')}&ssl_keyfile=${file('c.key')}`,
      ).tls as { ca: Buffer; cert: Buffer; key: Buffer };
      expect([tls.ca, tls.cert, tls.key].map(String)).toEqual(['contents of ca.pem', 'contents of c.pem', 'contents of c.key']);
      expect(() => redisOptionsFromUrl(`rediss://h/0?ssl_ca_certs=${tmp.dir}/missing.pem`)).toThrow(
        /ssl_ca_certs.*missing\.pem.*a readable file/,
      );
    } finally {
      tmp.cleanup();
    }
  });

  it('refuses TLS options on redis:// and unknown ssl_cert_reqs values', () => {
    expect(() => redisOptionsFromUrl('redis://h/0?ssl_ca_certs=/tmp/ca.pem')).toThrow(ConfigurationError);
    expect(() => redisOptionsFromUrl('rediss://h/0?ssl_cert_reqs=sometimes')).toThrow(/CERT_REQUIRED, CERT_OPTIONAL or CERT_NONE/);
  });
});

describe.skipIf(!service.ok)(`Redis over TLS${service.ok ? '' : ` (skipped: ${service.reason})`}`, () => {
  let certs: Certificates;
  let server: ServerProcess;
  let mutual: ServerProcess;
  beforeAll(async () => {
    certs = makeCertificates();
    server = await startTlsServer(certs, 'no', 'tls');
    mutual = await startTlsServer(certs, 'yes', 'mtls');
  });
  afterAll(async () => {
    await Promise.all([server?.kill(), mutual?.kill()]);
    certs?.cleanup();
  });

  it('runs a task through broker and backend over rediss:// with ssl_ca_certs', async () => {
    const url = `rediss://127.0.0.1:${server.port}/0?ssl_ca_certs=${certs.ca}`;
    const app = new Celerity('tls', { broker: url, backend: url, loglevel: 'silent', logFormat: 'json' }, {});
    const add = app.task('tls.add', (x: number, y: number) => x + y);
    const worker = app.worker({ concurrency: 2 });
    try {
      await worker.start();
      const r = await add.delay(2, 3);
      expect(await r.get({ timeout: 10_000 })).toBe(5);
      expect(await r.state).toBe('SUCCESS');
    } finally {
      await worker.stop({ timeout: 0 });
      await app.close();
    }
  });

  it('connects with ssl_cert_reqs=required by host name too, and without verification on ssl_cert_reqs=none', async () => {
    for (const url of [
      `rediss://localhost:${server.port}/0?ssl_cert_reqs=required&ssl_ca_certs=${certs.ca}`,
      `rediss://127.0.0.1:${server.port}/0?ssl_cert_reqs=CERT_NONE`,
    ]) {
      const broker = new RedisBroker({ url, visibilityTimeout: 5 });
      const backend = new RedisBackend({ url, resultExpires: 60 });
      try {
        await Promise.all([broker.connect(), backend.connect()]);
        expect(await broker.size(`tls-${Date.now()}`)).toBe(0);
      } finally {
        await Promise.all([broker.close(), backend.close()]);
      }
    }
  });

  it('presents ssl_certfile and ssl_keyfile to a server that requires a client certificate', async () => {
    const base = `rediss://127.0.0.1:${mutual.port}/0?ssl_ca_certs=${certs.ca}`;
    const withCert = new RedisBroker({
      url: `${base}&ssl_certfile=${certs.clientCert}&ssl_keyfile=${certs.clientKey}`,
      visibilityTimeout: 5,
    });
    try {
      await withCert.connect();
      expect(await withCert.size('mtls')).toBe(0);
    } finally {
      await withCert.close();
    }
    const without = new RedisBroker({ url: base, visibilityTimeout: 5 });
    const err = await without.connect().catch((e: unknown) => e as Error);
    await without.close();
    expect(err).toBeInstanceOf(ConnectionError);
    expect(err!.message).toMatch(new RegExp(`^cannot reach Redis at 127\\.0\\.0\\.1:${mutual.port}: `));
  });

  it('fails with one clear ConnectionError line when the server certificate is not signed by ssl_ca_certs', async () => {
    const port = server.port;
    for (const url of [
      `rediss://127.0.0.1:${port}/0?ssl_ca_certs=${certs.otherCa}`,
      // CERT_OPTIONAL verifies an offered certificate, as in Python, and a server always offers one.
      `rediss://127.0.0.1:${port}/0?ssl_cert_reqs=CERT_OPTIONAL&ssl_ca_certs=${certs.otherCa}`,
      // Without ssl_ca_certs Node trusts only the public CAs, which did not sign this one either.
      `rediss://127.0.0.1:${port}/0`,
    ]) {
      const broker = new RedisBroker({ url, visibilityTimeout: 5 });
      const backend = new RedisBackend({ url, resultExpires: 60 });
      const attempts = [broker.connect(), backend.connect()];
      const errors = await Promise.all(attempts.map((p) => p.then(() => null, (e: unknown) => e as Error)));
      await Promise.all([broker.close(), backend.close()]);
      const [brokerError, backendError] = errors;
      expect(brokerError, url).toBeInstanceOf(ConnectionError);
      expect(backendError, url).toBeInstanceOf(ConnectionError);
      expect(brokerError!.message).toMatch(
        new RegExp(`^cannot reach Redis at 127\\.0\\.0\\.1:${port}: TLS certificate rejected: .*; ssl_ca_certs must name`),
      );
      expect(backendError!.message).toMatch(
        new RegExp(`^Redis result backend at 127\\.0\\.0\\.1:${port} is unreachable: TLS certificate rejected: `),
      );
      for (const err of errors) expect(err!.message).not.toContain('\n');
    }
  });
});
