/**
 * Numbers as Python writes them: ints of any size arrive exact (bigint past 2^53), the bare NaN / Infinity /
 * -Infinity of json.dumps's allow_nan default are read, and everything else reads as JSON.parse reads it. Covers
 * every reader of stored or received JSON: message bodies (v2, v1), envelopes, result metas, the SQLite and
 * PostgreSQL result rows, and msgpack.
 */
import { randomUUID } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PostgresBackend } from '../../src/backend/postgres/index.js';
import { SqliteBackend } from '../../src/backend/sqlite/index.js';
import { DecodeError, EncodeError } from '../../src/errors/index.js';
import { parsePyJson } from '../../src/protocol/json-parse.js';
import { jsonColumnText, parseJson, pyDumps } from '../../src/protocol/json.js';
import { decodeTaskMessage, peekMessageIdentity } from '../../src/protocol/message.js';
import { decodeEnvelope } from '../../src/protocol/envelope.js';
import { decodeResultMeta, encodeResultMeta } from '../../src/protocol/result-meta.js';
import { createSerializerRegistry, msgpackSerializer } from '../../src/protocol/serializers.js';
import type { ResultMeta } from '../../src/protocol/types.js';
import { sqliteApp, tempDir } from '../helpers.js';
import { PYTHON, pingPostgres, requireService } from '../services.js';

const BIG = 2n ** 64n + 1n;

/** Python's own json.dumps of each expression (allow_nan default), to read exactly what Python writes. */
function pythonDumps(expressions: string[]): string[] {
  const code = `import json, sys\nfor e in sys.argv[1:]: print(json.dumps(eval(e)))`;
  const out = spawnSync(PYTHON, ['-c', code, ...expressions], { encoding: 'utf8' });
  if (out.status !== 0) throw new Error(`python failed: ${out.stderr}`);
  return out.stdout.trimEnd().split('\n');
}
const hasPython = spawnSync(PYTHON, ['-c', 'import json'], { encoding: 'utf8' }).status === 0;

describe('parseJson: integers', () => {
  it('keeps every digit of integers outside the safe range as bigint', () => {
    expect(parseJson('18446744073709551617')).toBe(BIG);
    expect(parseJson('-18446744073709551617')).toBe(-BIG);
    expect(parseJson('[9007199254740992, -9007199254740992]')).toEqual([2n ** 53n, -(2n ** 53n)]);
    expect(parseJson('{"a": {"b": [340282366920938463463374607431768211457]}}')).toEqual({
      a: { b: [2n ** 128n + 1n] },
    });
    expect(parseJson(`[${'9'.repeat(400)}]`)).toEqual([10n ** 400n - 1n]);
  });

  it('leaves integers within the safe range as numbers, so ordinary payloads are unchanged', () => {
    const text = '[9007199254740991, -9007199254740991, 1234567890123456, 0, 5]';
    expect(parseJson(text)).toEqual([9007199254740991, -9007199254740991, 1234567890123456, 0, 5]);
    expect(parseJson(text)).toEqual(JSON.parse(text));
  });

  it('reads a big integer in any position: first, last, after a colon, between spaces, without spaces', () => {
    expect(parseJson('{"x":18446744073709551617,"y":[1,18446744073709551617]}')).toEqual({ x: BIG, y: [1, BIG] });
    expect(parseJson('[\n\t18446744073709551617\r\n]')).toEqual([BIG]);
  });

  it('leaves digits inside strings alone, whatever they look like', () => {
    const text = '{"card": "4111111111111111111", "id": "x 18446744073709551617", "k": ":18446744073709551617"}';
    expect(parseJson(text)).toEqual(JSON.parse(text));
  });
});

describe('parseJson: floats and the tokens Python writes for them', () => {
  it('reads NaN, Infinity and -Infinity wherever a value may stand', () => {
    const v = parseJson('{"a": NaN, "b": [Infinity, -Infinity], "c": {"d": NaN}}') as Record<string, unknown>;
    expect(v.a).toBeNaN();
    expect(v.b).toEqual([Infinity, -Infinity]);
    expect((v.c as { d: number }).d).toBeNaN();
    expect(parseJson('NaN')).toBeNaN();
    expect(parseJson(' -Infinity ')).toBe(-Infinity);
  });

  it('reads floats exactly as JSON.parse does, on either path', () => {
    const floats = ['0.1', '-0.0', '-0', '1e400', '-1e400', '5e-324', '1.7976931348623157e+308', '0.30000000000000004', '1E5', '2.5e-07', '123456789012345678.5', '1e16', '-1.5E+20'];
    for (const f of floats) {
      expect(Object.is(parseJson(f), JSON.parse(f)), f).toBe(true);
      // Beside a NaN the exact reader does the work; it must agree too.
      const [viaReader] = parseJson(`[${f}, NaN]`) as unknown[];
      expect(Object.is(viaReader, JSON.parse(f)), `${f} beside NaN`).toBe(true);
      expect(Object.is(parsePyJson(f), JSON.parse(f)), `${f} read exactly`).toBe(true);
    }
  });

  it('gives the same values as JSON.parse for any standard JSON (strings, escapes, keys, nesting)', () => {
    const docs = [
      '{"a": "caf\\u00e9 \\ud83c\\udf89", "b": "q\\"b\\\\n\\/", "\\u0041": [true, false, null, {}, []]}',
      '{"a": 1, "b": 2, "a": 3}',
      '"\\ud800"',
      '[[[[[[[[[[1]]]]]]]]]]',
      ' \t\n\r{ "x" : [ 1 , 2 ] } \n',
      '{"constructor": 1, "toString": 2, "1": "one", "0": "zero"}',
    ];
    for (const d of docs) {
      expect(parsePyJson(d), d).toEqual(JSON.parse(d));
      expect(Object.keys(parsePyJson(d) as object), d).toEqual(Object.keys(JSON.parse(d) as object));
    }
  });

  it('agrees with JSON.parse on 1,000 generated documents, each written compactly and in Python\'s style', () => {
    // A fixed-seed generator: the same documents on every run, so a disagreement is reproducible.
    let seed = 0x9e3779b9;
    const rand = () => ((seed = (Math.imul(seed ^ (seed >>> 15), 0x2c1b3c6d) + 0x6d2b79f5) >>> 0) / 2 ** 32);
    const pick = <T,>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
    const chars = ['a', 'Z', ' ', '"', '\\', '/', '\n', '\t', '\u0001', 'é', '日', '\ud83c\udf89', '\ud800', '0', '-'];
    const gen = (depth: number): unknown => {
      const kind = depth > 4 ? rand() * 4 : rand() * 6;
      if (kind < 1) return Array.from({ length: Math.floor(rand() * 8) }, () => pick(chars)).join('');
      if (kind < 2) return pick([0, -0, 1, -1, 2 ** 53 - 1, -(2 ** 53 - 1), 0.1, 1e-7, 1e20, -(2 ** 60), 1.5e300, 5e-324, rand() * 1e6, -rand()]);
      if (kind < 3) return Math.floor((rand() - 0.5) * 2 ** 52);
      if (kind < 4) return pick([true, false, null]);
      if (kind < 5) return Array.from({ length: Math.floor(rand() * 5) }, () => gen(depth + 1));
      return Object.fromEntries(Array.from({ length: Math.floor(rand() * 5) }, () => [pick(['a', 'b', '1', '__proto__', 'é', '']), gen(depth + 1)]));
    };
    // The one intended difference: an integer lexeme past 2^53 is a bigint of exactly its digits. Both writers
    // put integral doubles below 1e21 as their shortest digits (String(v)); from 1e21 JSON.stringify uses an
    // exponent (a float) and pyDumps the double's exact value (BigInt(v)), which Python reads as an int too.
    const unsafeInt = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && !Number.isSafeInteger(v);
    const stringified = (_key: string, v: unknown) => (unsafeInt(v) && Math.abs(v) < 1e21 ? BigInt(String(v)) : v);
    const pythonStyle = (_key: string, v: unknown) =>
      unsafeInt(v) ? (Math.abs(v) < 1e21 ? BigInt(String(v)) : BigInt(v)) : v;
    for (let i = 0; i < 1000; i++) {
      const doc = gen(0);
      for (const [text, reviver] of [[JSON.stringify(doc), stringified], [pyDumps(doc), pythonStyle]] as const) {
        const expected = JSON.parse(text, reviver) as unknown;
        const actual = parsePyJson(text);
        expect(actual, text).toStrictEqual(expected);
        expect(pyDumps(actual), text).toBe(pyDumps(expected));
      }
    }
  });

  it('makes __proto__ an own property, as JSON.parse does, never the prototype', () => {
    const v = parsePyJson('{"__proto__": {"polluted": true}, "n": NaN}') as Record<string, unknown>;
    expect(Object.getPrototypeOf(v)).toBe(Object.prototype);
    expect(Object.prototype.hasOwnProperty.call(v, '__proto__')).toBe(true);
    expect((v as { polluted?: unknown }).polluted).toBeUndefined();
  });

  it.skipIf(!hasPython)("reads Python's json.dumps of big ints, NaN and infinities exactly", () => {
    const texts = pythonDumps([
      '[2**64 + 1, -(2**64 + 1), 2**53 + 1, 2**53 - 1, 10**30]',
      "{'x': float('nan'), 'y': [float('inf'), float('-inf')], 'z': 0.1, 'w': -0.0, 'v': 1e308 * 10}",
    ]);
    expect(parseJson(texts[0]!)).toEqual([BIG, -BIG, 2n ** 53n + 1n, 2 ** 53 - 1, 10n ** 30n]);
    const v = parseJson(texts[1]!) as Record<string, unknown>;
    expect(v.x).toBeNaN();
    expect(v.y).toEqual([Infinity, -Infinity]);
    expect(v.z).toBe(0.1);
    expect(Object.is(v.w, -0)).toBe(true);
    expect(v.v).toBe(Infinity);
  });
});

describe('parseJson: what is not JSON', () => {
  it('rejects malformed text with a DecodeError saying what was expected and where', () => {
    const cases: [string, RegExp][] = [
      ['{"a": NaN', /invalid JSON: unexpected end of JSON text: expected ',' or '}'/],
      ['[18446744073709551617,]', /expected a JSON value at position 22 \(found "]"\)/],
      ['nan', /expected a JSON value at position 0/],
      ['[inf]', /expected a JSON value at position 1/],
      ['"abc', /unterminated string/],
      ['"a\u0001b"', /control character in a string/],
      ['["\\x"]', /invalid escape in the string starting at position 1/],
      ['NaNa', /unexpected text after the JSON value at position 3/],
      ['01', /unexpected text after the JSON value at position 1/],
      ['-', /invalid number at position 0/],
      ['[1 2]', /expected ',' or ']' in an array at position 3/],
      ['{1: 2}', /expected a property name in double quotes at position 1/],
      ['{"a" 1}', /expected ':' after a property name at position 5/],
      ['', /unexpected end of JSON text/],
      ['\ufeff[1]', /expected a JSON value at position 0/],
    ];
    for (const [text, message] of cases) {
      expect(() => parseJson(text), JSON.stringify(text)).toThrow(DecodeError);
      expect(() => parseJson(text), JSON.stringify(text)).toThrow(message);
    }
  });

  it('reports nesting deeper than the reader can follow as a DecodeError, not a stack overflow', () => {
    const deep = `${'['.repeat(100_000)}NaN${']'.repeat(100_000)}`;
    expect(() => parseJson(deep, 'JSON body')).toThrow(/invalid JSON body: JSON nested too deeply to read/);
  });
});

describe('task messages', () => {
  const registry = createSerializerRegistry(['json', 'msgpack']);
  const headers = (id: string) => ({ lang: 'py', task: 't.big', id, argsrepr: '(18446744073709551617,)' });

  it('a protocol 2 body hands the task exact big integers, NaN and infinities', () => {
    const id = randomUUID();
    const body = '[[18446744073709551617, NaN, 5], {"k": -Infinity, "small": 9007199254740991}, {"callbacks": null, "errbacks": null, "chain": null, "chord": null}]';
    const req = decodeTaskMessage(
      { headers: headers(id), properties: {}, body: Buffer.from(body), contentType: 'application/json', contentEncoding: 'utf-8' },
      registry,
    );
    expect(req.args[0]).toBe(BIG);
    expect(req.args[1]).toBeNaN();
    expect(req.args[2]).toBe(5);
    expect(req.kwargs).toEqual({ k: -Infinity, small: 9007199254740991 });
  });

  it('a protocol 1 body does too, and its id is found by the peek used for undecodable messages', () => {
    const id = randomUUID();
    const body = `{"id": "${id}", "task": "t.big", "args": [18446744073709551617, Infinity], "kwargs": {}, "retries": 0}`;
    const msg = { headers: {}, properties: {}, body: Buffer.from(body), contentType: 'application/json', contentEncoding: 'utf-8' };
    expect(decodeTaskMessage(msg, registry).args).toEqual([BIG, Infinity]);
    const withNaN = { ...msg, body: Buffer.from(`{"id": "${id}", "task": 5, "args": [NaN]}`) };
    expect(peekMessageIdentity(withNaN)).toEqual({ taskId: id, taskName: null });
  });

  it('a Redis envelope whose headers carry a big integer keeps it', () => {
    const env = decodeEnvelope(
      '{"body": "W10=", "content-encoding": "utf-8", "content-type": "application/json", "headers": {"custom": 18446744073709551617, "ratio": NaN}, "properties": {"body_encoding": "base64"}}',
    );
    expect(env.headers.custom).toBe(BIG);
    expect(env.headers.ratio).toBeNaN();
  });

  it('a bigint argument is written as the exact integer Python reads', () => {
    expect(pyDumps([[BIG, -BIG, 5n], {}])).toBe('[[18446744073709551617, -18446744073709551617, 5], {}]');
  });
});

describe('result metas', () => {
  it('a stored result holding NaN or a big integer is read, and its state with it', () => {
    const id = randomUUID();
    const text = `{"status": "SUCCESS", "result": {"big": 18446744073709551617, "bad": NaN, "inf": [Infinity, -Infinity]}, "traceback": null, "children": [], "date_done": "2024-05-01T12:00:00.000000", "task_id": "${id}"}`;
    const meta = decodeResultMeta(Buffer.from(text));
    expect(meta.status).toBe('SUCCESS');
    const result = meta.result as { big: bigint; bad: number; inf: number[] };
    expect(result.big).toBe(BIG);
    expect(result.bad).toBeNaN();
    expect(result.inf).toEqual([Infinity, -Infinity]);
  });

  it('a bigint result round-trips through the meta text exactly', () => {
    const id = randomUUID();
    const meta = decodeResultMeta(
      `{"status": "SUCCESS", "result": [18446744073709551617, 1], "traceback": null, "children": [], "date_done": null, "task_id": "${id}"}`,
    );
    expect(encodeResultMeta(meta)).toContain('"result": [18446744073709551617, 1]');
  });
});

describe('writing what was read', () => {
  it('a meta whose result or extended args hold NaN or an infinity is refused with EncodeError naming the path', () => {
    const id = randomUUID();
    const meta = {
      status: 'SUCCESS', result: [1, BIG], traceback: null, children: [], date_done: null,
      name: 't', args: [BIG], kwargs: {}, worker: 'w', retries: 0, queue: 'q', task_id: id,
    };
    expect(() => encodeResultMeta({ ...meta, result: [NaN, BIG] })).toThrow(EncodeError);
    expect(() => encodeResultMeta({ ...meta, result: [NaN, BIG] })).toThrow('cannot encode the result: NaN at result[0]');
    expect(() => encodeResultMeta({ ...meta, args: [BIG, -Infinity] })).toThrow('cannot encode the arguments: -Infinity at args[1]');
    expect(() => encodeResultMeta({ ...meta, kwargs: { k: Infinity } })).toThrow('cannot encode the keyword arguments: Infinity at kwargs.k');
  });

  it('a meta whose result and extended args hold bigints encodes, and decodes back to the same values', () => {
    const id = randomUUID();
    const text = encodeResultMeta({
      status: 'SUCCESS', result: [0.5, BIG], traceback: null, children: [], date_done: null,
      name: 't', args: [-BIG, BIG], kwargs: { k: 1 }, worker: 'w', retries: 0, queue: 'q', task_id: id,
    });
    expect(text).toContain('"result": [0.5, 18446744073709551617]');
    expect(text).toContain('"args": [-18446744073709551617, 18446744073709551617], "kwargs": {"k": 1}');
    const meta = decodeResultMeta(text);
    expect(meta.args).toEqual([-BIG, BIG]);
    expect((meta.result as unknown[])[1]).toBe(BIG);
  });

  it('message bodies still refuse NaN: a producer gets a TypeError at once rather than a message strict readers reject', () => {
    expect(() => pyDumps([NaN])).toThrow(TypeError);
  });

  it('table stores write bigints exactly and keep JSON.stringify for everything else', () => {
    expect(jsonColumnText({ a: [1, 'é'], n: 2 })).toBe(JSON.stringify({ a: [1, 'é'], n: 2 }));
    expect(jsonColumnText({ big: BIG, n: null, f: 0.1 })).toBe('{"big": 18446744073709551617, "n": null, "f": 0.1}');
    expect(jsonColumnText(undefined)).toBe('null');
  });
});

describe('msgpack', () => {
  const hex = (b: Buffer) => b.toString('hex');

  it('reads the 64-bit integers Python packs exactly, narrowing safe ones to numbers', () => {
    expect(msgpackSerializer.decode(Buffer.from('cfffffffffffffffff', 'hex'), 'binary')).toBe(2n ** 64n - 1n);
    expect(msgpackSerializer.decode(Buffer.from('d38000000000000000', 'hex'), 'binary')).toBe(-(2n ** 63n));
    expect(msgpackSerializer.decode(Buffer.from('cf001fffffffffffff', 'hex'), 'binary')).toBe(2 ** 53 - 1);
    expect(msgpackSerializer.decode(Buffer.from('cb7ff8000000000000', 'hex'), 'binary')).toBeNaN();
  });

  it('writes bigints within 64 bits as msgpack integers', () => {
    expect(hex(msgpackSerializer.encode(2n ** 64n - 1n))).toBe('cfffffffffffffffff');
    expect(hex(msgpackSerializer.encode(-(2n ** 63n)))).toBe('d38000000000000000');
    expect(msgpackSerializer.decode(msgpackSerializer.encode([2n ** 64n - 1n, 7n]), 'binary')).toEqual([2n ** 64n - 1n, 7]);
  });

  it('refuses an integer msgpack cannot hold instead of writing its low 64 bits', () => {
    expect(() => msgpackSerializer.encode([BIG])).toThrow(RangeError);
    expect(() => msgpackSerializer.encode({ x: BIG })).toThrow(/18446744073709551617 is outside msgpack's 64-bit range .* json serializer/);
    expect(() => msgpackSerializer.encode(-(2n ** 63n) - 1n)).toThrow(RangeError);
  });
});

/**
 * The table backends store result text as written by whoever wrote it (Celerity, Python, a hand or another tool);
 * a row holding Python's numbers is written with SQL here and read back through get, mget and waitFor.
 */
function successMeta(taskId: string): ResultMeta {
  return { status: 'SUCCESS', result: 0, traceback: null, children: [], date_done: '2024-05-01T12:00:00.000000', task_id: taskId };
}

async function readsEveryWay(backend: SqliteBackend | PostgresBackend, id: string, expected: unknown): Promise<void> {
  expect((await backend.get(id))?.result).toEqual(expected);
  expect((await backend.mget([id]))[0]?.result).toEqual(expected);
  expect((await backend.waitFor(id, { timeoutMs: 10_000 })).result).toEqual(expected);
}

describe('SQLite result backend', () => {
  const tmp = tempDir();
  const file = path.join(tmp.dir, 'results.db');
  const backend = new SqliteBackend({ path: file, resultExpires: 0 });
  beforeAll(() => backend.connect());
  afterAll(async () => {
    await backend.close();
    tmp.cleanup();
  });

  it('reads big integers exactly and NaN as NaN in results, args and kwargs, with the state readable', async () => {
    const id = randomUUID();
    await backend.set(id, { ...successMeta(id), name: 't', args: [], kwargs: {}, worker: null, retries: 0, queue: null });
    const db = new Database(file);
    db.prepare('UPDATE celery_results SET result = ?, args = ?, kwargs = ? WHERE task_id = ?').run(
      '{"big": 18446744073709551617, "nan": NaN}',
      '[18446744073709551617]',
      '{"k": -Infinity}',
      id,
    );
    db.close();
    const meta = await backend.get(id);
    expect(meta?.status).toBe('SUCCESS');
    expect(meta?.args).toEqual([BIG]);
    expect(meta?.kwargs).toEqual({ k: -Infinity });
    const result = meta?.result as { big: bigint; nan: number };
    expect(result.big).toBe(BIG);
    expect(result.nan).toBeNaN();
    const waited = await backend.waitFor(id, { timeoutMs: 10_000 });
    expect((waited.result as { big: bigint }).big).toBe(BIG);
    expect((await backend.mget([id]))[0]?.args).toEqual([BIG]);
  });

  it('stores and reads back bigint results and args exactly', async () => {
    const id = randomUUID();
    await backend.set(id, { ...successMeta(id), result: { big: BIG }, name: 't', args: [-BIG, 1], kwargs: { k: BIG }, worker: null, retries: 0, queue: null });
    await readsEveryWay(backend, id, { big: BIG });
    expect(await backend.get(id)).toMatchObject({ args: [-BIG, 1], kwargs: { k: BIG } });
  });

  it('a task on the embedded store receives a bigint argument exactly and its result is stored', async () => {
    const dir = tempDir();
    const app = sqliteApp(dir.dir);
    app.task('t.describe', (x: unknown) => [typeof x, String(x), x]);
    const worker = app.worker();
    await worker.start();
    try {
      const r = await app.sendTask('t.describe', [BIG]);
      expect(await r.get({ timeout: 10_000 })).toEqual(['bigint', '18446744073709551617', BIG]);
      expect((await r.meta())?.args).toEqual([BIG]);
    } finally {
      await worker.stop({ timeout: 0 });
      await app.close();
      dir.cleanup();
    }
  });

  it('still hands back a value that is not JSON as its text, rather than failing the whole result', async () => {
    const id = randomUUID();
    await backend.set(id, successMeta(id));
    const db = new Database(file);
    db.prepare('UPDATE celery_results SET result = ? WHERE task_id = ?').run('not json {', id);
    db.close();
    await readsEveryWay(backend, id, 'not json {');
  });
});

const URL_BASE = 'postgresql://postgres@127.0.0.1:5432/test';
const postgres = await requireService('PostgreSQL', () => pingPostgres(URL_BASE));

describe.skipIf(!postgres.ok)(`PostgreSQL result backend${postgres.ok ? '' : ` (skipped: ${postgres.reason})`}`, () => {
  const schema = `celerity_numbers_${randomUUID().replace(/-/g, '').slice(0, 16)}`;
  const backend = new PostgresBackend({ url: `${URL_BASE}?schema=${schema}`, resultExpires: 3600 });
  const client = new pg.Client({ connectionString: URL_BASE });

  beforeAll(async () => {
    await backend.connect();
    await client.connect();
  });
  afterAll(async () => {
    await backend.close();
    await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    await client.end();
  });

  it('reads json columns exactly: results, args, kwargs, saved groups', async () => {
    const id = randomUUID();
    await backend.set(id, { ...successMeta(id), name: 't', args: [], kwargs: {}, worker: null, retries: 0, queue: null });
    await client.query(
      `UPDATE ${schema}.celery_results SET result = $1::json, args = $2::json, kwargs = $3::json WHERE task_id = $4`,
      ['{"big": 18446744073709551617, "small": 9007199254740991, "f": 0.1}', '[-18446744073709551617]', '{"k": 340282366920938463463374607431768211457}', id],
    );
    await readsEveryWay(backend, id, { big: BIG, small: 9007199254740991, f: 0.1 });
    const meta = await backend.get(id);
    expect(meta?.args).toEqual([-BIG]);
    expect(meta?.kwargs).toEqual({ k: 2n ** 128n + 1n });

    const groupId = randomUUID();
    await backend.saveGroup(groupId, { result: [] });
    await client.query(`UPDATE ${schema}.celery_groups SET result = $1::json WHERE group_id = $2`, ['[18446744073709551617]', groupId]);
    expect(await backend.getGroup(groupId)).toEqual({ result: [BIG] });
  });

  it('stores bigint results, args and chord parts exactly, and refuses NaN (a json column cannot hold it)', async () => {
    const id = randomUUID();
    const nan = { ...successMeta(id), result: [BIG, NaN], name: 't', args: [BIG], kwargs: {}, worker: null, retries: 0, queue: null };
    await expect(backend.set(id, nan)).rejects.toThrow(new EncodeError('cannot encode the result: NaN at result[1]'));
    expect(await backend.get(id)).toBeNull();
    await backend.set(id, { ...nan, result: [BIG, null] });
    await readsEveryWay(backend, id, [BIG, null]);
    expect((await backend.get(id))?.args).toEqual([BIG]);
    const groupId = randomUUID();
    await backend.setChordSize(groupId, 1);
    const parts = await backend.chordPartReturn(groupId, { taskId: id, groupIndex: 0, status: 'SUCCESS', result: -BIG });
    expect(parts?.map((p) => p.result)).toEqual([-BIG]);
  });

  it('leaves columns of other types as node-postgres reads them', async () => {
    const id = randomUUID();
    await backend.set(id, { ...successMeta(id), name: 't', args: [1], kwargs: {}, worker: 'w', retries: 3, queue: 'q' });
    const meta = await backend.get(id);
    expect(meta).toMatchObject({ status: 'SUCCESS', retries: 3, args: [1], date_done: '2024-05-01T12:00:00.000000' });
    expect(await backend.incr(`numbers-${id}`, 5)).toBe(5);
  });
});
