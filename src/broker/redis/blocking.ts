/**
 * Waiting for a message without taking it: `BLMOVE list list RIGHT RIGHT` on each list, every one on a connection
 * of its own (a blocked connection answers nothing else, so blocking on the shared one would stall every publish,
 * ack and extend behind it). The command pops the oldest message and pushes it straight back where it was, in one
 * step, so the list never changes; its reply only says "this list has something", and reserve.lua then takes the
 * message and registers it as unacked atomically.
 *
 * Kombu BRPOPs instead, which loses a message whenever the reply to a served BRPOP is lost: Redis stopping right
 * after serving it, or the connection dropping with the reply in flight (ioredis then re-sends the BRPOP and the
 * popped message is gone). A lost BLMOVE reply loses nothing. Redis before 6.2 has no BLMOVE; there BRPOPLPUSH
 * list list waits the same way, at the cost of moving the oldest message of a list that held several to the back.
 *
 * Closing wakes blocked waits with CLIENT UNBLOCK from the main connection. A wait cut short by a lost connection is sent again by ioredis once it reconnects, so a consumer
 * resumes by itself after a Redis restart; if reconnecting keeps failing, the wait rejects and the caller backs off.
 */
import type { Redis } from 'ioredis';
import { blockingOptions } from '../../redis/connect.js';

/** Seconds a list wait blocks before it is sent again: bounds how long an undelivered unblock keeps a socket. */
const MAX_WATCH_S = 5;

interface BlockingConnection {
  redis: Redis;
  /** CLIENT ID of the current socket; null until read, and again after every reconnect. */
  id: string | null;
}

export class BlockingPopper {
  private readonly idle: BlockingConnection[] = [];
  private readonly busy = new Map<BlockingConnection, Promise<void>>();
  /** The non-consuming wait in flight on each list (see wait()). */
  private readonly watches = new Map<string, Promise<boolean>>();
  private closed = false;
  /** Set when the server turns out to lack BLMOVE (Redis < 6.2). */
  private rotate = false;

  constructor(private readonly main: Redis) {}

  /**
   * Resolves with the first of `lists` that holds a message (leaving it there), or null after `timeoutMs`.
   * Rejects with the signal's reason as soon as it aborts; rejects when Redis stays unreachable.
   *
   * Each list keeps one wait in flight across calls: a call attaches to the waits already blocked and starts the
   * missing ones. Nothing is unblocked when a call ends (a wait that takes nothing is harmless to leave), so no
   * CLIENT UNBLOCK ever races a newer wait on the same connection, and an idle worker's next wait costs nothing.
   */
  async wait(lists: readonly string[], timeoutMs: number, signal?: AbortSignal): Promise<string | null> {
    if (signal?.aborted) throw signal.reason;
    if (this.closed) return null;
    const pending = lists.map((list) => this.watch(list));
    return new Promise<string | null>((resolve, reject) => {
      let settled = false;
      const finish = (fn: () => void): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        fn();
      };
      const onAbort = (): void => finish(() => reject(signal?.reason));
      signal?.addEventListener('abort', onAbort, { once: true });
      const timer = setTimeout(() => finish(() => resolve(null)), Math.max(1, timeoutMs));
      pending.forEach((watch, i) => {
        watch.then(
          (found) => {
            if (found) finish(() => resolve(lists[i]!));
            // A watch that timed out on its own (MAX_WATCH_S) is started again while this call still waits.
            else if (!settled && !this.closed) this.rewatch(lists[i]!, (list) => finish(() => resolve(list)), (err) => finish(() => reject(err)));
          },
          (err: unknown) => finish(() => reject(err)),
        );
      });
    });
  }

  /** The wait in flight on `list`, started if there is none; resolves true when the list has a message. */
  private watch(list: string): Promise<boolean> {
    const current = this.watches.get(list);
    if (current) return current;
    const started = (async () => {
      const conn = await this.lease();
      if (!conn) return false;
      const done = this.block(conn, list, MAX_WATCH_S.toFixed(3)).then((item) => item !== null);
      this.busy.set(conn, done.then(() => undefined, () => undefined));
      try {
        return await done;
      } finally {
        this.release(conn);
      }
    })();
    this.watches.set(list, started);
    void started.then(
      () => this.watches.delete(list),
      () => this.watches.delete(list),
    );
    return started;
  }

  private rewatch(list: string, found: (list: string) => void, failed: (err: unknown) => void): void {
    this.watch(list).then(
      (has) => (has ? found(list) : this.closed ? undefined : this.rewatch(list, found, failed)),
      failed,
    );
  }

  /**
   * BRPOP: takes the message. Only for messages whose loss with a dropped connection is tolerable, such as replies
   * to a control broadcast (a lost one is a node that seems not to answer). Resolves with `[list, item]`, or null
   * after `timeoutMs`; rejects with the signal's reason as soon as it aborts.
   */
  async pop(lists: readonly string[], timeoutMs: number, signal?: AbortSignal): Promise<[string, string] | null> {
    if (signal?.aborted) throw signal.reason;
    const conn = await this.lease();
    if (!conn) return null;
    if (this.closed || signal?.aborted) {
      this.release(conn);
      if (this.closed) return null;
      throw signal?.reason;
    }
    // Redis reads 0 as "forever"; a millisecond is the shortest wait it honours.
    const seconds = (Math.max(1, Math.ceil(timeoutMs)) / 1000).toFixed(3);
    return new Promise<[string, string] | null>((resolve, reject) => {
      let abandoned = false;
      const onAbort = (): void => {
        abandoned = true;
        reject(signal?.reason);
        void this.unblock(conn);
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      const done = conn.redis.brpop(...lists, seconds).then(
        async (item) => {
          signal?.removeEventListener('abort', onAbort);
          if (!abandoned) return resolve(item);
          // Popped in the instant the caller gave up: back where it was, before anyone else can miss it.
          if (item) await this.main.rpush(item[0], item[1]).catch(() => undefined);
        },
        (err: unknown) => {
          signal?.removeEventListener('abort', onAbort);
          if (!abandoned) reject(err);
        },
      );
      this.busy.set(conn, done);
      void done.finally(() => this.release(conn));
    });
  }

  /** One non-consuming blocking wait on `list`; null on timeout or unblock. */
  private async block(conn: BlockingConnection, list: string, seconds: string): Promise<string | null> {
    if (!this.rotate) {
      try {
        return await conn.redis.blmove(list, list, 'RIGHT', 'RIGHT', seconds);
      } catch (err) {
        if (!/unknown command/i.test((err as Error).message)) throw err;
        this.rotate = true;
      }
    }
    return conn.redis.brpoplpush(list, list, seconds);
  }

  /** Wakes every pending wait (they resolve with null), waits for them, and closes the connections. */
  async close(): Promise<void> {
    this.closed = true;
    await Promise.all([...this.busy.keys()].map((conn) => this.unblock(conn)));
    await Promise.all(this.busy.values());
    await Promise.all(this.idle.splice(0).map((conn) => quit(conn.redis)));
  }

  private async lease(): Promise<BlockingConnection | null> {
    if (this.closed) return null;
    let conn = this.idle.pop();
    while (conn && conn.redis.status === 'end') conn = this.idle.pop();
    conn ??= this.open();
    if (conn.id === null) {
      try {
        // Read before blocking: once the blocking command is sent, the connection answers nothing else.
        conn.id = String(await conn.redis.client('ID'));
      } catch (err) {
        this.release(conn);
        throw err;
      }
    }
    return conn;
  }

  private open(): BlockingConnection {
    const redis = this.main.duplicate({ lazyConnect: false, connectionName: 'celerity-brpop', ...blockingOptions });
    const conn: BlockingConnection = { redis, id: null };
    // Reported by the command that fails; without a listener ioredis would print every retry.
    redis.on('error', () => undefined);
    redis.on('close', () => {
      conn.id = null;
    });
    return conn;
  }

  private release(conn: BlockingConnection): void {
    this.busy.delete(conn);
    if (this.closed || conn.redis.status === 'end') void quit(conn.redis);
    else this.idle.push(conn);
  }

  private async unblock(conn: BlockingConnection): Promise<void> {
    // UNBLOCK answers 0 while the command is still on its way to the server, and when it has just returned: try a
    // few times. If it never works (CLIENT refused, or a reconnect replaced the socket) the wait ends at its own
    // timeout, which the caller keeps short.
    for (let attempt = 1; attempt <= 5 && this.busy.has(conn); attempt++) {
      if (conn.id !== null) {
        const n = await this.main.client('UNBLOCK', conn.id, 'TIMEOUT').then(Number, () => -1);
        if (n !== 0) return;
      }
      await new Promise((r) => setTimeout(r, 10 * attempt));
    }
  }
}

async function quit(redis: Redis): Promise<void> {
  if (redis.status === 'end') return;
  try {
    await redis.quit();
  } catch {
    redis.disconnect();
  }
}
