import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { argsFromRepr, kwargsFromRepr, parsePyLiteral } from '../../src/protocol/py-literal.js';
import { argsRepr, kwargsRepr, pyRepr } from '../../src/protocol/repr.js';
import { PYTHON, requireService } from '../services.js';

function value(text: string): unknown {
  const r = parsePyLiteral(text);
  if (!r.ok) throw new Error(`refused ${text}: ${r.reason}`);
  return r.value;
}

function refusal(text: string): string {
  const r = parsePyLiteral(text);
  if (r.ok) throw new Error(`accepted ${text} as ${JSON.stringify(r.value)}`);
  return r.reason;
}

describe('parsePyLiteral: scalars', () => {
  it('reads None, True and False', () => {
    expect(value('None')).toBeNull();
    expect(value('True')).toBe(true);
    expect(value(' False ')).toBe(false);
  });

  it('reads ints, signed, with underscores and in other bases', () => {
    expect(value('0')).toBe(0);
    expect(value('42')).toBe(42);
    expect(value('-7')).toBe(-7);
    expect(value('+ 7')).toBe(7);
    expect(value('1_000_000')).toBe(1_000_000);
    expect(value('0x1F')).toBe(31);
    expect(value('0o17')).toBe(15);
    expect(value('0b101')).toBe(5);
    expect(value('00')).toBe(0);
  });

  it('reads big ints as numbers when a double holds them exactly, and refuses the others', () => {
    expect(value('9007199254740991')).toBe(Number.MAX_SAFE_INTEGER);
    expect(value('1152921504606846976')).toBe(2 ** 60);
    expect(value('-1152921504606846976')).toBe(-(2 ** 60));
    // The digits JavaScript writes for 2 ** 60, which JSON.parse reads as that double.
    expect(value('1152921504606847000')).toBe(2 ** 60);
    expect(refusal('9007199254740993')).toMatch(/cannot hold exactly/);
    expect(refusal('123456789012345678901234567890123456789')).toMatch(/cannot hold exactly/);
  });

  it('reads floats in every form Python writes and accepts', () => {
    expect(value('1.5')).toBe(1.5);
    expect(value('-0.25')).toBe(-0.25);
    expect(value('1e+16')).toBe(1e16);
    expect(value('1.5e-07')).toBe(1.5e-7);
    expect(value('1.')).toBe(1);
    expect(value('.5')).toBe(0.5);
    expect(value('1E3')).toBe(1000);
    expect(Object.is(value('-0.0'), -0)).toBe(true);
  });

  it('refuses inf, nan, overflowing floats, complex numbers and malformed numbers', () => {
    expect(refusal('inf')).toMatch(/non-finite/);
    expect(refusal('-inf')).toMatch(/number expected/);
    expect(refusal('nan')).toMatch(/non-finite/);
    expect(refusal('1e400')).toMatch(/beyond the double range/);
    expect(refusal('1j')).toMatch(/complex/);
    expect(refusal('2+3j')).toMatch(/after the value/);
    expect(refusal('012')).toMatch(/leading zeros/);
    expect(refusal('1_')).toMatch(/malformed/);
    expect(refusal('1abc')).toMatch(/malformed/);
    expect(refusal('--1')).toMatch(/number expected/);
  });
});

describe('parsePyLiteral: strings', () => {
  it('reads both quotes, triple quotes, prefixes and adjacent literals', () => {
    expect(value("'a'")).toBe('a');
    expect(value('"it\'s"')).toBe("it's");
    expect(value("'say \"hi\"'")).toBe('say "hi"');
    expect(value("'''a'b\nc'''")).toBe("a'b\nc");
    expect(value('"""x"y"""')).toBe('x"y');
    expect(value("u'x'")).toBe('x');
    expect(value("'a' \"b\"")).toBe('ab');
    expect(value("r'a\\nb'")).toBe('a\\nb');
    expect(value("r'a\\'b'")).toBe("a\\'b");
  });

  it("applies Python's escapes", () => {
    expect(value(String.raw`'\\ \' \" \a \b \f \n \r \t \v'`)).toBe('\\ \' " \x07 \b \f \n \r \t \v');
    expect(value(String.raw`'\x00\xe9\u20ac\U0001f600'`)).toBe('\x00é€😀');
    expect(value(String.raw`'\101\0\7'`)).toBe('A\x00\x07');
    expect(value(String.raw`'\q'`)).toBe('\\q');
    expect(value("'a\\\nb'")).toBe('ab');
    expect(value(String.raw`'\ud800'`)).toBe('\ud800');
  });

  it('refuses bytes, f-strings, unknown prefixes, broken escapes and unterminated strings', () => {
    expect(refusal("b'abc'")).toMatch(/bytes/);
    expect(refusal("rb'abc'")).toMatch(/bytes/);
    expect(refusal("f'{x}'")).toMatch(/f-string/);
    expect(refusal("ur'x'")).toMatch(/unknown string prefix/);
    expect(refusal(String.raw`'\x4'`)).toMatch(/truncated \\x/);
    expect(refusal(String.raw`'\U00110000'`)).toMatch(/beyond U\+10FFFF/);
    expect(refusal(String.raw`'\N{BULLET}'`)).toMatch(/\\N/);
    expect(refusal("'abc")).toMatch(/unterminated/);
    expect(refusal("'a\nb'")).toMatch(/newline/);
  });
});

describe('parsePyLiteral: containers', () => {
  it('reads tuples and lists as arrays, trailing commas included', () => {
    expect(value('()')).toEqual([]);
    expect(value('(1,)')).toEqual([1]);
    expect(value('(1, 2)')).toEqual([1, 2]);
    expect(value('(1)')).toBe(1);
    expect(value('[]')).toEqual([]);
    expect(value('[1, [2, (3,)], ]')).toEqual([1, [2, [3]]]);
    expect(value('(\n  1,\n  2\n)')).toEqual([1, 2]);
  });

  it('reads dicts with string keys, the last of a repeated key winning as in Python', () => {
    expect(value('{}')).toEqual({});
    expect(value("{'a': 1, 'b': {'c': [None]}}")).toEqual({ a: 1, b: { c: [null] } });
    expect(value("{'a': 1, 'a': 2}")).toEqual({ a: 2 });
    const proto = value("{'__proto__': 1}") as Record<string, unknown>;
    expect(Object.getPrototypeOf(proto)).toBe(Object.prototype);
    expect(Object.keys(proto)).toEqual(['__proto__']);
  });

  it('refuses sets, non-string keys, missing separators and deep nesting', () => {
    expect(refusal('{1, 2}')).toMatch(/a set/);
    expect(refusal("{'a'}")).toMatch(/a set/);
    expect(refusal('{1: 2}')).toMatch(/not a string/);
    expect(refusal("{('a',): 2}")).toMatch(/not a string/);
    expect(refusal('[1 2]')).toMatch(/',' or ']' expected/);
    expect(refusal("{'a' 1}")).toMatch(/':' expected/);
    expect(refusal('[1, 2')).toMatch(/',' or ']' expected at 5/);
    expect(refusal('['.repeat(500) + ']'.repeat(500))).toMatch(/nesting deeper/);
  });

  it('refuses calls, object reprs, names, truncated reprs and empty text', () => {
    expect(refusal('(Foo(1),)')).toMatch(/a name \("Foo"\)/);
    expect(refusal('set()')).toMatch(/a name/);
    expect(refusal('(<object object at 0x7f2a>,)')).toMatch(/object repr/);
    expect(refusal("('aaaa...', ...)")).toMatch(/ellipsis/);
    expect(refusal("['a', 'b', ...]")).toMatch(/ellipsis/);
    expect(refusal("('abc")).toMatch(/unterminated/);
    expect(refusal('x')).toMatch(/a name/);
    expect(refusal('')).toMatch(/end of text/);
    expect(refusal('1 2')).toMatch(/after the value/);
    expect(refusal('1 + 1')).toMatch(/after the value/);
  });
});

describe('argsFromRepr / kwargsFromRepr', () => {
  it('give the exact arguments of argsrepr and kwargsrepr headers', () => {
    expect(argsFromRepr('(1, 2)')).toEqual({ ok: true, value: [1, 2] });
    expect(argsFromRepr("('a', [None, True], {'k': 1.5})")).toEqual({ ok: true, value: ['a', [null, true], { k: 1.5 }] });
    expect(argsFromRepr('()')).toEqual({ ok: true, value: [] });
    expect(kwargsFromRepr("{'a': (1,)}").ok).toBe(false);
    expect(kwargsFromRepr("{'a': [1]}")).toEqual({ ok: true, value: { a: [1] } });
    expect(kwargsFromRepr('{}')).toEqual({ ok: true, value: {} });
  });

  it('refuse what is not a tuple, not a dict, not printed by repr, or cut by saferepr', () => {
    expect(argsFromRepr('1')).toEqual({ ok: false, reason: 'args must be a tuple or a list' });
    expect(kwargsFromRepr('[1]')).toEqual({ ok: false, reason: 'kwargs must be a dict' });
    // saferepr leaves a backslash unescaped: the text reads back as another string.
    expect(argsRepr(['a\\b'])).toBe("('a\\b',)");
    expect(argsFromRepr(argsRepr(['a\\b'])).ok).toBe(false);
    // A long string is cut back to its last space and marked with '...', and the rest still prints: the text parses.
    const cut = argsRepr(['a ' + 'x'.repeat(2000), 2]);
    expect(cut).toBe("('a...', 2)");
    expect(argsFromRepr(cut)).toEqual({ ok: false, reason: "a string ending in '...' (possibly cut by saferepr)" });
    // Too many arguments: the budget runs out and saferepr writes ', ...'.
    expect(argsFromRepr(argsRepr(Array.from({ length: 600 }, (_, i) => i))).ok).toBe(false);
    // Nested deeper than saferepr's 3 levels prints as [...].
    expect(argsFromRepr(argsRepr([[[[1]]]])).ok).toBe(false);
    expect(argsFromRepr('(Point(x=1),)').ok).toBe(false);
    expect(argsFromRepr('[1]').ok).toBe(false);
  });
});

/** JSON data as a Python peer sees it: -0 is written `0` by repr, so it cannot come back as -0. */
const jsonData = fc.jsonValue().map((v) => JSON.parse(JSON.stringify(v)) as unknown);

describe('parsePyLiteral against repr.ts (property)', () => {
  it('reads back every repr of JSON data', () => {
    fc.assert(
      fc.property(jsonData, (v) => {
        const r = parsePyLiteral(pyRepr(v));
        expect(r).toEqual({ ok: true, value: v });
      }),
      { numRuns: 2000 },
    );
  });

  it('reads back strings of any code points', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), (s) => {
        expect(parsePyLiteral(pyRepr(s))).toEqual({ ok: true, value: s });
      }),
      { numRuns: 2000 },
    );
  });

  it('reads back every double', () => {
    fc.assert(
      fc.property(fc.double({ noNaN: true, noDefaultInfinity: true }), (n) => {
        const r = parsePyLiteral(pyRepr(n));
        expect(r).toEqual({ ok: true, value: n === 0 ? 0 : n });
      }),
      { numRuns: 2000 },
    );
  });

  it('argsFromRepr/kwargsFromRepr give back the arguments exactly or refuse, never another value', () => {
    const args = fc.array(jsonData, { maxLength: 6 });
    const kwargs = fc.dictionary(fc.string(), jsonData, { maxKeys: 6 });
    fc.assert(
      fc.property(args, kwargs, (a, k) => {
        const ra = argsFromRepr(argsRepr(a));
        if (ra.ok) expect(ra.value).toEqual(a);
        const rk = kwargsFromRepr(kwargsRepr(k));
        if (rk.ok) expect(rk.value).toEqual(k);
      }),
      { numRuns: 1000 },
    );
  });

  it('argsFromRepr reads back plain short arguments (no backslash, shallow, within the budget)', () => {
    const plainString = fc.string({ maxLength: 10 }).filter((s) => !s.includes('\\') && !s.endsWith('...'));
    const scalar = fc.oneof(fc.constant(null), fc.boolean(), fc.integer(), plainString, fc.double({ noNaN: true, noDefaultInfinity: true }).map((n) => (n === 0 ? 0 : n)));
    const item = fc.oneof(scalar, fc.array(scalar, { maxLength: 4 }), fc.dictionary(plainString, scalar, { maxKeys: 3 }));
    fc.assert(
      fc.property(fc.array(item, { maxLength: 4 }), (a) => {
        // Short enough that saferepr's 1024 budget never cuts it.
        fc.pre(argsRepr(a).length < 900);
        expect(argsFromRepr(argsRepr(a))).toEqual({ ok: true, value: a });
      }),
      { numRuns: 1000 },
    );
  });

  it('never throws, whatever the text', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 60 }), (s) => {
        const r = parsePyLiteral(s);
        expect(typeof r.ok).toBe('boolean');
      }),
      { numRuns: 3000 },
    );
  });
});

const python = await requireService('Python 3', async () => {
  const { spawnSync } = await import('node:child_process');
  const r = spawnSync(PYTHON, ['-c', 'import ast, json'], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${PYTHON} cannot run`);
});

/**
 * Python's own reading of each text: the value as JSON when ast.literal_eval accepts it and it is JSON data
 * (tuples as lists), else null. Floats as repr text, so that no reader rounds them on the way.
 */
const PY_READER = `
import ast, json, math, sys
def data(v):
    if v is None or isinstance(v, (bool, str)): return v
    if isinstance(v, int): return {'int': str(v)}
    if isinstance(v, float):
        if math.isinf(v) or math.isnan(v): raise ValueError
        return {'float': repr(v)}
    if isinstance(v, (list, tuple)): return [data(x) for x in v]
    if isinstance(v, dict):
        if not all(isinstance(k, str) for k in v): raise ValueError
        return {'dict': [[k, data(x)] for k, x in v.items()]}
    raise ValueError
out = []
for text in json.load(sys.stdin):
    try: out.append(data(ast.literal_eval(text)))
    except Exception: out.append('REFUSED')
print(json.dumps(out))
`;

function pyView(v: unknown): unknown {
  if (v === null || typeof v === 'boolean' || typeof v === 'string') return v;
  if (typeof v === 'number') return v;
  if (Array.isArray(v)) return v.map(pyView);
  return Object.fromEntries(Object.entries(v as object).map(([k, x]) => [k, pyView(x)]));
}

function fromPython(v: unknown): unknown {
  if (v === null || typeof v === 'boolean' || typeof v === 'string') return v;
  if (Array.isArray(v)) return v.map(fromPython);
  const o = v as { int?: string; float?: string; dict?: [string, unknown][] };
  if (o.int !== undefined) return Number(o.int);
  if (o.float !== undefined) return Number(o.float);
  const out: Record<string, unknown> = {};
  for (const [k, x] of o.dict!) Object.defineProperty(out, k, { value: fromPython(x), enumerable: true, writable: true, configurable: true });
  return out;
}

describe.skipIf(!python.ok)(`parsePyLiteral against Python's ast.literal_eval${python.ok ? '' : ` (skipped: ${python.reason})`}`, () => {
  it('accepts what Python reads as JSON data, with the same value, and nothing Python refuses', async () => {
    const samples = [
      'None', 'True', '(1, 2)', '(1,)', '()', '[]', "{'a': [1, (2, 3)]}", "'it\\'s'", '"a\\x41\\u20ac\\U0001F600"', "'\\101'",
      "'\\q'", "r'\\n'", "u'x'", "'a' 'b'", '1_000', '0x1f', '-5', '+5', '1.5e-07', '1e+16', '.5', '1.', '-0.0', "'''a\nb'''",
      "{'a': 1, 'a': 2}", '(1)', '[1, 2,]', "{'__proto__': 1}", '12345678901234567890', '9007199254740993',
      "b'x'", '{1, 2}', '{1: 2}', 'inf', 'nan', '1e400', '1j', 'Foo(1)', '(<object>,)', '...', "['a', ...]", '012', '--1',
      "'abc", '[1 2]', 'x', '', '1 + 1', "f'x'", "'\\N{BULLET}'", "'a\\\nb'", '0b101', '0o17', 'set()', '(1, 2', "{'a'}",
    ];
    const { spawnSync } = await import('node:child_process');
    const r = spawnSync(PYTHON, ['-c', PY_READER], { input: JSON.stringify(samples), encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    const pyValues = JSON.parse(r.stdout) as unknown[];
    for (const [i, text] of samples.entries()) {
      const ours = parsePyLiteral(text);
      const theirs = pyValues[i];
      if (ours.ok) {
        expect(theirs, `Python refused ${JSON.stringify(text)} which we read`).not.toBe('REFUSED');
        expect(pyView(ours.value), text).toEqual(fromPython(theirs));
      } else if (theirs !== 'REFUSED') {
        // The one refusal Python does not share: ints a double cannot hold, and \N{...} names.
        expect(ours.reason, text).toMatch(/cannot hold exactly|\\N/);
      }
    }
  });
});
