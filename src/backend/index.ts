/**
 * Result backend URLs to adapters, imported only when their scheme is used.
 */
import type { BackendOptions, ResultBackend } from './port.js';
import { ConfigurationError } from '../errors/index.js';
// Only the scheme pattern (no driver): node-postgres is loaded when a PostgreSQL URL is used.
import { POSTGRES_SCHEME } from './postgres/url.js';

export type { BackendOptions, ResultBackend } from './port.js';

const SUPPORTED =
  'a result backend URL starting with sqlite://, memory://, redis://, rediss://, unix://, sentinel://, ' +
  'postgresql://, postgres:// or db+postgresql://';

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
      throw new ConfigurationError('backend', url, SUPPORTED);
  }
}

function schemeOf(url: string): string {
  const m = /^([a-z][a-z0-9+.-]*):\/\//i.exec(url);
  return m?.[1]?.toLowerCase() ?? '';
}
