/**
 * Celery's Redis result backend layout: each task's meta is JSON text at `celery-task-meta-<id>`, written with
 * SETEX (SET when results never expire) and published on a channel named like the key. No key means PENDING.
 * Python Celery clients read what this writes and the other way round.
 *
 * Saved groups and chord joins use Celery's keys too (`celery-taskset-meta-<gid>` and its `.j`, `.t`, `.s`), so a
 * chord's members may be Python and TypeScript tasks alike.
 *
 * One command connection serves reads and writes; `waitFor` and `watch` add one pub/sub connection per backend,
 * opened on first use and shared by every waiter (see ./subscriber.ts). Writes and counters are Lua scripts in ./lua/.
 */
import type { Redis } from 'ioredis';
import { type RedisOptions } from 'ioredis';
import type { ChordPart, GroupMeta, ResultBackend, SetOptions, WaitOptions, WatchOptions } from '../port.js';
import type { ResultMeta } from '../../protocol/types.js';
import { decodeResultMeta, encodeResultMeta } from '../../protocol/result-meta.js';
import { parseJson, pyDumps } from '../../protocol/json.js';
import { ConnectionError, DecodeError } from '../../errors/index.js';
import { awaitResult, untilAborted } from '../wait.js';
import { keyNames, type KeyNames } from './keys.js';
import { defineResultScripts, SET_SCRIPT } from './scripts.js';
import { quit, ResultSubscriber } from './subscriber.js';
import { backendUrlOptions } from './url.js';
import { evalFramed } from '../../redis/framed.js';
import { connectionFailure } from '../../redis/url.js';
import { openRedis } from '../../redis/connect.js';
import type { ScheduleStore } from '../schedules.js';
import { RedisScheduleStore } from './schedules.js';

export interface RedisBackendOptions {
  /** redis://, rediss://, unix:// or sentinel:// URL; `?global_keyprefix=` prefixes every key and channel. */
  url: string;
  /** Default result lifetime in seconds; 0 = forever. */
  resultExpires: number;
  /** How long `connect()` waits for the first PING, ms. Default the URL's socket_connect_timeout, else 5000. */
  connectTimeoutMs?: number;
  /** How long a command (a result read or write) may wait for its answer, ms. Default no limit. */
  commandTimeoutMs?: number;
  /** CLIENT SETNAME of the command connection; the subscriber is named `<name>:sub`. Default `celerity:backend`. */
  connectionName?: string;
}

export class RedisBackend implements ResultBackend {
  private client: Redis | null = null;
  private subscriber: ResultSubscriber | null = null;
  private connecting: Promise<void> | null = null;
  private readonly redisOptions: RedisOptions;
  private readonly keys: KeyNames;
  /** host:port or socket path, for messages. */
  private readonly target: string;
  private scheduleStore: RedisScheduleStore | null = null;

  constructor(private readonly options: RedisBackendOptions) {
    const parsed = backendUrlOptions(options.url);
    this.redisOptions = parsed.redis;
    this.keys = keyNames(parsed.globalKeyprefix);
    this.target = parsed.target;
  }

  /** PINGs the server; an unreachable or refusing server is a ConnectionError naming host:port. */
  async connect(): Promise<void> {
    if (this.client) return;
    // Concurrent callers share one attempt rather than each opening a connection.
    this.connecting ??= this.establish().finally(() => (this.connecting = null));
    return this.connecting;
  }

  private async establish(): Promise<void> {
    const client = await openRedis(
      // A result command keeps ioredis's default of 20 reconnection attempts (the broker's fail after 2, so the
      // worker backs off instead): a write that outlives a short Redis restart is stored instead of retried.
      { ...this.redisOptions, maxRetriesPerRequest: this.redisOptions.maxRetriesPerRequest ?? 20 },
      {
        message: (reason) => `Redis result backend at ${this.target} is unreachable: ${reason}`,
        target: this.target,
        connectionName: this.options.connectionName ?? 'celerity:backend',
        connectMs: this.redisOptions.connectTimeout ?? this.options.connectTimeoutMs ?? 5000,
        commandMs: this.options.commandTimeoutMs,
        connectSetting: 'redisSocketConnectTimeout',
      },
    );
    defineResultScripts(client);
    this.client = client;
    this.subscriber = new ResultSubscriber({
      open: () => this.openSubscriber(client),
      read: (keys) => this.command(client.mgetBuffer(keys)),
      failure: (err) => this.failure(err),
    });
  }

  async get(taskId: string): Promise<ResultMeta | null> {
    const raw = await this.command(this.open().getBuffer(this.keys.task(taskId)));
    return raw ? decodeResultMeta(raw) : null;
  }

  async mget(taskIds: readonly string[]): Promise<(ResultMeta | null)[]> {
    if (taskIds.length === 0) return [];
    const raws = await this.command(this.open().mgetBuffer(taskIds.map((id) => this.keys.task(id))));
    return raws.map((raw) => (raw ? decodeResultMeta(raw) : null));
  }

  async set(taskId: string, meta: ResultMeta, options?: SetOptions): Promise<void> {
    await this.setMany([{ taskId, meta }], options);
  }

  /** One script call for the whole batch: a single round trip however many results a worker finished in one tick. */
  async setMany(entries: readonly { taskId: string; meta: ResultMeta }[], options?: SetOptions): Promise<void> {
    if (entries.length === 0) return;
    const keys = entries.map((e) => this.keys.task(e.taskId));
    const args = [String(this.ttlMs(options))];
    for (const e of entries) args.push(encode(e.taskId, e.meta));
    await this.command(evalFramed(this.open(), SET_SCRIPT, keys, args));
  }

  async delete(taskId: string): Promise<void> {
    await this.command(this.open().del(this.keys.task(taskId)));
  }

  async incr(key: string, by = 1, options?: SetOptions): Promise<number> {
    return this.command(this.open().celerityResultIncr(this.keys.other(key), by, this.ttlMs(options)));
  }

  /** Celery's `set_chord_size`: the size as decimal text at `<gid>.s`, with the result expiry. */
  async setChordSize(groupId: string, size: number, options?: SetOptions): Promise<void> {
    await this.store(this.keys.group(groupId, '.s'), String(size), options);
  }

  /** One script call (lua/chord-part.lua): recording the part and deciding completion are one atomic step. */
  async chordPartReturn(groupId: string, part: ChordPart, options?: SetOptions): Promise<ChordPart[] | null> {
    const key = (suffix: string) => this.keys.group(groupId, suffix);
    // The member exactly as Celery's on_chord_part_return encodes it, so that a redelivery of a member first
    // recorded by Python (or the other way round) is the same sorted-set member and counts once.
    const member = pyDumps([1, part.taskId, part.status, part.result ?? null]);
    const score = part.groupIndex === null ? '+inf' : String(part.groupIndex);
    const reply = await this.command(
      this.open().celerityChordPart(key('.j'), key('.t'), key('.s'), key('.f'), key('.i'), score, member, part.taskId, this.ttlMs(options)),
    );
    return reply ? decodeParts(groupId, reply) : null;
  }

  async chordDone(groupId: string): Promise<void> {
    await this.command(this.open().del(this.keys.group(groupId, '.j'), this.keys.group(groupId, '.f'), this.keys.group(groupId, '.i')));
  }

  /** Celery's `_save_group`: `{"result": <GroupResult.as_tuple()>}` as JSON text at `celery-taskset-meta-<gid>`. */
  async saveGroup(groupId: string, meta: GroupMeta, options?: SetOptions): Promise<void> {
    await this.store(this.keys.group(groupId), pyDumps({ result: meta.result ?? null }), options);
  }

  async getGroup(groupId: string): Promise<GroupMeta | null> {
    const raw = await this.command(this.open().get(this.keys.group(groupId)));
    if (raw === null) return null;
    const saved = parseJson(raw, `saved group ${groupId}`);
    if (typeof saved !== 'object' || saved === null || !('result' in saved)) {
      throw new DecodeError(`saved group ${groupId} must be a JSON object with a 'result' member`);
    }
    return { result: saved.result };
  }

  async deleteGroup(groupId: string): Promise<void> {
    await this.command(this.open().del(this.keys.group(groupId)));
  }

  async waitFor(taskId: string, options: WaitOptions = {}): Promise<ResultMeta> {
    this.open();
    const subscriber = this.subscriber!;
    if (options.signal?.aborted) throw options.signal.reason;
    const key = this.keys.task(taskId);
    return awaitResult(taskId, options, (settle) => subscriber.watch(key, settle));
  }

  /**
   * Every state the set script publishes on the task's key (it publishes each one, as Celery's `set` does), on the
   * pub/sub connection `waitFor` uses: each write is delivered, in order.
   */
  async watch(taskId: string, onMeta: (meta: ResultMeta) => void, options: WatchOptions = {}): Promise<() => void> {
    this.open();
    const { signal } = options;
    if (signal?.aborted) throw signal.reason;
    return untilAborted(this.subscriber!.follow(this.keys.task(taskId), onMeta, options.onError), signal);
  }

  /** Nothing to do: Redis deletes expired keys itself (Celery's `supports_autoexpire`), so this removes none. */
  async cleanup(): Promise<number> {
    return 0;
  }

  /**
   * The schedule store on this backend's command connection, under `celerity:beat:` after the global key prefix.
   * It may be taken before `connect()` and follows the backend across a close and reconnect.
   */
  schedules(): ScheduleStore {
    return (this.scheduleStore ??= new RedisScheduleStore({
      client: () => this.open(),
      command: (pending) => this.command(pending),
      key: (name) => this.keys.other(name),
    }));
  }

  /** Rejects pending `waitFor` calls and ends every `watch` with ConnectionError, and closes both connections. */
  async close(): Promise<void> {
    const { client, subscriber } = this;
    this.client = null;
    this.subscriber = null;
    await subscriber?.close(new ConnectionError('result backend closed while waiting'));
    if (client) await quit(client);
  }

  // ---- internals --------------------------------------------------------------------------------------------

  private openSubscriber(client: Redis): Redis {
    // Waiting for messages is no command, so the command timeout bounds only SUBSCRIBE and UNSUBSCRIBE here.
    const conn = client.duplicate({
      connectionName: `${this.options.connectionName ?? 'celerity:backend'}:sub`,
      // The subscriber restores its channels itself after a reconnect, then reads what it missed.
      autoResubscribe: false,
      // A SUBSCRIBE waits for the connection to come back; each waiter has its own timeout.
      maxRetriesPerRequest: null,
      // ioredis 5 writes a SUBSCRIBE made while it is still connecting ahead of its ready check (INFO), which then
      // fails with "Connection in subscriber mode" and rejects every pending waiter (ioredis#2037); waiters arrive
      // at any time, so any reconnect (restart, failover) can hit it. Without the check ioredis also skips its
      // Sentinel role check, which a subscriber can do without: PUBLISH replicates, so a replica hears results too.
      enableReadyCheck: false,
    });
    this.watchErrors(conn);
    return conn;
  }

  /**
   * ioredis reports connection trouble as 'error' events and reconnects by itself; without a listener Node would
   * treat each as unhandled. Callers see the failure on the command they are waiting for.
   */
  private watchErrors(conn: Redis): void {
    conn.on('error', () => undefined);
  }

  /** Runs a command, turning transport failures into ConnectionError; errors Redis replied with pass unchanged. */
  private async command<T>(pending: Promise<T>): Promise<T> {
    try {
      return await pending;
    } catch (err) {
      throw this.failure(err);
    }
  }

  private failure(err: unknown): unknown {
    if ((err as Error).name === 'ReplyError') return err;
    return new ConnectionError(`Redis result backend at ${this.target}: ${connectionFailure(err)}`, { cause: err });
  }

  /**
   * Writes `value` at `key` the way Celery's key-value `set` does: SETEX with whole seconds, SET without expiry
   * (PSETEX only for a ttl in ms that Celery, counting in seconds, cannot give). Celery also PUBLISHes such
   * values on the key, but only task keys have subscribers, so that is left out.
   */
  private async store(key: string, value: string, options: SetOptions | undefined): Promise<void> {
    const client = this.open();
    const ttl = this.ttlMs(options);
    if (ttl === 0) await this.command(client.set(key, value));
    else if (ttl % 1000 === 0) await this.command(client.setex(key, ttl / 1000, value));
    else await this.command(client.psetex(key, ttl, value));
  }

  private ttlMs(options: SetOptions | undefined): number {
    const ttl = options?.ttlMs ?? this.options.resultExpires * 1000;
    return ttl > 0 ? Math.max(1, Math.round(ttl)) : 0;
  }

  private open(): Redis {
    if (!this.client) throw new ConnectionError('Redis result backend is not connected (call connect() first)');
    return this.client;
  }
}

function encode(taskId: string, meta: ResultMeta): string {
  return encodeResultMeta(meta, taskId);
}

/**
 * ZRANGE WITHSCORES of `<gid>.j` to parts: each member is `[1, task_id, state, result]` (Celery's encoding, whoever
 * wrote it), its score the group index, `inf` for a member without one. Already in header order: the sorted set
 * orders by score, and members of equal score (only +inf ones) by their bytes, not by arrival.
 */
function decodeParts(groupId: string, reply: string[]): ChordPart[] {
  const parts: ChordPart[] = [];
  for (let i = 0; i + 1 < reply.length; i += 2) {
    const tuple = parseJson(reply[i]!, `chord part of ${groupId}`);
    if (!Array.isArray(tuple) || tuple.length !== 4 || typeof tuple[1] !== 'string' || typeof tuple[2] !== 'string') {
      throw new DecodeError(`chord part of ${groupId} must be [1, task_id, state, result], got ${reply[i]!.slice(0, 60)}`);
    }
    const score = reply[i + 1]!;
    parts.push({
      taskId: tuple[1],
      groupIndex: score === 'inf' || score === '+inf' ? null : Number(score),
      status: tuple[2],
      result: tuple[3] as unknown,
    });
  }
  return parts;
}
