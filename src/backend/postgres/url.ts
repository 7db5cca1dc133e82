/**
 * PostgreSQL result backend URLs, in libpq's form and in Celery's SQLAlchemy spelling:
 *
 *   postgresql://[user[:password]@]host[:port]/database[?option=value&...]
 *   postgres://...                             the same
 *   db+postgresql://...                        Celery's `database` backend URL: `db+` is dropped
 *   db+postgresql+psycopg2://...               ...and so is SQLAlchemy's `+driver`
 *
 * Options read here: `schema` (the PostgreSQL schema the tables live in, created if missing), `pool_size` (pooled
 * connections for statements, default 10), `connect_timeout` (seconds, libpq's name; default 5), and libpq's
 * `application_name` and `options`, which are combined with Celerity's own. Every other option (sslmode, ...)
 * goes to node-postgres as written.
 */
import { ConfigurationError } from '../../errors/index.js';
import { maskPassword } from '../../util/mask.js';

export interface PostgresUrl {
  /** The URL as node-postgres reads it: `postgresql://`, without the options Celerity handles itself. */
  connectionString: string;
  /** null = the connection's default (the first schema on its search_path, usually `public`). */
  schema: string | null;
  poolSize: number | null;
  connectTimeoutMs: number | null;
  /** libpq `options` given in the URL; the schema's search_path is added to them. */
  options: string | null;
  /** The URL's application_name (taken out: node-postgres would let it override the LISTEN connection's name). */
  applicationName: string | null;
  /** The URL as written with its password masked, for messages. */
  display: string;
}

/** `postgres`, `postgresql`, either with `db+` before and/or `+driver` after. */
export const POSTGRES_SCHEME = /^(?:db\+)?postgres(?:ql)?(?:\+[a-z0-9_]+)?$/i;

/**
 * Lower case letters, digits and `_`: the name is used unquoted in search_path (which folds case) and quoted in
 * CREATE SCHEMA, and only names that read the same both ways are safe. 48 characters leave room for the
 * notification channel (`celery_results.<schema>`) within PostgreSQL's 63.
 */
const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,47}$/;

const SETTING = 'backend';

export function parsePostgresUrl(url: string): PostgresUrl {
  const display = maskPassword(url);
  const m = /^([a-z][a-z0-9+.-]*):\/\//i.exec(url.trim());
  if (!m || !POSTGRES_SCHEME.test(m[1]!)) {
    throw new ConfigurationError(SETTING, display, 'a URL like postgresql://user@host:5432/database');
  }
  let u: URL;
  try {
    u = new URL(`postgresql://${url.trim().slice(m[0].length)}`);
  } catch {
    throw new ConfigurationError(SETTING, display, 'a URL like postgresql://user@host:5432/database');
  }
  const take = (name: string): string | null => {
    const value = u.searchParams.get(name);
    u.searchParams.delete(name);
    return value;
  };
  const schema = take('schema');
  if (schema !== null && !SCHEMA_NAME.test(schema)) {
    throw new ConfigurationError(
      `${SETTING} URL option schema`,
      schema,
      'a schema name of lower case letters, digits and _ (at most 48), not starting with a digit',
    );
  }
  const poolSize = take('pool_size');
  if (poolSize !== null && !/^[1-9]\d*$/.test(poolSize)) {
    throw new ConfigurationError(`${SETTING} URL option pool_size`, poolSize, 'a positive integer');
  }
  const connectTimeout = take('connect_timeout');
  const seconds = connectTimeout === null ? null : Number(connectTimeout);
  if (seconds !== null && !(seconds > 0)) {
    throw new ConfigurationError(`${SETTING} URL option connect_timeout`, connectTimeout, 'a positive number of seconds');
  }
  const options = take('options');
  const applicationName = take('application_name');
  return {
    connectionString: u.href,
    schema,
    poolSize: poolSize === null ? null : Number(poolSize),
    connectTimeoutMs: seconds === null ? null : Math.round(seconds * 1000),
    options,
    applicationName,
    display,
  };
}

/** The notification channel of a schema's results: one per schema, so tenants of one database do not cross. */
export function channelFor(schema: string | null): string {
  return schema === null ? 'celery_results' : `celery_results.${schema}`;
}
