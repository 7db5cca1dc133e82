/**
 * Who may use the REST API and dashboard. Without credentials the API serves only on loopback (and refuses to bind
 * anywhere else); with credentials every request but the health probes needs a Basic user, a Bearer token or a
 * session cookie, whatever address it came from. Access is by method: GET and HEAD read, anything else changes
 * something and needs a read-write caller. Browser sessions are cookies a page's script cannot read, and a
 * request one sends that changes something must also carry the session's CSRF token, which another site cannot
 * know.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { isIP } from 'node:net';
import { z } from 'zod';
import { ConfigurationError } from '../errors/index.js';
import type { ApiInstance } from './context.js';
import { PROBLEM_CONTENT_TYPE, Problem } from './problem.js';
import { LoginLimiter, Passwords, Sessions, clientKey, type Caller } from './auth-stores.js';
import { hasCredentials, safeEqual, tokenDigest, type Credentials, type UserCredential } from './credentials.js';

export { generateToken, hashPassword, hashToken, parseCredentials, NO_CREDENTIALS, hasCredentials, type Credentials } from './credentials.js';

export type { Caller } from './auth-stores.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** Who sent the request; null only on the routes open to all (`/healthz`, `/readyz`, `config.open` routes). */
    caller: Caller | null;
  }
  interface FastifyContextConfig {
    /**
     * Served to anyone without authentication: only for GET routes that hold no data, such as a web UI's built
     * pages (its login form is one of them). Everything they show comes from authenticated routes.
     */
    open?: boolean;
  }
}

export const SESSION_PATH = '/api/v1/session';
export const SESSION_COOKIE = 'celerity_session';
/** Probes of orchestrators, which carry no credentials and reveal nothing. */
const OPEN_ROUTES = new Set(['/healthz', '/readyz']);
const READ_METHODS = new Set(['GET', 'HEAD']);
const CHALLENGE = 'Basic realm="celerity", charset="UTF-8", Bearer realm="celerity"';

export interface AuthOptions {
  /** The server listens on loopback only: without credentials, requests are then allowed. */
  loopback: boolean;
  /** Session lifetime in milliseconds (default 8 h). */
  sessionTtl?: number;
  /** Failed password logins per client address per minute before 429 (default 10). */
  maxLoginFailures?: number;
  /** Distinct password checks (scrypt) running at once before more are refused with 503 (default 8). */
  maxPasswordChecks?: number;
  /** The clock, for expiry. */
  now?: () => number;
}

/** `localhost`, 127.0.0.0/8 or ::1 (also as `[::1]` or `::ffff:127.x.y.z`): reachable from this machine only. */
export function isLoopbackHost(host: string): boolean {
  const h = host.trim().toLowerCase().replace(/^\[(.*)\]$/, '$1');
  if (h === 'localhost') return true;
  const family = isIP(h);
  if (family === 4) return h.startsWith('127.');
  if (family !== 6) return false;
  const canonical = new URL(`http://[${h}]/`).hostname;
  return canonical === '[::1]' || /^\[::ffff:7f[0-9a-f]{2}:[0-9a-f]{1,4}\]$/.test(canonical);
}

function exposedError(key: string, value: unknown): ConfigurationError {
  return new ConfigurationError(
    key,
    value,
    `${key === 'host' ? 'a loopback address (127.0.0.1, ::1 or localhost)' : 'true'} while no API credentials are configured, since anyone who can reach ` +
      'another address could then read and change tasks. To listen there, configure credentials: apiTokens ' +
      '(CELERITY_API_TOKENS) with the sha256$... line printed by `celerity api hash-token`, or apiUsers (CELERITY_API_USERS) ' +
      'with the name:scrypt$... line printed by `celerity api hash-password --user <name>` (add :ro for read-only)',
  );
}

/** Throws a ConfigurationError explaining how to create credentials when `host` is not loopback and there are none. */
export function assertBindAllowed(host: string, creds: Credentials): void {
  if (!hasCredentials(creds) && !isLoopbackHost(host)) throw exposedError('host', host);
}

function refuse(request: FastifyRequest, reply: FastifyReply, status: number, detail: string, headers: Record<string, string> = {}): FastifyReply {
  const problem = new Problem(status, detail, { headers });
  return reply.code(status).headers(problem.headers).type(PROBLEM_CONTENT_TYPE).send(problem.body(request.url.split('?')[0]));
}

/**
 * The challenge for the dashboard's pages (`X-Celerity-Client: dashboard`): they log in with their own form, and a
 * Basic challenge would make the browser put up its password dialog in front of it.
 */
const DASHBOARD_CHALLENGE = 'Bearer realm="celerity"';

function fromDashboard(request: FastifyRequest): boolean {
  const client = request.headers['x-celerity-client'];
  if (typeof client === 'string' && client.trim().toLowerCase() === 'dashboard') return true;
  // A browser's EventSource can send no header of its own, but always asks for an event stream; a password dialog
  // is never the answer to one.
  const accept = request.headers.accept;
  return typeof accept === 'string' && accept.includes('text/event-stream');
}

const unauthorized = (request: FastifyRequest, reply: FastifyReply, detail: string) =>
  refuse(request, reply, 401, detail, { 'www-authenticate': fromDashboard(request) ? DASHBOARD_CHALLENGE : CHALLENGE });

function cookie(request: FastifyRequest, name: string): string | undefined {
  const header = request.headers.cookie;
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

function sessionCookie(request: FastifyRequest, value: string, maxAge: number): string {
  const tls = request.protocol === 'https' || String(request.headers['x-forwarded-proto'] ?? '').split(',')[0]?.trim().toLowerCase() === 'https';
  return `${SESSION_COOKIE}=${value}; Path=/; Max-Age=${maxAge}; HttpOnly; SameSite=Strict${tls ? '; Secure' : ''}`;
}

/** A Host header as host[:port], lowercase, in the form URL gives it, to compare with an Origin's. */
function authority(header: string): string | undefined {
  try {
    return new URL(`http://${header}/`).host.toLowerCase();
  } catch {
    return undefined;
  }
}

/** An Origin header naming another site than the Host the request was sent to (a cross-site request), or `null`. */
function foreignOrigin(request: FastifyRequest): boolean {
  const origin = request.headers.origin;
  if (origin === undefined) return false;
  let originHost: string;
  try {
    originHost = new URL(origin).host.toLowerCase();
  } catch {
    return true;
  }
  return originHost !== authority(request.host);
}

function basicCredentials(value: string): { name: string; password: string } | undefined {
  const decoded = Buffer.from(value.trim(), 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon <= 0) return undefined;
  return { name: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}

const SessionInfo = z.object({ user: z.string(), readOnly: z.boolean(), via: z.enum(['basic', 'bearer', 'session', 'loopback']), csrfToken: z.string().nullable() });
const LoginBody = z.object({ user: z.string().min(1).max(256), password: z.string().min(1).max(1024) }).strict();

/**
 * The onRequest hook that authenticates and authorises every route but `/healthz` and `/readyz` (call it before
 * routes are declared), and the session routes `POST|GET|DELETE /api/v1/session` for browsers. Sets
 * `request.caller`. Refuses with problem+json: 401 (with a Basic and Bearer challenge; Bearer only to the
 * dashboard's pages) without valid credentials, 403 for a read-only caller on POST/PUT/PATCH/DELETE or a cookie request without its CSRF token or
 * from another origin, 429 after too many failed password logins from one address.
 */
export function registerAuth(api: ApiInstance, creds: Credentials, options: AuthOptions): void {
  const configured = hasCredentials(creds);
  if (!configured && !options.loopback) throw exposedError('loopback', false);
  const now = options.now ?? Date.now;
  const ttl = options.sessionTtl ?? 8 * 3600_000;
  const sessions = new Sessions(ttl, now);
  const limiter = new LoginLimiter(options.maxLoginFailures ?? 10, now);
  const passwords = new Passwords(creds.users, now, options.maxPasswordChecks ?? 8);
  const LOCAL: Caller = { name: 'local', readOnly: false, via: 'loopback' };

  api.decorateRequest('caller', null);

  /**
   * A password check under the per-client limit; a reply already sent when it returns undefined. The same name and
   * password sent by parallel requests (a page loading) are one attempt and one check.
   */
  async function login(request: FastifyRequest, reply: FastifyReply, name: string, password: string): Promise<UserCredential | undefined> {
    const ticket = passwords.ticket(name, password);
    let user = passwords.remembered(ticket);
    if (!user) {
      const joined = passwords.underWay(ticket);
      if (joined) {
        user = await joined;
      } else {
        const client = clientKey(request.ip);
        const wait = limiter.attempt(client);
        if (wait) {
          refuse(request, reply, 429, `too many failed logins from this address; try again in ${wait} s`, { 'retry-after': String(wait) });
          return undefined;
        }
        const check = name.length <= 256 && password.length <= 1024 ? passwords.start(ticket, name, password) : Promise.resolve(undefined);
        if (!check) {
          limiter.release(client);
          refuse(request, reply, 503, 'too many password checks at once; try again in a second, or use a session or a token', { 'retry-after': '1' });
          return undefined;
        }
        user = await check;
        if (user) limiter.release(client);
      }
    }
    if (!user) {
      unauthorized(request, reply, 'wrong user name or password');
      return undefined;
    }
    return user;
  }

  /** Without credentials: only requests that reached loopback under a loopback name, and none from another site. */
  function loopbackRefusal(request: FastifyRequest): string | undefined {
    const host = authority(request.host);
    // A page on another site can resolve its own name to 127.0.0.1 (DNS rebinding); it cannot make the Host header say localhost.
    if (!host || !isLoopbackHost(host.replace(/:\d+$/, ''))) {
      return `without configured credentials the API answers only requests addressed to localhost, 127.0.0.1 or [::1], not ${JSON.stringify(request.host)}; configure apiUsers or apiTokens to serve other names`;
    }
    if (!READ_METHODS.has(request.method) && (foreignOrigin(request) || request.headers['sec-fetch-site'] === 'cross-site')) {
      return 'a request from another site may not change anything';
    }
    return undefined;
  }

  async function authenticate(request: FastifyRequest, reply: FastifyReply): Promise<Caller | undefined> {
    const header = request.headers.authorization;
    if (header !== undefined) {
      const space = header.indexOf(' ');
      const scheme = (space < 0 ? header : header.slice(0, space)).toLowerCase();
      const value = space < 0 ? '' : header.slice(space + 1).trim();
      if (scheme === 'basic') {
        const basic = basicCredentials(value);
        if (!basic) {
          unauthorized(request, reply, 'malformed Basic credentials: expected base64 of name:password');
          return undefined;
        }
        const user = await login(request, reply, basic.name, basic.password);
        return user && { name: user.name, readOnly: user.readOnly, via: 'basic' };
      }
      if (scheme === 'bearer') {
        const token = value && value.length <= 512 ? creds.tokens.get(tokenDigest(value)) : undefined;
        if (!token) {
          unauthorized(request, reply, 'unknown bearer token');
          return undefined;
        }
        return { name: `token:${token.digest.slice(0, 8)}`, readOnly: token.readOnly, via: 'bearer' };
      }
      unauthorized(request, reply, `unsupported authorization scheme ${JSON.stringify(scheme)}: use Basic or Bearer`);
      return undefined;
    }
    const id = cookie(request, SESSION_COOKIE);
    if (!id) {
      unauthorized(request, reply, 'authentication required: send Basic credentials, a Bearer token or a session cookie (POST /api/v1/session)');
      return undefined;
    }
    const session = sessions.get(id);
    if (!session) {
      reply.header('set-cookie', sessionCookie(request, '', 0));
      unauthorized(request, reply, 'the session has expired or was logged out; log in again');
      return undefined;
    }
    if (!READ_METHODS.has(request.method)) {
      const sent = request.headers['x-csrf-token'];
      if (typeof sent !== 'string' || !safeEqual(sent, session.csrfToken)) {
        refuse(request, reply, 403, 'a request authenticated by the session cookie that changes something needs the X-CSRF-Token header from the login');
        return undefined;
      }
      if (foreignOrigin(request)) {
        refuse(request, reply, 403, 'the Origin of this request is not the site it was sent to');
        return undefined;
      }
    }
    return session.caller;
  }

  api.addHook('onRequest', async (request, reply) => {
    const route = request.routeOptions.url;
    if ((route !== undefined && OPEN_ROUTES.has(route)) || (request.routeOptions.config.open && READ_METHODS.has(request.method))) return;
    if (!configured) {
      const refusal = loopbackRefusal(request);
      if (refusal) return refuse(request, reply, 403, refusal);
      request.caller = LOCAL;
      return;
    }
    // Logging in is the one request that may come without credentials: its handler checks them.
    if (route === SESSION_PATH && request.method === 'POST') return;
    const caller = await authenticate(request, reply);
    if (!caller) return reply;
    // Logging out is no change of the system's state: read-only callers may end their sessions too.
    if (caller.readOnly && !READ_METHODS.has(request.method) && route !== SESSION_PATH) {
      return refuse(request, reply, 403, `${caller.name} is read-only: ${request.method} needs a read-write user or token`);
    }
    request.caller = caller;
  });

  const info = (caller: Caller, csrfToken: string | null) => ({ user: caller.name, readOnly: caller.readOnly, via: caller.via, csrfToken });

  api.route({
    method: 'POST',
    url: SESSION_PATH,
    schema: {
      tags: ['session'],
      summary: 'Log in: Basic credentials or a JSON body {user, password} set an HttpOnly session cookie; keep the csrfToken for requests that change something',
      body: LoginBody.nullish(),
      response: { 200: SessionInfo },
    },
    handler: async (request, reply) => {
      if (!configured) return info(request.caller ?? LOCAL, null);
      if (foreignOrigin(request)) return refuse(request, reply, 403, 'the Origin of this request is not the site it was sent to');
      const header = request.headers.authorization;
      let given: { name: string; password: string } | undefined;
      if (header?.toLowerCase().startsWith('basic ')) given = basicCredentials(header.slice(6));
      else if (request.body) given = { name: request.body.user, password: request.body.password };
      if (!given) return unauthorized(request, reply, 'log in with Basic credentials or a JSON body {"user": ..., "password": ...}');
      const user = await login(request, reply, given.name, given.password);
      if (!user) return reply;
      const previous = cookie(request, SESSION_COOKIE);
      if (previous) sessions.delete(previous);
      const caller: Caller = { name: user.name, readOnly: user.readOnly, via: 'session' };
      const { id, csrfToken } = sessions.create(caller);
      reply.header('set-cookie', sessionCookie(request, id, Math.floor(ttl / 1000)));
      request.caller = caller;
      return info(caller, csrfToken);
    },
  });

  api.route({
    method: 'GET',
    url: SESSION_PATH,
    schema: { tags: ['session'], summary: 'Who the caller is, and the session’s CSRF token when authenticated by the session cookie', response: { 200: SessionInfo } },
    handler: async (request) => {
      const caller = request.caller ?? LOCAL;
      const id = caller.via === 'session' ? cookie(request, SESSION_COOKIE) : undefined;
      return info(caller, (id && sessions.get(id)?.csrfToken) || null);
    },
  });

  api.route({
    method: 'DELETE',
    url: SESSION_PATH,
    schema: { tags: ['session'], summary: 'Log out: the session ends and its cookie is cleared' },
    handler: async (request, reply) => {
      const id = cookie(request, SESSION_COOKIE);
      if (id) {
        sessions.delete(id);
        reply.header('set-cookie', sessionCookie(request, '', 0));
      }
      return reply.code(204).send();
    },
  });
}
