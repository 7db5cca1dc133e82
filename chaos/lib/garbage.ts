/**
 * Generated garbage for the broker's queues (fast-check, fixed seed per run): what a foreign or buggy producer could
 * write. Redis items are whole kombu envelopes as bytes; SQLite items are rows of the `messages` table. None of them
 * is a task a worker can run, so each must end as a dead letter; duplicates are deliberate (identical items must
 * not collide on one delivery tag).
 */
import { randomUUID } from 'node:crypto';
import fc from 'fast-check';
import type { Celerity } from '../../src/index.js';
import { encodeEnvelope } from '../../src/protocol/envelope.js';
import type { BrokerMessage } from '../../src/protocol/types.js';

/** A row of `messages` as another writer stores it; headers and properties may be bytes (a BLOB). */
export interface Row {
  headers: string | Buffer;
  properties: string | Buffer;
  body: Buffer;
  contentType: string;
  contentEncoding: string;
}

/** A good task message, as this library (and Celery) publishes it. */
export function goodMessage(app: Celerity, id: string, args: unknown[] = [0]): BrokerMessage {
  return app.buildMessage('chaos.record', args, { taskId: id }).message;
}

export function envelope(msg: BrokerMessage, queue: string): Buffer {
  return Buffer.from(encodeEnvelope(msg, { exchange: '', routingKey: queue, priority: 0, deliveryTag: randomUUID() }));
}

export function row(msg: BrokerMessage): Row {
  return { headers: JSON.stringify(msg.headers), properties: JSON.stringify(msg.properties), body: msg.body, contentType: msg.contentType, contentEncoding: msg.contentEncoding };
}

/** Bytes 0x80-0xff alone or in broken sequences: never valid UTF-8. */
const invalidUtf8 = fc.uint8Array({ minLength: 1, maxLength: 6 }).map((b) => Buffer.from([0xff, ...b.map((x) => 0x80 | x)]));
const notJson = fc.string({ maxLength: 40 }).map((s) => `{${s}`);
const nonObject = fc.jsonValue({ maxDepth: 2 }).filter((v) => v === null || typeof v !== 'object' || Array.isArray(v)).map((v) => JSON.stringify(v));
const wrongType = fc.oneof(fc.constantFrom('application/x-python-serialize', 'text/plain', 'application/xml', ''), fc.string({ minLength: 1, maxLength: 12 }).map((s) => `application/x-chaos-${s}`));
/** 1-3 MB, rare: big enough to matter, few enough to keep a run short. */
const huge = fc.integer({ min: 1_000_000, max: 3_000_000 }).map((n) => Buffer.alloc(n, 0x41));

function splice(text: string, marker: string, bytes: Buffer): Buffer {
  const at = text.indexOf(marker);
  if (at < 0) throw new Error(`no ${marker} in ${text.slice(0, 200)}`);
  return Buffer.concat([Buffer.from(text.slice(0, at + marker.length)), bytes, Buffer.from(text.slice(at + marker.length))]);
}

/** With duplicates: about one item in eight repeated 2-5 times. */
function sample<T>(arb: fc.Arbitrary<T>, n: number, seed: number): T[] {
  const items = fc.sample(fc.tuple(arb, fc.nat(7), fc.integer({ min: 2, max: 5 })), { numRuns: n, seed });
  const out: T[] = [];
  for (const [item, dice, copies] of items) for (let i = 0; i < (dice === 0 ? copies : 1) && out.length < n; i++) out.push(item);
  return out.slice(0, n);
}

/** `n` bad kombu envelopes for a Redis queue. */
export function redisGarbage(app: Celerity, queue: string, n: number, seed: number): Buffer[] {
  const good = () => envelope(goodMessage(app, randomUUID()), queue).toString('utf8');
  const parts = (over: Record<string, unknown>) =>
    Buffer.from(
      JSON.stringify({
        body: Buffer.from('[[0], {}, {}]').toString('base64'),
        'content-encoding': 'utf-8',
        'content-type': 'application/json',
        headers: { lang: 'py', task: 'chaos.record', id: randomUUID() },
        properties: { delivery_info: { exchange: '', routing_key: queue }, priority: 0, body_encoding: 'base64', delivery_tag: randomUUID() },
        ...over,
      }),
    );
  const arb = fc.oneof(
    { weight: 4, arbitrary: notJson.map((s) => Buffer.from(s)) },
    { weight: 4, arbitrary: fc.double({ min: 0, max: 0.999, noNaN: true }).map((f) => { const e = good(); return Buffer.from(e.slice(0, Math.floor(f * e.length))); }) },
    { weight: 3, arbitrary: invalidUtf8.map((b) => splice(good(), '"task": "chaos.', b)) },
    { weight: 3, arbitrary: fc.uint8Array({ minLength: 1, maxLength: 200 }).map((b) => Buffer.from(b)) },
    { weight: 3, arbitrary: fc.string({ maxLength: 20 }).map((s) => parts({ body: `%${s}%` })) },
    { weight: 3, arbitrary: wrongType.map((t) => parts({ 'content-type': t || undefined })) },
    { weight: 3, arbitrary: nonObject.map((s) => Buffer.from(s)) },
    { weight: 2, arbitrary: fc.string({ minLength: 1, maxLength: 12 }).map((s) => parts({ headers: { lang: 'py', task: `chaos.unknown.${s}`, id: randomUUID() } })) },
    { weight: 1, arbitrary: huge.map((b) => parts({ body: b.toString('base64'), headers: { lang: 'py', task: 'chaos.unknown', id: randomUUID() } })) },
  );
  return sample(arb, n, seed);
}

/** `n` bad rows for the embedded store's `messages` table. */
export function sqliteGarbage(app: Celerity, n: number, seed: number): Row[] {
  const good = () => row(goodMessage(app, randomUUID()));
  const headersOf = (task = 'chaos.record') => JSON.stringify({ lang: 'py', task, id: randomUUID(), argsrepr: '(0,)' });
  const arb = fc.oneof(
    { weight: 4, arbitrary: fc.oneof(notJson, nonObject).map((headers) => ({ ...good(), headers })) },
    { weight: 3, arbitrary: fc.oneof(notJson, nonObject).map((properties) => ({ ...good(), properties })) },
    { weight: 3, arbitrary: invalidUtf8.map((b) => ({ ...good(), headers: Buffer.concat([Buffer.from('{"task": "chaos.'), b, Buffer.from('"}')]) })) },
    { weight: 4, arbitrary: notJson.map((s) => ({ ...good(), headers: headersOf(), body: Buffer.from(s) })) },
    { weight: 3, arbitrary: fc.uint8Array({ minLength: 1, maxLength: 200 }).map((b) => ({ ...good(), headers: headersOf(), body: Buffer.concat([Buffer.from([0xff]), b]) })) },
    { weight: 3, arbitrary: nonObject.filter((s) => !s.startsWith('[')).map((s) => ({ ...good(), headers: headersOf(), body: Buffer.from(s) })) },
    { weight: 3, arbitrary: wrongType.map((contentType) => ({ ...good(), contentType })) },
    { weight: 2, arbitrary: fc.string({ minLength: 1, maxLength: 8 }).map((s) => ({ ...good(), contentEncoding: `x-${s}` })) },
    { weight: 2, arbitrary: fc.string({ minLength: 1, maxLength: 12 }).map((s) => ({ ...good(), headers: headersOf(`chaos.unknown.${s}`) })) },
    { weight: 1, arbitrary: huge.map((body) => ({ ...good(), headers: headersOf(), body })) },
  );
  return sample(arb, n, seed);
}
