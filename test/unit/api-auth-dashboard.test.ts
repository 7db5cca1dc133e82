/**
 * Refusals to the dashboard's pages (`X-Celerity-Client: dashboard`) carry no Basic challenge, which would make the
 * browser show its own password dialog over the page's login form; every other client still gets one.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ApiInstance } from '../../src/api/context.js';
import { authFixture, basic, type Fixture } from './api-auth-fixture.js';

const PAGE = { 'x-celerity-client': 'dashboard' };
let f: Fixture;
let api: ApiInstance;
beforeAll(async () => {
  f = await authFixture();
  api = await f.build(f.creds, { loopback: false });
});
afterAll(() => f?.closeAll());

const challenge = (res: { headers: Record<string, unknown> }) => String(res.headers['www-authenticate'] ?? '');

describe('401 challenge for the dashboard', () => {
  it('is Bearer only for a request from the dashboard, Basic and Bearer for any other', async () => {
    const page = await api.inject({ method: 'GET', url: '/api/v1/things', headers: PAGE });
    expect(page.statusCode).toBe(401);
    expect(challenge(page)).toBe('Bearer realm="celerity"');
    expect(challenge(page)).not.toMatch(/basic/i);
    const other = await api.inject({ method: 'GET', url: '/api/v1/things' });
    expect(other.statusCode).toBe(401);
    expect(challenge(other)).toMatch(/^Basic realm="celerity"/);
    // A browser's EventSource cannot add the header, but asks for an event stream.
    const stream = await api.inject({ method: 'GET', url: '/api/v1/things', headers: { accept: 'text/event-stream' } });
    expect(stream.statusCode).toBe(401);
    expect(challenge(stream)).toBe('Bearer realm="celerity"');
  });

  it('holds for every kind of refusal: wrong password, unknown token, expired session, failed login form', async () => {
    const refusals = [
      { method: 'GET', url: '/api/v1/things', headers: { ...PAGE, ...basic('alice', 'wrong') } },
      { method: 'GET', url: '/api/v1/things', headers: { ...PAGE, authorization: 'Bearer nope' } },
      { method: 'GET', url: '/api/v1/things', headers: { ...PAGE, cookie: 'celerity_session=gone' } },
      { method: 'POST', url: '/api/v1/session', headers: { ...PAGE, 'content-type': 'application/json' }, payload: JSON.stringify({ user: 'alice', password: 'wrong' }) },
    ] as const;
    for (const r of refusals) {
      const res = await api.inject({ method: r.method, url: r.url, headers: { ...r.headers }, ...('payload' in r ? { payload: r.payload } : {}) });
      expect(res.statusCode, `${r.method} ${JSON.stringify(r.headers)}`).toBe(401);
      expect(challenge(res)).not.toMatch(/basic/i);
      expect(String(res.headers['content-type'])).toMatch(/^application\/problem\+json/);
    }
  });

  it('takes the header in any case and with spaces around it, and nothing else for it', async () => {
    const loose = await api.inject({ method: 'GET', url: '/api/v1/things', headers: { 'x-celerity-client': ' Dashboard ' } });
    expect(challenge(loose)).not.toMatch(/basic/i);
    const cli = await api.inject({ method: 'GET', url: '/api/v1/things', headers: { 'x-celerity-client': 'cli' } });
    expect(challenge(cli)).toMatch(/basic/i);
  });
});
