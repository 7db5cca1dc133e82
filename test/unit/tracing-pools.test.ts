/**
 * On the threads and process pools the run span is the worker's view of the run: it covers the call into the
 * child, continues the producer's trace from the message headers and ends with the child's outcome.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { SpanKind, SpanStatusCode } from '@opentelemetry/api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Celerity } from '../../src/index.js';
import type { Worker } from '../../src/worker/worker.js';
import { resetTracing } from '../../src/tracing/index.js';
import { installSdk, type TestSdk } from './tracing-sdk.js';

const POOL_APP = path.join(fileURLToPath(new URL('../fixtures', import.meta.url)), 'pool-app.ts');

describe.each(['threads', 'process'] as const)('tracing on the %s pool', (pool) => {
  let sdk: TestSdk;
  let app: Celerity;
  let worker: Worker;

  beforeAll(async () => {
    resetTracing();
    sdk = installSdk({ propagator: true });
    app = new Celerity('tracing-pool', { broker: 'memory://', backend: 'memory://', loglevel: 'silent' }, {});
    // The worker's registry needs the names; the children run the fixture module's functions.
    for (const name of ['pool.add', 'pool.fail']) app.task(name, () => undefined);
    worker = app.worker({ pool, concurrency: 1, appModule: POOL_APP, node: { heartbeat: false, mingle: false } });
    await worker.start();
  }, 30_000);

  afterAll(async () => {
    await worker.stop();
    await app.close();
    await sdk.uninstall();
    resetTracing();
  });

  it('continues the producer span and ends with the outcome of the run in the child', async () => {
    sdk.exporter.reset();
    const ok = await app.sendTask<number>('pool.add', [2, 3]);
    expect(await ok.get({ timeout: 20_000 })).toBe(5);
    const bad = await app.sendTask('pool.fail', ['input']);
    await expect(bad.get({ timeout: 20_000 })).rejects.toThrow('bad input');

    const run = sdk.span('run/pool.add');
    expect(run.kind).toBe(SpanKind.CONSUMER);
    expect(run.parentSpanContext?.spanId).toBe(sdk.span('apply_async/pool.add').spanContext().spanId);
    expect(run.spanContext().traceId).toBe(sdk.span('apply_async/pool.add').spanContext().traceId);
    expect(run.attributes['celery.state']).toBe('SUCCESS');

    const failed = sdk.span('run/pool.fail');
    expect(failed.status).toMatchObject({ code: SpanStatusCode.ERROR, message: 'ValidationError: bad input' });
    expect(failed.attributes['celery.state']).toBe('FAILURE');
    expect(failed.events.find((e) => e.name === 'exception')?.attributes?.['exception.type']).toBe('ValidationError');
  });
});
