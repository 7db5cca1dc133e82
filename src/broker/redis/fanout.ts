/**
 * What the control and event modules share on Redis: the names kombu 5.2's Redis transport gives fanout
 * channels, bindings and queue lists (kombu/transport/redis.py), and opening connections with one clear error.
 *
 * - Fanout: `PUBLISH <global_keyprefix>/<db>.<exchange>[/<routing_key>]` (`Channel._get_publish_topic`: the
 *   `/{db}.` part is `keyprefix_fanout`, formatted with the connection's database; the routing key is appended
 *   only when it is non-empty and `fanout_patterns` is on, the default). Subscribers PSUBSCRIBE the same text
 *   built from their binding key with `#` turned into `*`. The global key prefix is prepended to PUBLISH and
 *   PSUBSCRIBE arguments like to any key (`PrefixedStrictRedis`, `PrefixedRedisPubSub`).
 * - Bindings: `SADD _kombu.binding.<exchange> "<routing_key>\x06\x16<pattern>\x06\x16<queue>"`.
 * - A queue is up to four lists: the bare name, then `<queue>\x06\x16<3|6|9>`.
 */
import type { Redis } from 'ioredis';
import type { RedisOptions } from 'ioredis';
import { PRIORITY_STEPS, SEP } from './keys.js';
import { parseRedisUrl } from '../../redis/url.js';
import { blockingOptions, openRedis } from '../../redis/connect.js';

/** Where to connect, and kombu's naming options. */
export interface RedisTargetOptions {
  /** The broker URL (`redis://`, `rediss://`, `unix://`, `redis+socket://`, `sentinel://`). */
  url: string;
  /** kombu's `global_keyprefix` transport option; overrides the URL's `global_keyprefix`. */
  globalKeyprefix?: string;
  /**
   * kombu's `fanout_prefix` transport option: true (default) puts `/<db>.` before exchange names, so databases of
   * one server do not hear each other; false puts nothing; a string is used as is (`{db}` is replaced).
   */
  fanoutPrefix?: boolean | string;
  /** kombu's `fanout_patterns` transport option (default true): routing keys become part of channel names. */
  fanoutPatterns?: boolean;
  /** How long connecting may take, ms; default the URL's socket_connect_timeout, else 4000 (kombu's). */
  connectTimeoutMs?: number;
  /** How long a command may wait for its answer, ms; default no limit. */
  commandTimeoutMs?: number;
}

/**
 * The query options a broker URL may carry besides the connection's own: those RedisBroker reads, so that the
 * same URL works for the broker, control and events.
 */
const BROKER_URL_PARAMS = ['global_keyprefix', 'priority_order', 'delayed_delivery'];

export interface RedisTarget {
  redis: RedisOptions;
  connectMs: number;
  commandMs: number | undefined;
  /** For messages: `host:port`, never the password. */
  target: string;
  names: KombuNames;
}

export function resolveTarget(options: RedisTargetOptions): RedisTarget {
  const url = parseRedisUrl(options.url, { setting: 'broker', params: BROKER_URL_PARAMS });
  const prefix = options.globalKeyprefix ?? url.params.get('global_keyprefix') ?? '';
  const db = url.redis.db ?? 0;
  const fanout = options.fanoutPrefix ?? true;
  const fanoutPrefix = fanout === true ? `/${db}.` : fanout === false ? '' : fanout.replace(/\{db\}/g, String(db));
  return {
    redis: url.redis,
    connectMs: url.redis.connectTimeout ?? options.connectTimeoutMs ?? CONNECT_TIMEOUT_MS,
    commandMs: options.commandTimeoutMs,
    target: url.target,
    names: new KombuNames(prefix, fanoutPrefix, options.fanoutPatterns ?? true),
  };
}

export class KombuNames {
  constructor(
    /** `global_keyprefix`, prepended to every key and channel. */
    readonly prefix: string,
    /** kombu's `keyprefix_fanout` after formatting: `/0.` by default. */
    readonly fanoutPrefix: string,
    readonly fanoutPatterns: boolean,
  ) {}

  key(name: string): string {
    return `${this.prefix}${name}`;
  }

  /** The channel a message to `exchange` with `routingKey` is PUBLISHed on. */
  channel(exchange: string, routingKey = ''): string {
    const topic = routingKey && this.fanoutPatterns ? `${exchange}/${routingKey}` : exchange;
    return `${this.prefix}${this.fanoutPrefix}${topic}`;
  }

  /** The PSUBSCRIBE pattern of a queue bound to `exchange` with `bindingKey` (`#` becomes `*`, as in kombu). */
  subscription(exchange: string, bindingKey = ''): string {
    return this.channel(exchange, bindingKey.replace(/#/g, '*'));
  }

  /** The set of an exchange's bindings. */
  bindings(exchange: string): string {
    return this.key(`_kombu.binding.${exchange}`);
  }

  static bindingMember(routingKey: string, pattern: string, queue: string): string {
    return [routingKey, pattern, queue].join(SEP);
  }

  /** A queue's lists in the order kombu's consumers BRPOP them (priority step 0 first). */
  queueLists(queue: string): string[] {
    return PRIORITY_STEPS.map((step) => this.key(step === 0 ? queue : `${queue}${SEP}${step}`));
  }
}

/** kombu's default connect timeout (Celery's broker_connection_timeout, 4 s). */
const CONNECT_TIMEOUT_MS = 4_000;

/** A connected client whose PING was answered, or a ConnectionError naming the server (see redis/connect.ts). */
export function connectRedis(target: RedisTarget, connectionName: string): Promise<Redis> {
  return openRedis(target.redis, {
    target: target.target,
    connectionName,
    connectMs: target.connectMs,
    commandMs: target.commandMs,
    connectSetting: 'brokerConnectionTimeout',
  });
}

/** A second connection to the same server, for subscribing (a subscribed connection can do nothing else). */
export function duplicateConnection(redis: Redis, connectionName: string, target: RedisTarget): Promise<Redis> {
  return openRedis({ ...redis.options, ...blockingOptions }, {
    target: target.target,
    connectionName,
    connectMs: target.connectMs,
    connectSetting: 'brokerConnectionTimeout',
  });
}

/** QUIT, or drop the socket when the server cannot be told. */
export async function quit(redis: Redis): Promise<void> {
  if (redis.status === 'end') return;
  await redis.quit().catch(() => redis.disconnect());
}
