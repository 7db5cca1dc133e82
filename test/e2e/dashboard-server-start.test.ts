/**
 * startDashboardServer, which `celerity dashboard` runs: the app's own settings, a history store, a monitor, the
 * REST API and the dashboard on one listening port; closing ends the streams and everything under them.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigurationError } from '../../src/errors/index.js';
import { startDashboardServer } from '../../src/dashboard/index.js';
import { Celerity } from '../../src/index.js';
import { tempDir } from '../helpers.js';
import { openStream } from './dashboard-server-sse.js';

const tmp = tempDir('celerity-dashboard-start-');
const url = `sqlite://${path.join(tmp.dir, 'celerity.db')}`;
const app = new Celerity('dashboard-start', { broker: url, backend: url, loglevel: 'silent', logFormat: 'json' }, {});
afterAll(async () => {
  await app.close();
  tmp.cleanup();
});

describe('startDashboardServer', () => {
  it('serves the pages, the stream and the REST API on one port, and closes them all', async () => {
    const assets = path.join(tmp.dir, 'pages');
    mkdirSync(assets, { recursive: true });
    writeFileSync(path.join(assets, 'index.html'), '<h1>Tasks</h1>');
    const server = await startDashboardServer({ app, host: '127.0.0.1', port: 0, historyUrl: `sqlite://${path.join(tmp.dir, 'history.db')}`, dashboard: { assets } });
    let closed = false;
    try {
      expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      expect(await (await fetch(`${server.url}/tasks`)).text()).toBe('<h1>Tasks</h1>');
      expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
      expect((await fetch(`${server.url}/api/v1/tasks`)).status).toBe(200);
      // A HEAD would hold a stream open with nothing to read: the stream takes GET only.
      expect((await fetch(`${server.url}/api/v1/stream`, { method: 'HEAD' })).status).toBe(405);
      const s = await openStream(`${server.url}/api/v1/stream`);
      expect((await s.next(() => true, 'hello')).data).toMatchObject({ user: 'local', readOnly: false });
      await server.close();
      closed = true;
      await s.ended;
      await expect(fetch(`${server.url}/healthz`)).rejects.toThrow();
    } finally {
      if (!closed) await server.close();
    }
  });

  it('refuses to listen beyond loopback without credentials, saying how to create them', async () => {
    const err = await startDashboardServer({ app, host: '0.0.0.0', port: 0 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigurationError);
    expect((err as Error).message).toMatch(/hash-token/);
  });
});
