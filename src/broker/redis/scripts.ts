/**
 * The Redis broker's atomic operations: one Lua file each in `./lua/`, headed by what it touches and returns.
 * They are read relative to this module (the build copies them next to the compiled JavaScript) and registered
 * with ioredis's defineCommand, which runs EVALSHA and loads the script on the first NOSCRIPT, so after the first
 * call each operation sends only its hash, keys and arguments.
 */
import { readAsset } from '../../util/assets.js';
import { luaScript } from '../../redis/framed.js';
import type { Redis } from 'ioredis';

type Arg = string | number | Buffer;
type Call = (numberOfKeys: number, ...keysAndArgs: Arg[]) => Promise<unknown>;

const FILES = {
  reserve: 'reserve.lua',
  ack: 'ack.lua',
  moveUnacked: 'move-unacked.lua',
  expired: 'expired.lua',
  unlock: 'unlock.lua',
  requeueDeadLetters: 'requeue-dead-letters.lua',
  purge: 'purge.lua',
  rateSlot: 'rate-slot.lua',
} as const;

export type ScriptName = keyof typeof FILES;

/**
 * Scripts whose replies carry queue items or unacked entries: answered as Buffers (ioredis's `...Buffer` form of
 * the command), since an item need not be UTF-8 and text decoded from it would no longer match what is stored.
 */
const BYTE_REPLIES: ReadonlySet<ScriptName> = new Set(['reserve', 'expired']);


/** Reads `name` from the `lua/` folder next to this module (cached: the files never change at runtime). */
export function readLua(name: string): string {
  return readAsset(import.meta.url, `lua/${name}`);
}

/**
 * ack.lua for evalFramed, which writes a batch of delivery tags as one buffer (ioredis encoding hundreds of
 * arguments one by one cost more than the script itself).
 */
export const ACK_SCRIPT = luaScript(readLua('ack.lua'));

/** Each script as a function taking its keys then its arguments. */
export type Scripts = Record<ScriptName, (keys: readonly string[], args: readonly Arg[]) => Promise<unknown>>;

/** Registers every script on `redis` and returns typed callers. */
export function defineScripts(redis: Redis): Scripts {
  const out = {} as Scripts;
  for (const [name, file] of Object.entries(FILES) as [ScriptName, string][]) {
    const command = `celerity_${name}`;
    redis.defineCommand(command, { lua: readLua(file) });
    const method = BYTE_REPLIES.has(name) ? `${command}Buffer` : command;
    const call = (redis as unknown as Record<string, Call>)[method]!.bind(redis);
    out[name] = (keys, args) => call(keys.length, ...keys, ...args);
  }
  return out;
}
