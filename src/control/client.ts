/**
 * The requester's end of Celery's remote control: what `celery inspect` and `celery control` do
 * (celery/app/control.py over kombu/pidbox.py `Mailbox._broadcast`), so `celerity inspect` can query Celery and
 * Celerity workers alike, over the broker's mailbox.
 *
 * A call opens a reply queue `<oid>.reply.celery.pidbox` bound to `reply.celery.pidbox` with its oid (on Redis,
 * `SADD _kombu.binding.reply.celery.pidbox "<oid>\x06\x16\x06\x16<oid>.reply.celery.pidbox"`, which is how a
 * kombu worker finds where to push its reply), broadcasts the request on `celery.pidbox`, takes replies, then
 * deletes the reply queue again.
 *
 * Waiting follows kombu: up to `timeout` for each next reply, until `limit` replies (by default the number of
 * destinations, when given). One improvement: a broadcast reports how many subscribers heard the request, and each
 * node answers at most once, so a call also ends as soon as every listener has answered, and at once when
 * nobody listens, instead of always sitting out the timeout. Each call has its own oid, so concurrent calls never
 * see each other's replies.
 */
import { randomUUID } from 'node:crypto';
import type { Mailbox, MailboxQueue } from '../broker/mailbox.js';
import {
  DEFAULT_CONTROL_NAMESPACE,
  decodeControlReply,
  encodeControlRequest,
  matchNodeName,
  pidboxExchange,
  replyExchange,
  replyQueue,
} from '../protocol/control.js';
import { createSerializerRegistry } from '../protocol/serializers.js';
import type { SerializerRegistry } from '../protocol/serializers.js';
import { ConnectionError } from '../errors/index.js';
import { LamportClock } from './clock.js';
import { mailboxOf, type MailboxSource } from './transport.js';

export interface ControlClientOptions extends MailboxSource {
  /** Celery's `control_exchange` (default `celery`). */
  namespace?: string;
  clock?: LamportClock;
  /** Content types or serializer names to accept in replies (default json). */
  accept?: readonly string[];
  /** Serializer of requests (Celery uses its `task_serializer`, default json). */
  serializer?: string;
  /** Replies that could not be read; by default ignored. */
  onError?: (err: Error) => void;
}

export interface BroadcastOptions {
  /** The command's keyword arguments. */
  arguments?: Record<string, unknown>;
  /** Only these nodes act; null or empty = all. */
  destination?: readonly string[] | null;
  /** Select nodes by name with `matcher` (`glob` or `pcre`); replies from others are dropped by `inspect`. */
  pattern?: string | null;
  matcher?: string | null;
  /** Wait for replies (default false, as Celery's `broadcast`). */
  reply?: boolean;
  /** Milliseconds to wait for each next reply (default 1000, Celery's 1 s). */
  timeout?: number;
  /** Stop after this many replies (default: the number of destinations, when given). */
  limit?: number | null;
  /** Called with each reply `{nodename: value}` as it arrives. */
  onReply?: (reply: Record<string, unknown>) => void;
  signal?: AbortSignal;
}

export type InspectOptions = Omit<BroadcastOptions, 'arguments' | 'reply'>;

export interface RevokeOptions extends InspectOptions {
  /** Also stop the task if it is running. */
  terminate?: boolean;
  /** The OS signal for `terminate` (Celery's `signal` argument; default `SIGTERM`). */
  signalName?: string;
  /** Wait for the nodes' acknowledgements (default false, as Celery's `revoke`). */
  reply?: boolean;
}

const DEFAULT_TIMEOUT_MS = 1_000;

export class ControlClient {
  readonly clock: LamportClock;
  private readonly namespace: string;
  private readonly mailbox: Mailbox;
  private readonly ownsMailbox: boolean;
  private readonly registry: SerializerRegistry;
  private readonly serializer: string;
  private readonly onError: (err: Error) => void;
  private closed = false;
  private readonly calls = new Set<Promise<unknown>>();

  constructor(options: ControlClientOptions) {
    this.namespace = options.namespace ?? DEFAULT_CONTROL_NAMESPACE;
    this.clock = options.clock ?? new LamportClock();
    ({ mailbox: this.mailbox, owned: this.ownsMailbox } = mailboxOf(options, 'celerity-control-client'));
    this.registry = createSerializerRegistry(options.accept ?? ['json']);
    this.serializer = options.serializer ?? 'json';
    this.registry.get(this.serializer);
    this.onError = options.onError ?? (() => undefined);
  }

  /** Opens the connection; the other methods call it themselves when needed. */
  async connect(): Promise<void> {
    if (this.closed) throw new ConnectionError('control client is closed');
    await this.mailbox.connect();
  }

  /**
   * Sends `method` to the nodes; with `reply`, resolves to the replies in arrival order, each `{nodename: value}`
   * (Celery's `app.control.broadcast(..., reply=True)`), otherwise to `[]` once published.
   */
  async broadcast(method: string, options: BroadcastOptions = {}): Promise<Record<string, unknown>[]> {
    await this.connect();
    const call = this.send(method, options);
    this.calls.add(call);
    try {
      return await call;
    } finally {
      this.calls.delete(call);
    }
  }

  /**
   * Celery's `app.control.inspect(...).<method>(**args)`: the replies merged into `{nodename: value}` (a name
   * that answers twice keeps its last answer), filtered by `pattern` when one is given.
   *
   * @example
   * const client = new ControlClient({ url: 'redis://127.0.0.1:6379/0' });
   * await client.inspect('active');   // { 'celery@host': [ { id, name, args, ... } ] }
   * await client.close();
   */
  async inspect<T = unknown>(
    method: string,
    args: Record<string, unknown> = {},
    options: InspectOptions = {},
  ): Promise<Record<string, T>> {
    const replies = await this.broadcast(method, { ...options, arguments: args, reply: true });
    const byNode: Record<string, T> = {};
    for (const reply of replies) {
      for (const [node, value] of Object.entries(reply)) {
        if (options.pattern && !matchNodeName(node, options.pattern, options.matcher ?? null)) continue;
        byNode[node] = value as T;
      }
    }
    return byNode;
  }

  /** `{nodename: {ok: 'pong'}}` for every node that answered. */
  ping(options: InspectOptions = {}): Promise<Record<string, { ok: string }>> {
    return this.inspect('ping', {}, options);
  }

  /**
   * Celery's `app.control.revoke`: every node (or the destinations) remembers the ids as revoked and will not run
   * them; with `terminate`, stops them if running. Resolves to the acknowledgements when `reply` is set.
   */
  async revoke(taskIds: string | readonly string[], options: RevokeOptions = {}): Promise<Record<string, unknown>> {
    const args = {
      task_id: typeof taskIds === 'string' ? taskIds : [...taskIds],
      terminate: options.terminate ?? false,
      signal: options.signalName ?? 'SIGTERM',
    };
    if (!options.reply) {
      await this.broadcast('revoke', { ...options, arguments: args, reply: false });
      return {};
    }
    return this.inspect('revoke', args, options);
  }

  /** Waits for calls in progress, then disconnects. */
  async close(): Promise<void> {
    this.closed = true;
    await Promise.allSettled([...this.calls]);
    if (this.ownsMailbox) await this.mailbox.close();
  }

  private async send(method: string, options: BroadcastOptions): Promise<Record<string, unknown>[]> {
    const destination = options.destination && options.destination.length > 0 ? [...options.destination] : null;
    const timeoutMs = options.timeout ?? DEFAULT_TIMEOUT_MS;
    const exchange = pidboxExchange(this.namespace);
    const request = {
      method,
      arguments: options.arguments ?? {},
      destination,
      pattern: options.pattern ?? null,
      matcher: options.matcher ?? null,
      clock: this.clock.forward(),
      // Celery stamps casts too: its broadcast passes its default 1 s timeout down either way.
      expires: Date.now() / 1000 + timeoutMs / 1000,
    };
    const encode = (extra: object): string =>
      encodeControlRequest(
        { ...request, ...extra },
        { deliveryTag: randomUUID(), serializer: this.serializer, registry: this.registry, namespace: this.namespace },
      );
    if (!options.reply) {
      await this.mailbox.broadcast(exchange, '', encode({}));
      return [];
    }

    const oid = randomUUID();
    const ticket = randomUUID();
    const queue = await this.mailbox.openQueue(replyExchange(this.namespace), oid, replyQueue(oid, this.namespace));
    try {
      const envelope = encode({
        ticket,
        replyTo: { exchange: replyExchange(this.namespace), routing_key: oid },
      });
      const listeners = await this.mailbox.broadcast(exchange, '', envelope);
      const limit = options.limit ?? (destination ? destination.length : null);
      return await this.collect(queue, ticket, {
        max: Math.min(limit ?? Infinity, listeners),
        timeoutMs,
        onReply: options.onReply,
        signal: options.signal,
      });
    } finally {
      await queue.close().catch(() => undefined);
    }
  }

  private async collect(
    queue: MailboxQueue,
    ticket: string,
    options: {
      max: number;
      timeoutMs: number;
      onReply: BroadcastOptions['onReply'];
      signal: AbortSignal | undefined;
    },
  ): Promise<Record<string, unknown>[]> {
    const replies: Record<string, unknown>[] = [];
    while (replies.length < options.max) {
      const item = await queue.take(options.timeoutMs, options.signal);
      if (item === null) break;
      let reply;
      try {
        reply = decodeControlReply(item, this.registry);
      } catch (err) {
        this.onError(err as Error);
        continue;
      }
      this.clock.adjust(reply.clock ?? 0);
      if (reply.expires && Date.now() / 1000 > reply.expires) continue;
      // kombu counts a reply without a ticket as the caller's.
      if (reply.ticket !== null && reply.ticket !== ticket) continue;
      options.onReply?.(reply.body);
      replies.push(reply.body);
    }
    return replies;
  }
}
