/**
 * The worker's intake: keeps its prefetch window full by reserving from the broker, and hands each delivery to the
 * worker. While the queue has a backlog (the last reserve came back full), the window is reserved in RESERVE_SPLIT
 * parts with all of them in flight at once, so the worker decodes and runs one part while the broker prepares the
 * next (with one whole-window reserve at a time the worker sat idle for every reserve: 17% of a c=100 drain on
 * Redis; two halves left it 26% idle, four parts about 20%).
 */
import type { Broker, Delivery } from '../broker/port.js';
import { toError } from '../errors/index.js';
import type { Logger } from '../util/logger.js';
import { sleep } from '../util/sleep.js';

const RESERVE_SPLIT = 4;

/** What the loop needs of its worker. */
export interface ReserveHost {
  readonly broker: Broker;
  readonly log: Logger;
  /** The queues to reserve from now (cancel_consumer and add_consumer change them). */
  queues(): readonly string[];
  /** Messages reserved at most (concurrency x prefetch multiplier). */
  prefetch(): number;
  /** What counts against the window now, reserves in flight not included. */
  inflight(): number;
  /** A concurrency slot is free and nothing waits for one. */
  slotIdle(): boolean;
  /** The server-side window a push transport should keep (the prefetch plus ETA tasks set aside). */
  window(): number;
  /** Every delivery tag the worker holds (see ReserveOptions.held). */
  heldTags(): readonly string[];
  /**
   * Applies revocations stored before a batch was reserved; false when they cannot be read (the batch then goes
   * back to the broker rather than run unchecked). Absent where the broker stores none.
   */
  checkRevocations?(): Promise<boolean>;
  accept(delivery: Delivery): void;
}

export class ReserveLoop {
  private requested = 0;
  private waiter: (() => void) | undefined;
  /** What the last reserve named: a queue dropped since is released, so a push transport stops sending it. */
  private following: readonly string[] = [];
  private failures = 0;
  private backlog = false;

  constructor(private readonly host: ReserveHost) {}

  /** Reserves until `signal` aborts; resolves once every reserve in flight has ended. */
  async run(signal: AbortSignal): Promise<void> {
    const { host } = this;
    const fetching = new Set<Promise<void>>();
    while (!signal.aborted) {
      const prefetch = host.prefetch();
      const room = prefetch - host.inflight() - this.requested;
      // Refill in batches: when a part of the prefetch window is free, or at once when a slot would otherwise idle.
      // Refilling on every finished task made one round trip per task at c=10 (0.6x BullMQ's rate on Redis).
      const starving = host.slotIdle() && this.requested === 0;
      const chunk = Math.ceil(prefetch / RESERVE_SPLIT);
      const full = fetching.size >= (this.backlog ? RESERVE_SPLIT : 1);
      if (full || room <= 0 || !host.queues().length || (!starving && room < chunk)) {
        await new Promise<void>((resolve) => (this.waiter = resolve));
        continue;
      }
      const pending = this.fetch(this.backlog ? Math.min(room, chunk) : room, signal);
      fetching.add(pending);
      void pending.finally(() => {
        fetching.delete(pending);
        this.wake();
      });
    }
    await Promise.all(fetching);
  }

  /** Looks at the window again (a task ended, a job left, the loop should stop). */
  wake(): void {
    const w = this.waiter;
    this.waiter = undefined;
    w?.();
  }

  private async fetch(max: number, signal: AbortSignal): Promise<void> {
    const { host } = this;
    this.requested += max;
    try {
      const queues = [...host.queues()];
      const dropped = this.following.filter((q) => !queues.includes(q));
      this.following = queues;
      if (dropped.length) await host.broker.release?.(dropped);
      const deliveries = await host.broker.reserve(queues, { max, waitMs: 1000, signal, held: host.heldTags, window: host.window() });
      if (host.checkRevocations && deliveries.length && !(await host.checkRevocations())) {
        await Promise.all(deliveries.map((d) => host.broker.reject(d.tag, { requeue: true, reason: 'revocations unreadable' })));
        throw new Error('cannot read the revocations; the reserved messages went back to their queues');
      }
      this.failures = 0;
      this.backlog = deliveries.length === max;
      this.requested -= max;
      for (const d of deliveries) host.accept(d);
    } catch (err) {
      this.requested -= max;
      this.backlog = false;
      if (signal.aborted) return;
      this.failures++;
      const delay = Math.min(30_000, 200 * 2 ** Math.min(this.failures, 8));
      host.log.error({ err: toError(err).message, retryInMs: delay }, 'cannot reserve from the broker; retrying');
      // Still counted as in flight while it waits, which holds the loop back for the backoff.
      await sleep(delay, signal).promise;
    }
  }
}
