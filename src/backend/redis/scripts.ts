/**
 * The Redis result backend's atomic operations, one Lua file each under `./lua/` (header: KEYS, ARGV, returns),
 * registered on a connection with ioredis `defineCommand` so they run by EVALSHA and also inside pipelines.
 * The files are read at runtime relative to this module, so the built package must carry them next to the
 * compiled JavaScript, as it does the SQLite adapters' `.sql` files.
 */
import { readAsset } from '../../util/assets.js';
import { luaScript } from '../../redis/framed.js';
import type { Redis, Result } from 'ioredis';

declare module 'ioredis' {
  interface RedisCommander<Context> {
    /** lua/incr.lua: the counter's new value. */
    celerityResultIncr(key: string, by: number, ttlMs: number): Result<number, Context>;
    /** lua/chord-part.lua: the parts as member, score, ... to the completing member, else null. */
    celerityChordPart(
      joinKey: string,
      adjustKey: string,
      sizeKey: string,
      completedKey: string,
      recordedKey: string,
      score: string,
      member: string,
      taskId: string,
      ttlMs: number,
    ): Result<string[] | null, Context>;
  }
}

/** Reads `name` (e.g. `set.lua`) from the `lua/` folder next to the module whose `import.meta.url` is `base`. */
export function readLua(base: string, name: string): string {
  return readAsset(base, `lua/${name}`);
}

/**
 * lua/set.lua: meta keys, then the ttl in ms and one meta per key; resolves to how many were written. Run with
 * evalFramed: a batch of results is one buffer rather than hundreds of arguments for ioredis to encode.
 */
export const SET_SCRIPT = luaScript(readLua(import.meta.url, 'set.lua'));

export function defineResultScripts(client: Redis): void {
  client.defineCommand('celerityResultIncr', { numberOfKeys: 1, lua: readLua(import.meta.url, 'incr.lua') });
  client.defineCommand('celerityChordPart', { numberOfKeys: 5, lua: readLua(import.meta.url, 'chord-part.lua') });
}
