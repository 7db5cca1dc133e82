/**
 * What the Redis broker stores, read and rebuilt: kombu envelopes (the list items), unacked entries
 * (`[<envelope>, "<exchange>", "<routing_key>"]`) and dead-letter records. Pure functions; no Redis here.
 */
import { randomUUID } from 'node:crypto';
import type { DeadLetter, Delivery } from '../port.js';
import { messageToParts, taskIdentity } from '../raw.js';
import { decodeEnvelope, encodeEnvelope } from '../../protocol/envelope.js';
import { pyDumps, pyJsonString, tryParseJson } from '../../protocol/json.js';
import type { BrokerMessage } from '../../protocol/types.js';
import { clampKombuPriority, stepFor } from './keys.js';
import type { PriorityStep } from './keys.js';

/** A delivery of the envelope text popped from a queue list. `step` stands in for an unreadable priority. */
export function toDelivery(tag: string, queue: string, envelope: string, step: PriorityStep): Delivery {
  try {
    const { message, redelivered, priority } = readEnvelope(envelope);
    return { tag, queue, message, raw: envelope, redelivered, priority };
  } catch (err) {
    const decodeError = err instanceof Error ? err.message : String(err);
    return { tag, queue, message: null, raw: envelope, decodeError, redelivered: false, priority: step };
  }
}

/**
 * The message inside an envelope. kombu marks a returned message by adding `redelivered` to its headers and
 * delivery_info; that mark is reported as `Delivery.redelivered` and kept out of the headers, so a message reads
 * the same on every delivery (as on the other brokers).
 */
function readEnvelope(envelope: string): { message: BrokerMessage; redelivered: boolean; priority: number } {
  const decoded = decodeEnvelope(envelope);
  let headers = decoded.headers;
  let headerMark: unknown;
  if ('redelivered' in headers) ({ redelivered: headerMark, ...headers } = headers);
  const message: BrokerMessage = {
    headers,
    properties: decoded.properties,
    body: decoded.body,
    contentType: decoded.contentType,
    contentEncoding: decoded.contentEncoding,
  };
  const redelivered = headerMark === true || decoded.deliveryInfo?.redelivered === true;
  return { message, redelivered, priority: clampKombuPriority(decoded.properties.priority) };
}

export interface UnackedEntry {
  /** The envelope text as it was popped (byte for byte when it can be recovered, which is the usual case). */
  envelope: string;
  exchange: string;
  routingKey: string;
}

/** Splits an unacked entry; null when it is not the `[envelope, exchange, routing_key]` array kombu writes. */
export function parseUnackedEntry(entry: string): UnackedEntry | null {
  const parts = tryParseJson(entry);
  if (!Array.isArray(parts) || parts.length < 3) return null;
  const exchange = typeof parts[1] === 'string' ? parts[1] : '';
  const routingKey = typeof parts[2] === 'string' ? parts[2] : '';
  // reserve.lua stores a text that is not JSON as a JSON string.
  if (typeof parts[0] === 'string') return { envelope: parts[0], exchange, routingKey };
  // The entry is '[' + envelope + ', ' + exchange + ', ' + routing key + ']' as both kombu and reserve.lua write
  // it, so slicing recovers the exact text; re-serializing is the fallback for entries written otherwise.
  const suffix = `, ${pyJsonString(exchange)}, ${pyJsonString(routingKey)}]`;
  const exact = entry.startsWith('[') && entry.endsWith(suffix) && typeof parts[1] === 'string';
  return { envelope: exact ? entry.slice(1, -suffix.length) : pyDumps(parts[0]), exchange, routingKey };
}

/**
 * The envelope to put back on a queue: marked redelivered as kombu marks it, under a fresh delivery tag so that
 * whoever held the old one can no longer ack, extend or reject the new delivery. An envelope that cannot be
 * decoded goes back unchanged (it will be dead-lettered on its next delivery rather than lost now).
 */
export function redeliverable(entry: UnackedEntry): { envelope: string; step: PriorityStep } {
  try {
    const decoded = decodeEnvelope(entry.envelope);
    const priority = decoded.properties.priority;
    const message: BrokerMessage = {
      headers: decoded.headers,
      properties: decoded.properties,
      body: decoded.body,
      contentType: decoded.contentType,
      contentEncoding: decoded.contentEncoding,
    };
    const envelope = encodeEnvelope(message, {
      exchange: entry.exchange,
      routingKey: entry.routingKey,
      priority: typeof priority === 'number' && Number.isFinite(priority) ? priority : 0,
      deliveryTag: randomUUID(),
      redelivered: true,
    });
    return { envelope, step: stepFor(clampKombuPriority(priority)) };
  } catch {
    return { envelope: entry.envelope, step: 0 };
  }
}

/** One item of the dead-letter list: a JSON object Python tools can read as easily as ours. */
export function deadLetterRecord(queue: string, reason: string, raw: string, failedAt: Date): string {
  const { taskId, taskName } = identify(queue, raw);
  return pyDumps({
    id: randomUUID(),
    queue,
    reason,
    raw,
    task_id: taskId,
    task_name: taskName,
    failed_at: failedAt.toISOString(),
  });
}

/** A stored record as the port's DeadLetter; null for an item this code did not write. */
export function parseDeadLetter(text: string): DeadLetter | null {
  const v = tryParseJson(text);
  if (typeof v !== 'object' || v === null) return null;
  const r = v as Record<string, unknown>;
  if (typeof r.id !== 'string' || typeof r.queue !== 'string' || typeof r.raw !== 'string') return null;
  const failedAt = new Date(typeof r.failed_at === 'string' || typeof r.failed_at === 'number' ? r.failed_at : 0);
  return {
    id: r.id,
    queue: r.queue,
    reason: typeof r.reason === 'string' ? r.reason : '',
    raw: r.raw,
    taskId: typeof r.task_id === 'string' ? r.task_id : null,
    taskName: typeof r.task_name === 'string' ? r.task_name : null,
    failedAt,
  };
}

function identify(queue: string, raw: string): { taskId: string | null; taskName: string | null } {
  try {
    const { message } = readEnvelope(raw);
    return taskIdentity(messageToParts(queue, 0, message));
  } catch {
    return { taskId: null, taskName: null };
  }
}
