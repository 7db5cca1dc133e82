/**
 * Celery's remote-control messages (kombu's "pidbox"), as Celery 5.2 / kombu 5.2 put them on Redis.
 *
 * - A request is published to the fanout exchange `<namespace>.pidbox` (`celery.pidbox`) with routing key `''`.
 *   Body, in this order: `method, arguments, destination, pattern, matcher`, then `ticket, reply_to` only when a
 *   reply is wanted (kombu/pidbox.py `Mailbox._publish`). Headers `clock` (the sender's Lamport clock) and
 *   `expires` (epoch seconds when the sender stops listening, `0` for a cast). Property `delivery_mode` 2.
 * - A reply is published to the direct exchange named in `reply_to.exchange` (`reply.celery.pidbox`) with
 *   `reply_to.routing_key` (the requester's oid), so on Redis it lands in the list `<oid>.reply.celery.pidbox`
 *   bound to it. Body `{"<nodename>": <reply>}`, headers `ticket, clock`, property `delivery_mode` 1
 *   (kombu/pidbox.py `Mailbox._publish_reply`).
 *
 * Both travel in kombu's Redis envelope (base64 body); see envelope.ts. Pure functions only: the Redis side is in
 * src/control/.
 */
import { DecodeError } from '../errors/index.js';
import { decodeEnvelope, encodeEnvelope } from './envelope.js';
import { createSerializerRegistry } from './serializers.js';
import type { SerializerRegistry } from './serializers.js';

/** Celery's `control_exchange` default. */
export const DEFAULT_CONTROL_NAMESPACE = 'celery';

/** The fanout exchange requests go to: `celery.pidbox`. */
export function pidboxExchange(namespace = DEFAULT_CONTROL_NAMESPACE): string {
  return `${namespace}.pidbox`;
}

/** The direct exchange replies go to: `reply.celery.pidbox`. */
export function replyExchange(namespace = DEFAULT_CONTROL_NAMESPACE): string {
  return `reply.${namespace}.pidbox`;
}

/** A node's own queue, bound to the fanout exchange: `celery@host.celery.pidbox`. */
export function nodeQueue(hostname: string, namespace = DEFAULT_CONTROL_NAMESPACE): string {
  return `${hostname}.${namespace}.pidbox`;
}

/** A requester's reply queue, bound to the reply exchange by its oid: `<oid>.reply.celery.pidbox`. */
export function replyQueue(oid: string, namespace = DEFAULT_CONTROL_NAMESPACE): string {
  return `${oid}.${replyExchange(namespace)}`;
}

/** Where a node sends its reply (wire field names). */
export interface ReplyTo {
  exchange: string;
  routing_key: string;
}

export interface ControlRequest {
  /** The command: `ping`, `active`, `revoke`, ... */
  method: string;
  /** The command's keyword arguments. */
  arguments: Record<string, unknown>;
  /** Node names that should act on it; null or empty = every node. */
  destination: string[] | null;
  /** With `matcher`, selects nodes by name when there is no destination. */
  pattern: string | null;
  /** `glob` or `pcre`; a pattern without a matcher selects every node (kombu's rule). */
  matcher: string | null;
  /** Labels the replies to this request; set on a call, absent on a cast. */
  ticket?: string;
  /** Where to reply: a node replies when this is set (kombu's `handle_call`), and only then. */
  replyTo?: ReplyTo;
  /** Header: the sender's Lamport clock. */
  clock: number;
  /** Header: epoch seconds after which the sender no longer listens; 0 for none. */
  expires: number;
}

export interface ControlReply {
  /** Header: the ticket of the request answered (kombu treats a reply without one as the caller's). */
  ticket: string | null;
  /** Header: the replying node's Lamport clock. */
  clock: number | null;
  /** Header: epoch seconds after which the reply is stale (kombu honours it; Celery never sets it). */
  expires: number | null;
  /** `{nodename: reply}`. */
  body: Record<string, unknown>;
}

export interface ControlEncodeOptions {
  /** kombu writes a uuid4 per publish. */
  deliveryTag: string;
  /** Serializer name; Celery uses the app's `task_serializer` (default `json`). */
  serializer?: string;
  registry?: SerializerRegistry;
  namespace?: string;
}

const defaultRegistry = createSerializerRegistry(['json']);

/**
 * The envelope text to PUBLISH on the pidbox fanout channel.
 *
 * @example
 * encodeControlRequest(
 *   { method: 'ping', arguments: {}, destination: null, pattern: null, matcher: null, ticket, replyTo, clock: 1,
 *     expires: Date.now() / 1000 + 1 },
 *   { deliveryTag: randomUUID() },
 * )
 */
export function encodeControlRequest(request: ControlRequest, options: ControlEncodeOptions): string {
  const body: Record<string, unknown> = {
    method: request.method,
    arguments: request.arguments,
    destination: request.destination,
    pattern: request.pattern,
    matcher: request.matcher,
  };
  if (request.replyTo !== undefined || request.ticket !== undefined) {
    body.ticket = request.ticket ?? null;
    body.reply_to = request.replyTo ?? null;
  }
  const registry = options.registry ?? defaultRegistry;
  const encoded = registry.encode(options.serializer ?? 'json', body);
  return encodeEnvelope(
    {
      headers: { clock: request.clock, expires: request.expires },
      properties: { delivery_mode: 2 },
      body: encoded.body,
      contentType: encoded.contentType,
      contentEncoding: encoded.contentEncoding,
    },
    { exchange: pidboxExchange(options.namespace), routingKey: '', priority: 0, deliveryTag: options.deliveryTag },
  );
}

/**
 * Reads a request as published by Celery's `app.control` (or ControlClient). Lenient where kombu is (missing
 * fields are null, a null `arguments` is `{}`); throws DecodeError on anything it could not act on.
 */
export function decodeControlRequest(raw: string, registry: SerializerRegistry = defaultRegistry): ControlRequest {
  const envelope = decodeEnvelope(raw);
  const body = registry.decode(envelope.body, envelope.contentType, envelope.contentEncoding);
  if (!isObject(body)) throw new DecodeError('control request body must be an object');
  if (typeof body.method !== 'string' || body.method === '') {
    throw new DecodeError("control request 'method' must be a non-empty string");
  }
  const args = body.arguments ?? {};
  if (!isObject(args)) throw new DecodeError("control request 'arguments' must be an object");
  const request: ControlRequest = {
    method: body.method,
    arguments: args,
    destination: destinationOf(body.destination),
    pattern: optionalString(body.pattern, 'pattern'),
    matcher: optionalString(body.matcher, 'matcher'),
    clock: numberOr(envelope.headers.clock, 0),
    expires: numberOr(envelope.headers.expires, 0),
  };
  // kombu replies when reply_to is set; the ticket only labels the reply.
  if (isObject(body.reply_to)) {
    const { exchange, routing_key: routingKey } = body.reply_to;
    if (typeof exchange !== 'string' || typeof routingKey !== 'string') {
      throw new DecodeError("control request 'reply_to' must have string 'exchange' and 'routing_key'");
    }
    request.replyTo = { exchange, routing_key: routingKey };
    if (typeof body.ticket === 'string') request.ticket = body.ticket;
  }
  return request;
}

export interface ControlReplyEncodeOptions extends Omit<ControlEncodeOptions, 'namespace'> {
  hostname: string;
  /** The request's ticket (null when it had none, as kombu then sends). */
  ticket: string | null;
  clock: number;
  replyTo: ReplyTo;
}

/** The envelope text a node pushes onto the requester's reply list: `{hostname: reply}`. */
export function encodeControlReply(reply: unknown, options: ControlReplyEncodeOptions): string {
  const registry = options.registry ?? defaultRegistry;
  const encoded = registry.encode(options.serializer ?? 'json', { [options.hostname]: reply ?? null });
  return encodeEnvelope(
    {
      headers: { ticket: options.ticket, clock: options.clock },
      properties: { delivery_mode: 1 },
      body: encoded.body,
      contentType: encoded.contentType,
      contentEncoding: encoded.contentEncoding,
    },
    {
      exchange: options.replyTo.exchange,
      routingKey: options.replyTo.routing_key,
      priority: 0,
      deliveryTag: options.deliveryTag,
    },
  );
}

export function decodeControlReply(raw: string, registry: SerializerRegistry = defaultRegistry): ControlReply {
  const envelope = decodeEnvelope(raw);
  const body = registry.decode(envelope.body, envelope.contentType, envelope.contentEncoding);
  if (!isObject(body)) throw new DecodeError('control reply body must be an object {nodename: reply}');
  const { ticket, clock, expires } = envelope.headers;
  return {
    ticket: typeof ticket === 'string' ? ticket : null,
    clock: typeof clock === 'number' ? clock : null,
    expires: typeof expires === 'number' ? expires : null,
    body,
  };
}

/**
 * Whether `hostname` should act on `request`, by kombu's rule (kombu/pidbox.py `Node.handle_message`): a
 * non-empty destination must name it; otherwise a pattern *and* a matcher must match it; otherwise every node.
 * Throws DecodeError for a matcher kombu does not know (kombu raises too, and sends no reply).
 */
export function isAddressedTo(hostname: string, request: ControlRequest): boolean {
  if (request.destination && request.destination.length > 0) return request.destination.includes(hostname);
  if (request.pattern && request.matcher) return matchNodeName(hostname, request.pattern, request.matcher);
  return true;
}

/**
 * kombu's matcher registry (kombu/matcher.py): `glob` is `fnmatch.fnmatch(name, pattern)` (whole name, POSIX
 * case-sensitive), `pcre` is `re.match(pattern, name)` (anchored at the start only). A null matcher is `glob`.
 */
export function matchNodeName(name: string, pattern: string, matcher: string | null = 'glob'): boolean {
  if (matcher === null || matcher === 'glob') return globToRegExp(pattern).test(name);
  if (matcher === 'pcre') {
    let re: RegExp;
    try {
      // Python's named groups are the one common syntax JavaScript spells differently.
      re = new RegExp(pattern.replace(/\(\?P</g, '(?<').replace(/\(\?P=(\w+)\)/g, '\\k<$1>'), 'y');
    } catch (err) {
      throw new DecodeError(`invalid pcre pattern ${JSON.stringify(pattern)}`, { cause: err });
    }
    return re.test(name);
  }
  throw new DecodeError(`no matcher installed for ${JSON.stringify(matcher)} (kombu knows glob and pcre)`);
}

/** Python's `fnmatch.translate`: `*`, `?`, `[seq]`, `[!seq]`; everything else literal; the whole string. */
function globToRegExp(pattern: string): RegExp {
  let out = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === '*') out += '[\\s\\S]*';
    else if (c === '?') out += '[\\s\\S]';
    else if (c === '[') {
      let j = i + 1;
      if (pattern[j] === '!') j++;
      if (pattern[j] === ']') j++;
      while (j < pattern.length && pattern[j] !== ']') j++;
      if (j >= pattern.length) {
        out += '\\[';
        continue;
      }
      let set = pattern.slice(i + 1, j).replace(/\\/g, '\\\\');
      if (set.startsWith('!')) set = `^${set.slice(1)}`;
      else if (set.startsWith('^')) set = `\\${set}`;
      out += `[${set}]`;
      i = j;
    } else out += c.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
  }
  return new RegExp(`^(?:${out})$`, 'u');
}

function destinationOf(value: unknown): string[] | null {
  if (value === undefined || value === null) return null;
  // kombu tests `hostname in destination`; a lone string is taken as one name rather than Python's substring test.
  if (typeof value === 'string') return value ? [value] : null;
  if (!Array.isArray(value) || !value.every((v) => typeof v === 'string')) {
    throw new DecodeError("control request 'destination' must be a list of node names or null");
  }
  return value as string[];
}

function optionalString(value: unknown, field: string): string | null {
  if (value === undefined || value === null) return null;
  if (typeof value !== 'string') throw new DecodeError(`control request '${field}' must be a string or null`);
  return value;
}

function numberOr(value: unknown, fallback: number): number {
  return typeof value === 'number' && Number.isFinite(value) ? value : fallback;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
