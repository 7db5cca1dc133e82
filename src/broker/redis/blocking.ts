/**
 * BRPOP on connections of their own: a blocked connection answers nothing else until it returns, so blocking on
 * the shared one would stall every publish, ack and extend behind it.
 *
 * Waking a blocked pop early (abort, close) uses CLIENT UNBLOCK from the main connection, which makes BRPOP return
 * nil as if it had timed out. Closing the socket instead could drop a message the server had already popped and
 * was sending; unblocking never loses one, and a message that does arrive after the caller stopped waiting is
 * pushed back to the head of the list it came from.
 *
 * A pop cut short by a lost connection is sent again by ioredis once it reconnects, so a consumer resumes by
 * itself after a Redis restart; if reconnecting keeps failing, the pop rejects and the caller backs off.
 */
import type { Redis } from 'ioredis';

interface BlockingConnection {
  redis: Redis;
  /** CLIENT ID of the current socket; null until read, and again after every reconnect. */
  id: string | null;
}

export class BlockingPopper {
  private readonly idle: BlockingConnection[] = [];
  private readonly busy = new Map<BlockingConnection, Promise<void>>();
  private closed = false;

  constructor(private readonly main: Redis) {}

  /**
   * Resolves with `[list, item]`, or null after `timeoutMs`. Rejects with the signal's reason as soon as it
   * aborts; rejects when Redis stays unreachable.
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

  /** Wakes every pending pop (they resolve with null), waits for them, and closes the connections. */
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
        // Read before blocking: once BRPOP is sent, the connection answers nothing else.
        conn.id = String(await conn.redis.client('ID'));
      } catch (err) {
        this.release(conn);
        throw err;
      }
    }
    return conn;
  }

  private open(): BlockingConnection {
    const redis = this.main.duplicate({ lazyConnect: false, connectionName: 'celerity-brpop' });
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
    // UNBLOCK answers 0 while the BRPOP is still on its way to the server, and when it has just returned: try a
    // few times rather than drop the socket, which could lose a reply already in flight. If it never works (CLIENT
    // refused, or a reconnect replaced the socket) the pop ends at its own timeout, which the caller keeps short.
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
