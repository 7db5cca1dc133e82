/**
 * Opening a Redis connection for the broker, the result backend and the mailbox alike: the first connection error
 * fails at once (ioredis would keep retrying, and through Sentinel forever), and a server that accepts the
 * connection but never answers (a frozen or stopped Redis, another service on the port) fails after `connectMs`
 * instead of hanging. Commands on the connection then fail after `commandMs` without an answer; blocking
 * commands run on connections of their own (see `blockingOptions`), which have no such limit.
 */
import { Redis, type RedisOptions } from 'ioredis';
import { ConnectionError } from '../errors/index.js';
import { connectionFailure } from './url.js';

export interface OpenOptions {
  /** `host:port` or the socket path, never the password. */
  target: string;
  /** The error's message for a reason; default `cannot reach Redis at <target>: <reason>`. */
  message?: (reason: string) => string;
  connectionName: string;
  /** The first answer (PING) within this many ms, or ConnectionError. */
  connectMs: number;
  /** Each later command within this many ms, or it fails; undefined: no limit. */
  commandMs?: number;
  /** Names the setting that bounds the wait, for the timeout message. */
  connectSetting?: string;
}

/** A connected client whose PING was answered; ConnectionError naming the server otherwise. */
export async function openRedis(base: RedisOptions, o: OpenOptions): Promise<Redis> {
  const redis = new Redis({
    connectTimeout: o.connectMs,
    ...base,
    connectionName: o.connectionName,
    lazyConnect: true,
    commandTimeout: o.commandMs,
    // A command waits through two reconnection attempts, then fails, instead of queueing silently while Redis is
    // down.
    maxRetriesPerRequest: base.maxRetriesPerRequest === undefined ? 2 : base.maxRetriesPerRequest,
  });
  let timer: NodeJS.Timeout | undefined;
  let onError: ((err: Error) => void) | undefined;
  const failed = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`no answer within ${o.connectMs} ms${o.connectSetting ? ` (${o.connectSetting})` : ''}`)),
      o.connectMs,
    );
    onError = reject;
    redis.once('error', onError);
  });
  // Without a listener ioredis reports every failed reconnect as unhandled; commands report their own failures.
  redis.on('error', () => undefined);
  try {
    await Promise.race([redis.connect().then(() => redis.ping()), failed]);
  } catch (err) {
    redis.disconnect();
    const reason = connectionFailure(err);
    throw new ConnectionError(o.message ? o.message(reason) : `cannot reach Redis at ${o.target}: ${reason}`, { cause: err });
  } finally {
    clearTimeout(timer);
    if (onError) redis.off('error', onError);
  }
  return redis;
}

/** Options for a connection that runs blocking commands (BLMOVE, SUBSCRIBE): no per-command time limit. */
export const blockingOptions: Pick<RedisOptions, 'commandTimeout'> = { commandTimeout: undefined };
