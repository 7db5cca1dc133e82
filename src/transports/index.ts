/**
 * The one table of URL schemes: for each, the broker adapter, the result backend adapter and how its URLs are shown
 * without a password. Adapters are imported only when their scheme is used, so an application on the embedded store
 * never loads a Redis or PostgreSQL client. Everything that branches on a URL's kind asks this table; everything
 * else asks the adapter for a capability (a mailbox, stored revocations).
 */
import type { BackendOptions, ResultBackend } from '../backend/port.js';
// Only the scheme pattern (no driver): node-postgres is loaded when a PostgreSQL URL is used.
import { POSTGRES_SCHEME } from '../backend/postgres/url.js';
import type { Broker, BrokerOptions } from '../broker/port.js';
import { DeferredMailbox } from '../broker/deferred-mailbox.js';
import type { Mailbox } from '../broker/mailbox.js';
import { ConfigurationError } from '../errors/index.js';
import { maskPassword } from '../util/mask.js';

interface Transport {
  /** Schemes in the order messages list them. */
  schemes: readonly string[];
  broker?: (url: string, options: BrokerOptions) => Promise<Broker>;
  backend?: (url: string, options: BackendOptions) => Promise<ResultBackend>;
  mailbox?: (url: string, options: MailboxOptions) => Promise<Mailbox>;
  /** The backend receives results on the producer's reply queue, which must exist before its first task is sent. */
  replyQueue?: boolean;
}

/** A mailbox opened for a URL alone (remote control and events without a broker): the broker's own options. */
export interface MailboxOptions {
  /** The client name the server lists for these connections (Redis CLIENT LIST). */
  connectionName?: string;
  /** Redis: kombu's `global_keyprefix` transport option (overrides the URL's). */
  globalKeyprefix?: string;
  /** Redis: kombu's `fanout_prefix` transport option. */
  fanoutPrefix?: boolean | string;
  /** Redis: kombu's `fanout_patterns` transport option. */
  fanoutPatterns?: boolean;
  connectTimeoutMs?: number;
  commandTimeoutMs?: number;
}

/** Seconds to ms, undefined kept. */
const ms = (s: number | undefined): number | undefined => (s === undefined ? undefined : Math.round(s * 1000));

const sqlitePath = async (url: string, setting: string): Promise<string> => (await import('../sqlite/open.js')).sqlitePathFromUrl(url, setting);

const TRANSPORTS: readonly Transport[] = [
  {
    schemes: ['sqlite'],
    broker: async (url, o) =>
      new (await import('../broker/sqlite/index.js')).SqliteBroker({
        path: await sqlitePath(url, 'broker'),
        visibilityTimeout: o.visibilityTimeout,
        busyTimeoutMs: ms(o.busyTimeout),
      }),
    mailbox: async (url) => new (await import('../broker/sqlite/mailbox.js')).SqliteMailbox({ path: await sqlitePath(url, 'broker') }),
    backend: async (url, o) =>
      new (await import('../backend/sqlite/index.js')).SqliteBackend({
        path: await sqlitePath(url, 'backend'),
        resultExpires: o.resultExpires,
        busyTimeoutMs: ms(o.busyTimeout),
      }),
  },
  {
    schemes: ['memory'],
    broker: async (_url, o) => new (await import('../broker/memory/index.js')).MemoryBroker({ visibilityTimeout: o.visibilityTimeout }),
    backend: async (_url, o) => new (await import('../backend/memory/index.js')).MemoryBackend({ resultExpires: o.resultExpires }),
    // One hub per process, as the memory broker's mailboxes share one.
    mailbox: async () => new (await import('../broker/memory/mailbox.js')).MemoryMailbox(),
  },
  {
    // `redis+socket:///path` is kombu's spelling of unix://; `sentinel://h1:26379;sentinel://h2:26379?master_name=m`
    // finds the master through Sentinel. Options in the query: see docs/redis.md.
    schemes: ['redis', 'rediss', 'unix', 'redis+socket', 'sentinel'],
    broker: async (url, o) =>
      new (await import('../broker/redis/index.js')).RedisBroker({
        url,
        visibilityTimeout: o.visibilityTimeout,
        connectTimeoutMs: ms(o.connectTimeout),
        commandTimeoutMs: ms(o.commandTimeout),
      }),
    mailbox: async (url, { connectionName, ...o }) => new (await import('../broker/redis/mailbox.js')).RedisMailbox({ url, ...o }, connectionName),
    backend: async (url, o) =>
      new (await import('../backend/redis/index.js')).RedisBackend({
        url,
        resultExpires: o.resultExpires,
        connectTimeoutMs: ms(o.connectTimeout),
        commandTimeoutMs: ms(o.commandTimeout),
      }),
  },
  {
    // kombu's `pyamqp://` is the same transport; several brokers separated by `;` are tried in turn.
    schemes: ['amqp', 'amqps', 'pyamqp'],
    broker: async (url, o) =>
      new (await import('../broker/amqp/index.js')).AmqpBroker({
        url,
        connectTimeoutMs: ms(o.connectTimeout),
        publishTimeoutMs: ms(o.commandTimeout),
        onConnectionEvent: o.onConnectionEvent,
      }),
    mailbox: async (url, o) => new (await import('../broker/amqp/mailbox.js')).AmqpMailbox({ url, connectionName: o.connectionName, connectTimeoutMs: o.connectTimeoutMs }),
  },
  {
    // Celery's rpc:// backend: results sent back over the AMQP broker to the producer's reply queue.
    schemes: ['rpc'],
    replyQueue: true,
    backend: async (_url, o) => {
      if (!o.brokerUrl || !o.replyQueue) throw new ConfigurationError('backend', 'rpc://', 'rpc:// with the app\'s AMQP broker (results travel over it)');
      return new (await import('../backend/rpc/index.js')).RpcBackend({
        brokerUrl: o.brokerUrl,
        replyQueue: o.replyQueue,
        resultExpires: o.resultExpires || 86_400,
        connectTimeoutMs: ms(o.connectTimeout),
      });
    },
  },
  {
    // Also SQLAlchemy's `+driver` forms (`postgresql+psycopg2://`, `db+postgresql+psycopg2://`): Celery's database
    // backend URLs work as they are.
    schemes: ['postgresql', 'postgres', 'db+postgresql'],
    backend: async (url, o) => new (await import('../backend/postgres/index.js')).PostgresBackend({ url, resultExpires: o.resultExpires }),
  },
];

/** Celery URLs a user may bring along, with why they do not work here (as a broker, as a result backend). */
const UNSUPPORTED: Readonly<Record<string, { broker?: string; backend?: string }>> = {
  amqp: { backend: "Celery's amqp:// result backend was removed in Celery 5; use rpc:// or a store" },
  amqps: { backend: "Celery's amqp:// result backend was removed in Celery 5; use rpc:// or a store" },
  librabbitmq: { broker: 'librabbitmq is a C client of Python; use amqp:// (the same broker)' },
  sqs: { broker: 'Celerity has no SQS transport' },
};

/** The schemes a broker can be built for, in the order messages list them. */
export const BROKER_SCHEMES: readonly string[] = TRANSPORTS.filter((t) => t.broker).flatMap((t) => t.schemes);
/** The schemes a result backend can be built for, in the order messages list them. */
export const BACKEND_SCHEMES: readonly string[] = TRANSPORTS.filter((t) => t.backend).flatMap((t) => t.schemes);

/** The URL's scheme in lower case, '' when it has none (`redis//host`, a bare path). */
export function schemeOf(url: string): string {
  const m = /^([a-z][a-z0-9+.-]*):\/\//i.exec(url);
  return m?.[1]?.toLowerCase() ?? '';
}

function transportOf(url: string): Transport | undefined {
  const scheme = schemeOf(url);
  const canonical = POSTGRES_SCHEME.test(scheme) ? 'postgresql' : scheme;
  return TRANSPORTS.find((t) => t.schemes.includes(canonical));
}

/** `url` as it may be shown (banners, logs, errors, `inspect conf`): every password replaced by `***`. */
export function maskUrl(url: string): string {
  return maskPassword(url);
}

function list(schemes: readonly string[]): string {
  const all = schemes.map((s) => `${s}://`);
  return `${all.slice(0, -1).join(', ')} or ${all[all.length - 1]}`;
}

/** `a broker URL starting with sqlite://, ... or sentinel://`, for messages and the settings reference. */
export function describeBrokerSchemes(): string {
  return `a broker URL starting with ${list(BROKER_SCHEMES)}`;
}

/** `a result backend URL starting with sqlite://, ... or db+postgresql://`, for messages and the reference. */
export function describeBackendSchemes(): string {
  return `a result backend URL starting with ${list(BACKEND_SCHEMES)}`;
}

/**
 * Throws the ConfigurationError `createBroker` would for a URL whose scheme no adapter takes, without building
 * anything; the app calls it while compiling its settings, so a wrong URL fails at construction. `setting` names
 * where the URL came from (`broker`, `CELERITY_BROKER_URL`, `--broker`). The URL's own options are read by the
 * adapter, when it is built.
 */
export function checkBrokerUrl(url: string, setting = 'broker'): void {
  if (transportOf(url)?.broker) return;
  const why = UNSUPPORTED[schemeOf(url)]?.broker;
  throw new ConfigurationError(setting, url, `${describeBrokerSchemes()}${why ? ` (${why})` : ''}`);
}

/** As checkBrokerUrl, for result backend URLs (`backend`, `CELERITY_RESULT_BACKEND`, `--backend`). */
export function checkBackendUrl(url: string, setting = 'backend'): void {
  if (transportOf(url)?.backend) return;
  const scheme = schemeOf(url);
  const why = UNSUPPORTED[scheme]?.backend ?? (scheme.startsWith('db+') ? 'of the SQL databases, Celerity keeps results in PostgreSQL only' : null);
  throw new ConfigurationError(setting, url, `${describeBackendSchemes()}${why ? ` (${why})` : ''}`);
}

/**
 * Builds the broker for `url`; call `connect()` on it before use (that is where an unreachable broker or unusable
 * file is reported, as a ConnectionError). A malformed URL is a ConfigurationError here.
 *
 * @example
 * const broker = await createBroker('sqlite://./celerity.db', { visibilityTimeout: 3600 });
 * await broker.connect();
 */
export async function createBroker(url: string, options: BrokerOptions): Promise<Broker> {
  checkBrokerUrl(url);
  return transportOf(url)!.broker!(url, options);
}

/**
 * A mailbox (remote control and events) on the transport of broker URL `url`, owned by the caller. The adapter is
 * loaded on first use; a URL no adapter takes is a ConfigurationError here, one whose transport has no mailbox too.
 */
export function openMailbox(url: string, options: MailboxOptions = {}): Mailbox {
  checkBrokerUrl(url);
  const load = transportOf(url)!.mailbox;
  if (!load) throw new ConfigurationError('broker', maskUrl(url), `a broker whose transport has remote control and events`);
  return new DeferredMailbox(() => load(url, options));
}

/** Whether the result backend of `url` (rpc://) needs its reply queue declared before the app sends a task. */
export function backendNeedsReplyQueue(url: string): boolean {
  return transportOf(url)?.replyQueue === true;
}

/**
 * Builds the result backend for `url`; call `connect()` on it before use (that is where an unusable file or an
 * unreachable server is reported, as a ConnectionError).
 *
 * @example
 * const backend = await createBackend('postgresql://app@db:5432/app', { resultExpires: 86_400 });
 * await backend.connect();
 */
export async function createBackend(url: string, options: BackendOptions): Promise<ResultBackend> {
  checkBackendUrl(url);
  return transportOf(url)!.backend!(url, options);
}
