/**
 * Every `waitFor` and `watch` of one backend shares one dedicated connection that LISTENs on the schema's channel;
 * set.sql NOTIFYs it with the task id of each result it writes, in any state (so followers see PROGRESS; a waiter
 * re-reads on such a state and goes on waiting). Nothing is polled: a row is read when its task was announced, or
 * once when a waiter arrives.
 *
 * Order matters: a waiter is registered first and its row read only once LISTEN is in effect, so a result
 * committed in between is either seen by the read or announced to the connection. After the connection drops it is
 * opened again with backoff, and then the rows of every current waiter are read in one query: their notifications
 * may have been sent while nobody listened.
 */
import { escapeIdentifier } from 'pg';
import type { Client, Notification } from 'pg';
import type { ResultMeta } from '../../protocol/types.js';
import { READY_STATES } from '../../protocol/types.js';
import type { Settle } from '../wait.js';
import { jsonColumnText } from '../../protocol/json.js';

interface Follower {
  onMeta(meta: ResultMeta): void;
  onError?(err: unknown): void;
}

export interface ListenerDeps {
  /** Opens a new, connected connection for LISTEN; this class ends it. */
  connect(): Promise<Client>;
  channel: string;
  /** The stored results of `taskIds` (missing and expired ones left out), read on the pool. */
  read(taskIds: string[]): Promise<Map<string, ResultMeta>>;
}

/** Reconnect delays: doubling from the first to the last, then staying there. */
const RETRY_FIRST_MS = 50;
const RETRY_MAX_MS = 5000;

export class ResultListener {
  private client: Client | null = null;
  private opening = false;
  private retryTimer: NodeJS.Timeout | null = null;
  private failures = 0;
  private closed = false;
  private readonly waiters = new Map<string, Set<Settle>>();
  /** Followers of every state (`follow`), by task id. */
  private readonly followers = new Map<string, Set<Follower>>();
  /** Their reads, one after another, so that no follower sees an older row after a newer one. */
  private followReads: Promise<void> = Promise.resolve();
  /** The row last handed to a task's followers, as JSON: several announcements read as one row give it once. */
  private readonly lastFollowed = new Map<string, string>();
  /** `follow` calls waiting for LISTEN to be in effect. */
  private readonly listening = new Set<{ resolve(): void; reject(err: unknown): void }>();
  /** Task ids announced since the last read; read together on the next turn of the event loop. */
  private readonly announced = new Set<string>();
  private flushing: NodeJS.Immediate | null = null;

  constructor(private readonly deps: ListenerDeps) {}

  /**
   * Adds a waiter for `taskId` and reads its row once LISTEN is in effect. Returns the function that removes it.
   * `settle` is never called synchronously; a failed first read rejects it.
   */
  watch(taskId: string, settle: Settle): () => void {
    let set = this.waiters.get(taskId);
    if (!set) this.waiters.set(taskId, (set = new Set()));
    set.add(settle);
    // With the connection down or still opening, the read after it is (re)opened covers this waiter.
    if (this.client) this.check([taskId], (err) => settle.reject(err));
    else this.ensureOpen();
    return () => this.unwatch(taskId, settle);
  }

  /**
   * Hands `onMeta` the row of `taskId` each time a write to it is announced (the announcement carries only the
   * id, so writes close together may be read as the latest one, and a row read twice is handed over once), in the
   * order they were read, until the returned function is called. Resolves once LISTEN is in effect; nothing is read
   * before an announcement. `onError` hears of `close`.
   */
  async follow(taskId: string, onMeta: Follower['onMeta'], onError?: Follower['onError']): Promise<() => void> {
    let set = this.followers.get(taskId);
    if (!set) this.followers.set(taskId, (set = new Set()));
    const own: Follower = { onMeta, onError };
    set.add(own);
    const stop = (): void => {
      const current = this.followers.get(taskId);
      if (current?.delete(own) && current.size === 0) {
        this.followers.delete(taskId);
        this.lastFollowed.delete(taskId);
      }
    };
    if (this.client) return stop;
    try {
      await new Promise<void>((resolve, reject) => {
        this.listening.add({ resolve, reject });
        this.ensureOpen();
      });
    } catch (err) {
      stop();
      throw err;
    }
    return stop;
  }

  /** Rejects every waiter with `err`, ends every follower with it, and closes the connection. */
  async close(err: Error): Promise<void> {
    this.closed = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    if (this.flushing) clearImmediate(this.flushing);
    this.retryTimer = null;
    this.flushing = null;
    for (const set of [...this.waiters.values()]) for (const w of [...set]) w.reject(err);
    this.waiters.clear();
    const ended = [...this.followers.values()].flatMap((s) => [...s]);
    this.followers.clear();
    this.lastFollowed.clear();
    for (const f of ended) f.onError?.(err);
    for (const l of [...this.listening]) l.reject(err);
    this.listening.clear();
    const client = this.client;
    this.client = null;
    if (client) await client.end().catch(() => undefined);
  }

  private unwatch(taskId: string, settle: Settle): void {
    const set = this.waiters.get(taskId);
    if (set?.delete(settle) && set.size === 0) this.waiters.delete(taskId);
  }

  private ensureOpen(): void {
    if (this.closed || this.client || this.opening || this.retryTimer) return;
    this.opening = true;
    void this.open();
  }

  private async open(): Promise<void> {
    let client: Client | null = null;
    try {
      client = await this.deps.connect();
      const conn = client;
      conn.on('notification', (n) => this.onNotification(n));
      conn.on('error', () => this.dropped(conn));
      conn.on('end', () => this.dropped(conn));
      await conn.query(`LISTEN ${escapeIdentifier(this.deps.channel)}`);
    } catch {
      this.opening = false;
      if (client) void client.end().catch(() => undefined);
      this.retryLater();
      return;
    }
    this.opening = false;
    if (this.closed) {
      void client.end().catch(() => undefined);
      return;
    }
    this.client = client;
    for (const l of [...this.listening]) l.resolve();
    this.listening.clear();
    // Announcements sent while the connection was down were lost: the followers get their rows as they are now.
    if (this.followers.size > 0) this.readForFollowers([...this.followers.keys()]);
    // Read every waiter's row now that LISTEN is in effect: results committed before it were never announced here.
    const all = [...this.waiters.keys()];
    if (all.length === 0) {
      this.failures = 0;
      return;
    }
    const failed = (): void => {
      // The server answered LISTEN but not the read: treat it as the same outage and start over.
      if (this.client === client) this.dropped(client);
    };
    this.check(all, failed, () => (this.failures = 0));
  }

  /** The LISTEN connection failed or ended; open it again if anyone is waiting (otherwise on the next watch). */
  private dropped(client: Client): void {
    if (this.client !== client && this.client !== null) return;
    if (this.client === client) this.client = null;
    void client.end().catch(() => undefined);
    if (!this.closed && this.interested()) this.retryLater();
  }

  private retryLater(): void {
    if (this.closed || this.retryTimer || this.opening || this.client) return;
    if (!this.interested()) return;
    const delay = Math.min(RETRY_MAX_MS, RETRY_FIRST_MS * 2 ** this.failures);
    this.failures++;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      this.ensureOpen();
    }, delay);
  }

  private onNotification(n: Notification): void {
    if (n.channel !== this.deps.channel || !n.payload || !this.awaited(n.payload)) return;
    this.announced.add(n.payload);
    // One read for everything announced together (a setMany of many results commits them at once).
    this.flushing ??= setImmediate(() => {
      this.flushing = null;
      const announced = [...this.announced];
      this.announced.clear();
      const ids = announced.filter((id) => this.waiters.has(id));
      if (ids.length > 0) this.check(ids, (err) => this.rejectWaiters(ids, err));
      const followed = announced.filter((id) => this.followers.has(id));
      if (followed.length > 0) this.readForFollowers(followed);
    });
  }

  /** Reads `taskIds` and settles the waiters of those that are ready; `onError` gets a failed read. */
  private check(taskIds: string[], onError: (err: unknown) => void, onDone?: () => void): void {
    this.deps.read(taskIds).then(
      (found) => {
        for (const [taskId, meta] of found) {
          if (!READY_STATES.has(meta.status)) continue;
          for (const w of [...(this.waiters.get(taskId) ?? [])]) w.resolve(meta);
        }
        onDone?.();
      },
      (err: unknown) => {
        if (!this.closed) onError(err);
      },
    );
  }

  /**
   * Reads the rows of `taskIds` after every earlier follower read has delivered, and hands them to their followers.
   * A failed read is handled as a lost connection: the reconnect reads every followed row again.
   */
  private readForFollowers(taskIds: string[]): void {
    this.followReads = this.followReads.then(async () => {
      const ids = taskIds.filter((id) => this.followers.has(id));
      if (ids.length === 0 || this.closed) return;
      let found: Map<string, ResultMeta>;
      try {
        found = await this.deps.read(ids);
      } catch {
        if (this.client) this.dropped(this.client);
        return;
      }
      for (const [taskId, meta] of found) {
        const text = jsonColumnText(meta);
        if (!this.followers.has(taskId) || this.lastFollowed.get(taskId) === text) continue;
        this.lastFollowed.set(taskId, text);
        for (const { onMeta } of [...(this.followers.get(taskId) ?? [])]) {
          try {
            onMeta(structuredClone(meta));
          } catch {
            // A follower's own failure must not stop delivery to the others.
          }
        }
      }
    });
  }

  private interested(): boolean {
    return this.waiters.size > 0 || this.followers.size > 0 || this.listening.size > 0;
  }

  private awaited(taskId: string): boolean {
    return this.waiters.has(taskId) || this.followers.has(taskId);
  }

  private rejectWaiters(taskIds: readonly string[], err: unknown): void {
    for (const id of taskIds) for (const w of [...(this.waiters.get(id) ?? [])]) w.reject(err);
  }
}
