/**
 * Redis URLs to ioredis options, for the broker and anything else that talks to Redis (the result backend).
 *
 *   redis://[[user]:password@]host[:port][/db][?option=value...]
 *   rediss://...                        TLS; ssl_cert_reqs, ssl_ca_certs, ssl_certfile, ssl_keyfile as in Celery
 *   unix:///path/to/redis.sock[?db=N]   redis-py's socket form
 *   redis+socket:///path[?virtual_host=N]  kombu's socket form (same thing; `db` is accepted too)
 *
 * Every problem is a ConfigurationError naming the part that is wrong, with the password masked, so a typo fails
 * at start rather than as a connection that never comes up.
 */
import { readFileSync } from 'node:fs';
import type { RedisOptions } from 'ioredis';
import { ConfigurationError } from '../errors/index.js';

export interface RedisUrl {
  /** Connection options for `new Redis(...)`. */
  redis: RedisOptions;
  /** The caller's own query options (those it allowed), by name. */
  params: Map<string, string>;
  /** `host:port` or the socket path, for messages; never the password. */
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
const SOCKET_SCHEMES = new Set(['unix', 'redis+socket']);

/**
 * ioredis options for a `redis://`, `rediss://`, `unix://` or `redis+socket://` URL. `global_keyprefix` is
 * tolerated (it is a Celery option of the URL's user, not of the connection) and left out.
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
  const allowed = [...CONNECTION_OPTIONS, ...(options.params ?? [])];
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new ConfigurationError(setting, maskPassword(url), 'a URL like redis://host:6379/0');
  }
  const scheme = u.protocol.slice(0, -1).toLowerCase();
  const query = new Map<string, string>();
  for (const [key, value] of u.searchParams) {
    if (!allowed.includes(key)) {
      throw new ConfigurationError(`${setting} URL option ${key}`, value, `one of ${allowed.join(', ')}`);
    }
    query.set(key, value);
  }

  const redis: RedisOptions = {};
  if (u.username) redis.username = decodeURIComponent(u.username);
  if (u.password) redis.password = decodeURIComponent(u.password);
  const connectTimeout = query.get('socket_connect_timeout');
  if (connectTimeout !== undefined) {
    redis.connectTimeout = Math.round(seconds(setting, 'socket_connect_timeout', connectTimeout) * 1000);
  }

  let target: string;
  if (SOCKET_SCHEMES.has(scheme)) {
    const path = decodeURIComponent(u.pathname);
    if (u.hostname || !path || path === '/') {
      throw new ConfigurationError(setting, maskPassword(url), `a socket path, as in ${scheme}:///run/redis.sock`);
    }
    redis.path = path;
    redis.db = dbNumber(setting, query.get('db') ?? query.get('virtual_host') ?? '0');
    target = path;
  } else if (scheme === 'redis' || scheme === 'rediss') {
    const host = u.hostname.replace(/^\[(.*)\]$/, '$1') || '127.0.0.1';
    redis.host = host;
    redis.port = u.port ? Number(u.port) : 6379;
    const path = decodeURIComponent(u.pathname).replace(/^\/+/, '');
    redis.db = dbNumber(setting, query.get('db') ?? query.get('virtual_host') ?? (path || '0'));
    target = `${host.includes(':') ? `[${host}]` : host}:${redis.port}`;
    if (scheme === 'rediss') {
      redis.tls = tlsOptions(setting, query);
    } else if (TLS_OPTIONS.some((k) => query.has(k))) {
      // Celery refuses this too: TLS settings on a plain URL almost always mean a forgotten "s".
      throw new ConfigurationError(setting, maskPassword(url), 'rediss:// when ssl_* options are given');
    }
  } else {
    throw new ConfigurationError(setting, maskPassword(url), 'a redis://, rediss://, unix:// or redis+socket:// URL');
  }

  const params = new Map<string, string>();
  for (const key of options.params ?? []) {
    const value = query.get(key);
    if (value !== undefined) params.set(key, value);
  }
  return { redis, params, target };
}

/** The URL with its password replaced by `***`, for messages and logs. */
export function maskPassword(url: string): string {
  return url.replace(/^([a-z][a-z0-9+.-]*:\/\/[^:@/]*:)[^@/]*@/i, '$1***@');
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
    // Node cannot verify "only if a certificate is offered": optional, like none, accepts an unverifiable one.
    tls.rejectUnauthorized = mode === 'required';
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
