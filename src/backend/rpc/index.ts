/**
 * Celery's rpc:// result backend: results travel back over the AMQP broker to the producer that sent the task,
 * instead of being stored. As in Celery 5 (celery/backends/rpc.py):
 * - each producing app has one reply queue named after its oid (the `reply_to` of every task it sends): not
 *   durable, deleted when unused, expiring after `resultExpires` without a consumer; it is declared when the
 *   backend connects, which the app does before it sends its first task;
 * - a worker publishes every state of a task (STARTED, PROGRESS, RETRY, the final one) to the default exchange
 *   with the task's `reply_to` as routing key and the task id as `correlation_id`, the body being the result meta
 *   as JSON; a task whose message has no `reply_to` gets no result;
 * - the producer keeps the latest state of each of its tasks in memory: `get()` answers from there, PENDING when
 *   nothing came yet. Only the producer that sent a task can read its result, and only while it runs; groups of
 *   results can be waited on, but chords, saved groups and counters need a store (Celery refuses them too).
 */
import type { Channel, ConfirmChannel, ConsumeMessage } from 'amqplib';
import { AmqpConnection, ChannelSlot } from '../../amqp/connection.js';
import { BROKER_URL_PARAMS, parseAmqpUrl } from '../../amqp/url.js';
import { CelerityError, ConfigurationError, ConnectionError } from '../../errors/index.js';
import { decodeResultMeta, encodeResultMeta } from '../../protocol/result-meta.js';
import type { ResultMeta } from '../../protocol/types.js';
import { READY_STATES } from '../../protocol/types.js';
import type { ChordPart, GroupMeta, ResultBackend, ResultEntry, SetOptions, WaitOptions } from '../port.js';
import { Waiters } from '../wait.js';

export interface RpcBackendOptions {
  /** The AMQP broker the results travel over (the app's broker URL). */
  brokerUrl: string;
  /** This app's reply queue: the `reply_to` of the tasks it sends. */
  replyQueue: string;
  /** Seconds the reply queue outlives its last consumer (x-expires), Celery's result_expires. */
  resultExpires: number;
  connectTimeoutMs?: number;
}

/** Results kept for reading, oldest dropped first beyond this many (a producer that never reads its results). */
const MAX_KEPT = 100_000;

const UNSUPPORTED =
  'the rpc:// result backend does not support chords, saved groups or counters (as in Celery): use a result store (redis://, postgresql://, sqlite://)';

export class RpcBackend implements ResultBackend {
  private readonly conn: AmqpConnection;
  private readonly connectMs: number;
  private readonly metas = new Map<string, ResultMeta>();
  private readonly waiters = new Waiters();
  private readonly publisher: ChannelSlot<ConfirmChannel>;
  /** The reply queue's consumer, declared and started again after a lost connection. */
  private readonly consumer: ChannelSlot<Channel>;
  private closed = false;

  constructor(private readonly options: RpcBackendOptions) {
    let url;
    try {
      url = parseAmqpUrl(options.brokerUrl, { setting: 'broker', params: BROKER_URL_PARAMS });
    } catch {
      throw new ConfigurationError('backend', 'rpc://', 'rpc:// with an AMQP broker (amqp://, amqps://, pyamqp://): results travel over it');
    }
    this.connectMs = options.connectTimeoutMs ?? 4_000;
    this.conn = new AmqpConnection(url.endpoints, {
      connectMs: this.connectMs,
      connectionName: `celerity-rpc-${process.pid}`,
      // The reply queue is consumed again once the connection is back (results sent meanwhile wait in it).
      onBack: () => void this.listen().catch(() => undefined),
    });
    this.publisher = new ChannelSlot((waitMs) => this.conn.confirmChannel(waitMs));
    this.consumer = new ChannelSlot(
      (waitMs) => this.conn.channel(waitMs),
      async (ch) => {
        await ch.assertQueue(options.replyQueue, {
          durable: false,
          autoDelete: true,
          exclusive: false,
          arguments: { 'x-expires': Math.max(1, Math.round(options.resultExpires * 1000)) },
        });
        await ch.consume(options.replyQueue, (msg) => msg && this.arrive(msg), { noAck: true });
      },
    );
  }

  async connect(): Promise<void> {
    await this.conn.open();
    await this.listen();
  }

  /** Declares the reply queue and consumes it (again after a lost connection). */
  private listen(): Promise<Channel> {
    return this.consumer.get(this.connectMs);
  }

  private arrive(msg: ConsumeMessage): void {
    let meta: ResultMeta;
    try {
      meta = decodeResultMeta(msg.content);
    } catch {
      // Not a result (another client's message in a shared queue): nothing waits for it.
      return;
    }
    const id = typeof msg.properties.correlationId === 'string' && msg.properties.correlationId ? msg.properties.correlationId : meta.task_id;
    const known = this.metas.get(id);
    // A late STARTED or PROGRESS never replaces a final state (as stores keep SUCCESS).
    if (known && READY_STATES.has(known.status) && !READY_STATES.has(meta.status)) return;
    this.metas.delete(id);
    this.metas.set(id, meta);
    for (const key of this.metas.keys()) {
      if (this.metas.size <= MAX_KEPT) break;
      this.metas.delete(key);
    }
    if (READY_STATES.has(meta.status)) this.waiters.resolve(id, () => meta);
  }

  async get(taskId: string): Promise<ResultMeta | null> {
    await this.listen();
    return this.metas.get(taskId) ?? null;
  }

  async mget(taskIds: readonly string[]): Promise<(ResultMeta | null)[]> {
    await this.listen();
    return taskIds.map((id) => this.metas.get(id) ?? null);
  }

  async set(taskId: string, meta: ResultMeta, options: SetOptions = {}): Promise<void> {
    await this.setMany([{ taskId, meta, replyTo: options.replyTo }]);
  }

  async setMany(entries: readonly ResultEntry[]): Promise<void> {
    const sending = entries.filter((e) => e.replyTo);
    if (!sending.length) return;
    const ch = await this.publisher.get(this.connectMs);
    await Promise.all(
      sending.map(
        ({ taskId, meta, replyTo }) =>
          new Promise<void>((resolve, reject) =>
            ch.publish('', replyTo!, Buffer.from(encodeResultMeta(meta, taskId)), {
              correlationId: taskId,
              contentType: 'application/json',
              contentEncoding: 'utf-8',
              // Celery's default (result_persistent off): results are not written to disk.
              deliveryMode: 1,
            }, (err) => (err ? reject(new ConnectionError(`cannot send the result of ${taskId} over RabbitMQ: ${String(err)}`, { cause: err })) : resolve())),
          ),
      ),
    );
  }

  async delete(taskId: string): Promise<void> {
    this.metas.delete(taskId);
  }

  async waitFor(taskId: string, options: WaitOptions = {}): Promise<ResultMeta> {
    if (options.signal?.aborted) throw options.signal.reason;
    await this.listen();
    const known = this.metas.get(taskId);
    if (known && READY_STATES.has(known.status)) return known;
    return this.waiters.wait(taskId, options);
  }

  async incr(): Promise<number> {
    throw new CelerityError(UNSUPPORTED);
  }

  async setChordSize(): Promise<void> {
    throw new CelerityError(UNSUPPORTED);
  }

  async chordPartReturn(_groupId: string, _part: ChordPart): Promise<ChordPart[] | null> {
    throw new CelerityError(UNSUPPORTED);
  }

  async chordDone(): Promise<void> {
    throw new CelerityError(UNSUPPORTED);
  }

  async saveGroup(_groupId: string, _meta: GroupMeta): Promise<void> {
    throw new CelerityError(UNSUPPORTED);
  }

  async getGroup(): Promise<GroupMeta | null> {
    throw new CelerityError(UNSUPPORTED);
  }

  async deleteGroup(): Promise<void> {
    throw new CelerityError(UNSUPPORTED);
  }

  async cleanup(): Promise<number> {
    // The reply queue expires by itself; kept states go with the process.
    return 0;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.waiters.rejectAll(new ConnectionError('the result backend was closed'));
    await this.conn.close();
  }
}
