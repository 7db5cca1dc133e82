/**
 * Operations endpoints at the root: `GET /metrics` (celery-exporter's metrics from every event the monitor
 * receives, the queues' depths and consumers read on scrape, and this process's metrics under
 * `celerity_monitor_`), `GET /healthz` (the process serves) and `GET /readyz` (the broker and the result backend
 * answer). /healthz and /readyz are open to all (auth.ts); /metrics takes the API's credentials like any read, so
 * Prometheus scrapes it with a bearer token.
 */
import { collectDefaultMetrics } from 'prom-client';
import { z } from 'zod';
import { CeleryExporter, type QueueStat } from '../../metrics/exporter.js';
import { checkReady, withTimeout } from '../../metrics/health.js';
import type { ApiContext, ApiInstance } from '../context.js';
import { Problem } from '../problem.js';
import { queueNames } from './remote.js';

const TAGS = ['health'];

/** Per readiness check. */
const READY_TIMEOUT_MS = 2000;
/** One read of the queues (depths and remote control) at most; a scrape must not hang on a lost broker. */
const QUEUE_READ_TIMEOUT_MS = 5000;
/** How long to wait for each worker's reply to `active_queues` and `stats`. */
const INSPECT_TIMEOUT_MS = 1000;
/** Queues remembered from workers' replies (as celery-exporter keeps them for when all workers are gone). */
const MAX_SEEN_QUEUES = 1000;

const checkSchema = z.object({ ok: z.boolean(), ms: z.number(), error: z.string().optional() });

export function registerHealthRoutes(api: ApiInstance, ctx: ApiContext): void {
  const exporter = new CeleryExporter({
    defaultQueue: ctx.app.conf.defaultQueue,
    queueSource: queueSource(ctx),
    onError: (err) => api.log.warn({ err: err.message }, 'could not read the queues for /metrics'),
  });
  collectDefaultMetrics({ register: exporter.registry, prefix: 'celerity_monitor_' });
  const unsubscribe = ctx.monitor.onEvent((event) => exporter.observe(event));
  api.addHook('onClose', async () => unsubscribe());

  api.get('/metrics', {
    schema: { tags: TAGS, summary: 'Prometheus metrics: celery-exporter compatible task, worker and queue series, and this process' },
  }, async (_req, reply) => {
    const text = await exporter.metrics();
    return reply.type(exporter.contentType).header('cache-control', 'no-store').send(text);
  });

  api.get('/healthz', {
    schema: { tags: TAGS, summary: 'Liveness: 200 while the process serves requests', response: { 200: z.object({ status: z.literal('ok') }) } },
  }, async () => ({ status: 'ok' as const }));

  api.get('/readyz', {
    schema: {
      tags: TAGS,
      summary: 'Readiness: 200 when the broker and the result backend answer, 503 naming the failing check otherwise',
      response: { 200: z.object({ status: z.literal('ok'), checks: z.object({ broker: checkSchema, backend: checkSchema }) }) },
    },
  }, async () => {
    const ready = await checkReady({
      broker: () => ctx.app.broker(),
      backend: () => ctx.app.backend(),
      timeoutMs: READY_TIMEOUT_MS,
      queue: ctx.app.conf.defaultQueue,
    });
    if (!ready.ok) {
      const failing = Object.entries(ready.checks)
        .filter(([, c]) => !c.ok)
        .map(([name, c]) => `${name}: ${c.error ?? 'failed'}`);
      throw new Problem(503, `not ready: ${failing.join('; ')}`);
    }
    return { status: 'ok' as const, checks: ready.checks };
  });
}

/**
 * Every queue the app knows or a worker consumes (and any consumed before), with its depth from the broker and,
 * where the broker carries remote control, the workers consuming it and their pool processes. Workers are asked
 * with a limit of the online workers the monitor knows, so the read ends when they have all answered.
 */
function queueSource(ctx: ApiContext): () => Promise<QueueStat[]> {
  const seen = new Set<string>();
  return () =>
    withTimeout('the broker', QUEUE_READ_TIMEOUT_MS, async () => {
      const broker = await ctx.app.broker();
      const consumed = typeof broker.mailbox === 'function' ? await consumers(ctx) : null;
      for (const queue of consumed?.keys() ?? []) if (seen.size < MAX_SEEN_QUEUES) seen.add(queue);
      const conf = ctx.app.conf;
      const names = [...new Set([conf.defaultQueue, ...(conf.queues ?? []), ...ctx.app.router.queues(), ...seen])];
      const lengths = await Promise.all(names.map((name) => broker.size(name)));
      return names.map((queue, i) => {
        const c = consumed ? (consumed.get(queue) ?? { workers: 0, processes: 0 }) : null;
        return { queue, length: lengths[i]!, consumers: c?.workers ?? null, workers: c?.workers ?? null, processes: c?.processes ?? null };
      });
    });
}

async function consumers(ctx: ApiContext): Promise<Map<string, { workers: number; processes: number }>> {
  const client = await ctx.control();
  const online = ctx.monitor.workers().filter((w) => w.online).length;
  const options = { timeout: INSPECT_TIMEOUT_MS, limit: online > 0 ? online : null };
  const [queues, stats] = await Promise.all([client.inspect('active_queues', {}, options), client.inspect('stats', {}, options)]);
  const byQueue = new Map<string, { workers: number; processes: number }>();
  for (const [worker, reply] of Object.entries(queues)) {
    const processes = processCount(stats[worker]);
    for (const queue of queueNames(reply)) {
      const entry = byQueue.get(queue) ?? { workers: 0, processes: 0 };
      entry.workers += 1;
      entry.processes += processes;
      byQueue.set(queue, entry);
    }
  }
  return byQueue;
}

/** The pool's processes in a `stats` reply (celery-exporter counts `pool.processes`). */
function processCount(stats: unknown): number {
  const processes = (stats as { pool?: { processes?: unknown } } | undefined)?.pool?.processes;
  return Array.isArray(processes) ? processes.length : 0;
}
