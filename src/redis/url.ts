/**
 * Redis URLs to ioredis options, for the broker and anything else that talks to Redis (the result backend).
 *
 *   redis://[[user]:password@]host[:port][/db][?option=value...]
 *   rediss://...                        TLS; ssl_cert_reqs, ssl_ca_certs, ssl_certfile, ssl_keyfile as in Celery
 *   unix://[[user]:password@]/path/to/redis.sock[?db=N][&password=...]
 *                                       redis-py's socket form (credentials before the path, or its `password`
 *                                       and `username` query options)
 *   redis+socket://[[user]:password@]/path[?virtual_host=N]  kombu's socket form (the same; `db` is accepted too)
 *   sentinel://[[user]:password@]host[:port][/db];sentinel://host[:port];...?master_name=NAME
 *                                       kombu's Sentinel form: the addresses of the sentinels, the master's name in
 *                                       the query (kombu takes it from transport options, which a URL cannot carry)
 *
 * Every problem is a ConfigurationError naming the part that is wrong, with the password masked, so a typo fails
 * at start rather than as a connection that never comes up.
 */
import { readFileSync } from 'node:fs';
import type { RedisOptions } from 'ioredis';
import { ConfigurationError } from '../errors/index.js';
import { maskPassword } from '../util/mask.js';

/** Kept here for the code that imported it from this module; the one implementation is in util/mask.ts. */
export { maskPassword };

export interface RedisUrl {
  /** Connection options for `new Redis(...)`. */
  redis: RedisOptions;
  /** The caller's own query options (those it allowed), by name. */
  params: Map<string, string>;
  /** `host:port`, the socket path, or `master (sentinels host:port, ...)`, for messages; never the password. */
  target: string;
}

export interface ParseRedisUrlOptions {
  /** The setting named in errors, e.g. `broker` or `result_backend`. */
  setting?: string;
  /** Query options the caller handles itself (e.g. `global_keyprefix`); anything else unknown is an error. */
  params?: readonly string[];
}

const TLS_OPTIONS = ['ssl_cert_reqs', 'ssl_ca_certs', 'ssl_certfile', 'ssl_keyfile'];
const CONNECTION_OPTIONS = ['db', 'virtual_host', 'socket_connect_timeout', ...TLS_OPTIONS];
const SENTINEL_OPTIONS = ['master_name', 'sentinel_password', 'sentinel_username'];
const SOCKET_SCHEMES = new Set(['unix', 'redis+socket']);
/** redis-py's way to pass credentials to a socket URL. */
const SOCKET_CREDENTIALS = ['username', 'password'];
/** scheme, `user:pass@` (optional), then the path and query: a socket URL, which has no host. */
const SOCKET_URL = /^(unix|redis\+socket):\/\/([^@/?#]*@)?(\/[^#]*)$/i;
/** kombu's and redis-py's default Sentinel port. */
const SENTINEL_PORT = 26379;

/**
 * ioredis options for a `redis://`, `rediss://`, `unix://`, `redis+socket://` or `sentinel://` URL.
 * `global_keyprefix` is tolerated (it is a Celery option of the URL's user, not of the connection) and left out.
 *
 * @example
 * new Redis(redisOptionsFromUrl('redis://:secret@cache:6380/2'))
 */
export function redisOptionsFromUrl(url: string, setting = 'broker'): RedisOptions {
  return parseRedisUrl(url, { setting, params: ['global_keyprefix'] }).redis;
}

/** The connection options plus the caller's own query options. */
export function parseRedisUrl(url: string, options: ParseRedisUrlOptions = {}): RedisUrl {
  const setting = options.setting ?? 'broker';
  const own = options.params ?? [];
  if (schemeOf(url) === 'sentinel') return parseSentinelUrl(url, setting, own);
  const socket = SOCKET_URL.exec(url.trim());
  // `scheme://user:pass@/path` has credentials but no host, which URL parsing rejects: a placeholder host is put in
  // and ignored, so socket URLs carry credentials as kombu's and redis-py's do.
  const u = parseUrl(socket ? `${socket[1]}://${socket[2] ?? ''}socket${socket[3]}` : url, url, setting);
  const scheme = u.protocol.slice(0, -1).toLowerCase();
  const allowed = SOCKET_SCHEMES.has(scheme) ? [...CONNECTION_OPTIONS, ...SOCKET_CREDENTIALS, ...own] : [...CONNECTION_OPTIONS, ...own];
  const query = readQuery(u, allowed, setting);

  const redis: RedisOptions = { ...credentials(u), ...connectTimeout(query, setting) };
  let target: string;
  if (SOCKET_SCHEMES.has(scheme)) {
    const path = decodeURIComponent(u.pathname);
    // As redis-py reads them: credentials before the path win over the query's.
    if (query.has('username') && redis.username === undefined) redis.username = query.get('username');
    if (query.has('password') && redis.password === undefined) redis.password = query.get('password');
    if ((!socket && u.hostname) || !path || path === '/') {
      throw new ConfigurationError(setting, maskPassword(url), `a socket path, as in ${scheme}:///run/redis.sock`);
    }
    redis.path = path;
    redis.db = dbNumber(setting, query.get('db') ?? query.get('virtual_host') ?? '0');
    target = path;
  } else if (scheme === 'redis' || scheme === 'rediss') {
    const host = hostOf(u) || '127.0.0.1';
    redis.host = host;
    redis.port = u.port ? Number(u.port) : 6379;
    redis.db = dbNumber(setting, query.get('db') ?? query.get('virtual_host') ?? (pathDb(u) || '0'));
    target = hostPort(host, redis.port);
    if (scheme === 'rediss') {
      redis.tls = tlsOptions(setting, query);
    } else if (TLS_OPTIONS.some((k) => query.has(k))) {
      // Celery refuses this too: TLS settings on a plain URL almost always mean a forgotten "s".
      throw new ConfigurationError(setting, maskPassword(url), 'rediss:// when ssl_* options are given');
    }
  } else {
    throw new ConfigurationError(
      setting,
      maskPassword(url),
      'a redis://, rediss://, unix://, redis+socket:// or sentinel:// URL',
    );
  }
  return { redis, params: pick(query, own), target };
}

/**
 * `sentinel://a:26379;sentinel://b:26379/0?master_name=mymaster`: ioredis asks the sentinels for the master's
 * address on every (re)connect, so after a failover every connection comes back on the new master by itself.
 * The password, user and database are the master's, as in kombu (redis-py does not send them to sentinels);
 * `sentinel_password`/`sentinel_username` authenticate to the sentinels. Each may be written on any of the
 * addresses, and must agree where written twice, so the order the addresses are listed in never matters.
 */
function parseSentinelUrl(url: string, setting: string, own: readonly string[]): RedisUrl {
  const expected = 'sentinel://host:26379;sentinel://host2:26379/0?master_name=mymaster';
  const allowed = [...CONNECTION_OPTIONS, ...SENTINEL_OPTIONS, ...own];
  const sentinels: { host: string; port: number }[] = [];
  const query = new Map<string, string>();
  const shared = new Map<string, string>();
  const agree = (what: string, value: string | undefined, shown = value): void => {
    if (value === undefined) return;
    const before = shared.get(what);
    if (before !== undefined && before !== value) {
      throw new ConfigurationError(`${setting} URL ${what}`, shown, 'the same value on every sentinel:// address');
    }
    shared.set(what, value);
  };
  for (const part of url.split(';')) {
    if (!part.trim()) continue;
    const u = parseUrl(part, url, setting, expected);
    const host = hostOf(u);
    if (schemeOf(part) !== 'sentinel' || !host) throw new ConfigurationError(setting, maskPassword(url), expected);
    sentinels.push({ host, port: u.port ? Number(u.port) : SENTINEL_PORT });
    const { username, password } = credentials(u);
    agree('user', username);
    agree('password', password, '***');
    agree('database', pathDb(u) || undefined);
    for (const [key, value] of readQuery(u, allowed, setting)) {
      agree(`option ${key}`, value, key.endsWith('password') ? '***' : value);
      query.set(key, value);
    }
  }
  if (sentinels.length === 0) throw new ConfigurationError(setting, maskPassword(url), expected);
  const name = query.get('master_name');
  if (!name) {
    const what = `the name the sentinels monitor the master under, as in ${expected}`;
    throw new ConfigurationError(`${setting} URL option master_name`, name ?? '(missing)', what);
  }
  if (TLS_OPTIONS.some((k) => query.has(k))) {
    const why = 'no ssl_* options: TLS through Sentinel is not supported yet';
    throw new ConfigurationError(setting, maskPassword(url), why);
  }
  const redis: RedisOptions = {
    sentinels,
    name,
    db: dbNumber(setting, query.get('db') ?? query.get('virtual_host') ?? shared.get('database') ?? '0'),
    ...connectTimeout(query, setting),
  };
  const username = shared.get('user');
  const password = shared.get('password');
  if (username !== undefined) redis.username = username;
  if (password !== undefined) redis.password = password;
  const sentinelPassword = query.get('sentinel_password');
  const sentinelUsername = query.get('sentinel_username');
  if (sentinelPassword !== undefined) redis.sentinelPassword = sentinelPassword;
  if (sentinelUsername !== undefined) redis.sentinelUsername = sentinelUsername;
  const target = `${name} (sentinels ${sentinels.map((s) => hostPort(s.host, s.port)).join(', ')})`;
  return { redis, params: pick(query, own), target };
}

/**
 * Why a connection failed, in one line, for ConnectionError messages. Two reasons are reworded because as given
 * they mislead: ioredis's Sentinel summary says "All sentinels are unreachable" also when they answered but
 * did not know the master or refused the password, and promises a retry the caller does not wait for; and Node
 * names a certificate it does not trust only by a symptom such as "self-signed certificate in certificate chain".
 */
export function connectionFailure(err: unknown): string {
  const message = (err instanceof Error ? err.message : String(err)).replace(/\s*\n\s*/g, ' ').trim();
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && /CERT|SELF_SIGNED|UNABLE_TO_(GET|VERIFY)|INVALID_CA|HOSTNAME_MISMATCH/.test(code)) {
    const hint = code.includes('ALTNAME') ? '' : "; ssl_ca_certs must name the CA that signed the server's certificate";
    return `TLS certificate rejected: ${message} (${code})${hint}`;
  }
  // ioredis's commandTimeout: the server took the connection but did not answer in time (frozen, overloaded).
  if (message === 'Command timed out') return 'no answer within the command timeout (redisSocketTimeout)';
  const sentinels = /^All sentinels are unreachable[^.]*\.(?: Retrying[^.]*\.)?(?: Last error: (.*))?$/.exec(message);
  if (sentinels) return `no sentinel gave the master's address${sentinels[1] ? ` (last error: ${sentinels[1]})` : ''}`;
  return message;
}

function schemeOf(url: string): string {
  return /^([a-z][a-z0-9+.-]*):\/\//i.exec(url.trim())?.[1]?.toLowerCase() ?? '';
}

function parseUrl(text: string, whole: string, setting: string, expected = 'a URL like redis://host:6379/0'): URL {
  try {
    return new URL(text.trim());
  } catch {
    throw new ConfigurationError(setting, maskPassword(whole), expected);
  }
}

/** The query options, each checked against `allowed` so that a misspelt option fails at start. */
function readQuery(u: URL, allowed: readonly string[], setting: string): Map<string, string> {
  const query = new Map<string, string>();
  for (const [key, value] of u.searchParams) {
    if (!allowed.includes(key)) {
      throw new ConfigurationError(`${setting} URL option ${key}`, value, `one of ${allowed.join(', ')}`);
    }
    query.set(key, value);
  }
  return query;
}

function pick(query: Map<string, string>, keys: readonly string[]): Map<string, string> {
  const picked = new Map<string, string>();
  for (const key of keys) {
    const value = query.get(key);
    if (value !== undefined) picked.set(key, value);
  }
  return picked;
}

function credentials(u: URL): { username?: string; password?: string } {
  const found: { username?: string; password?: string } = {};
  if (u.username) found.username = decodeURIComponent(u.username);
  if (u.password) found.password = decodeURIComponent(u.password);
  return found;
}

function connectTimeout(query: Map<string, string>, setting: string): { connectTimeout?: number } {
  const text = query.get('socket_connect_timeout');
  if (text === undefined) return {};
  return { connectTimeout: Math.round(seconds(setting, 'socket_connect_timeout', text) * 1000) };
}

function hostOf(u: URL): string {
  return u.hostname.replace(/^\[(.*)\]$/, '$1');
}

/** The database written as the URL's path (`/2`), or ''. */
function pathDb(u: URL): string {
  return decodeURIComponent(u.pathname).replace(/^\/+/, '');
}

function hostPort(host: string, port: number): string {
  return `${host.includes(':') ? `[${host}]` : host}:${port}`;
}

function tlsOptions(setting: string, query: Map<string, string>): NonNullable<RedisOptions['tls']> {
  const tls: NonNullable<RedisOptions['tls']> = {};
  const reqs = query.get('ssl_cert_reqs');
  if (reqs !== undefined) {
    const mode = reqs.replace(/^CERT_/i, '').toLowerCase();
    if (!['required', 'optional', 'none'].includes(mode)) {
      const expected = 'CERT_REQUIRED, CERT_OPTIONAL or CERT_NONE';
      throw new ConfigurationError(`${setting} URL option ssl_cert_reqs`, reqs, expected);
    }
    // Python's ssl module gives CERT_OPTIONAL on a client the meaning of CERT_REQUIRED (a server always offers a
    // certificate, and an offered one is verified), so only `none` turns verification off.
    tls.rejectUnauthorized = mode !== 'none';
  }
  const file = (key: string): Buffer | undefined => {
    const path = query.get(key);
    if (path === undefined) return undefined;
    try {
      return readFileSync(path);
    } catch (err) {
      throw new ConfigurationError(`${setting} URL option ${key}`, path, `a readable file (${(err as Error).message})`);
    }
  };
  const ca = file('ssl_ca_certs');
  const cert = file('ssl_certfile');
  const key = file('ssl_keyfile');
  if (ca) tls.ca = ca;
  if (cert) tls.cert = cert;
  if (key) tls.key = key;
  return tls;
}

function dbNumber(setting: string, text: string): number {
  if (!/^\d+$/.test(text)) throw new ConfigurationError(`${setting} database number`, text, 'a whole number such as 0');
  return Number(text);
}

function seconds(setting: string, key: string, text: string): number {
  const n = Number(text);
  if (!Number.isFinite(n) || n <= 0) throw new ConfigurationError(`${setting} URL option ${key}`, text, 'seconds > 0');
  return n;
}
