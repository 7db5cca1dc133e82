/**
 * The mailbox on RabbitMQ, in kombu's AMQP layout (kombu/pidbox.py, celery/app/control.py, celery/events/), so
 * Python Celery's nodes, `celery inspect`/`control` and event receivers share the same exchanges and queues:
 *
 * - `celery.pidbox` (`<namespace>.pidbox`): fanout, durable false, auto_delete false. A node's queue
 *   `<hostname>.celery.pidbox` is bound to it, declared as kombu's `Mailbox.get_queue` with Celery's control queue
 *   settings: durable false, auto_delete, `x-message-ttl` 300000 (control_queue_ttl 300 s), `x-expires` 10000
 *   (control_queue_expires 10 s).
 * - `reply.celery.pidbox`: direct, durable false, auto_delete false. A requester's queue `<oid>.reply.celery.pidbox`
 *   is bound with its oid, declared as kombu's `get_reply_queue` (the same ttl and expires: Celery passes the control
 *   settings for both).
 * - `celeryev` (any other broadcast exchange): topic, durable true, auto_delete false, as Celery's `event_exchange`.
 *   A receiver's queue `celeryev.<uuid>` is declared as Celery 5.2's EventReceiver does: durable false, auto_delete,
 *   `x-message-ttl` 5000 (event_queue_ttl 5 s), `x-expires` 60000 (event_queue_expires 60 s).
 *
 * Every queue declared here is also exclusive (owned by this connection, deleted with it), which kombu's are not.
 * Nobody else needs these queues: Celery's clients and nodes publish to the exchanges and never declare another
 * process's node, reply or event queue, and the exchanges, which they do declare, are declared exactly as kombu
 * does. Exclusive is what RabbitMQ 4.x keeps accepting for transient queues (it deprecates transient non-exclusive
 * ones, `transient_nonexcl_queues`), and 3.x accepts it as well. It also means a second node started under the same
 * name is refused (RESOURCE_LOCKED) instead of silently sharing the first one's queue, which kombu only warns about.
 *
 * The layers above hand over and receive kombu's *Redis* envelope text; AMQP has no such wrapper, so it is
 * converted here: the body travels as raw bytes, the headers as the AMQP header table, `correlation_id`,
 * `reply_to`, `priority` and `delivery_mode` as AMQP properties (messages.ts, as for task messages).
 *
 * AMQP cannot tell how many queues a publish reached, so `broadcast` resolves to Infinity: a control client then
 * waits out its timeout for replies, as Celery's does on RabbitMQ. Publishes are confirmed, so a broadcast or send
 * has reached every bound queue when it resolves.
 *
 * Each subscription and queue consumes on a channel of its own (no-ack, as kombu's pidbox and event consumers). When
 * that channel or the connection is lost, it is declared and consumed again by itself once the connection is back
 * (amqp/connection.ts reopens it); what was published meanwhile is lost, as with a Python receiver.
 */
import { randomUUID } from 'node:crypto';
import type { Channel, ConfirmChannel, ConsumeMessage } from 'amqplib';
import { AmqpConnection, ChannelSlot, closeChannel } from '../../amqp/connection.js';
import { BROKER_URL_PARAMS, parseAmqpUrl } from '../../amqp/url.js';
import { ConnectionError, DecodeError } from '../../errors/index.js';
import { decodeEnvelope } from '../../protocol/envelope.js';
import type { BrokerMessage } from '../../protocol/types.js';
import type { Mailbox, MailboxQueue, MailboxSubscription, SubscribeOptions } from '../mailbox.js';
import { publishOptions, toDelivery } from './messages.js';

export interface AmqpMailboxOptions {
  /** The broker URL (`amqp://`, `amqps://`, `pyamqp://`, several separated by `;`). */
  url: string;
  /** The connection's name as RabbitMQ lists it (client property `connection_name`). */
  connectionName?: string;
  /** How long opening the connection (or waiting for it to come back) may take, ms; default 4000. */
  connectTimeoutMs?: number;
  /** Celery's `control_queue_ttl` and `control_queue_expires`, seconds (default 300 and 10). */
  controlQueueTtl?: number;
  controlQueueExpires?: number;
  /** Celery's `event_queue_ttl`, `event_queue_expires` (seconds, default 5 and 60) and `event_queue_prefix`. */
  eventQueueTtl?: number;
  eventQueueExpires?: number;
  eventQueuePrefix?: string;
  /** Told when a subscription could not be restored after a loss (it keeps trying) and of unreadable messages. */
  onError?: (err: Error) => void;
  /** Told when the connection is lost and when it is back (subscriptions follow: see `listening`). */
  onConnectionEvent?: (event: { type: 'lost'; error: Error } | { type: 'back' }) => void;
}

const CONNECT_TIMEOUT_MS = 4_000;
const REVIVE_START_MS = 100;
const REVIVE_MAX_MS = 5_000;

interface ExchangeSpec {
  name: string;
  type: 'fanout' | 'direct' | 'topic';
  durable: boolean;
}

interface QueueSpec {
  exchange: ExchangeSpec;
  queue: string;
  bindingKey: string;
  arguments: Record<string, number>;
}

/**
 * How kombu declares an exchange of this name: `<ns>.pidbox` fanout and `reply.<ns>.pidbox` direct (both transient,
 * kombu/pidbox.py), anything else broadcast to is an event exchange (topic, durable: kombu's Exchange defaults, as
 * celery/events/event.py declares `celeryev`), and anything else sent to directly is a reply exchange.
 */
export function exchangeSpec(name: string, use: 'broadcast' | 'direct'): ExchangeSpec {
  if (/^reply\..+\.pidbox$/.test(name)) return { name, type: 'direct', durable: false };
  if (name.endsWith('.pidbox')) return { name, type: 'fanout', durable: false };
  return use === 'broadcast' ? { name, type: 'topic', durable: true } : { name, type: 'direct', durable: false };
}

/**
 * Marks a message whose text was not a kombu envelope. The port promises to carry any text; such text (only ever
 * sent by tests and tools of this package, never by Celery's control or event modules) travels verbatim as the body.
 */
const OPAQUE_HEADER = 'x-celerity-opaque';

/** The AMQP message kombu would send for a Redis envelope; text that is no envelope becomes a plain text body. */
function toAmqp(envelope: string): BrokerMessage {
  try {
    return decodeEnvelope(envelope);
  } catch (err) {
    if (!(err instanceof DecodeError)) throw err;
    const body = Buffer.from(envelope, 'utf8');
    return { headers: { [OPAQUE_HEADER]: true }, properties: {}, body, contentType: 'text/plain', contentEncoding: 'utf-8' };
  }
}

/** kombu's Redis envelope of an AMQP message (or the text carried verbatim, see OPAQUE_HEADER). */
function fromAmqp(msg: ConsumeMessage, queue: string): string {
  if (msg.properties.headers?.[OPAQUE_HEADER] === true) return msg.content.toString('utf8');
  return toDelivery(String(msg.fields.deliveryTag), queue, msg).raw;
}

/** kombu's `maybe_s_to_ms`: seconds to whole milliseconds. */
const toMs = (seconds: number): number => Math.trunc(seconds * 1000);

export class AmqpMailbox implements Mailbox {
  readonly conn: AmqpConnection;
  private readonly connectMs: number;
  private readonly control: Record<string, number>;
  private readonly events: Record<string, number>;
  private readonly eventPrefix: string;
  private readonly onError: (err: Error) => void;
  private readonly publisher: ChannelSlot<ConfirmChannel>;
  private readonly consumers = new Set<Consumer>();
  private closed = false;

  constructor(options: AmqpMailboxOptions) {
    const url = parseAmqpUrl(options.url, { setting: 'broker', params: BROKER_URL_PARAMS });
    this.connectMs = options.connectTimeoutMs ?? CONNECT_TIMEOUT_MS;
    this.control = {
      'x-message-ttl': toMs(options.controlQueueTtl ?? 300),
      'x-expires': toMs(options.controlQueueExpires ?? 10),
    };
    this.events = {
      'x-message-ttl': toMs(options.eventQueueTtl ?? 5),
      'x-expires': toMs(options.eventQueueExpires ?? 60),
    };
    this.eventPrefix = options.eventQueuePrefix ?? 'celeryev';
    this.onError = options.onError ?? (() => undefined);
    this.conn = new AmqpConnection(url.endpoints, {
      connectMs: this.connectMs,
      connectionName: options.connectionName ?? `celerity-mailbox-${process.pid}`,
      onLost: (error) => options.onConnectionEvent?.({ type: 'lost', error }),
      onBack: () => options.onConnectionEvent?.({ type: 'back' }),
    });
    this.publisher = new ChannelSlot((waitMs) => this.conn.confirmChannel(waitMs));
  }

  async connect(): Promise<void> {
    this.checkOpen();
    await this.conn.open();
  }

  async broadcast(exchange: string, routingKey: string, envelope: string): Promise<number> {
    await this.publish(exchangeSpec(exchange, 'broadcast'), routingKey, envelope);
    return Infinity;
  }

  async subscribe(
    exchange: string,
    bindingKey: string,
    onMessage: (envelope: string) => void,
    options: SubscribeOptions = {},
  ): Promise<MailboxSubscription> {
    const spec = exchangeSpec(exchange, 'broadcast');
    // A node's pidbox queue has the control queue settings; anything else is an event receiver's queue.
    const isNode = spec.type === 'fanout';
    const queue = options.queue ?? `${this.eventPrefix}.${randomUUID()}`;
    const consumer = await this.consume(
      { exchange: spec, queue, bindingKey, arguments: isNode ? this.control : this.events },
      (envelope) => {
        try {
          onMessage(envelope);
        } catch (err) {
          this.onError(err as Error);
        }
      },
    );
    return { close: () => consumer.close() };
  }

  async send(exchange: string, routingKey: string, envelope: string): Promise<void> {
    await this.publish(exchangeSpec(exchange, 'direct'), routingKey, envelope);
  }

  async openQueue(exchange: string, routingKey: string, queue: string): Promise<MailboxQueue> {
    const inbox = new Inbox();
    const consumer = await this.consume(
      { exchange: exchangeSpec(exchange, 'direct'), queue, bindingKey: routingKey, arguments: this.control },
      (envelope) => inbox.put(envelope),
    );
    return {
      take: (timeoutMs, signal) => inbox.take(timeoutMs, signal),
      close: async () => {
        inbox.end();
        await consumer.close();
      },
    };
  }

  /**
   * Resolves once every subscription and queue of this mailbox consumes on the current connection: after a lost
   * connection, when they have all been declared and consumed again.
   */
  async listening(): Promise<void> {
    await Promise.all([...this.consumers].map((c) => c.ready));
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all([...this.consumers].map((c) => c.close()));
    // Closing the connection closes the publisher's channel too.
    await this.conn.close();
  }

  private checkOpen(): void {
    if (this.closed) throw new ConnectionError('the mailbox is closed');
  }

  private async consume(spec: QueueSpec, deliver: (envelope: string) => void): Promise<Consumer> {
    this.checkOpen();
    await this.conn.current(this.connectMs);
    const consumer = new Consumer(this, spec, deliver, () => this.consumers.delete(consumer));
    await consumer.start(this.connectMs);
    if (this.closed) {
      await consumer.close();
      throw new ConnectionError('the mailbox is closed');
    }
    this.consumers.add(consumer);
    return consumer;
  }

  /**
   * Publishes a Redis-envelope `envelope` as the AMQP message kombu would send, and waits for its confirm. A publish
   * that never left (the connection had just been lost, the channel held was a closed one) is tried once more, on
   * the connection being reopened; one written and then lost is not, since it may have been delivered.
   */
  private async publish(exchange: ExchangeSpec, routingKey: string, envelope: string): Promise<void> {
    this.checkOpen();
    const message = toAmqp(envelope);
    const priority = typeof message.properties.priority === 'number' ? message.properties.priority : 0;
    for (let attempt = 0; ; attempt++) {
      let written = false;
      try {
        await this.conn.current(this.connectMs);
        await this.declareExchange(exchange);
        const ch = await this.publisher.get(this.connectMs);
        await new Promise<void>((resolve, reject) => {
          ch.publish(exchange.name, routingKey, message.body, publishOptions(message, priority), (err) => (err ? reject(err) : resolve()));
          written = true;
        });
        return;
      } catch (err) {
        if (!written && attempt === 0 && !this.closed) continue;
        if (err instanceof ConnectionError) throw err;
        throw new ConnectionError(`cannot publish to ${exchange.name} on RabbitMQ at ${this.conn.target}: ${(err as Error).message}`, {
          cause: err,
        });
      }
    }
  }

  /**
   * Declares an exchange once per connection, on a channel of its own: a declaration the server refuses
   * (PRECONDITION_FAILED, declared otherwise by someone else) closes that channel, not the shared publisher.
   */
  declareExchange(spec: ExchangeSpec): Promise<void> {
    return this.conn.once(`exchange:${spec.name}`, () =>
      this.conn.withChannel(async (ch) => void (await ch.assertExchange(spec.name, spec.type, { durable: spec.durable, autoDelete: false })), this.connectMs),
    );
  }

  /** @internal */
  reportError(err: Error): void {
    this.onError(err);
  }
}

/**
 * One queue consumed on a channel of its own: declared, bound and consumed by `start`, and again whenever its
 * channel closes without being asked to (lost connection, queue deleted by an operator), until `close`.
 */
class Consumer {
  /** Resolves when consuming on the current connection; replaced by a pending one while being restored. */
  ready: Promise<void> = Promise.resolve();
  private ch: Channel | null = null;
  private closed = false;
  private retry: NodeJS.Timeout | null = null;
  private stopRetry: (() => void) | null = null;

  constructor(
    private readonly mailbox: AmqpMailbox,
    private readonly spec: QueueSpec,
    private readonly deliver: (envelope: string) => void,
    private readonly onClosed: () => void,
  ) {}

  async start(waitMs: number): Promise<void> {
    const { spec, mailbox } = this;
    await mailbox.declareExchange(spec.exchange);
    const ch = await mailbox.conn.channel(waitMs);
    ch.on('error', () => undefined);
    try {
      await ch.assertQueue(spec.queue, { durable: false, autoDelete: true, exclusive: true, arguments: spec.arguments });
      await ch.bindQueue(spec.queue, spec.exchange.name, spec.bindingKey);
      await ch.consume(spec.queue, (msg) => this.onMessage(ch, msg), { noAck: true });
    } catch (err) {
      await closeChannel(ch);
      throw err;
    }
    if (this.closed) {
      await this.discard(ch);
      return;
    }
    this.ch = ch;
    ch.on('close', () => {
      if (this.ch !== ch) return;
      this.ch = null;
      if (!this.closed) this.revive();
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.onClosed();
    if (this.retry) clearTimeout(this.retry);
    this.stopRetry?.();
    const ch = this.ch;
    this.ch = null;
    if (ch) await this.discard(ch);
  }

  /**
   * Deletes the queue rather than leaving it to auto-delete, which the server does in its own time: a queue of the
   * same name declared right after must start empty, and nothing sent after close may land in it.
   */
  private async discard(ch: Channel): Promise<void> {
    await ch.deleteQueue(this.spec.queue).catch(() => undefined);
    await closeChannel(ch);
  }

  private onMessage(ch: Channel, msg: ConsumeMessage | null): void {
    if (msg === null) {
      // The server cancelled the consumer (its queue was deleted): closing the channel restores both.
      void ch.close().catch(() => undefined);
      return;
    }
    let envelope: string;
    try {
      envelope = fromAmqp(msg, this.spec.queue);
    } catch (err) {
      this.mailbox.reportError(err as Error);
      return;
    }
    this.deliver(envelope);
  }

  /** Declares and consumes again once the connection allows, with backoff between failed attempts. */
  private revive(): void {
    let resolveReady: () => void = () => undefined;
    this.ready = new Promise<void>((resolve) => (resolveReady = resolve));
    void (async () => {
      for (let attempt = 0; !this.closed; attempt++) {
        try {
          // Waits for the connection being reopened; a failed wait is one more attempt.
          await this.start(REVIVE_MAX_MS);
          break;
        } catch (err) {
          if (this.closed) break;
          this.mailbox.reportError(
            new ConnectionError(`could not consume ${this.spec.queue} again: ${(err as Error).message}`, { cause: err }),
          );
          const base = Math.min(REVIVE_MAX_MS, REVIVE_START_MS * 2 ** attempt);
          await new Promise<void>((resolve) => {
            this.stopRetry = resolve;
            this.retry = setTimeout(resolve, Math.round(base * (0.8 + Math.random() * 0.4)));
          });
          this.retry = null;
          this.stopRetry = null;
        }
      }
      resolveReady();
    })();
  }
}

/** Envelopes a reply queue received and not yet taken, and the takers waiting for one. */
class Inbox {
  private readonly items: string[] = [];
  private readonly waiters: ((envelope: string | null) => void)[] = [];

  put(envelope: string): void {
    const waiter = this.waiters.shift();
    if (waiter) waiter(envelope);
    else this.items.push(envelope);
  }

  take(timeoutMs: number, signal?: AbortSignal): Promise<string | null> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    const item = this.items.shift();
    if (item !== undefined) return Promise.resolve(item);
    return new Promise((resolve, reject) => {
      const done = (envelope: string | null): void => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        resolve(envelope);
      };
      const leave = (): void => {
        const i = this.waiters.indexOf(done);
        if (i !== -1) this.waiters.splice(i, 1);
      };
      const onAbort = (): void => {
        leave();
        clearTimeout(timer);
        reject(signal!.reason);
      };
      const timer = setTimeout(() => {
        leave();
        done(null);
      }, timeoutMs);
      signal?.addEventListener('abort', onAbort, { once: true });
      this.waiters.push(done);
    });
  }

  /** Closed: waiting takers get null. */
  end(): void {
    for (const waiter of this.waiters.splice(0)) waiter(null);
  }
}
