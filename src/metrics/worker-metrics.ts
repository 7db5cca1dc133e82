/**
 * A worker's own metrics, read from the worker in its process (no events over the broker needed): tasks by name
 * and outcome, runtimes, what it runs and holds now, its pool size and prefetch window, and Node's process
 * metrics (CPU, memory, event-loop lag, GC). Each WorkerMetrics has a registry of its own, so several workers in
 * one process do not share series.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { EventEmitter } from 'node:events';
import type { WorkerEvents } from '../worker/events.js';
import { LabelCap, LruMap } from './bounded.js';
import { CELERY_EXPORTER_BUCKETS } from './exporter.js';

export interface WorkerMetricsOptions {
  /** Distinct task names kept as labels (default 1,000); names in messages are arbitrary input. */
  maxLabelValues?: number;
  buckets?: readonly number[];
  /** Node's process metrics (default true). */
  processMetrics?: boolean;
}

/** The part of a worker read here (an interface, so the worker can load this module without a cycle). */
export interface WorkerView extends Pick<EventEmitter<WorkerEvents>, 'on' | 'off'> {
  readonly hostname: string;
  readonly active: readonly unknown[];
  readonly reservedCount: number;
  readonly concurrency: number;
  readonly prefetch: number;
  readonly queues: readonly string[];
}

type Listeners = { [K in keyof WorkerEvents]?: (...args: WorkerEvents[K]) => void };

export class WorkerMetrics {
  readonly registry = new Registry();
  private readonly listeners: Listeners;
  private readonly names: LabelCap;
  /** Names of tasks received, for the events that carry only an id (task-rejected). */
  private readonly nameOf = new LruMap<string, string>(10_000);

  constructor(
    private readonly worker: WorkerView,
    options: WorkerMetricsOptions = {},
  ) {
    const registers = [this.registry];
    this.registry.setDefaultLabels({ worker: worker.hostname });
    this.names = new LabelCap(options.maxLabelValues ?? 1000);
    const tasks = new Counter({
      name: 'celerity_worker_tasks_total',
      help: 'Tasks by name and state: received, started, then succeeded, failed, retried, revoked or rejected.',
      labelNames: ['name', 'state'],
      registers,
    });
    const runtime = new Histogram({
      name: 'celerity_worker_task_runtime_seconds',
      help: 'Seconds tasks ran, succeeded or failed.',
      labelNames: ['name', 'state'],
      buckets: [...(options.buckets ?? CELERY_EXPORTER_BUCKETS)],
      registers,
    });
    const gauge = (name: string, help: string, read: () => number) =>
      new Gauge({
        name,
        help,
        registers,
        collect() {
          this.set(read());
        },
      });
    gauge('celerity_worker_tasks_active', 'Tasks running now.', () => worker.active.length);
    gauge('celerity_worker_tasks_reserved', 'Tasks reserved and waiting for a slot, an ETA or a rate limit.', () => worker.reservedCount);
    gauge('celerity_worker_concurrency', 'Task slots (pool size).', () => worker.concurrency);
    gauge('celerity_worker_prefetch_count', 'Messages reserved at most (concurrency x prefetch multiplier).', () => worker.prefetch);
    if (options.processMetrics ?? true) collectDefaultMetrics({ register: this.registry });

    const count = (name: string | null | undefined, state: string) => tasks.inc({ name: this.label(name), state });
    this.listeners = {
      'task-received': (req) => {
        this.nameOf.set(req.id, req.task);
        count(req.task, 'received');
      },
      'task-started': (req) => count(req.task, 'started'),
      'task-succeeded': ({ id, name, runtime: s }) => {
        this.nameOf.delete(id);
        count(name, 'succeeded');
        if (Number.isFinite(s) && s >= 0) runtime.observe({ name: this.label(name), state: 'succeeded' }, s);
      },
      'task-failed': ({ id, name, runtime: s }) => {
        if (id) this.nameOf.delete(id);
        count(name, 'failed');
        if (Number.isFinite(s) && s > 0) runtime.observe({ name: this.label(name), state: 'failed' }, s);
      },
      'task-retried': ({ name }) => count(name, 'retried'),
      'task-revoked': ({ id, name }) => {
        this.nameOf.delete(id);
        count(name, 'revoked');
      },
      'task-rejected': ({ id, requeue }) => {
        // A requeued message comes back (a shutdown, a lost lease): not an outcome of the task.
        if (requeue) return;
        const name = id ? this.nameOf.get(id) : undefined;
        if (id) this.nameOf.delete(id);
        count(name, 'rejected');
      },
    };
    for (const [event, listener] of Object.entries(this.listeners)) worker.on(event as keyof WorkerEvents, listener as never);
  }

  metrics(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  /** Stops counting (the worker's listeners are removed). */
  close(): void {
    for (const [event, listener] of Object.entries(this.listeners)) this.worker.off(event as keyof WorkerEvents, listener as never);
  }

  private label(name: string | null | undefined): string {
    return this.names.value(name || 'unknown');
  }
}
