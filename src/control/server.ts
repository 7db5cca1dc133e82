/**
 * A node's end of Celery's remote control: what lets `celery inspect ping` and Flower see a Celerity worker.
 * Mirrors a Celery 5.2 worker's pidbox (celery/worker/pidbox.py over kombu/pidbox.py `Node`), over the broker's
 * mailbox (on Redis, kombu's own layout: see broker/redis/mailbox.ts):
 *
 * - on start, subscribes to the fanout exchange `celery.pidbox` with its queue `<hostname>.celery.pidbox`;
 * - for each request: adjusts its Lamport clock, acts only when addressed (destination, or pattern + matcher),
 *   runs the command and, when the request has `reply_to`, pushes `{hostname: reply}` onto the requester's list;
 * - on close, unsubscribes and removes the binding and the (always empty) queue lists, as kombu's queue delete.
 *
 * Requests are handled one at a time in arrival order, as Celery's event loop does, so a `revoke` followed by a
 * `revoked` always sees its own effect. The `expires` header is not checked (Celery does not either): comparing
 * it would drop requests from clients whose clocks run ahead.
 */
import { randomUUID } from 'node:crypto';
import type { Mailbox, MailboxSubscription } from '../broker/mailbox.js';
import {
  DEFAULT_CONTROL_NAMESPACE,
  decodeControlRequest,
  encodeControlReply,
  isAddressedTo,
  nodeQueue,
  pidboxExchange,
} from '../protocol/control.js';
import type { ControlRequest } from '../protocol/control.js';
import { pyRepr } from '../protocol/repr.js';
import { createSerializerRegistry } from '../protocol/serializers.js';
import type { SerializerRegistry } from '../protocol/serializers.js';
import { LamportClock } from './clock.js';
import { dispatchCommand } from './dispatch.js';
import type { ControlHandler } from './handler.js';
import { mailboxOf, type MailboxSource } from './transport.js';

export interface ControlServerOptions extends MailboxSource {
  /** The node name, `celery@host` style; what `celery inspect` prints and `--destination` selects. */
  hostname: string;
  handler: ControlHandler;
  /** Celery's `control_exchange` (default `celery`). */
  namespace?: string;
  /** Shared with the node's event dispatcher, so events and replies are ordered on one clock. */
  clock?: LamportClock;
  /** Content types or serializer names to accept in requests (Celery's `accept_content`, default json). */
  accept?: readonly string[];
  /** Serializer of replies (Celery uses its `task_serializer`, default json). */
  serializer?: string;
  /** Requests that could not be read, replies that could not be sent; by default ignored. */
  onError?: (err: Error) => void;
}

export class ControlServer {
  readonly hostname: string;
  readonly clock: LamportClock;
  private readonly handler: ControlHandler;
  private readonly namespace: string;
  private readonly mailbox: Mailbox;
  private readonly ownsMailbox: boolean;
  private readonly registry: SerializerRegistry;
  private readonly serializer: string;
  private readonly onError: (err: Error) => void;
  private subscription: MailboxSubscription | null = null;
  /** The request being handled and those queued behind it. */
  private queue: Promise<void> = Promise.resolve();
  private closing = false;

  constructor(options: ControlServerOptions) {
    this.hostname = options.hostname;
    this.handler = options.handler;
    this.namespace = options.namespace ?? DEFAULT_CONTROL_NAMESPACE;
    this.clock = options.clock ?? new LamportClock();
    ({ mailbox: this.mailbox, owned: this.ownsMailbox } = mailboxOf(options, 'celerity-control'));
    this.registry = createSerializerRegistry(options.accept ?? ['json']);
    this.serializer = options.serializer ?? 'json';
    this.registry.get(this.serializer);
    this.onError = options.onError ?? (() => undefined);
  }

  /** Declares the node's queue and subscribes; resolves once requests can arrive. */
  async start(): Promise<void> {
    if (this.subscription || this.closing) return;
    try {
      this.subscription = await this.mailbox.subscribe(pidboxExchange(this.namespace), '', (raw) => this.enqueue(raw), {
        queue: nodeQueue(this.hostname, this.namespace),
      });
    } catch (err) {
      if (this.ownsMailbox) await this.mailbox.close();
      throw err;
    }
  }

  /** Stops listening, lets the request in hand finish and reply, removes the node's queue declaration. */
  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    await this.queue;
    await this.subscription?.close().catch((err: unknown) => this.report(err));
    this.subscription = null;
    if (this.ownsMailbox) await this.mailbox.close();
  }

  private enqueue(raw: string): void {
    if (this.closing) return;
    this.queue = this.queue.then(() => this.handle(raw)).catch((err: unknown) => this.report(err));
  }

  private async handle(raw: string): Promise<void> {
    let request: ControlRequest;
    let addressed: boolean;
    try {
      request = decodeControlRequest(raw, this.registry);
      this.clock.adjust(request.clock);
      addressed = isAddressedTo(this.hostname, request);
    } catch (err) {
      this.report(err);
      return;
    }
    if (!addressed) return;
    const ctx = { hostname: this.hostname, clock: this.clock, request };
    const result = await dispatchCommand(this.handler, request.method, request.arguments, ctx, (err) =>
      this.report(err),
    );
    if (result.kind === 'none' || !request.replyTo) return;
    await this.reply(request, result.value);
  }

  private async reply(request: ControlRequest, value: unknown): Promise<void> {
    const replyTo = request.replyTo;
    if (!replyTo) return;
    const encode = (v: unknown): string =>
      encodeControlReply(v, {
        hostname: this.hostname,
        ticket: request.ticket ?? null,
        clock: this.clock.forward(),
        replyTo,
        deliveryTag: randomUUID(),
        serializer: this.serializer,
        registry: this.registry,
      });
    let envelope: string;
    try {
      envelope = encode(value);
    } catch (err) {
      // A handler returned something the serializer cannot write: say so rather than leave the caller waiting.
      envelope = encode({ error: `EncodeError(${pyRepr((err as Error).message)})` });
      this.report(err);
    }
    await this.mailbox.send(replyTo.exchange, replyTo.routing_key, envelope);
  }

  private report(err: unknown): void {
    try {
      this.onError(err instanceof Error ? err : new Error(String(err)));
    } catch {
      // A failing error callback must not stop the request loop.
    }
  }
}
