/**
 * Python-style text for values: `pyRepr` is Python's `repr()`, `safeRepr` is Celery's truncating
 * `celery.utils.saferepr.saferepr`, which is what fills the `argsrepr` / `kwargsrepr` headers and the
 * result text of task events.
 *
 * The two differ on purpose: saferepr always single-quotes strings and escapes only `'`, leaving newlines and
 * backslashes raw, so `argsrepr` is *not* `repr(args)`. Flower and `celery inspect` show these strings as they
 * are, so matching Celery's text keeps mixed fleets looking the same.
 *
 * Values are read the way a Python peer sees them after JSON: arrays are lists, other objects dicts (keys
 * whose value is `undefined` skipped), `toJSON()` applied (Dates become ISO strings).
 */
import { formatPyNumber, pyFloatRepr } from './json.js';

/** Celery's `argsrepr_maxsize` / `kwargsrepr_maxsize`. */
export const REPR_MAXSIZE = 1024;

/** Python's `repr()` of a JSON-like value. */
export function pyRepr(value: unknown): string {
  const v = jsonView(value);
  if (v === null || v === undefined) return 'None';
  switch (typeof v) {
    case 'boolean':
      return v ? 'True' : 'False';
    case 'number':
      return pyNumber(v);
    case 'bigint':
      return v.toString();
    case 'string':
      return pyStrRepr(v);
    case 'function':
    case 'symbol':
      return 'None';
  }
  if (v instanceof Uint8Array) return pyBytesRepr(v);
  if (v instanceof PyTuple) {
    const items = v.items.map(pyRepr);
    return items.length === 1 ? `(${items[0]},)` : `(${items.join(', ')})`;
  }
  if (Array.isArray(v)) return `[${v.map(pyRepr).join(', ')}]`;
  const parts = dictEntries(v as object).map(([k, item]) => `${pyStrRepr(k)}: ${pyRepr(item)}`);
  return `{${parts.join(', ')}}`;
}

/** Celery's `argsrepr` header: the args as a Python tuple, `(2, 3)`, `(2,)`, `()`, truncated like Celery. */
export function argsRepr(args: readonly unknown[], maxlen: number | null = REPR_MAXSIZE): string {
  // The common no-argument call skips the tokenizer.
  if (args.length === 0) return '()';
  return safeRepr(new PyTuple(args), { maxlen });
}

/** Celery's `kwargsrepr` header: the kwargs as a Python dict, truncated like Celery. */
export function kwargsRepr(kwargs: Record<string, unknown>, maxlen: number | null = REPR_MAXSIZE): string {
  if (isEmptyPlainObject(kwargs)) return '{}';
  return safeRepr(kwargs, { maxlen });
}

function isEmptyPlainObject(v: object): boolean {
  if (Object.getPrototypeOf(v) !== Object.prototype) return false;
  for (const key in v) if (Object.prototype.hasOwnProperty.call(v, key)) return false;
  return true;
}

/** Marks an array to be shown as a Python tuple. */
export class PyTuple {
  constructor(readonly items: readonly unknown[]) {}
}

export interface SafeReprOptions {
  /**
   * A budget, not a hard cap: Celery checks it between tokens, so a string cut to fit gains its quotes, escapes
   * and `...`, and `, ...` plus the open brackets follow. Real `argsrepr` values run a little past 1024.
   */
  maxlen?: number | null;
  /** Containers nested this deep print as `[...]` / `{...}`. */
  maxlevels?: number;
}

/**
 * A port of Celery 5.2's `saferepr`, quirks included (a string exactly `maxlen` long is still cut; a closing
 * bracket that happens to be the token where the budget runs out is dropped), since the point is identical text.
 */
export function safeRepr(value: unknown, options: SafeReprOptions = {}): string {
  let maxlen = options.maxlen ?? null;
  const maxlevels = options.maxlevels ?? 3;
  const stream = new TokenStream(value);
  const out: string[] = [];
  for (const token of reprTokens(stream, maxlevels)) {
    if (maxlen !== null && maxlen <= 0) {
      out.push(', ...');
      for (const rest of stream.drain()) {
        if (rest instanceof Literal && !rest.truncatable) out.push(rest.text);
      }
      break;
    }
    let text: string;
    if (token instanceof Literal) text = token.text;
    else if (token instanceof Key) text = safeRepr(token.key, { maxlen, maxlevels });
    else if (token instanceof Quoted) text = `'${truncate(token.text, maxlen).replace(/'/g, "\\'")}'`;
    else text = truncate(token, maxlen);
    out.push(text);
    if (maxlen !== null) maxlen -= codePointLength(text);
  }
  return out.join('');
}

// ---- saferepr internals ------------------------------------------------------------------------------------

class Literal {
  constructor(
    readonly text: string,
    /** Separators may be dropped when truncating; brackets never are. */
    readonly truncatable: boolean,
    readonly depth: -1 | 0 | 1,
  ) {}
}
class Key {
  constructor(readonly key: string) {}
}
class Quoted {
  constructor(readonly text: string) {}
}
/** Marks the end of a container so it leaves the recursion guard. */
class Done {
  constructor(readonly obj: object) {}
}

const DICT_START = new Literal('{', false, 1);
const DICT_KVSEP = new Literal(': ', true, 0);
const DICT_END = new Literal('}', false, -1);
const LIST_START = new Literal('[', false, 1);
const LIST_END = new Literal(']', false, -1);
const SEP = new Literal(', ', true, 0);
const TUPLE_START = new Literal('(', false, 1);
const TUPLE_END = new Literal(')', false, -1);
const TUPLE_END_SINGLE = new Literal(',)', false, -1);

/** What is left to print, as a stack of iterators: an opened container's tokens sit on top of the rest. */
class TokenStream {
  private readonly stack: Iterator<unknown>[];
  constructor(value: unknown) {
    this.stack = [[value][Symbol.iterator]()];
  }
  next(): { done: true } | { done: false; value: unknown } {
    while (this.stack.length > 0) {
      const r = this.stack[this.stack.length - 1]!.next();
      if (!r.done) return { done: false, value: r.value };
      this.stack.pop();
    }
    return { done: true };
  }
  push(items: Iterable<unknown>): void {
    this.stack.push(items[Symbol.iterator]());
  }
  *drain(): Generator<unknown> {
    for (let r = this.next(); !r.done; r = this.next()) yield r.value;
  }
}

type Token = Literal | Key | Quoted | string;

function* reprTokens(stream: TokenStream, maxlevels: number): Generator<Token> {
  const open = new Set<object>();
  let level = 0;
  for (let r = stream.next(); !r.done; r = stream.next()) {
    const item = r.value;
    if (item instanceof Done) {
      open.delete(item.obj);
      continue;
    }
    if (item instanceof Literal) {
      level += item.depth;
      yield item;
      continue;
    }
    if (item instanceof Key) {
      yield item;
      continue;
    }
    const v = jsonView(item);
    if (typeof v === 'string') {
      yield new Quoted(v);
      continue;
    }
    if (typeof v === 'number' || typeof v === 'bigint' || typeof v === 'boolean') {
      yield pyStrOfNumber(v);
      continue;
    }
    const shape = containerShape(v);
    if (!shape) {
      yield pyRepr(v);
      continue;
    }
    const obj = v as object;
    if (maxlevels && level >= maxlevels) {
      yield `${shape.start.text}...${shape.end.text}`;
      continue;
    }
    if (open.has(obj)) {
      yield `<Recursion on ${Array.isArray(obj) ? 'list' : 'dict'}>`;
      continue;
    }
    open.add(obj);
    stream.push(containerTokens(shape, obj));
  }
}

interface Shape {
  start: Literal;
  end: Literal;
  entries: readonly unknown[] | readonly [string, unknown][];
  dict: boolean;
}

function containerShape(v: unknown): Shape | null {
  if (v === null || typeof v !== 'object' || v instanceof Uint8Array) return null;
  if (v instanceof PyTuple) {
    const end = v.items.length === 1 ? TUPLE_END_SINGLE : TUPLE_END;
    return { start: TUPLE_START, end, entries: v.items, dict: false };
  }
  if (Array.isArray(v)) return { start: LIST_START, end: LIST_END, entries: v, dict: false };
  return { start: DICT_START, end: DICT_END, entries: dictEntries(v), dict: true };
}

function* containerTokens(shape: Shape, obj: object): Generator<unknown> {
  yield shape.start;
  const n = shape.entries.length;
  for (let i = 0; i < n; i++) {
    if (shape.dict) {
      const [k, item] = shape.entries[i] as [string, unknown];
      yield new Key(k);
      yield DICT_KVSEP;
      yield item;
    } else {
      yield shape.entries[i];
    }
    if (i < n - 1) yield SEP;
  }
  yield new Done(obj);
  yield shape.end;
}

/** Celery's `truncate`: cut to `maxlen` code points, back to the last space, and mark with `...`. */
function truncate(s: string, maxlen: number | null): string {
  if (!maxlen || codePointLength(s) < maxlen) return s;
  const head = codePointSlice(s, maxlen);
  const space = head.lastIndexOf(' ');
  return `${space >= 0 ? head.slice(0, space) : head}...`;
}

// ---- shared helpers ----------------------------------------------------------------------------------------

function jsonView(value: unknown): unknown {
  if (value !== null && typeof value === 'object' && !(value instanceof Uint8Array)) {
    const toJSON = (value as { toJSON?: unknown }).toJSON;
    if (typeof toJSON === 'function') return toJSON.call(value) as unknown;
  }
  return value;
}

function dictEntries(obj: object): [string, unknown][] {
  const out: [string, unknown][] = [];
  for (const key of Object.keys(obj)) {
    const item = (obj as Record<string, unknown>)[key];
    if (item !== undefined && typeof item !== 'function' && typeof item !== 'symbol') out.push([key, item]);
  }
  return out;
}

function pyNumber(n: number): string {
  return Number.isFinite(n) ? formatPyNumber(n) : pyFloatRepr(n);
}

/** Python's `str()` of a number, which saferepr uses for everything numeric (bool included). */
function pyStrOfNumber(v: number | bigint | boolean): string {
  if (typeof v === 'boolean') return v ? 'True' : 'False';
  return typeof v === 'bigint' ? v.toString() : pyNumber(v);
}

/** Python's `str.isprintable()` per character: not a control, format, surrogate, private, unassigned or
 * separator character, except the plain space. */
const NON_PRINTABLE = /[\p{Cc}\p{Cf}\p{Cs}\p{Co}\p{Cn}\p{Zl}\p{Zp}\p{Zs}]/u;

function pyStrRepr(s: string): string {
  const quote = s.includes("'") && !s.includes('"') ? '"' : "'";
  let out = quote;
  for (const ch of s) {
    if (ch === quote || ch === '\\') out += `\\${ch}`;
    else if (ch === '\n') out += '\\n';
    else if (ch === '\r') out += '\\r';
    else if (ch === '\t') out += '\\t';
    else if (ch !== ' ' && NON_PRINTABLE.test(ch)) out += pyCodeEscape(ch.codePointAt(0)!);
    else out += ch;
  }
  return out + quote;
}

function pyCodeEscape(cp: number): string {
  if (cp < 0x100) return `\\x${cp.toString(16).padStart(2, '0')}`;
  if (cp < 0x10000) return `\\u${cp.toString(16).padStart(4, '0')}`;
  return `\\U${cp.toString(16).padStart(8, '0')}`;
}

function pyBytesRepr(bytes: Uint8Array): string {
  const hasSingle = bytes.includes(0x27);
  const quote = hasSingle && !bytes.includes(0x22) ? '"' : "'";
  let out = `b${quote}`;
  for (const b of bytes) {
    const ch = String.fromCharCode(b);
    if (ch === quote || ch === '\\') out += `\\${ch}`;
    else if (ch === '\n') out += '\\n';
    else if (ch === '\r') out += '\\r';
    else if (ch === '\t') out += '\\t';
    else if (b < 0x20 || b >= 0x7f) out += pyCodeEscape(b);
    else out += ch;
  }
  return out + quote;
}

/** Python measures strings in code points; JavaScript in UTF-16 units. */
function codePointLength(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++, n++) {
    if (isPairAt(s, i)) i++;
  }
  return n;
}

function codePointSlice(s: string, count: number): string {
  let i = 0;
  for (let n = 0; n < count && i < s.length; n++) i += isPairAt(s, i) ? 2 : 1;
  return s.slice(0, i);
}

function isPairAt(s: string, i: number): boolean {
  const hi = s.charCodeAt(i);
  if (hi < 0xd800 || hi > 0xdbff || i + 1 >= s.length) return false;
  const lo = s.charCodeAt(i + 1);
  return lo >= 0xdc00 && lo <= 0xdfff;
}
