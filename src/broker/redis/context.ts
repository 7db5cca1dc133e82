/**
 * What the broker's operation modules share: the command connection, its scripts, the key names, and `run`,
 * which turns a lost connection into a ConnectionError naming the server.
 */
import type { Redis } from 'ioredis';
import type { RedisKeys } from './keys.js';
import type { Scripts } from './scripts.js';

export interface RedisContext {
  redis: Redis;
  scripts: Scripts;
  keys: RedisKeys;
  run<T>(promise: Promise<T>): Promise<T>;
}
