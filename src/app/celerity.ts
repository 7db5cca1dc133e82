/**
 * The application: configuration, the task registry, routing, and lazily opened connections to the broker and
 * the result backend. No global state: every task, result and worker is reached through an app instance.
 */
import { randomUUID } from 'node:crypto';
import os from 'node:os';
import type { ResultBackend } from '../backend/port.js';
import type { Broker, OutboundMessage } from '../broker/port.js';
import type { Mailbox } from '../broker/mailbox.js';
import { backendNeedsReplyQueue, createBackend, createBroker, maskUrl } from '../transports/index.js';
import { CelerityError } from '../errors/index.js';
import { encodeTaskMessage } from '../protocol/message.js';
import { createSerializerRegistry, type SerializerRegistry } from '../protocol/serializers.js';
import type { EmbedOptions, TaskSendSpec } from '../protocol/types.js';
import { Batcher } from '../util/batcher.js';
import { createLogger, type Logger } from '../util/logger.js';
import { compileConfig, type CelerityConfig, type CelerityOptions } from './config.js';
import { AsyncResult } from '../result/results.js';
import { Router } from './routing.js';
import { Task, type AnyTask, type TaskFn, type TaskOptions, type TaskSender } from './task.js';
import type { ApplyOptions, CarriedFields } from '../canvas/options.js';
import type { WorkerOptions } from '../worker/worker.js';
import { parseRate } from '../worker/rate-limit.js';
import { Worker } from '../worker/worker.js';
import { Canvas } from '../canvas/engine.js';
import type { CanvasApp } from '../canvas/host.js';
import { applyOptionsFromCelery } from '../canvas/options.js';
import { Signature, type SignatureOptions } from '../canvas/signature.js';
import { taskDict } from '../canvas/dicts.js';
import type { RevokeTaskOptions } from '../result/results.js';
import type { ControlClient } from '../control/client.js';
import { createBuiltins } from './builtins.js';
import type { ScheduleStore } from '../backend/schedules.js';
import { ConfigurationError } from '../errors/index.js';
import { Schedules } from './schedules.js';
import { loadTracing, startPublishSpan, tracingSettled } from '../tracing/index.js';
import { SentEvents } from './sent-events.js';

/** What a signature of a task known only by name takes and returns: anything (its code is elsewhere). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- deliberately unchecked, like Celery's send_task
type Untyped = any;


const EMPTY_EMBED: EmbedOptions = Object.freeze({ callbacks: null, errbacks: null, chain: null, chord: null });

export class Celerity implements TaskSender, CanvasApp {
  /** Compiled, frozen settings. */
  private _conf: CelerityConfig;
  private _router: Router;
  private _serializers: SerializerRegistry;
  private readonly registry = new Map<string, AnyTask>();
  private brokerP: Promise<Broker> | undefined;
  private backendP: Promise<ResultBackend> | undefined;
  private _log: Logger | undefined;
  /** The broker once connected, so a full batch is handed to it in the same tick it fills. */
  private connectedBroker: Broker | undefined;
  /**
   * Sends made in the same tick go out together, in batches of 250 that overlap: the broker stores one while this
   * process builds and encodes the next (publish keeps call order, see Broker.publish). One batch of 1,000 at a
   * time left Redis idle while the whole batch was encoded and this process idle while Redis stored it.
   */
  private readonly publisher = new Batcher<OutboundMessage>(
    (batch) =>
      this.connectedBroker && this.replyQueue === null
        ? this.connectedBroker.publish(batch)
        : this.replyQueueReady().then(() => this.broker().then((b) => b.publish(batch))),
    // At most eight batches in flight: a loop of a million delay() calls waits for the broker instead of encoding
    // and buffering all of them at once.
    { maxBatch: 250, mode: 'overlap', maxInFlight: 8 },
  );
  /** Celery's `reply_to`: one id per producing process. */
  readonly oid = randomUUID();
  /**
   * With the rpc:// backend, its reply queue (named `oid`) declared before the first task is sent, so no result
   * is published to a queue that does not exist yet (Celery declares it on every call); null: nothing to wait for.
   */
  private replyQueue: Promise<void> | null | undefined;
  private readonly origin = `gen${process.pid}@${os.hostname()}`;
  /** The canvas engine: what signatures built from this app's tasks send themselves with. */
  readonly canvas: Canvas = new Canvas(this);
  private control: { client: ControlClient; mailbox: Mailbox } | undefined;
  private sentEvents: SentEvents | undefined;
  private builtins: Map<string, AnyTask> | undefined;
  /** The store of `beatStore` when it is not the result backend (closed with the app). */
  private beatStoreP: Promise<ResultBackend> | undefined;
  private _schedules: Schedules | undefined;

  /**
   * @param main the app's name (Celery's `main`), shown in the worker banner
   * @param options settings in code; CELERITY_* environment variables override them. With `envPrefix` (say
   *   `'PIXCRAWLER_CELERY_'`) the app reads variables under that prefix instead, and CELERITY_* ones are not read.
   *   `include` lists modules (or globs) of tasks that the CLI and worker pools import with the app module.
   * @example
   * const app = new Celerity('media', { broker: 'sqlite://./celerity.db' });
   * export const add = app.task('example.add', (x: number, y: number) => x + y);
   */
  constructor(
    readonly main = 'celerity',
    private readonly codeOptions: CelerityOptions = {},
    private readonly env: NodeJS.ProcessEnv = process.env,
  ) {
    this._conf = compileConfig({ code: codeOptions, env });
    this._router = new Router(this._conf.taskRoutes, this._conf.defaultQueue);
    this._serializers = createSerializerRegistry(this._conf.acceptContent);
  }

  get conf(): CelerityConfig {
    return this._conf;
  }

  get router(): Router {
    return this._router;
  }

  get serializers(): SerializerRegistry {
    return this._serializers;
  }

  get log(): Logger {
    this._log ??= createLogger({ level: this._conf.loglevel, format: this._conf.logFormat, name: this.main });
    return this._log;
  }

  /** Applies the highest-precedence layer (command-line flags). Only before connections are opened. */
  configure(cli: CelerityOptions): void {
    if (this.brokerP || this.backendP) throw new CelerityError('configure() must be called before the app connects');
    this._conf = compileConfig({ code: this.codeOptions, env: this.env, cli });
    this._router = new Router(this._conf.taskRoutes, this._conf.defaultQueue);
    this._serializers = createSerializerRegistry(this._conf.acceptContent);
    this._log = undefined;
  }

  /**
   * Registers a task. Types of `delay`/`applyAsync` arguments and of the result follow from `fn`.
   * @example
   * const resize = app.task('media.resize', async function (path: string, width: number) {
   *   await this.updateState('PROGRESS', { current: 1, total: 2 });
   *   return { path, width };
   * }, { maxRetries: 5, retryBackoff: true });
   */
  task<F extends TaskFn>(name: string, fn: F, options: TaskOptions = {}): Task<F> {
    if (!name || typeof name !== 'string') throw new TypeError('a task needs a non-empty name');
    if (typeof fn !== 'function') throw new TypeError(`task ${name}: expected a function`);
    if (this.registry.has(name)) throw new CelerityError(`task ${JSON.stringify(name)} is already registered`);
    // Bad rates fail here, where the task is defined, rather than in a worker when the first message arrives.
    parseRate(options.rateLimit, `rateLimit of task ${name}`);
    parseRate(options.globalRateLimit, `globalRateLimit of task ${name}`);
    const task = new Task(name, fn, Object.freeze({ ...options }), this);
    this.registry.set(name, task);
    return task;
  }

  /** Registered tasks by name. */
  get tasks(): ReadonlyMap<string, AnyTask> {
    return this.registry;
  }

  /** The task a worker runs for `name`: a registered one, or one of Celery's built-ins that canvas sends. */
  lookupTask(name: string): AnyTask | undefined {
    const task = this.registry.get(name);
    if (task || !name.startsWith('celery.')) return task;
    this.builtins ??= createBuiltins(this);
    return this.builtins.get(name);
  }

  /**
   * Sends a task by name, without its code (Celery's `send_task`): how a TypeScript service calls a Python task.
   * Keyword arguments go in `options.kwargs`.
   * @example
   * const r = await app.sendTask<number>('proj.tasks.mul', [3], { kwargs: { y: 4 }, queue: 'math' });
   */
  async sendTask<R = unknown>(
    name: string,
    args: readonly unknown[] = [],
    options: ApplyOptions = {},
    task: AnyTask | undefined = this.registry.get(name),
  ): Promise<AsyncResult<R>> {
    if (!tracingSettled()) await loadTracing();
    const span = startPublishSpan(name, this._conf.broker);
    try {
      const { message, queue, priority, notBefore, id } = this.buildMessage(name, args, span ? span.inject(options) : options, task);
      span?.sent(id, queue);
      await this.publisher.submit({ queue, message, priority, notBefore });
      if (this._conf.sendSentEvent) await this.announce(message, queue);
      span?.end();
      return new AsyncResult<R>(id, this);
    } catch (err) {
      span?.end(err);
      throw err;
    }
  }

  /**
   * The encoded message and where it goes; also used by the worker to publish retries.
   * @internal
   */
  buildMessage(
    name: string,
    args: readonly unknown[],
    options: ApplyOptions,
    task?: AnyTask,
    carried: CarriedFields = {},
    routeName = name,
  ) {
    if (!Array.isArray(args)) throw new TypeError(`${name}: args must be an array, got ${typeof args}`);
    const kwargs = options.kwargs ?? {};
    if (typeof kwargs !== 'object' || Array.isArray(kwargs)) throw new TypeError(`${name}: kwargs must be an object`);
    const route = this._router.route(routeName);
    const queue = options.queue ?? task?.options.queue ?? route.queue;
    const priority = options.priority ?? task?.options.priority ?? route.priority ?? this._conf.defaultPriority;
    if (!Number.isInteger(priority) || priority < 0 || priority > 9) {
      throw new RangeError(`${name}: priority must be an integer from 0 to 9, got ${priority}`);
    }
    const now = Date.now();
    const eta = options.eta !== undefined ? toDate(options.eta, 'eta') : options.countdown ? new Date(now + options.countdown * 1000) : null;
    const expires =
      options.expires === undefined ? null : typeof options.expires === 'number' ? new Date(now + options.expires * 1000) : toDate(options.expires, 'expires');
    const id = options.taskId ?? randomUUID();
    const spec: TaskSendSpec = {
      id,
      task: name,
      args: [...args],
      kwargs,
      eta,
      expires,
      retries: options.retries ?? 0,
      timelimit: [options.timeLimit ?? null, options.softTimeLimit ?? null],
      rootId: options.rootId ?? id,
      parentId: options.parentId ?? null,
      group: carried.group ?? null,
      groupIndex: carried.groupIndex ?? null,
      shadow: null,
      ignoreResult: options.ignoreResult ?? task?.options.ignoreResult ?? this._conf.ignoreResult,
      replyTo: options.replyTo ?? this.oid,
      priority,
      embed: carried.embed ?? EMPTY_EMBED,
      origin: this.origin,
      extraHeaders: options.headers,
    };
    const message = encodeTaskMessage(spec, this._serializers, options.serializer ?? this._conf.taskSerializer);
    // Held by the broker until its ETA, or until its expiry when that comes first: a worker then revokes it at once.
    const notBefore = eta ? Math.min(eta.getTime(), expires?.getTime() ?? Infinity) : undefined;
    return { id, message, queue, priority, notBefore };
  }

  /**
   * One task message from Celery-named options, as canvas and the worker (callbacks, chain steps, chord bodies)
   * send them: the options of a signature a Python producer built read the same way.
   * @internal
   */
  async sendFromOptions(name: string, args: unknown[], kwargs: Record<string, unknown>, options: Record<string, unknown>): Promise<void> {
    const { apply, carried } = applyOptionsFromCelery(name, options);
    // A map or chunks message is routed as the task it calls (Celery's `route_name`).
    const inner = (kwargs.task as { task?: unknown } | undefined)?.task;
    const routeName = name.startsWith('celery.') && typeof inner === 'string' ? inner : name;
    if (!tracingSettled()) await loadTracing();
    const span = startPublishSpan(name, this._conf.broker);
    try {
      const applied = span ? span.inject({ ...apply, kwargs }) : { ...apply, kwargs };
      const built = this.buildMessage(name, args, applied, this.registry.get(routeName), carried, routeName);
      span?.sent(built.id, built.queue);
      await this.publisher.submit({ queue: built.queue, message: built.message, priority: built.priority, notBefore: built.notBefore });
      if (this._conf.sendSentEvent) await this.announce(built.message, built.queue);
    } catch (err) {
      span?.end(err);
      throw err;
    }
    span?.end();
  }

  /** The task-sent event of a message just published (`sendSentEvent`). */
  private announce(message: OutboundMessage['message'], queue: string): Promise<void> {
    this.sentEvents ??= new SentEvents(async () => (await this.broker()).mailbox?.() ?? null, this.origin, this.log);
    return this.sentEvents.sent(message, queue);
  }

  /**
   * Celery's `app.control.revoke`: every worker discards these tasks when they arrive (and, with `terminate`,
   * stops them if running). A broker that stores revocations (the embedded store) keeps the ids where every worker
   * reads them before it looks at the messages it reserves, including workers started later; otherwise the ids
   * travel over remote control through the broker's mailbox, as Celery's do.
   */
  async revokeTasks(ids: readonly string[], options: RevokeTaskOptions = {}): Promise<void> {
    if (!ids.length) return;
    const broker = await this.broker();
    if (broker.revoke) {
      await broker.revoke(ids, { terminate: options.terminate ?? false, signal: options.signal ?? 'SIGTERM' });
      return;
    }
    if (!broker.mailbox) throw new CelerityError(`the broker at ${maskUrl(this._conf.broker)} cannot revoke tasks`);
    if (!this.control) {
      const { ControlClient } = await import('../control/client.js');
      const mailbox = broker.mailbox();
      this.control = { mailbox, client: new ControlClient({ mailbox, accept: this._conf.acceptContent, serializer: this._conf.taskSerializer }) };
    }
    await this.control.client.revoke(ids, { terminate: options.terminate, signalName: options.signal, reply: options.wait, timeout: options.timeout });
  }

  /**
   * Publishes already built messages (used by the worker for retries and parking).
   * @internal
   */
  publish(message: OutboundMessage): Promise<void> {
    return this.publisher.submit(message);
  }

  /**
   * A signature of a task by name, for tasks this process has no code for, such as a Python task (Celery's
   * `app.signature`). Its result type is whatever the caller says (`any` otherwise), so it fits any chain.
   * @example
   * await chain(app.signature('proj.fetch', ['https://example.com']), summarize.s()).applyAsync();
   */
  signature<R = Untyped>(
    name: string,
    args: readonly unknown[] = [],
    options: SignatureOptions & { kwargs?: Record<string, unknown>; immutable?: boolean } = {},
  ): Signature<Untyped[], R> {
    const { kwargs, immutable, ...rest } = options;
    return new Signature<Untyped[], R>(taskDict(name, args, kwargs ?? {}, immutable ?? false), this.canvas).set(rest);
  }

  /** A handle on any task's result by id. */
  asyncResult<R = unknown>(id: string): AsyncResult<R> {
    return new AsyncResult<R>(id, this);
  }

  private replyQueueReady(): Promise<void> {
    if (this.replyQueue === undefined) {
      this.replyQueue = backendNeedsReplyQueue(this._conf.backend) ? this.backend().then(() => undefined) : null;
      // A failed connect is tried again by the next send.
      this.replyQueue?.catch(() => (this.replyQueue = undefined));
    }
    return this.replyQueue ?? Promise.resolve();
  }

  broker(): Promise<Broker> {
    let p = this.brokerP;
    if (!p) {
      const made = connectOnce(() => createBroker(this._conf.broker, {
          visibilityTimeout: this._conf.visibilityTimeout,
          connectTimeout: this._conf.brokerConnectionTimeout,
          commandTimeout: this._conf.redisSocketTimeout,
          busyTimeout: this._conf.sqliteBusyTimeout,
          // Celery's "Connection to broker lost. Trying to re-establish the connection..." and its recovery.
          onConnectionEvent: (e) =>
            e.type === 'lost'
              ? this.log.warn({ err: e.error.message, broker: maskUrl(this._conf.broker) }, 'connection to the broker lost; reconnecting')
              : this.log.info({ broker: maskUrl(this._conf.broker) }, 'connection to the broker re-established'),
        }));
      // A failed connect is not cached: the next call tries again (the worker's loop retries with backoff).
      made.then(
        (b) => this.brokerP === made && (this.connectedBroker = b),
        () => this.brokerP === made && (this.brokerP = undefined),
      );
      this.brokerP = p = made;
    }
    return p;
  }

  backend(): Promise<ResultBackend> {
    let p = this.backendP;
    if (!p) {
      const made = connectOnce(() => createBackend(this._conf.backend, {
          resultExpires: this._conf.resultExpires,
          connectTimeout: this._conf.redisSocketConnectTimeout,
          commandTimeout: this._conf.redisSocketTimeout,
          busyTimeout: this._conf.sqliteBusyTimeout,
          brokerUrl: this._conf.broker,
          replyQueue: this.oid,
        }));
      made.catch(() => this.backendP === made && (this.backendP = undefined));
      this.backendP = p = made;
    }
    return p;
  }

  /**
   * Periodic tasks, changed at run time (running beats see changes within a second).
   * @example
   * await app.schedules.add('cleanup', { task: 'maintenance.cleanup', schedule: crontab({ hour: 2, minute: 0 }) });
   * await app.schedules.pause('cleanup');
   */
  get schedules(): Schedules {
    this._schedules ??= new Schedules(this);
    return this._schedules;
  }

  /** Where beat keeps schedules, their state and its lease: `beatStore`, or the result backend. */
  async scheduleStore(): Promise<ScheduleStore> {
    const url = this._conf.beatStore;
    let backend: ResultBackend;
    if (url === null) backend = await this.backend();
    else {
      const made = (this.beatStoreP ??= connectOnce(() => createBackend(url, { resultExpires: this._conf.resultExpires, busyTimeout: this._conf.sqliteBusyTimeout })));
      made.catch(() => this.beatStoreP === made && (this.beatStoreP = undefined));
      backend = await made;
    }
    if (!backend.schedules) {
      throw new ConfigurationError(
        'beatStore',
        url ?? maskUrl(this._conf.backend),
        'a store that keeps schedules (sqlite://, redis://, postgresql://): this result backend keeps none, so set beatStore',
      );
    }
    return backend.schedules();
  }

  /** A worker for this app; call `start()` on it. */
  worker(options: WorkerOptions = {}): Worker {
    return new Worker(this, options);
  }

  /** Flushes pending sends and closes connections; the process can then exit on its own. */
  async close(): Promise<void> {
    await this.publisher.drain();
    const sentEvents = this.sentEvents;
    this.sentEvents = undefined;
    await sentEvents?.close();
    const control = this.control;
    this.control = undefined;
    await control?.client.close();
    await control?.mailbox.close();
    const [b, r, s] = [this.brokerP, this.backendP, this.beatStoreP];
    this.brokerP = this.backendP = this.beatStoreP = undefined;
    this.connectedBroker = undefined;
    await Promise.all([b, r, s].map((p) => p?.then((x) => x.close(), () => undefined)));
  }
}

async function connectOnce<T extends { connect(): Promise<void> }>(make: () => Promise<T>): Promise<T> {
  const conn = await make();
  await conn.connect();
  return conn;
}

function toDate(v: Date | string, what: string): Date {
  const d = v instanceof Date ? v : new Date(v);
  if (Number.isNaN(d.getTime())) throw new TypeError(`${what} is not a valid date: ${String(v)}`);
  return d;
}
