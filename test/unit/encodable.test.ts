/**
 * The result check: what a store can hold faithfully passes, anything else is named with its type and path, and
 * the check survives cycles and nesting far deeper than the stack.
 */
import { describe, expect, it } from 'vitest';
import { MemoryBackend } from '../../src/backend/memory/index.js';
import { EncodeError, deserializeError, serializeError } from '../../src/errors/index.js';
import { MAX_DEPTH, findUnencodable, metaEncodeError } from '../../src/protocol/encodable.js';
import type { ResultMeta } from '../../src/protocol/types.js';

function nested(depth: number, leaf: unknown = 1): unknown[] {
  const root: unknown[] = [];
  let cur = root;
  for (let i = 1; i < depth; i++) {
    const next: unknown[] = [];
    cur.push(next);
    cur = next;
  }
  cur.push(leaf);
  return root;
}

describe('findUnencodable', () => {
  it('passes what JSON holds, bigints, Dates, undefined members and shared (acyclic) references', () => {
    const shared = { s: 1 };
    class Point {
      constructor(
        readonly x: number,
        readonly y: number,
      ) {}
    }
    for (const v of [null, undefined, 0, -0, 1.5, 'é', true, 2n ** 64n + 1n, [], {}, { a: [1, { b: null }] }, { a: shared, b: [shared] },
      new Date(0), { when: new Date(0) }, { u: undefined }, [undefined], Object.create(null), new Point(1, 2), nested(MAX_DEPTH)]) {
      expect(findUnencodable(v, 'result')).toBeNull();
    }
  });

  it('names the type and the path of the first value a store cannot hold', () => {
    const cases: [unknown, string, string][] = [
      [new Map(), 'Map', 'result'],
      [{ items: [0, 1, 2, { tags: new Set() }] }, 'Set', 'result.items[3].tags'],
      [[NaN], 'NaN', 'result[0]'],
      [{ x: Infinity }, 'Infinity', 'result.x'],
      [{ 'a key': -Infinity }, '-Infinity', 'result["a key"]'],
      [{ f: () => 1 }, 'function', 'result.f'],
      [[Symbol('s')], 'Symbol', 'result[0]'],
      [{ b: Buffer.from('x') }, 'Buffer', 'result.b'],
      [new Float64Array(2), 'Float64Array', 'result'],
      [new ArrayBuffer(2), 'ArrayBuffer', 'result'],
      [{ r: /x/ }, 'RegExp', 'result.r'],
      [{ p: Promise.resolve() }, 'Promise', 'result.p'],
      [{ e: new TypeError('x') }, 'TypeError', 'result.e'],
      [[new Number(1)], 'Number object', 'result[0]'],
      [{ d: new Date(NaN) }, 'Invalid Date', 'result.d'],
      [{ j: { toJSON: () => new Map() } }, 'Map', 'result.j'],
    ];
    for (const [value, type, path] of cases) expect(findUnencodable(value, 'result')).toEqual({ type, path });
  });

  it('reports a cycle where it closes, and a getter or toJSON that throws instead of throwing', () => {
    const a: Record<string, unknown> = { list: [1] };
    (a.list as unknown[]).push({ back: a });
    expect(findUnencodable({ a }, 'result')).toEqual({ type: 'circular reference', path: 'result.a.list[1].back' });
    const getter = Object.defineProperty({}, 'g', { enumerable: true, get: () => { throw new Error('no'); } });
    expect(findUnencodable({ getter }, 'result')?.path).toBe('result.getter.g');
    expect(findUnencodable([{ toJSON: () => { throw new Error('no'); } }], 'result')?.path).toBe('result[0]');
  });

  it('refuses nesting past MAX_DEPTH, however deep, without overflowing the stack', () => {
    expect(findUnencodable(nested(MAX_DEPTH + 1), 'args')?.type).toBe(`nesting deeper than ${MAX_DEPTH} levels`);
    const deep = findUnencodable(nested(100_000), 'args');
    expect(deep?.path).toBe(`args[0][0][0][0][0][0][0]…(${MAX_DEPTH} levels)`);
    expect(findUnencodable(nested(500, NaN), 'args')?.path).toBe(`args${'[0]'.repeat(500)}`);
  });
});

describe('metaEncodeError', () => {
  const meta: ResultMeta = {
    status: 'SUCCESS', result: 1, traceback: null, children: [], date_done: null,
    name: 't', args: [1], kwargs: { k: 2n }, worker: 'w', retries: 0, queue: 'q', task_id: 'id',
  };

  it('reports the field and an EncodeError whose message names type and path', () => {
    expect(metaEncodeError(meta)).toBeNull();
    const bad = metaEncodeError({ ...meta, args: [1, { m: new Map() }] });
    expect(bad?.field).toBe('args');
    expect(bad?.error).toBeInstanceOf(EncodeError);
    expect(bad?.error.message).toBe('cannot encode the arguments: Map at args[1].m');
    expect(metaEncodeError({ ...meta, result: { n: NaN } })?.error.message).toBe('cannot encode the result: NaN at result.n');
  });

  it("travels as kombu's EncodeError, as Celery stores it, and comes back as EncodeError", () => {
    const wire = serializeError(new EncodeError('cannot encode the result: Map at result'));
    expect(wire).toEqual({ exc_type: 'EncodeError', exc_message: ['cannot encode the result: Map at result'], exc_module: 'kombu.exceptions' });
    const back = deserializeError(wire, 'Traceback ...');
    expect(back).toBeInstanceOf(EncodeError);
    expect(back.message).toBe('cannot encode the result: Map at result');
  });
});

describe('the memory backend', () => {
  const meta = (result: unknown): ResultMeta => ({ status: 'SUCCESS', result, traceback: null, children: [], date_done: null, task_id: 'id' });

  it('keeps bigints exact and stores a Date as its ISO text, as the other stores do', async () => {
    const backend = new MemoryBackend();
    await backend.setMany([{ taskId: 'a', meta: meta({ big: 2n ** 64n + 1n, small: 7n, when: new Date(0) }) }]);
    expect((await backend.get('a'))?.result).toEqual({ big: 2n ** 64n + 1n, small: 7, when: '1970-01-01T00:00:00.000Z' });
  });

  it('refuses a batch holding a value it cannot store with EncodeError, storing none of it', async () => {
    const backend = new MemoryBackend();
    const write = backend.setMany([{ taskId: 'ok', meta: meta(1) }, { taskId: 'bad', meta: meta([NaN]) }]);
    await expect(write).rejects.toThrow(new EncodeError('cannot encode the result: NaN at result[0]'));
    expect(await backend.mget(['ok', 'bad'])).toEqual([null, null]);
  });
});
