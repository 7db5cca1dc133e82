/**
 * The mailbox on Redis, in kombu's layout (see fanout.ts for the names), so Celery's own nodes and tools share it:
 * - broadcast: `PUBLISH` on the exchange's channel; subscribers `PSUBSCRIBE` their binding's pattern, all on one
 *   subscriber connection per mailbox. A subscriber with a queue name also appears in the exchange's binding set
 *   (`_kombu.binding.<exchange>`), as a pidbox node queue does, and its lists are deleted when it leaves.
 * - direct: the binding set names the queues bound with each routing key; `mailbox-send.lua` pushes to all of them
 *   in one step, and takers pop the queue's list.
 */
import type { Redis } from 'ioredis';
import { readAsset } from '../../util/assets.js';
import type { Mailbox, MailboxQueue, MailboxSubscription, SubscribeOptions } from '../mailbox.js';
import { BlockingPopper } from './blocking.js';
import { KombuNames, connectRedis, duplicateConnection, quit, resolveTarget } from './fanout.js';
import type { RedisTarget, RedisTargetOptions } from './fanout.js';
import { SEP } from './keys.js';

type SendScript = (numKeys: number, key: string, ...args: string[]) => Promise<number>;

interface Connections {
  redis: Redis;
  popper: BlockingPopper;
}

export class RedisMailbox implements Mailbox {
  private readonly target: RedisTarget;
  private conn: Promise<Connections> | null = null;
  private subscriberConn: Promise<Redis> | null = null;
  /** Pattern -> handlers; one PSUBSCRIBE per pattern however many subscriptions share it. */
  private readonly handlers = new Map<string, Set<(envelope: string) => void>>();
  private readonly closers = new Set<() => Promise<void>>();
  private closed = false;

  constructor(
    options: RedisTargetOptions,
    private readonly connectionName = 'celerity-mailbox',
  ) {
    this.target = resolveTarget(options);
  }

  get names(): KombuNames {
    return this.target.names;
  }

  async broadcast(exchange: string, routingKey: string, envelope: string): Promise<number> {
    const { redis } = await this.connection();
    return redis.publish(this.target.names.channel(exchange, routingKey), envelope);
  }

  async subscribe(
    exchange: string,
    bindingKey: string,
    onMessage: (envelope: string) => void,
    options: SubscribeOptions = {},
  ): Promise<MailboxSubscription> {
    const { redis } = await this.connection();
    const subscriber = await this.subscriber();
    const names = this.target.names;
    const pattern = names.subscription(exchange, bindingKey);
    const member = options.queue ? KombuNames.bindingMember('', '', options.queue) : null;
    if (member) await redis.sadd(names.bindings(exchange), member);
    let handlers = this.handlers.get(pattern);
    if (!handlers) {
      handlers = new Set();
      this.handlers.set(pattern, handlers);
      await subscriber.psubscribe(pattern);
    }
    handlers.add(onMessage);
    const close = async (): Promise<void> => {
      if (!this.closers.delete(close)) return;
      const set = this.handlers.get(pattern);
      set?.delete(onMessage);
      if (set && set.size === 0) {
        this.handlers.delete(pattern);
        await subscriber.punsubscribe(pattern).catch(() => undefined);
      }
      if (member && options.queue) {
        await redis
          .multi()
          .srem(names.bindings(exchange), member)
          .del(...names.queueLists(options.queue))
          .exec()
          .catch(() => undefined);
      }
    };
    this.closers.add(close);
    return { close };
  }

  async send(exchange: string, routingKey: string, envelope: string): Promise<void> {
    const { redis } = await this.connection();
    const script = (redis as unknown as { celerityMailboxSend: SendScript }).celerityMailboxSend.bind(redis);
    const names = this.target.names;
    await script(1, names.bindings(exchange), routingKey, envelope, names.prefix, SEP);
  }

  async openQueue(exchange: string, routingKey: string, queue: string): Promise<MailboxQueue> {
    const { redis, popper } = await this.connection();
    const names = this.target.names;
    const bindings = names.bindings(exchange);
    const member = KombuNames.bindingMember(routingKey, '', queue);
    const lists = names.queueLists(queue);
    await redis.sadd(bindings, member);
    const close = async (): Promise<void> => {
      if (!this.closers.delete(close)) return;
      // Unbound before the lists go, so a reply can never land in a list nobody reads any more.
      await redis.multi().srem(bindings, member).del(...lists).exec().catch(() => undefined);
    };
    this.closers.add(close);
    return {
      close,
      take: async (timeoutMs, signal) => (await popper.pop(lists, timeoutMs, signal))?.[1] ?? null,
    };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all([...this.closers].map((c) => c()));
    const conn = await this.conn?.catch(() => null);
    const subscriber = await this.subscriberConn?.catch(() => null);
    await conn?.popper.close();
    await Promise.all([subscriber && quit(subscriber), conn && quit(conn.redis)]);
  }

  async connect(): Promise<void> {
    await this.connection();
  }

  private connection(): Promise<Connections> {
    if (this.closed) return Promise.reject(new Error('the mailbox is closed'));
    if (!this.conn) {
      const pending = connectRedis(this.target, this.connectionName).then((redis) => {
        redis.defineCommand('celerityMailboxSend', { lua: readAsset(import.meta.url, 'lua/mailbox-send.lua') });
        return { redis, popper: new BlockingPopper(redis) };
      });
      this.conn = pending;
      // A failed connect is not remembered: the next call tries again (the server may be back).
      pending.catch(() => this.conn === pending && (this.conn = null));
    }
    return this.conn;
  }

  /** The subscribed connection (it can do nothing else), made on the first subscription. */
  private subscriber(): Promise<Redis> {
    if (!this.subscriberConn) {
      const pending = this.connection().then(async ({ redis }) => {
        const sub = await duplicateConnection(redis, `${this.connectionName}-sub`, this.target);
        sub.on('pmessage', (pattern: string, _channel: string, message: string) => {
          for (const handler of this.handlers.get(pattern) ?? []) handler(message);
        });
        return sub;
      });
      this.subscriberConn = pending;
      pending.catch(() => this.subscriberConn === pending && (this.subscriberConn = null));
    }
    return this.subscriberConn;
  }
}
