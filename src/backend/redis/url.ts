/**
 * The result backend's reading of a Redis URL: the shared connection options (src/redis/url.ts) plus its own
 * `global_keyprefix`.
 */
import type { RedisOptions } from 'ioredis';
import { parseRedisUrl } from '../../redis/url.js';

export interface BackendUrlOptions {
  redis: RedisOptions;
  /** Prepended to every key and channel; '' for none. */
  globalKeyprefix: string;
  /** host:port or the socket path, for messages (never the password). */
  target: string;
}

/** ioredis options for a redis://, rediss://, unix:// or redis+socket:// URL, as the result backend reads it. */
export function redisOptionsFromUrl(url: string): RedisOptions {
  return backendUrlOptions(url).redis;
}

export function backendUrlOptions(url: string): BackendUrlOptions {
  const parsed = parseRedisUrl(url, { setting: 'backend', params: ['global_keyprefix'] });
  return { redis: parsed.redis, globalKeyprefix: parsed.params.get('global_keyprefix') ?? '', target: parsed.target };
}
