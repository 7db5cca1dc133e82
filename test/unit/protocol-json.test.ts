import { readFileSync } from 'node:fs';
import { describe, it, expect } from 'vitest';
import { DecodeError } from '../../src/errors/index.js';
import { parseJson, pyDumps } from '../../src/protocol/index.js';
import { pyFloatRepr } from '../../src/protocol/json.js';

const cases = JSON.parse(
  readFileSync(new URL('../golden/saferepr-cases.json', import.meta.url), 'utf8'),
) as { json_dumps: string[] };

describe('pyDumps', () => {
  it("reproduces Python's json.dumps for every captured value", () => {
    for (const text of cases.json_dumps) expect(pyDumps(JSON.parse(text))).toBe(text);
  });

  it('uses Python separators and keeps insertion order', () => {
    expect(pyDumps({ b: 1, a: [1, 2, { c: null }] })).toBe('{"b": 1, "a": [1, 2, {"c": null}]}');
    expect(pyDumps([])).toBe('[]');
    expect(pyDumps({})).toBe('{}');
    expect(pyDumps([true, false, null])).toBe('[true, false, null]');
  });

  it('escapes everything outside printable ASCII as lowercase \\u, astral characters as surrogate pairs', () => {
    expect(pyDumps('café 日本 🎉')).toBe('"caf\\u00e9 \\u65e5\\u672c \\ud83c\\udf89"');
    expect(pyDumps('\u007f\u0000\u001f')).toBe('"\\u007f\\u0000\\u001f"');
    expect(pyDumps('q"b\\n\nr\rt\tb\bf\f')).toBe('"q\\"b\\\\n\\nr\\rt\\tb\\bf\\f"');
    expect(pyDumps('\ud800')).toBe('"\\ud800"');
    expect(pyDumps({ 'clé': 1 })).toBe('{"cl\\u00e9": 1}');
  });

  it('prints numbers the way Python prints the decoded value', () => {
    expect(pyDumps([1e-7, 1.5e-10, 1e-5, 0.0001, 0.1, 123.456, -2.5])).toBe(
      '[1e-07, 1.5e-10, 1e-05, 0.0001, 0.1, 123.456, -2.5]',
    );
    expect(pyDumps([0, -0, 42, -7, 1e15, 2 ** 53])).toBe('[0, 0, 42, -7, 1000000000000000, 9007199254740992]');
    expect(pyDumps(1e21)).toBe('1000000000000000000000');
    expect(pyDumps(12345678901234567890n)).toBe('12345678901234567890');
  });

  it('skips undefined and functions in objects and nulls them in arrays, like JSON.stringify', () => {
    expect(pyDumps({ a: undefined, b: () => 1, c: 1 })).toBe('{"c": 1}');
    expect(pyDumps([undefined, () => 1])).toBe('[null, null]');
  });

  it('writes Dates as ISO strings and honours toJSON', () => {
    expect(pyDumps({ at: new Date(Date.UTC(2030, 0, 2, 3, 4, 5, 123)) })).toBe('{"at": "2030-01-02T03:04:05.123Z"}');
    expect(pyDumps({ toJSON: () => ['x'] })).toBe('["x"]');
  });

  it('refuses values JSON would lose or cannot express', () => {
    expect(() => pyDumps(Buffer.from('x'))).toThrow(/binary data/);
    expect(() => pyDumps(new Uint8Array(2))).toThrow(/binary data/);
    expect(() => pyDumps(new Map())).toThrow(/Map/);
    expect(() => pyDumps(new Set([1]))).toThrow(/Set/);
    expect(() => pyDumps(Number.NaN)).toThrow(/standard JSON/);
    expect(() => pyDumps([Number.POSITIVE_INFINITY])).toThrow(/standard JSON/);
    const loop: Record<string, unknown> = {};
    loop.self = loop;
    expect(() => pyDumps(loop)).toThrow(/circular/);
    expect(() => pyDumps(undefined)).toThrow(TypeError);
  });

  it('allows the same object twice when it is not a cycle', () => {
    const shared = { x: 1 };
    expect(pyDumps([shared, shared])).toBe('[{"x": 1}, {"x": 1}]');
  });
});

describe('pyFloatRepr', () => {
  it("matches Python's repr(float)", () => {
    expect(pyFloatRepr(1)).toBe('1.0');
    expect(pyFloatRepr(1e16)).toBe('1e+16');
    expect(pyFloatRepr(1.5e16)).toBe('1.5e+16');
    expect(pyFloatRepr(1e100)).toBe('1e+100');
    expect(pyFloatRepr(1.2345678901234568e17)).toBe('1.2345678901234568e+17');
    expect(pyFloatRepr(1e-7)).toBe('1e-07');
    expect(pyFloatRepr(0.5)).toBe('0.5');
    expect(pyFloatRepr(-0)).toBe('0.0');
    expect(pyFloatRepr(Number.NaN)).toBe('nan');
    expect(pyFloatRepr(Number.NEGATIVE_INFINITY)).toBe('-inf');
  });
});

describe('parseJson', () => {
  it('parses valid JSON', () => {
    expect(parseJson('{"a": [1, "\\u00e9"]}')).toEqual({ a: [1, 'é'] });
  });

  it('raises DecodeError naming what was read', () => {
    expect(() => parseJson('{"a": ', 'result meta')).toThrow(DecodeError);
    expect(() => parseJson('{"a": ', 'result meta')).toThrow(/invalid result meta/);
    expect(() => parseJson('')).toThrow(/invalid JSON/);
  });
});
