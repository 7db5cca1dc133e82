/**
 * Publishes Celery monitoring events on Redis, as a Celery 5.2 worker does (celery/events/dispatcher.py,
 * celery/worker/heartbeat.py), so Flower, `celery events` and EventReceiver see a Celerity worker:
 *
 * - `PUBLISH <prefix>/<db>.celeryev/<type with - as .> <envelope>`, header `hostname`, `delivery_mode` 1;
 * - with `heartbeat`: `worker-online` at start, `worker-heartbeat` every 2 s, `worker-offline` at close, each with
 *   `freq, active, processed, loadavg, sw_ident, sw_ver, sw_sys`;
 * - events of `bufferGroups` (a worker passes `['task']`, as Celery's does when it runs an event loop) are
 *   collected and published as one JSON list under `task.multi` at the end of the current turn of the event loop,
 *   or as soon as `bufferLimit` (24) are waiting.
 *
 * Events are monitoring data: a publish that fails (Redis unreachable) is reported to `onError` and dropped, never
 * thrown at the code that sent it; Redis keeps nothing for subscribers that are not listening either.
 */
import { randomUUID } from 'node:crypto';
import type { Mailbox } from '../broker/mailbox.js';
import {
  EVENT_EXCHANGE,
  createEvent,
  encodeEventMessage,
  eventGroup,
  loadAverage,
  platformSystem,
} from '../protocol/events.js';
import type { CeleryEvent, EventFieldsByType, WorkerEventFields } from '../protocol/events.js';
import { createSerializerRegistry } from '../protocol/serializers.js';
import type { SerializerRegistry } from '../protocol/serializers.js';
import { VERSION } from '../util/version.js';
import { LamportClock } from './clock.js';
import { mailboxOf, type MailboxSource } from './transport.js';

export interface HeartbeatOptions {
  /** Seconds between heartbeats (Celery's default 2). */
  interval?: number;
  /** The worker's counters at the time of each heartbeat. */
  state: () => { active: number; processed: number };
}

export interface EventDispatcherOptions extends MailboxSource {
  /** The node name events are sent as. */
  hostname: string;
  /** Celery's `event_exchange` (default `celeryev`). */
  exchange?: string;
  /** Celery's `event_serializer` (default json). */
  serializer?: string;
  pid?: number;
  /** Shared with the node's ControlServer, so events and replies are ordered on one clock. */
  clock?: LamportClock;
  /**
   * Only events of these groups are sent (the part of the type before `-`); null = all. A Celery worker started
   * without `-E` sends `['worker']`. Changeable later through `groups`.
   */
  groups?: readonly string[] | null;
  bufferGroups?: readonly string[];
  bufferLimit?: number;
  /** Send worker-online / worker-heartbeat / worker-offline. */
  heartbeat?: HeartbeatOptions;
  /** `sw_ident`, `sw_ver`, `sw_sys` of worker events (default `celerity`, this package's version, the OS). */
  software?: { ident?: string; version?: string; system?: string };
  onError?: (err: Error) => void;
}


export class EventDispatcher {
  readonly hostname: string;
  readonly clock: LamportClock;
  /** The groups sent; null = all. Mutable, for `enable_events` / `disable_events`. */
  groups: Set<string> | null;
  private readonly exchange: string;
  private readonly mailbox: Mailbox;
  private readonly ownsMailbox: boolean;
  private readonly registry: SerializerRegistry;
  private readonly serializer: string;
  private readonly pid: number;
  private readonly bufferGroups: ReadonlySet<string>;
  private readonly bufferLimit: number;
  private readonly heartbeat: HeartbeatOptions | undefined;
  private readonly software: { sw_ident: string; sw_ver: string; sw_sys: string };
  private readonly onError: (err: Error) => void;
  private readonly buffers = new Map<string, CeleryEvent[]>();
  private flushScheduled: NodeJS.Immediate | null = null;
  private readonly pending = new Set<Promise<void>>();
  private started = false;
  private timer: NodeJS.Timeout | null = null;
  private online = false;

  constructor(options: EventDispatcherOptions) {
    this.hostname = options.hostname;
    this.clock = options.clock ?? new LamportClock();
    this.groups = options.groups ? new Set(options.groups) : null;
    this.exchange = options.exchange ?? EVENT_EXCHANGE;
    ({ mailbox: this.mailbox, owned: this.ownsMailbox } = mailboxOf(options, 'celerity-events'));
    this.registry = createSerializerRegistry(['json']);
    this.serializer = options.serializer ?? 'json';
    this.registry.get(this.serializer);
    this.pid = options.pid ?? process.pid;
    this.bufferGroups = new Set(options.bufferGroups ?? []);
    this.bufferLimit = options.bufferLimit ?? 24;
    this.heartbeat = options.heartbeat;
    this.software = {
      sw_ident: options.software?.ident ?? 'celerity',
      sw_ver: options.software?.version ?? VERSION,
      sw_sys: options.software?.system ?? platformSystem(),
    };
    this.onError = options.onError ?? (() => undefined);
  }

  /** Connects; with `heartbeat`, announces the worker online and starts the heartbeats. */
  async start(): Promise<void> {
    if (this.started) return;
    await this.mailbox.connect();
    this.started = true;
    if (!this.heartbeat) return;
    this.online = true;
    await this.send('worker-online', this.workerFields());
    const interval = (this.heartbeat.interval ?? 2) * 1000;
    this.timer = setInterval(() => void this.sendHeartbeat(), interval);
    // The heartbeat alone never keeps a process alive.
    this.timer.unref();
  }

  /**
   * Sends one event (or buffers it, for `bufferGroups`). Resolves once published or dropped; never rejects.
   *
   * @example
   * await events.send('task-started', { uuid: request.id });
   */
  send<T extends keyof EventFieldsByType>(type: T, fields: EventFieldsByType[T]): Promise<void>;
  send(type: string, fields?: Record<string, unknown>): Promise<void>;
  send(type: string, fields: object = {}): Promise<void> {
    const group = eventGroup(type);
    if (!this.started || (this.groups && !this.groups.has(group))) return Promise.resolve();
    const event = createEvent(type, fields, { hostname: this.hostname, pid: this.pid, clock: this.clock.forward() });
    if (!this.bufferGroups.has(group)) return this.publish(event);
    const buffer = this.buffers.get(group) ?? [];
    this.buffers.set(group, buffer);
    buffer.push(event);
    if (buffer.length >= this.bufferLimit) return this.flush();
    this.flushScheduled ??= setImmediate(() => void this.flush());
    return Promise.resolve();
  }

  /** Sends a worker-heartbeat now (Celery's `heartbeat` control command). */
  sendHeartbeat(): Promise<void> {
    if (!this.heartbeat) return Promise.resolve();
    return this.send('worker-heartbeat', this.workerFields());
  }

  /** Publishes what is buffered, one list per group. */
  async flush(): Promise<void> {
    if (this.flushScheduled) clearImmediate(this.flushScheduled);
    this.flushScheduled = null;
    const batches = [...this.buffers.entries()].filter(([, events]) => events.length > 0);
    this.buffers.clear();
    await Promise.all(batches.map(([group, events]) => this.publish(events, `${group}.multi`)));
  }

  /** Stops the heartbeats, publishes what is buffered, announces the worker offline and disconnects. */
  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    if (!this.started) return;
    await this.flush();
    if (this.online) {
      this.online = false;
      await this.send('worker-offline', this.workerFields());
    }
    await Promise.allSettled([...this.pending]);
    this.started = false;
    if (this.ownsMailbox) await this.mailbox.close();
  }

  private workerFields(): WorkerEventFields {
    const { active, processed } = this.heartbeat?.state() ?? { active: 0, processed: 0 };
    return {
      freq: this.heartbeat?.interval ?? 2,
      active,
      processed,
      loadavg: loadAverage(),
      ...this.software,
    };
  }

  private publish(event: CeleryEvent | CeleryEvent[], routingKey?: string): Promise<void> {
    if (!this.started) return Promise.resolve();
    const done = (async () => {
      const message = encodeEventMessage(event, {
        hostname: this.hostname,
        deliveryTag: randomUUID(),
        exchange: this.exchange,
        serializer: this.serializer,
        registry: this.registry,
        ...(routingKey ? { routingKey } : {}),
      });
      await this.mailbox.broadcast(this.exchange, message.routingKey, message.envelope);
    })().catch((err: unknown) => this.report(err));
    this.pending.add(done);
    void done.finally(() => this.pending.delete(done));
    return done;
  }

  private report(err: unknown): void {
    try {
      this.onError(err instanceof Error ? err : new Error(String(err)));
    } catch {
      // Reporting must not turn a dropped event into an unhandled rejection.
    }
  }
}
