/**
 * Broker URLs to adapters. Adapters are imported only when their scheme is used, so an application on the
 * embedded store never loads a Redis or AMQP client.
 */
import type { Broker, BrokerOptions } from './port.js';
import { ConfigurationError } from '../errors/index.js';

export type { Broker, BrokerOptions } from './port.js';

const SUPPORTED =
  'a broker URL starting with sqlite://, memory://, redis://, rediss://, unix:// or sentinel:// ' +
  '(amqp:// is not supported yet)';

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
      throw new ConfigurationError('broker', url, SUPPORTED);
  }
}

function schemeOf(url: string): string {
  const m = /^([a-z][a-z0-9+.-]*):\/\//i.exec(url);
  return m?.[1]?.toLowerCase() ?? '';
}
