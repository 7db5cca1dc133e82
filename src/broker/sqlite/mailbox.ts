/**
 * The embedded store's mailbox: remote control and events between the processes sharing one SQLite file, so
 * `celerity inspect`, `control` and `events` work with no server at all. Tables and statements are in
 * `./sql/mailbox/` (see its schema.sql).
 *
 * - A broadcast is a row; each mailbox with subscriptions watches the file (`PRAGMA data_version`, every few ms,
 *   as the broker's blocked reserve does) and reads the rows after its cursor, handing each to the subscriptions
 *   whose binding matches. Rows are dropped after RETAIN_MS, so the table stays small whoever stops reading.
 * - Subscriptions and direct queues are rows refreshed every REFRESH_MS; a broadcast counts the live subscribers it
 *   reaches (a control client then waits for at most that many replies). Rows of a killed process stop being
 *   counted after LIVE_MS and are deleted after STALE_MS.
 * - A direct send copies the envelope into each bound queue in one statement; a taker deletes the oldest row.
 */
import { randomUUID } from 'node:crypto';
import { ConnectionError } from '../../errors/index.js';
import { openDatabase, prepare, type SqliteDatabase } from '../../sqlite/open.js';
import { readSql, type Stmt } from '../../sqlite/sql-files.js';
import { ChangeWatcher, type Mark } from '../../sqlite/watcher.js';
import { bindingMatches } from '../mailbox.js';
import type { Mailbox, MailboxQueue, MailboxSubscription, SubscribeOptions } from '../mailbox.js';

/** A subscriber refreshed less recently than this is not counted as reached (its process is gone or stuck). */
const LIVE_MS = 10_000;
const REFRESH_MS = 3_000;
/** Rows of subscribers and queues not refreshed for this long are deleted. */
const STALE_MS = 60_000;
/** How long a broadcast is kept for subscribers that have not read it yet. */
const RETAIN_MS = 60_000;
/** Rows read per query while catching up. */
const READ_BATCH = 500;

export interface SqliteMailboxOptions {
  path: string;
  /** How often the file is checked for other processes' broadcasts, ms (default 5). */
  pollIntervalMs?: number;
}

interface BroadcastRow {
  id: number;
  exchange: string;
  routing_key: string;
  envelope: string;
}

interface Subscription {
  exchange: string;
  bindingKey: string;
  onMessage: (envelope: string) => void;
  /** Broadcasts up to this id were sent before it subscribed. */
  since: number;
}

function statements(db: SqliteDatabase) {
  const sql = <P, R = unknown>(name: string) => prepare(db, readSql(import.meta.url, `mailbox/${name}`)) as unknown as Stmt<P, R>;
  return {
    broadcast: sql<{ exchange: string; routing_key: string; envelope: string; now: number }>('broadcast.sql'),
    reached: sql<{ exchange: string; routing_key: string; live_since: number }, { n: number }>('reached.sql'),
    after: sql<{ cursor: number; limit: number }, BroadcastRow>('broadcasts-after.sql'),
    last: sql<Record<string, never>, { id: number }>('broadcasts-last.sql'),
    expire: sql<{ before: number }>('broadcasts-expire.sql'),
    subscriberAdd: sql<{ id: string; exchange: string; binding_key: string; queue: string | null; now: number }>('subscriber-add.sql'),
    subscriberRemove: sql<{ id: string }>('subscriber-remove.sql'),
    seen: sql<{ ids: string; now: number }>('seen.sql'),
    bindingsSeen: sql<{ queues: string; now: number }>('bindings-seen.sql'),
    staleQueues: sql<{ before: number }>('stale-queues.sql'),
    staleBindings: sql<{ before: number }>('stale-bindings.sql'),
    staleSubscribers: sql<{ before: number }>('stale-subscribers.sql'),
    bind: sql<{ exchange: string; routing_key: string; queue: string; now: number }>('bind.sql'),
    unbind: sql<{ queue: string }>('unbind.sql'),
    queueClear: sql<{ queue: string }>('queue-clear.sql'),
    send: sql<{ exchange: string; routing_key: string; envelope: string; now: number }>('send.sql'),
    take: sql<{ queue: string }, { envelope: string }>('take.sql'),
  };
}

interface Connection {
  db: SqliteDatabase;
  stmts: ReturnType<typeof statements>;
  watcher: ChangeWatcher;
}

export class SqliteMailbox implements Mailbox {
  private conn: Connection | null = null;
  private readonly subscriptions = new Map<string, Subscription>();
  private readonly queues = new Set<string>();
  private readonly closers = new Set<() => Promise<void>>();
  private cursor = 0;
  private unwatch: (() => void) | null = null;
  private seenMark: Mark | null = null;
  private refresher: NodeJS.Timeout | null = null;
  private lastExpiry = 0;
  private closed = false;

  constructor(private readonly options: SqliteMailboxOptions) {}

  async connect(): Promise<void> {
    this.open();
  }

  async broadcast(exchange: string, routingKey: string, envelope: string): Promise<number> {
    const { db, stmts, watcher } = this.open();
    const now = Date.now();
    const reached = db
      .transaction(() => {
        stmts.broadcast.run({ exchange, routing_key: routingKey, envelope, now });
        if (now - this.lastExpiry >= 1000) {
          stmts.expire.run({ before: now - RETAIN_MS });
          this.lastExpiry = now;
        }
        return stmts.reached.get({ exchange, routing_key: routingKey, live_since: now - LIVE_MS })?.n ?? 0;
      })
      .immediate();
    watcher.notify();
    return reached;
  }

  async subscribe(
    exchange: string,
    bindingKey: string,
    onMessage: (envelope: string) => void,
    options: SubscribeOptions = {},
  ): Promise<MailboxSubscription> {
    const { stmts } = this.open();
    const id = randomUUID();
    // Read before the row is added: a broadcast that counts this subscriber is always after `since`.
    const since = stmts.last.get({})?.id ?? 0;
    stmts.subscriberAdd.run({ id, exchange, binding_key: bindingKey, queue: options.queue ?? null, now: Date.now() });
    if (this.subscriptions.size === 0) this.cursor = since;
    this.subscriptions.set(id, { exchange, bindingKey, onMessage, since });
    this.watch();
    this.keepAlive();
    const close = async (): Promise<void> => {
      if (!this.closers.delete(close)) return;
      this.subscriptions.delete(id);
      if (this.subscriptions.size === 0) this.stopWatching();
      this.conn?.stmts.subscriberRemove.run({ id });
    };
    this.closers.add(close);
    return { close };
  }

  async send(exchange: string, routingKey: string, envelope: string): Promise<void> {
    const { stmts, watcher } = this.open();
    stmts.send.run({ exchange, routing_key: routingKey, envelope, now: Date.now() });
    watcher.notify();
  }

  async openQueue(exchange: string, routingKey: string, queue: string): Promise<MailboxQueue> {
    const { stmts } = this.open();
    stmts.bind.run({ exchange, routing_key: routingKey, queue, now: Date.now() });
    this.queues.add(queue);
    this.keepAlive();
    let open = true;
    const close = async (): Promise<void> => {
      if (!this.closers.delete(close)) return;
      open = false;
      this.queues.delete(queue);
      const conn = this.conn;
      if (conn) conn.db.transaction(() => (conn.stmts.unbind.run({ queue }), conn.stmts.queueClear.run({ queue }))).immediate();
    };
    this.closers.add(close);
    const take = async (timeoutMs: number, signal?: AbortSignal): Promise<string | null> => {
      const deadline = Date.now() + timeoutMs;
      while (true) {
        if (signal?.aborted) throw signal.reason;
        const conn = this.conn;
        if (!open || !conn) return null;
        // The mark is taken before reading, so a send committed after the read is never missed.
        const mark = conn.watcher.mark();
        const row = conn.stmts.take.get({ queue });
        if (row) return row.envelope;
        if (Date.now() >= deadline) return null;
        await conn.watcher.wait(mark, deadline, signal);
      }
    };
    return { close, take };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    await Promise.all([...this.closers].map((c) => c()));
    this.closed = true;
    this.stopWatching();
    if (this.refresher) clearInterval(this.refresher);
    this.refresher = null;
    const conn = this.conn;
    this.conn = null;
    conn?.watcher.close();
    conn?.db.close();
  }

  private open(): Connection {
    if (this.closed) throw new ConnectionError('the mailbox is closed');
    if (this.conn) return this.conn;
    const db = openDatabase(this.options.path);
    try {
      db.exec(readSql(import.meta.url, 'mailbox/schema.sql'));
      this.conn = { db, stmts: statements(db), watcher: new ChangeWatcher(db, this.options.pollIntervalMs) };
    } catch (err) {
      db.close();
      throw new ConnectionError(`cannot prepare the SQLite mailbox in ${this.options.path}: ${String(err)}`, { cause: err });
    }
    return this.conn;
  }

  /** Reads new broadcasts whenever the file changed (another process committed, or this one broadcast). */
  private watch(): void {
    const conn = this.conn;
    if (this.unwatch || !conn) return;
    this.unwatch = conn.watcher.subscribe((mark) => {
      if (this.seenMark && !ChangeWatcher.changed(this.seenMark, mark)) return;
      this.seenMark = mark;
      this.deliver(conn);
    });
  }

  private stopWatching(): void {
    this.unwatch?.();
    this.unwatch = null;
    this.seenMark = null;
  }

  private deliver(conn: Connection): void {
    while (this.subscriptions.size > 0) {
      let rows: BroadcastRow[];
      try {
        rows = conn.stmts.after.all({ cursor: this.cursor, limit: READ_BATCH });
      } catch {
        // Busy or closing: the next change (or tick) reads again from the same cursor.
        this.seenMark = null;
        return;
      }
      for (const row of rows) {
        this.cursor = row.id;
        for (const sub of [...this.subscriptions.values()]) {
          if (row.id <= sub.since || sub.exchange !== row.exchange || !bindingMatches(sub.bindingKey, row.routing_key)) continue;
          try {
            sub.onMessage(row.envelope);
          } catch {
            // A subscriber's failure is its own; the others still get the message.
          }
        }
      }
      if (rows.length < READ_BATCH) return;
    }
  }

  /** Refreshes this process's subscriptions and queues, and deletes those of processes that stopped doing so. */
  private keepAlive(): void {
    if (this.refresher) return;
    this.refresher = setInterval(() => {
      const conn = this.conn;
      if (!conn) return;
      const now = Date.now();
      try {
        conn.db
          .transaction(() => {
            conn.stmts.seen.run({ ids: JSON.stringify([...this.subscriptions.keys()]), now });
            conn.stmts.bindingsSeen.run({ queues: JSON.stringify([...this.queues]), now });
            conn.stmts.staleQueues.run({ before: now - STALE_MS });
            conn.stmts.staleBindings.run({ before: now - STALE_MS });
            conn.stmts.staleSubscribers.run({ before: now - STALE_MS });
          })
          .immediate();
      } catch {
        // Busy: the next refresh comes well within LIVE_MS.
      }
    }, REFRESH_MS);
    // Liveness alone never keeps a process running.
    this.refresher.unref();
  }
}
