/**
 * Redis result backend URLs to ioredis options.
 *
 * Stand-in until the Redis broker's `redisOptionsFromUrl` is shared: the exported function has the same name and
 * contract (an ioredis options object for redis://, rediss:// and unix:// URLs), so replacing this module's body
 * with a re-export is the whole merge. The backend-only part, `global_keyprefix`, is read by `backendUrlOptions`.
 *
 *   redis://[[user]:password@]host[:port][/db][?option=value...]
 *   rediss://...                       TLS; ssl_cert_reqs, ssl_ca_certs, ssl_certfile, ssl_keyfile as in Celery
 *   unix:///path/to/redis.sock[?db=N]  also spelled redis+socket:///path (Celery's form for sockets)
 */
import { readFileSync } from 'node:fs';
import type { RedisOptions } from 'ioredis';
import { ConfigurationError } from '../../errors/index.js';

export interface BackendUrlOptions {
  redis: RedisOptions;
  /** Prepended to every key and channel; '' for none. */
  globalKeyprefix: string;
  /** host:port or the socket path, for messages (never the password). */
  target: string;
}

const TLS_OPTIONS = ['ssl_cert_reqs', 'ssl_ca_certs', 'ssl_certfile', 'ssl_keyfile'];
const OPTIONS = ['db', 'socket_connect_timeout', ...TLS_OPTIONS];
const BACKEND_OPTIONS = ['global_keyprefix'];

/** ioredis options for a redis://, rediss:// or unix:// URL. Throws ConfigurationError naming what is wrong. */
export function redisOptionsFromUrl(url: string): RedisOptions {
  return parse(url, OPTIONS).redis;
}

/** The connection options plus the backend's own URL options. */
export function backendUrlOptions(url: string): BackendUrlOptions {
  return parse(url, [...OPTIONS, ...BACKEND_OPTIONS]);
}

function parse(url: string, allowed: readonly string[]): BackendUrlOptions {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new ConfigurationError('backend', url.replace(/\/\/[^@/]*@/, '//***@'), 'a URL like redis://host:6379/0');
  }
  const scheme = u.protocol.slice(0, -1).toLowerCase();
  const query = new Map(u.searchParams);
  for (const key of query.keys()) {
    if (!allowed.includes(key)) throw new ConfigurationError(`backend URL option ${key}`, query.get(key), `one of ${allowed.join(', ')}`);
  }
  const redis: RedisOptions = {};
  if (u.username) redis.username = decodeURIComponent(u.username);
  if (u.password) redis.password = decodeURIComponent(u.password);
  const connectTimeout = query.get('socket_connect_timeout');
  if (connectTimeout !== undefined) redis.connectTimeout = seconds('socket_connect_timeout', connectTimeout) * 1000;

  let target: string;
  if (scheme === 'unix' || scheme === 'redis+socket') {
    const path = decodeURIComponent(u.pathname);
    if (!path || path === '/') throw new ConfigurationError('backend', url, 'a socket path, as in unix:///run/redis.sock');
    redis.path = path;
    redis.db = dbNumber(query.get('db') ?? '0');
    target = path;
  } else if (scheme === 'redis' || scheme === 'rediss') {
    redis.host = u.hostname.replace(/^\[(.*)\]$/, '$1') || 'localhost';
    redis.port = u.port ? Number(u.port) : 6379;
    redis.db = dbNumber(query.get('db') ?? (u.pathname.replace(/^\/+/, '') || '0'));
    target = `${u.hostname || 'localhost'}:${redis.port}`;
    if (scheme === 'rediss') redis.tls = tlsOptions(query);
    else if (TLS_OPTIONS.some((k) => query.has(k))) {
      // Celery refuses this too: TLS settings on a plain URL are almost always a forgotten "s".
      throw new ConfigurationError('backend', redact(u), 'rediss:// when ssl_* options are given');
    }
  } else {
    throw new ConfigurationError('backend', redact(u), 'a redis://, rediss:// or unix:// URL');
  }
  return { redis, globalKeyprefix: query.get('global_keyprefix') ?? '', target };
}

function tlsOptions(query: Map<string, string>): NonNullable<RedisOptions['tls']> {
  const tls: NonNullable<RedisOptions['tls']> = {};
  const reqs = query.get('ssl_cert_reqs');
  if (reqs !== undefined) {
    const mode = reqs.replace(/^CERT_/i, '').toLowerCase();
    if (!['required', 'optional', 'none'].includes(mode)) {
      throw new ConfigurationError('backend URL option ssl_cert_reqs', reqs, 'CERT_REQUIRED, CERT_OPTIONAL or CERT_NONE');
    }
    // Node has no "verify if offered": optional, like none, accepts a certificate it cannot verify.
    tls.rejectUnauthorized = mode === 'required';
  }
  const file = (key: string): Buffer | undefined => {
    const path = query.get(key);
    if (path === undefined) return undefined;
    try {
      return readFileSync(path);
    } catch (err) {
      throw new ConfigurationError(`backend URL option ${key}`, path, `a readable file (${(err as Error).message})`);
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

function dbNumber(text: string): number {
  if (!/^\d+$/.test(text)) throw new ConfigurationError('backend database number', text, 'a whole number such as 0');
  return Number(text);
}

function seconds(key: string, text: string): number {
  const n = Number(text);
  if (!Number.isFinite(n) || n <= 0) throw new ConfigurationError(`backend URL option ${key}`, text, 'seconds > 0');
  return n;
}

/** The URL without its password, for error messages. */
function redact(u: URL): string {
  const copy = new URL(u.href);
  if (copy.password) copy.password = '***';
  return copy.href;
}
