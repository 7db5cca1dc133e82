/**
 * The consuming side of the AMQP broker: one channel with a consumer per queue the worker reads, the messages the
 * server pushed kept in arrival order until `reserve` takes them. The server's prefetch window (basic.qos, shared
 * by the channel's consumers as Celery sets it on RabbitMQ) is the worker's prefetch, as in Celery: a worker with
 * prefetch 1 (acks_late for long jobs) holds one unacked message at a time. Following each reserve instead (what
 * is held plus what is asked for) cost a qos round trip per reserve and drained a queue at a third of Celery's
 * rate; a caller that gives no prefetch still gets that behaviour.
 *
 * Delivery tags belong to the channel they came on; a tag is `<channel generation>.<server tag>`, and acks for an
 * older channel are dropped (the server gave those messages back when that channel closed).
 */
import type { Channel, ConsumeMessage, GetMessage } from 'amqplib';
import type { Delivery } from '../port.js';
import { toDelivery } from './messages.js';

interface Pending {
  msg: ConsumeMessage | GetMessage;
  queue: string;
  seq: number;
}

export interface ConsumerChannel {
  ch: Channel;
  generation: number;
}

export class ConsumerState {
  /** Messages pushed by the server and not yet handed out, oldest first. */
  private readonly buffer: Pending[] = [];
  /** Messages handed out and not yet acked or rejected, by tag. */
  private readonly outstanding = new Map<string, { msg: ConsumeMessage | GetMessage; delivery: Delivery }>();
  private readonly consumers = new Map<string, string>();
  private window = -1;
  private seq = 0;
  /** Reserves waiting for a message. */
  private readonly waiters = new Set<() => void>();

  /**
   * `consumerTimeoutMs`: RabbitMQ's per-consumer delivery acknowledgement timeout (x-consumer-timeout).
   * `sharedWindow`: false for quorum queues, which refuse a channel-wide window (RabbitMQ closes the connection
   * with NOT_IMPLEMENTED): each consumer then gets the window in force when it starts, for as long as it runs.
   */
  constructor(
    readonly current: ConsumerChannel,
    private readonly consumerTimeoutMs: number,
    private readonly sharedWindow = true,
  ) {}

  get generation(): number {
    return this.current.generation;
  }

  get buffered(): number {
    return this.buffer.length;
  }

  /**
   * Starts consumers for queues not consumed yet. Consumers of queues a reserve does not name are kept (another
   * worker of the same app may read them); `release` stops them.
   */
  async follow(queues: readonly string[], declare: (queue: string) => Promise<void>): Promise<void> {
    const { ch } = this.current;
    for (const queue of queues) {
      if (this.consumers.has(queue)) continue;
      // As a Celery worker does at start: a queue nobody declared yet is declared, not a consume that fails.
      await declare(queue);
      if (this.consumers.has(queue)) continue;
      this.consumers.set(queue, '');
      if (!this.sharedWindow) await ch.prefetch(Math.max(1, this.window), false);
      // The server's consumer_timeout (30 min by default) would close the channel under a long acks_late task and
      // give its message to another worker while it still runs (Celery #6760): the consumer asks for its own
      // limit, which RabbitMQ 3.12 and later honour (earlier servers ignore the argument; see docs/rabbitmq.md).
      const { consumerTag } = await ch.consume(queue, (msg) => msg && this.arrive(msg, queue), {
        noAck: false,
        arguments: { 'x-consumer-timeout': this.consumerTimeoutMs },
      });
      this.consumers.set(queue, consumerTag);
    }
  }

  /** Cancels the consumers of `queues` and gives back what they were sent and nobody took. */
  async release(queues: readonly string[]): Promise<void> {
    const { ch } = this.current;
    for (const queue of queues) {
      const consumerTag = this.consumers.get(queue);
      if (consumerTag === undefined) continue;
      this.consumers.delete(queue);
      if (consumerTag) await ch.cancel(consumerTag);
      // Given back in the order they came, so they keep their order in the queue.
      const back = this.buffer.filter((p) => p.queue === queue);
      this.buffer.splice(0, this.buffer.length, ...this.buffer.filter((p) => p.queue !== queue));
      for (const p of back) ch.nack(p.msg, false, true);
    }
  }

  /**
   * Sets the server's window: to `fixed` when the caller says how many it holds at most (a worker's prefetch),
   * otherwise to what is handed out plus what pending reserves ask for (`asking`, all of them together) or, when
   * more is buffered already, plus that. A round trip only when it changes.
   */
  async setWindow(asking: number, fixed?: number): Promise<void> {
    const wanted = fixed ?? this.outstanding.size + Math.max(asking, this.buffer.length);
    const size = Math.max(1, Math.min(65_535, wanted));
    if (size === this.window) return;
    this.window = size;
    if (this.sharedWindow) await this.current.ch.prefetch(size, true);
  }

  /** Tops the buffer up with basic.get until `max` are buffered or every queue is empty (a reserve that cannot wait). */
  async fetchNow(queues: readonly string[], max: number, declare: (queue: string) => Promise<void>): Promise<void> {
    const { ch } = this.current;
    const start = this.buffer.length;
    for (const queue of queues) {
      if (this.buffer.length - start >= max) break;
      await declare(queue);
      while (this.buffer.length - start < max) {
        const msg = await ch.get(queue, { noAck: false });
        if (!msg) break;
        this.arrive(msg, queue);
      }
    }
  }

  /**
   * Up to `max` buffered messages of `queues`: higher priority first, then earlier queues, then messages given back
   * (requeued: RabbitMQ puts them back in their old place, ahead of later ones), then arrival order (the server's
   * order within a queue).
   */
  take(queues: readonly string[], max: number, settled?: (msg: ConsumeMessage | GetMessage) => boolean): Delivery[] {
    if (!this.buffer.length || max <= 0) return [];
    if (settled) {
      // Copies of messages this process has already finished (acked on a channel that was gone): acked now.
      for (let i = this.buffer.length - 1; i >= 0; i--) {
        const p = this.buffer[i]!;
        if (p.msg.fields.redelivered && settled(p.msg)) {
          this.buffer.splice(i, 1);
          this.current.ch.ack(p.msg);
        }
      }
    }
    const rank = new Map(queues.map((q, i) => [q, i]));
    const candidates = this.buffer.filter((p) => rank.has(p.queue));
    candidates.sort(
      (a, b) => (b.msg.properties.priority ?? 0) - (a.msg.properties.priority ?? 0) || rank.get(a.queue)! - rank.get(b.queue)! ||
        Number(b.msg.fields.redelivered) - Number(a.msg.fields.redelivered) ||
        a.seq - b.seq,
    );
    const chosen = new Set(candidates.slice(0, max));
    const out: Delivery[] = [];
    for (const p of candidates.slice(0, max)) {
      const tag = `${this.generation}.${p.msg.fields.deliveryTag}`;
      const delivery = toDelivery(tag, p.queue, p.msg);
      this.outstanding.set(tag, { msg: p.msg, delivery });
      out.push(delivery);
    }
    for (let i = this.buffer.length - 1; i >= 0; i--) if (chosen.has(this.buffer[i]!)) this.buffer.splice(i, 1);
    return out;
  }

  /** Resolves when a message arrives, after `ms`, or when `signal` aborts. */
  waitForArrival(ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', done);
        this.waiters.delete(done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      signal?.addEventListener('abort', done, { once: true });
      this.waiters.add(done);
    });
  }

  /** Ends waits at once (an arrival, close, a lost channel). */
  interrupt(): void {
    for (const w of [...this.waiters]) w();
  }

  /** The task ids of the messages handed out and not yet settled, by tag (kept when the channel is gone). */
  heldIds(): Map<string, string> {
    const ids = new Map<string, string>();
    for (const [tag, held] of this.outstanding) {
      const id = taskIdOf(held.msg);
      if (id) ids.set(tag, id);
    }
    return ids;
  }

  /** The delivery handed out under `tag`, while it is neither acked nor rejected. */
  peek(tag: string): Delivery | undefined {
    return this.outstanding.get(tag)?.delivery;
  }

  ack(tag: string): void {
    const held = this.outstanding.get(tag);
    if (!held) return;
    this.outstanding.delete(tag);
    this.current.ch.ack(held.msg);
  }

  nack(tag: string, requeue: boolean): boolean {
    const held = this.outstanding.get(tag);
    if (!held) return false;
    this.outstanding.delete(tag);
    this.current.ch.nack(held.msg, false, requeue);
    return true;
  }

  private arrive(msg: ConsumeMessage | GetMessage, queue: string): void {
    this.buffer.push({ msg, queue, seq: this.seq++ });
    this.interrupt();
  }
}

/** A task message's id: the `id` header (protocol 2), else the correlation id Celery sets to it. */
export function taskIdOf(msg: ConsumeMessage | GetMessage): string | null {
  const id = msg.properties.headers?.id ?? msg.properties.correlationId;
  return typeof id === 'string' && id !== '' ? id : null;
}
