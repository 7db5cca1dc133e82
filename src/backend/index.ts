/**
 * Result backend URLs to adapters, imported only when their scheme is used.
 */
import type { BackendOptions, ResultBackend } from './port.js';
import { ConfigurationError } from '../errors/index.js';
// Only the scheme pattern (no driver): node-postgres is loaded when a PostgreSQL URL is used.
import { POSTGRES_SCHEME } from './postgres/url.js';

export type { BackendOptions, ResultBackend } from './port.js';

/**
 * The schemes `createBackend` builds a result backend for, in the order messages list them. PostgreSQL also
 * takes SQLAlchemy's `+driver` (`postgresql+psycopg2://`, `db+postgresql+psycopg2://`): Celery's database backend
 * URLs work as they are.
 */
export const BACKEND_SCHEMES: readonly string[] = [
  'sqlite',
  'memory',
  'redis',
  'rediss',
  'unix',
  'redis+socket',
  'sentinel',
  'postgresql',
  'postgres',
  'db+postgresql',
];

/** Celery result backends a user may bring along, with why they do not work here. */
const UNSUPPORTED: Readonly<Record<string, string>> = {
  rpc: "Celery's rpc:// backend sends results as AMQP messages, and Celerity has no AMQP transport",
  amqp: "Celery's amqp:// backend sends results as AMQP messages, and Celerity has no AMQP transport",
  amqps: 'Celerity has no AMQP transport',
};

/**
 * Throws the ConfigurationError `createBackend` would for a URL whose scheme no adapter takes, without building
 * anything; the app calls it while compiling its settings, so a wrong URL fails at construction. `setting` names
 * where the URL came from (`backend`, `CELERITY_RESULT_BACKEND`, `--backend`). The URL's own options are read by
 * the adapter, when it is built.
 */
export function checkBackendUrl(url: string, setting = 'backend'): void {
  const scheme = schemeOf(url);
  if (BACKEND_SCHEMES.includes(scheme) || POSTGRES_SCHEME.test(scheme)) return;
  const why = UNSUPPORTED[scheme] ?? (scheme.startsWith('db+') ? 'of the SQL databases, Celerity keeps results in PostgreSQL only' : null);
  throw new ConfigurationError(setting, url, `${describeBackendSchemes()}${why ? ` (${why})` : ''}`);
}

/** `a result backend URL starting with sqlite://, ... or db+postgresql://`, for messages and the reference. */
export function describeBackendSchemes(): string {
  const schemes = BACKEND_SCHEMES.map((s) => `${s}://`);
  return `a result backend URL starting with ${schemes.slice(0, -1).join(', ')} or ${schemes[schemes.length - 1]}`;
}

/**
 * Builds the result backend for `url`; call `connect()` on it before use (that is where an unusable file or an
 * unreachable server is reported, as a ConnectionError). `redis+socket:///path` is Celery's spelling of unix://;
 * `sentinel://h1:26379;sentinel://h2:26379?master_name=mymaster` finds the Redis master through Sentinel.
 * `postgresql://user@host:5432/db` (also `postgres://`, and Celery's `db+postgresql://`) keeps results in PostgreSQL.
 *
 * @example
 * const backend = await createBackend('sqlite://./celerity.db', { resultExpires: 86_400 });
 * await backend.connect();
 */
export async function createBackend(url: string, options: BackendOptions): Promise<ResultBackend> {
  const scheme = schemeOf(url);
  switch (POSTGRES_SCHEME.test(scheme) ? 'postgresql' : scheme) {
    case 'memory': {
      const { MemoryBackend } = await import('./memory/index.js');
      return new MemoryBackend({ resultExpires: options.resultExpires });
    }
    case 'sqlite': {
      const [{ SqliteBackend }, { sqlitePathFromUrl }] = await Promise.all([
        import('./sqlite/index.js'),
        import('../sqlite/open.js'),
      ]);
      return new SqliteBackend({ path: sqlitePathFromUrl(url, 'backend'), resultExpires: options.resultExpires });
    }
    case 'redis':
    case 'rediss':
    case 'unix':
    case 'redis+socket':
    case 'sentinel': {
      const { RedisBackend } = await import('./redis/index.js');
      return new RedisBackend({ url, resultExpires: options.resultExpires });
    }
    case 'postgresql': {
      const { PostgresBackend } = await import('./postgres/index.js');
      return new PostgresBackend({ url, resultExpires: options.resultExpires });
    }
    default:
      checkBackendUrl(url);
      // Reached only if BACKEND_SCHEMES lists a scheme this switch does not build.
      throw new Error(`no result backend adapter for ${url.split(':', 1)[0]}://`);
  }
}

function schemeOf(url: string): string {
  const m = /^([a-z][a-z0-9+.-]*):\/\//i.exec(url);
  return m?.[1]?.toLowerCase() ?? '';
}
