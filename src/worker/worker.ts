/**
 * The worker: reserves messages (prefetch = concurrency x multiplier), runs them in the async pool, stores results
 * and acknowledges. Lifecycle: start() connects and begins consuming; stop() stops fetching, returns what has not
 * started to the broker at once, lets running tasks finish up to the shutdown deadline, then returns the rest.
 *
 * Bad input never stops the loop and never loses a message: undecodable or malformed messages, unknown task names
 * and wrong arguments are logged with the reason, marked FAILURE where an id is known, and moved to the broker's
 * dead-letter store.
 */
import { EventEmitter } from 'node:events';
import type { WorkerApp } from './worker-app.js';
import type { Broker, Delivery } from '../broker/port.js';
import { toError } from '../errors/index.js';
import type { Logger } from '../util/logger.js';
import { sleep } from '../util/sleep.js';
import { Completer } from './completer.js';
import type { WorkerEvents } from './events.js';
import { runTask } from './run-task.js';
import { checkPoolSettings, openPool, type PoolKind } from './pool-select.js';
import type { ExecutionPool } from './pools/pool.js';
import { Autoscaler, type AutoscaleOptions } from './autoscale.js';
import { HeldJobs, type Job } from './job.js';
import { readDelivery, startOf } from './intake.js';
import { WorkerNode, type NodeHost, type NodeOptions } from './node.js';
import { StoredRevocations } from './stored-revocations.js';
import { Housekeeping } from './housekeeping.js';
import { OutcomeWriter, type OutcomeHost } from './outcomes.js';
import { RateGate } from './rate-limit.js';
import type { WorkerOptions } from './options.js';
import { holdUntil, isExpired } from './expiry.js';
import { LoopWatch, StallReporter, stallThreshold } from './loop-watch.js';
import { ReserveLoop } from './reserve-loop.js';
import type { WorkerMetricsServer } from '../metrics/worker-server.js';
import { withRunContext } from '../tracing/index.js';


export type { WorkerOptions } from './options.js';

/** ETA tasks a worker holds beyond its prefetch window on a broker that cannot hold them (see etaAside). */
const ETA_HOLD_LIMIT = 10_000;


export class Worker extends EventEmitter<WorkerEvents> {
  readonly hostname: string;
  /** Consumed in this order; `add_consumer` / `cancel_consumer` change it while the worker runs. */
  readonly queues: string[];
  /** Tasks run at once; `pool_grow` / `pool_shrink` change it. */
  private slots: number;
  private readonly multiplier: number;
  private readonly log: Logger;
  private readonly shutdownTimeout: number;
  private broker!: Broker;
  private readonly waiting: Job[] = [];
  private readonly held = new HeldJobs();
  private readonly running = new Map<string, Job>();
  /** Ran, slot given back, result and ack still being written; still counted against prefetch until acked. */
  private readonly finishing = new Map<string, Job>();
  private readonly runPromises = new Map<string, Promise<void>>();
  private readonly sideOps = new Set<Promise<void>>();
  private readonly fetchAbort = new AbortController();
  /** Messages asked for by reserves still in flight. */
  private reserver: ReserveLoop | undefined;
  private loop: Promise<void> | undefined;
  private housekeeping: Housekeeping | undefined;
  private loopWatch: LoopWatch | undefined;
  private stalls!: StallReporter;
  private stopping: Promise<void> | undefined;
  private cold = false;
  private cutShort: (() => void) | undefined;
  private completer!: Completer;
  private outcomes!: OutcomeWriter;
  /** Rate limits (`rateLimit` per worker, `globalRateLimit` through the broker); `rate_limit` control changes them. */
  readonly rates: RateGate;
  /** Totals per task name, like Celery's `stats.total`. */
  readonly processed = new Map<string, number>();
  readonly poolKind: PoolKind;
  private readonly appModule: string | undefined;
  private readonly maxTasksPerChild: number | null;
  private readonly maxMemoryPerChild: number | null;
  /** The threads or process pool; null when tasks run on this event loop. */
  private pool: ExecutionPool | null = null;
  /** Remote control and events; undefined when the broker has no mailbox. */
  private node: WorkerNode | undefined;
  private starting: Promise<void> | undefined;
  /**
   * Revocations stored in the broker (the embedded store), read before reserved messages are looked at: they also
   * reach workers that were not running when the revoke was sent.
   */
  private revocations: StoredRevocations | undefined;
  private readonly nodeOptions: NodeOptions | false;
  private readonly autoscaleOptions: AutoscaleOptions | undefined;
  private scaler: Autoscaler | undefined;
  private metricsServer: WorkerMetricsServer | undefined;

  constructor(
    private readonly app: WorkerApp,
    options: WorkerOptions = {},
  ) {
    super();
    const conf = app.conf;
    this.poolKind = options.pool ?? conf.pool;
    if (!['async', 'threads', 'process'].includes(this.poolKind)) {
      throw new TypeError(`unknown pool ${JSON.stringify(this.poolKind)}: expected async, threads or process`);
    }
    this.appModule = options.appModule;
    checkPoolSettings({ kind: this.poolKind, appModule: this.appModule });
    this.maxTasksPerChild = options.maxTasksPerChild !== undefined ? options.maxTasksPerChild : conf.maxTasksPerChild;
    this.maxMemoryPerChild = options.maxMemoryPerChild !== undefined ? options.maxMemoryPerChild : conf.maxMemoryPerChild;
    this.hostname = options.hostname ?? conf.hostname;
    this.queues = options.queues?.length ? [...options.queues] : [...(conf.queues ?? [conf.defaultQueue])];
    this.autoscaleOptions = options.autoscale;
    // Autoscaled pools start small; the prefetch window is sized for the largest (see the prefetch getter).
    this.slots = options.autoscale ? options.autoscale.min : (options.concurrency ?? conf.concurrency);
    this.multiplier = options.prefetchMultiplier ?? conf.prefetchMultiplier;
    this.nodeOptions = options.node ?? {};
    this.shutdownTimeout = options.shutdownTimeout ?? conf.shutdownTimeout;
    this.log = options.logger ?? app.log;
    this.rates = new RateGate(
      { claimRateSlot: (key, spacing) => this.broker.claimRateSlot?.(key, spacing) ?? Promise.resolve(0) },
      (err, task) => this.log.warn({ task, err: toError(err).message }, 'global rate limit unavailable; using the local rate'),
    );
  }

  /** Connects and starts consuming; resolves once the worker is consuming. */
  start(): Promise<void> {
    if (this.starting) return Promise.reject(new Error('worker already started'));
    this.starting = this.open().catch(async (err: unknown) => {
      await this.metricsServer?.close();
      throw err;
    });
    return this.starting;
  }

  /** Where the `metricsPort` server listens (`http://host:port`, the bound port when 0 was asked), or null. */
  get metricsUrl(): string | null {
    return this.metricsServer?.url ?? null;
  }

  private async open(): Promise<void> {
    const { metricsPort, metricsHost } = this.app.conf;
    if (metricsPort !== null) {
      const { WorkerMetricsServer } = await import('../metrics/worker-server.js');
      this.metricsServer = await WorkerMetricsServer.start(this, this.app, { port: metricsPort, host: metricsHost, log: this.log });
    }
    const [broker, backend] = await Promise.all([this.app.broker(), this.app.backend()]);
    this.pool = await openPool({
      kind: this.poolKind,
      appModule: this.appModule,
      size: this.concurrency,
      maxTasksPerChild: this.maxTasksPerChild,
      maxMemoryPerChild: this.maxMemoryPerChild,
      logger: this.log,
    });
    this.broker = broker;
    this.completer = new Completer(broker, backend, { hostname: this.hostname, extended: this.app.conf.resultExtended, log: this.log });
    this.outcomes = new OutcomeWriter({
      app: this.app,
      broker,
      completer: this.completer,
      log: this.log,
      emit: this.emit.bind(this) as OutcomeHost['emit'],
      wake: () => this.wakeLoop(),
    });
    try {
      this.node = await WorkerNode.open(this.nodeHost(), this.nodeOptions);
      if (broker.revocationsSince) {
        this.revocations = new StoredRevocations(broker as ConstructorParameters<typeof StoredRevocations>[0], this.nodeHost(), (ids) =>
          this.node?.addRevoked(ids),
        );
        await this.revocations.start();
      }
    } catch (err) {
      await this.pool?.close({ force: true });
      throw err;
    }
    if (this.autoscaleOptions) {
      this.scaler = new Autoscaler(this, this.autoscaleOptions, (err) => this.log.error({ err: toError(err).message }, 'autoscale could not resize the pool'));
      this.scaler.start();
    }
    this.housekeeping = new Housekeeping({
      broker,
      backend,
      log: this.log,
      visibilityTimeout: this.app.conf.visibilityTimeout,
      cleanupInterval: this.app.conf.resultCleanupInterval,
      heldTags: this.heldTags,
    });
    this.housekeeping.start();
    this.stalls = new StallReporter(this.log, this.app.conf.visibilityTimeout);
    this.on('task-started', (req) => this.stalls.started(req.task));
    this.loopWatch = new LoopWatch({
      thresholdMs: stallThreshold(this.app.conf.visibilityTimeout),
      onStall: (ms) => this.onStall(ms),
      onTick: () => this.stalls.tick(),
    });
    this.loopWatch.start();
    const revocations = this.revocations;
    this.reserver = new ReserveLoop({
      broker,
      log: this.log,
      queues: () => this.queues,
      prefetch: () => this.prefetch,
      inflight: () => this.inflight(),
      slotIdle: () => this.waiting.length === 0 && this.running.size < this.concurrency,
      window: () => this.prefetch + this.etaAside(),
      heldTags: this.heldTags,
      checkRevocations: revocations ? () => revocations.poll() : undefined,
      accept: (d) => this.accept(d),
    });
    this.loop = this.reserver.run(this.fetchAbort.signal);
    this.emit('ready');
  }

  /** Every delivery tag this worker holds: waiting, held, running, or finishing (result and ack being written). */
  private readonly heldTags = (): string[] => [
    ...this.held.keys(),
    ...this.running.keys(),
    ...this.finishing.keys(),
    ...this.waiting.map((j) => j.delivery.tag),
  ];

  /**
   * The event loop was blocked for `ms`: what it holds is extended at once (its reserves would not restore it
   * anyway, see ReserveOptions.held), and the tasks that ran on the loop are named once, with the fix.
   */
  private onStall(ms: number): void {
    this.housekeeping?.extendNow();
    // With a threads or process pool, tasks run off this loop: whatever stalled it was not a task.
    if (!this.pool) this.stalls.report(ms, [...this.running.values(), ...this.finishing.values()].map((j) => j.req.task));
  }

  /** Reserved (not yet running) and running jobs, for inspection. */
  get active(): { id: string; name: string; args: unknown[]; kwargs: Record<string, unknown> }[] {
    return [...this.running.values()].map((j) => ({ id: j.req.id, name: j.req.task, args: j.req.args, kwargs: j.req.kwargs }));
  }

  get reservedCount(): number {
    return this.waiting.length + this.held.size;
  }

  get concurrency(): number {
    return this.slots;
  }

  /**
   * Messages reserved at most (concurrency x prefetch multiplier). With autoscale, of the largest pool: the
   * autoscaler grows the pool to the work reserved, so reserving only for the current size would never grow it.
   */
  get prefetch(): number {
    return (this.scaler?.max ?? this.autoscaleOptions?.max ?? this.slots) * this.multiplier;
  }

  /**
   * Celery's `autoscale` control command: new --autoscale bounds (null keeps one), applied at once. Resolves to
   * [max, min] in force, or null when this worker does not autoscale.
   */
  async autoscale(max: number | null, min: number | null): Promise<[number, number] | null> {
    if (!this.scaler) return null;
    const bounds = await this.scaler.update(max, min);
    this.wakeLoop();
    return bounds;
  }

  /**
   * Celery's `pool_restart`: the threads/process pool's children are replaced by new ones that import the app
   * module again, busy ones after their task. The async pool runs tasks in this process, whose modules cannot be
   * loaded twice: it throws.
   */
  async restartPool(): Promise<void> {
    if (!this.pool) throw new Error('pool_restart needs -P threads or -P process: the async pool cannot reload the app module');
    await this.pool.restart();
  }

  /** Changes the number of task slots, and of children in the threads/process pools. */
  async resize(size: number): Promise<void> {
    const delta = size - this.slots;
    if (delta === 0 || size < 1) return;
    this.slots = size;
    this.fill();
    this.wakeLoop();
    if (this.pool) await (delta > 0 ? this.pool.grow(delta) : this.pool.shrink(-delta));
    this.emit('resized', size);
  }

  grow(n = 1): Promise<void> {
    return this.resize(this.slots + n);
  }

  shrink(n = 1): Promise<void> {
    return this.resize(this.slots - n);
  }

  /** Tasks running or waiting for a slot: what --autoscale sizes the pool to. */
  demand(): number {
    return this.running.size + this.waiting.length;
  }

  /**
   * What counts against the prefetch window. Jobs whose function has returned and whose result and ack are being
   * written count only beyond two windows' worth: otherwise the next reserve waits for the writes of a burst, and
   * Redis and this process take turns instead of working at once (sampled while this process was idle at c=100,
   * with one window: a third of the time no reserve was out because writes held the window; two windows drained
   * about 30% faster). So at most 3 x prefetch messages are unacked at any moment, and the excess only while
   * their results and acks are being written.
   */
  private inflight(): number {
    return this.waiting.length + this.held.size - this.etaAside() + this.running.size + Math.max(0, this.finishing.size - 2 * this.prefetch);
  }

  /**
   * ETA tasks held outside the prefetch window. On a broker that holds delayed messages itself (nativeDelay) only
   * near ETAs are held here, and they count. On one that cannot (RabbitMQ classic queues without delayed delivery)
   * every ETA task is held by a worker, and counting them would stop the worker from taking any other task once a
   * window's worth waits for a later time; so they are set aside, as Celery raises its basic.qos for each, up to
   * ETA_HOLD_LIMIT, which bounds the memory they take.
   */
  private etaAside(): number {
    return this.broker.capabilities.nativeDelay ? 0 : Math.min(this.held.eta, ETA_HOLD_LIMIT);
  }

  /** Side operations (dead-lettering, expiry, parking) that shutdown must wait for before connections close. */
  private track(op: Promise<void>): void {
    this.sideOps.add(op);
    void op.finally(() => this.sideOps.delete(op));
  }

  private wakeLoop(): void {
    this.reserver?.wake();
  }

  /** Classifies a fresh delivery: dead-letter it, drop it as expired, hold it until its ETA, or schedule it. */
  private accept(d: Delivery): void {
    const read = readDelivery(d, this.app, this.log);
    if ('rejected' in read) {
      const { id, name, reason, error } = read.rejected;
      this.track(this.outcomes.deadLetter(d, id, name, reason, error));
      return;
    }
    const { job } = read;
    const { req } = job;
    if (this.node?.isRevoked(req.id) || this.revocations?.isRevoked(req.id)) return this.track(this.outcomes.revoke(job, 'revoked'));
    if (d.redelivered && this.settleTwin(job)) return;
    // Guarded: the message text is built for every task, and most production workers log at warning or above.
    if (this.log.isLevelEnabled('info')) this.log.info({ id: req.id, task: req.task }, `Task ${req.task}[${req.id}] received`);
    this.emit('task-received', req);
    const start = startOf(req, Date.now(), { nativeDelay: this.broker.capabilities.nativeDelay, parkAfterMs: this.app.conf.etaParkThreshold * 1000 });
    if (start.kind === 'expired') this.track(this.outcomes.revoke(job, 'expired'));
    else if (start.kind === 'park') this.track(this.outcomes.park(job, start.due));
    else if (start.kind === 'hold') {
      job.etaHold = true;
      this.hold(job, start.until, () => {
        job.etaHold = false;
        this.schedule(job);
      });
    }
    else this.schedule(job);
  }

  /**
   * A message given back by the broker while this worker still runs it (RabbitMQ took it back when a long task
   * outlived the server's consumer_timeout, and sent it again here): the copy is acked when the run ends instead
   * of running the task a second time.
   */
  private settleTwin(job: Job): boolean {
    const id = job.req.id;
    const tag = [...this.running.values(), ...this.finishing.values()].find((j) => j.req.id === id)?.delivery.tag;
    const run = tag === undefined ? undefined : this.runPromises.get(tag);
    if (!run) return false;
    this.log.warn({ id, task: job.req.task }, `Task ${job.req.task}[${id}] was given back by the broker while it runs here; its copy is acked when the run ends`);
    this.track(run.then(() => this.completer.ack(job.delivery.tag)).catch((e: unknown) => this.outcomes.logAckError(e)));
    return true;
  }

  private schedule(job: Job): void {
    if (this.running.size < this.concurrency) this.begin(job);
    else this.waiting.push(job);
  }

  /**
   * Keeps `job` reserved until `readyAt`, then calls `ready`; a job that expires first is revoked at its expiry.
   */
  private hold(job: Job, readyAt: number, ready: () => void): void {
    const tag = job.delivery.tag;
    this.held.set(tag, job);
    holdUntil(
      job,
      readyAt,
      () => {
        this.held.delete(tag);
        ready();
      },
      () => {
        this.held.delete(tag);
        this.track(this.outcomes.revoke(job, 'expired'));
        this.wakeLoop();
      },
    );
  }

  /**
   * Runs a job on a free slot, unless its rate limit makes it wait: then it is held and the slot stays free. A job
   * that expired while it waited (for its ETA, a rate-limit slot or this free slot) is revoked instead of run.
   */
  private begin(job: Job): void {
    if (isExpired(job.req)) {
      this.track(this.outcomes.revoke(job, 'expired'));
      this.wakeLoop();
      return;
    }
    const wait = job.rateCleared ? 0 : this.rates.wait(job.req.task, job.task.options);
    job.rateCleared = false;
    if (wait === 0) {
      this.run(job);
      return;
    }
    const tag = job.delivery.tag;
    this.held.set(tag, job);
    void Promise.resolve(wait).then((ms) => {
      // Returned to the broker by a shutdown while the shared schedule was being asked.
      if (this.held.get(tag) !== job) return;
      this.hold(job, Date.now() + ms, () => {
        job.rateCleared = true;
        this.schedule(job);
      });
    });
  }

  private run(job: Job): void {
    const tag = job.delivery.tag;
    this.running.set(tag, job);
    const p = this.execute(job)
      .catch((err) => this.log.error({ err: toError(err).message, id: job.req.id }, 'internal error while finishing a task'))
      .finally(() => {
        this.release(job);
        this.finishing.delete(tag);
        this.runPromises.delete(tag);
        this.wakeLoop();
      });
    this.runPromises.set(tag, p);
  }

  /**
   * Gives the job's concurrency slot to the next waiting job as soon as its function has returned, while its
   * result and ack are still being written: otherwise every task waits out two round trips before the next one
   * starts (measured: c=1 at 0.6x BullMQ's rate on Redis for that reason alone).
   */
  private release(job: Job): void {
    const tag = job.delivery.tag;
    if (!this.running.delete(tag)) return;
    this.finishing.set(tag, job);
    this.fill();
    this.wakeLoop();
  }

  /** Starts waiting jobs on free slots. A rate-limited job may go back to waiting; the next one takes the slot. */
  private fill(): void {
    while (!this.stopping && this.running.size < this.slots && this.waiting.length) this.begin(this.waiting.shift()!);
  }

  private async execute(job: Job): Promise<void> {
    const outcome = await runTask(job, {
      conf: this.app.conf,
      hostname: this.hostname,
      pool: this.pool,
      node: this.node,
      outcomes: this.outcomes,
      ack: (tag) => void this.completer.ack(tag).catch((e: unknown) => this.outcomes.logAckError(e)),
      started: () => this.emit('task-started', job.req),
    });
    if (!outcome) return;
    const { req } = job;
    this.processed.set(req.task, (this.processed.get(req.task) ?? 0) + 1);
    this.release(job);
    // What finishing sends (chain steps, callbacks, a chord's body) belongs to the run's trace, as in Celery.
    await withRunContext(job.req, () => this.outcomes.finish(job, outcome.outcome, outcome.acksLate));
  }

  /** What remote control reaches of this worker (NodeHost in node.ts): its jobs, and primitives to change them. */
  private nodeHost(): NodeHost {
    const { app, log, pool, waiting, held, running, finishing } = this;
    return {
      worker: this, app, log, pool, jobs: { waiting, held, running, finishing },
      revoke: (job, why, acked) => this.track(this.outcomes.revoke(job, why, acked)),
      release: (job) => {
        this.release(job);
        this.finishing.delete(job.delivery.tag);
        this.runPromises.delete(job.delivery.tag);
      },
      resize: (n) => {
        this.slots = n;
        this.fill();
        this.wakeLoop();
      },
      wake: () => this.wakeLoop(),
    };
  }

  /**
   * Warm shutdown: stop fetching, return reserved-but-not-started messages, give running tasks up to
   * `timeout` seconds, then abort them and return their messages to the broker too.
   */
  stop(options: { timeout?: number } = {}): Promise<void> {
    if (this.stopping) {
      // A second, harder request (cold shutdown) cuts the grace period short.
      if (options.timeout === 0) {
        this.cold = true;
        this.cutShort?.();
      }
      return this.stopping;
    }
    this.cold = options.timeout === 0;
    // A stop while start() is still connecting waits for it: there is nothing to shut down before then.
    const started = (this.starting ?? Promise.reject(new Error('not started'))).then(
      () => true,
      () => false,
    );
    this.stopping = started.then((ok) => (ok ? this.shutdown(options.timeout ?? this.shutdownTimeout) : undefined));
    return this.stopping;
  }

  private async shutdown(timeout: number): Promise<void> {
    this.fetchAbort.abort();
    this.wakeLoop();
    await this.loop;
    // Nothing more is reserved: a push transport stops sending and gives back what it buffered, even if the app
    // (and its broker connection) lives on.
    await this.broker.release?.(this.queues).catch((e: unknown) => this.log.warn({ err: toError(e).message }, 'could not stop consuming'));
    this.housekeeping?.stop();
    this.loopWatch?.stop();
    this.scaler?.stop();
    const unstarted = [...this.waiting.splice(0), ...this.held.values()];
    this.held.clear();
    for (const j of unstarted) clearTimeout(j.timer);
    await this.completer.drain();
    await Promise.all(unstarted.map((j) => this.requeue(j)));
    if (this.runPromises.size && !this.cold) {
      this.log.info({ running: this.runPromises.size, timeout }, 'waiting for running tasks to finish');
      const deadline = sleep(timeout * 1000);
      this.cutShort = deadline.cancel;
      await Promise.race([Promise.all(this.runPromises.values()), deadline.promise]);
      deadline.cancel();
    }
    const late = [...this.running.values()];
    for (const j of late) {
      j.abandoned = true;
      j.controller.abort(new Error('worker shutting down'));
    }
    // Children still running a task are past the deadline: killed, their messages returned below.
    await this.pool?.close({ force: late.length > 0 });
    await Promise.all(this.sideOps);
    await this.completer.drain();
    await Promise.all(late.map((j) => this.requeue(j)));
    await this.node?.close();
    this.revocations?.stop();
    await this.metricsServer?.close();
    this.emit('stopped');
  }

  private async requeue(job: Job): Promise<void> {
    await this.broker
      .reject(job.delivery.tag, { requeue: true, reason: 'worker shutdown' })
      .catch((e) => this.log.error({ id: job.req.id, err: toError(e).message }, 'could not return a message on shutdown'));
  }
}
