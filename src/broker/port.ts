/**
 * The broker port: the few primitives a transport supplies. Routing, retries, ETA, rate limits and canvas live
 * above it, once. A push transport (AMQP) implements `reserve` by draining what the server pushed under its qos
 * window; a list transport (Redis, SQLite) by popping a batch in one atomic step.
 */
import type { TaskIdentity } from '../protocol/message.js';
import type { Mailbox } from './mailbox.js';
import type { BrokerMessage } from '../protocol/types.js';

/**
 * What differs between adapters and changes what the worker does. Optional methods are capabilities too:
 * `mailbox()` (remote control and events), `revoke`/`revocationsSince` (stored revocations), `claimRateSlot`
 * (shared rate limits); callers test for the method, never for a URL scheme.
 */
export interface BrokerCapabilities {
  /**
   * Can hold a message until `notBefore` without a worker holding it: the worker then hands far-off ETAs back to
   * the broker instead of keeping them reserved in memory.
   */
  nativeDelay: boolean;
}

export interface OutboundMessage {
  queue: string;
  message: BrokerMessage;
  /** 0..9 */
  priority: number;
  /** Epoch ms before which the message must not be delivered (only honoured with `nativeDelay`). */
  notBefore?: number;
}

export interface Delivery {
  /** Opaque; valid for ack/reject/extend until the message is acked, rejected or restored. */
  tag: string;
  queue: string;
  /** Null when the stored bytes could not be read as a message; `raw` then holds them for the dead-letter store. */
  message: BrokerMessage | null;
  /**
   * The stored form, kept so a malformed message can be dead-lettered unchanged. Stored bytes that are not valid
   * UTF-8 are kept byte for byte as Python's surrogateescape text (see `textOfBytes` in raw.ts).
   */
  raw: string;
  decodeError?: string;
  /**
   * Set when `message` is null: the task id and name as far as the headers (or a protocol 1 body, or the
   * correlation_id property) could still be read, so a FAILURE can be stored where a client waits for it.
   */
  identity?: TaskIdentity;
  /** True when this message was delivered before and came back (restore, requeue). */
  redelivered: boolean;
  priority: number;
}

export interface ReserveOptions {
  /** At most this many deliveries. */
  max: number;
  /** Block up to this long for the first message; 0 = return at once. */
  waitMs: number;
  signal?: AbortSignal;
  /**
   * The reservations the caller is still working on. A reserve that restores timed-out reservations first extends
   * these when the caller fell behind extending them (its event loop was blocked), so a worker never gets back,
   * and runs again, a message it still holds.
   */
  held?: () => readonly string[];
  /**
   * The most messages the caller holds at once (a worker's prefetch: concurrency x multiplier). A push transport
   * (AMQP) keeps its server-side window (basic.qos) at this, as Celery does, instead of following each reserve.
   */
  window?: number;
}

export interface RejectOptions {
  /** true: back to its queue for another worker; false: into the dead-letter store with `reason`. */
  requeue: boolean;
  reason?: string;
}

export interface DeadLetter {
  id: string;
  queue: string;
  reason: string;
  /** The message as it was stored, unchanged (bytes that are not UTF-8 as in `Delivery.raw`). */
  raw: string;
  /** The task id, when the message was readable enough to have one. */
  taskId: string | null;
  taskName: string | null;
  failedAt: Date;
}

export interface Broker {
  readonly capabilities: BrokerCapabilities;
  /** Opens connections; throws ConnectionError with one clear line when the broker cannot be reached. */
  connect(): Promise<void>;
  /**
   * Stores a batch, all of it or none (one transaction or one atomic command). Calls made back to back, without
   * waiting for each other's promise, must take effect in call order: the app publishes its next batch while
   * the previous one is still being stored.
   */
  publish(batch: readonly OutboundMessage[]): Promise<void>;
  /** Takes up to `max` ready messages from `queues` (earlier queues first at equal priority). */
  reserve(queues: readonly string[], options: ReserveOptions): Promise<Delivery[]>;
  /**
   * The caller stops reserving from `queues` (a worker stopping, or no longer consuming a queue): a push transport
   * cancels its consumers there and gives back what it was sent and has not handed out. Absent where reserve pulls.
   */
  release?(queues: readonly string[]): Promise<void>;
  ack(tags: readonly string[]): Promise<void>;
  reject(tag: string, options: RejectOptions): Promise<void>;
  /** Pushes back the visibility deadline of reserved messages that are still being worked on. */
  extend(tags: readonly string[]): Promise<void>;
  /** Returns reserved messages whose visibility timeout passed to their queues; resolves to how many. */
  restore(): Promise<number>;
  purge(queue: string): Promise<number>;
  /** Messages waiting in the queue (ready or delayed), not counting reserved ones. */
  size(queue: string): Promise<number>;
  /**
   * Seconds the oldest message deliverable now in `queue` has been waiting (since it was published, or since its
   * ETA when it had one); null when none is. Absent where the broker keeps no enqueue time (kombu's Redis lists).
   */
  oldestMessageAge?(queue: string): Promise<number | null>;
  /** Dead letters (of `queue` when given), newest first, at most `limit` (default 100). */
  listDeadLetters(options?: { queue?: string; limit?: number }): Promise<DeadLetter[]>;
  /** Puts dead letters back on their queues; resolves to how many were moved. */
  requeueDeadLetters(ids: readonly string[]): Promise<number>;
  /** Deletes dead letters by id; resolves to how many were deleted. */
  deleteDeadLetters(ids: readonly string[]): Promise<number>;
  /** Deletes every dead letter (of `queue` when given); resolves to how many were deleted. */
  purgeDeadLetters(options?: { queue?: string }): Promise<number>;
  /**
   * Books the next start of `key` on a schedule spaced `spacingMs` apart that every worker on this broker shares
   * (global rate limits); resolves to the milliseconds to wait before starting. Absent where not supported.
   */
  claimRateSlot?(key: string, spacingMs: number): Promise<number>;
  /**
   * Revokes tasks on a broker without fanout (the embedded store): the ids are stored where every worker on the
   * broker reads them (`revocationsSince`). Brokers with fanout revoke over remote control instead. Absent where
   * not supported.
   */
  revoke?(taskIds: readonly string[], options: { terminate: boolean; signal: string }): Promise<void>;
  /** Revocations stored after `cursor` (0: every one still remembered), oldest first, and the cursor to ask next. */
  revocationsSince?(cursor: number): Promise<{ revocations: Revocation[]; cursor: number }>;
  /**
   * A new mailbox on this broker's transport, for remote control and events (its caller closes it). Absent where
   * the transport has none.
   */
  mailbox?(): Mailbox;
  close(): Promise<void>;
}

/** How long a revocation is remembered: Celery's `REVOKE_EXPIRES` (celery/worker/state.py), 3 hours. */
export const REVOKE_EXPIRES_MS = 3 * 60 * 60 * 1000;

export interface Revocation {
  taskId: string;
  terminate: boolean;
  signal: string;
}

export interface BrokerOptions {
  /** Seconds a reserved message stays invisible before it is restored to its queue. */
  visibilityTimeout: number;
  /** Seconds connecting to a broker server may take (its first answer). */
  connectTimeout?: number;
  /** Seconds a command to a broker server (publish, ack, reserve) may wait for its answer. */
  commandTimeout?: number;
  /** Seconds a write to a file store waits for another process's lock, without blocking the event loop. */
  busyTimeout?: number;
  /** Told when a connection that reopens by itself (AMQP) is lost and when it is back, for the log. */
  onConnectionEvent?: (event: { type: 'lost'; error: Error } | { type: 'back' }) => void;
}
