/**
 * A running monitor: it listens to the events of every worker on the broker (Celery's and ours), keeps the
 * workers from their heartbeats, writes each task's lifecycle to a history store, and reads the result store for
 * what events do not tell (custom states, workers that send no events, group ids).
 *
 * Like Flower, it broadcasts `enable_events` every few seconds, so workers started without `-E` send task events
 * too, including ones that start after the monitor.
 */
import type { Mailbox } from '../broker/mailbox.js';
import type { ResultBackend } from '../backend/port.js';
import { ControlClient } from '../control/client.js';
import { EventReceiver, type ReceivedEvent } from '../control/event-receiver.js';
import type { HistoryStore, RetentionOptions, TaskUpdate } from '../history/port.js';
import { CelerityError } from '../errors/index.js';
import { maskUrl } from '../transports/index.js';
import { Reconciler } from './reconcile.js';
import { Recorder, silentLogger, type MonitorLogger } from './recorder.js';
import { taskUpdateFromEvent } from './task-events.js';
import type { MonitorView, WorkerInfo } from './types.js';
import { WorkerRegistry } from './workers.js';

/** What the monitor needs of the app (a Celerity instance fits). */

/** States after which one read of the stored result adds what no event carries (group id, exact arguments). */
const FINISHED = new Set(['SUCCESS', 'FAILURE', 'REVOKED']);
export interface MonitorApp {
  broker(): Promise<{ mailbox?(): Mailbox }>;
  backend(): Promise<Pick<ResultBackend, 'mget'>>;
  readonly conf: { readonly broker: string; readonly acceptContent?: readonly string[] };
}

export interface MonitorOptions {
  history: HistoryStore;
  /** Broadcast `enable_events` every `enableEventsIntervalMs` (default true). */
  enableEvents?: boolean;
  /** Default 5000 ms, as Flower. */
  enableEventsIntervalMs?: number;
  /** Applied every minute; none by default. */
  retention?: Pick<RetentionOptions, 'maxAgeMs' | 'maxTasks'>;
  /** Default 60,000 ms. */
  retentionIntervalMs?: number;
  /** Read the result store for unfinished tasks (default true). */
  reconcile?: boolean;
  /** Passed to the recorder: default 100 ms, 500 updates per batch, 50,000 updates held. */
  flushIntervalMs?: number;
  batchSize?: number;
  maxBuffer?: number;
  logger?: MonitorLogger;
}

export class Monitor implements MonitorView {
  readonly history: HistoryStore;
  readonly recorder: Recorder;
  readonly registry: WorkerRegistry;
  readonly reconciler: Reconciler | null;
  private readonly listeners = new Set<(event: ReceivedEvent) => void>();
  private readonly recordListeners = new Set<(update: TaskUpdate) => void>();
  private readonly timers: NodeJS.Timeout[] = [];
  private readonly log: MonitorLogger;
  private receiver: EventReceiver | null = null;
  private control: ControlClient | null = null;
  private mailbox: Mailbox | null = null;
  private closing: Promise<void> | null = null;
  private pruning = false;
  /** Events received, of any kind (for metrics). */
  eventsReceived = 0;

  private constructor(history: HistoryStore, backend: Pick<ResultBackend, 'mget'> | null, options: MonitorOptions) {
    this.history = history;
    this.log = options.logger ?? silentLogger;
    this.recorder = new Recorder({
      history,
      intervalMs: options.flushIntervalMs,
      batchSize: options.batchSize,
      maxBuffer: options.maxBuffer,
      logger: this.log,
    });
    this.registry = new WorkerRegistry();
    this.reconciler = backend
      ? new Reconciler({ history, backend, sink: (u) => this.recorder.push(u), logger: this.log })
      : null;
  }

  /**
   * Starts a monitor on the app's broker and connects the history store. Throws a CelerityError naming the broker
   * when it has no mailbox (events cannot be received there).
   *
   * @example
   * const history = new SqliteHistoryStore({ path: 'history.db' });
   * const monitor = await Monitor.start(app, { history, retention: { maxAgeMs: 7 * 86_400_000 } });
   * monitor.onEvent((e) => console.log(e.type));
   */
  static async start(app: MonitorApp, options: MonitorOptions): Promise<Monitor> {
    const broker = await app.broker();
    if (!broker.mailbox) {
      throw new CelerityError(`the broker at ${maskUrl(app.conf.broker)} has no mailbox: a monitor cannot receive events from it`);
    }
    await options.history.connect();
    const backend = options.reconcile === false ? null : await app.backend();
    const monitor = new Monitor(options.history, backend, options);
    try {
      await monitor.open(broker.mailbox(), app.conf.acceptContent, options);
    } catch (err) {
      await monitor.close().catch(() => undefined);
      throw err;
    }
    return monitor;
  }

  private async open(mailbox: Mailbox, accept: readonly string[] | undefined, options: MonitorOptions): Promise<void> {
    this.mailbox = mailbox;
    this.recorder.start();
    const onError = (err: Error): void => this.log.warn({ err: err.message }, 'monitor: an event could not be read');
    this.receiver = new EventReceiver({ mailbox, accept, onError });
    this.receiver.on((event) => this.handleEvent(event));
    await this.receiver.start();
    if (options.enableEvents ?? true) {
      this.control = new ControlClient({ mailbox, accept, onError });
      const enable = (): void => {
        this.control?.broadcast('enable_events').catch((err: unknown) =>
          this.log.warn({ err: err instanceof Error ? err.message : String(err) }, 'monitor: enable_events broadcast failed'),
        );
      };
      enable();
      this.every(options.enableEventsIntervalMs ?? 5_000, enable);
    }
    this.reconciler?.start();
    const retention = options.retention;
    if (retention && (retention.maxAgeMs !== undefined || retention.maxTasks !== undefined)) {
      this.every(options.retentionIntervalMs ?? 60_000, () => void this.prune(retention));
    }
  }

  /**
   * One received event: worker events feed the registry, task events the history. The receiver calls it; it is
   * public so that events from elsewhere (a replay, a benchmark) take the same path.
   */
  handleEvent(event: ReceivedEvent): void {
    this.eventsReceived++;
    if (!this.registry.handle(event)) {
      const update = taskUpdateFromEvent(event);
      if (update) {
        this.recorder.push(update);
        this.reconciler?.touched(update.id);
        if (update.state && FINISHED.has(update.state)) this.reconciler?.finished(update.id);
      }
    }
    for (const listener of this.listeners) {
      try {
        listener(event);
      } catch (err) {
        this.log.warn({ err: err instanceof Error ? err.message : String(err) }, 'monitor: an event listener failed');
      }
    }
  }

  workers(): WorkerInfo[] {
    return this.registry.list();
  }

  worker(hostname: string): WorkerInfo | undefined {
    return this.registry.get(hostname);
  }

  onEvent(listener: (event: ReceivedEvent) => void): () => void {
    this.listeners.add(listener);
    return () => void this.listeners.delete(listener);
  }

  /** Queues an update; throws a TypeError naming the problem for an update no store could keep. */
  record(update: TaskUpdate): void {
    checkUpdateShape(update);
    this.recorder.push(update);
    for (const listener of this.recordListeners) {
      try {
        listener(update);
      } catch (err) {
        this.log.warn({ err: err instanceof Error ? err.message : String(err) }, 'monitor: a record listener failed');
      }
    }
  }

  onRecord(listener: (update: TaskUpdate) => void): () => void {
    this.recordListeners.add(listener);
    return () => void this.recordListeners.delete(listener);
  }

  flush(): Promise<void> {
    return this.recorder.flush();
  }

  /** Updates dropped because the buffer was full or their batch kept failing. */
  get dropped(): number {
    return this.recorder.dropped;
  }

  /** Stops listening and writes what is buffered; closes the connections it opened (not the app, not the store). */
  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  private async shutdown(): Promise<void> {
    for (const t of this.timers) clearInterval(t);
    this.timers.length = 0;
    await this.receiver?.close().catch(() => undefined);
    await this.control?.close().catch(() => undefined);
    await this.reconciler?.close();
    try {
      await this.recorder.close();
    } finally {
      await this.mailbox?.close().catch(() => undefined);
      this.listeners.clear();
      this.recordListeners.clear();
    }
  }

  private every(ms: number, fn: () => void): void {
    const t = setInterval(fn, ms);
    t.unref();
    this.timers.push(t);
  }

  private async prune(retention: Pick<RetentionOptions, 'maxAgeMs' | 'maxTasks'>): Promise<void> {
    if (this.pruning) return;
    this.pruning = true;
    try {
      const forgotten = await this.history.prune(retention);
      if (forgotten > 0) this.log.info({ forgotten }, 'task history: retention applied');
    } catch (err) {
      this.log.warn({ err: err instanceof Error ? err.message : String(err) }, 'task history: retention failed');
    } finally {
      this.pruning = false;
    }
  }
}

/** The checks an update from outside gets before it joins a batch, where one bad update would fail them all. */
function checkUpdateShape(update: TaskUpdate): void {
  if (update === null || typeof update !== 'object') throw new TypeError('task update must be an object');
  if (typeof update.id !== 'string' || update.id === '') throw new TypeError('task update: id must be a non-empty string');
  if (typeof update.timestamp !== 'number' || !Number.isFinite(update.timestamp)) {
    throw new TypeError(`task update ${update.id}: timestamp must be a finite number of epoch ms`);
  }
  if (update.state !== undefined && (typeof update.state !== 'string' || update.state === '')) {
    throw new TypeError(`task update ${update.id}: state must be a non-empty string`);
  }
  for (const [key, value] of Object.entries(update.fields ?? {})) {
    if (value === undefined || value === null) continue;
    const numeric = key === 'retries' || key === 'runtime' || key.endsWith('At');
    if (numeric ? typeof value !== 'number' || !Number.isFinite(value) : typeof value !== 'string') {
      throw new TypeError(`task update ${update.id}: ${key} must be ${numeric ? 'a finite number' : 'a string'} or null`);
    }
  }
  const t = update.timeline;
  if (t !== undefined && (typeof t.type !== 'string' || t.type === '' || typeof t.timestamp !== 'number' || !Number.isFinite(t.timestamp))) {
    throw new TypeError(`task update ${update.id}: a timeline entry needs a type and a finite timestamp`);
  }
}
