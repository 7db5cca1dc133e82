/**
 * Celery's remote-control commands answered by a Celerity worker: ControlServer (src/control/) does the wire and
 * Celery's reply texts; this is what each command means here, on top of the worker's jobs, queues, pool and rates.
 *
 * Differences from Celery worth knowing:
 * - `revoke` takes waiting and held jobs out of the worker at once (stored REVOKED, acked) instead of flagging them
 *   for later; `terminate` kills the child with SIGKILL whatever `signal` asks (a Node child cannot be asked to
 *   stop a synchronous task), and on the async pool aborts the task's signal: REVOKED is stored and the slot freed
 *   at once, while a task that ignores its signal runs on to its end unseen, as after a hard time limit.
 * - `reserved` lists jobs waiting for a slot or for their rate-limit turn; `scheduled` those held for their ETA.
 * - `pool_grow` / `pool_shrink` also work on the async pool, where they change the concurrency.
 */
import { ControlCommandError, processRusage, queueInfo } from '../control/handler.js';
import type {
  AddConsumerCommand,
  ControlContext,
  ControlHandler,
  QueriedTaskState,
  QueueInfo,
  RegisteredTask,
  RevokeCommand,
  ScheduledTaskInfo,
  TaskInfo,
  WorkerStats,
} from '../control/handler.js';
import { toError } from '../errors/index.js';
import { argsRepr, kwargsRepr } from '../protocol/repr.js';
import { parseRedisUrl } from '../redis/url.js';
import type { Job } from './job.js';
import type { NodeHost, NodeState } from './node-state.js';
import { parseRate } from './rate-limit.js';
import { revokeJobs } from './revoke-jobs.js';
import { bugReport, confTable, MemorySamples } from './diagnostics.js';


export class WorkerControl implements ControlHandler {
  private readonly memory = new MemorySamples();

  constructor(private readonly node: NodeState) {}

  private get host(): NodeHost {
    return this.node.host;
  }

  async active(options: { safe: boolean }): Promise<TaskInfo[]> {
    return [...this.host.jobs.running.values()].map((job) => this.info(job, options.safe));
  }

  async reserved(): Promise<TaskInfo[]> {
    const now = Date.now();
    const held = [...this.host.jobs.held.values()].filter((job) => !isScheduled(job, now));
    return [...this.host.jobs.waiting, ...held].map((job) => this.info(job));
  }

  async scheduled(): Promise<ScheduledTaskInfo[]> {
    const now = Date.now();
    return [...this.host.jobs.held.values()]
      .filter((job) => isScheduled(job, now))
      .map((job) => ({ eta: job.req.eta!.toISOString(), priority: job.delivery.priority, request: this.info(job) }));
  }

  async revoked(): Promise<string[]> {
    return this.node.revoked.ids();
  }

  async registered(): Promise<RegisteredTask[]> {
    const { app } = this.host;
    return [...app.tasks.values()].map((task) => {
      const o = task.options;
      const limits = this.node.timeLimits.get(task.name);
      return {
        name: task.name,
        attributes: {
          rate_limit: this.node.rateLimits.has(task.name) ? this.node.rateLimits.get(task.name) : o.rateLimit,
          time_limit: limits ? limits.hard : o.timeLimit,
          soft_time_limit: limits ? limits.soft : o.softTimeLimit,
          acks_late: o.acksLate ?? app.conf.acksLate,
          max_retries: o.maxRetries,
          ignore_result: o.ignoreResult,
          queue: o.queue,
        },
      };
    });
  }

  async stats(ctx: ControlContext): Promise<WorkerStats> {
    const { worker, app, pool } = this.host;
    const conf = app.conf;
    return {
      total: Object.fromEntries(worker.processed),
      pid: process.pid,
      clock: String(ctx.clock.value),
      uptime: Math.round((Date.now() - this.node.startedAt) / 1000),
      pool: {
        'max-concurrency': worker.concurrency,
        processes: pool ? pool.children().map((c) => c.pid) : [process.pid],
        'max-tasks-per-child': conf.maxTasksPerChild ?? 'N/A',
        'max-memory-per-child': conf.maxMemoryPerChild ?? 'N/A',
        'put-guarded-by-semaphore': false,
        timeouts: [conf.softTimeLimit ?? 0, conf.timeLimit ?? 0],
        implementation: `celerity:${worker.poolKind}`,
        ...(pool ? { children: pool.children() } : {}),
      },
      broker: brokerInfo(conf.broker, conf.visibilityTimeout),
      prefetch_count: worker.prefetch,
      rusage: processRusage(),
    };
  }

  async activeQueues(): Promise<QueueInfo[]> {
    return this.host.worker.queues.map((q) => queueInfo(q, this.node.declarations.get(q)));
  }

  async queryTask(ids: string[]): Promise<Record<string, [QueriedTaskState, TaskInfo]>> {
    const { running, finishing } = this.host.jobs;
    const out: Record<string, [QueriedTaskState, TaskInfo]> = {};
    for (const id of ids) {
      const job = this.node.jobById(id);
      if (!job) continue;
      const state = running.get(job.delivery.tag) === job ? 'active' : finishing.get(job.delivery.tag) === job ? 'ready' : 'reserved';
      out[id] = [state, this.info(job)];
    }
    return out;
  }

  async revoke(command: RevokeCommand): Promise<string[]> {
    const { log } = this.host;
    const ids = new Set(command.taskIds);
    this.node.addRevoked(ids);
    log.info({ ids: [...ids] }, `Tasks flagged as revoked: ${[...ids].join(', ')}`);
    return revokeJobs(this.host, ids, command.terminate, (job) => {
      log.info({ id: job.req.id, signal: command.signal }, `Terminating ${job.req.id} (${command.signal})`);
      if (this.node.events.enabled) this.node.terminations.set(job.req.id, command.signal);
    });
  }

  async rateLimit(taskName: string, rateLimit: string | number | null): Promise<void> {
    this.knownTask(taskName, 'Rate limit');
    try {
      parseRate(rateLimit);
    } catch (err) {
      throw new ControlCommandError(`Invalid rate limit string: ${toError(err).message}`);
    }
    this.host.worker.rates.local.set(taskName, rateLimit);
    this.node.rateLimits.set(taskName, rateLimit);
    this.host.log.info({ task: taskName, rateLimit }, `New rate limit for tasks of type ${taskName}: ${rateLimit ?? 'none'}.`);
  }

  async timeLimit(taskName: string, limits: { soft: number | null; hard: number | null }): Promise<void> {
    this.knownTask(taskName, 'Change time limit');
    this.node.timeLimits.set(taskName, limits);
    this.host.log.info({ task: taskName, ...limits }, `New time limits for tasks of type ${taskName}: soft=${limits.soft} hard=${limits.hard}`);
  }

  async addConsumer(command: AddConsumerCommand): Promise<void> {
    const { worker, log } = this.host;
    if (worker.queues.includes(command.queue)) return;
    this.node.declarations.set(command.queue, { exchange: command.exchange ?? undefined, routingKey: command.routingKey ?? undefined });
    worker.queues.push(command.queue);
    log.info({ queue: command.queue }, `Started consuming from ${command.queue}`);
    this.host.wake();
  }

  async cancelConsumer(queue: string): Promise<void> {
    const { worker, log } = this.host;
    const at = worker.queues.indexOf(queue);
    if (at < 0) return;
    worker.queues.splice(at, 1);
    this.node.declarations.delete(queue);
    log.info({ queue }, `Cancelled consuming from ${queue}`);
    this.host.wake();
  }

  async poolGrow(n: number): Promise<void> {
    const { worker, pool, log } = this.host;
    if (n < 1) throw new ControlCommandError(`pool_grow: expected a positive number of slots, got ${n}`);
    // Not awaited: new children take a moment to load the app, and the control loop answers one request at a time.
    if (pool) void pool.grow(n).catch((err: unknown) => log.error({ err: toError(err).message }, 'pool_grow failed'));
    this.host.resize(worker.concurrency + n);
    log.info({ concurrency: worker.concurrency }, `Pool grown to ${worker.concurrency}`);
  }

  async poolShrink(n: number): Promise<void> {
    const { worker, pool, log } = this.host;
    if (n < 1 || worker.concurrency - n < 1) {
      throw new ControlCommandError(`cannot shrink a pool of ${worker.concurrency} by ${n}: at least one slot must remain`);
    }
    // Busy children finish their task before they go; the reply does not wait for that.
    if (pool) void pool.shrink(n).catch((err: unknown) => log.error({ err: toError(err).message }, 'pool_shrink failed'));
    this.host.resize(worker.concurrency - n);
    log.info({ concurrency: worker.concurrency }, `Pool shrunk to ${worker.concurrency}`);
  }

  /** New --autoscale bounds; null when the worker was started without --autoscale. */
  autoscale(max: number | null, min: number | null): Promise<[number, number] | null> {
    return this.host.worker.autoscale(max, min);
  }

  async poolRestart(): Promise<boolean> {
    const { app, worker, log } = this.host;
    if (!app.conf.poolRestarts) return false;
    if (worker.poolKind === 'async') throw new ControlCommandError('pool_restart needs -P threads or -P process: the async pool cannot reload the app module');
    log.warn('pool_restart: replacing the pool children, which load the app module again');
    void worker.restartPool().then(
      () => log.info('pool_restart: every child runs the reloaded app'),
      (err: unknown) => log.error({ err: toError(err).message }, 'pool_restart failed'),
    );
    return true;
  }

  async conf(withDefaults: boolean): Promise<Record<string, unknown>> {
    return confTable(this.host.app.conf, withDefaults);
  }

  async report(): Promise<string> {
    return bugReport(this.host.app.conf, this.host.app.main);
  }

  async memsample(): Promise<string> {
    return this.memory.sample();
  }

  async memdump(samples: number): Promise<string> {
    return this.memory.dump(samples);
  }

  async shutdown(message: string): Promise<void> {
    this.host.log.warn(`${message}: warm shutdown`);
    await this.host.worker.stop();
  }

  heartbeat(): Promise<void> {
    return this.node.heartbeat();
  }

  async enableEvents(): Promise<boolean> {
    const changed = this.node.events.enable();
    if (changed) this.host.log.info('task events enabled by remote control');
    return changed;
  }

  async disableEvents(): Promise<boolean> {
    const changed = this.node.events.disable();
    if (changed) this.host.log.info('task events disabled by remote control');
    return changed;
  }

  async mergeRevoked(ids: string[], ctx: ControlContext): Promise<void> {
    this.host.log.info({ from: ctx.request.arguments.from_node }, `sync with ${String(ctx.request.arguments.from_node)}`);
    if (ids.length) this.node.addRevoked(ids);
  }

  private knownTask(taskName: string, what: string): void {
    if (this.host.app.tasks.has(taskName)) return;
    this.host.log.error({ task: taskName }, `${what} attempt for unknown task ${taskName}`);
    throw new ControlCommandError('unknown task');
  }

  /** Celery's `Request.info()`. */
  private info(job: Job, safe = false): TaskInfo {
    const { req, delivery } = job;
    const routing = (delivery.message?.properties.delivery_info ?? {}) as { exchange?: unknown; routing_key?: unknown };
    const acksLate = job.task.options.acksLate ?? this.host.app.conf.acksLate;
    return {
      id: req.id,
      name: req.task,
      args: safe ? (req.argsrepr ?? argsRepr(req.args)) : req.args,
      kwargs: safe ? (req.kwargsrepr ?? kwargsRepr(req.kwargs)) : req.kwargs,
      type: req.task,
      hostname: this.host.worker.hostname,
      time_start: job.timeStart ?? null,
      acknowledged: job.timeStart !== undefined && !acksLate,
      delivery_info: {
        exchange: typeof routing.exchange === 'string' ? routing.exchange : '',
        routing_key: typeof routing.routing_key === 'string' ? routing.routing_key : delivery.queue,
        priority: delivery.priority,
        redelivered: delivery.redelivered,
      },
      worker_pid: job.workerPid ?? null,
    };
  }
}

/** Held for its ETA (as opposed to its rate-limit turn). */
function isScheduled(job: Job, now: number): boolean {
  return job.req.eta !== null && job.req.eta.getTime() > now;
}

/** kombu's `Connection.info()` as Celery's `stats` shows it, without the password. */
function brokerInfo(url: string, visibilityTimeout: number): Record<string, unknown> {
  try {
    const { redis } = parseRedisUrl(url, { params: ['global_keyprefix', 'priority_order', 'delayed_delivery'] });
    const sentinel = redis.sentinels?.[0];
    return {
      hostname: redis.path ?? sentinel?.host ?? redis.host ?? '127.0.0.1',
      userid: redis.username ?? null,
      virtual_host: String(redis.db ?? 0),
      port: sentinel?.port ?? redis.port ?? 6379,
      insist: false,
      ssl: !!redis.tls,
      transport: url.startsWith('sentinel') ? 'sentinel' : 'redis',
      connect_timeout: 4,
      transport_options: { visibility_timeout: visibilityTimeout },
      login_method: null,
      uri_prefix: null,
      heartbeat: 120.0,
      failover_strategy: 'round-robin',
      alternates: [],
    };
  } catch {
    // Not a Redis URL (the embedded store): the transport by its scheme, without the rest of the URL.
    const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(url)?.[1]?.toLowerCase() ?? 'unknown';
    return { transport: scheme, transport_options: { visibility_timeout: visibilityTimeout } };
  }
}
