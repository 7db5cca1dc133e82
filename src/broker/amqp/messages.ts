/**
 * Task messages to and from AMQP frames, as kombu's amqp transport maps them: the Celery headers are the AMQP header
 * table, the body travels as raw bytes (no base64), and `correlation_id`, `reply_to`, `delivery_mode`, `priority`
 * are AMQP properties.
 */
import type { ConsumeMessage, GetMessage, Options } from 'amqplib';
import type { Delivery } from '../port.js';
import { encodeEnvelope } from '../../protocol/envelope.js';
import type { BrokerMessage } from '../../protocol/types.js';

export function publishOptions(message: BrokerMessage, priority: number): Options.Publish {
  const p = message.properties;
  const options: Options.Publish = {
    contentType: message.contentType,
    contentEncoding: message.contentEncoding,
    headers: message.headers,
    deliveryMode: typeof p.delivery_mode === 'number' ? p.delivery_mode : 2,
    priority,
  };
  if (typeof p.correlation_id === 'string') options.correlationId = p.correlation_id;
  if (typeof p.reply_to === 'string' && p.reply_to !== '') options.replyTo = p.reply_to;
  if (typeof p.expiration === 'string') options.expiration = p.expiration;
  return options;
}

/**
 * A delivery of an AMQP message. `raw` is kombu's JSON envelope of it (body base64), built only when read: it is
 * what a dead letter keeps, in the same form on every broker.
 */
export function toDelivery(tag: string, queue: string, msg: ConsumeMessage | GetMessage): Delivery {
  const props = msg.properties;
  const headers: Record<string, unknown> = { ...(props.headers ?? {}) };
  // A message put back from the dead letters carries kombu's mark; the flag belongs on the delivery.
  const requeued = headers.redelivered === true;
  delete headers.redelivered;
  const properties: Record<string, unknown> = {};
  if (props.correlationId !== undefined) properties.correlation_id = String(props.correlationId);
  if (props.replyTo !== undefined) properties.reply_to = String(props.replyTo);
  properties.delivery_mode = props.deliveryMode ?? 2;
  const priority = typeof props.priority === 'number' ? Math.min(9, Math.max(0, props.priority)) : 0;
  properties.priority = priority;
  if (props.expiration !== undefined) properties.expiration = String(props.expiration);
  const message: BrokerMessage = {
    headers,
    properties,
    body: msg.content,
    contentType: props.contentType ?? 'application/json',
    contentEncoding: props.contentEncoding ?? 'utf-8',
  };
  let raw: string | undefined;
  return {
    tag,
    queue,
    message,
    get raw(): string {
      return (raw ??= encodeEnvelope(message, {
        exchange: msg.fields.exchange,
        routingKey: msg.fields.routingKey,
        priority,
        deliveryTag: tag,
      }));
    },
    redelivered: msg.fields.redelivered || requeued,
    priority,
  };
}
