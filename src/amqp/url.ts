/**
 * AMQP URLs as Celery and kombu read them, to amqplib connection options:
 *
 *   amqp://[user[:password]@]host[:port][/vhost][?option=value...]     port 5672
 *   amqps://...                                                         TLS, port 5671
 *   pyamqp://...                                                        kombu's name for the same transport
 *   amqp://h1//;amqp://h2//                                             several brokers, tried in turn (failover)
 *
 * The vhost is the path without its first `/` (URL-decoded): `amqp://h//` and `amqp://h/` are vhost `/`, kombu's
 * default; `amqp://h/prod` is `prod`. Credentials default to guest/guest, as in kombu.
 *
 * Options: `heartbeat` (seconds, 0 disables; default 60), `connect_timeout` (seconds; default the broker
 * connection timeout), `frame_max`, and for TLS `ssl_ca_certs`, `ssl_certfile`, `ssl_keyfile`, `ssl_cert_reqs`
 * (CERT_REQUIRED, CERT_OPTIONAL or CERT_NONE) and `ssl_server_hostname`. Every problem is a ConfigurationError
 * naming the part that is wrong, with the password masked.
 */
import { readFileSync } from 'node:fs';
import type { ConnectionOptions } from 'node:tls';
import { ConfigurationError } from '../errors/index.js';
import { maskPassword } from '../util/mask.js';

export interface AmqpEndpoint {
  protocol: 'amqp' | 'amqps';
  hostname: string;
  port: number;
  username: string;
  password: string;
  vhost: string;
  /** Seconds; 0 disables heartbeats. */
  heartbeat: number;
  frameMax?: number;
  /** Seconds connecting may take, when the URL says. */
  connectTimeout?: number;
  /** TLS socket options for amqps. */
  tls?: ConnectionOptions;
  /** `host:port/vhost`, for messages; never the password. */
  target: string;
}

export interface AmqpUrl {
  /** The brokers in the order they are tried. */
  endpoints: AmqpEndpoint[];
  /** The caller's own query options (those it allowed), by name, from the first URL. */
  params: Map<string, string>;
}

export const AMQP_SCHEMES = ['amqp', 'amqps', 'pyamqp'] as const;

/**
 * The query options of a broker URL read by the broker rather than the connection. The mailbox and the rpc://
 * backend accept them too, so one URL serves tasks, remote control, events and results.
 */
export const BROKER_URL_PARAMS: readonly string[] = ['max_priority', 'queue_type', 'consumer_timeout', 'delayed_delivery'];
const DEFAULT_HEARTBEAT = 60;
const TLS_OPTIONS = ['ssl_ca_certs', 'ssl_certfile', 'ssl_keyfile', 'ssl_cert_reqs', 'ssl_server_hostname'];
const CONNECTION_OPTIONS = ['heartbeat', 'connect_timeout', 'frame_max', ...TLS_OPTIONS];

/**
 * The endpoints of an AMQP URL (or of a `;`-separated list of them), plus the caller's own query options.
 *
 * @example
 * parseAmqpUrl('amqp://app:secret@rabbit:5672/prod?heartbeat=30').endpoints[0].vhost // 'prod'
 */
export function parseAmqpUrl(url: string, options: { setting?: string; params?: readonly string[] } = {}): AmqpUrl {
  const setting = options.setting ?? 'broker';
  const allowed = [...CONNECTION_OPTIONS, ...(options.params ?? [])];
  const parts = url.split(';').map((p) => p.trim()).filter(Boolean);
  if (!parts.length) throw new ConfigurationError(setting, url, 'a URL like amqp://user:password@host:5672/vhost');
  let params = new Map<string, string>();
  const endpoints = parts.map((part, i) => {
    const parsed = parseOne(part, url, setting, allowed);
    if (i === 0) params = parsed.params;
    return parsed.endpoint;
  });
  return { endpoints, params };
}

function parseOne(part: string, whole: string, setting: string, allowed: readonly string[]): { endpoint: AmqpEndpoint; params: Map<string, string> } {
  const bad = (why: string) => new ConfigurationError(setting, maskPassword(whole), why);
  let u: URL;
  try {
    u = new URL(part);
  } catch {
    throw bad('a URL like amqp://user:password@host:5672/vhost');
  }
  const scheme = u.protocol.slice(0, -1).toLowerCase();
  if (!(AMQP_SCHEMES as readonly string[]).includes(scheme)) throw bad('a URL like amqp://user:password@host:5672/vhost');
  const protocol = scheme === 'amqps' ? 'amqps' : 'amqp';
  const query = new Map<string, string>();
  for (const [k, v] of u.searchParams) {
    if (!allowed.includes(k)) throw bad(`an AMQP URL whose options are among ${allowed.join(', ')} (not ${k})`);
    query.set(k, v);
  }
  const port = u.port ? Number(u.port) : protocol === 'amqps' ? 5671 : 5672;
  // `amqp://h//` is vhost `/`; `amqp://h/` and `amqp://h` too (kombu's default); `/prod` is `prod`.
  const path = u.pathname.slice(1);
  const vhost = path === '' ? '/' : decodeURIComponent(path);
  const hostname = u.hostname.replace(/^\[(.*)\]$/, '$1') || 'localhost';
  const seconds = (name: string): number | undefined => {
    const text = query.get(name);
    if (text === undefined) return undefined;
    const n = Number(text);
    if (text.trim() === '' || !Number.isFinite(n) || n < 0) throw bad(`${name} as a number of seconds, 0 or more (not ${text})`);
    return n;
  };
  const frameMaxText = query.get('frame_max');
  const frameMax = frameMaxText === undefined ? undefined : Number(frameMaxText);
  if (frameMax !== undefined && (!Number.isInteger(frameMax) || frameMax < 4096)) throw bad(`frame_max as a whole number of bytes, 4096 or more (not ${frameMaxText})`);
  const endpoint: AmqpEndpoint = {
    protocol,
    hostname,
    port,
    username: u.username ? decodeURIComponent(u.username) : 'guest',
    password: u.password ? decodeURIComponent(u.password) : u.username ? '' : 'guest',
    vhost,
    heartbeat: seconds('heartbeat') ?? DEFAULT_HEARTBEAT,
    frameMax,
    connectTimeout: seconds('connect_timeout'),
    target: `${hostname.includes(':') ? `[${hostname}]` : hostname}:${port}${vhost === '/' ? '' : `/${vhost}`}`,
  };
  if (protocol === 'amqps') endpoint.tls = tlsOptions(query, hostname, bad);
  else if (TLS_OPTIONS.some((o) => query.has(o))) throw bad('TLS options (ssl_*) only with amqps://');
  const params = new Map([...query].filter(([k]) => !CONNECTION_OPTIONS.includes(k)));
  return { endpoint, params };
}

function tlsOptions(query: Map<string, string>, hostname: string, bad: (why: string) => Error): ConnectionOptions {
  const read = (name: string): Buffer | undefined => {
    const path = query.get(name);
    if (path === undefined) return undefined;
    try {
      return readFileSync(path);
    } catch (err) {
      throw bad(`${name} naming a readable file (${(err as Error).message})`);
    }
  };
  const reqs = (query.get('ssl_cert_reqs') ?? 'CERT_REQUIRED').toUpperCase();
  if (!['CERT_REQUIRED', 'CERT_OPTIONAL', 'CERT_NONE'].includes(reqs)) throw bad('ssl_cert_reqs as CERT_REQUIRED, CERT_OPTIONAL or CERT_NONE');
  const tls: ConnectionOptions = { servername: query.get('ssl_server_hostname') ?? hostname, rejectUnauthorized: reqs !== 'CERT_NONE' };
  const ca = read('ssl_ca_certs');
  const cert = read('ssl_certfile');
  const key = read('ssl_keyfile');
  if (ca) tls.ca = ca;
  if (cert) tls.cert = cert;
  if (key) tls.key = key;
  return tls;
}
