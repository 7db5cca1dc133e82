/**
 * Celery's declarations on RabbitMQ, as Celery 5.2 makes them (celery/app/amqp.py, kombu's entity.py), so that a
 * queue either side declares first is the queue the other expects and neither gets PRECONDITION_FAILED:
 * - a task queue `q` is durable, not exclusive, not auto-deleted, bound to the durable direct exchange of the same
 *   name with routing key `q` (Celery's default queue `celery` on exchange `celery`; any other queue on an exchange
 *   named after it, Celery's `task_create_missing_queues`);
 * - its arguments are `x-max-priority` only when a maximum priority is configured (Celery's
 *   `task_queue_max_priority`), or `x-queue-type: quorum` for quorum queues (Celery 5.5's
 *   `task_default_queue_type`);
 * - tasks are published to the default exchange `''` with the queue name as routing key, as Celery's producer does.
 */
import type { Channel } from 'amqplib';

export type QueueType = 'classic' | 'quorum';

export interface QueueSettings {
  /** `x-max-priority` of every task queue; none: priorities are ignored by the server (Celery's default). */
  maxPriority?: number;
  queueType: QueueType;
}

export function queueArguments(s: QueueSettings): Record<string, unknown> {
  if (s.queueType === 'quorum') return { 'x-queue-type': 'quorum' };
  return s.maxPriority === undefined ? {} : { 'x-max-priority': s.maxPriority };
}

/** The exchange a task queue is bound to: Celery's default and auto-created queues use their own name. */
export function exchangeOf(queue: string): string {
  return queue;
}

/** Declares task queue `queue`, its exchange and binding on `ch`; rejects as amqplib does (the channel closes). */
export async function declareTaskQueue(ch: Channel, queue: string, s: QueueSettings): Promise<void> {
  const exchange = exchangeOf(queue);
  await ch.assertExchange(exchange, 'direct', { durable: true, autoDelete: false });
  await ch.assertQueue(queue, { durable: true, exclusive: false, autoDelete: false, arguments: queueArguments(s) });
  await ch.bindQueue(queue, exchange, queue);
}

/** Where rejected messages are kept (`celerity dead-letters`): one durable classic queue, as the Redis list. */
export const DEAD_LETTER_QUEUE = 'celerity.dead_letters';

/** The header of a dead letter holding its record (id, queue, reason, task, time). */
export const DEAD_LETTER_HEADER = 'x-celerity-dead-letter';

export async function declareDeadLetterQueue(ch: Channel): Promise<void> {
  await ch.assertQueue(DEAD_LETTER_QUEUE, { durable: true, exclusive: false, autoDelete: false });
}
