import { readFileSync } from 'node:fs';
import { describe, it, expect } from 'vitest';
import { ConfigurationError, ContentDisallowed, DecodeError } from '../../src/errors/index.js';
import { createSerializerRegistry, decodeEnvelope, SerializerRegistry } from '../../src/protocol/index.js';
import { jsonSerializer, type Serializer } from '../../src/protocol/serializers.js';

function golden(name: string): string {
  return readFileSync(new URL(`../golden/${name}`, import.meta.url), 'utf8');
}

describe('SerializerRegistry accept-list', () => {
  it('accepts only json by default', () => {
    const registry = createSerializerRegistry();
    const encoded = registry.encode('json', { a: 1 });
    expect(encoded).toEqual({
      body: Buffer.from('{"a": 1}'),
      contentType: 'application/json',
      contentEncoding: 'utf-8',
    });
    expect(registry.decode(encoded.body, encoded.contentType, encoded.contentEncoding)).toEqual({ a: 1 });

    const packed = registry.encode('msgpack', { a: 1 });
    expect(() => registry.decode(packed.body, packed.contentType, packed.contentEncoding)).toThrow(ContentDisallowed);
    expect(() => registry.decode(packed.body, packed.contentType, packed.contentEncoding)).toThrow(
      /application\/x-msgpack.*accepted: application\/json/,
    );
  });

  it('takes names or content types, ignoring case and parameters', () => {
    const registry = createSerializerRegistry(['application/x-msgpack', 'JSON']);
    expect(registry.acceptedContentTypes().sort()).toEqual(['application/json', 'application/x-msgpack']);
    expect(registry.decode(Buffer.from('[1]'), 'Application/JSON; charset=utf-8', 'utf-8')).toEqual([1]);
  });

  it('refuses pickle everywhere with the reason', () => {
    expect(() => createSerializerRegistry(['pickle'])).toThrow(ConfigurationError);
    expect(() => createSerializerRegistry(['json', 'pickle'])).toThrow(/runs code chosen by whoever can write/);
    expect(() => createSerializerRegistry(['application/x-python-serialize'])).toThrow(/pickle is not supported/);
    const registry = createSerializerRegistry(['json']);
    expect(() => registry.encode('pickle', 1)).toThrow(/pickle is not supported/);
    const decode = () => registry.decode(Buffer.from('\x80\x04K\x01.'), 'application/x-python-serialize', 'binary');
    expect(decode).toThrow(ContentDisallowed);
    expect(decode).toThrow(/pickle is not supported/);
    expect(() => createSerializerRegistry(['yaml'])).toThrow(/yaml is not supported/);
  });

  it('refuses to register a code-running format under another name', () => {
    const registry = createSerializerRegistry();
    const sneaky: Serializer = { ...jsonSerializer, name: 'fast', contentType: 'application/x-python-serialize' };
    expect(() => registry.register(sneaky)).toThrow(ConfigurationError);
  });

  it('names the choices for an unknown serializer', () => {
    expect(() => createSerializerRegistry(['jsn'])).toThrow(/one of json, msgpack or a content type/);
    expect(() => createSerializerRegistry().encode('bson', 1)).toThrow(/one of json, msgpack/);
  });

  it('raises DecodeError for an accepted content type nothing can decode', () => {
    const registry = new SerializerRegistry(['application/x-custom'], [jsonSerializer]);
    expect(() => registry.decode(Buffer.from('x'), 'application/x-custom', 'binary')).toThrow(/no serializer/);
  });

  it('decodes with a serializer registered after construction', () => {
    const registry = new SerializerRegistry(['application/x-lines'], [jsonSerializer]);
    registry.register({
      name: 'lines',
      contentType: 'application/x-lines',
      contentEncoding: 'utf-8',
      encode: (v) => Buffer.from((v as string[]).join('\n')),
      decode: (b) => b.toString('utf8').split('\n'),
    });
    expect(registry.decode(Buffer.from('a\nb'), 'application/x-lines', 'utf-8')).toEqual(['a', 'b']);
  });
});

describe('json serializer', () => {
  const registry = createSerializerRegistry(['json']);

  it('gives DecodeError for malformed bytes', () => {
    expect(() => registry.decode(Buffer.from('{"a":'), 'application/json', 'utf-8')).toThrow(DecodeError);
    expect(() => registry.decode(Buffer.from('{"a":'), 'application/json', 'utf-8')).toThrow(/invalid JSON body/);
    expect(() => registry.decode(Buffer.from([0x22, 0xff, 0x22]), 'application/json', 'utf-8')).toThrow(
      /not valid utf-8/,
    );
    expect(() => registry.decode(Buffer.from('1'), 'application/json', 'ebcdic-9000')).toThrow(
      /unknown content encoding/,
    );
  });

  it('reads other text encodings and binary as UTF-8', () => {
    expect(registry.decode(Buffer.from([0x22, 0xe9, 0x22]), 'application/json', 'latin-1')).toBe('é');
    expect(registry.decode(Buffer.from('"é"'), 'application/json', 'binary')).toBe('é');
    expect(registry.decode(Buffer.from([0x22, 0x80, 0x22]), 'application/json', 'iso-8859-1')).toBe('\u0080');
    expect(() => registry.decode(Buffer.from([0x22, 0x80, 0x22]), 'application/json', 'ascii')).toThrow(
      /not valid ascii/,
    );
  });
});

describe('msgpack serializer', () => {
  const registry = createSerializerRegistry(['msgpack']);
  const roundTrip = (value: unknown) => {
    const e = registry.encode('msgpack', value);
    expect(e.contentType).toBe('application/x-msgpack');
    expect(e.contentEncoding).toBe('binary');
    return registry.decode(e.body, e.contentType, e.contentEncoding);
  };

  it('round-trips JSON-like values', () => {
    const value = { s: 'café 🎉', n: null, l: [1, -1, 2.5, true, false], nested: { e: [], d: {} } };
    expect(roundTrip(value)).toEqual(value);
  });

  it('keeps integers past 32 bits integral, as Python expects', () => {
    expect(roundTrip([2 ** 40, -(2 ** 40), 2 ** 53 - 1, 3_000_000_000, -3_000_000_000])).toEqual([
      2 ** 40,
      -(2 ** 40),
      2 ** 53 - 1,
      3_000_000_000,
      -3_000_000_000,
    ]);
    expect(roundTrip([2n ** 60n])).toEqual([2n ** 60n]);
    // float64 marker 0xcb must not appear for an integer
    expect(registry.encode('msgpack', 2 ** 40).body[0]).not.toBe(0xcb);
  });

  it('writes undefined as nil and Dates as ISO strings, which Python can read', () => {
    expect(roundTrip({ a: undefined, b: [undefined], at: new Date(Date.UTC(2030, 0, 1)) })).toEqual({
      b: [null],
      at: '2030-01-01T00:00:00.000Z',
    });
  });

  it('carries bytes as msgpack bin', () => {
    const out = roundTrip({ raw: Buffer.from([0, 255]) }) as { raw: Uint8Array };
    expect(Buffer.from(out.raw)).toEqual(Buffer.from([0, 255]));
  });

  it('produces the same bytes as Python msgpack.packb', () => {
    const msg = decodeEnvelope(golden('task-msgpack-small.json'));
    const value = registry.decode(msg.body, msg.contentType, msg.contentEncoding);
    expect(registry.encode('msgpack', value).body.equals(msg.body)).toBe(true);
  });

  it('reads Python uint64 values', () => {
    const msg = decodeEnvelope(golden('task-msgpack.json'));
    const [args, kwargs] = registry.decode(msg.body, msg.contentType, msg.contentEncoding) as [unknown[], any];
    expect(args).toEqual([2.5, 3]);
    expect(kwargs).toEqual({ s: 'café', n: null, l: [1, -1, 300, 70000, 2 ** 40] });
  });

  it('gives DecodeError for malformed bytes', () => {
    expect(() => registry.decode(Buffer.from([0xc1]), 'application/x-msgpack', 'binary')).toThrow(DecodeError);
    expect(() => registry.decode(Buffer.from([0x91, 0xc1]), 'application/x-msgpack', 'binary')).toThrow(/0xc1/);
    expect(() => registry.decode(Buffer.from([0x01, 0x02]), 'application/x-msgpack', 'binary')).toThrow(DecodeError);
    expect(() => registry.decode(Buffer.from([0x92, 0x01]), 'application/x-msgpack', 'binary')).toThrow(
      /invalid msgpack body/,
    );
  });

  it('refuses Maps, Sets and cycles', () => {
    expect(() => registry.encode('msgpack', new Map())).toThrow(/Map/);
    const loop: any[] = [];
    loop.push(loop);
    expect(() => registry.encode('msgpack', loop)).toThrow(/circular/);
  });
});
