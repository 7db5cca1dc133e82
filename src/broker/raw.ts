/**
 * The `raw` form of a delivery: a JSON text of the stored message parts (body base64), readable by people and
 * by `json_extract`, and complete enough that a dead letter can be put back on its queue unchanged. Headers and
 * properties are embedded as objects when their stored text is a JSON object written the way JSON.stringify
 * writes it (so it reads back as the same text), otherwise as the text itself, so even a corrupt row survives the
 * trip into the dead-letter store exactly.
 */
import { isUtf8 } from 'node:buffer';
import type { BrokerMessage } from '../protocol/types.js';
import type { Delivery } from './port.js';
import { DecodeError } from '../errors/index.js';
import { tryParseJson } from '../protocol/json.js';
import { peekTaskIdentity } from '../protocol/message.js';
import type { TaskIdentity } from '../protocol/message.js';

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
  const headers = tryParseJson(parts.headers);
  if (!isObject(headers)) throw new DecodeError(`headers are not a JSON object: ${preview(parts.headers)}`);
  const properties = tryParseJson(parts.properties);
  if (!isObject(properties)) throw new DecodeError(`properties are not a JSON object: ${preview(parts.properties)}`);
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
 * Task id and name for the dead-letter listing and for the FAILURE of a message that cannot be decoded: protocol 2
 * keeps them in the headers, protocol 1 in a JSON body; the correlation_id property is the last resort.
 */
export function taskIdentity(parts: StoredParts): TaskIdentity {
  const body = () => (parts.contentType === 'application/json' ? parseObject(parts.body.toString('utf8')) : null);
  return peekTaskIdentity(parseObject(parts.headers), parseObject(parts.properties), body);
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
    ...(decodeError === undefined ? {} : { decodeError, identity: taskIdentity(parts) }),
    redelivered,
    priority: parts.priority,
  };
}

/**
 * What a worker records for a delivery whose stored form could not be read as a message: the reason, and the
 * DecodeError to store as FAILURE under the task id when the adapter could still read one (`Delivery.identity`).
 */
export function undecodable(d: Delivery): TaskIdentity & { reason: string; error: DecodeError } {
  const reason = `undecodable message: ${d.decodeError ?? 'unreadable'}`;
  return { taskId: null, taskName: null, ...d.identity, reason, error: new DecodeError(reason) };
}

/** Ensures priorities stay in the documented 0..9 range whatever a caller passes. */
export function clampPriority(p: number): number {
  return Number.isFinite(p) ? Math.min(9, Math.max(0, Math.round(p))) : 0;
}

function objectOrText(text: string): unknown {
  const parsed = parseObject(text);
  return parsed && JSON.stringify(parsed) === text ? parsed : text;
}

/** The start of a stored text, for an error message. */
function preview(text: string): string {
  return JSON.stringify(text.length > 40 ? `${text.slice(0, 40)}...` : text);
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

/**
 * Stored bytes as a string, losslessly: UTF-8 text where the bytes are valid UTF-8, and each byte that is not part
 * of a valid sequence as the lone surrogate U+DC80..U+DCFF (Python's `surrogateescape`, PEP 383). `bytesOfText`
 * gives the exact bytes back; Python gets them with `text.encode('utf-8', 'surrogateescape')`. Valid UTF-8 never
 * decodes to a lone surrogate, so the mapping is one to one.
 */
export function textOfBytes(bytes: Uint8Array): string {
  const buf = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (isUtf8(buf)) return buf.toString('utf8');
  let out = '';
  let run = 0;
  for (let i = 0; i < buf.length; ) {
    const n = sequenceLength(buf, i);
    if (n > 0) {
      i += n;
      continue;
    }
    out += buf.toString('utf8', run, i) + String.fromCharCode(0xdc00 + buf[i]!);
    run = ++i;
  }
  return out + buf.toString('utf8', run);
}

/** The bytes `textOfBytes` read; any other text as UTF-8. */
export function bytesOfText(text: string): Buffer {
  if (!ESCAPED_BYTE.test(text)) return Buffer.from(text, 'utf8');
  const parts: Buffer[] = [];
  let run = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0xdc80 || c > 0xdcff || isHighSurrogate(text.charCodeAt(i - 1))) continue;
    let end = i + 1;
    while (end < text.length && text.charCodeAt(end) >= 0xdc80 && text.charCodeAt(end) <= 0xdcff) end++;
    parts.push(Buffer.from(text.slice(run, i), 'utf8'));
    parts.push(Buffer.from(Array.from({ length: end - i }, (_, k) => text.charCodeAt(i + k) - 0xdc00)));
    run = end;
    i = end - 1;
  }
  parts.push(Buffer.from(text.slice(run), 'utf8'));
  return Buffer.concat(parts);
}

/** A UTF-16 unit that only `textOfBytes` produces unpaired (an escaped byte), tested before the slow path. */
const ESCAPED_BYTE = /[\udc80-\udcff]/;

function isHighSurrogate(c: number): boolean {
  return c >= 0xd800 && c <= 0xdbff;
}

/** Length of the well-formed UTF-8 sequence at `i` (Unicode table 3-7), 0 when the byte there starts none. */
function sequenceLength(b: Buffer, i: number): number {
  const b0 = b[i]!;
  if (b0 < 0x80) return 1;
  const cont = (k: number) => i + k < b.length && (b[i + k]! & 0xc0) === 0x80;
  if (b0 >= 0xc2 && b0 <= 0xdf) return cont(1) ? 2 : 0;
  const b1 = b[i + 1] ?? 0;
  if (b0 >= 0xe0 && b0 <= 0xef) {
    const ok = b0 === 0xe0 ? b1 >= 0xa0 : b0 === 0xed ? b1 <= 0x9f : true;
    return ok && cont(1) && cont(2) ? 3 : 0;
  }
  if (b0 >= 0xf0 && b0 <= 0xf4) {
    const ok = b0 === 0xf0 ? b1 >= 0x90 : b0 === 0xf4 ? b1 <= 0x8f : true;
    return ok && cont(1) && cont(2) && cont(3) ? 4 : 0;
  }
  return 0;
}
