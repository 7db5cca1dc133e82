/**
 * The `raw` form of a delivery: a JSON text of the stored message parts (body base64), readable by people and
 * by `json_extract`, and complete enough that a dead letter can be put back on its queue unchanged. Headers and
 * properties are embedded as objects when their stored text is a JSON object, otherwise as the text itself, so
 * even a corrupt row survives the trip into the dead-letter store.
 */
import type { BrokerMessage } from '../protocol/types.js';
import type { Delivery } from './port.js';
import { tryParseJson } from '../protocol/json.js';

/** A message as stored: headers and properties as JSON text, body as bytes. */
export interface StoredParts {
  queue: string;
  priority: number;
  headers: string;
  properties: string;
  body: Buffer;
  contentType: string;
  contentEncoding: string;
}

export function encodeRaw(parts: StoredParts): string {
  return JSON.stringify({
    queue: parts.queue,
    priority: parts.priority,
    headers: objectOrText(parts.headers),
    properties: objectOrText(parts.properties),
    body: parts.body.toString('base64'),
    body_encoding: 'base64',
    content_type: parts.contentType,
    content_encoding: parts.contentEncoding,
  });
}

/** The inverse of `encodeRaw`; null when `raw` is not in that shape. */
export function decodeRaw(raw: string): StoredParts | null {
  const v = tryParseJson(raw);
  if (!isObject(v) || typeof v.queue !== 'string' || typeof v.body !== 'string') return null;
  const text = (x: unknown): string => (typeof x === 'string' ? x : JSON.stringify(x ?? {}));
  return {
    queue: v.queue,
    priority: typeof v.priority === 'number' ? v.priority : 0,
    headers: text(v.headers),
    properties: text(v.properties),
    body: Buffer.from(v.body, 'base64'),
    contentType: typeof v.content_type === 'string' ? v.content_type : 'application/json',
    contentEncoding: typeof v.content_encoding === 'string' ? v.content_encoding : 'utf-8',
  };
}

/** Stored parts to a message; throws when headers or properties are not JSON objects. */
export function partsToMessage(parts: StoredParts): BrokerMessage {
  const headers: unknown = JSON.parse(parts.headers);
  const properties: unknown = JSON.parse(parts.properties);
  if (!isObject(headers)) throw new Error('headers are not a JSON object');
  if (!isObject(properties)) throw new Error('properties are not a JSON object');
  return {
    headers,
    properties,
    body: parts.body,
    contentType: parts.contentType,
    contentEncoding: parts.contentEncoding,
  };
}

export function messageToParts(queue: string, priority: number, message: BrokerMessage): StoredParts {
  return {
    queue,
    priority,
    headers: JSON.stringify(message.headers),
    properties: JSON.stringify(message.properties),
    body: Buffer.from(message.body),
    contentType: message.contentType,
    contentEncoding: message.contentEncoding,
  };
}

/**
 * Task id and name for the dead-letter listing: protocol 2 keeps them in the headers, protocol 1 in a JSON body.
 */
export function taskIdentity(parts: StoredParts): { taskId: string | null; taskName: string | null } {
  const pick = (o: Record<string, unknown>) => ({
    taskId: typeof o.id === 'string' ? o.id : null,
    taskName: typeof o.task === 'string' ? o.task : null,
  });
  const headers = parseObject(parts.headers);
  if (headers && (typeof headers.id === 'string' || typeof headers.task === 'string')) return pick(headers);
  if (parts.contentType === 'application/json') {
    const body = parseObject(parts.body.toString('utf8'));
    if (body) return pick(body);
  }
  return { taskId: null, taskName: null };
}

/**
 * A delivery of stored parts. `raw` is computed on first read: it is only needed to dead-letter a message, and
 * building it (re-serializing headers, base64 of the body) was about a tenth of the cost of a reserve+ack.
 */
export function toDelivery(tag: string, parts: StoredParts, redelivered: boolean): Delivery {
  let raw: string | undefined;
  let message: BrokerMessage | null = null;
  let decodeError: string | undefined;
  try {
    message = partsToMessage(parts);
  } catch (err) {
    decodeError = err instanceof Error ? err.message : String(err);
  }
  return {
    tag,
    queue: parts.queue,
    message,
    get raw(): string {
      return (raw ??= encodeRaw(parts));
    },
    ...(decodeError === undefined ? {} : { decodeError }),
    redelivered,
    priority: parts.priority,
  };
}

/** Ensures priorities stay in the documented 0..9 range whatever a caller passes. */
export function clampPriority(p: number): number {
  return Number.isFinite(p) ? Math.min(9, Math.max(0, Math.round(p))) : 0;
}

function objectOrText(text: string): unknown {
  return parseObject(text) ?? text;
}

function parseObject(text: string): Record<string, unknown> | null {
  try {
    const v: unknown = JSON.parse(text);
    return isObject(v) ? v : null;
  } catch {
    return null;
  }
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
