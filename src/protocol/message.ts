/**
 * Celery task messages: encoding protocol v2 exactly as Celery 5.2 publishes it, decoding v2 and the older v1
 * (headers `{}`, everything in a dict body) into one TaskRequest shape.
 */
import { unzipSync } from 'node:zlib';
import { DecodeError } from '../errors/index.js';
import { formatPyNumber, parseJson, pyDumps, pyJsonInner, pyJsonInnerRepeated, pyJsonString } from './json.js';
import { argsRepr, kwargsRepr } from './repr.js';
import { jsonSerializer, type SerializerRegistry } from './serializers.js';
import type { BrokerMessage, EmbedOptions, SignatureDict, TaskRequest, TaskSendSpec } from './types.js';

/**
 * Celery's own `lang` is `"py"`. Neither the Celery 5.2 worker nor kombu reads the header (the only use is when
 * converting a v1 body, where it is copied through), and a real 5.2 worker ran a message carrying `"js"` (checked
 * by test/golden/capture.py), so it says truthfully which language produced the message.
 */
export const PRODUCER_LANG = 'js';

/** Celery's default `task_default_delivery_mode`: persistent. */
const DELIVERY_MODE_PERSISTENT = 2;

export interface EncodeTaskOptions {
  /** The moment `expiration` is measured from (milliseconds until `expires`); defaults to the current time. */
  now?: Date;
}

/**
 * Builds the broker message Celery 5.2 would publish for `spec`: headers in Celery's order, properties as the
 * producer sets them (the Redis transport adds `delivery_info`, `body_encoding` and `delivery_tag` itself), and the
 * body `[args, kwargs, embed]`.
 *
 * @example
 * const msg = encodeTaskMessage({ ...spec, task: 'tasks.add', args: [2, 3] }, createSerializerRegistry());
 */
export function encodeTaskMessage(
  spec: TaskSendSpec,
  registry: SerializerRegistry,
  serializer = 'json',
  options: EncodeTaskOptions = {},
): BrokerMessage {
  if (!Array.isArray(spec.args)) throw new TypeError('task args must be an array');
  if (!isPlainObject(spec.kwargs)) throw new TypeError('task kwargs must be a plain object');
  const headers: Record<string, unknown> = {
    lang: PRODUCER_LANG,
    task: spec.task,
    id: spec.id,
    shadow: spec.shadow,
    eta: spec.eta ? formatPyIsoDate(spec.eta, { utcSuffix: true }) : null,
    expires: spec.expires ? formatPyIsoDate(spec.expires, { utcSuffix: true }) : null,
    group: spec.group,
    group_index: spec.groupIndex,
    retries: spec.retries,
    timelimit: [spec.timelimit[0], spec.timelimit[1]],
    root_id: spec.rootId || spec.id,
    parent_id: spec.parentId,
    argsrepr: argsRepr(spec.args),
    kwargsrepr: kwargsRepr(spec.kwargs),
    origin: spec.origin,
    ignore_result: spec.ignoreResult,
  };
  // Like Python's dict.update: a known key keeps its place with the new value, new keys go last.
  let headersParts: string[] | undefined;
  if (spec.extraHeaders) Object.assign(headers, spec.extraHeaders);
  else if (isTaskHeaders(headers)) headersParts = taskHeadersParts(headers);

  const properties: Record<string, unknown> = {
    correlation_id: spec.id,
    reply_to: spec.replyTo ?? '',
    delivery_mode: DELIVERY_MODE_PERSISTENT,
  };
  if (spec.expires) {
    const now = (options.now ?? new Date()).getTime();
    properties.expiration = String(Math.max(0, Math.trunc(spec.expires.getTime() - now)));
  }
  properties.priority = spec.priority;

  const embed: EmbedOptions = {
    callbacks: spec.embed.callbacks,
    errbacks: spec.embed.errbacks,
    chain: spec.embed.chain,
    chord: spec.embed.chord,
  };
  const encoded = encodeBody(registry, serializer, spec.args, spec.kwargs, embed);
  return {
    headers,
    properties,
    body: encoded.body,
    contentType: encoded.contentType,
    contentEncoding: encoded.contentEncoding,
    headersParts,
  };
}

const NO_EMBED_TEXT = '{"callbacks": null, "errbacks": null, "chain": null, "chord": null}';

/** `[args, kwargs, embed]`; with JSON and no canvas, the constant embed part is not encoded again each time. */
function encodeBody(
  registry: SerializerRegistry,
  serializer: string,
  args: unknown[],
  kwargs: Record<string, unknown>,
  embed: EmbedOptions,
) {
  const s = registry.get(serializer);
  if (s !== jsonSerializer || embed.callbacks || embed.errbacks || embed.chain || embed.chord) {
    return registry.encode(serializer, [args, kwargs, embed]);
  }
  const text = `[${pyDumps(args)}, ${pyDumps(kwargs)}, ${NO_EMBED_TEXT}]`;
  return { body: Buffer.from(text, 'utf8'), contentType: s.contentType, contentEncoding: s.contentEncoding };
}

/** The headers encodeTaskMessage builds, in their order. */
interface TaskHeaders {
  lang: string;
  task: string;
  id: string;
  shadow: string | null;
  eta: string | null;
  expires: string | null;
  group: string | null;
  group_index: number | null;
  retries: number;
  timelimit: [number | null, number | null];
  root_id: string;
  parent_id: string | null;
  argsrepr: string;
  kwargsrepr: string;
  origin: string;
  ignore_result: boolean;
}

/**
 * `pyDumps(headers)` for the fixed set of task headers, written field by field: every publish encodes them, and
 * the generic encoder's per-key work was a third of a bulk producer's time. test/unit/protocol checks it against
 * pyDumps.
 */
function taskHeadersParts(h: TaskHeaders): string[] {
  const argsrepr = pyJsonInner(h.argsrepr);
  const kwargsrepr = pyJsonInner(h.kwargsrepr);
  const id = pyJsonInner(h.id);
  // The quotes are in the constant parts; the envelope joins these with its own parts (see encodeEnvelope).
  return [
    '{"lang": "',
    pyJsonInnerRepeated(h.lang),
    '", "task": "',
    pyJsonInnerRepeated(h.task),
    '", "id": "',
    id,
    '", "shadow": ',
    orNull(h.shadow),
    ', "eta": ',
    orNull(h.eta),
    ', "expires": ',
    orNull(h.expires),
    ', "group": ',
    orNull(h.group),
    ', "group_index": ',
    numOrNull(h.group_index),
    ', "retries": ',
    formatPyNumber(h.retries),
    ', "timelimit": [',
    numOrNull(h.timelimit[0]),
    ', ',
    numOrNull(h.timelimit[1]),
    '], "root_id": "',
    h.root_id === h.id ? id : pyJsonInner(h.root_id),
    '", "parent_id": ',
    orNull(h.parent_id),
    ', "argsrepr": "',
    argsrepr,
    '", "kwargsrepr": "',
    kwargsrepr,
    '", "origin": "',
    pyJsonInnerRepeated(h.origin),
    '", "ignore_result": ',
    h.ignore_result ? 'true' : 'false',
    '}',
  ];
}

/** The values have the types taskHeadersParts writes; anything else (a plain-JS caller's surprise) takes pyDumps. */
function isTaskHeaders(h: Record<string, unknown>): h is Record<string, unknown> & TaskHeaders {
  const str = (v: unknown) => typeof v === 'string';
  const strOrNull = (v: unknown) => v === null || typeof v === 'string';
  const numOrNullOk = (v: unknown) => v === null || (typeof v === 'number' && Number.isFinite(v));
  const limits = h.timelimit;
  return (
    str(h.lang) && str(h.task) && str(h.id) && strOrNull(h.shadow) && strOrNull(h.eta) && strOrNull(h.expires) &&
    strOrNull(h.group) && numOrNullOk(h.group_index) && typeof h.retries === 'number' && Number.isFinite(h.retries) &&
    Array.isArray(limits) && limits.length === 2 && numOrNullOk(limits[0]) && numOrNullOk(limits[1]) &&
    str(h.root_id) && strOrNull(h.parent_id) && str(h.argsrepr) && str(h.kwargsrepr) && str(h.origin) &&
    typeof h.ignore_result === 'boolean'
  );
}

function orNull(s: string | null): string {
  return s === null ? 'null' : pyJsonString(s);
}

function numOrNull(n: number | null): string {
  return n === null ? 'null' : formatPyNumber(n);
}

export interface DecodeTaskOptions {
  /** The transport knows the message came back (restored or requeued) even when the headers do not say so. */
  redelivered?: boolean;
}

/**
 * Reads a task message of protocol v2 or v1, checking every field a worker relies on. Throws ContentDisallowed for
 * a content type outside the accept-list and DecodeError naming the field for anything malformed.
 */
export function decodeTaskMessage(
  msg: BrokerMessage,
  registry: SerializerRegistry,
  options: DecodeTaskOptions = {},
): TaskRequest {
  const headers = msg.headers ?? {};
  const body = registry.decode(decompress(msg.body, headers.compression), msg.contentType, msg.contentEncoding);
  const props = msg.properties ?? {};
  const deliveryInfo = isPlainObject(props.delivery_info) ? props.delivery_info : {};
  const redelivered =
    options.redelivered === true || headers.redelivered === true || deliveryInfo.redelivered === true;
  const common = {
    replyTo: optionalString(props.reply_to, 'reply_to property'),
    correlationId: optionalString(props.correlation_id, 'correlation_id property'),
    priority: typeof props.priority === 'number' && Number.isFinite(props.priority) ? props.priority : 0,
    redelivered,
  };

  if (headers.task !== undefined) {
    if (!Array.isArray(body) || body.length < 2 || body.length > 3) {
      throw new DecodeError('protocol 2 body must be a list [args, kwargs, embed]');
    }
    return {
      protocol: 2,
      id: requiredString(headers.id, 'id header'),
      task: requiredString(headers.task, 'task header'),
      args: argsOf(body[0]),
      kwargs: kwargsOf(body[1]),
      embed: embedOf(body[2]),
      eta: dateOf(headers.eta, 'eta header'),
      expires: dateOf(headers.expires, 'expires header'),
      retries: retriesOf(headers.retries, 'retries header'),
      timelimit: timelimitOf(headers.timelimit, 'timelimit header'),
      rootId: optionalString(headers.root_id, 'root_id header'),
      parentId: optionalString(headers.parent_id, 'parent_id header'),
      group: optionalString(headers.group, 'group header'),
      groupIndex: groupIndexOf(headers.group_index, 'group_index header'),
      ignoreResult: booleanOf(headers.ignore_result, 'ignore_result header'),
      origin: informational(headers.origin),
      argsrepr: informational(headers.argsrepr),
      kwargsrepr: informational(headers.kwargsrepr),
      ...common,
      headers,
    };
  }

  if (!isPlainObject(body)) {
    throw new DecodeError("message has no 'task' header (protocol 2) and its body is not a protocol 1 dict");
  }
  return {
    protocol: 1,
    id: requiredString(body.id, "body field 'id'"),
    task: requiredString(body.task, "body field 'task'"),
    args: argsOf(body.args ?? []),
    kwargs: kwargsOf(body.kwargs ?? {}),
    embed: embedOf({ callbacks: body.callbacks, errbacks: body.errbacks, chain: null, chord: body.chord }),
    eta: dateOf(body.eta, "body field 'eta'"),
    expires: dateOf(body.expires, "body field 'expires'"),
    retries: retriesOf(body.retries, "body field 'retries'"),
    timelimit: timelimitOf(body.timelimit, "body field 'timelimit'"),
    rootId: optionalString(body.root_id, "body field 'root_id'"),
    parentId: optionalString(body.parent_id, "body field 'parent_id'"),
    group: optionalString(body.group ?? body.taskset, "body field 'group'"),
    groupIndex: groupIndexOf(body.group_index, "body field 'group_index'"),
    ignoreResult: false,
    origin: informational(body.origin),
    argsrepr: informational(body.argsrepr),
    kwargsrepr: informational(body.kwargsrepr),
    ...common,
    headers: { ...body, ...headers },
  };
}

/** Who a message is for, as far as it can be read; null where it cannot. */
export interface TaskIdentity {
  taskId: string | null;
  taskName: string | null;
}

/**
 * The id (and name) of a message that cannot be decoded, so its FAILURE can be stored where a client waits for
 * it: the `id` header (protocol 2), else the `id` of a dict body (protocol 1; `body` is only called when the
 * headers have no id), else the `correlation_id` property, which Celery sets to the task id. Never throws.
 */
export function peekTaskIdentity(headers: unknown, properties: unknown, body?: () => unknown): TaskIdentity {
  const h = isPlainObject(headers) ? headers : {};
  const nameIn = (o: Record<string, unknown>) => (typeof o.task === 'string' && o.task !== '' ? o.task : null);
  if (typeof h.id === 'string' && h.id !== '') return { taskId: h.id, taskName: nameIn(h) };
  let parsed: unknown;
  try {
    parsed = body?.();
  } catch {
    parsed = undefined;
  }
  if (isPlainObject(parsed) && typeof parsed.id === 'string' && parsed.id !== '') {
    return { taskId: parsed.id, taskName: nameIn(parsed) ?? nameIn(h) };
  }
  const cid = isPlainObject(properties) ? properties.correlation_id : undefined;
  return { taskId: typeof cid === 'string' && cid !== '' ? cid : null, taskName: nameIn(h) };
}

/** `peekTaskIdentity` of a message whose task fields did not decode; a protocol 1 body is read when it is JSON. */
export function peekMessageIdentity(msg: BrokerMessage): TaskIdentity {
  const body = () => (msg.contentType === 'application/json' ? parseJson(msg.body.toString('utf8')) : undefined);
  return peekTaskIdentity(msg.headers, msg.properties, body);
}

/**
 * A UTC instant as Python's `datetime.isoformat()` prints it: microseconds only when non-zero, `+00:00` for an
 * aware datetime (task eta/expires), nothing for the naive UTC Celery stores as `date_done`.
 */
export function formatPyIsoDate(date: Date, options: { utcSuffix: boolean }): string {
  const t = date.getTime();
  if (Number.isNaN(t)) throw new RangeError('cannot format an invalid Date');
  const year = date.getUTCFullYear();
  if (year < 1 || year > 9999) throw new RangeError(`year ${year} is outside what Python's datetime accepts`);
  const p2 = (n: number) => String(n).padStart(2, '0');
  let text =
    `${String(year).padStart(4, '0')}-${p2(date.getUTCMonth() + 1)}-${p2(date.getUTCDate())}` +
    `T${p2(date.getUTCHours())}:${p2(date.getUTCMinutes())}:${p2(date.getUTCSeconds())}`;
  const ms = date.getUTCMilliseconds();
  if (ms) text += `.${String(ms * 1000).padStart(6, '0')}`;
  return options.utcSuffix ? `${text}+00:00` : text;
}

/**
 * ISO 8601 as Python writes it (`T` or space, optional fraction and offset). A missing offset means UTC, which is
 * how Celery reads naive times with `enable_utc` (its default).
 */
const ISO_DATE =
  /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d+))?)?)?(Z|[+-]\d{2}(?::?\d{2})?)?$/i;

export function parsePyIsoDate(text: string): Date | null {
  const m = ISO_DATE.exec(text.trim());
  if (!m) return null;
  const [year, month, day, hour, minute, second] = m.slice(1, 7).map((x) => Number(x ?? 0)) as number[];
  if (month! < 1 || month! > 12 || day! < 1 || hour! > 23 || minute! > 59 || second! > 59) return null;
  const ms = Math.floor(Number(`0.${m[7] ?? '0'}`) * 1000);
  const date = new Date(0);
  // setUTCFullYear, unlike Date.UTC, does not map years 0-99 to 1900-1999.
  date.setUTCFullYear(year!, month! - 1, day!);
  if (date.getUTCDate() !== day) return null;
  date.setUTCHours(hour!, minute!, second!, ms);
  const zone = m[8];
  if (zone && zone.toUpperCase() !== 'Z') {
    const sign = zone.startsWith('-') ? -1 : 1;
    const digits = zone.slice(1).replace(':', '');
    const minutes = Number(digits.slice(0, 2)) * 60 + Number(digits.slice(2, 4) || '0');
    date.setTime(date.getTime() - sign * minutes * 60_000);
  }
  return date;
}

// ---- field checks ------------------------------------------------------------------------------------------

function decompress(body: Buffer, compression: unknown): Buffer {
  if (compression === undefined || compression === null) return body;
  // kombu names zlib output `application/x-gzip`; unzip also accepts real gzip in case a producer sends it.
  if (compression === 'application/x-gzip' || compression === 'gzip' || compression === 'zlib') {
    try {
      return unzipSync(body);
    } catch (err) {
      throw new DecodeError(`compression header says ${String(compression)} but the body does not inflate`, {
        cause: err,
      });
    }
  }
  throw new DecodeError(`unsupported compression ${JSON.stringify(compression)} (only application/x-gzip)`);
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'string') return `the string ${JSON.stringify(value.slice(0, 40))}`;
  return typeof value === 'object' ? 'an object' : `${typeof value} ${String(value)}`;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Uint8Array);
}

function requiredString(value: unknown, field: string): string {
  if (typeof value !== 'string' || value === '') {
    const got = value === undefined ? 'nothing' : describe(value);
    throw new DecodeError(`${field} must be a non-empty string, got ${got}`);
  }
  return value;
}

function optionalString(value: unknown, field: string): string | null {
  if (value === undefined || value === null) return null;
  if (typeof value !== 'string') throw new DecodeError(`${field} must be a string or null, got ${describe(value)}`);
  return value;
}

/** Display-only fields: a wrong type is dropped rather than failing the task. */
function informational(value: unknown): string | null {
  return typeof value === 'string' ? value : null;
}

function argsOf(value: unknown): unknown[] {
  if (!Array.isArray(value)) throw new DecodeError(`task args must be a list, got ${describe(value)}`);
  return value;
}

function kwargsOf(value: unknown): Record<string, unknown> {
  if (!isPlainObject(value)) throw new DecodeError(`task kwargs must be an object, got ${describe(value)}`);
  return value;
}

function signatureListOf(value: unknown, field: string): SignatureDict[] | null {
  if (value === undefined || value === null) return null;
  if (!Array.isArray(value) || !value.every(isPlainObject)) {
    throw new DecodeError(`embed ${field} must be a list of signatures or null, got ${describe(value)}`);
  }
  return value as SignatureDict[];
}

function embedOf(value: unknown): EmbedOptions {
  if (value === undefined || value === null) return { callbacks: null, errbacks: null, chain: null, chord: null };
  if (!isPlainObject(value)) throw new DecodeError(`task embed options must be an object, got ${describe(value)}`);
  const chord = value.chord ?? null;
  if (chord !== null && !isPlainObject(chord)) {
    throw new DecodeError(`embed chord must be a signature or null, got ${describe(chord)}`);
  }
  return {
    callbacks: signatureListOf(value.callbacks, 'callbacks'),
    errbacks: signatureListOf(value.errbacks, 'errbacks'),
    chain: signatureListOf(value.chain, 'chain'),
    chord: chord as SignatureDict | null,
  };
}

function dateOf(value: unknown, field: string): Date | null {
  if (value === undefined || value === null) return null;
  const date = typeof value === 'string' ? parsePyIsoDate(value) : null;
  if (!date) throw new DecodeError(`${field} must be an ISO 8601 date-time or null, got ${describe(value)}`);
  return date;
}

function retriesOf(value: unknown, field: string): number {
  if (value === undefined || value === null) return 0;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0) {
    throw new DecodeError(`${field} must be a non-negative integer, got ${describe(value)}`);
  }
  return value;
}

function groupIndexOf(value: unknown, field: string): number | null {
  if (value === undefined || value === null) return null;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0) {
    throw new DecodeError(`${field} must be a non-negative integer or null, got ${describe(value)}`);
  }
  return value;
}

function timelimitOf(value: unknown, field: string): [number | null, number | null] {
  if (value === undefined || value === null) return [null, null];
  const ok = (x: unknown) => x === null || (typeof x === 'number' && Number.isFinite(x) && x >= 0);
  if (!Array.isArray(value) || value.length !== 2 || !value.every(ok)) {
    throw new DecodeError(`${field} must be [hard, soft] seconds or nulls, got ${describe(value)}`);
  }
  return [value[0] as number | null, value[1] as number | null];
}

function booleanOf(value: unknown, field: string): boolean {
  if (value === undefined || value === null) return false;
  if (typeof value !== 'boolean') throw new DecodeError(`${field} must be true or false, got ${describe(value)}`);
  return value;
}
