/**
 * Body serializers in a registry with an accept-list, as kombu does it: a message is decoded only when its
 * content type is one the application chose to trust.
 *
 * Only formats that cannot run code are offered. Pickle (Celery's old default) and tagged YAML rebuild
 * arbitrary objects while loading, so anyone able to write to the broker could run code in every worker.
 */
import { isUtf8 } from 'node:buffer';
import { TextDecoder } from 'node:util';
import { decode as unpack, encode as pack } from '@msgpack/msgpack';
import { ConfigurationError, ContentDisallowed, DecodeError } from '../errors/index.js';
import { parseJson, pyDumps } from './json.js';

export interface Serializer {
  /** Short name used in settings: `json`, `msgpack`. */
  readonly name: string;
  readonly contentType: string;
  /** `utf-8` for text formats, `binary` otherwise (kombu's values). */
  readonly contentEncoding: string;
  encode(value: unknown): Buffer;
  /** Throws DecodeError on bytes that are not valid in this format. */
  decode(body: Buffer, contentEncoding: string): unknown;
}

export interface EncodedBody {
  body: Buffer;
  contentType: string;
  contentEncoding: string;
}

/** Formats refused by design, with the content types they travel under. */
const REFUSED: Record<string, string> = {
  pickle: 'application/x-python-serialize',
  yaml: 'application/x-yaml',
};

function refusal(name: string): string {
  return name === 'pickle'
    ? 'pickle is not supported: loading it runs code chosen by whoever can write to the broker'
    : `${name} is not supported: its tagged form can build arbitrary objects while loading`;
}

/** Content types seen so far, normalized: every message carries one, and there are only ever a few. */
const normalized = new Map<string, string>();

function normalizeType(contentType: string): string {
  let type = normalized.get(contentType);
  if (type === undefined) {
    type = contentType.split(';')[0]!.trim().toLowerCase();
    if (normalized.size < 64) normalized.set(contentType, type);
  }
  return type;
}

export class SerializerRegistry {
  private readonly byName = new Map<string, Serializer>();
  /** Accept-list entries as given (names are resolved when a message arrives, so later registrations count). */
  private readonly acceptEntries: readonly string[];
  /** Accepted content type -> its serializer, filled as messages arrive; cleared when a serializer is added. */
  private readonly decoders = new Map<string, Serializer>();

  /**
   * @param accept serializer names (`json`) or content types (`application/json`) this registry may decode.
   * @param serializers available formats; names in `accept` must be among them.
   */
  constructor(accept: readonly string[], serializers: readonly Serializer[] = []) {
    for (const s of serializers) this.register(s);
    const entries: string[] = [];
    for (const raw of accept) {
      const entry = raw.includes('/') ? normalizeType(raw) : raw.trim().toLowerCase();
      const refusedName = Object.keys(REFUSED).find((n) => n === entry || REFUSED[n] === entry);
      if (refusedName) {
        throw new ConfigurationError('accept_content', raw, `json or msgpack (${refusal(refusedName)})`);
      }
      if (!entry.includes('/') && !this.byName.has(entry)) {
        throw new ConfigurationError('accept_content', raw, `one of ${this.names().join(', ')} or a content type`);
      }
      entries.push(entry);
    }
    this.acceptEntries = entries;
  }

  register(serializer: Serializer): this {
    if (REFUSED[serializer.name] || Object.values(REFUSED).includes(normalizeType(serializer.contentType))) {
      const why = refusal(serializer.name);
      throw new ConfigurationError('serializer', serializer.name, `a format that cannot run code (${why})`);
    }
    this.byName.set(serializer.name, serializer);
    this.decoders.clear();
    return this;
  }

  names(): string[] {
    return [...this.byName.keys()];
  }

  /** The content types messages may have, with names resolved. */
  acceptedContentTypes(): string[] {
    const types = new Set<string>();
    for (const entry of this.acceptEntries) {
      if (entry.includes('/')) types.add(entry);
      else {
        const s = this.byName.get(entry);
        if (s) types.add(normalizeType(s.contentType));
      }
    }
    return [...types];
  }

  get(name: string): Serializer {
    const found = this.byName.get(name);
    if (found) return found;
    if (REFUSED[name]) throw new ConfigurationError('serializer', name, `json or msgpack (${refusal(name)})`);
    throw new ConfigurationError('serializer', name, `one of ${this.names().join(', ')}`);
  }

  encode(name: string, value: unknown): EncodedBody {
    const s = this.get(name);
    return { body: s.encode(value), contentType: s.contentType, contentEncoding: s.contentEncoding };
  }

  /**
   * Throws ContentDisallowed when the content type is not accepted, DecodeError when nothing can decode it or the
   * bytes are malformed.
   */
  decode(body: Buffer, contentType: string, contentEncoding: string): unknown {
    const type = normalizeType(contentType ?? '');
    const fast = this.decoders.get(type);
    if (fast) return fast.decode(body, contentEncoding);
    const accepted = this.acceptedContentTypes();
    if (!accepted.includes(type)) {
      const refusedName = Object.keys(REFUSED).find((n) => REFUSED[n] === type);
      const why = refusedName ? ` (${refusal(refusedName)})` : '';
      throw new ContentDisallowed(
        `refusing to decode content type ${JSON.stringify(contentType)}${why}; ` +
          `accepted: ${accepted.join(', ') || 'none'}`,
      );
    }
    const serializer = [...this.byName.values()].find((s) => normalizeType(s.contentType) === type);
    if (!serializer) throw new DecodeError(`no serializer registered for accepted content type ${type}`);
    this.decoders.set(type, serializer);
    return serializer.decode(body, contentEncoding);
  }
}

/**
 * Text bytes to a string, refusing invalid sequences rather than inserting replacement characters. Encodings are
 * named as Python names them; WHATWG's `latin1`/`ascii` labels mean windows-1252, so those two are done by hand.
 */
export function decodeText(body: Buffer, contentEncoding: string, what: string): string {
  const name = contentEncoding === 'utf-8' ? 'utf-8' : (contentEncoding || 'utf-8').toLowerCase().replace(/_/g, '-');
  if (name === 'latin-1' || name === 'latin1' || name === 'iso-8859-1' || name === 'iso8859-1') {
    return body.toString('latin1');
  }
  if (name === 'ascii' || name === 'us-ascii') {
    if (body.some((b) => b > 0x7f)) throw new DecodeError(`${what} is not valid ascii`);
    return body.toString('latin1');
  }
  const label = name === 'binary' ? 'utf-8' : name;
  if (label === 'utf-8' || label === 'utf8') {
    // The common case, checked natively without building a decoder per message.
    if (!isUtf8(body)) throw new DecodeError(`${what} is not valid ${label}`);
    return body.toString('utf8');
  }
  let decoder: TextDecoder;
  try {
    decoder = new TextDecoder(label, { fatal: true });
  } catch {
    throw new DecodeError(`unknown content encoding ${JSON.stringify(contentEncoding)} for ${what}`);
  }
  try {
    return decoder.decode(body);
  } catch (err) {
    throw new DecodeError(`${what} is not valid ${label}`, { cause: err });
  }
}

export const jsonSerializer: Serializer = {
  name: 'json',
  contentType: 'application/json',
  contentEncoding: 'utf-8',
  encode: (value) => Buffer.from(pyDumps(value), 'utf8'),
  decode: (body, contentEncoding) => parseJson(decodeText(body, contentEncoding, 'JSON body'), 'JSON body'),
};

/**
 * 64-bit integers decode as bigint so values past 2^53 keep every digit; the ones a number holds exactly become
 * numbers again, so ordinary payloads look the same as from JSON.
 */
function narrowInts(value: unknown): unknown {
  if (typeof value === 'bigint') {
    return value >= BigInt(Number.MIN_SAFE_INTEGER) && value <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(value) : value;
  }
  if (Array.isArray(value)) return value.map(narrowInts);
  if (value && typeof value === 'object' && !(value instanceof Uint8Array)) {
    for (const [k, v] of Object.entries(value)) (value as Record<string, unknown>)[k] = narrowInts(v);
  }
  return value;
}

export const msgpackSerializer: Serializer = {
  name: 'msgpack',
  contentType: 'application/x-msgpack',
  contentEncoding: 'binary',
  encode: (value) => {
    const bytes = pack(toMsgpackValue(value, []), { useBigInt64: true });
    return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  },
  decode: (body) => {
    try {
      // Unknown type bytes (0xc1) and extension types raise, as Python's msgpack does.
      return narrowInts(unpack(body, { useBigInt64: true }));
    } catch (err) {
      const reason = err instanceof Error ? err.message : String(err);
      throw new DecodeError(`invalid msgpack body: ${reason}`, { cause: err });
    }
  },
};

const INT32_MIN = -0x80000000;
const UINT32_LIMIT = 0x100000000;
const INT64_MIN = -(2n ** 63n);
const UINT64_MAX = 2n ** 64n - 1n;

/**
 * Shapes a value as Python's `msgpack.packb` would receive it from JSON-like data: integers past 32 bits as
 * (u)int64, and `undefined`, functions and `toJSON` objects (Dates) as JSON would have them, instead of msgpack
 * extension types Python cannot read.
 */
function toMsgpackValue(value: unknown, stack: object[]): unknown {
  switch (typeof value) {
    case 'number':
      // Written as float64 otherwise, which Python would read back as a float.
      if (Number.isSafeInteger(value) && (value < INT32_MIN || value >= UINT32_LIMIT)) return BigInt(value);
      return value;
    case 'bigint':
      // The encoder writes the low 64 bits of anything larger (2n ** 64n + 1n would arrive as 1), so refuse it, as
      // Python's msgpack refuses ints it cannot pack.
      if (value < INT64_MIN || value > UINT64_MAX) {
        throw new RangeError(
          `integer ${value} is outside msgpack's 64-bit range (-2**63 to 2**64-1): send it with the json serializer`,
        );
      }
      return value;
    case 'undefined':
    case 'function':
    case 'symbol':
      return null;
    case 'object':
      break;
    default:
      return value;
  }
  if (value === null || value instanceof Uint8Array) return value;
  if (value instanceof Map || value instanceof Set) {
    throw new TypeError(`a ${value.constructor.name} cannot be serialized: convert it to an object or array`);
  }
  const toJSON = (value as { toJSON?: unknown }).toJSON;
  if (typeof toJSON === 'function') return toMsgpackValue(toJSON.call(value) as unknown, stack);
  if (stack.includes(value)) throw new TypeError('cannot serialize a circular structure');
  stack.push(value);
  try {
    if (Array.isArray(value)) return value.map((item: unknown) => toMsgpackValue(item, stack));
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(value)) {
      const item = (value as Record<string, unknown>)[key];
      if (item !== undefined && typeof item !== 'function' && typeof item !== 'symbol') {
        out[key] = toMsgpackValue(item, stack);
      }
    }
    return out;
  } finally {
    stack.pop();
  }
}

/**
 * A registry with the built-in json and msgpack serializers.
 *
 * @example
 * const registry = createSerializerRegistry(['json', 'msgpack']);
 * const { body, contentType, contentEncoding } = registry.encode('json', [[2, 3], {}, null]);
 * registry.decode(body, contentType, contentEncoding);
 */
export function createSerializerRegistry(accept: readonly string[] = ['json']): SerializerRegistry {
  return new SerializerRegistry(accept, [jsonSerializer, msgpackSerializer]);
}
