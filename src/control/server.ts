/**
 * A node's end of Celery's remote control on Redis: what lets `celery inspect ping` and Flower see a Celerity
 * worker. Mirrors a Celery 5.2 worker's pidbox (celery/worker/pidbox.py over kombu/pidbox.py `Node`):
 *
 * - on start, declares its queue `<hostname>.celery.pidbox` on the fanout exchange (`SADD
 *   _kombu.binding.celery.pidbox "\x06\x16\x06\x16<hostname>.celery.pidbox"`) and PSUBSCRIBEs `/<db>.celery.pidbox`;
 * - for each request: adjusts its Lamport clock, acts only when addressed (destination, or pattern + matcher),
 *   runs the command and, when the request has `reply_to`, pushes `{hostname: reply}` onto the requester's list;
 * - on close, unsubscribes and removes the binding and the (always empty) queue lists, as kombu's queue delete.
 *
 * Requests are handled one at a time in arrival order, as Celery's event loop does, so a `revoke` followed by a
 * `revoked` always sees its own effect. The `expires` header is not checked (Celery does not either): comparing
 * it would drop requests from clients whose clocks run ahead.
 */
import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import { SEP } from '../broker/redis/keys.js';
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
import { readAsset } from '../util/assets.js';
import { LamportClock } from './clock.js';
import { dispatchCommand } from './dispatch.js';
import type { ControlHandler } from './handler.js';
import { KombuNames, connectRedis, duplicateConnection, quit, resolveTarget } from './redis.js';
import type { RedisTarget, RedisTargetOptions } from './redis.js';

export interface ControlServerOptions extends RedisTargetOptions {
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

type ReplyScript = (numKeys: number, key: string, ...args: string[]) => Promise<number>;

export class ControlServer {
  readonly hostname: string;
  readonly clock: LamportClock;
  private readonly handler: ControlHandler;
  private readonly namespace: string;
  private readonly target: RedisTarget;
  private readonly registry: SerializerRegistry;
  private readonly serializer: string;
  private readonly onError: (err: Error) => void;
  private redis: Redis | null = null;
  private subscriber: Redis | null = null;
  /** The request being handled and those queued behind it. */
  private queue: Promise<void> = Promise.resolve();
  private closing = false;

  constructor(options: ControlServerOptions) {
    this.hostname = options.hostname;
    this.handler = options.handler;
    this.namespace = options.namespace ?? DEFAULT_CONTROL_NAMESPACE;
    this.clock = options.clock ?? new LamportClock();
    this.target = resolveTarget(options);
    this.registry = createSerializerRegistry(options.accept ?? ['json']);
    this.serializer = options.serializer ?? 'json';
    this.registry.get(this.serializer);
    this.onError = options.onError ?? (() => undefined);
  }

  /** Connects, declares the node's queue and subscribes; resolves once requests can arrive. */
  async start(): Promise<void> {
    if (this.redis || this.closing) return;
    const redis = await connectRedis(this.target, 'celerity-control');
    this.redis = redis;
    try {
      redis.defineCommand('celerityControlReply', { lua: readAsset(import.meta.url, 'lua/reply.lua') });
      const subscriber = await duplicateConnection(redis, 'celerity-control-sub', this.target.target);
      this.subscriber = subscriber;
      await redis.sadd(this.bindingKey(), this.bindingMember());
      subscriber.on('pmessage', (_pattern: string, _channel: string, message: string) => this.enqueue(message));
      await subscriber.psubscribe(this.target.names.subscription(pidboxExchange(this.namespace)));
    } catch (err) {
      await this.disconnect();
      throw err;
    }
  }

  /** Stops listening, lets the request in hand finish, removes the node's queue declaration and disconnects. */
  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    const { redis, subscriber } = this;
    if (!redis || !subscriber) return;
    await subscriber.punsubscribe().catch(() => undefined);
    await this.queue;
    const lists = this.target.names.queueLists(nodeQueue(this.hostname, this.namespace));
    await redis
      .multi()
      .srem(this.bindingKey(), this.bindingMember())
      .del(...lists)
      .exec()
      .catch((err: unknown) => this.report(err));
    await this.disconnect();
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
    const redis = this.redis;
    const replyTo = request.replyTo;
    if (!redis || !replyTo) return;
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
    const script = (redis as unknown as { celerityControlReply: ReplyScript }).celerityControlReply.bind(redis);
    const names = this.target.names;
    await script(1, names.bindings(replyTo.exchange), replyTo.routing_key, envelope, names.prefix, SEP);
  }

  private bindingKey(): string {
    return this.target.names.bindings(pidboxExchange(this.namespace));
  }

  private bindingMember(): string {
    return KombuNames.bindingMember('', '', nodeQueue(this.hostname, this.namespace));
  }

  private report(err: unknown): void {
    try {
      this.onError(err instanceof Error ? err : new Error(String(err)));
    } catch {
      // A failing error callback must not stop the request loop.
    }
  }

  private async disconnect(): Promise<void> {
    const { redis, subscriber } = this;
    this.redis = null;
    this.subscriber = null;
    await Promise.all([subscriber && quit(subscriber), redis && quit(redis)]);
  }
}
