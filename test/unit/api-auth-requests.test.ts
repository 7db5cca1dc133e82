/**
 * Requests through the API's auth hook: Basic users and Bearer tokens on every method, read-only callers on GET and
 * on every method that changes something, anonymous callers, the open health probes, and loopback without
 * credentials.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { NO_CREDENTIALS } from '../../src/api/auth.js';
import { ALICE, BOB, METHODS, MUTATING, authFixture, basic, bearer, type Fixture } from './api-auth-fixture.js';

let fx: Fixture;
beforeAll(async () => {
  fx = await authFixture();
});
afterEach(() => fx.closeAll());
afterAll(() => fx?.closeAll());

const CHALLENGE = 'Basic realm="celerity", charset="UTF-8", Bearer realm="celerity"';

function expectProblem(res: { statusCode: number; headers: Record<string, unknown>; json(): unknown }, status: number, detail: RegExp): void {
  expect(res.statusCode).toBe(status);
  expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
  expect(res.json()).toMatchObject({ type: 'about:blank', status, detail: expect.stringMatching(detail) });
}

describe('with credentials configured', () => {
  it('an anonymous request gets 401 with a Basic and a Bearer challenge, on every method and from loopback too', async () => {
    const api = await fx.build();
    for (const method of METHODS) {
      const res = await api.inject({ method, url: '/api/v1/things', remoteAddress: '127.0.0.1' });
      expect(res.statusCode, method).toBe(401);
      expect(res.headers['www-authenticate']).toBe(CHALLENGE);
      if (method !== 'HEAD') expectProblem(res, 401, /^authentication required/);
    }
    // Unknown paths say nothing about what exists to a caller without credentials.
    expectProblem(await api.inject({ url: '/api/v1/nothing-here' }), 401, /authentication required/);
    expect((await api.inject({ url: '/api/v1/nothing-here', headers: bearer(fx.rwToken) })).statusCode).toBe(404);
  });

  it('a read-write user by Basic may use every method; request.caller says who', async () => {
    const api = await fx.build();
    for (const method of METHODS) {
      const res = await api.inject({ method, url: '/api/v1/things', headers: basic('alice', ALICE) });
      expect(res.statusCode, method).toBe(200);
      if (method !== 'HEAD') expect(res.json()).toEqual({ method, caller: { name: 'alice', readOnly: false, via: 'basic' } });
    }
  });

  it('a read-write token by Bearer may use every method', async () => {
    const api = await fx.build();
    const name = `token:${fx.creds.tokens.keys().next().value!.slice(0, 8)}`;
    for (const method of METHODS) {
      const res = await api.inject({ method, url: '/api/v1/things', headers: bearer(fx.rwToken) });
      expect(res.statusCode, method).toBe(200);
      if (method !== 'HEAD') expect(res.json()).toEqual({ method, caller: { name, readOnly: false, via: 'bearer' } });
    }
  });

  it('a read-only token reads (GET, HEAD) and gets 403 on POST, PUT, PATCH and DELETE', async () => {
    const api = await fx.build();
    for (const method of ['GET', 'HEAD'] as const) {
      expect((await api.inject({ method, url: '/api/v1/things', headers: bearer(fx.roToken) })).statusCode, method).toBe(200);
    }
    expect((await api.inject({ url: '/api/v1/things', headers: bearer(fx.roToken) })).json()).toMatchObject({ caller: { readOnly: true, via: 'bearer' } });
    for (const method of MUTATING) {
      const res = await api.inject({ method, url: '/api/v1/things', headers: bearer(fx.roToken), payload: {} });
      expectProblem(res, 403, new RegExp(`is read-only: ${method} needs a read-write user or token`));
    }
  });

  it('a read-only user by Basic reads and gets 403 on every method that changes something', async () => {
    const api = await fx.build();
    expect((await api.inject({ url: '/api/v1/things', headers: basic('bob', BOB) })).json()).toEqual({
      method: 'GET',
      caller: { name: 'bob', readOnly: true, via: 'basic' },
    });
    for (const method of MUTATING) {
      expectProblem(await api.inject({ method, url: '/api/v1/things', headers: basic('bob', BOB) }), 403, /^bob is read-only/);
    }
  });

  it('a wrong password, an unknown user, an unknown token and malformed headers get 401', async () => {
    const api = await fx.build();
    const cases: [Record<string, string>, RegExp][] = [
      [basic('alice', 'wrong'), /wrong user name or password/],
      [basic('alice', ALICE.toUpperCase()), /wrong user name or password/],
      [basic('mallory', ALICE), /wrong user name or password/],
      [basic('bob', ALICE), /wrong user name or password/],
      [{ authorization: 'Basic !!!' }, /malformed Basic credentials/],
      [{ authorization: `Basic ${Buffer.from('alice').toString('base64')}` }, /malformed Basic credentials/],
      [bearer('cel_unknown'), /unknown bearer token/],
      [bearer(fx.rwToken.slice(0, -1)), /unknown bearer token/],
      [{ authorization: 'Bearer' }, /unknown bearer token/],
      [{ authorization: `Digest username="alice"` }, /unsupported authorization scheme "digest"/],
    ];
    for (const [headers, detail] of cases) {
      const res = await api.inject({ method: 'POST', url: '/api/v1/things', headers });
      expectProblem(res, 401, detail);
      expect(res.headers['www-authenticate']).toBe(CHALLENGE);
    }
  });

  it('a bad Authorization header is refused even with a valid session cookie beside it', async () => {
    const api = await fx.build();
    const login = await api.inject({ method: 'POST', url: '/api/v1/session', headers: basic('alice', ALICE) });
    const cookie = `celerity_session=${login.cookies[0]!.value}`;
    expect((await api.inject({ url: '/api/v1/things', headers: { cookie } })).statusCode).toBe(200);
    expect((await api.inject({ url: '/api/v1/things', headers: { cookie, ...bearer('cel_nope') } })).statusCode).toBe(401);
  });

  it('/healthz and /readyz answer anyone, without a caller', async () => {
    const api = await fx.build();
    expect((await api.inject({ url: '/healthz' })).json()).toEqual({ ok: true, caller: null });
    expect((await api.inject({ url: '/readyz' })).statusCode).toBe(200);
    expect((await api.inject({ url: '/healthz', headers: bearer('cel_wrong') })).statusCode).toBe(200);
  });
});

describe('without credentials, on loopback', () => {
  it('every request is served as the local read-write caller', async () => {
    const api = await fx.build(NO_CREDENTIALS);
    for (const method of METHODS) {
      const res = await api.inject({ method, url: '/api/v1/things', headers: { host: '127.0.0.1:8080' } });
      expect(res.statusCode, method).toBe(200);
      if (method !== 'HEAD') expect(res.json()).toEqual({ method, caller: { name: 'local', readOnly: false, via: 'loopback' } });
    }
    expect((await api.inject({ url: '/api/v1/things', headers: { host: '[::1]:8080' } })).statusCode).toBe(200);
    expect((await api.inject({ method: 'POST', url: '/api/v1/things', headers: { host: 'localhost:8080', origin: 'http://localhost:8080' } })).statusCode).toBe(200);
  });

  it('a request naming another host (DNS rebinding) is refused', async () => {
    const api = await fx.build(NO_CREDENTIALS);
    const res = await api.inject({ url: '/api/v1/things', headers: { host: 'attacker.example:8080' } });
    expectProblem(res, 403, /only requests addressed to localhost, 127\.0\.0\.1 or \[::1\], not "attacker\.example:8080"/);
  });

  it('a page on another site may not change anything', async () => {
    const api = await fx.build(NO_CREDENTIALS);
    const cross = [{ origin: 'https://attacker.example' }, { origin: 'null' }, { origin: 'http://localhost:9999' }, { 'sec-fetch-site': 'cross-site' }];
    for (const headers of cross) {
      expectProblem(await api.inject({ method: 'DELETE', url: '/api/v1/things', headers: { host: 'localhost:8080', ...headers } }), 403, /another site/);
    }
    // Reading is harmless: the browser does not let the other site see the answer.
    expect((await api.inject({ url: '/api/v1/things', headers: { host: 'localhost:8080', origin: 'https://attacker.example' } })).statusCode).toBe(200);
  });

  it('the session routes describe the local caller', async () => {
    const api = await fx.build(NO_CREDENTIALS);
    const local = { user: 'local', readOnly: false, via: 'loopback', csrfToken: null };
    expect((await api.inject({ url: '/api/v1/session' })).json()).toEqual(local);
    const login = await api.inject({ method: 'POST', url: '/api/v1/session' });
    expect(login.json()).toEqual(local);
    expect(login.headers['set-cookie']).toBeUndefined();
  });
});
