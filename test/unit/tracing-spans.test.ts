/**
 * Spans of sends and runs on the memory broker with a real OpenTelemetry SDK registered globally: a producer span
 * per send whose context travels in the message headers, a consumer span per run that continues it and is the
 * active context while the task runs, and errors on both sides.
 */
import { SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Celerity, chain } from '../../src/index.js';
import type { Worker } from '../../src/worker/worker.js';
import { resetTracing, startPublishSpan, startRunSpan, withRunContext } from '../../src/tracing/index.js';
import type { TaskRequest } from '../../src/protocol/types.js';
import { installSdk, type TestSdk } from './tracing-sdk.js';

describe.each([
  { propagator: true, label: 'with the W3C propagator registered' },
  { propagator: false, label: 'with no propagator registered (the W3C fallback)' },
])('tracing on the memory broker, $label', ({ propagator }) => {
  let sdk: TestSdk;
  let app: Celerity;
  let worker: Worker;
  const tracer = () => trace.getTracer('test');

  beforeAll(async () => {
    resetTracing();
    sdk = installSdk({ propagator });
    app = new Celerity('tracing', { broker: 'memory://', backend: 'memory://', loglevel: 'silent' }, {});
    app.task('t.add', (x: number, y: number) => x + y);
    app.task('t.fail', (message: string) => {
      throw new TypeError(message);
    });
    app.task('t.inner', function (this: { id: string }) {
      // A span the task makes itself: a child of its run span.
      tracer().startSpan('inner-work').end();
      return this.id;
    });
    app.task('t.flaky', function (this: { retries: number; retry(o: { countdown: number }): never }) {
      if (this.retries < 1) this.retry({ countdown: 0 });
      return this.retries;
    });
    app.task('t.outer', async () => {
      const child = await app.sendTask('t.inner');
      return child.id;
    });
    worker = app.worker({ concurrency: 2 });
    await worker.start();
  });

  afterAll(async () => {
    await worker.stop();
    await app.close();
    await sdk.uninstall();
    resetTracing();
  });

  it('a send and its run are one trace: producer under the caller, consumer under the producer', async () => {
    sdk.exporter.reset();
    const r = await tracer().startActiveSpan('caller', async (root) => {
      try {
        return await app.sendTask<number>('t.add', [2, 3]);
      } finally {
        root.end();
      }
    });
    expect(await r.get({ timeout: 10_000 })).toBe(5);

    const root = sdk.span('caller');
    const producer = sdk.span('apply_async/t.add');
    const consumer = sdk.span('run/t.add');
    expect(producer.kind).toBe(SpanKind.PRODUCER);
    expect(consumer.kind).toBe(SpanKind.CONSUMER);
    expect(producer.spanContext().traceId).toBe(root.spanContext().traceId);
    expect(producer.parentSpanContext?.spanId).toBe(root.spanContext().spanId);
    expect(consumer.spanContext().traceId).toBe(root.spanContext().traceId);
    expect(consumer.parentSpanContext?.spanId).toBe(producer.spanContext().spanId);
    expect(consumer.parentSpanContext?.isRemote).toBe(true);

    expect(producer.attributes).toMatchObject({
      'celery.action': 'apply_async',
      'celery.task_name': 't.add',
      'messaging.message.id': r.id,
      'messaging.message_id': r.id,
      'messaging.destination': 'celery',
      'messaging.system': 'memory',
    });
    expect(consumer.attributes).toMatchObject({
      'celery.action': 'run',
      'celery.task_name': 't.add',
      'celery.state': 'SUCCESS',
      'messaging.message.id': r.id,
      'messaging.conversation_id': r.id,
      'messaging.destination': 'celery',
      'messaging.system': 'memory',
    });
    expect(consumer.attributes['celery.hostname']).toMatch(/^gen\d+@/);
    expect(consumer.attributes).not.toHaveProperty('celery.retries');
    expect(consumer.attributes).not.toHaveProperty('celery.timelimit');
    expect(consumer.status.code).toBe(SpanStatusCode.UNSET);
  });

  it('puts traceparent among the task message headers, where a Python worker reads them', async () => {
    const probe = new Celerity('tracing-probe', { broker: 'memory://', backend: 'memory://', loglevel: 'silent' }, {});
    try {
      const headers = await tracer().startActiveSpan('caller', async (root) => {
        try {
          await probe.sendTask('t.nobody', [], { queue: 'held', headers: { custom: 'kept' } });
          const [d] = await (await probe.broker()).reserve(['held'], { max: 1, waitMs: 1000 });
          return d!.message!.headers;
        } finally {
          root.end();
        }
      });
      const producer = sdk.spans().filter((s) => s.name === 'apply_async/t.nobody').pop()!;
      const { traceId, spanId } = producer.spanContext();
      expect(headers.traceparent).toBe(`00-${traceId}-${spanId}-01`);
      expect(headers.custom).toBe('kept');
      expect(headers.task).toBe('t.nobody');
    } finally {
      await probe.close();
    }
  });

  it('a task sent from inside a task is in the same trace, under the run that sent it', async () => {
    sdk.exporter.reset();
    const r = await app.sendTask<string>('t.outer');
    const childId = await r.get({ timeout: 10_000 });
    await app.asyncResult(childId).get({ timeout: 10_000 });

    const outerSend = sdk.span('apply_async/t.outer');
    const outerRun = sdk.span('run/t.outer');
    const innerSend = sdk.span('apply_async/t.inner');
    const innerRun = sdk.span('run/t.inner');
    const work = sdk.span('inner-work');
    const traceId = outerSend.spanContext().traceId;
    for (const s of [outerRun, innerSend, innerRun, work]) expect(s.spanContext().traceId).toBe(traceId);
    // No caller span: the first send starts the trace.
    expect(outerSend.parentSpanContext).toBeUndefined();
    expect(outerRun.parentSpanContext?.spanId).toBe(outerSend.spanContext().spanId);
    expect(innerSend.parentSpanContext?.spanId).toBe(outerRun.spanContext().spanId);
    expect(innerRun.parentSpanContext?.spanId).toBe(innerSend.spanContext().spanId);
    expect(work.parentSpanContext?.spanId).toBe(innerRun.spanContext().spanId);
  });

  it('a failing task marks its run span as an error with the exception recorded', async () => {
    sdk.exporter.reset();
    const r = await app.sendTask('t.fail', ['no good']);
    await expect(r.get({ timeout: 10_000 })).rejects.toThrow('no good');
    const run = sdk.span('run/t.fail');
    expect(run.status.code).toBe(SpanStatusCode.ERROR);
    expect(run.status.message).toBe('TypeError: no good');
    expect(run.attributes['celery.state']).toBe('FAILURE');
    const exception = run.events.find((e) => e.name === 'exception');
    expect(exception?.attributes).toMatchObject({ 'exception.type': 'TypeError', 'exception.message': 'no good' });
    expect(sdk.span('apply_async/t.fail').status.code).toBe(SpanStatusCode.UNSET);
  });

  it('a retry ends its run span with state RETRY and the reason, and the retried run is traced again', async () => {
    sdk.exporter.reset();
    const r = await app.sendTask<number>('t.flaky');
    expect(await r.get({ timeout: 10_000 })).toBe(1);
    const runs = sdk.spans().filter((s) => s.name === 'run/t.flaky');
    expect(runs.map((s) => s.attributes['celery.state'])).toEqual(['RETRY', 'SUCCESS']);
    expect(runs[0]!.attributes['celery.retry.reason']).toBe('Retry in 0s');
    expect(runs[0]!.status.code).toBe(SpanStatusCode.UNSET);
    expect(runs[1]!.attributes['celery.retries']).toBe(1);
    // The retry message carries the first message's trace context, so both runs are one trace.
    expect(runs[1]!.spanContext().traceId).toBe(runs[0]!.spanContext().traceId);
  });

  it("a chain's next step, sent by the worker after the first returned, is in the same trace", async () => {
    sdk.exporter.reset();
    const r = await chain(app.signature('t.add', [1, 2]), app.signature('t.add', [10])).applyAsync();
    expect(await r.get({ timeout: 10_000 })).toBe(13);
    const runs = sdk.spans().filter((s) => s.name === 'run/t.add');
    expect(runs).toHaveLength(2);
    const sends = sdk.spans().filter((s) => s.name === 'apply_async/t.add');
    expect(sends).toHaveLength(2);
    const trace = runs[0]!.spanContext().traceId;
    for (const span of [...runs, ...sends]) expect(span.spanContext().traceId).toBe(trace);
    // The second send is made under the first run, as Celery's worker sends the next step inside it.
    const second = sends.find((s) => s.parentSpanContext?.spanId === runs[0]!.spanContext().spanId);
    expect(second).toBeDefined();
  });

  it('sends made for a run after it returned join its trace under withRunContext', () => {
    sdk.exporter.reset();
    const req = { id: 'r1', task: 't.step', headers: {}, retries: 0, timelimit: [null, null], eta: null, expires: null, origin: null, replyTo: null, correlationId: null } as unknown as TaskRequest;
    const run = startRunSpan(req, { hostname: 'w@h', queue: 'celery', brokerUrl: 'memory://' })!;
    run.end({ state: 'SUCCESS' });
    withRunContext(req, () => startPublishSpan('t.next', 'memory://'))!.end();
    startPublishSpan('t.elsewhere', 'memory://')!.end();
    const runSpan = sdk.span('run/t.step');
    expect(sdk.span('apply_async/t.next').parentSpanContext?.spanId).toBe(runSpan.spanContext().spanId);
    expect(sdk.span('apply_async/t.elsewhere').parentSpanContext).toBeUndefined();
    expect(withRunContext({ ...req }, () => 'not traced')).toBe('not traced');
  });

  it('a send that fails marks its producer span as an error', async () => {
    sdk.exporter.reset();
    await expect(app.sendTask('t.add', [1, 2], { priority: 42 })).rejects.toThrow(RangeError);
    const producer = sdk.span('apply_async/t.add');
    expect(producer.status.code).toBe(SpanStatusCode.ERROR);
    expect(producer.events.some((e) => e.name === 'exception')).toBe(true);
  });

  it('a malformed traceparent header starts a new trace instead of failing the task', async () => {
    sdk.exporter.reset();
    // Published as built, without a producer span, as a foreign producer might send it.
    const bad = { traceparent: '00-zzzz-not-a-trace-01', tracestate: 'a=1' };
    const built = app.buildMessage('t.add', [1, 1], { headers: bad });
    await app.publish({ queue: built.queue, message: built.message, priority: built.priority, notBefore: undefined });
    expect(await app.asyncResult<number>(built.id).get({ timeout: 10_000 })).toBe(2);
    const run = sdk.span('run/t.add');
    expect(run.parentSpanContext).toBeUndefined();
    expect(run.attributes['celery.state']).toBe('SUCCESS');
  });

  it('a traceparent sent by another process becomes the parent of the run', async () => {
    sdk.exporter.reset();
    const traceId = '0af7651916cd43dd8448eb211c80319c';
    const spanId = 'b7ad6b7169203331';
    const built = app.buildMessage('t.add', [2, 2], { headers: { traceparent: `00-${traceId}-${spanId}-01`, tracestate: 'congo=t61rcWkgMzE' } });
    await app.publish({ queue: built.queue, message: built.message, priority: built.priority, notBefore: undefined });
    expect(await app.asyncResult<number>(built.id).get({ timeout: 10_000 })).toBe(4);
    const run = sdk.span('run/t.add');
    expect(run.spanContext().traceId).toBe(traceId);
    expect(run.parentSpanContext).toMatchObject({ traceId, spanId, isRemote: true });
    expect(run.spanContext().traceState?.get('congo')).toBe('t61rcWkgMzE');
  });
});
