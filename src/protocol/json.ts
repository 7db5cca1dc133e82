/**
 * JSON text byte-identical to Python's `json.dumps` defaults, which is what Celery and kombu write.
 *
 * Matching the bytes (not just the data) lets golden tests compare whole messages, and keeps anything that
 * hashes or diffs message text (dedup tools, monitors showing raw bodies) agreeing with Python producers.
 */
import { DecodeError } from '../errors/index.js';
import { MAY_HOLD_UNSAFE_INTEGER, parsePyJson } from './json-parse.js';

/**
 * Serializes like Python's `json.dumps(value)`: `", "` and `": "` separators, every character outside printable
 * ASCII escaped as lowercase `\uXXXX` (UTF-16 units, so astral characters become surrogate pairs, as in Python),
 * insertion key order, integers without `.0`, other numbers in Python's float repr (`1e-07`, not `1e-7`).
 *
 * Follows `JSON.stringify` for what Python has no counterpart to: `undefined`, functions and symbols are
 * skipped in objects and become `null` in arrays, and `toJSON()` is honoured (a Date becomes its ISO string).
 * Throws a TypeError for binary data, Maps, Sets, cycles and non-finite numbers, which would otherwise be lost
 * silently or produce text that standard JSON parsers reject.
 *
 * @example
 * pyDumps({ a: [1, 2.5e-7], b: 'café' }) // '{"a": [1, 2.5e-07], "b": "caf\\u00e9"}'
 */
export function pyDumps(value: unknown): string {
  const text = encode(value, undefined);
  if (text === undefined) throw new TypeError(`cannot serialize ${typeof value} to JSON`);
  return text;
}

/** pyDumps for an object member: `undefined` for values JSON leaves out (undefined, functions, symbols). */
export function pyDumpsOptional(value: unknown): string | undefined {
  return encode(value, undefined);
}

/**
 * Text for a JSON column of a table store: `JSON.stringify` (native), with integers past 2^53 that a task received
 * or returned as bigint written exactly instead of failing the write (`JSON.stringify` refuses bigint). The value
 * must have passed the result check (`encodable.ts`): JSON.stringify would write NaN as null and a Map as `{}`.
 */
export function jsonColumnText(value: unknown): string {
  try {
    return JSON.stringify(value) ?? 'null';
  } catch (err) {
    if (!(err instanceof TypeError) || !/BigInt/i.test(err.message)) throw err;
    return encode(value, undefined) ?? 'null';
  }
}

/** `JSON.parse` for stored text that may be foreign or damaged: `undefined` instead of an exception. */
export function tryParseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

/**
 * Reads JSON text as Python wrote it, reporting failure as a DecodeError naming what was being read.
 *
 * Integers outside Number.MIN_SAFE_INTEGER..Number.MAX_SAFE_INTEGER arrive as exact `bigint`s, and Python's bare
 * `NaN`, `Infinity` and `-Infinity` as those numbers; everything else is what `JSON.parse` gives (`1e400` is
 * Infinity, `-0` is -0). Every message body and stored result goes through here, so `JSON.parse` does the work
 * unless a cheap scan finds a run of digits that might not fit a number, or it rejects the text (the tokens above,
 * or text that is not JSON at all, which the exact reader then reports with its position).
 *
 * @example
 * parseJson('[[18446744073709551617], {}, {}]', 'JSON body') // [[18446744073709551617n], {}, {}]
 */
export function parseJson(text: string, what = 'JSON'): unknown {
  if (!MAY_HOLD_UNSAFE_INTEGER.test(text)) {
    try {
      return JSON.parse(text) as unknown;
    } catch {
      // NaN or Infinity (Python's allow_nan default), or not JSON: the exact reader tells which. Such text costs
      // about 7 µs (JSON.parse's exception, then the reader) against 0.4 µs; looking for the tokens up front
      // instead would double the scan every message pays (0.09 -> 0.19 µs on a result meta), so they pay here.
    }
  }
  try {
    return parsePyJson(text);
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    throw new DecodeError(`invalid ${what}: ${reason} (text starts ${JSON.stringify(text.slice(0, 60))})`, {
      cause: err,
    });
  }
}

/**
 * A JavaScript number as Python would print the value it decodes to: integral values as Python ints (a JSON `1.0`
 * arrives in JavaScript as `1`, so the distinction is already lost), others as Python's float repr.
 */
export function formatPyNumber(n: number): string {
  if (Number.isInteger(n)) return Math.abs(n) < 1e21 ? String(n === 0 ? 0 : n) : BigInt(n).toString();
  return pyFloatRepr(n);
}

/**
 * Python's `repr(float)`: the same shortest round-trip digits as JavaScript, but scientific notation below 1e-4
 * and from 1e16 up, with at least two exponent digits and an explicit sign; integral values keep `.0`.
 */
export function pyFloatRepr(n: number): string {
  if (Number.isNaN(n)) return 'nan';
  if (!Number.isFinite(n)) return n > 0 ? 'inf' : '-inf';
  const [mantissa = '0', expText = '0'] = n.toExponential().split('e');
  const exp = Number(expText);
  if (exp < -4 || exp >= 16) {
    return `${mantissa}e${exp < 0 ? '-' : '+'}${String(Math.abs(exp)).padStart(2, '0')}`;
  }
  const fixed = String(n === 0 ? 0 : n);
  return fixed.includes('.') ? fixed : `${fixed}.0`;
}

const SHORT_ESCAPES: Record<string, string> = {
  '"': '\\"',
  '\\': '\\\\',
  '\n': '\\n',
  '\r': '\\r',
  '\t': '\\t',
  '\b': '\\b',
  '\f': '\\f',
};

/** Python's `ensure_ascii` escapes everything outside space..tilde, DEL included (JSON.stringify keeps DEL). */
const NEEDS_ESCAPE = /[^\x20-\x7e]|["\\]/g;

/** The same set as one class and without the global flag: `test` allocates nothing and needs no callback. */
const HAS_ESCAPE = /[^\x20\x21\x23-\x5b\x5d-\x7e]/;

/**
 * pyJsonString without the quotes: the string itself when it needs no escaping (no copy), for writers that put
 * the quotes in their constant text.
 */
export function pyJsonInner(s: string): string {
  return HAS_ESCAPE.test(s) ? s.replace(NEEDS_ESCAPE, escapeChar) : s;
}

/**
 * `encode` with its results kept: for strings that repeat from message to message, so each distinct one is encoded
 * once. Bounded, so that data with ever-new strings cannot grow the cache without limit.
 */
function remembered(encode: (s: string) => string): (s: string) => string {
  const texts = new Map<string, string>();
  return (s) => {
    let text = texts.get(s);
    if (text === undefined) {
      text = encode(s);
      if (texts.size < 4096) texts.set(s, text);
    }
    return text;
  };
}

/** pyJsonInner for values that repeat (task names, origins, queue names, content types). */
export const pyJsonInnerRepeated = remembered(pyJsonInner);

export function pyJsonString(s: string): string {
  // Almost every string in a message (names, ids, base64 bodies, dates) needs no escaping; testing first is about
  // 3x cheaper than a replace that finds nothing (string encoding was half of a producer's CPU in the benchmark).
  if (!HAS_ESCAPE.test(s)) return `"${s}"`;
  return `"${s.replace(NEEDS_ESCAPE, escapeChar)}"`;
}

/** pyJsonString of object keys, which repeat from message to message (header and meta names). */
export const keyText = remembered(pyJsonString);

function escapeChar(ch: string): string {
  return SHORT_ESCAPES[ch] ?? `\\u${ch.charCodeAt(0).toString(16).padStart(4, '0')}`;
}

/** `stack` holds the containers being encoded (cycle check); made on the first one, so scalars allocate nothing. */
function encode(value: unknown, stack: object[] | undefined): string | undefined {
  switch (typeof value) {
    case 'string':
      return pyJsonString(value);
    case 'number':
      if (!Number.isFinite(value)) throw new TypeError(`${value} cannot be represented in standard JSON`);
      return formatPyNumber(value);
    case 'bigint':
      return value.toString();
    case 'boolean':
      return value ? 'true' : 'false';
    case 'undefined':
    case 'function':
    case 'symbol':
      return undefined;
  }
  if (value === null) return 'null';
  const obj = value as object;
  if (ArrayBuffer.isView(obj) || obj instanceof ArrayBuffer) {
    throw new TypeError('binary data cannot be serialized as JSON: use the msgpack serializer or base64-encode it');
  }
  if (obj instanceof Map || obj instanceof Set) {
    throw new TypeError(`a ${obj.constructor.name} cannot be serialized as JSON: convert it to an object or array`);
  }
  const toJSON = (obj as { toJSON?: unknown }).toJSON;
  if (typeof toJSON === 'function') return encode(toJSON.call(obj) as unknown, stack);
  if (!stack) stack = [];
  else if (stack.includes(obj)) throw new TypeError('cannot serialize a circular structure as JSON');
  stack.push(obj);
  try {
    if (Array.isArray(obj)) {
      return `[${obj.map((item: unknown) => encode(item, stack) ?? 'null').join(', ')}]`;
    }
    // Concatenation rather than an array and join: fewer allocations on the hot path of every publish.
    let out = '';
    for (const key in obj) {
      if (!Object.prototype.hasOwnProperty.call(obj, key)) continue;
      const text = encode((obj as Record<string, unknown>)[key], stack);
      if (text !== undefined) out += `${out ? ', ' : ''}${keyText(key)}: ${text}`;
    }
    return `{${out}}`;
  } finally {
    stack.pop();
  }
}
