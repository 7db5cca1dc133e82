import { readdirSync, readFileSync } from 'node:fs';
import { describe, it, expect } from 'vitest';
import { DecodeError } from '../../src/errors/index.js';
import { decodeEnvelope, encodeEnvelope, type BrokerMessage } from '../../src/protocol/index.js';

const dir = new URL('../golden/', import.meta.url);
const golden = (name: string) => readFileSync(new URL(name, dir), 'utf8');
const taskGoldens = readdirSync(dir).filter((f) => f.startsWith('task-') && f.endsWith('.json'));

describe('kombu Redis envelope', () => {
  for (const file of taskGoldens) {
    it(`${file}: decode then encode gives the captured text`, () => {
      const raw = golden(file);
      const env = decodeEnvelope(raw);
      const info = env.deliveryInfo!;
      const again = encodeEnvelope(env, {
        exchange: info.exchange as string,
        routingKey: info.routing_key as string,
        priority: env.properties.priority as number,
        deliveryTag: env.deliveryTag!,
        redelivered: info.redelivered === true,
      });
      expect(again).toBe(raw);
    });
  }

  it('splits transport fields out of properties', () => {
    const env = decodeEnvelope(golden('task-priority.json'));
    expect(env.contentType).toBe('application/json');
    expect(env.contentEncoding).toBe('utf-8');
    expect(env.deliveryInfo).toEqual({ exchange: '', routing_key: 'celery' });
    expect(env.deliveryTag).toMatch(/^[0-9a-f-]{36}$/);
    expect(Object.keys(env.properties)).toEqual(['correlation_id', 'reply_to', 'delivery_mode', 'priority']);
    expect(env.properties.priority).toBe(9);
    expect(env.body.toString()).toMatch(/^\[\[1, 2\], \{\}/);
  });

  it('writes transport properties after the producer’s, in kombu’s order', () => {
    const msg: BrokerMessage = {
      headers: { id: 'x' },
      properties: { priority: 3, correlation_id: 'x', reply_to: '', delivery_mode: 2, expiration: '5000' },
      body: Buffer.from('[]'),
      contentType: 'application/json',
      contentEncoding: 'utf-8',
    };
    const text = encodeEnvelope(msg, { exchange: '', routingKey: 'q', priority: 3, deliveryTag: 't' });
    expect(text).toBe(
      '{"body": "W10=", "content-encoding": "utf-8", "content-type": "application/json", "headers": {"id": "x"}, ' +
        '"properties": {"correlation_id": "x", "reply_to": "", "delivery_mode": 2, "expiration": "5000", ' +
        '"delivery_info": {"exchange": "", "routing_key": "q"}, "priority": 3, "body_encoding": "base64", ' +
        '"delivery_tag": "t"}}',
    );
    const transport = { exchange: '', routingKey: 'q', priority: 3, deliveryTag: 't', redelivered: true };
    const restored = encodeEnvelope(msg, transport);
    const parsed = JSON.parse(restored);
    expect(parsed.headers).toEqual({ id: 'x', redelivered: true });
    expect(parsed.properties.delivery_info).toEqual({ exchange: '', routing_key: 'q', redelivered: true });
    expect(msg.headers).toEqual({ id: 'x' });
  });

  it('accepts an envelope without body_encoding, headers or properties', () => {
    const env = decodeEnvelope('{"body": "[1]", "content-type": "application/json"}');
    expect(env.body.toString()).toBe('[1]');
    expect(env.headers).toEqual({});
    expect(env.properties).toEqual({});
    expect(env.contentEncoding).toBe('utf-8');
    expect(env.deliveryTag).toBeUndefined();
  });

  it('gives DecodeError naming what is wrong', () => {
    const ok = { body: 'W10=', 'content-type': 'application/json', properties: { body_encoding: 'base64' } };
    const bad = (patch: Record<string, unknown>) => () => decodeEnvelope(JSON.stringify({ ...ok, ...patch }));
    expect(() => decodeEnvelope('not json')).toThrow(DecodeError);
    expect(() => decodeEnvelope('not json')).toThrow(/invalid message envelope/);
    expect(() => decodeEnvelope('[1]')).toThrow(/must be a JSON object/);
    expect(bad({ 'content-type': undefined })).toThrow(/'content-type'/);
    expect(bad({ body: 5 })).toThrow(/'body' must be a string/);
    expect(bad({ body: 'abc!' })).toThrow(/not valid base64/);
    expect(bad({ body: 'abcde' })).toThrow(/not valid base64/);
    expect(bad({ headers: [] })).toThrow(/'headers'/);
    expect(bad({ properties: 'x' })).toThrow(/'properties'/);
    expect(bad({ properties: { body_encoding: 'hex' } })).toThrow(/body_encoding "hex"/);
    expect(bad({ properties: { body_encoding: 'base64', delivery_info: 3 } })).toThrow(/'delivery_info'/);
    expect(bad({ properties: { body_encoding: 'base64', delivery_tag: {} } })).toThrow(/'delivery_tag'/);
    expect(bad({ 'content-encoding': 8 })).toThrow(/'content-encoding'/);
  });
});
