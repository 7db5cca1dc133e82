/**
 * amqps:// against a RabbitMQ TLS listener (a broker node of the test's own, with a certificate authority and
 * server certificate made for the test): tasks run over TLS when the CA is given, and an unverifiable server is
 * refused with one clear line unless verification is turned off.
 */
import { execFileSync } from 'node:child_process';
import { chownSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AmqpBroker } from '../../src/broker/amqp/index.js';
import { ConnectionError } from '../../src/errors/index.js';
import { Celerity } from '../../src/index.js';
import { rabbitNodeUnavailable, startRabbitNode, type RabbitNode } from '../rabbit-node.js';
import { pingRedis, requireService } from '../services.js';

const REDIS = 'redis://127.0.0.1:6379/1';
const ready = await requireService('a private RabbitMQ node with openssl, and Redis', async () => {
  const why = rabbitNodeUnavailable();
  if (why) throw new Error(why);
  execFileSync('openssl', ['version']);
  await pingRedis(REDIS);
});
const TLS_PORT = 5679;

/** A CA and a certificate for 127.0.0.1/localhost signed by it, readable by the rabbitmq user. */
function makeCertificates(dir: string): { ca: string; cert: string; key: string } {
  const run = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  run('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', '/CN=celerity-test-ca', '-keyout', 'ca.key', '-out', 'ca.pem');
  run('req', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=localhost', '-keyout', 'server.key', '-out', 'server.csr');
  const ext = join(dir, 'ext.cnf');
  execFileSync('sh', ['-c', `printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\\n' > ${ext}`]);
  run('x509', '-req', '-in', 'server.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-days', '2', '-extfile', 'ext.cnf', '-out', 'server.pem');
  const uid = Number(execFileSync('id', ['-u', 'rabbitmq']).toString());
  const gid = Number(execFileSync('id', ['-g', 'rabbitmq']).toString());
  for (const f of ['', 'ca.pem', 'server.pem', 'server.key']) chownSync(join(dir, f), uid, gid);
  return { ca: join(dir, 'ca.pem'), cert: join(dir, 'server.pem'), key: join(dir, 'server.key') };
}

describe.skipIf(!ready.ok)(`amqps://${ready.ok ? '' : ` (skipped: ${ready.reason})`}`, () => {
  let node: RabbitNode;
  let dir: string;
  let ca: string;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'celerity-tls-'));
    const files = makeCertificates(dir);
    ca = files.ca;
    node = startRabbitNode('celerity-tls', 5678, [
      `listeners.ssl.default = 127.0.0.1:${TLS_PORT}`,
      `ssl_options.cacertfile = ${files.ca}`,
      `ssl_options.certfile = ${files.cert}`,
      `ssl_options.keyfile = ${files.key}`,
      'ssl_options.verify = verify_none',
      'ssl_options.fail_if_no_peer_cert = false',
      // guest may only log in over loopback, which a TLS connection to 127.0.0.1 is.
    ]);
  }, 90_000);
  afterAll(async () => {
    await node?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('runs tasks over TLS when the server certificate checks out against the given CA', async () => {
    const url = `amqps://guest:guest@127.0.0.1:${TLS_PORT}//?ssl_ca_certs=${encodeURIComponent(ca)}`;
    const app = new Celerity('tls', { broker: url, backend: REDIS, loglevel: 'silent' }, {});
    app.task('tls.echo', (x: string) => x);
    const worker = app.worker({ concurrency: 1, queues: ['tls'] });
    await worker.start();
    try {
      const r = await app.sendTask<string>('tls.echo', ['over tls'], { queue: 'tls' });
      expect(await r.get({ timeout: 10_000 })).toBe('over tls');
      expect(node.ctl('list_connections', 'ssl', 'ssl_protocol')).toMatch(/true\s+tlsv1\.[23]/);
    } finally {
      await worker.stop();
      await app.close();
    }
  });

  it('refuses a server it cannot verify, in one line, and connects with ssl_cert_reqs=CERT_NONE', async () => {
    const refused = new AmqpBroker({ url: `amqps://guest:guest@127.0.0.1:${TLS_PORT}//`, connectTimeoutMs: 3000 });
    const err = await refused.connect().catch((e: unknown) => e);
    await refused.close();
    expect(err).toBeInstanceOf(ConnectionError);
    expect((err as Error).message).toMatch(new RegExp(`^cannot reach RabbitMQ at 127\\.0\\.0\\.1:${TLS_PORT}: .*(self[- ]signed|certificate)`, 'i'));
    const unchecked = new AmqpBroker({ url: `amqps://guest:guest@127.0.0.1:${TLS_PORT}//?ssl_cert_reqs=CERT_NONE` });
    await unchecked.connect();
    expect(await unchecked.size('nothing-here')).toBe(0);
    await unchecked.close();
  });
});
