/**
 * Celery's monitoring events, as Celery 5.2 sends them over Redis.
 *
 * An event is a flat dict. `EventDispatcher.publish` (celery/events/dispatcher.py) builds it as
 * `Event(type, hostname=, utcoffset=, pid=, clock=, **fields)` (celery/events/event.py), which appends
 * `timestamp` (epoch seconds, float) and `type` after the fields, so the keys run
 * `hostname, utcoffset, pid, clock, <fields...>, timestamp, type`.
 *
 * It is published to the exchange `celeryev` (fanout on Redis) with routing key = type with `-` replaced by `.`
 * (`worker.heartbeat`), envelope header `{"hostname": ...}` and property `delivery_mode` 1. A worker with an event
 * loop buffers its task events and publishes them as one JSON list under routing key `task.multi`, so readers
 * accept a list or an object (celery/events/receiver.py `_receive`).
 */
import os from 'node:os';
import { DecodeError } from '../errors/index.js';
import { decodeEnvelope, encodeEnvelope } from './envelope.js';
import { createSerializerRegistry } from './serializers.js';
import type { SerializerRegistry } from './serializers.js';

/** Celery's `event_exchange` default. */
export const EVENT_EXCHANGE = 'celeryev';

/** Fields every event carries. */
export interface EventBase {
  hostname: string;
  /** Hours west of UTC (Python's `time.timezone // 3600`, so UTC+2 is -2). */
  utcoffset: number;
  pid: number;
  /** The sender's Lamport clock; Celery omits nothing here, but `blind` events carry null. */
  clock: number | null;
  /** Epoch seconds. */
  timestamp: number;
  type: string;
}

/** Sent by workers: `worker-online`, then `worker-heartbeat` every `freq` seconds, `worker-offline` on shutdown. */
export interface WorkerEventFields {
  /** Seconds between heartbeats (2.0); a monitor marks the worker offline after `2 * freq` without one. */
  freq: number;
  /** Tasks executing now. */
  active: number;
  /** Tasks finished since start. */
  processed: number;
  /** 1, 5 and 15 minute load averages, rounded up to two decimals. */
  loadavg: [number, number, number];
  /** `py-celery` for Celery. */
  sw_ident: string;
  sw_ver: string;
  /** Python's `platform.system()`: `Linux`, `Darwin`, `Windows`. */
  sw_sys: string;
}

/** `task-sent`: sent by the producer (celery/app/amqp.py `as_task_v2` sent_event, plus the routing). */
export interface TaskSentFields {
  uuid: string;
  root_id: string | null;
  parent_id: string | null;
  name: string;
  /** Python repr text (the `argsrepr` header). */
  args: string;
  kwargs: string;
  retries: number;
  eta: string | null;
  expires: string | null;
  queue: string;
  exchange: string;
  routing_key: string;
}

/** `task-received` (celery/worker/strategy.py). */
export interface TaskReceivedFields {
  uuid: string;
  name: string;
  args: string;
  kwargs: string;
  root_id: string | null;
  parent_id: string | null;
  retries: number;
  eta: string | null;
  expires: string | null;
}

export interface TaskStartedFields {
  uuid: string;
}

export interface TaskSucceededFields {
  uuid: string;
  /** Python repr text of the return value (saferepr). */
  result: string;
  /** Seconds. */
  runtime: number;
}

/** `task-failed` and `task-retried`: `exception` is the repr (`KeyError('x')`), `traceback` the text. */
export interface TaskFailedFields {
  uuid: string;
  exception: string;
  traceback: string | null;
}

export interface TaskRevokedFields {
  uuid: string;
  terminated: boolean;
  signum: number | string | null;
  expired: boolean;
}

export interface TaskRejectedFields {
  uuid: string;
  requeue: boolean;
}

/** The fields each known event type adds to EventBase. */
export interface EventFieldsByType {
  'worker-online': WorkerEventFields;
  'worker-heartbeat': WorkerEventFields;
  'worker-offline': WorkerEventFields;
  'task-sent': TaskSentFields;
  'task-received': TaskReceivedFields;
  'task-started': TaskStartedFields;
  'task-succeeded': TaskSucceededFields;
  'task-failed': TaskFailedFields;
  'task-retried': TaskFailedFields;
  'task-revoked': TaskRevokedFields;
  'task-rejected': TaskRejectedFields;
}

/** Any event as read from the wire: the base fields plus whatever its type carries. */
export type CeleryEvent = EventBase & Record<string, unknown>;

export interface EventIdentity {
  hostname: string;
  pid: number;
  /** The value of the sender's clock after forwarding it (null for a blind event). */
  clock: number | null;
  /** Defaults to the current offset of this process's time zone. */
  utcoffset?: number;
  /** Epoch seconds; defaults to now. */
  timestamp?: number;
}

/**
 * Builds an event dict with Celery's key order. A `timestamp` among the fields keeps its place, and `type` goes
 * last, as `celery.events.event.Event` does.
 */
export function createEvent(type: string, fields: object, identity: EventIdentity): CeleryEvent {
  const event: Record<string, unknown> = {
    hostname: identity.hostname,
    utcoffset: identity.utcoffset ?? utcoffsetHours(),
    pid: identity.pid,
    clock: identity.clock,
    ...fields,
  };
  if (!('timestamp' in event)) event.timestamp = identity.timestamp ?? Date.now() / 1000;
  delete event.type;
  event.type = type;
  return event as CeleryEvent;
}

/** The routing key an event is published under: `task-succeeded` -> `task.succeeded`. */
export function eventRoutingKey(type: string): string {
  return type.replace(/-/g, '.');
}

/** The group an event type belongs to (`task-sent` -> `task`), which dispatchers filter and buffer by. */
export function eventGroup(type: string): string {
  return type.split('-', 1)[0]!;
}

/**
 * Python's `celery.utils.time.utcoffset()`: the current offset to UTC in whole hours, positive west of Greenwich,
 * rounded down (`time.timezone // 3600`).
 */
export function utcoffsetHours(at: Date = new Date()): number {
  return Math.floor(at.getTimezoneOffset() / 60);
}

/** When a worker whose last heartbeat was at `timestamp` counts as offline (celery/events/state.py: 200% window). */
export function heartbeatExpires(timestamp: number, freq: number): number {
  return timestamp + freq * 2;
}

export interface EventEncodeOptions {
  /** The sender's node name, written to the envelope's `hostname` header. */
  hostname: string;
  /** kombu writes a uuid4 per publish. */
  deliveryTag: string;
  /** Defaults to the type's routing key, or `<group>.multi` for a list. */
  routingKey?: string;
  exchange?: string;
  serializer?: string;
  registry?: SerializerRegistry;
}

const defaultRegistry = createSerializerRegistry(['json']);

/**
 * The envelope text to PUBLISH for one event, or for a batch (a list, as workers send `task.multi`).
 * Returns the routing key too, since the channel name depends on it.
 */
export function encodeEventMessage(
  event: CeleryEvent | readonly CeleryEvent[],
  options: EventEncodeOptions,
): { routingKey: string; envelope: string } {
  const routingKey = options.routingKey ?? defaultRoutingKey(event);
  const registry = options.registry ?? defaultRegistry;
  const encoded = registry.encode(options.serializer ?? 'json', event);
  const envelope = encodeEnvelope(
    {
      headers: { hostname: options.hostname },
      properties: { delivery_mode: 1 },
      body: encoded.body,
      contentType: encoded.contentType,
      contentEncoding: encoded.contentEncoding,
    },
    { exchange: options.exchange ?? EVENT_EXCHANGE, routingKey, priority: 0, deliveryTag: options.deliveryTag },
  );
  return { routingKey, envelope };
}

function defaultRoutingKey(event: CeleryEvent | readonly CeleryEvent[]): string {
  if (!isEventList(event)) return eventRoutingKey(event.type);
  const first = event[0];
  return first ? `${eventGroup(first.type)}.multi` : 'multi';
}

function isEventList(event: CeleryEvent | readonly CeleryEvent[]): event is readonly CeleryEvent[] {
  return Array.isArray(event);
}

/**
 * The events in one published message: one for an object body, each item for a list body. Throws DecodeError
 * when the body is neither, or an item lacks a string `type` (the one field Celery's receiver needs).
 */
export function decodeEventMessage(raw: string, registry: SerializerRegistry = defaultRegistry): CeleryEvent[] {
  const envelope = decodeEnvelope(raw);
  const body = registry.decode(envelope.body, envelope.contentType, envelope.contentEncoding);
  const items = Array.isArray(body) ? body : [body];
  return items.map((item, i) => {
    if (typeof item !== 'object' || item === null || Array.isArray(item)) {
      throw new DecodeError(`event${Array.isArray(body) ? ` ${i}` : ''} must be an object`);
    }
    if (typeof (item as { type?: unknown }).type !== 'string') {
      throw new DecodeError(`event${Array.isArray(body) ? ` ${i}` : ''} has no string 'type'`);
    }
    return item as CeleryEvent;
  });
}

/** Python's `platform.system()` for this machine. */
export function platformSystem(): string {
  const type = os.type();
  return type === 'Windows_NT' ? 'Windows' : type;
}

/** Celery's `load_average()`: each of the three load averages rounded up to two decimals. */
export function loadAverage(): [number, number, number] {
  const [a = 0, b = 0, c = 0] = os.loadavg();
  return [a, b, c].map((l) => Math.ceil(l * 100) / 100) as [number, number, number];
}
