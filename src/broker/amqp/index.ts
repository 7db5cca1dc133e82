/**
 * The RabbitMQ broker (AMQP 0-9-1), in Celery's topology (topology.ts), so Python Celery producers and workers
 * share queues with it. See docs/rabbitmq.md.
 *
 * - publish: a confirm channel; a batch resolves once the server confirmed every message of it. Batches are written
 *   in call order; a batch whose channel or connection was lost before its confirms is published again once the
 *   connection is back (at least once), waiting at most `publishTimeoutMs`.
 * - reserve: consumers push into a buffer under a prefetch window that follows what the worker asks for
 *   (consumer.ts); a reserve that cannot wait tops the buffer up with basic.get.
 * - ack/reject: on the channel the message came on; unacked messages go back to their queue when that channel or
 *   connection closes (RabbitMQ's redelivery), which replaces the visibility timeout of the Redis and SQLite brokers:
 *   `extend` and `restore` have nothing to do.
 * - dead letters: a durable queue of their own (dead-letters.ts).
 * - a lost connection is reopened with backoff across the URL's brokers (amqp/connection.ts); consumers are started
 *   again by the next reserve, so a worker never sits on a consumer that silently stopped.
 */
import { randomUUID } from 'node:crypto';
import type { ConfirmChannel } from 'amqplib';
import { AmqpConnection, ChannelSlot } from '../../amqp/connection.js';
import { BROKER_URL_PARAMS, parseAmqpUrl } from '../../amqp/url.js';
import { ConfigurationError, ConnectionError } from '../../errors/index.js';
import type {
  Broker,
  BrokerCapabilities,
  DeadLetter,
  Delivery,
  OutboundMessage,
  RejectOptions,
  ReserveOptions,
} from '../port.js';
import { clampPriority, undecodable } from '../raw.js';
import { peekMessageIdentity } from '../../protocol/message.js';
import type { Mailbox } from '../mailbox.js';
import { ConsumerState, taskIdOf } from './consumer.js';
import * as letters from './dead-letters.js';
import { AmqpMailbox } from './mailbox.js';
import { publishOptions } from './messages.js';
import { DEAD_LETTER_QUEUE, declareDeadLetterQueue, declareTaskQueue, type QueueSettings, type QueueType } from './topology.js';
import { DELAY_ENTRY, bindToDelivery, declareDelayLevels, delaySeconds, delayedRoutingKey } from './delayed.js';

export type { QueueType } from './topology.js';
export type DelayedDelivery = 'native' | 'off';

export interface AmqpBrokerOptions {
  /** `amqp://`, `amqps://` or `pyamqp://`, several separated by `;`; see docs/rabbitmq.md for the options. */
  url: string;
  /** `x-max-priority` of the task queues it declares (Celery's task_queue_max_priority); the URL's `max_priority`. */
  maxPriority?: number;
  /** `classic` (default) or `quorum` (Celery 5.5's task_default_queue_type); the URL's `queue_type`. */
  queueType?: QueueType;
  /**
   * `native`: countdowns and ETAs wait in the broker (Celery 5.5's delayed-delivery exchanges, delayed.ts), and
   * workers hand far-off ETAs back to it instead of holding them; `off`: workers hold them, as Celery's do. The
   * URL's `delayed_delivery`; default `native` for quorum queues (as Celery 5.5), `off` for classic ones.
   */
  delayedDelivery?: DelayedDelivery;
  /** How long opening the connection may take, ms; default 4000. */
  connectTimeoutMs?: number;
  /** How long a publish waits for its confirms, reconnecting included, ms; default 30000. */
  publishTimeoutMs?: number;
  /**
   * RabbitMQ's delivery acknowledgement timeout asked for each consumer, ms (x-consumer-timeout; honoured by
   * RabbitMQ 3.12 and later); the URL's `consumer_timeout` in seconds. Default 24 hours: longer than any task
   * should run, instead of the server's 30 minutes.
   */
  consumerTimeoutMs?: number;
  /** Told when the connection is lost and when it is back. */
  onConnectionEvent?: (event: { type: 'lost'; error: Error } | { type: 'back' }) => void;
}

const CONSUMER_TIMEOUT_MS = 24 * 60 * 60 * 1000;
const CONNECT_TIMEOUT_MS = 4_000;
const PUBLISH_TIMEOUT_MS = 30_000;

export class AmqpBroker implements Broker {
  readonly capabilities: BrokerCapabilities;
  readonly settings: QueueSettings;
  readonly delayedDelivery: DelayedDelivery;
  private readonly conn: AmqpConnection;
  private readonly connectMs: number;
  private readonly publishMs: number;
  private readonly publisher: ChannelSlot<ConfirmChannel>;
  private consumer: Promise<ConsumerState> | null = null;
  private consumerGeneration = 0;
  private writeTail: Promise<unknown> = Promise.resolve();
  private asking = 0;
  private readonly consumerTimeoutMs: number;
  /** Task ids of messages held on consumer channels that are gone, by tag: an ack for one settles its copy. */
  private readonly orphans = new Map<string, string>();
  /**
   * Task ids this process finished after their channel was gone (the ack could not be sent): the copy the server
   * sends again is acked on arrival instead of run again. Bounded, oldest first out.
   */
  private readonly settled = new Set<string>();
  /** Why the server closed the consumer channel, reported once by the next reserve. */
  private channelError: Error | null = null;
  private closed = false;

  constructor(private readonly options: AmqpBrokerOptions) {
    const url = parseAmqpUrl(options.url, { setting: 'broker', params: BROKER_URL_PARAMS });
    this.settings = {
      maxPriority: options.maxPriority ?? maxPriorityOf(url.params.get('max_priority')),
      queueType: options.queueType ?? queueTypeOf(url.params.get('queue_type')),
    };
    this.delayedDelivery = options.delayedDelivery ?? delayedDeliveryOf(url.params.get('delayed_delivery'), this.settings.queueType);
    this.capabilities = { nativeDelay: this.delayedDelivery === 'native' };
    this.connectMs = options.connectTimeoutMs ?? CONNECT_TIMEOUT_MS;
    this.consumerTimeoutMs = options.consumerTimeoutMs ?? secondsOf(url.params.get('consumer_timeout'), 'consumer_timeout') ?? CONSUMER_TIMEOUT_MS;
    this.publishMs = options.publishTimeoutMs ?? PUBLISH_TIMEOUT_MS;
    this.conn = new AmqpConnection(url.endpoints, {
      connectMs: this.connectMs,
      connectionName: `celerity-broker-${process.pid}`,
      onLost: (error) => {
        void this.consumer?.then((c) => c.interrupt(), () => undefined);
        options.onConnectionEvent?.({ type: 'lost', error });
      },
      onBack: () => options.onConnectionEvent?.({ type: 'back' }),
    });
    this.publisher = new ChannelSlot((waitMs) => this.conn.confirmChannel(waitMs));
  }

  async connect(): Promise<void> {
    await this.conn.open();
    await this.conn.withChannel((ch) => declareDeadLetterQueue(ch));
  }

  /** Remote control and events on this broker: kombu's pidbox and celeryev exchanges (mailbox.ts), own connection. */
  mailbox(): Mailbox {
    return new AmqpMailbox({ url: this.options.url, connectTimeoutMs: this.connectMs });
  }

  // ---- publishing ----

  publish(batch: readonly OutboundMessage[]): Promise<void> {
    if (!batch.length) return Promise.resolve();
    const deadline = Date.now() + this.publishMs;
    // Written in call order (declarations included); confirms are awaited outside the chain, so the next batch is
    // written while this one is being confirmed.
    const written = this.writeTail.then(() => this.write(batch, deadline));
    this.writeTail = written.catch(() => undefined);
    return written.then((confirmed) => confirmed);
  }

  /** Writes `batch` and resolves to the promise of its confirms, retried once the connection is back. */
  private async write(batch: readonly OutboundMessage[], deadline: number): Promise<Promise<void>> {
    for (;;) {
      const attempt = await this.writeOnce(batch, deadline);
      if (attempt.ok) {
        return attempt.confirmed.catch(async (err: unknown) => {
          if (this.closed || Date.now() >= deadline) throw this.publishError(err);
          // The channel or connection went away before every confirm came: publish the whole batch again.
          await (await this.write(batch, deadline));
        });
      }
      if (this.closed || Date.now() >= deadline) throw this.publishError(attempt.error);
    }
  }

  private async writeOnce(
    batch: readonly OutboundMessage[],
    deadline: number,
  ): Promise<{ ok: true; confirmed: Promise<void> } | { ok: false; error: unknown }> {
    try {
      const pub = await this.publisher.get(Math.max(1, deadline - Date.now()));
      for (const queue of new Set(batch.map((m) => m.queue))) await this.declare(queue);
      const confirms = batch.map(
        (m) =>
          new Promise<void>((resolve, reject) => {
            const priority = clampPriority(m.priority);
            const options = publishOptions(m.message, priority);
            const confirm = (err: unknown) => (err ? reject(err) : resolve());
            const wait = this.capabilities.nativeDelay && m.notBefore !== undefined ? delaySeconds(m.notBefore) : 0;
            if (wait > 0) pub.publish(DELAY_ENTRY, delayedRoutingKey(wait, m.queue), m.message.body, options, confirm);
            else pub.publish('', m.queue, m.message.body, options, confirm);
          }),
      );
      return { ok: true, confirmed: Promise.all(confirms).then(() => undefined) };
    } catch (error) {
      return { ok: false, error };
    }
  }

  private publishError(err: unknown): Error {
    if (err instanceof ConnectionError || err instanceof ConfigurationError) return err;
    return new ConnectionError(`cannot publish to RabbitMQ at ${this.conn.target}: ${(err as Error)?.message ?? String(err)}`, { cause: err });
  }

  /**
   * Declares a task queue once per connection. A queue that exists with other arguments (declared by a different
   * configuration) is used as it is, with a warning in the error it would otherwise be.
   */
  private declare(queue: string): Promise<void> {
    return this.conn.once(`queue:${queue}`, async () => {
      await this.conn.withChannel((ch) => declareTaskQueue(ch, queue, this.settings)).catch(async (err: unknown) => {
        if ((err as { code?: number }).code !== 406) throw err;
        // PRECONDITION_FAILED: the queue is there with other arguments; it still takes messages.
        await this.conn.withChannel((ch) => ch.checkQueue(queue));
      });
      if (!this.capabilities.nativeDelay) return;
      await this.conn.once('delay-levels', () => this.conn.withChannel((ch) => declareDelayLevels(ch)));
      await this.conn.withChannel((ch) => bindToDelivery(ch, queue));
    });
  }

  // ---- consuming ----

  async reserve(queues: readonly string[], options: ReserveOptions): Promise<Delivery[]> {
    options.signal?.throwIfAborted();
    if (this.closed) return [];
    const max = Math.max(0, options.max);
    const until = Date.now() + options.waitMs;
    this.asking += max;
    try {
      for (;;) {
        const failed = this.channelError;
        if (failed) {
          this.channelError = null;
          throw new ConnectionError(channelClosedMessage(failed), { cause: failed });
        }
        const state = await this.consumerState(Math.max(1, until - Date.now()));
        if (options.waitMs === 0) {
          // A reserve that cannot wait pulls (basic.get) rather than starting consumers: what it leaves in the
          // queues stays there, visible to size() and to other workers.
          const got = state.take(queues, max, this.isSettled);
          await state.fetchNow(queues, max - got.length, (q) => this.declare(q));
          return got.concat(state.take(queues, max - got.length, this.isSettled));
        }
        // The window first: a consumer started under the old one would be sent more than was asked for.
        await state.setWindow(this.asking, options.window);
        await state.follow(queues, (q) => this.declare(q));
        const got = state.take(queues, max, this.isSettled);
        const left = until - Date.now();
        if (got.length || left <= 0 || this.closed) return got;
        await state.waitForArrival(left, options.signal);
        options.signal?.throwIfAborted();
        if (state.generation !== this.consumerGeneration) continue;
        return state.take(queues, max, this.isSettled);
      }
    } catch (err) {
      if (this.closed && !options.signal?.aborted) return [];
      throw err;
    } finally {
      this.asking -= max;
    }
  }

  private consumerState(waitMs: number): Promise<ConsumerState> {
    if (this.consumer) return this.consumer;
    const made = (async () => {
      const model = await this.conn.current(waitMs);
      const ch = await model.createChannel();
      const generation = ++this.consumerGeneration;
      const state = new ConsumerState({ ch, generation }, this.consumerTimeoutMs, this.settings.queueType !== 'quorum');
      // A channel error (not a lost connection): its unacked messages went back to their queues.
      ch.on('error', (err: Error) => void (this.closed || (this.channelError = err)));
      ch.on('close', () => {
        if (this.consumer === made) this.consumer = null;
        for (const [tag, id] of state.heldIds()) this.orphans.set(tag, id);
        trim(this.orphans, MAX_REMEMBERED);
        state.interrupt();
      });
      return state;
    })();
    made.catch(() => this.consumer === made && (this.consumer = null));
    this.consumer = made;
    return made;
  }

  /** The consumer state whose channel `tag` came on, if that channel is still open. */
  private async stateOf(tag: string): Promise<ConsumerState | null> {
    const state = await this.consumer?.catch(() => null);
    if (!state || !tag.startsWith(`${state.generation}.`)) return null;
    return state;
  }

  async release(queues: readonly string[]): Promise<void> {
    const state = await this.consumer?.catch(() => null);
    await state?.release(queues).catch(() => undefined);
  }

  async ack(tags: readonly string[]): Promise<void> {
    const state = await this.consumer?.catch(() => null);
    for (const tag of tags) {
      const orphan = this.orphans.get(tag);
      if (orphan !== undefined) {
        this.orphans.delete(tag);
        this.settled.add(orphan);
        trim(this.settled, MAX_REMEMBERED);
      } else {
        state?.ack(tag);
      }
    }
  }

  /** Whether `msg` is a copy of a message this process already finished; forgets it once matched. */
  private readonly isSettled = (msg: Parameters<typeof taskIdOf>[0]): boolean => {
    const id = taskIdOf(msg);
    return id !== null && this.settled.delete(id);
  };

  async reject(tag: string, options: RejectOptions): Promise<void> {
    const state = await this.stateOf(tag);
    const delivery = state?.peek(tag);
    if (!state || !delivery) return;
    if (options.requeue) {
      state.nack(tag, true);
      return;
    }
    const id = randomUUID();
    const identity = delivery.message ? peekMessageIdentity(delivery.message) : undecodable(delivery);
    const record: letters.DeadLetterRecord = {
      id,
      queue: delivery.queue,
      reason: options.reason ?? 'rejected',
      task_id: identity.taskId,
      task_name: identity.taskName,
      failed_at: new Date().toISOString(),
    };
    const { body, headers } = letters.deadLetterMessage(delivery.raw, record);
    await this.conn.withConfirmChannel(
      (ch) =>
        new Promise<void>((resolve, reject) =>
          ch.publish('', DEAD_LETTER_QUEUE, body, { headers, deliveryMode: 2, contentType: 'application/json' }, (err) => (err ? reject(err) : resolve())),
        ),
    );
    state.ack(tag);
  }

  async extend(): Promise<void> {
    // Unacked messages stay with this connection until acked or the connection closes: nothing to extend.
  }

  async restore(): Promise<number> {
    return 0;
  }

  async purge(queue: string): Promise<number> {
    return this.conn.withChannel(async (ch) => {
      const exists = await ch.checkQueue(queue).then(() => true, () => false);
      return exists ? (await ch.purgeQueue(queue)).messageCount : 0;
    }).catch((err: unknown) => (isNotFound(err) ? 0 : Promise.reject(err)));
  }

  async size(queue: string): Promise<number> {
    return this.conn.withChannel(async (ch) => (await ch.checkQueue(queue)).messageCount).catch((err: unknown) =>
      isNotFound(err) ? 0 : Promise.reject(err),
    );
  }

  listDeadLetters(options: { queue?: string; limit?: number } = {}): Promise<DeadLetter[]> {
    return this.conn.withChannel((ch) => letters.listDeadLetters(ch, options));
  }

  requeueDeadLetters(ids: readonly string[]): Promise<number> {
    return this.conn.withConfirmChannel((ch) => letters.requeueDeadLetters(ch, ids, (q) => this.declare(q)));
  }

  deleteDeadLetters(ids: readonly string[]): Promise<number> {
    return this.conn.withChannel((ch) => letters.deleteDeadLetters(ch, ids));
  }

  purgeDeadLetters(options: { queue?: string } = {}): Promise<number> {
    return this.conn.withChannel((ch) => letters.purgeDeadLetters(ch, options));
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const state = await this.consumer?.catch(() => null);
    state?.interrupt();
    await this.conn.close();
  }
}

const MAX_REMEMBERED = 10_000;

/** Drops the oldest entries of an insertion-ordered collection beyond `max`. */
function trim(c: Map<string, unknown> | Set<string>, max: number): void {
  for (const key of c.keys()) {
    if (c.size <= max) return;
    c.delete(key);
  }
}

function channelClosedMessage(err: Error): string {
  const text = err.message;
  if (/delivery acknowledgement .* timed out/i.test(text)) {
    return `RabbitMQ closed the consumer channel: a task held its message longer than the server's consumer_timeout (${text}); its message went back to the queue. Raise consumer_timeout in rabbitmq.conf: servers before 3.12 ignore the per-consumer limit Celerity asks for`;
  }
  return `RabbitMQ closed the consumer channel (${text}); its unacked messages went back to their queues`;
}

function secondsOf(text: string | undefined, name: string): number | undefined {
  if (text === undefined) return undefined;
  const n = Number(text);
  if (!(n > 0) || !Number.isFinite(n)) throw new ConfigurationError('broker', `${name}=${text}`, `${name} as a positive number of seconds`);
  return Math.round(n * 1000);
}

function isNotFound(err: unknown): boolean {
  return (err as { code?: number }).code === 404;
}

function maxPriorityOf(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1 || n > 255) throw new ConfigurationError('broker', `max_priority=${text}`, 'max_priority as a whole number from 1 to 255');
  return n;
}

function delayedDeliveryOf(text: string | undefined, queueType: QueueType): DelayedDelivery {
  if (text === undefined) return queueType === 'quorum' ? 'native' : 'off';
  if (text === 'native' || text === 'off') return text;
  throw new ConfigurationError('broker', `delayed_delivery=${text}`, 'delayed_delivery as native or off');
}

function queueTypeOf(text: string | undefined): QueueType {
  if (text === undefined || text === 'classic') return 'classic';
  if (text === 'quorum') return 'quorum';
  throw new ConfigurationError('broker', `queue_type=${text}`, 'queue_type as classic or quorum');
}
