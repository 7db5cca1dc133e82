/**
 * Every `waitFor` of one backend shares a single pub/sub connection. Celery subscribes per result and its
 * subscriptions leak when a caller stops waiting; here a channel is subscribed while it has waiters and dropped
 * with the last one, and the number of connections never grows with the number of waiters.
 *
 * Order matters: a waiter's channel is subscribed (and the subscription confirmed) before the current value is
 * read, so a result written in between is either seen by the read or delivered by the publish. After the
 * connection drops and comes back, every waited-for channel is subscribed again and all their values are read in
 * one MGET, so results written while it was down are not missed.
 */
import type { Redis } from 'ioredis';
import type { ResultMeta } from '../../protocol/types.js';
import { READY_STATES } from '../../protocol/types.js';
import { decodeResultMeta } from '../../protocol/result-meta.js';
import type { Settle } from '../wait.js';

interface Follower {
  onMeta(meta: ResultMeta): void;
  onError?(err: unknown): void;
}

interface Channel {
  waiters: Set<Settle>;
  /** Followers of every state (`follow`): each published value is handed to them, ready or not. */
  followers: Set<Follower>;
  /** Settles when Redis confirmed the SUBSCRIBE; later waiters on the channel read only after it. */
  subscribed: Promise<unknown>;
}

export interface SubscriberDeps {
  /** Opens the dedicated connection (not yet connected is fine: ioredis queues the first SUBSCRIBE). */
  open(): Redis;
  /** Reads stored values on the command connection, in the order asked. */
  read(keys: string[]): Promise<(Buffer | null)[]>;
  /** The error a waiter gets for a failed SUBSCRIBE (the connection's own error, described). */
  failure(err: unknown): unknown;
}

export class ResultSubscriber {
  private conn: Redis | null = null;
  private readonly channels = new Map<string, Channel>();
  /** Set once the connection was ready, so that a later 'ready' is known to be a reconnect. */
  private wasReady = false;

  constructor(private readonly deps: SubscriberDeps) {}

  /** Channels currently subscribed for waiters (for tests and diagnostics). */
  get size(): number {
    return this.channels.size;
  }

  /**
   * Adds a waiter on `key` and checks the stored value once subscribed. Returns the function that removes it;
   * `settle` is called at most once by this class, and read or connection failures reject it.
   */
  watch(key: string, settle: Settle): () => void {
    const channel = this.channel(key);
    channel.waiters.add(settle);
    const { subscribed } = channel;
    subscribed
      .then(
        () => this.deps.read([key]),
        (err: unknown) => Promise.reject(this.deps.failure(err)),
      )
      .then(([raw]) => {
        if (raw) this.deliver(key, raw);
      })
      .catch((err: unknown) => settle.reject(err));
    return () => this.unwatch(key, settle);
  }

  /**
   * Hands every value published on `key` to `onMeta`, in publish order, until the returned function is called.
   * Resolves once Redis confirmed the SUBSCRIBE (later publishes are then delivered); nothing stored is read here.
   */
  async follow(key: string, onMeta: Follower['onMeta'], onError?: Follower['onError']): Promise<() => void> {
    const channel = this.channel(key);
    const follower: Follower = { onMeta, onError };
    channel.followers.add(follower);
    const stop = (): void => {
      if (channel.followers.delete(follower)) this.release(key);
    };
    try {
      await channel.subscribed;
    } catch (err) {
      stop();
      throw this.deps.failure(err);
    }
    return stop;
  }

  /** Rejects every waiter with `err`, ends every follower with it, and closes the connection. */
  async close(err: Error): Promise<void> {
    for (const { waiters, followers } of [...this.channels.values()]) {
      const ended = [...followers];
      followers.clear();
      for (const f of ended) f.onError?.(err);
      for (const w of [...waiters]) w.reject(err);
    }
    this.channels.clear();
    const conn = this.conn;
    this.conn = null;
    if (conn) await quit(conn);
  }

  private unwatch(key: string, settle: Settle): void {
    if (this.channels.get(key)?.waiters.delete(settle)) this.release(key);
  }

  private channel(key: string): Channel {
    let channel = this.channels.get(key);
    if (!channel) {
      channel = { waiters: new Set(), followers: new Set(), subscribed: this.connection().subscribe(key) };
      this.channels.set(key, channel);
    }
    return channel;
  }

  /** Drops the channel once nobody waits on or follows it. */
  private release(key: string): void {
    const channel = this.channels.get(key);
    if (!channel || channel.waiters.size > 0 || channel.followers.size > 0) return;
    this.channels.delete(key);
    // Commands on one connection run in order, so a SUBSCRIBE for a new waiter sent after this still wins.
    this.conn?.unsubscribe(key).catch(() => undefined);
  }

  /** Decodes a stored or published value and resolves the channel's waiters when it is a ready state. */
  private deliver(key: string, raw: Buffer): void {
    const channel = this.channels.get(key);
    if (!channel) return;
    let meta: ResultMeta;
    try {
      meta = decodeResultMeta(raw);
    } catch (err) {
      for (const w of [...channel.waiters]) w.reject(err);
      const ended = [...channel.followers];
      channel.followers.clear();
      this.release(key);
      for (const f of ended) f.onError?.(err);
      return;
    }
    for (const { onMeta } of [...channel.followers]) {
      try {
        onMeta(structuredClone(meta));
      } catch {
        // A follower's own failure must not stop delivery to the others (or throw inside the connection's events).
      }
    }
    if (!READY_STATES.has(meta.status)) return;
    // Each caller gets its own object, as from `get`, so one cannot change what another sees.
    [...channel.waiters].forEach((w, i) => w.resolve(i === 0 ? meta : structuredClone(meta)));
  }

  private connection(): Redis {
    if (this.conn) return this.conn;
    const conn = this.deps.open();
    conn.on('messageBuffer', (channel: Buffer, message: Buffer) => this.deliver(channel.toString(), message));
    conn.on('ready', () => {
      if (this.wasReady) void this.resync(conn);
      this.wasReady = true;
    });
    this.conn = conn;
    return conn;
  }

  /** After a reconnect: subscribe to every waited-for channel again, then read what was written meanwhile. */
  private async resync(conn: Redis): Promise<void> {
    const keys = [...this.channels.keys()];
    if (keys.length === 0) return;
    try {
      const subscribed = conn.subscribe(...keys);
      for (const key of keys) {
        const channel = this.channels.get(key);
        if (channel) channel.subscribed = subscribed;
      }
      await subscribed;
      const values = await this.deps.read(keys);
      values.forEach((raw, i) => {
        if (raw) this.deliver(keys[i]!, raw);
      });
    } catch {
      // The connection dropped again before this finished; its next 'ready' runs this again.
    }
  }
}

/** Closes politely when connected, at once otherwise (QUIT would wait for a reconnect that may never come). */
export async function quit(conn: Redis): Promise<void> {
  if (conn.status !== 'ready') {
    conn.disconnect();
    return;
  }
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<void>((resolve) => (timer = setTimeout(resolve, 1000)));
  await Promise.race([conn.quit().catch(() => undefined), late]);
  clearTimeout(timer);
  conn.disconnect();
}
