/**
 * Span names and attributes as opentelemetry-instrumentation-celery sets them, so dashboards and queries built
 * for Python Celery workers and producers read Celerity's spans the same way.
 */
import type { TaskRequest } from '../protocol/types.js';

/** The attribute value types both the API and this module agree on. */
export type AttributeValue = string | number | boolean | string[];
export type Attributes = Record<string, AttributeValue>;

export const ACTION = 'celery.action';
export const TASK_NAME = 'celery.task_name';
export const STATE = 'celery.state';
export const RETRY_REASON = 'celery.retry.reason';
/** The current semantic-convention name and the one earlier instrumentation releases used; both are set. */
export const MESSAGE_ID = 'messaging.message.id';
export const MESSAGE_ID_OLD = 'messaging.message_id';
export const DESTINATION = 'messaging.destination';
export const CONVERSATION_ID = 'messaging.conversation_id';
export const SYSTEM = 'messaging.system';

export const PUBLISH_ACTION = 'apply_async';
export const RUN_ACTION = 'run';

const SYSTEMS: Record<string, string> = {
  amqp: 'rabbitmq',
  amqps: 'rabbitmq',
  pyamqp: 'rabbitmq',
  redis: 'redis',
  rediss: 'redis',
  unix: 'redis',
  'redis+socket': 'redis',
  sentinel: 'redis',
  sqlite: 'sqlite',
  memory: 'memory',
};

let lastUrl = '';
let lastSystem = '';

/**
 * `messaging.system` for a broker URL: the semantic conventions' `rabbitmq` for AMQP, else the transport's
 * scheme family. The instrumentation leaves it unset; it is set here so spans say which broker carried them.
 */
export function messagingSystem(brokerUrl: string): string {
  if (brokerUrl === lastUrl) return lastSystem;
  const colon = brokerUrl.indexOf(':');
  const scheme = colon > 0 ? brokerUrl.slice(0, colon).toLowerCase() : '';
  lastUrl = brokerUrl;
  lastSystem = SYSTEMS[scheme] ?? (scheme || 'unknown');
  return lastSystem;
}

export function publishAttributes(taskName: string, brokerUrl: string): Attributes {
  return { [ACTION]: PUBLISH_ACTION, [TASK_NAME]: taskName, [SYSTEM]: messagingSystem(brokerUrl) };
}

/** What the producer knows once the message is built. */
export function sentAttributes(id: string, queue: string): Attributes {
  // Celery's routing key is the queue name for the default (direct) exchange, which is how Celerity routes.
  return { [MESSAGE_ID]: id, [MESSAGE_ID_OLD]: id, [DESTINATION]: queue };
}

export interface RunSite {
  /** The worker's node name. */
  hostname: string;
  /** The queue the message was delivered from (Celery's delivery_info routing_key). */
  queue: string;
  brokerUrl: string;
}

/**
 * The request's attributes, read as the instrumentation reads Celery's task.request: `celery.<field>` for most,
 * messaging names for the id, correlation id and routing key; unset and default values (no retries, no time
 * limits) left out.
 */
export function runAttributes(req: TaskRequest, site: RunSite): Attributes {
  const a: Attributes = {
    [ACTION]: RUN_ACTION,
    [TASK_NAME]: req.task,
    [SYSTEM]: messagingSystem(site.brokerUrl),
    [MESSAGE_ID]: req.id,
    [MESSAGE_ID_OLD]: req.id,
    [DESTINATION]: site.queue,
  };
  if (req.correlationId) a[CONVERSATION_ID] = req.correlationId;
  if (req.eta) a['celery.eta'] = req.eta.toISOString();
  if (req.expires) a['celery.expires'] = req.expires.toISOString();
  // The instrumentation writes the worker's hostname and then overwrites it with the request's origin (its
  // comment: Celery 4 renamed the field); what a Python worker reports is therefore the producer's origin.
  a['celery.hostname'] = req.origin || site.hostname;
  if (req.replyTo) a['celery.reply_to'] = req.replyTo;
  if (req.retries) a['celery.retries'] = req.retries;
  const [hard, soft] = req.timelimit;
  // Unset limits read as '' there too; strings keep the array of one type, as OpenTelemetry requires.
  if (hard !== null || soft !== null) a['celery.timelimit'] = [hard === null ? '' : String(hard), soft === null ? '' : String(soft)];
  return a;
}
