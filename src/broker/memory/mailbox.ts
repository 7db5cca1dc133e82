/**
 * The in-memory mailbox: one process, no persistence; for unit tests and the memory broker. Several
 * `MemoryMailbox` objects share a `MemoryMailboxHub` the way several connections share one server.
 */
import { bindingMatches } from '../mailbox.js';
import type { Mailbox, MailboxQueue, MailboxSubscription, SubscribeOptions } from '../mailbox.js';

interface Subscriber {
  exchange: string;
  bindingKey: string;
  onMessage: (envelope: string) => void;
}

interface QueueState {
  items: string[];
  /** Takers waiting for the next item, first come first served; null tells them the queue was closed. */
  waiters: ((envelope: string | null) => void)[];
}

/** What one memory "server" holds: subscribers, direct bindings and queues. */
export class MemoryMailboxHub {
  readonly subscribers = new Set<Subscriber>();
  /** `exchange\0routingKey` -> queue names bound with it. */
  readonly bindings = new Map<string, Set<string>>();
  readonly queues = new Map<string, QueueState>();
}

const defaultHub = new MemoryMailboxHub();

export class MemoryMailbox implements Mailbox {
  private readonly closers = new Set<() => Promise<void>>();

  constructor(private readonly hub: MemoryMailboxHub = defaultHub) {}

  async connect(): Promise<void> {}

  async broadcast(exchange: string, routingKey: string, envelope: string): Promise<number> {
    const reached = [...this.hub.subscribers].filter((s) => s.exchange === exchange && bindingMatches(s.bindingKey, routingKey));
    // Delivered on a later turn, as a network transport would: a subscriber never runs inside the sender's call.
    for (const s of reached) queueMicrotask(() => this.hub.subscribers.has(s) && s.onMessage(envelope));
    return reached.length;
  }

  async subscribe(
    exchange: string,
    bindingKey: string,
    onMessage: (envelope: string) => void,
    _options?: SubscribeOptions,
  ): Promise<MailboxSubscription> {
    const subscriber: Subscriber = { exchange, bindingKey, onMessage };
    this.hub.subscribers.add(subscriber);
    const close = async (): Promise<void> => {
      this.hub.subscribers.delete(subscriber);
      this.closers.delete(close);
    };
    this.closers.add(close);
    return { close };
  }

  async send(exchange: string, routingKey: string, envelope: string): Promise<void> {
    for (const name of this.hub.bindings.get(`${exchange}\0${routingKey}`) ?? []) {
      const queue = this.hub.queues.get(name);
      if (!queue) continue;
      const waiter = queue.waiters.shift();
      if (waiter) waiter(envelope);
      else queue.items.push(envelope);
    }
  }

  async openQueue(exchange: string, routingKey: string, name: string): Promise<MailboxQueue> {
    const key = `${exchange}\0${routingKey}`;
    const state: QueueState = this.hub.queues.get(name) ?? { items: [], waiters: [] };
    this.hub.queues.set(name, state);
    let bound = this.hub.bindings.get(key);
    if (!bound) this.hub.bindings.set(key, (bound = new Set()));
    bound.add(name);
    const close = async (): Promise<void> => {
      this.hub.bindings.get(key)?.delete(name);
      this.hub.queues.delete(name);
      for (const w of state.waiters.splice(0)) w(null);
      this.closers.delete(close);
    };
    this.closers.add(close);
    return {
      close,
      take: (timeoutMs, signal) =>
        new Promise<string | null>((resolve, reject) => {
          if (signal?.aborted) return reject(signal.reason);
          const ready = state.items.shift();
          if (ready !== undefined) return resolve(ready);
          const done = (envelope: string | null, err?: unknown): void => {
            clearTimeout(timer);
            signal?.removeEventListener('abort', onAbort);
            const i = state.waiters.indexOf(waiter);
            if (i >= 0) state.waiters.splice(i, 1);
            if (err !== undefined) reject(err);
            else resolve(envelope);
          };
          const waiter = (envelope: string | null): void => done(envelope);
          const onAbort = (): void => done(null, signal?.reason);
          const timer = setTimeout(() => done(null), timeoutMs);
          signal?.addEventListener('abort', onAbort, { once: true });
          state.waiters.push(waiter);
        }),
    };
  }

  async close(): Promise<void> {
    await Promise.all([...this.closers].map((c) => c()));
  }
}
