/**
 * Browser sessions: logging in by Basic or a JSON body sets an HttpOnly, SameSite=Strict cookie; a cookie request
 * that changes something needs the session's CSRF token and no foreign Origin; logout and expiry end the session.
 * And failed password logins from one address are limited.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { ApiInstance } from '../../src/api/context.js';
import { ALICE, BOB, MUTATING, authFixture, basic, bearer, type Fixture } from './api-auth-fixture.js';

let fx: Fixture;
beforeAll(async () => {
  fx = await authFixture();
});
afterEach(() => fx.closeAll());
afterAll(() => fx?.closeAll());

interface Session {
  cookie: string;
  csrfToken: string;
}

async function login(api: ApiInstance, how: 'basic' | 'body' = 'basic', user = 'alice', password = ALICE): Promise<Session> {
  const res = await api.inject({
    method: 'POST',
    url: '/api/v1/session',
    ...(how === 'basic' ? { headers: basic(user, password) } : { payload: { user, password } }),
  });
  expect(res.statusCode).toBe(200);
  const body = res.json();
  expect(body).toEqual({ user, readOnly: user === 'bob', via: 'session', csrfToken: expect.stringMatching(/^[A-Za-z0-9_-]{43}$/) });
  const set = res.cookies.find((c) => c.name === 'celerity_session')!;
  return { cookie: `celerity_session=${set.value}`, csrfToken: body.csrfToken };
}

describe('cookie sessions', () => {
  it('a login by Basic sets an HttpOnly, SameSite=Strict cookie for the whole site that lasts 8 hours', async () => {
    const api = await fx.build();
    const res = await api.inject({ method: 'POST', url: '/api/v1/session', headers: basic('alice', ALICE) });
    expect(res.cookies).toEqual([{ name: 'celerity_session', value: expect.stringMatching(/^[A-Za-z0-9_-]{43}$/), path: '/', maxAge: 28800, httpOnly: true, sameSite: 'Strict' }]);
    // Over TLS, or behind a proxy that terminated it, the cookie is never sent in clear.
    const tls = await api.inject({ method: 'POST', url: '/api/v1/session', headers: { ...basic('alice', ALICE), 'x-forwarded-proto': 'https' } });
    expect(tls.cookies[0]).toMatchObject({ secure: true, httpOnly: true, sameSite: 'Strict' });
    expect(tls.cookies[0]!.value).not.toBe(res.cookies[0]!.value);
  });

  it('a login by JSON body works the same; GET /api/v1/session returns the caller and the same CSRF token', async () => {
    const api = await fx.build();
    const s = await login(api, 'body');
    const who = await api.inject({ url: '/api/v1/session', headers: { cookie: s.cookie } });
    expect(who.json()).toEqual({ user: 'alice', readOnly: false, via: 'session', csrfToken: s.csrfToken });
    expect((await api.inject({ url: '/api/v1/things', headers: { cookie: s.cookie } })).json()).toEqual({
      method: 'GET',
      caller: { name: 'alice', readOnly: false, via: 'session' },
    });
    // Callers by header have no session and no CSRF token.
    expect((await api.inject({ url: '/api/v1/session', headers: bearer(fx.roToken) })).json()).toMatchObject({ readOnly: true, via: 'bearer', csrfToken: null });
  });

  it('wrong or missing login credentials get 401 and no cookie; a malformed body 400', async () => {
    const api = await fx.build();
    for (const options of [{ headers: basic('alice', 'nope') }, { payload: { user: 'alice', password: 'nope' } }, { payload: { user: 'eve', password: ALICE } }, {}]) {
      const res = await api.inject({ method: 'POST', url: '/api/v1/session', ...options });
      expect(res.statusCode).toBe(401);
      expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(res.headers['set-cookie']).toBeUndefined();
    }
    expect((await api.inject({ method: 'POST', url: '/api/v1/session', payload: { user: 'alice' } })).statusCode).toBe(400);
    expect((await api.inject({ method: 'POST', url: '/api/v1/session', payload: { user: 'alice', password: ALICE, admin: true } })).statusCode).toBe(400);
    // A token is no login: a session comes from a password.
    expect((await api.inject({ method: 'POST', url: '/api/v1/session', headers: bearer(fx.rwToken) })).statusCode).toBe(401);
  });

  it('a cookie request that changes something needs the right X-CSRF-Token; reads do not', async () => {
    const api = await fx.build();
    const s = await login(api);
    for (const method of MUTATING) {
      const missing = await api.inject({ method, url: '/api/v1/things', headers: { cookie: s.cookie } });
      expect(missing.statusCode, method).toBe(403);
      expect(missing.json().detail).toMatch(/needs the X-CSRF-Token header/);
      const wrong = await api.inject({ method, url: '/api/v1/things', headers: { cookie: s.cookie, 'x-csrf-token': `${s.csrfToken.slice(0, -1)}${s.csrfToken.endsWith('A') ? 'B' : 'A'}` } });
      expect(wrong.statusCode, method).toBe(403);
      const right = await api.inject({ method, url: '/api/v1/things', headers: { cookie: s.cookie, 'x-csrf-token': s.csrfToken } });
      expect(right.json(), method).toEqual({ method, caller: { name: 'alice', readOnly: false, via: 'session' } });
    }
    // Another session's token is not this session's.
    const other = await login(api);
    expect((await api.inject({ method: 'POST', url: '/api/v1/things', headers: { cookie: s.cookie, 'x-csrf-token': other.csrfToken } })).statusCode).toBe(403);
    expect((await api.inject({ method: 'HEAD', url: '/api/v1/things', headers: { cookie: s.cookie } })).statusCode).toBe(200);
  });

  it('an Origin other than the Host is refused, even with the CSRF token; the same origin is served', async () => {
    const api = await fx.build();
    const s = await login(api);
    const headers = { cookie: s.cookie, 'x-csrf-token': s.csrfToken, host: 'celerity.internal:8080' };
    for (const origin of ['https://attacker.example', 'http://celerity.internal:9090', 'null']) {
      const res = await api.inject({ method: 'POST', url: '/api/v1/things', headers: { ...headers, origin } });
      expect(res.statusCode, origin).toBe(403);
      expect(res.json().detail).toMatch(/Origin of this request is not the site/);
    }
    expect((await api.inject({ method: 'POST', url: '/api/v1/things', headers: { ...headers, origin: 'http://celerity.internal:8080' } })).statusCode).toBe(200);
    // Logging in from another site is refused too (login CSRF).
    const foreign = await api.inject({ method: 'POST', url: '/api/v1/session', headers: { ...basic('alice', ALICE), origin: 'https://attacker.example' } });
    expect(foreign.statusCode).toBe(403);
    expect(foreign.headers['set-cookie']).toBeUndefined();
  });

  it('Basic and Bearer requests need no CSRF token', async () => {
    const api = await fx.build();
    expect((await api.inject({ method: 'DELETE', url: '/api/v1/things', headers: basic('alice', ALICE) })).statusCode).toBe(200);
    expect((await api.inject({ method: 'PATCH', url: '/api/v1/things', headers: bearer(fx.rwToken), payload: {} })).statusCode).toBe(200);
  });

  it('a read-only session reads, gets 403 on changes even with its CSRF token, and may log out', async () => {
    const api = await fx.build();
    const s = await login(api, 'body', 'bob', BOB);
    expect((await api.inject({ url: '/api/v1/things', headers: { cookie: s.cookie } })).statusCode).toBe(200);
    for (const method of MUTATING) {
      const res = await api.inject({ method, url: '/api/v1/things', headers: { cookie: s.cookie, 'x-csrf-token': s.csrfToken } });
      expect(res.statusCode, method).toBe(403);
      expect(res.json().detail).toMatch(/^bob is read-only/);
    }
    const out = await api.inject({ method: 'DELETE', url: '/api/v1/session', headers: { cookie: s.cookie, 'x-csrf-token': s.csrfToken } });
    expect(out.statusCode).toBe(204);
  });

  it('logout ends the session and clears the cookie; the next request with it gets 401', async () => {
    const api = await fx.build();
    const s = await login(api);
    const kept = await login(api);
    expect((await api.inject({ method: 'DELETE', url: '/api/v1/session', headers: { cookie: s.cookie } })).statusCode).toBe(403);
    const out = await api.inject({ method: 'DELETE', url: '/api/v1/session', headers: { cookie: s.cookie, 'x-csrf-token': s.csrfToken } });
    expect(out.statusCode).toBe(204);
    expect(out.cookies[0]).toMatchObject({ name: 'celerity_session', value: '', maxAge: 0 });
    const after = await api.inject({ url: '/api/v1/things', headers: { cookie: s.cookie } });
    expect(after.statusCode).toBe(401);
    expect(after.json().detail).toMatch(/expired or was logged out/);
    expect((await api.inject({ url: '/api/v1/things', headers: { cookie: kept.cookie } })).statusCode).toBe(200);
    expect((await api.inject({ url: '/api/v1/things', headers: { cookie: 'celerity_session=made-up' } })).statusCode).toBe(401);
  });

  it('a session expires 8 hours after login', async () => {
    let now = 1_000_000;
    const api = await fx.build(undefined, { now: () => now });
    const s = await login(api);
    now += 8 * 3600_000 - 1;
    expect((await api.inject({ url: '/api/v1/things', headers: { cookie: s.cookie } })).statusCode).toBe(200);
    now += 1;
    expect((await api.inject({ url: '/api/v1/things', headers: { cookie: s.cookie } })).statusCode).toBe(401);
  });
});

describe('failed logins', () => {
  it('after 10 failures in a minute an address gets 429, even with the right password; others are unaffected', async () => {
    let now = 5_000_000;
    const api = await fx.build(undefined, { now: () => now });
    const from = (remoteAddress: string, headers: Record<string, string>) => api.inject({ url: '/api/v1/things', remoteAddress, headers });
    for (let i = 0; i < 10; i++) expect((await from('192.0.2.7', basic('alice', `guess-${i}`))).statusCode).toBe(401);
    const blocked = await from('192.0.2.7', basic('alice', ALICE));
    expect(blocked.statusCode).toBe(429);
    expect(blocked.headers['retry-after']).toBe('60');
    expect(blocked.json()).toMatchObject({ status: 429, detail: 'too many failed logins from this address; try again in 60 s' });
    // The session login counts against the same limit.
    expect((await api.inject({ method: 'POST', url: '/api/v1/session', remoteAddress: '192.0.2.7', payload: { user: 'alice', password: ALICE } })).statusCode).toBe(429);
    expect((await from('192.0.2.8', basic('alice', ALICE))).statusCode).toBe(200);
    // Tokens are not guessable and are not limited.
    expect((await from('192.0.2.7', bearer(fx.rwToken))).statusCode).toBe(200);
    now += 60_000;
    expect((await from('192.0.2.7', basic('alice', ALICE))).statusCode).toBe(200);
  });

  it('successful logins do not count toward the limit, and a page sending the same credentials in parallel is one attempt', async () => {
    const api = await fx.build(undefined, { maxLoginFailures: 2 });
    const parallel = await Promise.all(Array.from({ length: 12 }, () => api.inject({ url: '/api/v1/things', headers: basic('alice', ALICE) })));
    expect(parallel.map((r) => r.statusCode)).toEqual(Array(12).fill(200));
    expect((await api.inject({ url: '/api/v1/things', headers: basic('alice', 'x') })).statusCode).toBe(401);
    expect((await api.inject({ url: '/api/v1/things', headers: basic('alice', 'y') })).statusCode).toBe(401);
    expect((await api.inject({ url: '/api/v1/things', headers: basic('bob', BOB) })).statusCode).toBe(429);
    // A password verified minutes ago is no guess: it is served without another check.
    expect((await api.inject({ url: '/api/v1/things', headers: basic('alice', ALICE) })).statusCode).toBe(200);
  });

  it('distinct password checks beyond the limit at once are refused with 503, not queued', async () => {
    const api = await fx.build(undefined, { maxPasswordChecks: 1 });
    const [first, second] = await Promise.all([
      api.inject({ url: '/api/v1/things', headers: basic('alice', 'guess-1') }),
      api.inject({ url: '/api/v1/things', headers: basic('alice', 'guess-2') }),
    ]);
    expect(first.statusCode).toBe(401);
    expect(second.statusCode).toBe(503);
    expect(second.headers['retry-after']).toBe('1');
    expect(second.json().detail).toMatch(/too many password checks at once/);
    // Refused checks are no attempts: the right password still gets in afterwards.
    expect((await api.inject({ url: '/api/v1/things', headers: basic('alice', ALICE) })).statusCode).toBe(200);
  });

  it('an IPv6 client is counted by its /64', async () => {
    const api = await fx.build(undefined, { maxLoginFailures: 2 });
    const from = (remoteAddress: string, password: string) => api.inject({ url: '/api/v1/things', remoteAddress, headers: basic('bob', password) });
    expect((await from('2001:db8:1:2::1', 'x')).statusCode).toBe(401);
    expect((await from('2001:db8:1:2:ffff::7', 'y')).statusCode).toBe(401);
    expect((await from('2001:db8:1:2:abcd:1:2:3', BOB)).statusCode).toBe(429);
    expect((await from('2001:db8:1:3::1', BOB)).statusCode).toBe(200);
  });
});
