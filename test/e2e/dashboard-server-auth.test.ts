/**
 * The dashboard's server behind credentials: the stream and its routes ask what every GET and POST of the REST API
 * asks (401 without credentials, read-only callers read only, a session's changes carry its CSRF token), with the
 * API's own session store, while the pages, which hold no data, load for anyone.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateToken, hashPassword, hashToken, parseCredentials } from '../../src/api/auth.js';
import type { ApiInstance } from '../../src/api/context.js';
import { registerDashboard } from '../../src/dashboard/index.js';
import { startApiHarness, type ApiHarness } from '../api-harness.js';
import { openStream } from './dashboard-server-sse.js';

const PASSWORD = 'dashboard secret';
const roToken = generateToken();
const PAGE = { 'x-celerity-client': 'dashboard' };
let h: ApiHarness;
let front: ApiInstance;
let base: string;

beforeAll(async () => {
  const credentials = parseCredentials({ apiUsers: [`alice:${await hashPassword(PASSWORD)}`], apiTokens: [`${hashToken(roToken)}:ro`] });
  h = await startApiHarness({
    credentials,
    loopback: false,
    settings: { beatSchedule: { nightly: { task: 'x.y', schedule: { every: 60 } } } },
    extend: (api, ctx, dir) => {
      const assets = path.join(dir, 'pages');
      mkdirSync(assets, { recursive: true });
      writeFileSync(path.join(assets, 'index.html'), '<!doctype html><h1>Login</h1>');
      registerDashboard(api, ctx, { assets });
    },
  });
  await h.app.schedules.syncConfig();
  front = h.api;
  await front.listen({ host: '127.0.0.1', port: 0 });
  const address = front.server.address();
  base = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
});

afterAll(async () => {
  await h?.close();
});

const jsonOf = (res: Response): Promise<any> => res.json();

/** Logs in as the page does; the session cookie and the CSRF token. */
async function login(): Promise<{ cookie: string; csrf: string }> {
  const res = await fetch(`${base}/api/v1/session`, { method: 'POST', headers: { ...PAGE, 'content-type': 'application/json' }, body: JSON.stringify({ user: 'alice', password: PASSWORD }) });
  expect(res.status).toBe(200);
  const cookie = res.headers.get('set-cookie')!.split(';')[0]!;
  return { cookie, csrf: (await jsonOf(res)).csrfToken };
}

describe('the dashboard behind credentials', () => {
  it('refuses the stream, the charts and the schedules to an anonymous caller, with a Basic challenge unless the page asks', async () => {
    for (const url of ['/api/v1/stream', '/api/v1/stats', '/api/v1/schedules']) {
      const res = await fetch(`${base}${url}`);
      expect(res.status, url).toBe(401);
      expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
      expect(res.headers.get('www-authenticate')).toMatch(/^Basic /);
      const page = await fetch(`${base}${url}`, { headers: PAGE });
      expect(page.status, url).toBe(401);
      expect(page.headers.get('www-authenticate')).not.toMatch(/basic/i);
    }
    expect((await fetch(`${base}/api/v1/schedules/nightly/pause`, { method: 'POST' })).status).toBe(401);
    expect((await h.app.schedules.get('nightly'))!.paused).toBe(false);
  });

  it('loads the pages for anyone: the login form is one of them', async () => {
    for (const route of ['/', '/login', '/tasks']) {
      const res = await fetch(`${base}${route}`);
      expect(res.status, route).toBe(200);
      expect(await res.text()).toContain('<h1>Login</h1>');
    }
  });

  it('streams to a read-only token, saying so in hello, and refuses it a change', async () => {
    const s = await openStream(`${base}/api/v1/stream`, { authorization: `Bearer ${roToken}` });
    try {
      expect(s.status).toBe(200);
      const hello = await s.next((e) => e.event === 'hello', 'hello');
      expect(hello.data).toMatchObject({ user: `token:${hashToken(roToken).slice('sha256$'.length, 'sha256$'.length + 8)}`, readOnly: true });
    } finally {
      s.close();
    }
    const res = await fetch(`${base}/api/v1/schedules/nightly/pause`, { method: 'POST', headers: { authorization: `Bearer ${roToken}` } });
    expect(res.status).toBe(403);
    expect((await jsonOf(res)).detail).toMatch(/read-only/);
    expect((await h.app.schedules.get('nightly'))!.paused).toBe(false);
  });

  it('streams to a logged-in session, and lets it change things only with its CSRF token', async () => {
    const { cookie, csrf } = await login();
    const s = await openStream(`${base}/api/v1/stream`, { cookie, ...PAGE });
    try {
      expect((await s.next((e) => e.event === 'hello', 'hello')).data).toMatchObject({ user: 'alice', readOnly: false });
    } finally {
      s.close();
    }
    const without = await fetch(`${base}/api/v1/schedules/nightly/pause`, { method: 'POST', headers: { cookie, ...PAGE } });
    expect(without.status).toBe(403);
    expect((await jsonOf(without)).detail).toMatch(/X-CSRF-Token/);
    const foreign = await fetch(`${base}/api/v1/schedules/nightly/pause`, { method: 'POST', headers: { cookie, ...PAGE, 'x-csrf-token': csrf, origin: 'http://evil.example' } });
    expect(foreign.status).toBe(403);
    expect((await h.app.schedules.get('nightly'))!.paused).toBe(false);
    const ok = await fetch(`${base}/api/v1/schedules/nightly/pause`, { method: 'POST', headers: { cookie, ...PAGE, 'x-csrf-token': csrf } });
    expect(ok.status).toBe(200);
    expect((await jsonOf(ok)).paused).toBe(true);
    expect((await h.app.schedules.get('nightly'))!.paused).toBe(true);
  });

  it('ends the session for the dashboard too when the page logs out', async () => {
    const { cookie, csrf } = await login();
    expect((await fetch(`${base}/api/v1/stats`, { headers: { cookie } })).status).toBe(200);
    expect((await fetch(`${base}/api/v1/session`, { method: 'DELETE', headers: { cookie, 'x-csrf-token': csrf } })).status).toBe(204);
    const after = await fetch(`${base}/api/v1/stats`, { headers: { cookie, ...PAGE } });
    expect(after.status).toBe(401);
    expect(after.headers.get('set-cookie')).toMatch(/^celerity_session=;/);
  });
});
