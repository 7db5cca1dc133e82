/**
 * The Redis result backend's atomic operations, one Lua file each under `./lua/` (header: KEYS, ARGV, returns),
 * registered on a connection with ioredis `defineCommand` so they run by EVALSHA and also inside pipelines.
 * The files are read at runtime relative to this module, so the built package must carry them next to the
 * compiled JavaScript, as it does the SQLite adapters' `.sql` files.
 */
import { readFileSync } from 'node:fs';
import type { Redis, Result } from 'ioredis';

declare module 'ioredis' {
  interface RedisCommander<Context> {
    /** lua/set.lua: 1 = written and published, 0 = a stored SUCCESS was kept. */
    celerityResultSet(key: string, meta: string, ttlMs: number): Result<number, Context>;
    /** lua/incr.lua: the counter's new value. */
    celerityResultIncr(key: string, by: number, ttlMs: number): Result<number, Context>;
  }
}

const cache = new Map<string, string>();

/** Reads `name` (e.g. `set.lua`) from the `lua/` folder next to the module whose `import.meta.url` is `base`. */
export function readLua(base: string, name: string): string {
  const url = new URL(`./lua/${name}`, base);
  let text = cache.get(url.href);
  if (text === undefined) {
    text = readFileSync(url, 'utf8');
    cache.set(url.href, text);
  }
  return text;
}

export function defineResultScripts(client: Redis): void {
  client.defineCommand('celerityResultSet', { numberOfKeys: 1, lua: readLua(import.meta.url, 'set.lua') });
  client.defineCommand('celerityResultIncr', { numberOfKeys: 1, lua: readLua(import.meta.url, 'incr.lua') });
}
