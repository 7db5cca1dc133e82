/**
 * OpenTelemetry tracing of task sends and runs, optional: `@opentelemetry/api` is an optional peer dependency,
 * imported once on first use. Without it every hook returns undefined and the send and run paths stay as they
 * are; with it, spans go to whatever tracer provider the application registered (none: the API's no-op tracer,
 * and nothing is allocated beyond its non-recording span).
 *
 * Spans, names, attributes and where the context travels follow opentelemetry-instrumentation-celery, so traces
 * cross between Python and TypeScript producers and workers: `traceparent`/`tracestate` are task message headers
 * (protocol v2), where the instrumentation injects them in before_task_publish and extracts them from the request.
 */
import type * as OtelApi from '@opentelemetry/api';
import type { TaskRequest } from '../protocol/types.js';
import { VERSION } from '../util/version.js';
import { publishAttributes, RETRY_REASON, runAttributes, sentAttributes, STATE, type RunSite } from './attributes.js';
import { formatTraceparent, parseTraceparent, TRACEPARENT, TRACESTATE } from './w3c.js';

type Api = typeof OtelApi;

/** How the API is imported; replaced in tests to stand for an application without the package. */
export type ApiLoader = () => Promise<unknown>;

const importApi: ApiLoader = () => import('@opentelemetry/api');

let loader: ApiLoader = importApi;
/** undefined: not looked for yet; null: not installed (or not loadable), tracing stays off. */
let api: Api | null | undefined;
let loading: Promise<void> | undefined;
let tracer: OtelApi.Tracer | undefined;
let fallbackAllowed = fallbackFromEnv(process.env.OTEL_PROPAGATORS);

/** Whether the API has been looked for; until then, `loadTracing()` should be awaited before the first hook. */
export function tracingSettled(): boolean {
  return api !== undefined;
}

/** Whether spans are being made (the API loaded). */
export function tracingEnabled(): boolean {
  return !!api;
}

/** Looks for `@opentelemetry/api` once; resolves either way (a failed import turns tracing off for good). */
export function loadTracing(): Promise<void> {
  loading ??= loader().then(
    (m) => {
      const loaded = isApi(m) ? m : null;
      api = loaded;
      // A ProxyTracer: it follows the provider registered later, so the app may set up its SDK after the import.
      tracer = loaded?.trace.getTracer('celerity', VERSION);
    },
    () => {
      api = null;
    },
  );
  return loading;
}

/**
 * Forgets the loaded API and uses `load` the next time (the default import when omitted).
 * @internal for tests
 */
export function resetTracing(load: ApiLoader = importApi): void {
  loader = load;
  api = undefined;
  loading = undefined;
  tracer = undefined;
  fallbackAllowed = fallbackFromEnv(process.env.OTEL_PROPAGATORS);
}

/**
 * The W3C fallback follows OTEL_PROPAGATORS as Python's API does: on when unset or when it lists `tracecontext`.
 * Exported for tests.
 */
export function fallbackFromEnv(value: string | undefined): boolean {
  if (value === undefined || value.trim() === '') return true;
  return value.split(',').some((p) => p.trim() === 'tracecontext');
}

function isApi(m: unknown): m is Api {
  const t = (m as Partial<Api> | null)?.trace;
  return typeof t?.getTracer === 'function' && typeof (m as Partial<Api>).context?.with === 'function';
}

/** A PRODUCER span around one send. */
export interface PublishSpan {
  /** `options` with the span's context added to its `headers` (the message headers); unchanged if none. */
  inject<T extends { headers?: Record<string, unknown> }>(options: T): T;
  /** What the producer knows once the message is built: its id and the queue it goes to. */
  sent(id: string, queue: string): void;
  /** Ends the span when the broker took the message, or with the error that stopped the send. */
  end(error?: unknown): void;
}

/**
 * Starts `apply_async/<task name>` as a child of the active context, or returns undefined when tracing is off or
 * there is nothing to record or propagate (the API without an SDK and no incoming trace).
 */
export function startPublishSpan(taskName: string, brokerUrl: string): PublishSpan | undefined {
  if (!api || !tracer) return undefined;
  const parent = api.context.active();
  const span = tracer.startSpan(`apply_async/${taskName}`, { kind: api.SpanKind.PRODUCER }, parent);
  const recording = span.isRecording();
  if (!recording && !api.isSpanContextValid(span.spanContext())) return undefined;
  if (recording) span.setAttributes(publishAttributes(taskName, brokerUrl));
  return new Publish(api, span, api.trace.setSpan(parent, span));
}

class Publish implements PublishSpan {
  constructor(
    private readonly otel: Api,
    private readonly span: OtelApi.Span,
    private readonly ctx: OtelApi.Context,
  ) {}

  inject<T extends { headers?: Record<string, unknown> }>(options: T): T {
    const carrier: Record<string, string> = {};
    injectContext(this.otel, this.ctx, carrier);
    return Object.keys(carrier).length ? { ...options, headers: { ...options.headers, ...carrier } } : options;
  }

  sent(id: string, queue: string): void {
    if (this.span.isRecording()) this.span.setAttributes(sentAttributes(id, queue));
  }

  end(error?: unknown): void {
    if (error !== undefined) markError(this.otel, this.span, error);
    this.span.end();
  }
}

/**
 * The trace context headers of a received message (those of the registered propagator, else `traceparent` and
 * `tracestate`), for a message the worker publishes again after the run (a retry) to stay in the same trace;
 * undefined when tracing is off or the message carries none.
 */
export function traceHeaders(headers: Readonly<Record<string, unknown>>): Record<string, unknown> | undefined {
  if (!api) return undefined;
  const fields = noPropagator(api) ? (fallbackAllowed ? W3C_FIELDS : []) : api.propagation.fields();
  let out: Record<string, unknown> | undefined;
  for (const field of fields) {
    if (headers[field] === undefined) continue;
    out ??= {};
    out[field] = headers[field];
  }
  return out;
}

const W3C_FIELDS = [TRACEPARENT, TRACESTATE];

/** How one run ended, as the worker saw it. */
export interface RunEnd {
  /** Celery's state for the run: SUCCESS, FAILURE, RETRY, IGNORED, REJECTED. */
  state: string;
  /** The failure, which marks the span as an error. */
  error?: Error;
  /** Why the task asked to be retried (Celery's retry signal reason). */
  retryReason?: string;
}

/** A CONSUMER span around one run. */
export interface RunSpan {
  /** Calls `fn` with the span as the active context: spans the task starts, and tasks it sends, are its children. */
  run<T>(fn: () => T): T;
  end(result: RunEnd): void;
}

/**
 * Starts `run/<task name>` whose parent is the trace context in the message headers (a new trace when they carry
 * none or a malformed one); undefined when tracing is off or there is nothing to record.
 */
export function startRunSpan(req: TaskRequest, site: RunSite): RunSpan | undefined {
  if (!api || !tracer) return undefined;
  // Not the worker's active context: a run belongs to the trace its message came with, or to none.
  const parent = extractContext(api, req.headers);
  const span = tracer.startSpan(`run/${req.task}`, { kind: api.SpanKind.CONSUMER }, parent);
  const recording = span.isRecording();
  if (!recording && !api.isSpanContextValid(span.spanContext())) return undefined;
  if (recording) span.setAttributes(runAttributes(req, site));
  const ctx = api.trace.setSpan(parent, span);
  runContexts.set(req, ctx);
  return new Run(api, span, ctx);
}

/** The context of each request's run span, for what the worker sends on the run's behalf after it returned. */
const runContexts = new WeakMap<TaskRequest, OtelApi.Context>();

/**
 * Calls `fn` with the run span of `req` as the active context, ended or not: messages the worker sends for a run
 * once it returned (the next step of a chain, callbacks, a retry) then join its trace, as in Celery, where they
 * are sent before the run's span ends. Just calls `fn` when tracing is off or the run had no span.
 */
export function withRunContext<T>(req: TaskRequest, fn: () => T): T {
  const ctx = api ? runContexts.get(req) : undefined;
  return ctx ? api!.context.with(ctx, fn) : fn();
}

class Run implements RunSpan {
  constructor(
    private readonly otel: Api,
    private readonly span: OtelApi.Span,
    private readonly ctx: OtelApi.Context,
  ) {}

  run<T>(fn: () => T): T {
    return this.otel.context.with(this.ctx, fn);
  }

  end(result: RunEnd): void {
    if (this.span.isRecording()) {
      this.span.setAttribute(STATE, result.state);
      if (result.retryReason !== undefined) this.span.setAttribute(RETRY_REASON, result.retryReason);
    }
    if (result.error) markError(this.otel, this.span, result.error);
    this.span.end();
  }
}

function markError(otel: Api, span: OtelApi.Span, error: unknown): void {
  if (!span.isRecording()) return;
  const err = error instanceof Error ? error : new Error(String(error));
  span.recordException(err);
  span.setStatus({ code: otel.SpanStatusCode.ERROR, message: `${err.name}: ${err.message}` });
}

/** True when the application registered no propagator: the API's default one has no fields. */
function noPropagator(otel: Api): boolean {
  return otel.propagation.fields().length === 0;
}

const headerSetter: OtelApi.TextMapSetter<Record<string, string>> = {
  set: (carrier, key, value) => {
    carrier[key] = value;
  },
};

const headerGetter: OtelApi.TextMapGetter<Readonly<Record<string, unknown>>> = {
  keys: (carrier) => Object.keys(carrier),
  get: (carrier, key) => {
    const v = carrier[key];
    if (typeof v === 'string') return v;
    if (Array.isArray(v) && v.every((x) => typeof x === 'string')) return v as string[];
    return undefined;
  },
};

function injectContext(otel: Api, ctx: OtelApi.Context, carrier: Record<string, string>): void {
  if (!noPropagator(otel)) {
    otel.propagation.inject(ctx, carrier, headerSetter);
    return;
  }
  if (!fallbackAllowed) return;
  const sc = otel.trace.getSpanContext(ctx);
  if (!sc || !otel.isSpanContextValid(sc)) return;
  carrier[TRACEPARENT] = formatTraceparent(sc.traceId, sc.spanId, sc.traceFlags);
  const state = sc.traceState?.serialize();
  if (state) carrier[TRACESTATE] = state;
}

function extractContext(otel: Api, headers: Readonly<Record<string, unknown>>): OtelApi.Context {
  if (!noPropagator(otel)) return otel.propagation.extract(otel.ROOT_CONTEXT, headers, headerGetter);
  if (!fallbackAllowed) return otel.ROOT_CONTEXT;
  const p = parseTraceparent(headers);
  if (!p) return otel.ROOT_CONTEXT;
  return otel.trace.setSpanContext(otel.ROOT_CONTEXT, {
    traceId: p.traceId,
    spanId: p.spanId,
    traceFlags: p.traceFlags,
    isRemote: true,
    traceState: p.traceState ? otel.createTraceState(p.traceState) : undefined,
  });
}

export type { RunSite } from './attributes.js';
