/**
 * An in-process broker for unit tests: the same semantics as the SQLite adapter (priorities, delays, visibility
 * timeout, dead letters) with nothing on disk. Each instance is its own store; share the instance, not the URL.
 * The clock is injectable so tests move time forward instead of sleeping through a visibility timeout.
 */
import { randomBytes } from 'node:crypto';
import type {
  Broker,
  BrokerCapabilities,
  DeadLetter,
  Delivery,
  OutboundMessage,
  RejectOptions,
  ReserveOptions,
} from '../port.js';
import { clampPriority, decodeRaw, encodeRaw, messageToParts, taskIdentity, toDelivery } from '../raw.js';
import type { StoredParts } from '../raw.js';
import { ConnectionError } from '../../errors/index.js';
import type { Mailbox } from '../mailbox.js';
import { MemoryMailbox, MemoryMailboxHub } from './mailbox.js';

export interface MemoryBrokerOptions {
  /** Seconds a reserved message stays invisible before it returns to its queue. Default 3600. */
  visibilityTimeout?: number;
  /** Epoch milliseconds; defaults to Date.now. Waits are scheduled as `due - now()` of real time. */
  now?: () => number;
}

interface Entry {
  seq: number;
  parts: StoredParts;
  notBefore: number;
  /** Epoch ms it was published (or put back from the dead letters), for `oldestMessageAge`. */
  publishedAt: number;
  redelivered: boolean;
  /** Delivery tag while reserved; a restore or requeue clears it so an old tag no longer matches. */
  tag: string | null;
  visibleAt: number;
}

interface StoredDeadLetter extends DeadLetter {
  parts: StoredParts | null;
}

export class MemoryBroker implements Broker {
  private readonly rateSlots = new Map<string, number>();
  private readonly mailboxHub = new MemoryMailboxHub();
  readonly capabilities: BrokerCapabilities = { nativeDelay: true };

  private readonly visibilityMs: number;
  private readonly now: () => number;
  private seq = 0;
  private deadSeq = 0;
  /** Per queue, sorted by priority (higher first) then publish order. */
  private readonly ready = new Map<string, Entry[]>();
  private readonly delayed = new Map<string, Entry[]>();
  private readonly reserved = new Map<number, Entry>();
  private readonly dead: StoredDeadLetter[] = [];
  private readonly wakers = new Set<() => void>();
  private closed = false;

  constructor(options: MemoryBrokerOptions = {}) {
    this.visibilityMs = (options.visibilityTimeout ?? 3600) * 1000;
    this.now = options.now ?? Date.now;
  }

  async connect(): Promise<void> {
    this.closed = false;
  }

  async publish(batch: readonly OutboundMessage[]): Promise<void> {
    this.check();
    const now = this.now();
    for (const out of batch) {
      const entry: Entry = {
        seq: ++this.seq,
        parts: messageToParts(out.queue, clampPriority(out.priority), out.message),
        notBefore: out.notBefore ?? 0,
        publishedAt: now,
        redelivered: false,
        tag: null,
        visibleAt: 0,
      };
      if (entry.notBefore > now) list(this.delayed, out.queue).push(entry);
      else insertSorted(list(this.ready, out.queue), entry);
    }
    this.wake();
  }

  async reserve(queues: readonly string[], options: ReserveOptions): Promise<Delivery[]> {
    this.check();
    const { signal } = options;
    if (signal?.aborted) throw signal.reason;
    const deadline = this.now() + options.waitMs;
    while (true) {
      const got = this.take(queues, options.max);
      if (got.length > 0 || this.closed) return got;
      const now = this.now();
      if (now >= deadline) return [];
      await this.sleep(Math.min(deadline, this.nextDue(queues)) - now, signal);
    }
  }

  async ack(tags: readonly string[]): Promise<void> {
    for (const tag of tags) {
      const entry = this.findReserved(tag);
      if (entry) this.reserved.delete(entry.seq);
    }
  }

  async reject(tag: string, options: RejectOptions): Promise<void> {
    const entry = this.findReserved(tag);
    if (!entry) return;
    this.reserved.delete(entry.seq);
    if (options.requeue) {
      this.makeReady(entry);
      this.wake();
      return;
    }
    const identity = taskIdentity(entry.parts);
    this.dead.push({
      id: String(++this.deadSeq),
      queue: entry.parts.queue,
      reason: options.reason ?? 'rejected',
      raw: encodeRaw(entry.parts),
      taskId: identity.taskId,
      taskName: identity.taskName,
      failedAt: new Date(this.now()),
      parts: entry.parts,
    });
  }

  async extend(tags: readonly string[]): Promise<void> {
    const visibleAt = this.now() + this.visibilityMs;
    for (const tag of tags) {
      const entry = this.findReserved(tag);
      if (entry) entry.visibleAt = visibleAt;
    }
  }

  async restore(): Promise<number> {
    return this.restoreExpired();
  }

  async purge(queue: string): Promise<number> {
    const n = (this.ready.get(queue)?.length ?? 0) + (this.delayed.get(queue)?.length ?? 0);
    this.ready.delete(queue);
    this.delayed.delete(queue);
    return n;
  }

  async size(queue: string): Promise<number> {
    return (this.ready.get(queue)?.length ?? 0) + (this.delayed.get(queue)?.length ?? 0);
  }

  /** Since publish, or since the ETA when it had one; delayed messages whose ETA passed count (promotion is lazy). */
  async oldestMessageAge(queue: string): Promise<number | null> {
    const now = this.now();
    let since = Infinity;
    for (const e of this.ready.get(queue) ?? []) since = Math.min(since, Math.max(e.publishedAt, e.notBefore));
    for (const e of this.delayed.get(queue) ?? []) if (e.notBefore <= now) since = Math.min(since, e.notBefore);
    return since === Infinity ? null : Math.max(0, now - since) / 1000;
  }

  /** Newest first: `dead` is kept in the order letters arrived, so it is read from the end. */
  async listDeadLetters(options: { queue?: string; limit?: number } = {}): Promise<DeadLetter[]> {
    const limit = Math.max(0, options.limit ?? 100);
    const out: DeadLetter[] = [];
    for (let i = this.dead.length - 1; i >= 0 && out.length < limit; i--) {
      const { parts: _parts, ...d } = this.dead[i]!;
      if (options.queue === undefined || d.queue === options.queue) out.push({ ...d, failedAt: new Date(d.failedAt) });
    }
    return out;
  }

  async deleteDeadLetters(ids: readonly string[]): Promise<number> {
    const wanted = new Set(ids);
    return this.removeDead((d) => wanted.has(d.id));
  }

  async purgeDeadLetters(options: { queue?: string } = {}): Promise<number> {
    return this.removeDead((d) => options.queue === undefined || d.queue === options.queue);
  }

  async requeueDeadLetters(ids: readonly string[]): Promise<number> {
    let moved = 0;
    for (const id of ids) {
      const i = this.dead.findIndex((d) => d.id === id);
      const letter = this.dead[i];
      const parts = letter ? (letter.parts ?? decodeRaw(letter.raw)) : null;
      if (!letter || !parts) continue;
      this.dead.splice(i, 1);
      insertSorted(list(this.ready, parts.queue), {
        seq: ++this.seq,
        parts,
        notBefore: 0,
        publishedAt: this.now(),
        redelivered: true,
        tag: null,
        visibleAt: 0,
      });
      moved++;
    }
    if (moved > 0) this.wake();
    return moved;
  }

  /** Shared by every worker using this instance (they share the process). */
  async claimRateSlot(key: string, spacingMs: number): Promise<number> {
    const now = Date.now();
    const start = Math.max(now, this.rateSlots.get(key) ?? 0);
    this.rateSlots.set(key, start + spacingMs);
    return start - now;
  }

  /** Control and events between the users of this broker object. */
  mailbox(): Mailbox {
    return new MemoryMailbox(this.mailboxHub);
  }

  async close(): Promise<void> {
    this.closed = true;
    this.wake();
  }

  // ---- internals --------------------------------------------------------------------------------------------

  /** Drops the dead letters `match` picks, keeping the others in order; resolves to how many were dropped. */
  private removeDead(match: (letter: StoredDeadLetter) => boolean): number {
    let kept = 0;
    for (const letter of this.dead) if (!match(letter)) this.dead[kept++] = letter;
    const removed = this.dead.length - kept;
    this.dead.length = kept;
    return removed;
  }

  private check(): void {
    if (this.closed) throw new ConnectionError('memory broker is closed');
  }

  /** Picks up to `max` entries: highest priority first, at equal priority the earlier queue, then publish order. */
  private take(queues: readonly string[], max: number): Delivery[] {
    const now = this.now();
    this.restoreExpired();
    for (const q of queues) this.promote(q, now);
    const out: Delivery[] = [];
    while (out.length < max) {
      let best: Entry[] | undefined;
      for (const q of queues) {
        const head = this.ready.get(q)?.[0];
        if (head && (!best || head.parts.priority > best[0]!.parts.priority)) best = this.ready.get(q);
      }
      const entry = best?.shift();
      if (!entry) break;
      entry.tag = `${entry.seq}:${randomBytes(8).toString('hex')}`;
      entry.visibleAt = now + this.visibilityMs;
      this.reserved.set(entry.seq, entry);
      // A copy of the body per delivery, so a consumer that mutates it cannot change a later redelivery.
      out.push(toDelivery(entry.tag, { ...entry.parts, body: Buffer.from(entry.parts.body) }, entry.redelivered));
    }
    return out;
  }

  private promote(queue: string, now: number): void {
    const waiting = this.delayed.get(queue);
    if (!waiting) return;
    const due = waiting.filter((e) => e.notBefore <= now);
    if (due.length === 0) return;
    this.delayed.set(
      queue,
      waiting.filter((e) => e.notBefore > now),
    );
    for (const e of due) insertSorted(list(this.ready, queue), e);
  }

  private restoreExpired(): number {
    const now = this.now();
    let n = 0;
    for (const entry of [...this.reserved.values()]) {
      if (entry.visibleAt > now) continue;
      this.reserved.delete(entry.seq);
      this.makeReady(entry);
      n++;
    }
    if (n > 0) this.wake();
    return n;
  }

  private makeReady(entry: Entry): void {
    entry.tag = null;
    entry.redelivered = true;
    insertSorted(list(this.ready, entry.parts.queue), entry);
  }

  private findReserved(tag: string): Entry | undefined {
    const entry = this.reserved.get(Number(tag.split(':', 1)[0]));
    return entry && entry.tag === tag ? entry : undefined;
  }

  /** Earliest epoch ms at which a delayed message of `queues` or a reserved message becomes available. */
  private nextDue(queues: readonly string[]): number {
    let due = Infinity;
    for (const q of queues) for (const e of this.delayed.get(q) ?? []) due = Math.min(due, e.notBefore);
    for (const e of this.reserved.values()) due = Math.min(due, e.visibleAt);
    return due;
  }

  private sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const done = (err?: unknown): void => {
        clearTimeout(timer);
        this.wakers.delete(wake);
        signal?.removeEventListener('abort', onAbort);
        if (err === undefined) resolve();
        else reject(err);
      };
      const wake = (): void => done();
      const onAbort = (): void => done(signal?.reason);
      // Node fires timers longer than 2^31-1 ms at once; capping only means one more look before sleeping again.
      const timer = setTimeout(wake, Math.min(2 ** 31 - 1, Math.max(0, ms)));
      this.wakers.add(wake);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  private wake(): void {
    for (const wake of [...this.wakers]) wake();
  }
}

function list<K, V>(map: Map<K, V[]>, key: K): V[] {
  let l = map.get(key);
  if (!l) map.set(key, (l = []));
  return l;
}

/** Binary insertion keeping (priority desc, seq asc); a restored message goes back to its original place. */
function insertSorted(entries: Entry[], entry: Entry): void {
  let lo = 0;
  let hi = entries.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    const m = entries[mid]!;
    const before =
      m.parts.priority > entry.parts.priority || (m.parts.priority === entry.parts.priority && m.seq < entry.seq);
    if (before) lo = mid + 1;
    else hi = mid;
  }
  entries.splice(lo, 0, entry);
}
