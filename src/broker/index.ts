/**
 * Broker URLs to adapters. Adapters are imported only when their scheme is used, so an application on the
 * embedded store never loads a Redis or AMQP client.
 */
import type { Broker, BrokerOptions } from './port.js';
import { ConfigurationError } from '../errors/index.js';

export type { Broker, BrokerOptions } from './port.js';

/** The schemes `createBroker` builds a broker for, in the order messages list them. */
export const BROKER_SCHEMES: readonly string[] = ['sqlite', 'memory', 'redis', 'rediss', 'unix', 'redis+socket', 'sentinel'];

/** Celery broker schemes a user may bring along, with why they do not work here. */
const UNSUPPORTED: Readonly<Record<string, string>> = {
  amqp: 'Celerity has no AMQP transport',
  amqps: 'Celerity has no AMQP transport',
  pyamqp: 'Celerity has no AMQP transport',
  librabbitmq: 'Celerity has no AMQP transport',
  sqs: 'Celerity has no SQS transport',
};

/**
 * Throws the ConfigurationError `createBroker` would for a URL whose scheme no adapter takes, without building
 * anything; the app calls it while compiling its settings, so a wrong URL fails at construction. `setting` names
 * where the URL came from (`broker`, `CELERITY_BROKER_URL`, `--broker`). The URL's own options are read by the
 * adapter, when it is built.
 */
export function checkBrokerUrl(url: string, setting = 'broker'): void {
  const scheme = schemeOf(url);
  if (BROKER_SCHEMES.includes(scheme)) return;
  const why = UNSUPPORTED[scheme];
  throw new ConfigurationError(setting, url, `${describeBrokerSchemes()}${why ? ` (${why})` : ''}`);
}

/** `a broker URL starting with sqlite://, ... or sentinel://`, for messages and the settings reference. */
export function describeBrokerSchemes(): string {
  const schemes = BROKER_SCHEMES.map((s) => `${s}://`);
  return `a broker URL starting with ${schemes.slice(0, -1).join(', ')} or ${schemes[schemes.length - 1]}`;
}

/**
 * Builds the broker for `url`; call `connect()` on it before use (that is where an unreachable broker or unusable
 * file is reported, as a ConnectionError). A malformed URL is a ConfigurationError here. `redis+socket:///path`
 * is kombu's spelling of unix://; `sentinel://h1:26379;sentinel://h2:26379?master_name=mymaster` finds the Redis
 * master through Sentinel. Redis URLs also take `?global_keyprefix=`, `?priority_order=` and `?delayed_delivery=`
 * (see docs/redis.md).
 *
 * @example
 * const broker = await createBroker('sqlite://./celerity.db', { visibilityTimeout: 3600 });
 * await broker.connect();
 */
export async function createBroker(url: string, options: BrokerOptions): Promise<Broker> {
  switch (schemeOf(url)) {
    case 'memory': {
      const { MemoryBroker } = await import('./memory/index.js');
      return new MemoryBroker({ visibilityTimeout: options.visibilityTimeout });
    }
    case 'sqlite': {
      const [{ SqliteBroker }, { sqlitePathFromUrl }] = await Promise.all([
        import('./sqlite/index.js'),
        import('../sqlite/open.js'),
      ]);
      return new SqliteBroker({ path: sqlitePathFromUrl(url, 'broker'), visibilityTimeout: options.visibilityTimeout });
    }
    case 'redis':
    case 'rediss':
    case 'unix':
    case 'redis+socket':
    case 'sentinel': {
      const { RedisBroker } = await import('./redis/index.js');
      return new RedisBroker({ url, visibilityTimeout: options.visibilityTimeout });
    }
    default:
      checkBrokerUrl(url);
      // Reached only if BROKER_SCHEMES lists a scheme this switch does not build.
      throw new Error(`no broker adapter for ${url.split(':', 1)[0]}://`);
  }
}

/** The URL's scheme in lower case, '' when it has none (`redis//host`, a bare path). */
function schemeOf(url: string): string {
  const m = /^([a-z][a-z0-9+.-]*):\/\//i.exec(url);
  return m?.[1]?.toLowerCase() ?? '';
}
