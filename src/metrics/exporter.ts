/**
 * Prometheus metrics from Celery's monitoring events, with celery-exporter's names, types, labels and buckets, so
 * its Grafana dashboards and alerts work unchanged: `celery_task_<state>_total{name,hostname,queue_name}` (plus
 * `exception` on failures), `celery_task_runtime`, `celery_worker_up`, `celery_worker_tasks_active`,
 * `celery_queue_length` and the consumer gauges. `celery_task_queue_wait_time` (received to started) is ours;
 * celery-exporter has no such metric.
 *
 * As celery-exporter does, `hostname` is the host part of the node name (`celery@web-1` -> `web-1`), a task's
 * `queue_name` is the queue its task-sent event named (the default queue when no task-sent was seen), and every
 * task event but task-sent adds 0 to the other state counters so all series of a task exist from its first event.
 *
 * Everything remembered is bounded: distinct values per label (beyond them `other`), tasks followed between
 * events (least recently used dropped), workers (forgotten after a silence).
 */
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { LabelCap, LruMap } from './bounded.js';

/** prometheus_client's `Histogram.DEFAULT_BUCKETS`, which celery-exporter uses (prom-client's differ). */
export const CELERY_EXPORTER_BUCKETS: readonly number[] = [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10];

/** One queue as the broker and the workers describe it; null (or absent) leaves its series out. */
export interface QueueStat {
  queue: string;
  /** Messages waiting. */
  length?: number | null;
  /** Consumers on the queue. */
  consumers?: number | null;
  /** Workers consuming the queue (their `active_queues`). */
  workers?: number | null;
  /** Pool processes of those workers. */
  processes?: number | null;
}

/** Reads every queue's numbers; called on scrape, at most once per `queueCacheMs`. */
export type QueueSource = () => Promise<readonly QueueStat[]>;

export interface CeleryExporterOptions {
  /** Defaults to a registry of the exporter's own. */
  registry?: Registry;
  /** Buckets of the runtime and queue-wait histograms, seconds (celery-exporter's `--buckets`). */
  buckets?: readonly number[];
  queueSource?: QueueSource;
  /** How long one read of the queues answers scrapes (default 5 s): a scrape storm reaches the broker once. */
  queueCacheMs?: number;
  /** Distinct values kept per label (default 1,000); later ones are counted under `other`. */
  maxLabelValues?: number;
  /** Tasks whose name and queue are remembered for their later events (default 10,000). */
  maxTrackedTasks?: number;
  /** Worker nodes remembered (default 10,000). */
  maxWorkers?: number;
  /** A worker silent this long loses its series (default 10 min, celery-exporter's purge). */
  purgeWorkerAfterMs?: number;
  /** `queue_name` when no task-sent event named the queue (default `celery`, as celery-exporter). */
  defaultQueue?: string;
  /** Epoch ms; injectable for tests. */
  now?: () => number;
  /** A failed read of the queues (the scrape goes on without queue series). */
  onError?: (err: Error) => void;
}

const TASK_STATES = ['sent', 'received', 'started', 'succeeded', 'failed', 'retried', 'revoked', 'rejected'] as const;
type TaskState = (typeof TASK_STATES)[number];

const STATE_HELP: Record<TaskState, string> = {
  sent: 'Sent when a task message is published.',
  received: 'Sent when the worker receives a task.',
  started: 'Sent just before the worker executes the task.',
  succeeded: 'Sent if the task executed successfully.',
  failed: 'Sent if the execution of the task failed.',
  retried: 'Sent if the task failed, but will be retried in the future.',
  revoked: 'Sent if the task has been revoked.',
  rejected: 'The task was rejected by the worker, possibly to be re-queued or moved to a dead letter queue.',
};

interface TrackedTask {
  name: string | undefined;
  queue: string | undefined;
  /** task-received's timestamp (the worker's clock), epoch seconds. */
  receivedAt: number | undefined;
}

interface WorkerSeen {
  host: string;
  /** Our clock when its last heartbeat or online event arrived, epoch ms. */
  lastSeen: number;
  freq: number;
  active: number;
  offline: boolean;
}

type Event = Record<string, unknown> & { type?: unknown };

/** The host part of a Celery node name (celery.utils.nodesplit): `w1@host` -> `host`; no `@`: the whole name. */
export function hostOfNode(nodename: string): string {
  const at = nodename.indexOf('@');
  return at === -1 ? nodename : nodename.slice(at + 1);
}

/** celery-exporter's exception label: the class name of a Python repr (`KeyError('x')` -> `KeyError`). */
export function exceptionClass(repr: unknown): string {
  const m = typeof repr === 'string' ? /^(\w+)\(/.exec(repr) : null;
  return m ? m[1]! : 'UnknownException';
}

export class CeleryExporter {
  readonly registry: Registry;
  private readonly counters: Record<TaskState, Counter<string>>;
  private readonly runtime: Histogram<string>;
  private readonly queueWait: Histogram<string>;
  private readonly names: LabelCap;
  private readonly hosts: LabelCap;
  private readonly queues: LabelCap;
  private readonly exceptions: LabelCap;
  private readonly tasks: LruMap<string, TrackedTask>;
  private readonly nodes: LruMap<string, WorkerSeen>;
  private readonly defaultQueue: string;
  private readonly purgeAfterMs: number;
  private readonly now: () => number;
  private readonly queueSource: QueueSource | undefined;
  private readonly queueCacheMs: number;
  private readonly onError: (err: Error) => void;
  private queueRead: { at: number | null; stats: Promise<readonly QueueStat[]> } | undefined;

  constructor(options: CeleryExporterOptions = {}) {
    this.registry = options.registry ?? new Registry();
    const registers = [this.registry];
    const buckets = [...(options.buckets ?? CELERY_EXPORTER_BUCKETS)];
    const maxLabels = options.maxLabelValues ?? 1000;
    this.names = new LabelCap(maxLabels);
    this.hosts = new LabelCap(maxLabels);
    this.queues = new LabelCap(maxLabels);
    this.exceptions = new LabelCap(maxLabels);
    this.tasks = new LruMap(options.maxTrackedTasks ?? 10_000);
    this.nodes = new LruMap(options.maxWorkers ?? 10_000);
    this.defaultQueue = options.defaultQueue ?? 'celery';
    this.purgeAfterMs = options.purgeWorkerAfterMs ?? 10 * 60_000;
    this.now = options.now ?? Date.now;
    this.queueSource = options.queueSource;
    this.queueCacheMs = options.queueCacheMs ?? 5000;
    this.onError = options.onError ?? (() => undefined);

    const taskLabels = ['name', 'hostname', 'queue_name'];
    this.counters = Object.fromEntries(
      TASK_STATES.map((state) => [
        state,
        new Counter({
          name: `celery_task_${state}_total`,
          help: STATE_HELP[state],
          labelNames: state === 'failed' ? ['name', 'hostname', 'exception', 'queue_name'] : taskLabels,
          registers,
        }),
      ]),
    ) as Record<TaskState, Counter<string>>;
    this.runtime = new Histogram({ name: 'celery_task_runtime', help: 'Histogram of task runtime measurements.', labelNames: taskLabels, buckets, registers });
    this.queueWait = new Histogram({
      name: 'celery_task_queue_wait_time',
      help: 'Seconds from the worker receiving a task to starting it (waiting for a free slot, an ETA or a rate limit).',
      labelNames: taskLabels,
      buckets,
      registers,
    });

    // prom-client calls `collect` with the metric as `this`; these reach the exporter.
    const hosts = () => this.workersByHost();
    const queueStats = () => this.queueStats();
    const queueLabel = (queue: string) => this.queues.value(queue);
    new Gauge({
      name: 'celery_worker_up',
      help: 'Indicates if a worker has recently sent a heartbeat.',
      labelNames: ['hostname'],
      registers,
      collect() {
        this.reset();
        for (const [host, w] of hosts()) this.set({ hostname: host }, w.up ? 1 : 0);
      },
    });
    new Gauge({
      name: 'celery_worker_tasks_active',
      help: 'The number of tasks the worker is currently processing',
      labelNames: ['hostname'],
      registers,
      collect() {
        this.reset();
        for (const [host, w] of hosts()) this.set({ hostname: host }, w.active);
      },
    });
    const queueGauge = (name: string, help: string, pick: (s: QueueStat) => number | null | undefined) =>
      new Gauge({
        name,
        help,
        labelNames: ['queue_name'],
        registers,
        async collect() {
          this.reset();
          for (const s of await queueStats()) {
            const v = pick(s);
            if (typeof v === 'number' && Number.isFinite(v)) this.set({ queue_name: queueLabel(s.queue) }, v);
          }
        },
      });
    if (this.queueSource) {
      queueGauge('celery_queue_length', 'The number of message in broker queue.', (s) => s.length);
      queueGauge('celery_active_consumer_count', 'The number of active consumer in broker queue.', (s) => s.consumers);
      queueGauge('celery_active_worker_count', 'The number of active workers in broker queue.', (s) => s.workers);
      queueGauge('celery_active_process_count', 'The number of active processes in broker queue.', (s) => s.processes);
    }
  }

  /** Counts one event (any type; unknown types and malformed events are ignored). */
  observe(event: Event): void {
    const type = event.type;
    if (typeof type !== 'string') return;
    if (type === 'worker-heartbeat' || type === 'worker-online' || type === 'worker-offline') return this.observeWorker(type, event);
    if (!type.startsWith('task-')) return;
    const state = type.slice(5) as TaskState;
    if (!(state in this.counters)) return;
    const uuid = event.uuid;
    if (typeof uuid !== 'string' || !uuid) return;

    const task = this.tasks.get(uuid) ?? { name: undefined, queue: undefined, receivedAt: undefined };
    if (typeof event.name === 'string' && event.name) task.name = event.name;
    if (state === 'sent' && typeof event.queue === 'string' && event.queue) task.queue = event.queue;
    this.tasks.set(uuid, task);

    const labels = {
      name: this.names.value(task.name ?? 'unknown'),
      hostname: this.hosts.value(hostOfNode(typeof event.hostname === 'string' ? event.hostname : 'unknown')),
      queue_name: this.queues.value(task.queue ?? this.defaultQueue),
    };
    for (const s of TASK_STATES) {
      if (s !== state && state === 'sent') continue;
      const counterLabels = s === 'failed' ? { ...labels, exception: s === state ? this.exceptions.value(exceptionClass(event.exception)) : '' } : labels;
      this.counters[s].inc(counterLabels, s === state ? 1 : 0);
    }

    const timestamp = typeof event.timestamp === 'number' ? event.timestamp : undefined;
    if (state === 'received') task.receivedAt = timestamp;
    if (state === 'started' && task.receivedAt !== undefined && timestamp !== undefined && timestamp >= task.receivedAt) {
      this.queueWait.observe(labels, timestamp - task.receivedAt);
      task.receivedAt = undefined;
    }
    if (state === 'succeeded' && typeof event.runtime === 'number' && Number.isFinite(event.runtime) && event.runtime >= 0) {
      this.runtime.observe(labels, event.runtime);
    }
  }

  /** The exposition text (Prometheus text format 0.0.4). */
  metrics(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  private observeWorker(type: string, event: Event): void {
    const nodename = event.hostname;
    if (typeof nodename !== 'string' || !nodename) return;
    const prev = this.nodes.get(nodename);
    const freq = typeof event.freq === 'number' && event.freq > 0 ? event.freq : (prev?.freq ?? 2);
    const active = typeof event.active === 'number' && event.active >= 0 ? event.active : (prev?.active ?? 0);
    this.nodes.set(nodename, {
      host: this.hosts.value(hostOfNode(nodename)),
      lastSeen: this.now(),
      freq,
      active: type === 'worker-offline' ? 0 : active,
      offline: type === 'worker-offline',
    });
  }

  /**
   * Per host label: up when any of its nodes sent a heartbeat within 2 x freq (Celery's rule) and no worker-offline
   * since; active, the sum over its live nodes. Nodes silent past the purge time are forgotten here.
   */
  private workersByHost(): Map<string, { up: boolean; active: number }> {
    const now = this.now();
    const hosts = new Map<string, { up: boolean; active: number }>();
    const purged: string[] = [];
    for (const [nodename, w] of this.nodes.entries()) {
      if (now - w.lastSeen > this.purgeAfterMs) {
        purged.push(nodename);
        continue;
      }
      const up = !w.offline && now - w.lastSeen <= w.freq * 2 * 1000;
      const h = hosts.get(w.host) ?? { up: false, active: 0 };
      h.up ||= up;
      if (up) h.active += w.active;
      hosts.set(w.host, h);
    }
    for (const nodename of purged) this.nodes.delete(nodename);
    return hosts;
  }

  /**
   * The queues' numbers, read at most once per cache period (counted from the end of the read) and never twice at
   * once; a failed read gives none, and is not retried sooner either.
   */
  private queueStats(): Promise<readonly QueueStat[]> {
    const source = this.queueSource;
    if (!source) return Promise.resolve([]);
    const read = this.queueRead;
    if (read && (read.at === null || this.now() - read.at < this.queueCacheMs)) return read.stats;
    const next: { at: number | null; stats: Promise<readonly QueueStat[]> } = { at: null, stats: Promise.resolve([]) };
    next.stats = Promise.resolve()
      .then(source)
      .catch((err: unknown) => {
        this.onError(err instanceof Error ? err : new Error(String(err)));
        return [];
      })
      .finally(() => {
        next.at = this.now();
      });
    this.queueRead = next;
    return next.stats;
  }
}
