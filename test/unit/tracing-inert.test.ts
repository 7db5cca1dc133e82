/**
 * Without `@opentelemetry/api` (a loader that fails, standing for an application that did not install it) every
 * hook is off: no spans, no headers added, tasks run as before. And with the API but no SDK registered, nothing is
 * recorded and nothing is added to messages either.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { Celerity } from '../../src/index.js';
import { loadTracing, resetTracing, startPublishSpan, startRunSpan, traceHeaders, tracingEnabled, tracingSettled } from '../../src/tracing/index.js';
import type { TaskRequest } from '../../src/protocol/types.js';
import { installSdk } from './tracing-sdk.js';

afterAll(() => resetTracing());

const request = (headers: Record<string, unknown>): TaskRequest =>
  ({ id: 'id-1', task: 't.add', headers, retries: 0, timelimit: [null, null], eta: null, expires: null, origin: null, replyTo: null, correlationId: null }) as unknown as TaskRequest;

const traceparent = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';

async function sendAndRead(headers: Record<string, unknown> = {}): Promise<Record<string, unknown>> {
  const app = new Celerity('inert', { broker: 'memory://', backend: 'memory://', loglevel: 'silent' }, {});
  try {
    await app.sendTask('t.add', [1, 2], { queue: 'q', headers });
    const [d] = await (await app.broker()).reserve(['q'], { max: 1, waitMs: 1000 });
    return d!.message!.headers;
  } finally {
    await app.close();
  }
}

describe('tracing without @opentelemetry/api', () => {
  it('is off when the API cannot be loaded, even with an SDK registered, and says so', async () => {
    const sdk = installSdk({ propagator: true });
    let calls = 0;
    resetTracing(() => {
      calls++;
      return Promise.reject(new Error("Cannot find package '@opentelemetry/api'"));
    });
    try {
      expect(tracingSettled()).toBe(false);
      await loadTracing();
      await loadTracing();
      expect(calls).toBe(1);
      expect(tracingSettled()).toBe(true);
      expect(tracingEnabled()).toBe(false);
      expect(startPublishSpan('t.add', 'memory://')).toBeUndefined();
      expect(startRunSpan(request({ traceparent }), { hostname: 'w@h', queue: 'celery', brokerUrl: 'memory://' })).toBeUndefined();

      const headers = await sendAndRead();
      expect(headers).not.toHaveProperty('traceparent');
      expect(headers).not.toHaveProperty('tracestate');
      expect(sdk.spans()).toEqual([]);
    } finally {
      await sdk.uninstall();
    }
  });

  it('is off when the module loads but is not the API', async () => {
    resetTracing(async () => ({ default: {} }));
    await loadTracing();
    expect(tracingEnabled()).toBe(false);
  });

  it('runs tasks as before when it is off', async () => {
    resetTracing(() => Promise.reject(new Error('absent')));
    const app = new Celerity('inert-run', { broker: 'memory://', backend: 'memory://', loglevel: 'silent' }, {});
    app.task('t.add', (x: number, y: number) => x + y);
    const worker = app.worker({ concurrency: 1 });
    await worker.start();
    try {
      const r = await app.sendTask<number>('t.add', [20, 22], { headers: { traceparent } });
      expect(await r.get({ timeout: 10_000 })).toBe(42);
    } finally {
      await worker.stop();
      await app.close();
    }
  });
});

describe('tracing with the API but no SDK', () => {
  it('records nothing and adds no headers', async () => {
    resetTracing();
    await loadTracing();
    expect(tracingEnabled()).toBe(true);
    expect(startPublishSpan('t.add', 'memory://')).toBeUndefined();
    expect(await sendAndRead()).not.toHaveProperty('traceparent');
    // The no-op tracer's span keeps an incoming parent's context (nothing recorded), so a run still gets one.
    const run = startRunSpan(request({ traceparent }), { hostname: 'w@h', queue: 'celery', brokerUrl: 'memory://' });
    expect(run?.run(() => 7)).toBe(7);
    run?.end({ state: 'SUCCESS' });
  });
});

describe('trace headers of a received message', () => {
  it('are none when tracing is off, and the W3C ones when no propagator is registered', async () => {
    resetTracing(() => Promise.reject(new Error('absent')));
    await loadTracing();
    expect(traceHeaders({ traceparent, tracestate: 'a=1' })).toBeUndefined();
    resetTracing();
    await loadTracing();
    expect(traceHeaders({ traceparent, tracestate: 'a=1', id: 'x', task: 't.add' })).toEqual({ traceparent, tracestate: 'a=1' });
    expect(traceHeaders({ id: 'x' })).toBeUndefined();
  });
});
