/**
 * Stored bytes as text and back (`textOfBytes` / `bytesOfText`): lossless for any bytes, and the same text Python
 * gets with `bytes.decode('utf-8', 'surrogateescape')`, so dead letters read the same in both languages.
 */
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { bytesOfText, textOfBytes } from '../../src/broker/raw.js';
import { parseUnackedEntry, unescapeJsonString } from '../../src/broker/redis/envelopes.js';
import { PYTHON, requireService } from '../services.js';

const python = await requireService(PYTHON, () => {
  if (spawnSync(PYTHON, ['-c', 'pass']).status !== 0) throw new Error(`${PYTHON} does not run`);
});

function samples(): Buffer[] {
  let seed = 7;
  const rand = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
  const out = [
    Buffer.alloc(0),
    Buffer.from('plain ascii'),
    Buffer.from('é中😀'),
    Buffer.from([0xff, 0xfe, 0x80]),
    Buffer.from([0xed, 0xa0, 0x80]), // an encoded surrogate: not UTF-8
    Buffer.from([0xf4, 0x90, 0x80, 0x80]), // above U+10FFFF
    Buffer.from([0xc0, 0xaf]), // overlong
    Buffer.from([0xe2, 0x82, 0x41, 0xf0, 0x9f, 0x98]), // truncated sequences
  ];
  for (let i = 0; i < 200; i++) out.push(Buffer.from(Array.from({ length: Math.floor(rand() * 40) }, () => Math.floor(rand() * 256))));
  return out;
}

describe('stored bytes as text', () => {
  it('gives every byte sequence back exactly', () => {
    for (const bytes of samples()) expect(bytesOfText(textOfBytes(bytes))).toEqual(bytes);
  });

  it.skipIf(!python.ok)(python.reason || "reads as Python's surrogateescape does", () => {
    const all = samples();
    const script = 'import sys, json\nprint(json.dumps([bytes.fromhex(h).decode("utf-8", "surrogateescape") for h in sys.argv[1:]]))';
    const run = spawnSync(PYTHON, ['-c', script, ...all.map((b) => b.toString('hex'))], { encoding: 'utf8' });
    expect(run.status).toBe(0);
    expect(all.map(textOfBytes)).toEqual(JSON.parse(run.stdout));
  });

  it('unescapes a JSON string to the bytes it stands for, whatever the raw bytes inside', () => {
    const quoted = Buffer.concat([Buffer.from('"a\\"\\\\\\/\\n\\u00e9\\ud83d\\ude00\\udcff'), Buffer.from([0xff, 0x80]), Buffer.from('"')]);
    expect(unescapeJsonString(quoted)).toEqual(Buffer.concat([Buffer.from('a"\\/\né😀'), Buffer.from([0xff, 0xff, 0x80])]));
    expect(unescapeJsonString(Buffer.from('"unterminated'))).toBeNull();
    expect(unescapeJsonString(Buffer.from('"bad \\x escape"'))).toBeNull();
  });

  it('splits unacked entries: an object kept as it is, anything else from its JSON string', () => {
    const envelope = Buffer.concat([Buffer.from('{"body": "'), Buffer.from([0xff]), Buffer.from('"}')]);
    const kept = parseUnackedEntry(Buffer.concat([Buffer.from('['), envelope, Buffer.from(', "", "jobs \\"x\\""]')]));
    expect(kept).toEqual({ envelope, exchange: '', routingKey: 'jobs "x"' });
    const wrapped = parseUnackedEntry(Buffer.concat([Buffer.from('["nul\\u0000l '), Buffer.from([0xc3]), Buffer.from('", "ex", "q"]')]));
    expect(wrapped).toEqual({ envelope: Buffer.from([...Buffer.from('nul\0l '), 0xc3]), exchange: 'ex', routingKey: 'q' });
    // Written by another client with other separators: parsed instead.
    expect(parseUnackedEntry(Buffer.from('[{"a":1},"","q"]'))).toEqual({ envelope: Buffer.from('{"a": 1}'), exchange: '', routingKey: 'q' });
    expect(parseUnackedEntry(Buffer.from('not an entry'))).toBeNull();
  });
});
