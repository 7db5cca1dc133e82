import { readdirSync, readFileSync } from 'node:fs';
import { inflateSync } from 'node:zlib';
import { describe, it, expect } from 'vitest';
import { ContentDisallowed, DecodeError } from '../../src/errors/index.js';
import {
  createSerializerRegistry,
  decodeEnvelope,
  decodeTaskMessage,
  encodeEnvelope,
  encodeTaskMessage,
  formatPyIsoDate,
  parsePyIsoDate,
  pyDumps,
  type BrokerMessage,
  type TaskRequest,
  type TaskSendSpec,
} from '../../src/protocol/index.js';

const dir = new URL('../golden/', import.meta.url);
const golden = (name: string) => readFileSync(new URL(name, dir), 'utf8');
const taskGoldens = readdirSync(dir).filter((f) => f.startsWith('task-') && f.endsWith('.json'));
const registry = createSerializerRegistry(['json', 'msgpack']);

/** Headers Celery writes itself, in order; anything after `ignore_result` was appended by someone else. */
const CELERY_HEADERS = ['lang', 'task', 'id', 'shadow', 'eta', 'expires', 'group', 'group_index', 'retries',
  'timelimit', 'root_id', 'parent_id', 'argsrepr', 'kwargsrepr', 'origin', 'ignore_result'];

/** The spec a producer would have used to send `req`; dates Celery wrote with sub-millisecond digits are kept. */
function specFromRequest(req: TaskRequest, original: Record<string, unknown>): TaskSendSpec {
  const extraHeaders: Record<string, unknown> = { lang: original.lang };
  for (const field of ['eta', 'expires'] as const) {
    const text = original[field];
    if (typeof text === 'string' && req[field] && formatPyIsoDate(req[field], { utcSuffix: true }) !== text) {
      // JavaScript Dates hold milliseconds; Python may have written microseconds.
      expect(parsePyIsoDate(formatPyIsoDate(req[field], { utcSuffix: true }))).toEqual(req[field]);
      extraHeaders[field] = text;
    }
  }
  for (const [k, v] of Object.entries(original)) if (!CELERY_HEADERS.includes(k)) extraHeaders[k] = v;
  return {
    id: req.id,
    task: req.task,
    args: req.args,
    kwargs: req.kwargs,
    eta: req.eta,
    expires: req.expires,
    retries: req.retries,
    timelimit: req.timelimit,
    rootId: req.rootId,
    parentId: req.parentId,
    group: req.group,
    groupIndex: req.groupIndex,
    shadow: original.shadow as string | null,
    ignoreResult: req.ignoreResult,
    replyTo: req.replyTo ?? '',
    priority: req.priority,
    embed: req.embed,
    origin: req.origin ?? '',
    extraHeaders,
  };
}

function nowFor(req: TaskRequest, msg: BrokerMessage): Date | undefined {
  const expiration = msg.properties.expiration;
  return req.expires && typeof expiration === 'string'
    ? new Date(req.expires.getTime() - Number(expiration))
    : undefined;
}

describe('golden task messages from Celery 5.2', () => {
  it('has captures to test', () => {
    expect(taskGoldens.length).toBeGreaterThanOrEqual(15);
  });

  for (const file of taskGoldens) {
    it(`${file}: decodes and re-encodes to the same bytes`, () => {
      const raw = golden(file);
      const envelope = decodeEnvelope(raw);
      const req = decodeTaskMessage(envelope, registry);
      if (req.protocol === 1) {
        expect(envelope.headers).toEqual({});
        return;
      }
      const spec = specFromRequest(req, envelope.headers);
      const serializer = envelope.contentType === 'application/json' ? 'json' : 'msgpack';
      const ours = encodeTaskMessage(spec, registry, serializer, { now: nowFor(req, envelope) });

      expect(pyDumps(ours.headers)).toBe(pyDumps(envelope.headers));
      expect(ours.contentType).toBe(envelope.contentType);
      expect(ours.contentEncoding).toBe(envelope.contentEncoding);

      // Node's bundled zlib compresses to different (equally valid) bytes, so compare what was compressed.
      const compressed = envelope.headers.compression === 'application/x-gzip';
      const pythonBody = compressed ? inflateSync(envelope.body) : envelope.body;
      if (file === 'task-msgpack.json') {
        // Python writes positive 64-bit integers as uint64 where we write int64: same values, different bytes.
        expect(registry.decode(ours.body, ours.contentType, ours.contentEncoding)).toEqual(
          registry.decode(pythonBody, envelope.contentType, envelope.contentEncoding),
        );
      } else {
        expect(ours.body.toString('base64')).toBe(pythonBody.toString('base64'));
      }

      // Properties a Celery worker adds when it re-sends (retry) are not part of a fresh send.
      const extraProps = Object.fromEntries(
        Object.entries(envelope.properties).filter(([k]) => !(k in ours.properties)),
      );
      const { correlation_id, reply_to, ...rest } = ours.properties;
      const properties = { correlation_id, reply_to, ...extraProps, ...rest };
      const info = envelope.deliveryInfo ?? {};
      const rebuilt = encodeEnvelope(
        { ...ours, body: compressed || file === 'task-msgpack.json' ? envelope.body : ours.body, properties },
        {
          exchange: info.exchange as string,
          routingKey: info.routing_key as string,
          priority: req.priority,
          deliveryTag: envelope.deliveryTag!,
          redelivered: info.redelivered === true,
        },
      );
      expect(rebuilt).toBe(raw);
    });
  }
});

describe('decodeTaskMessage fields', () => {
  const decode = (name: string) => decodeTaskMessage(decodeEnvelope(golden(name)), registry);

  it('reads a plain send', () => {
    const req = decode('task-add.json');
    expect(req).toMatchObject({
      protocol: 2,
      task: 'capture.add',
      args: [2, 3],
      kwargs: {},
      embed: { callbacks: null, errbacks: null, chain: null, chord: null },
      eta: null,
      expires: null,
      retries: 0,
      timelimit: [null, null],
      parentId: null,
      group: null,
      groupIndex: null,
      ignoreResult: false,
      priority: 0,
      redelivered: false,
      argsrepr: '(2, 3)',
      kwargsrepr: '{}',
    });
    expect(req.rootId).toBe(req.id);
    expect(req.correlationId).toBe(req.id);
    expect(req.origin).toMatch(/^gen\d+@/);
  });

  it('reads unicode, nested kwargs and floats', () => {
    const req = decode('task-unicode.json');
    expect(req.args).toEqual(["it's", 'say "hi"', 'both \' and "', 'line\nbreak\ttab', 'back\\slash']);
    expect(req.kwargs).toMatchObject({ name: 'café', city: '日本', emoji: '🎉', nothing: null });
    expect(req.kwargs.nested).toEqual({
      list: [1, 2.5, null, true, false, 'x'],
      deep: { deeper: { deepest: [1e-7, 0.1] } },
    });
  });

  it('reads eta, expires, priority, time limits and shadow', () => {
    expect(decode('task-eta.json').eta).toEqual(new Date(Date.UTC(2030, 0, 2, 3, 4, 5, 123)));
    expect(decode('task-eta-whole.json').eta).toEqual(new Date(Date.UTC(2030, 0, 2, 3, 4, 5)));
    expect(decode('task-expires.json').expires).toBeInstanceOf(Date);
    expect(decode('task-priority.json').priority).toBe(9);
    const opts = decode('task-options.json');
    expect(opts.timelimit).toEqual([30, 20]);
    expect(opts.ignoreResult).toBe(true);
    expect(opts.headers.shadow).toBe('golden.alias');
  });

  it('reads canvas fields', () => {
    const chain = decode('task-chain.json').embed.chain!;
    expect(chain.map((s) => s.args)).toEqual([[20], [10]]);
    expect(Object.keys(chain[0]!)).toEqual(['task', 'args', 'kwargs', 'options', 'subtask_type', 'immutable']);
    expect(decode('task-group-member.json').group).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('reads a retry and a restored message', () => {
    const retry = decode('task-retry.json');
    expect(retry.retries).toBe(1);
    expect(retry.parentId).toBe(retry.id);
    expect(retry.eta).toBeInstanceOf(Date);
    expect(decode('task-redelivered.json').redelivered).toBe(true);
    expect(decode('task-add.json').redelivered).toBe(false);
    const forced = decodeTaskMessage(decodeEnvelope(golden('task-add.json')), registry, { redelivered: true });
    expect(forced.redelivered).toBe(true);
  });

  it('inflates zlib bodies', () => {
    expect(decode('task-zlib.json').args).toEqual([2, 3]);
  });

  it('reads protocol 1', () => {
    const req = decode('task-v1.json');
    expect(req).toMatchObject({ protocol: 1, task: 'capture.add', args: [2, 3], kwargs: { extra: 'café' } });
    expect(req.eta).toBeInstanceOf(Date);
    expect(req.correlationId).toBe(req.id);
    expect(req.headers.utc).toBe(true);
  });
});

describe('encodeTaskMessage', () => {
  const base: TaskSendSpec = {
    id: 'a0000000-0000-4000-8000-000000000001',
    task: 'tasks.add',
    args: [2, 3],
    kwargs: {},
    eta: null,
    expires: null,
    retries: 0,
    timelimit: [null, null],
    rootId: null,
    parentId: null,
    group: null,
    groupIndex: null,
    shadow: null,
    ignoreResult: false,
    replyTo: '',
    priority: 0,
    embed: { callbacks: null, errbacks: null, chain: null, chord: null },
    origin: 'gen1@host',
  };

  it('announces lang js, defaults root_id to the id and sets no expiration without expires', () => {
    const msg = encodeTaskMessage(base, registry);
    expect(msg.headers.lang).toBe('js');
    expect(msg.headers.root_id).toBe(base.id);
    expect(msg.properties).toEqual({ correlation_id: base.id, reply_to: '', delivery_mode: 2, priority: 0 });
    expect(msg.body.toString()).toBe(
      '[[2, 3], {}, {"callbacks": null, "errbacks": null, "chain": null, "chord": null}]',
    );
  });

  it('writes expiration in whole milliseconds, never negative', () => {
    const now = new Date(Date.UTC(2030, 0, 1));
    const soon = { ...base, expires: new Date(now.getTime() + 1500) };
    expect(encodeTaskMessage(soon, registry, 'json', { now }).properties.expiration).toBe('1500');
    const past = { ...base, expires: new Date(now.getTime() - 1500) };
    expect(encodeTaskMessage(past, registry, 'json', { now }).properties.expiration).toBe('0');
  });

  it('appends extra headers after Celery’s own', () => {
    const msg = encodeTaskMessage({ ...base, extraHeaders: { trace: 'x' } }, registry);
    expect(Object.keys(msg.headers).slice(-2)).toEqual(['ignore_result', 'trace']);
  });

  it('writes headersParts that join to exactly pyDumps(headers), and leaves them out when headers are extended', () => {
    const specs: TaskSendSpec[] = [
      base,
      { ...base, task: 'tâches.ajouter "vite"\n', args: ['é', { a: [1.5, null] }], kwargs: { k: '🙂' } },
      {
        ...base,
        eta: new Date(Date.UTC(2030, 0, 1, 12, 0, 0, 250)),
        expires: new Date(Date.UTC(2030, 0, 2)),
        retries: 3,
        timelimit: [30, 12.5],
        rootId: 'r\u0001',
        parentId: 'p',
        group: 'g',
        groupIndex: 4,
        shadow: 'shadowed',
        ignoreResult: true,
        origin: 'gen\t@host',
      },
    ];
    for (const spec of specs) {
      const msg = encodeTaskMessage(spec, registry);
      expect(msg.headersParts?.join('')).toBe(pyDumps(msg.headers));
      const envelope = encodeEnvelope(msg, { exchange: '', routingKey: 'q', priority: 0, deliveryTag: 't' });
      expect(envelope).toBe(encodeEnvelope({ ...msg, headersParts: undefined }, { exchange: '', routingKey: 'q', priority: 0, deliveryTag: 't' }));
    }
    expect(encodeTaskMessage({ ...base, extraHeaders: { trace: 'x' } }, registry).headersParts).toBeUndefined();
    expect(encodeTaskMessage({ ...base, retries: '1' as never }, registry).headersParts).toBeUndefined();
  });

  it('rejects args and kwargs of the wrong shape', () => {
    expect(() => encodeTaskMessage({ ...base, args: {} as never }, registry)).toThrow(/args must be an array/);
    expect(() => encodeTaskMessage({ ...base, kwargs: [] as never }, registry)).toThrow(/kwargs/);
  });
});

describe('decodeTaskMessage on malformed input', () => {
  const good = decodeEnvelope(golden('task-add.json'));
  const json = (v: unknown) => Buffer.from(JSON.stringify(v));
  const body = json([[1], {}, null]);
  const bad = (headers: Record<string, unknown>, b = body) =>
    () => decodeTaskMessage({ ...good, headers: { ...good.headers, ...headers }, body: b }, registry);

  it('names the field that is wrong', () => {
    expect(bad({ id: undefined })).toThrow(/id header must be a non-empty string, got nothing/);
    expect(bad({ id: 5 })).toThrow(/id header/);
    expect(bad({ task: 7 })).toThrow(/task header must be a non-empty string, got number 7/);
    expect(bad({}, json([5, {}, null]))).toThrow(/task args must be a list, got number 5/);
    expect(bad({}, json([[], [], null]))).toThrow(/task kwargs must be an object, got a list/);
    expect(bad({}, json({ a: 1 }))).toThrow(/protocol 2 body must be a list/);
    expect(bad({ eta: 'tomorrow' })).toThrow(/eta header must be an ISO 8601 date-time/);
    expect(bad({ expires: '2030-13-01T00:00:00' })).toThrow(/expires header/);
    expect(bad({ retries: -1 })).toThrow(/retries header/);
    expect(bad({ timelimit: [1] })).toThrow(/timelimit header/);
    expect(bad({ group_index: 'x' })).toThrow(/group_index header/);
    expect(bad({ ignore_result: 'yes' })).toThrow(/ignore_result header/);
    expect(bad({}, json([[], {}, { chain: 'x' }]))).toThrow(/embed chain/);
    expect(bad({ compression: 'application/x-bz2' })).toThrow(/unsupported compression/);
    expect(bad({ compression: 'application/x-gzip' })).toThrow(/does not inflate/);
    for (const fn of [bad({ id: 5 }), bad({ eta: 'x' })]) expect(fn).toThrow(DecodeError);
  });

  it('names the field in protocol 1 bodies', () => {
    const v1 = (b: unknown) => () => decodeTaskMessage({ ...good, headers: {}, body: json(b) }, registry);
    expect(v1({ task: 'x', args: [] })).toThrow(/body field 'id'/);
    expect(v1({ task: 'x', id: 'i', args: 'no' })).toThrow(/task args must be a list/);
    expect(v1([1, 2])).toThrow(/no 'task' header/);
  });

  it('refuses content types outside the accept-list', () => {
    const jsonOnly = createSerializerRegistry(['json']);
    const packed = decodeEnvelope(golden('task-msgpack.json'));
    expect(() => decodeTaskMessage(packed, jsonOnly)).toThrow(ContentDisallowed);
  });

  it('ignores display-only headers of the wrong type', () => {
    const req = decodeTaskMessage({ ...good, headers: { ...good.headers, argsrepr: 5, origin: null } }, registry);
    expect(req.argsrepr).toBeNull();
    expect(req.origin).toBeNull();
  });
});

describe('Python dates', () => {
  it('formats like datetime.isoformat', () => {
    const d = new Date(Date.UTC(2030, 0, 2, 3, 4, 5, 123));
    expect(formatPyIsoDate(d, { utcSuffix: true })).toBe('2030-01-02T03:04:05.123000+00:00');
    expect(formatPyIsoDate(d, { utcSuffix: false })).toBe('2030-01-02T03:04:05.123000');
    expect(formatPyIsoDate(new Date(Date.UTC(2030, 0, 2)), { utcSuffix: true })).toBe('2030-01-02T00:00:00+00:00');
    expect(() => formatPyIsoDate(new Date(Number.NaN), { utcSuffix: true })).toThrow(RangeError);
  });

  it('parses offsets, naive times as UTC, and rejects impossible dates', () => {
    expect(parsePyIsoDate('2030-01-02T03:04:05.123456+02:00')).toEqual(new Date(Date.UTC(2030, 0, 2, 1, 4, 5, 123)));
    expect(parsePyIsoDate('2030-01-02T03:04:05Z')).toEqual(new Date(Date.UTC(2030, 0, 2, 3, 4, 5)));
    expect(parsePyIsoDate('2030-01-02 03:04:05')).toEqual(new Date(Date.UTC(2030, 0, 2, 3, 4, 5)));
    expect(parsePyIsoDate('2030-02-30T00:00:00')).toBeNull();
    expect(parsePyIsoDate('2030-01-02T24:00:00')).toBeNull();
    expect(parsePyIsoDate('next tuesday')).toBeNull();
  });
});
