/**
 * Traces across Python Celery 5.2 and Celerity on Redis. Python here has no OpenTelemetry packages, so its side
 * (test/interop/py/tracing_proj.py) does in plain Celery what opentelemetry-instrumentation-celery does on the wire:
 * its worker reads `traceparent`/`tracestate` from the task request (the message headers), its producer sends them
 * as message headers. The Celerity side runs in this process with an OpenTelemetry SDK registered.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createTraceState, ROOT_CONTEXT, trace, TraceFlags } from '@opentelemetry/api';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Celerity } from '../../src/index.js';
import type { Worker } from '../../src/worker/worker.js';
import { resetTracing } from '../../src/tracing/index.js';
import { PYTHON, pythonCeleryOnRedis, requireService } from '../services.js';
import { installSdk, type TestSdk } from '../unit/tracing-sdk.js';
import { startUntilReady } from './processes.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const pyDir = path.join(root, 'test/interop/py');
const BROKER = 'redis://127.0.0.1:6379/5';
const BACKEND = 'redis://127.0.0.1:6379/6';

const ready = await requireService('Python Celery 5 on Redis', () => pythonCeleryOnRedis(BROKER));

const run = randomUUID().slice(0, 8);
const queues = { py: `tracing-py-${run}`, ts: `tracing-ts-${run}` };
const procs: ChildProcess[] = [];

function env(queue: string): NodeJS.ProcessEnv {
  const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('CELERITY_')));
  return { ...base, INTEROP_BROKER: BROKER, INTEROP_BACKEND: BACKEND, INTEROP_QUEUE: queue, PYTHONPATH: pyDir };
}

/** The Python producer: sends `name` with the given trace headers and waits for its result there. */
function pySend(name: string, queue: string, traceparent: string, tracestate: string): Promise<{ id: string; state: string; result: unknown }> {
  return new Promise((resolve, reject) => {
    const proc = spawn(PYTHON, [path.join(pyDir, 'tracing_proj.py'), 'send', name, queue, traceparent, tracestate], {
      env: env(queue),
      cwd: pyDir,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    procs.push(proc);
    let out = '';
    let err = '';
    proc.stdout!.on('data', (d) => (out += d));
    proc.stderr!.on('data', (d) => (err += d));
    proc.once('exit', (code) => (code === 0 ? resolve(JSON.parse(out.trim().split('\n').pop()!)) : reject(new Error(`tracing_proj.py failed (${code}): ${err}`))));
  });
}

describe.skipIf(!ready.ok)(`tracing across Python Celery 5.2 and Celerity on Redis${ready.ok ? '' : ` (skipped: ${ready.reason})`}`, () => {
  let sdk: TestSdk;
  let app: Celerity;
  let worker: Worker;
  let redis: Redis;

  beforeAll(async () => {
    resetTracing();
    sdk = installSdk({ propagator: true });
    app = new Celerity('tracing-interop', { broker: BROKER, backend: BACKEND, loglevel: 'silent' }, {});
    app.task('ts.trace_probe', () => 'seen');
    worker = app.worker({ concurrency: 2, queues: [queues.ts] });
    redis = new Redis(BROKER);
    const args = ['-m', 'celery', '-A', 'tracing_proj', 'worker', '-Q', queues.py, '-c', '1', '-n', `tracing-${run}@interop`, '-l', 'info', '--without-heartbeat', '--without-mingle', '--without-gossip'];
    await Promise.all([worker.start(), startUntilReady(procs, PYTHON, args, { env: env(queues.py), cwd: pyDir, readyLine: /ready\./ })]);
  }, 60_000);

  afterAll(async () => {
    for (const p of procs) if (p.exitCode === null) p.kill('SIGTERM');
    await Promise.all(procs.map((p) => (p.exitCode === null ? new Promise((r) => p.once('exit', r)) : undefined)));
    await worker?.stop();
    await app?.close();
    if (redis) {
      for (const q of Object.values(queues)) {
        await redis.del(q, `${q}\x06\x163`, `${q}\x06\x166`, `${q}\x06\x169`, `_kombu.binding.${q}`, `celerity.delayed.${q}`, `celerity.consumer.${q}`);
      }
      redis.disconnect();
    }
    await sdk?.uninstall();
    resetTracing();
  });

  it('a Python worker sees the trace context of the TypeScript producer span in the request', async () => {
    // The caller continues a trace that carries a tracestate, so both headers travel.
    const incoming = trace.setSpanContext(ROOT_CONTEXT, {
      traceId: randomBytes(16).toString('hex'),
      spanId: randomBytes(8).toString('hex'),
      traceFlags: TraceFlags.SAMPLED,
      isRemote: true,
      traceState: createTraceState('vendor=celerity'),
    });
    const r = await trace.getTracer('test').startActiveSpan('caller', {}, incoming, async (span) => {
      try {
        return await app.sendTask<{ traceparent: string | null; tracestate: string | null }>('py.trace_headers', [], { queue: queues.py });
      } finally {
        span.end();
      }
    });
    const seen = await r.get({ timeout: 30_000 });
    const producer = sdk.spans().find((s) => s.name === 'apply_async/py.trace_headers' && s.attributes['messaging.message.id'] === r.id)!;
    const { traceId, spanId } = producer.spanContext();
    expect(traceId).toBe(trace.getSpanContext(incoming)!.traceId);
    expect(seen).toEqual({ traceparent: `00-${traceId}-${spanId}-01`, tracestate: 'vendor=celerity' });
    expect(producer.attributes).toMatchObject({ 'messaging.system': 'redis', 'messaging.destination': queues.py });
  });

  it('a TypeScript worker continues the trace a Python producer sent: same trace id, the sender as parent', async () => {
    const traceId = randomBytes(16).toString('hex');
    const spanId = randomBytes(8).toString('hex');
    const report = await pySend('ts.trace_probe', queues.ts, `00-${traceId}-${spanId}-01`, 'py=1,other=2');
    expect(report).toMatchObject({ state: 'SUCCESS', result: 'seen' });
    // The run span ends before the result is stored, so it is exported by now.
    const consumer = sdk.spans().find((s) => s.name === 'run/ts.trace_probe' && s.attributes['messaging.message.id'] === report.id)!;
    expect(consumer).toBeDefined();
    expect(consumer.spanContext().traceId).toBe(traceId);
    expect(consumer.parentSpanContext).toMatchObject({ traceId, spanId, isRemote: true });
    expect(consumer.spanContext().traceState?.serialize()).toBe('py=1,other=2');
    expect(consumer.attributes).toMatchObject({
      'celery.action': 'run',
      'celery.task_name': 'ts.trace_probe',
      'celery.state': 'SUCCESS',
      'messaging.system': 'redis',
      'messaging.destination': queues.ts,
    });
    // As the instrumentation reports it: the request's origin, the Python producer's gen<pid>@<host>.
    expect(consumer.attributes['celery.hostname']).toMatch(/^gen\d+@/);
  });
});
