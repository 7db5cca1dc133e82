/**
 * What the Redis broker stores, read and rebuilt: kombu envelopes (the list items), unacked entries
 * (`[<envelope>, "<exchange>", "<routing_key>"]`) and dead-letter records. Pure functions; no Redis here.
 *
 * Everything read from Redis arrives as bytes: a list item may hold anything a foreign or buggy producer wrote,
 * and text decoded from it (invalid UTF-8 becomes U+FFFD) would no longer match what is stored, so a reject or a
 * restore comparing it with the stored entry would never succeed. The bytes are what gets compared and moved;
 * text is only made to read a message.
 */
import { isUtf8 } from 'node:buffer';
import { randomUUID } from 'node:crypto';
import type { DeadLetter, Delivery } from '../port.js';
import { bytesOfText, textOfBytes } from '../raw.js';
import { decodeEnvelope, encodeEnvelope } from '../../protocol/envelope.js';
import { pyDumps, tryParseJson } from '../../protocol/json.js';
import { peekMessageIdentity, peekTaskIdentity } from '../../protocol/message.js';
import type { TaskIdentity } from '../../protocol/message.js';
import type { BrokerMessage } from '../../protocol/types.js';
import { clampKombuPriority, stepFor } from './keys.js';
import type { PriorityStep } from './keys.js';

/**
 * A delivery of the envelope popped from a queue list. `step` stands in for an unreadable priority. Bytes that are
 * not valid UTF-8 are read as Python's kombu reads them (each invalid sequence as U+FFFD), so a message with a
 * stray byte in, say, its argsrepr still runs; `raw` keeps the exact bytes.
 */
export function toDelivery(tag: string, queue: string, envelope: Buffer, step: PriorityStep): Delivery {
  const text = envelope.toString('utf8');
  const raw = isUtf8(envelope) ? text : textOfBytes(envelope);
  try {
    const { message, redelivered, priority } = readEnvelope(text);
    return { tag, queue, message, raw, redelivered, priority };
  } catch (err) {
    const decodeError = err instanceof Error ? err.message : String(err);
    const identity = peekEnvelope(text);
    return { tag, queue, message: null, raw, decodeError, identity, redelivered: false, priority: step };
  }
}

/**
 * Who an envelope that cannot be decoded was for, when its JSON can still be read: the `id` header, the id in a
 * protocol 1 body (base64 or plain, as `body_encoding` says), or the correlation_id property.
 */
function peekEnvelope(text: string): TaskIdentity {
  const v = tryParseJson(text);
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return { taskId: null, taskName: null };
  const envelope = v as Record<string, unknown>;
  const props = envelope.properties;
  const body = () => {
    if (typeof envelope.body !== 'string') return undefined;
    const base64 = typeof props === 'object' && props !== null && (props as Record<string, unknown>).body_encoding === 'base64';
    return JSON.parse(base64 ? Buffer.from(envelope.body, 'base64').toString('utf8') : envelope.body);
  };
  return peekTaskIdentity(envelope.headers, props, body);
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
  /** The envelope as it was popped, byte for byte. */
  envelope: Buffer;
  exchange: string;
  routingKey: string;
}

const COMMA = Buffer.from(', ');

/**
 * Splits an unacked entry; null when it is not the `[envelope, exchange, routing_key]` array kombu writes.
 *
 * Both kombu and reserve.lua write '[' + envelope + ', ' + exchange + ', ' + routing key + ']' with exchange and
 * routing key as ASCII JSON strings, so the two strings are read from the end and the envelope is the bytes left
 * in between, exactly as popped (and without parsing a message of any size). reserve.lua stores an item that is
 * not a JSON object as a JSON string (Python's restore then logs and drops it rather than failing); it is
 * unescaped back to the item's bytes. Entries written any other way are parsed as JSON and re-serialized.
 */
export function parseUnackedEntry(entry: Buffer): UnackedEntry | null {
  const routing = jsonStringBefore(entry, entry.length - 1);
  const exchange = routing && jsonStringBefore(entry, routing.start - COMMA.length);
  const first = exchange ? entry.subarray(1, exchange.start - COMMA.length) : null;
  if (entry[0] === 0x5b && entry[entry.length - 1] === 0x5d && routing && exchange && first && first.length > 0) {
    if (entry.subarray(exchange.end, routing.start).equals(COMMA) && entry.subarray(first.length + 1, exchange.start).equals(COMMA)) {
      const envelope = first[0] === 0x22 ? unescapeJsonString(first) : first;
      if (envelope) return { envelope, exchange: exchange.value, routingKey: routing.value };
    }
  }
  const parts = tryParseJson(entry.toString('utf8'));
  if (!Array.isArray(parts) || parts.length < 3) return null;
  return {
    envelope: typeof parts[0] === 'string' ? bytesOfText(parts[0]) : Buffer.from(pyDumps(parts[0])),
    exchange: typeof parts[1] === 'string' ? parts[1] : '',
    routingKey: typeof parts[2] === 'string' ? parts[2] : '',
  };
}

/** The ASCII JSON string ending just before `end` (a quote at end - 1), with where it starts; null if there is none. */
function jsonStringBefore(buf: Buffer, end: number): { value: string; start: number; end: number } | null {
  if (end < 2 || buf[end - 1] !== 0x22) return null;
  for (let i = end - 2; i >= 0; i--) {
    const b = buf[i]!;
    if (b >= 0x80) return null;
    if (b !== 0x22) continue;
    let slashes = 0;
    while (i - 1 - slashes >= 0 && buf[i - 1 - slashes] === 0x5c) slashes++;
    if (slashes % 2 === 1) continue;
    const value = tryParseJson(buf.toString('latin1', i, end));
    return typeof value === 'string' ? { value, start: i, end } : null;
  }
  return null;
}

const SIMPLE_ESCAPES: Record<number, number> = { 0x22: 0x22, 0x5c: 0x5c, 0x2f: 0x2f, 0x62: 8, 0x66: 12, 0x6e: 10, 0x72: 13, 0x74: 9 };

/**
 * The bytes of a JSON string as written (quotes included), unescaping at the byte level: bytes that need no escape
 * are copied as they are, whether or not they are UTF-8 (Lua's cjson writes them so), `\uXXXX` becomes UTF-8 and
 * an unpaired `\udc80`..`\udcff` the byte it escapes (surrogateescape, as `textOfBytes` writes). Null when the
 * text is not one JSON string.
 */
export function unescapeJsonString(quoted: Buffer): Buffer | null {
  if (quoted.length < 2 || quoted[0] !== 0x22 || quoted[quoted.length - 1] !== 0x22) return null;
  const out = Buffer.allocUnsafe(quoted.length * 3);
  let o = 0;
  const end = quoted.length - 1;
  for (let i = 1; i < end; ) {
    const b = quoted[i]!;
    if (b === 0x22) return null;
    if (b !== 0x5c) {
      out[o++] = b;
      i++;
      continue;
    }
    const e = quoted[i + 1];
    if (e === undefined || i + 1 >= end) return null;
    if (e !== 0x75) {
      const c = SIMPLE_ESCAPES[e];
      if (c === undefined) return null;
      out[o++] = c;
      i += 2;
      continue;
    }
    const unit = hex4(quoted, i + 2, end);
    if (unit < 0) return null;
    i += 6;
    let text: string;
    if (unit >= 0xd800 && unit <= 0xdbff && quoted[i] === 0x5c && quoted[i + 1] === 0x75) {
      const low = hex4(quoted, i + 2, end);
      if (low >= 0xdc00 && low <= 0xdfff) {
        text = String.fromCharCode(unit, low);
        i += 6;
      } else text = String.fromCharCode(unit);
    } else text = String.fromCharCode(unit);
    o += bytesOfText(text).copy(out, o);
  }
  return Buffer.from(out.subarray(0, o));
}

function hex4(buf: Buffer, at: number, end: number): number {
  if (at + 4 > end) return -1;
  const text = buf.toString('latin1', at, at + 4);
  return /^[0-9a-fA-F]{4}$/.test(text) ? parseInt(text, 16) : -1;
}

/**
 * The envelope to put back on a queue: marked redelivered as kombu marks it, under a fresh delivery tag so that
 * whoever held the old one can no longer ack, extend or reject the new delivery. An envelope that cannot be
 * decoded, or that is not valid UTF-8 (rebuilding it would replace those bytes), goes back byte for byte: it is
 * dead-lettered, or run as it is, on its next delivery rather than lost or changed now.
 */
export function redeliverable(entry: UnackedEntry): { envelope: string | Buffer; step: PriorityStep } {
  if (!isUtf8(entry.envelope)) return { envelope: entry.envelope, step: 0 };
  try {
    const decoded = decodeEnvelope(entry.envelope.toString('utf8'));
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

/**
 * One item of the dead-letter list: a JSON object Python tools can read as easily as ours. `raw` holds the
 * envelope's bytes as surrogateescape text, which the ASCII-only JSON writes as `\udcXX` escapes, so the record
 * is plain ASCII and the bytes survive exactly.
 */
export function deadLetterRecord(queue: string, reason: string, raw: Buffer, failedAt: Date): string {
  const { taskId, taskName } = identify(raw);
  return pyDumps({
    id: randomUUID(),
    queue,
    reason,
    raw: textOfBytes(raw),
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

function identify(raw: Buffer): TaskIdentity {
  const text = raw.toString('utf8');
  try {
    return peekMessageIdentity(readEnvelope(text).message);
  } catch {
    return peekEnvelope(text);
  }
}
