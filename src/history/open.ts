/**
 * Opening the task history by URL. The store adapters are imported only when their scheme is used, so a history on
 * the embedded store never loads the PostgreSQL client.
 */
import { ConfigurationError } from '../errors/index.js';
// Only the scheme pattern (no driver): node-postgres is loaded when a PostgreSQL URL is used.
import { POSTGRES_SCHEME } from '../backend/postgres/url.js';
import type { HistoryOptions, HistoryStore } from './port.js';

const SETTING = 'historyUrl';

/** Where the history goes when nothing says otherwise: a file of its own beside the working directory. */
export const DEFAULT_HISTORY_URL = 'sqlite://./celerity-history.db';

const EXPECTED = 'a task history URL starting with sqlite://, postgres:// or postgresql://';

function schemeOf(url: string): string {
  return /^([a-z][a-z0-9+.-]*):\/\//i.exec(url.trim())?.[1]?.toLowerCase() ?? '';
}

function isHistoryScheme(scheme: string): boolean {
  return scheme === 'sqlite' || POSTGRES_SCHEME.test(scheme);
}

/**
 * The history's URL: the `historyUrl` setting when set; else the result backend's URL when that is a SQLite file or
 * a PostgreSQL database (the history then lives beside the results, in tables of its own); else
 * DEFAULT_HISTORY_URL.
 */
export function historyUrlFor(conf: { historyUrl?: string | null; backend?: string | null }): string {
  if (conf.historyUrl) return conf.historyUrl;
  if (conf.backend && isHistoryScheme(schemeOf(conf.backend))) return conf.backend;
  return DEFAULT_HISTORY_URL;
}

/**
 * Builds and connects the store for `url` (calling `connect()` on it again is a no-op). A URL of another scheme is
 * a ConfigurationError naming `historyUrl`; an unusable file or unreachable server, a ConnectionError.
 *
 * @example
 * const history = await openHistoryStore(historyUrlFor(app.conf), { busyTimeout: app.conf.sqliteBusyTimeout });
 */
export async function openHistoryStore(url: string, options: HistoryOptions = {}): Promise<HistoryStore> {
  const scheme = schemeOf(url);
  let store: HistoryStore;
  if (scheme === 'sqlite') {
    const { sqlitePathFromUrl } = await import('../sqlite/open.js');
    const { SqliteHistoryStore } = await import('./sqlite.js');
    const busyTimeoutMs = options.busyTimeout === undefined ? undefined : Math.round(options.busyTimeout * 1000);
    store = new SqliteHistoryStore({ path: sqlitePathFromUrl(url, SETTING), ...(busyTimeoutMs === undefined ? {} : { busyTimeoutMs }) });
  } else if (POSTGRES_SCHEME.test(scheme)) {
    const { PostgresHistoryStore } = await import('./postgres.js');
    store = new PostgresHistoryStore({ url });
  } else {
    throw new ConfigurationError(SETTING, url, EXPECTED);
  }
  await store.connect();
  return store;
}
