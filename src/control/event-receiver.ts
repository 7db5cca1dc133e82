/**
 * Reads Celery monitoring events from Redis, as Celery 5.2's EventReceiver (celery/events/receiver.py) and
 * Flower do: PSUBSCRIBE `<prefix>/<db>.celeryev/*` (the binding key `#` with kombu's `#` -> `*`), each message
 * one event or a list of them (`task.multi`). Like Celery's, it asks every worker for a heartbeat once it
 * listens (`wakeup`), so a monitor learns about running workers at once rather than within 2 s.
 *
 * ioredis subscribes again by itself after a reconnect; events published while the connection was down are lost
 * (Redis pub/sub keeps nothing), as with Celery.
 */
import { randomUUID } from 'node:crypto';
import type { Mailbox, MailboxSubscription } from '../broker/mailbox.js';
import { DEFAULT_CONTROL_NAMESPACE, encodeControlRequest, pidboxExchange } from '../protocol/control.js';
import { EVENT_EXCHANGE, decodeEventMessage } from '../protocol/events.js';
import type { CeleryEvent } from '../protocol/events.js';
import { createSerializerRegistry } from '../protocol/serializers.js';
import type { SerializerRegistry } from '../protocol/serializers.js';
import { LamportClock } from './clock.js';
import { mailboxOf, type MailboxSource } from './transport.js';

/** An event as received, with Celery's receiver-side field: `local_received`, epoch seconds. */
export type ReceivedEvent = CeleryEvent & { local_received: number };

export interface EventReceiverOptions extends MailboxSource {
  /** Celery's `event_exchange` (default `celeryev`). */
  exchange?: string;
  /** Which events, as an AMQP topic binding key (default `#`: all); `worker.#` for worker events only. */
  routingKey?: string;
  /** Content types or serializer names to accept (Celery accepts its `event_serializer` and json). */
  accept?: readonly string[];
  /** Ask every worker for an immediate heartbeat once subscribed (default true, as Celery). */
  wakeup?: boolean;
  /** Celery's `control_exchange`, for `wakeup` (default `celery`). */
  controlNamespace?: string;
  clock?: LamportClock;
  /** Messages that could not be read; by default ignored. */
  onError?: (err: Error) => void;
}

export interface EventStreamOptions {
  signal?: AbortSignal;
  /** Events kept for a slow reader; beyond it the oldest are dropped (default 10,000). */
  maxBuffer?: number;
}

type Listener = (event: ReceivedEvent) => void;

export class EventReceiver {
  readonly clock: LamportClock;
  private readonly exchange: string;
  private readonly routingKey: string;
  private readonly wakeup: boolean;
  private readonly controlNamespace: string;
  private readonly mailbox: Mailbox;
  private readonly ownsMailbox: boolean;
  private readonly registry: SerializerRegistry;
  private readonly onError: (err: Error) => void;
  private readonly listeners = new Set<Listener>();
  private readonly closers = new Set<() => void>();
  private subscription: MailboxSubscription | null = null;

  constructor(options: EventReceiverOptions) {
    this.clock = options.clock ?? new LamportClock();
    this.exchange = options.exchange ?? EVENT_EXCHANGE;
    this.routingKey = options.routingKey ?? '#';
    this.wakeup = options.wakeup ?? true;
    this.controlNamespace = options.controlNamespace ?? DEFAULT_CONTROL_NAMESPACE;
    ({ mailbox: this.mailbox, owned: this.ownsMailbox } = mailboxOf(options, 'celerity-events-receiver'));
    this.registry = createSerializerRegistry(options.accept ?? ['json']);
    this.onError = options.onError ?? (() => undefined);
  }

  /** Subscribes; resolves once events are being received (and the wakeup sent). */
  async start(): Promise<void> {
    if (this.subscription) return;
    try {
      this.subscription = await this.mailbox.subscribe(this.exchange, this.routingKey, (raw) => this.receive(raw));
      if (this.wakeup) await this.wakeWorkers();
    } catch (err) {
      await this.close();
      throw err;
    }
  }

  /** Calls `listener` with every event from now on; returns the function that stops it. */
  on(listener: Listener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * The events from now on, as an async iterator; ends when the receiver closes or `signal` aborts.
   *
   * @example
   * for await (const event of receiver.events({ signal })) {
   *   if (event.type === 'worker-heartbeat') console.log(event.hostname, event.active);
   * }
   */
  async *events(options: EventStreamOptions = {}): AsyncGenerator<ReceivedEvent, void, undefined> {
    const { signal } = options;
    const maxBuffer = options.maxBuffer ?? 10_000;
    const buffer: ReceivedEvent[] = [];
    let wake: (() => void) | null = null;
    let ended = signal?.aborted ?? false;
    const notify = (): void => {
      wake?.();
      wake = null;
    };
    const stop = (): void => {
      ended = true;
      notify();
    };
    const off = this.on((event) => {
      buffer.push(event);
      if (buffer.length > maxBuffer) buffer.shift();
      notify();
    });
    this.closers.add(stop);
    signal?.addEventListener('abort', stop, { once: true });
    try {
      while (true) {
        const next = buffer.shift();
        if (next) {
          yield next;
          continue;
        }
        if (ended) return;
        await new Promise<void>((resolve) => {
          wake = resolve;
        });
      }
    } finally {
      off();
      this.closers.delete(stop);
      signal?.removeEventListener('abort', stop);
    }
  }

  /** Unsubscribes and disconnects; open iterators end. */
  async close(): Promise<void> {
    for (const stop of [...this.closers]) stop();
    const subscription = this.subscription;
    this.subscription = null;
    await subscription?.close().catch((err: unknown) => this.report(err));
    if (this.ownsMailbox) await this.mailbox.close();
  }

  private receive(raw: string): void {
    let events: CeleryEvent[];
    try {
      events = decodeEventMessage(raw, this.registry);
    } catch (err) {
      this.report(err);
      return;
    }
    const now = Date.now() / 1000;
    for (const event of events) {
      // Celery's receiver does not trust a producer's clock on task-sent (clients never sync theirs).
      if (event.type !== 'task-sent') this.clock.adjust(event.clock);
      const received = event as ReceivedEvent;
      received.local_received = now;
      for (const listener of this.listeners) {
        try {
          listener(received);
        } catch (err) {
          this.report(err);
        }
      }
    }
  }

  /** Celery's `wakeup_workers`: a `heartbeat` control broadcast with no reply wanted. */
  private async wakeWorkers(): Promise<void> {
    const envelope = encodeControlRequest(
      {
        method: 'heartbeat',
        arguments: {},
        destination: null,
        pattern: null,
        matcher: null,
        clock: this.clock.forward(),
        expires: Date.now() / 1000 + 1,
      },
      { deliveryTag: randomUUID(), namespace: this.controlNamespace },
    );
    await this.mailbox.broadcast(pidboxExchange(this.controlNamespace), '', envelope);
  }

  private report(err: unknown): void {
    try {
      this.onError(err instanceof Error ? err : new Error(String(err)));
    } catch {
      // A failing error callback must not stop delivery to the others.
    }
  }
}
