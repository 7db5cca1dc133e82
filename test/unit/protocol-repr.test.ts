import { readFileSync } from 'node:fs';
import { describe, it, expect } from 'vitest';
import { argsRepr, kwargsRepr, pyRepr, PyTuple, safeRepr } from '../../src/protocol/index.js';

interface ReprCase {
  kind: 'args' | 'kwargs';
  value: unknown;
  maxlen?: number;
  argsrepr?: string;
  kwargsrepr?: string;
  saferepr_nolimit?: string;
  repr?: string;
}

const { cases } = JSON.parse(readFileSync(new URL('../golden/saferepr-cases.json', import.meta.url), 'utf8')) as {
  cases: ReprCase[];
};

describe('argsRepr / kwargsRepr against Celery 5.2 saferepr', () => {
  it('matches every captured argsrepr and kwargsrepr', () => {
    let checked = 0;
    for (const c of cases) {
      if (c.kind === 'args') {
        expect(argsRepr(c.value as unknown[], c.maxlen ?? 1024)).toBe(c.argsrepr);
      } else {
        expect(kwargsRepr(c.value as Record<string, unknown>)).toBe(c.kwargsrepr);
      }
      checked++;
    }
    expect(checked).toBeGreaterThan(50);
  });

  it('matches saferepr without a length limit', () => {
    for (const c of cases) {
      if (c.saferepr_nolimit === undefined) continue;
      const value = c.kind === 'args' ? new PyTuple(c.value as unknown[]) : c.value;
      expect(safeRepr(value)).toBe(c.saferepr_nolimit);
    }
  });

  it('prints tuples the Python way', () => {
    expect(argsRepr([2, 3])).toBe('(2, 3)');
    expect(argsRepr([2])).toBe('(2,)');
    expect(argsRepr([])).toBe('()');
    expect(kwargsRepr({})).toBe('{}');
  });

  it('quotes like saferepr, not like repr: single quotes, only the quote escaped', () => {
    expect(argsRepr(["it's", 'a\nb', 'c\\d'])).toBe("('it\\'s', 'a\nb', 'c\\d')");
  });

  it('stops at three levels of nesting, the args tuple counting as one', () => {
    expect(kwargsRepr({ a: { b: { c: 1 } } })).toBe("{'a': {'b': {'c': 1}}}");
    expect(kwargsRepr({ a: { b: { c: { d: 1 } } } })).toBe("{'a': {'b': {'c': {...}}}}");
    expect(argsRepr([[[[1]]]])).toBe('([[[...]]],)');
    expect(argsRepr([{ a: { b: { c: 1 } } }])).toBe("({'a': {'b': {...}}},)");
  });

  it('counts code points, as Python does, when truncating', () => {
    const out = argsRepr(['🎉'.repeat(2000)]);
    expect(out).toBe(`('${'🎉'.repeat(1023)}...', ...`);
  });

  it('reads values as a Python peer would after JSON', () => {
    expect(kwargsRepr({ skip: undefined, at: new Date(Date.UTC(2030, 0, 1)) })).toBe(
      "{'at': '2030-01-01T00:00:00.000Z'}",
    );
    expect(argsRepr([undefined, null, true, 0.5])).toBe('(None, None, True, 0.5)');
  });
});

describe('pyRepr', () => {
  it("matches Python's repr for every captured value", () => {
    for (const c of cases) if (c.repr !== undefined) expect(pyRepr(c.value)).toBe(c.repr);
  });

  it('chooses double quotes only when the text has a single quote and no double quote', () => {
    expect(pyRepr("it's")).toBe('"it\'s"');
    expect(pyRepr('say "hi"')).toBe('\'say "hi"\'');
    expect(pyRepr('both \' and "')).toBe("'both \\' and \"'");
  });

  it('escapes non-printable characters and keeps printable non-ASCII', () => {
    expect(pyRepr('café\n\t\\')).toBe("'café\\n\\t\\\\'");
    expect(pyRepr('\u0000\u007f\u00a0\u200b\u{e0001}')).toBe("'\\x00\\x7f\\xa0\\u200b\\U000e0001'");
    expect(pyRepr('🎉')).toBe("'🎉'");
    expect(pyRepr('\udfff')).toBe("'\\udfff'");
  });

  it('prints constants, numbers and containers', () => {
    expect(pyRepr(null)).toBe('None');
    expect(pyRepr(undefined)).toBe('None');
    expect(pyRepr([true, false])).toBe('[True, False]');
    expect(pyRepr({ a: 1, b: [1e-7, 2.5] })).toBe("{'a': 1, 'b': [1e-07, 2.5]}");
    expect(pyRepr(Number.NaN)).toBe('nan');
    expect(pyRepr(new PyTuple([1]))).toBe('(1,)');
    expect(pyRepr(Buffer.from("a'\n\x00"))).toBe('b"a\'\\n\\x00"');
  });
});
