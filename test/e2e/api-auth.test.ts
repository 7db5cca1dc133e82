/**
 * Auth on the real REST API: the route list is read from the built server itself (so a route added later is
 * covered without touching this file), and for every route that changes something an anonymous caller gets 401, a
 * read-only caller 403 and a read-write caller anything but those; every GET route answers a read-only caller and
 * refuses an anonymous one, except the open health probes. Then the built `celerity api` command: it will not
 * listen on 0.0.0.0 without credentials, and with a token from CELERITY_API_TOKENS it serves only with that token.
 */
import type { ChildProcess } from 'node:child_process';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { generateToken, hashPassword, hashToken, parseCredentials, type Credentials } from '../../src/api/auth.js';
import { startApiHarness, type ApiHarness } from '../api-harness.js';
import { tempDir } from '../helpers.js';
import { cli, exited, watchCli } from './worker-process.js';

const READ = new Set(['GET', 'HEAD']);
const OPEN = new Set(['/healthz', '/readyz']);
const SESSION = '/api/v1/session';
const rwToken = generateToken();
const roToken = generateToken();
const PASSWORD = 'a read-only password';
let credentials: Credentials;
let h: ApiHarness;

beforeAll(async () => {
  credentials = parseCredentials({ apiUsers: [`viewer:${await hashPassword(PASSWORD)}:ro`], apiTokens: [hashToken(rwToken), `${hashToken(roToken)}:ro`] });
  h = await startApiHarness({ credentials });
});
afterAll(() => h?.close());

interface Route {
  method: string;
  url: string;
}

/**
 * Every method and path the server routes, from Fastify's own route tree (`printRoutes`), which holds the routes
 * the OpenAPI document hides too. Each line is a path segment under its parent, indented four columns per level.
 */
function routesOf(tree: string): Route[] {
  const routes: Route[] = [];
  const stack: string[] = [];
  for (const line of tree.split('\n')) {
    const m = /^((?:[│ ] {3})*)[└├]── (.*?)(?: \(([A-Z, ]+)\))?$/.exec(line);
    if (!m) continue;
    const depth = m[1]!.length / 4;
    const url = `${depth ? stack[depth - 1] : ''}${m[2]}`.replace(/^\/\//, '/');
    stack[depth] = url;
    stack.length = depth + 1;
    for (const method of m[3]?.split(', ') ?? []) routes.push({ method, url });
  }
  return routes;
}

/** A concrete URL for a route pattern; ids that match nothing are fine, auth answers before the handler looks. */
const concrete = (url: string) => url.replace(/:([A-Za-z]+)/g, (_, name: string) => (name === 'id' ? '4f6c8b0e-0000-4000-8000-000000000001' : `auth-test-${name}`));

async function send(route: Route, headers: Record<string, string>) {
  return h.api.inject({ method: route.method as 'GET', url: concrete(route.url), headers, ...(READ.has(route.method) || route.method === 'DELETE' ? {} : { payload: {} }) });
}

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

describe('every route of the REST API', () => {
  let routes: Route[];
  beforeAll(() => {
    routes = routesOf(h.api.printRoutes({ commonPrefix: false }));
  });

  it('the route list read from the server is complete: it holds every operation of the OpenAPI document', async () => {
    const doc = (await h.api.inject({ url: '/api/v1/openapi.json', headers: bearer(roToken) })).json();
    const documented = Object.entries(doc.paths as Record<string, Record<string, unknown>>).flatMap(([p, ops]) =>
      Object.keys(ops).map((op) => `${op.toUpperCase()} ${p.replace(/\{([^}]+)\}/g, ':$1')}`),
    );
    expect(documented.length).toBeGreaterThan(10);
    const listed = new Set(routes.map((r) => `${r.method} ${r.url}`));
    expect(documented.filter((op) => !listed.has(op))).toEqual([]);
    expect(routes.filter((r) => !READ.has(r.method)).length).toBeGreaterThan(5);
  });

  it('a route that changes something: anonymous 401, read-only 403, read-write not refused', async () => {
    const mutating = routes.filter((r) => !READ.has(r.method) && r.url !== SESSION);
    for (const route of mutating) {
      const name = `${route.method} ${route.url}`;
      const anonymous = await send(route, {});
      expect(anonymous.statusCode, name).toBe(401);
      expect(anonymous.headers['www-authenticate'], name).toContain('Basic realm="celerity"');
      expect(anonymous.headers['content-type'], name).toMatch(/^application\/problem\+json/);
      const readOnly = await send(route, bearer(roToken));
      expect(readOnly.statusCode, name).toBe(403);
      expect(readOnly.json().detail, name).toMatch(/is read-only/);
      const byPassword = await send(route, { authorization: `Basic ${Buffer.from(`viewer:${PASSWORD}`).toString('base64')}` });
      expect(byPassword.statusCode, name).toBe(403);
      const readWrite = await send(route, bearer(rwToken));
      expect([401, 403], `${name} answered ${readWrite.statusCode}: ${readWrite.body}`).not.toContain(readWrite.statusCode);
      expect(readWrite.statusCode, `${name}: ${readWrite.body}`).toBeLessThan(500);
    }
  });

  it('a read-write caller reaches the handler: the task it sends is accepted, the same request read-only is not', async () => {
    const body = { name: 'auth.probe', args: [1] };
    const refused = await h.api.inject({ method: 'POST', url: '/api/v1/tasks', headers: bearer(roToken), payload: body });
    expect(refused.statusCode).toBe(403);
    const sent = await h.api.inject({ method: 'POST', url: '/api/v1/tasks', headers: bearer(rwToken), payload: body });
    expect(sent.statusCode, sent.body).toBe(202);
    expect(sent.json()).toMatchObject({ id: expect.any(String), state: 'PENDING' });
  });

  it('a route that reads: served to a read-only caller, refused to an anonymous one (but the health probes)', async () => {
    for (const route of routes.filter((r) => READ.has(r.method))) {
      const name = `${route.method} ${route.url}`;
      const readOnly = await send(route, bearer(roToken));
      expect([401, 403], `${name} answered ${readOnly.statusCode}: ${readOnly.body}`).not.toContain(readOnly.statusCode);
      expect(readOnly.statusCode, `${name}: ${readOnly.body}`).toBeLessThan(500);
      const anonymous = await send(route, {});
      if (OPEN.has(route.url)) expect([401, 403], name).not.toContain(anonymous.statusCode);
      else expect(anonymous.statusCode, name).toBe(401);
    }
  });

  it('the session routes: a read-only user may log in and out, an anonymous caller gets 401', async () => {
    expect(routes.filter((r) => r.url === SESSION).map((r) => r.method).sort()).toEqual(['DELETE', 'GET', 'HEAD', 'POST']);
    expect((await h.api.inject({ method: 'POST', url: SESSION })).statusCode).toBe(401);
    expect((await h.api.inject({ method: 'DELETE', url: SESSION })).statusCode).toBe(401);
    const login = await h.api.inject({ method: 'POST', url: SESSION, payload: { user: 'viewer', password: PASSWORD } });
    expect(login.statusCode).toBe(200);
    const cookie = `celerity_session=${login.cookies[0]!.value}`;
    const { csrfToken } = login.json();
    expect((await h.api.inject({ url: '/api/v1/tasks', headers: { cookie } })).statusCode).toBe(200);
    expect((await h.api.inject({ method: 'POST', url: '/api/v1/tasks', headers: { cookie, 'x-csrf-token': csrfToken }, payload: { task: 'x' } })).statusCode).toBe(403);
    expect((await h.api.inject({ method: 'DELETE', url: SESSION, headers: { cookie, 'x-csrf-token': csrfToken } })).statusCode).toBe(204);
    expect((await h.api.inject({ url: '/api/v1/tasks', headers: { cookie } })).statusCode).toBe(401);
  });
});

describe('celerity api (the built command)', () => {
  let tmp: ReturnType<typeof tempDir>;
  let env: NodeJS.ProcessEnv;
  const procs: ChildProcess[] = [];

  beforeAll(() => {
    tmp = tempDir();
    const url = `sqlite://${path.join(tmp.dir, 'cli.db')}`;
    const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('CELERITY_')));
    env = { ...clean, CELERITY_BROKER_URL: url, CELERITY_RESULT_BACKEND: url, CELERITY_HISTORY_URL: `sqlite://${path.join(tmp.dir, 'history.db')}` };
  });
  afterEach(async () => {
    for (const p of procs.splice(0)) {
      if (p.exitCode === null) {
        p.kill('SIGTERM');
        await exited(p);
      }
    }
  });
  afterAll(() => tmp?.cleanup());

  it('refuses to listen on 0.0.0.0 or :: without credentials, saying how to create them', () => {
    for (const host of ['0.0.0.0', '::']) {
      const r = spawnSync(process.execPath, [cli, 'api', '--host', host, '--port', '0'], { env, encoding: 'utf8', timeout: 30_000 });
      expect(r.status, r.stderr).toBe(78);
      expect(r.stdout).toBe('');
      const err = r.stderr.trim();
      expect(err.split('\n')).toHaveLength(1);
      expect(err).toMatch(new RegExp(`^celerity: error: invalid setting host="${host}": expected a loopback address`));
      for (const text of ['CELERITY_API_TOKENS', 'celerity api hash-token', 'CELERITY_API_USERS', 'celerity api hash-password']) expect(err).toContain(text);
    }
  });

  it('with a token in CELERITY_API_TOKENS it listens on 0.0.0.0 and serves only requests carrying it', async () => {
    const token = generateToken();
    const served = watchCli(['api', '--host', '0.0.0.0', '--port', '0'], { ...env, CELERITY_API_TOKENS: `${hashToken(token)},${hashToken(generateToken())}:ro` }, (p) => procs.push(p));
    const stopped = exited(served.proc).then((code) => {
      throw new Error(`celerity api exited with ${code} before listening`);
    });
    const line = await Promise.race([served.next((l) => l.includes('listening on')), stopped]);
    stopped.catch(() => undefined);
    const port = Number(/:(\d+)$/.exec(line)![1]);
    const base = `http://127.0.0.1:${port}`;
    const anonymous = await fetch(`${base}/api/v1/tasks`);
    expect(anonymous.status).toBe(401);
    expect(anonymous.headers.get('www-authenticate')).toContain('Bearer');
    expect((await fetch(`${base}/api/v1/tasks`, { headers: { authorization: `Bearer ${generateToken()}` } })).status).toBe(401);
    expect((await fetch(`${base}/api/v1/tasks`, { headers: bearer(token) })).status).toBe(200);
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    served.proc.kill('SIGTERM');
    expect(await exited(served.proc)).toBe(0);
  });

  it('celerity api hash-password and hash-token print entries the server accepts, reading the password from stdin', () => {
    const pw = spawnSync(process.execPath, [cli, 'api', 'hash-password', '--user', 'ops', '--read-only'], { env, input: 'a long enough password\n', encoding: 'utf8', timeout: 30_000 });
    expect(pw.status, pw.stderr).toBe(0);
    expect(pw.stdout).toMatch(/^ops:scrypt\$32768\$8\$1\$\S+:ro\n$/);
    expect(pw.stdout + pw.stderr).not.toContain('a long enough password');
    const tk = spawnSync(process.execPath, [cli, 'api', 'hash-token'], { env, encoding: 'utf8', timeout: 30_000 });
    expect(tk.status, tk.stderr).toBe(0);
    const [, token, entry] = /^token: (cel_\S+)\napiTokens entry: (sha256\$[0-9a-f]{64})\n$/.exec(tk.stdout)!;
    const creds = parseCredentials({ apiUsers: [pw.stdout.trim()], apiTokens: [entry!] });
    expect(creds.users.get('ops')?.readOnly).toBe(true);
    expect(creds.tokens.get(hashToken(token!).slice('sha256$'.length))?.readOnly).toBe(false);
  });

  it('a plain-text token in CELERITY_API_TOKENS stops the command with how to hash it, never echoing it', () => {
    const token = generateToken();
    const r = spawnSync(process.execPath, [cli, 'api', '--port', '0'], { env: { ...env, CELERITY_API_TOKENS: token }, encoding: 'utf8', timeout: 30_000 });
    expect(r.status, r.stderr).toBe(78);
    expect(r.stderr).toMatch(/^celerity: error: invalid setting apiTokens\[0\]="\*\*\*": expected sha256\$/);
    expect(r.stderr).toContain('celerity api hash-token --stdin');
    expect(r.stderr).not.toContain(token);
  });
});
