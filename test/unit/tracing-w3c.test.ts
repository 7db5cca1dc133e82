/** The W3C Trace Context headers read and written without the OpenTelemetry API, and the attribute mapping. */
import { describe, expect, it } from 'vitest';
import { formatTraceparent, parseTraceparent } from '../../src/tracing/w3c.js';
import { messagingSystem, runAttributes } from '../../src/tracing/attributes.js';
import { fallbackFromEnv } from '../../src/tracing/index.js';
import type { TaskRequest } from '../../src/protocol/types.js';

const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const SPAN = '00f067aa0ba902b7';

describe('traceparent', () => {
  it('reads a version 00 header with its tracestate', () => {
    expect(parseTraceparent({ traceparent: `00-${TRACE}-${SPAN}-01`, tracestate: 'rojo=00f067aa0ba902b7' })).toEqual({
      traceId: TRACE,
      spanId: SPAN,
      traceFlags: 1,
      traceState: 'rojo=00f067aa0ba902b7',
    });
  });

  it('reads a header given as a list of one value, as some producers send', () => {
    expect(parseTraceparent({ traceparent: [`00-${TRACE}-${SPAN}-00`] })?.traceFlags).toBe(0);
  });

  it('reads a later version with more fields, and upper case', () => {
    expect(parseTraceparent({ traceparent: `01-${TRACE.toUpperCase()}-${SPAN}-01-extra` })?.traceId).toBe(TRACE);
  });

  it.each([
    ['absent', undefined],
    ['not a string', 42],
    ['too short', `00-${TRACE}-${SPAN}`],
    ['version ff', `ff-${TRACE}-${SPAN}-01`],
    ['version 00 with extra fields', `00-${TRACE}-${SPAN}-01-extra`],
    ['zero trace id', `00-${'0'.repeat(32)}-${SPAN}-01`],
    ['zero span id', `00-${TRACE}-${'0'.repeat(16)}-01`],
    ['not hex', `00-${TRACE.replace('4', 'g')}-${SPAN}-01`],
    ['wrong separators', `00_${TRACE}_${SPAN}_01`],
    ['a list of two', [`00-${TRACE}-${SPAN}-01`, `00-${TRACE}-${SPAN}-01`]],
  ])('ignores a header that is %s', (_label, value) => {
    expect(parseTraceparent({ traceparent: value })).toBeUndefined();
  });

  it('writes version 00 with two hex digits of flags', () => {
    expect(formatTraceparent(TRACE, SPAN, 1)).toBe(`00-${TRACE}-${SPAN}-01`);
    expect(formatTraceparent(TRACE, SPAN, 0)).toBe(`00-${TRACE}-${SPAN}-00`);
    expect(parseTraceparent({ traceparent: formatTraceparent(TRACE, SPAN, 1) })).toMatchObject({ traceId: TRACE, spanId: SPAN });
  });

  it('falls back to W3C as Python does: unless OTEL_PROPAGATORS leaves tracecontext out', () => {
    expect(fallbackFromEnv(undefined)).toBe(true);
    expect(fallbackFromEnv('')).toBe(true);
    expect(fallbackFromEnv('tracecontext,baggage')).toBe(true);
    expect(fallbackFromEnv('b3, tracecontext')).toBe(true);
    expect(fallbackFromEnv('none')).toBe(false);
    expect(fallbackFromEnv('b3')).toBe(false);
  });
});

describe('attributes', () => {
  it('names the messaging system after the broker', () => {
    expect(messagingSystem('amqp://guest:guest@localhost//')).toBe('rabbitmq');
    expect(messagingSystem('rediss://h:6380/0')).toBe('redis');
    expect(messagingSystem('sqlite://./x.db')).toBe('sqlite');
    expect(messagingSystem('memory://')).toBe('memory');
  });

  it('reads the request as the instrumentation reads task.request, leaving defaults out', () => {
    const req = {
      id: 'abc',
      task: 'proj.add',
      retries: 2,
      timelimit: [10, null],
      eta: new Date('2026-01-02T03:04:05.000Z'),
      expires: null,
      origin: 'gen42@producer',
      replyTo: 'reply-q',
      correlationId: 'abc',
      headers: {},
    } as unknown as TaskRequest;
    expect(runAttributes(req, { hostname: 'w1@host', queue: 'math', brokerUrl: 'redis://x' })).toEqual({
      'celery.action': 'run',
      'celery.task_name': 'proj.add',
      'messaging.system': 'redis',
      'messaging.message.id': 'abc',
      'messaging.message_id': 'abc',
      'messaging.destination': 'math',
      'messaging.conversation_id': 'abc',
      'celery.eta': '2026-01-02T03:04:05.000Z',
      'celery.hostname': 'gen42@producer',
      'celery.reply_to': 'reply-q',
      'celery.retries': 2,
      'celery.timelimit': ['10', ''],
    });
    const bare = { ...req, retries: 0, timelimit: [null, null], eta: null, origin: null, replyTo: null, correlationId: null } as TaskRequest;
    expect(runAttributes(bare, { hostname: 'w1@host', queue: 'math', brokerUrl: 'redis://x' })).toEqual({
      'celery.action': 'run',
      'celery.task_name': 'proj.add',
      'messaging.system': 'redis',
      'messaging.message.id': 'abc',
      'messaging.message_id': 'abc',
      'messaging.destination': 'math',
      'celery.hostname': 'w1@host',
    });
  });
});
