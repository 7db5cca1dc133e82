/**
 * Native delayed delivery on RabbitMQ, in the topology of Celery 5.5 and kombu (kombu's
 * transport/native_delayed_delivery.py), so a countdown or ETA waits in the broker instead of in a worker's memory:
 *
 * - 28 levels, 27 down to 0: a durable topic exchange `celery_delayed_<L>` and a quorum queue of the same name whose
 *   messages expire after 2^L seconds into the next level's exchange (level 0: into `celery_delayed_delivery`).
 * - A message is published to `celery_delayed_27` with the routing key `<28 bits of the delay in seconds, dot
 *   separated>.<queue>`. At level L, a message whose bit L is 1 goes into the level's queue and waits 2^L s; one
 *   whose bit is 0 passes straight to the next level's exchange. After level 0 it reaches `celery_delayed_delivery`,
 *   from which the destination queue takes it (binding `#.<queue>`).
 *
 * Celery 5.5 binds the destination through a topic exchange; Celery 5.2's task exchanges are direct, so the
 * destination queue is bound to the delivery exchange directly. Messages arrive with the bits in their routing key,
 * which workers of any version ignore; their `eta` header still says when they are due. Delays are whole seconds,
 * rounded up so a task never arrives early: the worker holds the remaining fraction.
 */
import type { Channel } from 'amqplib';

const BITS = 28;
const TOP = BITS - 1;
export const DELIVERY_EXCHANGE = 'celery_delayed_delivery';
/** The longest delay the levels can express: 2^28 - 1 seconds, about 8.5 years. */
export const MAX_DELAY_S = 2 ** BITS - 1;

export const levelName = (level: number): string => `celery_delayed_${level}`;
export const DELAY_ENTRY = levelName(TOP);

/** The routing key that makes the levels hold a message `seconds` (whole, 1..MAX_DELAY_S) before `queue`. */
export function delayedRoutingKey(seconds: number, queue: string): string {
  return `${seconds.toString(2).padStart(BITS, '0').split('').join('.')}.${queue}`;
}

/** Whole seconds to wait for `notBefore`, rounded up and capped; 0 when it is due. */
export function delaySeconds(notBefore: number, now = Date.now()): number {
  const ms = notBefore - now;
  return ms <= 0 ? 0 : Math.min(MAX_DELAY_S, Math.ceil(ms / 1000));
}

/** Declares the levels and the delivery exchange exactly as kombu does for quorum queues (idempotent). */
export async function declareDelayLevels(ch: Channel): Promise<void> {
  let pattern = '1.#';
  for (let level = TOP; level >= 0; level--) {
    const name = levelName(level);
    await ch.assertExchange(name, 'topic', { durable: true, autoDelete: false });
    await ch.assertQueue(name, {
      durable: true,
      exclusive: false,
      autoDelete: false,
      arguments: {
        'x-queue-type': 'quorum',
        'x-overflow': 'reject-publish',
        'x-message-ttl': 2 ** level * 1000,
        'x-dead-letter-exchange': level > 0 ? levelName(level - 1) : DELIVERY_EXCHANGE,
        'x-dead-letter-strategy': 'at-least-once',
      },
    });
    await ch.bindQueue(name, name, pattern);
    pattern = `*.${pattern}`;
  }
  pattern = '0.#';
  for (let level = TOP; level > 0; level--) {
    await ch.bindExchange(levelName(level - 1), levelName(level), pattern);
    pattern = `*.${pattern}`;
  }
  await ch.assertExchange(DELIVERY_EXCHANGE, 'topic', { durable: true, autoDelete: false });
  await ch.bindExchange(DELIVERY_EXCHANGE, levelName(0), pattern);
}

/** Lets `queue` receive what the levels deliver for it. */
export async function bindToDelivery(ch: Channel, queue: string): Promise<void> {
  await ch.bindQueue(queue, DELIVERY_EXCHANGE, `#.${queue}`);
}
