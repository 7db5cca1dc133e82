/**
 * A parser of Python literal repr text, for the data subset of what `ast.literal_eval` accepts: None, True, False,
 * ints, floats, strings, tuples and lists (both become arrays) and dicts with string keys, nested. Events carry
 * task arguments only as `repr` text (`argsrepr`); when that text is a plain literal, the arguments are known
 * exactly and can be sent again.
 *
 * Everything that is not data as JSON knows it is refused with a reason rather than approximated: bytes, sets,
 * complex numbers, inf/nan (Python writes them as names, and as float overflow), integers a double cannot hold
 * exactly, dicts with non-string keys, calls (`Foo(1)`), object reprs (`<object at 0x...>`) and the `...` that a
 * truncated saferepr ends with. Nothing is evaluated: the text is read by a recursive-descent parser.
 */
import { argsRepr, kwargsRepr } from './repr.js';

export type PyLiteralResult = { ok: true; value: unknown } | { ok: false; reason: string };

/** Deeper nesting is refused rather than risking the stack (Python's own parser stops near 200). */
const MAX_DEPTH = 200;

class Refusal extends Error {}

/**
 * Parses `text` as one Python literal.
 *
 * @example
 * parsePyLiteral("(1, 'a', {'k': [None, True]})"); // { ok: true, value: [1, 'a', { k: [null, true] }] }
 * parsePyLiteral('(Foo(1),)');                      // { ok: false, reason: "a name ('Foo') at 1 ..." }
 */
export function parsePyLiteral(text: string): PyLiteralResult {
  try {
    const parser = new Parser(text);
    const value = parser.value(0);
    parser.skipSpace();
    if (!parser.atEnd()) parser.fail('unexpected text after the value');
    return { ok: true, value };
  } catch (err) {
    if (err instanceof Refusal) return { ok: false, reason: err.message };
    throw err;
  }
}

const NUMBER =
  /(?:0[xX](?:_?[0-9a-fA-F])+|0[oO](?:_?[0-7])+|0[bB](?:_?[01])+|(?:[0-9](?:_?[0-9])*)?\.[0-9](?:_?[0-9])*(?:[eE][+-]?[0-9](?:_?[0-9])*)?|[0-9](?:_?[0-9])*\.?(?:[eE][+-]?[0-9](?:_?[0-9])*)?)/y;
const NAME = /[\p{L}_][\p{L}\p{N}_]*/uy;
const STRING_PREFIX = /([rRuUbBfF]{0,2})(['"])/y;

class Parser {
  private pos = 0;

  constructor(private readonly text: string) {}

  atEnd(): boolean {
    return this.pos >= this.text.length;
  }

  fail(what: string): never {
    const near = this.text.slice(this.pos, this.pos + 20);
    throw new Refusal(`${what} at ${this.pos}${near ? ` (near ${JSON.stringify(near)})` : ''}`);
  }

  /** Whitespace and line continuations, as inside brackets (where Python ignores newlines). */
  skipSpace(): void {
    const t = this.text;
    while (this.pos < t.length) {
      const c = t[this.pos]!;
      if (c === ' ' || c === '\t' || c === '\n' || c === '\r' || c === '\f') this.pos++;
      else if (c === '\\' && (t[this.pos + 1] === '\n' || t[this.pos + 1] === '\r')) this.pos += 2;
      else break;
    }
  }

  value(depth: number): unknown {
    if (depth > MAX_DEPTH) this.fail(`nesting deeper than ${MAX_DEPTH}`);
    this.skipSpace();
    const c = this.text[this.pos];
    if (c === undefined) this.fail('unexpected end of text');
    if (c === '(') return this.sequence(')', depth, true);
    if (c === '[') return this.sequence(']', depth, false);
    if (c === '{') return this.dict(depth);
    if (c === '-' || c === '+') {
      this.pos++;
      this.skipSpace();
      const n = this.number();
      return c === '-' ? -n : n;
    }
    if (c === '.' && this.text.startsWith('...', this.pos)) this.fail('an ellipsis (a truncated repr)');
    if ((c >= '0' && c <= '9') || c === '.') return this.number();
    if (c === "'" || c === '"') return this.strings();
    if (c === '<') this.fail('an object repr');
    STRING_PREFIX.lastIndex = this.pos;
    if (STRING_PREFIX.test(this.text)) return this.strings();
    NAME.lastIndex = this.pos;
    const name = NAME.exec(this.text);
    if (name) return this.name(name[0]);
    return this.fail(`unexpected ${JSON.stringify(c)}`);
  }

  private name(name: string): unknown {
    const start = this.pos;
    this.pos += name.length;
    if (name === 'None') return null;
    if (name === 'True') return true;
    if (name === 'False') return false;
    this.pos = start;
    if (name === 'inf' || name === 'nan') this.fail(`a non-finite float ('${name}')`);
    return this.fail(`a name (${JSON.stringify(name)}), not a literal`);
  }

  private number(): number {
    NUMBER.lastIndex = this.pos;
    const m = NUMBER.exec(this.text);
    if (!m || m[0] === '.') this.fail('a number expected');
    const raw = m[0];
    const next = this.text[this.pos + raw.length];
    if (next === 'j' || next === 'J') this.fail('a complex number');
    if (next !== undefined && /[\p{L}\p{N}_.]/u.test(next)) this.fail('a malformed number');
    const digits = raw.replace(/_/g, '');
    let n: number;
    if (/^0[xob]/i.test(digits) || /^[0-9]+$/.test(digits)) {
      if (/^0[0-9]*[1-9]/.test(digits)) this.fail('an integer with leading zeros');
      const big = BigInt(digits);
      n = Number(big);
      // Exact, or the very digits JavaScript writes for that double (what JSON.parse of the message gave anyway).
      if (BigInt(n) !== big && String(n) !== digits) this.fail(`an integer a double cannot hold exactly (${digits.length > 30 ? `${digits.slice(0, 30)}...` : digits})`);
    } else {
      n = Number(digits);
      if (!Number.isFinite(n)) this.fail('a float beyond the double range');
    }
    this.pos += raw.length;
    return n;
  }

  /** One string literal, or several written next to each other ('a' 'b' is 'ab' in Python). */
  private strings(): string {
    let out = this.string();
    for (;;) {
      const save = this.pos;
      this.skipSpace();
      const c = this.text[this.pos];
      STRING_PREFIX.lastIndex = this.pos;
      if (c === "'" || c === '"' || (c !== undefined && STRING_PREFIX.test(this.text))) {
        out += this.string();
        continue;
      }
      this.pos = save;
      return out;
    }
  }

  private string(): string {
    STRING_PREFIX.lastIndex = this.pos;
    const m = STRING_PREFIX.exec(this.text);
    if (!m) this.fail('a string expected');
    const prefix = m[1]!.toLowerCase();
    if (prefix === 'b' || prefix === 'br' || prefix === 'rb') this.fail('a bytes literal');
    if (prefix === 'f' || prefix === 'fr' || prefix === 'rf') this.fail('an f-string');
    if (prefix !== '' && prefix !== 'r' && prefix !== 'u') this.fail(`an unknown string prefix (${JSON.stringify(m[1])})`);
    const raw = prefix.includes('r');
    const quote = m[2]!;
    this.pos += m[0].length;
    const triple = this.text.startsWith(quote + quote, this.pos);
    if (triple) this.pos += 2;
    const t = this.text;
    let out = '';
    for (;;) {
      const c = t[this.pos];
      if (c === undefined) this.fail('an unterminated string');
      if (c === quote) {
        if (!triple) {
          this.pos++;
          return out;
        }
        if (t.startsWith(quote.repeat(3), this.pos)) {
          this.pos += 3;
          return out;
        }
        out += c;
        this.pos++;
        continue;
      }
      if ((c === '\n' || c === '\r') && !triple) this.fail('a newline inside a string');
      if (c !== '\\') {
        // Copy a run of plain characters at once.
        let end = this.pos + 1;
        while (end < t.length && t[end] !== quote && t[end] !== '\\' && t[end] !== '\n' && t[end] !== '\r') end++;
        out += t.slice(this.pos, end);
        this.pos = end;
        continue;
      }
      out += raw ? this.rawEscape() : this.escape();
    }
  }

  private rawEscape(): string {
    // In a raw string a backslash stays, and keeps the next character (a quote included) from ending the string.
    const next = this.text[this.pos + 1];
    if (next === undefined) this.fail('an unterminated string');
    this.pos += 2;
    return `\\${next}`;
  }

  private escape(): string {
    const t = this.text;
    const e = t[this.pos + 1];
    if (e === undefined) this.fail('an unterminated string');
    this.pos += 2;
    switch (e) {
      case '\n':
        return '';
      case '\r':
        if (t[this.pos] === '\n') this.pos++;
        return '';
      case '\\':
      case "'":
      case '"':
        return e;
      case 'a':
        return '\x07';
      case 'b':
        return '\b';
      case 'f':
        return '\f';
      case 'n':
        return '\n';
      case 'r':
        return '\r';
      case 't':
        return '\t';
      case 'v':
        return '\v';
      case 'x':
        return this.hexEscape(2);
      case 'u':
        return this.hexEscape(4);
      case 'U':
        return this.hexEscape(8);
      case 'N':
        this.pos -= 2;
        return this.fail('a \\N{...} escape (character names are not known here)');
    }
    if (e >= '0' && e <= '7') {
      let digits = e;
      while (digits.length < 3 && t[this.pos] !== undefined && t[this.pos]! >= '0' && t[this.pos]! <= '7') digits += t[this.pos++];
      return String.fromCodePoint(parseInt(digits, 8));
    }
    // Python keeps an unknown escape as it is, backslash included.
    return `\\${e}`;
  }

  private hexEscape(len: number): string {
    const hex = this.text.slice(this.pos, this.pos + len);
    if (hex.length < len || !/^[0-9a-fA-F]+$/.test(hex)) {
      this.pos -= 2;
      this.fail(`a truncated \\${len === 2 ? 'x' : len === 4 ? 'u' : 'U'} escape`);
    }
    const cp = parseInt(hex, 16);
    if (cp > 0x10ffff) {
      this.pos -= 2;
      this.fail('an escape beyond U+10FFFF');
    }
    this.pos += len;
    return String.fromCodePoint(cp);
  }

  /** `(...)` or `[...]`; a parenthesized single value without a comma is that value, as in Python. */
  private sequence(close: ')' | ']', depth: number, tuple: boolean): unknown {
    this.pos++;
    const items: unknown[] = [];
    let sawComma = false;
    for (;;) {
      this.skipSpace();
      if (this.text[this.pos] === close) {
        this.pos++;
        break;
      }
      items.push(this.value(depth + 1));
      this.skipSpace();
      const c = this.text[this.pos];
      if (c === ',') {
        sawComma = true;
        this.pos++;
        continue;
      }
      if (c === close) {
        this.pos++;
        break;
      }
      this.fail(`',' or '${close}' expected`);
    }
    if (tuple && items.length === 1 && !sawComma) return items[0];
    return items;
  }

  private dict(depth: number): Record<string, unknown> {
    this.pos++;
    const out: Record<string, unknown> = {};
    let first = true;
    for (;;) {
      this.skipSpace();
      if (this.text[this.pos] === '}') {
        this.pos++;
        return out;
      }
      const keyAt = this.pos;
      const key = this.value(depth + 1);
      this.skipSpace();
      if (this.text[this.pos] !== ':') {
        if (first && (this.text[this.pos] === ',' || this.text[this.pos] === '}')) this.fail('a set');
        this.fail("':' expected");
      }
      if (typeof key !== 'string') {
        this.pos = keyAt;
        this.fail('a dict key that is not a string');
      }
      this.pos++;
      const item = this.value(depth + 1);
      // defineProperty, so a key named __proto__ is an own key as in Python, not the prototype.
      Object.defineProperty(out, key, { value: item, enumerable: true, writable: true, configurable: true });
      first = false;
      this.skipSpace();
      const c = this.text[this.pos];
      if (c === ',') {
        this.pos++;
        continue;
      }
      if (c === '}') {
        this.pos++;
        return out;
      }
      this.fail("',' or '}' expected");
    }
  }
}

/**
 * The exact arguments behind an `argsrepr` header, or a refusal. Beyond parsing, the value must print back to the
 * very same text (Celery's saferepr leaves backslashes in strings unescaped, so `'a\\b'` would otherwise read as a
 * different string), and no string in it may end with `...` (saferepr's mark of a cut string: the rest is lost).
 */
export function argsFromRepr(text: string): PyLiteralResult {
  const r = parsePyLiteral(text);
  if (!r.ok) return r;
  if (!Array.isArray(r.value)) return { ok: false, reason: 'args must be a tuple or a list' };
  return faithful(r.value, text, argsRepr(r.value));
}

/** The exact keyword arguments behind a `kwargsrepr` header, or a refusal (see argsFromRepr). */
export function kwargsFromRepr(text: string): PyLiteralResult {
  const r = parsePyLiteral(text);
  if (!r.ok) return r;
  if (r.value === null || typeof r.value !== 'object' || Array.isArray(r.value)) return { ok: false, reason: 'kwargs must be a dict' };
  return faithful(r.value, text, kwargsRepr(r.value as Record<string, unknown>));
}

function faithful(value: unknown, text: string, printed: string): PyLiteralResult {
  if (hasCutString(value, 0)) return { ok: false, reason: "a string ending in '...' (possibly cut by saferepr)" };
  if (printed !== text.trim()) return { ok: false, reason: 'the text is not what repr writes for the value it reads as' };
  return { ok: true, value };
}

function hasCutString(v: unknown, depth: number): boolean {
  if (typeof v === 'string') return v.endsWith('...');
  if (v === null || typeof v !== 'object' || depth > MAX_DEPTH) return false;
  if (Array.isArray(v)) return v.some((item) => hasCutString(item, depth + 1));
  return Object.entries(v).some(([k, item]) => k.endsWith('...') || hasCutString(item, depth + 1));
}
